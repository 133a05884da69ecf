#!/usr/bin/env python3
"""Write seed inputs for fuzz_serial_mux (tests/fuzz/seeds/serial_mux/): short sessions that get
the multiplexer into the states where its rules matter (lines from several clients, an open
prompt, input switched between clients, a slow UART with a full FIFO, a client that stops
reading, a corrupt ring), so the fuzzer starts from there. The encoding is fuzz_serial_mux.c's:
a mode byte, then operations of an op byte, a client byte and the op's arguments."""
import os
import struct
import sys

TX, DATA, RXFREE, CONSUME, INDEX, RECV, IDLE, DRAIN, NOTIFY, NOTIFY_CLIENT, IRQ, API = range(12)


def op(code, client=0, args=b""):
    return bytes([code, client]) + args


def write(client, at, text):
    return op(DATA, client, struct.pack("<HB", at, len(text)) + text)


def tx(client, offset_buf, length, ident=1):
    # pick_offset selector 0: buffer number; pick_len selector 3: a 16-bit length
    return op(TX, client, bytes([0, offset_buf, 3]) + struct.pack("<H", length) + bytes([ident]))


def rx_free(client, buf, ident):
    return op(RXFREE, client, bytes([0, buf, 1, ident]))


def say(client, at_buf, text, ident=1):
    return write(client, at_buf * 512, text) + tx(client, at_buf, len(text), ident) + \
        op(NOTIFY_CLIENT, client)


def typed(text, err=0):
    return op(RECV, 0, bytes([len(text), err]) + text) + op(IDLE) + op(IRQ)


def drain(n=32):
    return op(DRAIN, 0, bytes([n])) + op(IRQ)


SEEDS = {
    "lines-and-prompt": bytes([1]) + say(1, 0, b"boot line\nhalf") + say(0, 0, b"guest# ") +
    say(2, 0, b"third\n") + say(1, 1, b" done\n", 2),
    "switch-input": bytes([1]) + rx_free(0, 0, 0) + rx_free(1, 0, 5) + rx_free(1, 1, 6) +
    say(1, 0, b"login: ") + typed(b"ab\x1c2cd\x1c\x1c\x1c?\x1c7\x1c1e"),
    "slow-uart-flood": bytes([0]) + b"".join(say(i % 3, 0, b"flood %02d of a long line\n" % i,
                                                 i) + drain(8) for i in range(12)),
    "deaf-client": bytes([1]) + rx_free(2, 0, 1) + typed(b"\x1c3") + typed(b"xyz") +
    typed(b"more") + typed(b"\x1c?"),
    "corrupt-ring": bytes([1]) + say(0, 0, b"partial") +
    op(INDEX, 0, bytes([0x04]) + struct.pack("<I", 1000)) + op(NOTIFY_CLIENT, 0) + typed(b"q"),
    "api-client": bytes([3]) + op(API, 0, bytes([1]) + struct.pack("<H", 600)) +
    op(NOTIFY_CLIENT, 0) + typed(b"hello\r") + op(API, 0, bytes([40])),
    "uart-errors": bytes([1]) + typed(b"abcdef", 0x82),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "seeds", "serial_mux")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
