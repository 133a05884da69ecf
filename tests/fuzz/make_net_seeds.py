#!/usr/bin/env python3
"""Write seed inputs for fuzz_vswitch (tests/fuzz/seeds/vswitch/) and fuzz_echo
(tests/fuzz/seeds/echo/): sessions that get the switch into the states where its rules matter
(unicast, floods, an uplink learning an outside host, forged sources, a port that stops reading,
a counters request) and requests the echo stack answers (ARP, ping, UDP), so the fuzzers start
from there. The encodings are fuzz_vswitch.c's and fuzz_echo.c's."""
import os
import struct
import sys

TX, DATA, RXFREE, CONSUME, INDEX, COUNTERS, TIME, NOTIFY = 0, 1, 2, 3, 4, 5, 6, 8
OWN, OTHER, BCAST, STRANGER = 0, 1, 2, 3
A, B, C, UP = range(4)


def frame(port, buf, length, dst, src=OWN, ident=1):
    """A well-formed frame in buffer `buf` of port `port` (dst: a selector; OTHER + 5 * k is the
    port k + 1 after this one)."""
    kind = 1 | (src << 2)
    return bytes([TX, port, kind, buf]) + struct.pack("<H", length - 14) + bytes([dst, ident])


def notify(port=A):
    return bytes([NOTIFY, port])


def consume(port, relend=True):
    return bytes([CONSUME, port, 1 | 2 | (4 if relend else 0)])


def vswitch_seeds():
    s = {}
    s["unicast"] = frame(A, 0, 60, OTHER) + notify() + consume(B) + frame(B, 1, 1514, OTHER + 5) + \
        notify(B) + consume(A) + consume(C)
    s["flood"] = frame(C, 2, 100, BCAST) + frame(A, 3, 64, STRANGER) + notify(C) + \
        b"".join(consume(p) for p in range(4))
    s["learn"] = frame(UP, 0, 80, OTHER, STRANGER) + notify(UP) + frame(A, 1, 80, STRANGER) + \
        notify(A) + consume(UP) + consume(A)
    s["spoof"] = frame(A, 0, 60, OTHER, OTHER) + frame(UP, 1, 60, BCAST, OTHER) + \
        frame(B, 2, 60, BCAST, BCAST) + notify() + bytes([COUNTERS, C, 0, 1]) + notify(C)
    slow = b""
    for k in range(12):
        slow += frame(A, k % 8, 200, OTHER + 5, ident=k) + notify() + consume(A) + consume(B)
    s["slow-receiver"] = slow + consume(C) + frame(A, 0, 60, OTHER + 5) + notify()
    s["bad-entries"] = bytes([TX, A, 0]) + struct.pack("<HH", 0x3ff0, 100) + b"\x01" + \
        bytes([RXFREE, B, 0]) + struct.pack("<HH", 0x10, 20) + b"\x02" + \
        frame(A, 1, 60, OTHER) + notify() + bytes([INDEX, C, 2]) + struct.pack("<I", 99) + \
        b"\x01" + frame(A, 2, 60, BCAST) + notify()
    return s


ETH_ARP, ETH_IP = 0, 1


def echo_seeds():
    # fuzz_echo.c: byte 0 picks a template (ARP request, ping, UDP echo, raw), byte 1 how many
    # bytes of the rest overwrite the template at byte 2's offset; the rest are those bytes.
    return {
        "arp": bytes([0, 0, 0]),
        "ping": bytes([1, 0, 0]),
        "udp": bytes([2, 0, 0]),
        "udp-bad-len": bytes([2, 2, 38]) + b"\x05\xdc",
        "frag": bytes([1, 2, 20]) + b"\x20\x00",
        "raw": bytes([3]) + bytes(range(64)),
    }


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
    for sub, seeds in (("vswitch", vswitch_seeds()), ("echo", echo_seeds())):
        d = os.path.join(root, sub)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
