#!/usr/bin/env python3
"""Benchmark (not a test): where a Linux guest's SMP boot spends its extra instructions.

Linux boots to the marker under the VMM (release, `simple.system` and `smp<N>.system`, the
kernel's layout fixed with `nokaslr` so both runs are alike) under `qemu -icount
shift=0,sleep=off`, with bench/insn_plugin.c counting every instruction executed by the start
address of its translation block. Addresses become symbols: seL4's (the SDK's sel4.elf), the
Microkit monitor's, the VMM's (its ELF) and the guest kernel's (/proc/kallsyms of the same kernel
booted natively with `nokaslr`); the rest is the guest's user space. Printed: each owner's
instructions with 1 and N vCPUs, and the symbols whose count grew most.

The guest's virtual counter at the marker is printed too (16 instructions per tick): when it
equals the executed instructions, none of the difference is idle time.
"""
import argparse
import bisect
import collections
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from qemu_console import Console, Timeout  # noqa: E402
import marker_images  # noqa: E402
from marker_images import COUNTER_RE, sh  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
BOOTARGS = "console=ttyAMA0 rdinit=/init nokaslr"
BOARD = "qemu_virt_aarch64"


def build_plugin(out_dir):
    so = os.path.join(out_dir, "insn_plugin.so")
    if not sh(["gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
               "-fvisibility=hidden", "-o", so, os.path.join(ROOT, "bench/insn_plugin.c")]):
        sys.exit("smp_profile: cannot build bench/insn_plugin.c")
    return so


def guest_kallsyms(images, out_dir):
    """The guest kernel's text symbols with nokaslr, from a native boot: [(address, name)]."""
    con = Console(["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-m", "256M",
                   "-display", "none", "-monitor", "none", "-serial", "stdio",
                   "-kernel", os.path.join(images, "linux"),
                   "-initrd", os.path.join(images, "rootfs.cpio.gz"), "-append", BOOTARGS],
                  os.path.join(out_dir, "kallsyms.log"))
    try:
        con.expect(MARKER, 300)
        con.expect("# ", 60)
        con.send("echo 0 > /proc/sys/kernel/kptr_restrict; grep -i ' t ' /proc/kallsyms | "
                 "grep -v '\\[' > /tmp/k; echo KSYMS-START; cat /tmp/k; echo KSYMS-$((6*7))\n")
        con.expect("KSYMS-START", 60)
        text = con.expect("KSYMS-42", 600)
    finally:
        con.close()
    syms = []
    for line in text.splitlines():
        p = line.split()
        if len(p) >= 3 and len(p[0]) == 16 and p[1] in "tTwW":
            try:
                syms.append((int(p[0], 16), p[2]))
            except ValueError:
                pass
    return sorted(syms)


def elf_text_symbols(path):
    out = subprocess.run(["aarch64-linux-gnu-nm", "-n", path], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    return [(int(p[0], 16), p[2]) for p in (line.split() for line in out.splitlines())
            if len(p) == 3 and p[1] in "tTwW"]


class Symbols:
    def __init__(self):
        self.tables = []

    def add(self, owner, syms, end_slack=0x10000):
        if syms:
            self.tables.append((owner, [a for a, _ in syms], [n for _, n in syms], syms[0][0],
                                syms[-1][0] + end_slack))

    def owner_and_name(self, addr):
        for owner, addrs, names, lo, hi in self.tables:
            if lo <= addr < hi:
                return owner, names[bisect.bisect_right(addrs, addr) - 1]
        return "guest user space", "0x%x" % (addr >> 20 << 20)


def profile(args, out_dir, images, plugin, system, tag):
    """Build `system`, boot it to the marker with the plugin: (counts file, counter, VMM ELF)."""
    bdir = os.path.join(out_dir, tag)
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "CONFIG=release", "SYSTEM=" + system, "IMAGE_DIR=" + images, "BOOTARGS=" + BOOTARGS]
    if not sh(make + ["all"], os.path.join(bdir + ".build.log")):
        sys.exit("smp_profile: the build of %s failed (log: %s.build.log)" % (system, bdir))
    qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    counts = os.path.join(out_dir, "%s.insns" % tag)
    mon = os.path.join(out_dir, "%s.monitor" % tag)
    if os.path.exists(mon):
        os.unlink(mon)
    con = Console(qemu + ["-display", "none", "-serial", "stdio", "-monitor",
                          "unix:%s,server,nowait" % mon, "-icount", "shift=0,sleep=off",
                          "-plugin", "%s,out=%s" % (plugin, counts)],
                  os.path.join(out_dir, "%s.log" % tag))
    try:
        con.expect(MARKER, 900)
        m = COUNTER_RE.search(con.expect("cntvct ", 60) + con.expect("\n", 60))
        # A clean quit, so that the plugin writes its counts.
        s = socket.socket(socket.AF_UNIX)
        s.connect(mon)
        s.sendall(b"quit\n")
        con.proc.wait(120)
        s.close()
    except Timeout as e:
        sys.exit("smp_profile: %s: %s (log kept)" % (system, e))
    finally:
        con.close()
    vmm_elf = os.path.join(bdir, "vmm_linux.elf")
    return counts, int(m.group(1)) if m else None, vmm_elf


def tally(counts, syms):
    by_owner, by_symbol = collections.Counter(), collections.Counter()
    with open(counts) as f:
        for line in f:
            addr, n = line.split()
            owner, name = syms.owner_and_name(int(addr, 16))
            by_owner[owner] += int(n)
            by_symbol[(owner, name)] += int(n)
    return by_owner, by_symbol


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdk", default=os.environ.get("MICROKIT_SDK", "/opt/microkit-sdk-2.0.1"))
    ap.add_argument("--vcpus", type=int, default=4, choices=[2, 4])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench/smp-profile"))
    args = ap.parse_args()
    out_dir = os.path.abspath(args.build_dir)
    os.makedirs(out_dir, exist_ok=True)
    images = marker_images.build(out_dir, "init", "smp_profile")
    plugin = build_plugin(out_dir)
    kernel_syms = guest_kallsyms(images, out_dir)
    elfs = os.path.join(args.sdk, "board", BOARD, "release", "elf")
    runs = {}
    for n, system in ((1, "simple.system"), (args.vcpus, "smp%d.system" % args.vcpus)):
        counts, ticks, vmm_elf = profile(args, out_dir, images, plugin, system, "%dcpu" % n)
        syms = Symbols()
        syms.add("seL4", elf_text_symbols(os.path.join(elfs, "sel4.elf")))
        syms.add("Microkit monitor", elf_text_symbols(os.path.join(elfs, "monitor.elf")))
        syms.add("VMM", elf_text_symbols(vmm_elf), 0x1000)
        syms.add("guest kernel", kernel_syms)
        runs[n] = (tally(counts, syms), ticks)
    (own1, sym1), t1 = runs[1]
    (ownn, symn), tn = runs[args.vcpus]
    total1, totaln = sum(own1.values()), sum(ownn.values())
    print("Linux to the marker under the VMM (release, nokaslr), instructions executed:")
    print("  %-22s %15s %15s %15s" % ("", "1 vCPU", "%d vCPUs" % args.vcpus, "difference"))
    for owner in sorted(set(own1) | set(ownn), key=lambda o: -(ownn[o] - own1[o])):
        print("  %-22s %15s %15s %+15s" % (owner, "{:,}".format(own1[owner]),
                                           "{:,}".format(ownn[owner]),
                                           "{:,}".format(ownn[owner] - own1[owner])))
    print("  %-22s %15s %15s %+15s" % ("together", "{:,}".format(total1), "{:,}".format(totaln),
                                       "{:,}".format(totaln - total1)))
    if t1 and tn:
        print("  the guest's counter at the marker x 16: %s and %s (ratio %.4f)" %
              ("{:,}".format(t1 * 16), "{:,}".format(tn * 16), tn / t1))
    print("The symbols whose count grew most:")
    grew = sorted(set(sym1) | set(symn), key=lambda k: -(symn[k] - sym1[k]))
    for key in grew[:args.top]:
        print("  %+14s  %-16s %s" % ("{:,}".format(symn[key] - sym1[key]), key[0], key[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
