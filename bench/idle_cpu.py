#!/usr/bin/env python3
"""Benchmark (not a test): host CPU time QEMU consumes while the guest idles at its shell prompt,
natively and under the VMM on seL4 (WFI sleeps until the guest's timer or an interrupt)."""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console  # noqa: E402


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle(argv, log, seconds):
    con = Console(argv + ["-display", "none", "-monitor", "none", "-serial", "stdio"], log)
    try:
        con.expect("SEL4VMM-GUEST-READY", 120)
        con.expect("guest# ", 20)
        time.sleep(2)  # let boot-time work settle
        c0, t0 = cpu_seconds(con.proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(con.proc.pid), time.monotonic()
        return (c1 - c0) / (t1 - t0)
    finally:
        con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench"))
    args = ap.parse_args()
    images = os.path.join(args.build_dir, "images")
    bdir = os.path.join(args.build_dir, "idle")
    if not os.path.exists(os.path.join(images, "linux")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/fetch-guest-images.py"),
                        "--out", images], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
                    "CONFIG=release", "IMAGE_DIR=" + images, "all"], check=True,
                   stdout=subprocess.DEVNULL)
    vmm = subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
                          "qemu-cmd"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    native = ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-m", "2G",
              "-kernel", os.path.join(images, "linux"),
              "-initrd", os.path.join(images, "rootfs.cpio.gz"),
              "-append", "console=ttyAMA0 rdinit=/init"]
    n = idle(native, os.path.join(bdir, "idle-native.log"), args.seconds)
    v = idle(vmm, os.path.join(bdir, "idle-vmm.log"), args.seconds)
    print("idle at the shell prompt, %.0f s: QEMU host CPU native %.1f%%, under the VMM (release) "
          "%.1f%% of one core" % (args.seconds, 100 * n, 100 * v))


if __name__ == "__main__":
    main()
