#!/usr/bin/env python3
"""Write seed inputs for fuzz_exits (tests/fuzz/seeds/exits/): short guest programs that switch
the distributor on, enable interrupts, give them priorities (the lowest among them), make them
pending and let the guest take some, so the fuzzer starts from states where list registers fill.
The record format is fuzz_exits.c's: 24 bytes, op, vCPU, flags, then two 64-bit values."""
import os
import struct
import sys

GICD_WRITE = 1


def rec(op, vcpu=0, flags=b"\0" * 6, a=0, b=0):
    return bytes([op, vcpu]) + flags + struct.pack("<QQ", a, b)


def gicd_write(off, value, width=4, vcpu=0):
    widx = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    # flags: r[2] width index, r[3] Rt (x1), r[4] zero-extend 32-bit, r[5] distributor frame
    return rec(GICD_WRITE, vcpu, bytes([widx, 1, 0, 0, 0, 0]), off, value)


def vppi(vcpu=0):
    return rec(5, vcpu, bytes([1, 0, 0, 0, 0, 0]))


def eoi(lr, vcpu=0):
    return rec(6, vcpu, bytes([0, 0, 0, 0, 0, 0]), lr)


def timer_wfi(ctl, cval, fired, vcpu=0):
    return rec(9, vcpu, bytes([0, 1 if fired else 0, 200, 200, 0, 0]), ctl, cval)


def seeds():
    on = gicd_write(0x000, 1) + gicd_write(0x100, 0xffff | 1 << 27)
    yield "lowest-priority-sgi", b"\0" + on + gicd_write(0x401, 0xf8, 1) + \
        gicd_write(0xf00, 2 << 24 | 1) + gicd_write(0x401, 0x80, 1) + eoi(0)
    sgis = b"".join(gicd_write(0x400 + i, 0xc0, 1) for i in range(4)) + \
        b"".join(gicd_write(0xf00, 2 << 24 | i) for i in range(4))
    yield "masked-sgis-then-timer", b"\0" + on + sgis + gicd_write(0x41b, 0x80, 1) + vppi() + \
        timer_wfi(1, 100, False) + eoi(3)
    yield "timer-disabled-then-off", b"\0" + gicd_write(0x000, 1) + vppi() + \
        timer_wfi(0, 0, False) + gicd_write(0x100, 1 << 27) + eoi(0)
    yield "two-vcpus-spis", b"\x01" + on + gicd_write(0x104, 0xff, vcpu=0) + \
        gicd_write(0x820, 0x02020202) + gicd_write(0x204, 0xff) + eoi(1, 1) + \
        timer_wfi(1, 5000, True, 1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "seeds", "exits")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
