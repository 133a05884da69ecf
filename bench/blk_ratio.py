#!/usr/bin/env python3
"""Benchmark (not a test): the same Debian kernel and initramfs reading and writing the same disk
image, booted natively in QEMU with virtio-blk-device and under the VMM on seL4 (partition 1 of
that disk through the block server, bench/blk_disk.system), interleaved.

Inside the guest (bench/blkbench.c, added to the initramfs; busybox's dd has O_DIRECT but says no
time): sequential write and read of 120 MiB in 1 MiB blocks with O_DIRECT, and 4 KiB random
reads with O_DIRECT for a few seconds.
Prints each run, the medians, the ratios VMM/native; the same for sequential write and read
under `-icount shift=0` (the guest's clock counts instructions, so TCG's own cost of every
address-space switch, a flush of its software TLB, does not count; idle time passes as real
time); and, from boots under `-icount shift=0` (one
instruction per virtual nanosecond, so the counter counts instructions: 16 per tick at 62.5 MHz)
of a debug build made with VMM_PROFILE=1 (the VMM counts the ticks it spends handling events and
says so at power-off), the VMM's instructions per 4 KiB read and per MiB read: the difference
between a boot doing more reads and one doing fewer, so boot and idle time cancel out."""
import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from qemu_console import Console  # noqa: E402
from vmmtools import cpio  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
PROMPT = "guest# "
MIB = 1 << 20


def build_images(bdir):
    """The default images, with /bin/blkbench appended to the initramfs (a second cpio member:
    the kernel unpacks them in turn). Not BUILD_DIR/images: make keeps that one the defaults."""
    images = os.path.join(bdir, "bench-images")
    base = os.path.join(ROOT, "build", "images")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools/fetch-guest-images.py"), "--out",
                    base], check=True, stdout=subprocess.DEVNULL)
    os.makedirs(images, exist_ok=True)
    tool = os.path.join(bdir, "blkbench")
    subprocess.run(["aarch64-linux-gnu-gcc", "-std=gnu11", "-static", "-nostdlib",
                    "-ffreestanding", "-fno-stack-protector", "-fno-pic", "-no-pie", "-O2",
                    "-Wall", "-Wextra", "-Werror", "-o", tool,
                    os.path.join(ROOT, "bench/blkbench.c")], check=True)
    with open(tool, "rb") as f:
        extra = cpio.write_newc([("bin/blkbench", 0o100755, f.read(), 0, 0)])
    shutil.copyfile(os.path.join(base, "linux"), os.path.join(images, "linux"))
    with open(os.path.join(base, "rootfs.cpio.gz"), "rb") as f:
        rootfs = f.read()
    with open(os.path.join(images, "rootfs.cpio.gz"), "wb") as f:
        f.write(rootfs + gzip.compress(extra, mtime=0))
    return images


class Guest:
    def __init__(self, argv, log):
        self.con = Console(argv, log)
        self.con.expect(MARKER, 300)

    def run(self, cmd, timeout=300):
        # The shell computes the end marker, so the echo of the command line is not it.
        token = "%x" % int(time.monotonic() * 1e6)
        self.con.send("%s; echo done-$((6*7))-%s\n" % (cmd, token))
        return self.con.expect("done-42-%s" % token, timeout)

    def close(self):
        self.con.close()


def blkbench(text):
    m = re.search(r"blkbench: (\d+) (?:reads|writes) of (\d+) bytes in (\d+) ns, IOPS (\d+), "
                  r"counter ticks (\d+)", text)
    if not m:
        raise RuntimeError("no blkbench result in %r" % text[-300:])
    n, size, ns = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return {"n": n, "mib_s": n * size / MIB / (ns / 1e9), "iops": int(m.group(4)),
            "ticks": int(m.group(5))}


def measure(argv, dev, log, seconds):
    g = Guest(argv, log)
    try:
        g.run("echo 1 > /proc/sys/kernel/printk")
        w = blkbench(g.run("blkbench %s write 120" % dev))["mib_s"]
        r = blkbench(g.run("blkbench %s read 120" % dev))["mib_s"]
        rnd = blkbench(g.run("blkbench %s rand %d" % (dev, seconds), timeout=seconds + 120))
        return w, r, rnd["iops"]
    finally:
        g.close()


def measure_icount(argv, dev, log):
    """Sequential write and read under -icount shift=0: the guest's clock then counts
    instructions (one per ns) and the time everything sits idle waiting for the host's I/O
    passes as real time. Returns MiB/s both ways (the guest's clock) and instructions per MiB."""
    g = Guest(argv + ["-icount", "shift=0"], log)
    try:
        g.run("echo 1 > /proc/sys/kernel/printk")
        w = blkbench(g.run("blkbench %s write 40" % dev))
        r = blkbench(g.run("blkbench %s read 40" % dev))
        return w["mib_s"], r["mib_s"], w["ticks"] * 16 / 40, r["ticks"] * 16 / 40
    finally:
        g.close()


def vmm_ticks(argv, dev, log, work):
    """Boot under -icount shift=0 with VMM_PROFILE, run `work`, power off: the counter ticks the
    VMM spent handling events in that boot (it says so at power-off)."""
    g = Guest(argv + ([] if os.environ.get("NO_ICOUNT") else ["-icount", "shift=0"]), log)
    try:
        g.run("echo 1 > /proc/sys/kernel/printk")
        if work:
            blkbench(g.run("blkbench %s %s" % (dev, work), timeout=900))
        g.con.send("poweroff -f\n")
        line = g.con.expect("counter ticks", 120)
        m = re.search(r"profile: (\d+) notifications and faults handled in (\d+) counter ticks",
                      line)
        if not m:
            raise RuntimeError("no profile line in %r" % line[-300:])
        return int(m.group(1)), int(m.group(2))
    finally:
        g.close()


def vmm_instructions(argv, dev, bdir):
    """The VMM's instructions (16 per tick) per 4 KiB random read and per MiB of sequential read:
    the difference between boots that do more and less of it, so boot and idle cancel out."""
    out = {}
    for what, small, large, unit in (("rand", "randcount 200", "randcount 1200", 1000),
                                     ("seq", "read 8", "read 40", 32)):
        e1, t1 = vmm_ticks(argv, dev, os.path.join(bdir, "icount-%s-small.log" % what), small)
        e2, t2 = vmm_ticks(argv, dev, os.path.join(bdir, "icount-%s-large.log" % what), large)
        out[what] = ((t2 - t1) * 16 / unit, (e2 - e1) / unit)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench-blk"))
    ap.add_argument("--config", default="release")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--icount-rounds", type=int, default=3,
                    help="rounds of sequential write and read under -icount shift=0")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    images = build_images(bdir)
    disk = os.path.join(bdir, "disk.img")
    if os.path.exists(disk):
        os.unlink(disk)
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "CONFIG=" + args.config, "IMAGE_DIR=" + images,
            "SYSTEM_FILE=" + os.path.join(ROOT, "bench/blk_disk.system")]
    with open(os.path.join(bdir, "build.log"), "w") as f:
        subprocess.run(make + ["all", "disks"], check=True, stdout=f, stderr=subprocess.STDOUT)
    vmm = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout.split()
    vmm += ["-display", "none", "-monitor", "none", "-serial", "stdio"]
    native = ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-m", "256M",
              "-display", "none", "-monitor", "none", "-serial", "stdio",
              "-kernel", os.path.join(images, "linux"),
              "-initrd", os.path.join(images, "rootfs.cpio.gz"),
              "-append", "console=ttyAMA0 rdinit=/init",
              "-global", "virtio-mmio.force-legacy=false",
              "-drive", "file=%s,if=none,format=raw,id=d0" % disk,
              "-device", "virtio-blk-device,drive=d0"]
    runs = {"native": [], "vmm": []}
    for i in range(args.rounds):
        for name, argv, dev in (("native", native, "/dev/vda1"), ("vmm", vmm, "/dev/vda")):
            w, r, iops = measure(argv, dev, os.path.join(bdir, "bench-%s.log" % name),
                                 args.seconds)
            runs[name].append((w, r, iops))
            print("round %d %-6s: write %6.1f MiB/s, read %6.1f MiB/s, 4 KiB random read %6d "
                  "IOPS" % (i + 1, name, w, r, iops), flush=True)
    med = {k: [statistics.median(x[j] for x in v) for j in range(3)] for k, v in runs.items()}
    print("median native: write %.1f MiB/s, read %.1f MiB/s, %d IOPS" % tuple(med["native"]))
    print("median vmm   : write %.1f MiB/s, read %.1f MiB/s, %d IOPS" % tuple(med["vmm"]))
    print("ratio vmm/native: write %.2f, read %.2f, random read IOPS %.2f" %
          tuple(med["vmm"][j] / med["native"][j] for j in range(3)))
    # The same under -icount, where TCG's own costs of an address-space switch (a software TLB
    # and jump cache flush, host thread hand-offs) do not count, as on hardware.
    icount = {"native": [], "vmm": []}
    for i in range(args.icount_rounds):
        for name, argv, dev in (("native", native, "/dev/vda1"), ("vmm", vmm, "/dev/vda")):
            icount[name].append(measure_icount(argv, dev, os.path.join(
                bdir, "icount-bench-%s.log" % name)))
            print("round %d %-6s under -icount: write %6.1f MiB/s, read %6.1f MiB/s "
                  "(instructions per MiB: write %.0f, read %.0f)" % ((i + 1, name) +
                                                                       icount[name][-1]),
                  flush=True)
    if args.icount_rounds:
        imed = {k: [statistics.median(x[j] for x in v) for j in range(4)]
                for k, v in icount.items()}
        print("median under -icount shift=0 (the guest's clock counts instructions, idle time "
              "passes as real time): native write %.1f, read %.1f MiB/s; vmm write %.1f, read "
              "%.1f MiB/s" % (imed["native"][0], imed["native"][1], imed["vmm"][0],
                              imed["vmm"][1]))
        print("ratio vmm/native under -icount: write %.2f, read %.2f (instructions per MiB "
              "written %.0f vs %.0f, read %.0f vs %.0f)" %
              (imed["vmm"][0] / imed["native"][0], imed["vmm"][1] / imed["native"][1],
               imed["vmm"][2], imed["native"][2], imed["vmm"][3], imed["native"][3]))
    # The VMM's own share, from a debug build that counts its ticks (release prints nothing).
    pdir = os.path.join(bdir, "profile")
    pmake = ["make", "-C", ROOT, "BUILD_DIR=" + pdir, "MICROKIT_SDK=" + args.sdk,
             "CONFIG=debug", "VMM_PROFILE=1", "IMAGE_DIR=" + images, "QEMU_DISK_disk=" + disk,
             "SYSTEM_FILE=" + os.path.join(ROOT, "bench/blk_disk.system")]
    with open(os.path.join(pdir + ".log"), "w") as f:
        subprocess.run(pmake + ["all"], check=True, stdout=f, stderr=subprocess.STDOUT)
    pvmm = subprocess.run(pmake + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    pvmm += ["-display", "none", "-monitor", "none", "-serial", "stdio"]
    ins = vmm_instructions(pvmm, "/dev/vda", pdir)
    print("VMM instructions (-icount shift=0, debug build, VMM_PROFILE): %.0f per 4 KiB read "
          "(%.1f events each), %.0f per MiB read in 1 MiB blocks (%.1f events each)" %
          (ins["rand"][0], ins["rand"][1], ins["seq"][0], ins["seq"][1]))


if __name__ == "__main__":
    main()
