#!/usr/bin/env python3
"""Benchmark (not a test): bytes per second a Linux guest writes to its console through the
virtio console and the serial multiplexer (virtio_console.system) against the same guest writing
to the PL011 passed through (simple.system), release builds, and what each byte costs in
instructions (qemu -icount shift=0,sleep=off: one instruction per nanosecond of virtual time, the
same run gives the same count). The guest times itself with /proc/uptime around printing
N bytes in 79-character lines. Also prints the VMM's own share per virtio notification, counted
by callgrind on the host build (bench/virtio_cost.sh)."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console  # noqa: E402

PROMPT = "guest# "


def build(bdir, sdk, system):
    subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                    "CONFIG=release", "SYSTEM=" + system, "all"], check=True,
                   stdout=subprocess.DEVNULL)
    return subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                           "CONFIG=release", "SYSTEM=" + system, "qemu-cmd"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.split()


def measure(qemu, log, nbytes, icount):
    extra = ["-icount", "shift=0,sleep=off"] if icount else []
    con = Console(qemu + extra + ["-display", "none", "-monitor", "none", "-serial", "stdio"],
                  log)
    try:
        con.expect("SEL4VMM-GUEST-READY", 300)
        con.expect(PROMPT, 60)
        con.send("a=$(cut -d' ' -f1 /proc/uptime); head -c %d /dev/zero | tr '\\0' x | "
                 "fold -w 78; b=$(cut -d' ' -f1 /proc/uptime); echo; echo \"took $a $b e$((1+1))nd\"\n" %
                 nbytes)
        seen = con.expect(" e2nd", 600)  # computed: the typed line's echo cannot match
        m = re.findall(r"took ([\d.]+) ([\d.]+) e2nd", seen)
        a, b = (float(x) for x in m[-1])
        return b - a
    finally:
        con.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdk", default="/opt/microkit-sdk-2.0.1")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench/console"))
    ap.add_argument("--bytes", type=int, default=256 * 1024)
    args = ap.parse_args()
    rows = []
    for label, system in (("PL011 passed through", "simple.system"),
                          ("virtio console + multiplexer", "virtio_console.system")):
        bdir = os.path.join(args.build_dir, system.split(".")[0])
        qemu = build(bdir, args.sdk, system)
        wall = measure(qemu, os.path.join(bdir, "qemu.log"), args.bytes, False)
        virt = measure(qemu, os.path.join(bdir, "qemu-icount.log"), args.bytes, True)
        rows.append((label, args.bytes / wall, virt * 1e9 / args.bytes))
    print("%d bytes written to the console by the guest, release builds" % args.bytes)
    print("%-32s %14s %22s" % ("", "bytes/s (TCG)", "instructions per byte"))
    for label, rate, per_byte in rows:
        print("%-32s %14.0f %22.0f" % (label, rate, per_byte))
    print("virtio / passthrough: %.2fx the rate, %.2fx the instructions per byte" %
          (rows[1][1] / rows[0][1], rows[1][2] / rows[0][2]))
    print()
    subprocess.run(["bash", os.path.join(ROOT, "bench/virtio_cost.sh")], check=False)


if __name__ == "__main__":
    main()
