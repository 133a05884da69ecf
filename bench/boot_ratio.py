#!/usr/bin/env python3
"""Benchmark (not a test): seconds from QEMU start to the guest's marker line, for the same kernel
and initrd booted natively (no hypervisor) and under the VMM on seL4, interleaved in pairs.
Prints each run, the medians, the ratio VMM/native and the VMM's ELF section sizes."""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"


def timed_boot(argv, log):
    t0 = time.monotonic()
    con = Console(argv, log)
    try:
        con.expect(MARKER, 180)
        return time.monotonic() - t0
    finally:
        con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench"))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--configs", default="release,debug")
    args = ap.parse_args()

    images = os.path.join(args.build_dir, "images")
    for config in args.configs.split(","):
        bdir = os.path.join(args.build_dir, config)
        if not os.path.exists(os.path.join(images, "linux")):
            subprocess.run([sys.executable, os.path.join(ROOT, "tools/fetch-guest-images.py"),
                            "--out", images], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
                        "CONFIG=" + config, "IMAGE_DIR=" + images, "all"], check=True,
                       stdout=subprocess.DEVNULL)
        native = ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-m", "2G",
                  "-display", "none", "-monitor", "none", "-serial", "stdio",
                  "-kernel", os.path.join(images, "linux"),
                  "-initrd", os.path.join(images, "rootfs.cpio.gz"),
                  "-append", "console=ttyAMA0 rdinit=/init"]
        vmm = ["qemu-system-aarch64", "-machine", "virt,virtualization=on,highmem=off,secure=off",
               "-cpu", "cortex-a53", "-m", "2G", "-display", "none", "-monitor", "none",
               "-serial", "stdio", "-device",
               "loader,file=%s,addr=0x70000000,cpu-num=0" % os.path.join(bdir, "loader.img")]
        nat, vm = [], []
        for i in range(args.pairs):
            nat.append(timed_boot(native, os.path.join(bdir, "bench-native.log")))
            vm.append(timed_boot(vmm, os.path.join(bdir, "bench-vmm.log")))
            print("%s pair %d: native %.2fs, vmm %.2fs" % (config, i + 1, nat[-1], vm[-1]),
                  flush=True)
        mn, mv = statistics.median(nat), statistics.median(vm)
        print("%s: boot to marker, median of %d: native %.2fs, vmm %.2fs, ratio vmm/native %.2f" %
              (config, args.pairs, mn, mv, mv / mn))
        size = subprocess.run(["aarch64-linux-gnu-size", "-A", os.path.join(bdir, "vmm.elf")],
                              stdout=subprocess.PIPE, text=True, check=True).stdout
        sections = {l.split()[0]: int(l.split()[1]) for l in size.splitlines()
                    if l.startswith(".") and len(l.split()) >= 2}
        images_size = sections.get(".rodata.guest_images", 0)
        print("%s: vmm.elf sections (bytes): %s" % (config, ", ".join(
            "%s %d" % (k, v) for k, v in sections.items() if not k.startswith(".debug") and
            k not in (".comment",))))
        objs = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(bdir, "obj"))
                for f in fs if f.endswith(".o") and f != "guest_images.o"]
        code = subprocess.run(["aarch64-linux-gnu-size", "-t"] + objs, stdout=subprocess.PIPE,
                              text=True, check=True).stdout.splitlines()[-1].split()
        print("%s: VMM code without guest images: text %s, data %s, bss %s (guest images in .rodata.guest_images: "
              "%d)" % (config, code[0], code[1], code[2], images_size))


if __name__ == "__main__":
    main()
