#!/usr/bin/env python3
"""Benchmark (not a test): interrupt latency and the cost of finishing an interrupt, in
instructions, for the bare-metal test guest (tests/guest/irq_latency.c) run three ways under
`qemu -icount shift=0,sleep=off` (one instruction per nanosecond; virtual time jumps over idle
periods):

  native  the same guest binary under QEMU with no hypervisor (it starts at EL2 and drops to EL1)
  floor   under bench/irq_latency/floor.c, a Microkit PD doing only the kernel calls each path
          needs: seL4's floor
  VMM     under the VMM (release build, the e2e system baremetal.system), which also prints the
          exit costs of tests/e2e/baremetal.py --bench

Prints one table: each path's instructions natively, on the floor and under the VMM, the VMM's
own share (VMM - floor) and the ratio VMM / floor; then the exit costs beside them."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
import baremetal  # noqa: E402
from qemu_console import Console, Timeout  # noqa: E402

BOARD = "qemu_virt_aarch64"
QEMU_BASE = ["qemu-system-aarch64", "-machine", "virt,virtualization=on,highmem=off,secure=off",
             "-cpu", "cortex-a53", "-m", "2G", "-icount", "shift=0,sleep=off", "-display", "none",
             "-monitor", "none", "-serial", "stdio"]
# The handler's time stamp is its fifth instruction (tests/guest/irq_latency_vectors.S).
STAMP_OFFSET = 4

PATHS = [
    ("vtimer_busy", "virtual timer (vPPI), vCPU busy"),
    ("vtimer_wfi", "virtual timer (vPPI), vCPU in WFI"),
    ("ptimer_busy", "passthrough (INTID 30), vCPU busy"),
    ("ptimer_wfi", "passthrough (INTID 30), vCPU in WFI"),
    ("sgi_busy", "SGI from vCPU 1, vCPU 0 busy"),
    ("sgi_wfi", "SGI from vCPU 1, vCPU 0 in WFI"),
]
EXITS = [("hvc_round_trip", "HVC round trip"), ("smc_round_trip", "SMC round trip"),
         ("mmio_read", "emulated MMIO read"), ("vgic_dist_read", "vGIC distributor read"),
         ("sgi_ping_pong", "SGI ping-pong")]


def figures(out):
    """{name: instructions} from the guest's "bench NAME: N millitick/op, counter F Hz" lines."""
    return {name: int(mt) / 1000 * 1e9 / int(freq) for name, mt, freq in
            re.findall(r"bench (\w+): (\d+) millitick/op, counter (\d+) Hz", out)}


def boot(argv, log, what):
    """Run until the guest says it is done; its output, or None (the reason printed)."""
    con = Console(argv, log)
    try:
        con.expect("baremetal: done", 300)
        out = con.output()
        if "check irq_latency_every_sample_delivered: ok" not in out:
            print("irq_latency %s: not every sample took its interrupt (log: %s)" % (what, log))
        return out
    except Timeout as e:
        print("irq_latency %s: %s (log: %s)" % (what, e, log))
        return None
    finally:
        con.close()


def build_guest(out_dir):
    subprocess.run(["make", "-s", "-B", "-C", os.path.join(ROOT, "tests/guest"), "OUT=" + out_dir],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out_dir, "guest.elf"), os.path.join(out_dir, "guest.bin")


def build_floor(bdir, sdk, guest_bin):
    """floor.elf (floor.c + the guest) and the system image around it; the image's path."""
    src = os.path.join(ROOT, "bench/irq_latency")
    sdk_board = os.path.join(sdk, "board", BOARD, "release")
    cc = ["aarch64-linux-gnu-gcc", "-std=gnu11", "-ffreestanding", "-nostdlib",
          "-fno-stack-protector", "-fno-pic", "-march=armv8-a", "-mstrict-align",
          "-mno-outline-atomics", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
          "-I" + os.path.join(sdk_board, "include")]
    objs = [os.path.join(bdir, "floor.o"), os.path.join(bdir, "floor_guest.o")]
    subprocess.run(cc + ["-c", os.path.join(src, "floor.c"), "-o", objs[0]], check=True)
    subprocess.run(cc + ['-DFLOOR_GUEST="%s"' % guest_bin, "-c",
                         os.path.join(src, "floor_guest.S"), "-o", objs[1]], check=True)
    subprocess.run(["aarch64-linux-gnu-ld", "-L" + os.path.join(sdk_board, "lib")] + objs +
                   ["-lmicrokit", "-Tmicrokit.ld", "-o", os.path.join(bdir, "floor.elf")],
                   check=True)
    image = os.path.join(bdir, "floor-loader.img")
    subprocess.run([os.path.join(sdk, "bin/microkit"), os.path.join(src, "floor.system"),
                    "--search-path", bdir, "--board", BOARD, "--config", "release", "-o", image,
                    "-r", os.path.join(bdir, "floor-report.txt")], check=True,
                   stdout=subprocess.DEVNULL)
    return image


def fmt(v):
    return "-" if v is None else "{:,.0f}".format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdk", default=os.environ.get("MICROKIT_SDK", "/opt/microkit-sdk-2.0.1"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench/irq-latency"))
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)

    guest_elf, guest_bin = build_guest(os.path.join(bdir, "guest"))
    native = boot(QEMU_BASE + ["-smp", "2", "-kernel", guest_elf],
                  os.path.join(bdir, "native.log"), "native")
    floor_img = build_floor(bdir, args.sdk, guest_bin)
    floor = boot(QEMU_BASE + ["-device", "loader,file=%s,addr=0x70000000,cpu-num=0" % floor_img],
                 os.path.join(bdir, "floor.log"), "floor")
    vdir = os.path.join(bdir, "vmm")
    ok, blog = baremetal.build(vdir, args.sdk, "release")
    vmm = None
    if not ok:
        print("irq_latency vmm: the build failed (log: %s)" % blog)
    else:
        out, stopped, log = baremetal.run(vdir, args.sdk, "release")
        vmm = out if not stopped else None
        if stopped:
            print("irq_latency vmm: %s (log: %s)" % (stopped, log))
    n, f, v = (figures(x or "") for x in (native, floor, vmm))

    print("Interrupt latency, instructions from pending in hardware to the guest handler's first "
          "instruction; finishing: from there to the point the next can be taken (release, "
          "qemu -icount shift=0,sleep=off)")
    print("%-40s %8s %8s %8s %8s %7s" % ("path", "native", "floor", "VMM", "VMM-fl", "VMM/fl"))
    for key, label in PATHS:
        for suffix, what in (("", "latency"), ("_finish", "finishing")):
            name = "irq_" + key + suffix
            vals = [d.get(name) for d in (n, f, v)]
            if not suffix:
                vals = [x - STAMP_OFFSET if x is not None else None for x in vals]
            share = vals[2] - vals[1] if None not in vals[1:] else None
            ratio = "%.3f" % (vals[2] / vals[1]) if None not in vals[1:] and vals[1] else "-"
            print("%-40s %8s %8s %8s %8s %7s" % (("  " + what) if suffix else label + ": latency",
                                                 fmt(vals[0]), fmt(vals[1]), fmt(vals[2]),
                                                 fmt(share), ratio))
    print("Exit costs (the same VMM run, tests/e2e/baremetal.py --bench)")
    for key, label in EXITS:
        print("%-40s %8s" % (label, fmt(v.get(key))))
    return 0 if native and floor and vmm else 1


if __name__ == "__main__":
    sys.exit(main())
