#!/usr/bin/env python3
"""Seeds for tests/fuzz/fuzz_blk_server.c: streams of operations that reach the block server's
deeper states (requests at the device, answers waiting, a full response ring, requests across
the data region's chunk boundary) so the fuzzer starts from there. Writes tests/fuzz/seeds/
blk_server/."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "blk_server")


def request(client, how, sector, count, buf, hdr, rid, notify=True):
    """Operation 0 (queue) or 1 (queue and notify): how's bits: 0-1 op (read, write, flush,
    get_id), 2-3 sector form, 4-5 buffer form, 6 a 4-byte count."""
    rec = bytes([1 if notify else 0, client, how]) + struct.pack("<Q", sector)
    rec += struct.pack("<I", count) if how & 0x40 else bytes([count])
    return rec + struct.pack("<Q", buf) + bytes([hdr]) + struct.pack("<H", rid)


def direct(client, how, sector, segs, table=0, hdr=8, rid=1, nsegs=None, count=None):
    """Operation 10: a direct request of `segs` (form, offset, len) (forms 0-3 of
    fuzz_blk_server.c's direct_request); how's bits: 0 write, 1-2 sector form, 4 a raw count,
    5 sums left as they are, 6 a 2-byte segment count, 7 a raw table offset."""
    n = len(segs) if nsegs is None else nsegs
    rec = bytes([10, client, how]) + struct.pack("<Q", sector)
    rec += struct.pack("<H", n) if how & 0x40 else bytes([n])
    rec += struct.pack("<Q", table) if how & 0x80 else struct.pack("<H", table)
    for form, off, length in segs:
        rec += bytes([form])
        if form & 3 == 0 or form & 3 == 1:
            rec += struct.pack("<HH", off, length)
        elif form & 3 == 2:
            rec += struct.pack("<QI", off, length)
        else:
            rec += struct.pack("<H", off)
    if how & 0x10:
        rec += struct.pack("<I", count or 0)
    return rec + bytes([hdr]) + struct.pack("<H", rid)


def device():
    return bytes([7, 0])


def answers(client, n=8):
    return bytes([5, client, n])


def seeds():
    s = {}
    # Writes then reads of each client on the RAM disk and on the device.
    for mode in (0, 1):
        b = bytes([mode])
        for c in range(3):
            b += request(c, 0x01, 5 + c, 4, 0, 1, 10 + c)
            b += device() + answers(c)
            b += request(c, 0x00, 5 + c, 4, 0, 2, 20 + c)
            b += device() + answers(c)
        s["write-read-%s" % ("virtio" if mode else "ramdisk")] = b
    # Several at the device at once, answered together; one client never takes its answers.
    b = bytes([1])
    for k in range(12):
        b += request(k % 3, 0x01 if k % 2 else 0x00, k, 2, k, k, k, notify=k % 4 == 3)
    b += device() + answers(1) + answers(2) + device()
    for k in range(6):
        b += request(0, 0x00, k, 1, k, 20 + k, 100 + k)
    s["in-flight-and-a-deaf-client"] = b
    # Buffers across the chunk boundary and at the end; sectors at the range's end and wrapping.
    b = bytes([1])
    for how in (0x11, 0x10, 0x21, 0x20, 0x05, 0x09, 0x0d):
        b += request(2, how, 1, 3, 2, how & 0x7f, how) + device() + answers(2)
    s["edges"] = b
    # The device fails, leaves a status unwritten, names a descriptor that heads nothing.
    b = bytes([1])
    for how in (1, 2, 4):
        b += bytes([8, 0, how]) + request(0, 0x01, 3, 1, 0, 3, how) + device() + answers(0)
    s["device-misbehaves"] = b
    # A flush, GET_ID, an unknown op, raw entries, and a corrupt index.
    b = bytes([0]) + request(1, 0x02, 0, 0, 0, 4, 1) + request(1, 0x03, 0, 20, 0, 5, 2)
    b += request(1, 0x80, 0, 1, 0, 6, 3)[:3] + struct.pack("<I", 77) + \
        request(1, 0x80, 0, 1, 0, 6, 3)[3:]
    b += bytes([2, 1]) + struct.pack("<QII", 4088, 24, 9) + bytes([6, 1]) + answers(1)
    b += bytes([3, 1, 0]) + struct.pack("<I", 1001) + bytes([6, 1])
    s["ops-and-corruption"] = b
    # Direct requests: a write and a read of odd segments in each windowed client's window, one
    # at the window's end, then the client without a window, on the device and the RAM disk.
    for mode in (0, 1):
        b = bytes([mode])
        for c in range(3):
            b += direct(c, 0x01, 3 + c, [(0, 100, 99), (1, 300, 200), (3, 0x40 + c, 0)],
                        table=c, rid=30 + c)
            b += device() + answers(c)
            b += direct(c, 0x00, 3 + c, [(0, 7, 511), (0, 0x8000, 0)], table=4 + c, rid=40 + c)
            b += device() + answers(c)
        s["direct-%s" % ("virtio" if mode else "ramdisk")] = b
    # The most segments and more; a device with SIZE_MAX and few descriptors.
    for mode in (1, 0x33):
        b = bytes([mode])
        b += direct(0, 0x41, 0, [(0, k * 2, 1) for k in range(256)], rid=50)
        b += device() + answers(0)
        b += direct(1, 0x40, 0, [(0, k * 2, 1) for k in range(257)], rid=51)
        b += device() + answers(1)
        s["direct-many-segments-%02x" % mode] = b
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("make_blk_seeds: %d seeds in %s" % (len(seeds()), OUT))


if __name__ == "__main__":
    main()
