#!/usr/bin/env python3
"""Write seed inputs for fuzz_exits (tests/fuzz/seeds/exits/): short guest programs that switch
the distributor on, enable interrupts, give them priorities (the lowest among them), make them
pending and let the guest take some, so the fuzzer starts from states where list registers fill;
virtio console drivers that negotiate, set their queues up and move data both ways, so it
starts from a live device; and virtio-blk drivers with requests at a block server.
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


def wfe(vcpu, ticks=0):
    # r[2] bit 0: WFE; time moves r[4] * r[5] ticks first
    return rec(9, vcpu, bytes([1, 0, ticks, 1 if ticks else 0, 0, 0]))


def cpu_on(vcpu):
    # SMC: r[2] bit 0 makes x0 = 0x84000000 | (a & 0xff), CPU_ON (32-bit); x1 = b: the target
    return rec(3, 0, bytes([1, 0, 0, 0, 0, 0]), 3, vcpu)


THREE_VCPUS = 32


# ---- the virtio console (fuzz_exits.c's ops 11-14; data[0] bit 2 adds the device) ----
VIRTIO = 4
RAM_BASE = 0x40000000
QAREA = RAM_BASE + 0x800000  # + q * 0x10000, as tests/host/virtio_fx.h has it
DATA = RAM_BASE + 0x900000
QUEUE_NUM = 8


def vio_write(off, value):
    # r[2]: write, r[3]: register offset, r[4]: Rt x1, r[5]: 32-bit
    return rec(11, 0, bytes([4, 1, 1, 1, 0, 0]), off, value)


def vio_read(off):
    return rec(11, 0, bytes([0, 1, 1, 1, 0, 0]), off, 0)


def queue_areas(q):
    desc = QAREA + q * 0x10000
    driver = desc + 16 * QUEUE_NUM
    device = (driver + 6 + 2 * QUEUE_NUM + 3) & ~3
    return desc, driver, device


def virtio_setup(features_lo=0):
    out = vio_write(0x70, 0) + vio_write(0x70, 1) + vio_write(0x70, 3) + \
        vio_write(0x24, 1) + vio_write(0x20, 1) + vio_write(0x24, 0) + \
        vio_write(0x20, features_lo) + \
        vio_write(0x70, 0xb) + vio_read(0x70)
    for q in (0, 1):
        desc, driver, device = queue_areas(q)
        out += vio_write(0x30, q) + vio_write(0x38, QUEUE_NUM) + vio_write(0x80, desc) + \
            vio_write(0x84, 0) + vio_write(0x90, driver) + vio_write(0x94, 0) + \
            vio_write(0xa0, device) + vio_write(0xa4, 0) + vio_write(0x44, 1)
    return out + vio_write(0x70, 0xf)


def descriptor(q, index, data_off, length, flags, nxt=0):
    # r[4] = 3: address DATA + (a & 0xffff); r[5] = 1: length b & 0xffff; r[6]: flags (NEXT 1,
    # WRITE 2); r[7]: next
    return rec(12, 0, bytes([q, index, 3, 1, flags, nxt]), data_off, length)


def publish(q, head, notify=True):
    return rec(13, 0, bytes([q, 0 if notify else 1, head, 0, 0, 0]))


def take_interrupt():
    return rec(13, 0, bytes([0, 5, 0, 0, 0, 0]), 0, 3)


def backend_output(give_back=True):
    return rec(14, 0, bytes([0, 16, 1 if give_back else 0, 0, 0, 0]))


def backend_input(data):
    return rec(14, 0, bytes([1, len(data), 0, 0, 0, 0]), 0, int.from_bytes(data.ljust(8, b"\0"),
                                                                           "little"))


# ---- the virtio block device (data[0] bits 2 and 3) ----
BLK = VIRTIO | 8
BLK_FEATURES = 1 << 1 | 1 << 2 | 1 << 6 | 1 << 9  # SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH


def blk_setup(features=BLK_FEATURES, fresh=False):
    """Negotiate, set queue 0 up, DRIVER_OK; `fresh`: first zero the available index the
    previous driver left in guest RAM (a driver that does not would replay its requests)."""
    desc, driver, device = queue_areas(0)
    return vio_write(0x70, 0) + vio_write(0x70, 1) + vio_write(0x70, 3) + \
        vio_write(0x24, 1) + vio_write(0x20, 1) + vio_write(0x24, 0) + \
        vio_write(0x20, features) + vio_write(0x70, 0xb) + vio_write(0x30, 0) + \
        vio_write(0x38, QUEUE_NUM) + vio_write(0x80, desc) + vio_write(0x84, 0) + \
        vio_write(0x90, driver) + vio_write(0x94, 0) + vio_write(0xa0, device) + \
        vio_write(0xa4, 0) + vio_write(0x44, 1) + \
        (rec(13, 0, bytes([0, 2, 0, 0, 0, 0]), 0, 0) if fresh else b"") + vio_write(0x70, 0xf)


def blk_ready(capacity=1000, ro=False, direct=0):
    # r[2] = 3: blk_info; r[3] bit 0 clear: capacity b % 4096; r[4] clear: 2048 + a % 2000;
    # r[6] bit 0: direct requests, r[7] % 8 segments at most, a window of all guest RAM
    return rec(14, 0, bytes([3, 0, 0, 1 if ro else 0, 1 if direct else 0, direct]), 0, capacity)


def blk_header(off, type_index, sector):
    # op 12 with r[2] bit 1: a request header at DATA + (a & 0xfff0); r[5]: type index
    return rec(12, 0, bytes([2, 0, 0, type_index, 0, 0]), off, sector)


def blk_request(head, type_index, sector, data_len, base):
    """Header, one data descriptor (writable for a read), status; descriptors head.. head+2."""
    data_flags = 3 if type_index in (0, 3) else 1
    out = blk_header(base, type_index, sector) + descriptor(0, head, base, 16, 1, head + 1)
    if data_len:
        out += descriptor(0, head + 1, base + 0x1000, data_len, data_flags, head + 2)
        out += descriptor(0, head + 2, base + 0x3000, 1, 2)
    else:
        out += descriptor(0, head + 1, base + 0x3000, 1, 2)
    return out + publish(0, head)


def blk_server_take(n=7):
    return rec(14, 0, bytes([0, n, 0, 0, 0, 0]))


def blk_server_answer(which=0, status=0):
    return rec(14, 0, bytes([1, which, status << 1, 0, 0, 0]), 0, 0x5a)


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
    # Three vCPUs on: WFEs held and let go by the others' exits (only vCPUs not held make
    # exits, as on seL4), an SGI sender held until its target, woken from WFI, takes the SGI.
    yield "three-vcpus-yields", bytes([THREE_VCPUS]) + cpu_on(1) + cpu_on(2) + on + \
        gicd_write(0x100, 0xffff, vcpu=1) + gicd_write(0x100, 0xffff, vcpu=2) + wfe(0) + \
        vppi(1) + wfe(2) + wfe(1, 255) + vppi(0) + timer_wfi(0, 0, False, 1) + \
        gicd_write(0xf00, 1 << 17 | 1) + eoi(0, 1) + wfe(0) + wfe(2)
    tx, rx = 1, 0
    yield "virtio-console-both-ways", bytes([VIRTIO]) + on + \
        gicd_write(0x104, 1 << 16) + virtio_setup() + \
        descriptor(tx, 0, 0, 16, 0) + publish(tx, 0) + \
        descriptor(rx, 0, 0x100, 64, 2) + publish(rx, 0) + \
        backend_input(b"hello") + backend_output() + take_interrupt()
    yield "virtio-console-chains", bytes([VIRTIO]) + virtio_setup() + \
        descriptor(tx, 0, 0, 100, 1, 1) + descriptor(tx, 1, 0x200, 300, 1, 2) + \
        descriptor(tx, 2, 0x400, 511, 0) + publish(tx, 0) + \
        descriptor(rx, 1, 0x1000, 3, 3, 2) + descriptor(rx, 2, 0x1100, 5, 2) + publish(rx, 1) + \
        backend_input(b"abcdefgh") + backend_input(b"ij") + backend_output(False) + \
        descriptor(tx, 3, 0x800, 8, 1, 3) + publish(tx, 3)
    # More output than the eight TX buffers hold: it waits for the backend to return them (and
    # the driver publishes descriptor 0 a second time, as a buggy one would).
    yield "virtio-console-backpressure", bytes([VIRTIO | 1]) + virtio_setup() + b"".join(
        descriptor(tx, i, 0x400 * i, 1000, 0) + publish(tx, i) for i in range(QUEUE_NUM)) + \
        publish(tx, 0, notify=True) + backend_output(True) + backend_output(True) + \
        backend_output(True) + take_interrupt()


def blk_seeds():
    yield "virtio-blk-read-write-flush", bytes([BLK]) + blk_setup() + blk_ready() + \
        blk_request(0, 0, 5, 512, 0x100) + blk_server_take() + blk_server_answer() + \
        blk_request(3, 1, 6, 1024, 0x4100) + blk_request(6, 2, 0, 0, 0x8100) + \
        blk_server_take() + blk_server_answer(1) + blk_server_answer(0, 1) + take_interrupt()
    # A request waiting at the server while the driver resets the device and sets it up again.
    yield "virtio-blk-reset-mid-request", bytes([BLK | 1]) + blk_setup() + blk_ready(4000) + \
        blk_request(0, 0, 100, 4096, 0x100) + blk_server_take() + vio_write(0x70, 0) + \
        blk_setup(fresh=True) + blk_server_answer() + blk_request(0, 3, 0, 20, 0x100) + \
        blk_server_take() + blk_server_answer()
    # Direct requests (segments of guest RAM), a reset waiting for one at the server.
    yield "virtio-blk-direct", bytes([BLK]) + blk_setup() + blk_ready(direct=4) + \
        blk_request(0, 0, 5, 512, 0x100) + blk_server_take() + blk_server_answer() + \
        blk_request(3, 1, 6, 1024, 0x4100) + blk_server_take() + blk_server_answer() + \
        blk_request(6, 0, 9, 2048, 0x8100) + blk_server_take() + \
        rec(3, 0, b"\0" * 6, 0x84000009) + rec(3, 0, b"\0" * 6, 0xc6000d1a) + \
        blk_server_answer()
    # A read-only disk, and requests beyond its capacity.
    yield "virtio-blk-read-only-edges", bytes([BLK]) + blk_ready(8, True) + \
        blk_setup(BLK_FEATURES | 1 << 5) + blk_request(0, 1, 0, 512, 0x100) + \
        blk_request(3, 0, 7, 1024, 0x4100) + blk_request(6, 0, 2 ** 63, 512, 0x8100) + \
        take_interrupt()


# ---- the virtio network device (data[0] bits 2 and 4) ----
NET = VIRTIO | 16
NET_FEATURES = 1 << 3 | 1 << 5 | 1 << 16  # MTU, MAC, STATUS


def switch_frame(length, fill=0x5a):
    # fuzz_exits.c: backend op 1 for a network device sends NET_MIN_FRAME + r[3] * 6 bytes
    return rec(14, 0, bytes([1, (length - 14) // 6, 0, 0, 0, 0]), 0, fill * 0x0101010101010101)


def net_seeds():
    tx, rx = 1, 0
    # A header and a frame in one descriptor each way; the switch sends two frames.
    yield "virtio-net-both-ways", bytes([NET]) + virtio_setup(NET_FEATURES) + \
        descriptor(rx, 0, 0x1000, 12 + 1514, 2) + publish(rx, 0) + \
        descriptor(rx, 1, 0x2000, 12 + 1514, 2) + publish(rx, 1) + \
        descriptor(tx, 0, 0, 12 + 60, 0) + publish(tx, 0) + \
        switch_frame(74) + switch_frame(20) + backend_output() + take_interrupt()
    # Header split from the frame; a chain without a header; a frame over the MTU; receive
    # chains too small; the switch holding every buffer.
    yield "virtio-net-malformed", bytes([NET]) + virtio_setup(NET_FEATURES) + \
        descriptor(tx, 0, 0, 12, 1, 1) + descriptor(tx, 1, 0x100, 100, 0) + publish(tx, 0) + \
        descriptor(tx, 2, 0x200, 8, 0) + publish(tx, 2) + \
        descriptor(tx, 3, 0x400, 12 + 1515, 0) + publish(tx, 3) + \
        descriptor(rx, 0, 0x1000, 40, 2) + publish(rx, 0) + switch_frame(200) + \
        descriptor(tx, 4, 0x800, 12 + 64, 0) + publish(tx, 4) + \
        descriptor(tx, 5, 0x900, 12 + 64, 0) + publish(tx, 5) + \
        descriptor(tx, 6, 0xa00, 12 + 64, 0) + publish(tx, 6) + backend_output(False) + \
        switch_frame(30) + switch_frame(32) + switch_frame(34) + backend_output(True)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "seeds", "exits")
    os.makedirs(out, exist_ok=True)
    for name, data in list(seeds()) + list(blk_seeds()) + list(net_seeds()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
