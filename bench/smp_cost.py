#!/usr/bin/env python3
"""Benchmark (not a test): what SMP costs a guest on the one physical core, in instructions.

Under `qemu -icount shift=0,sleep=off` QEMU runs every CPU on one thread, round-robin, one
instruction per nanosecond, so the guest's virtual counter (62.5 MHz: 16 instructions per tick)
counts instructions from QEMU's start, the same way natively and under the VMM. Printed:

- Linux: ticks from QEMU start to the marker line (median of --runs boots) with 1, 2 and 4
  vCPUs, natively (`-smp N`, 256 MiB like the VMs) and under the VMM (systems simple, smp2,
  smp4), the same kernel and initramfs (build/images from tools/fetch-guest-images.py) with one
  addition: a tiny static program (bench/marker_counter.c) that /etc/profile runs, the first
  thing the shell does after /init printed the marker, reads the counter and prints it. Ratios:
  N vCPUs against 1, VMM against native. Idle time counts too: with sleep=off QEMU skips it but
  the counter still advances by it, equally natively and under the VMM.
- The bare-metal test guest's SMP figures (tests/e2e/baremetal.py --bench, 3 vCPUs): the SGI
  ping-pong (both sides wait in WFI), a function call through an SGI (the caller waits with WFE)
  and the spinlock hand-off, per operation.

Nothing here fails on a figure; a run that does not reach its marker is reported and skipped.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from qemu_console import Console, Timeout  # noqa: E402
import marker_images  # noqa: E402
from marker_images import COUNTER_RE, sh  # noqa: E402

PYTHON = "/usr/bin/python3"
SYSTEMS = {1: "simple.system", 2: "smp2.system", 4: "smp4.system"}
ICOUNT = ["-icount", "shift=0,sleep=off"]


def counter_at_marker(argv, log, timeout):
    """Boot, wait for the marker and the counter line; (ticks, freq) or None."""
    con = Console(argv, log)
    try:
        con.expect("SEL4VMM-GUEST-READY", timeout)
        text = con.expect("cntvct ", 120) + con.expect("\n", 10)
        m = COUNTER_RE.search(text)
        return (int(m.group(1)), int(m.group(2))) if m else None
    except Timeout:
        return None
    finally:
        con.close()


def vmm_build(bdir, sdk, config, system, images):
    """Build the system. Each build draws a fresh secret for the guest's boot seeds (README,
    "Fresh randomness for every boot"), so each lays the kernel out elsewhere (KASLR), which moves
    how the vCPUs interleave: every run rebuilds, and the median is over layouts, as natively it
    is over the seeds QEMU draws at each boot."""
    os.makedirs(bdir, exist_ok=True)
    for dirpath, _, files in os.walk(os.path.join(bdir, "gen")):
        if "vm_config.c" in files:
            os.remove(os.path.join(dirpath, "vm_config.c"))
    log = os.path.join(bdir, "build.log")
    ok = sh(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk, "CONFIG=" + config,
             "SYSTEM=" + system, "IMAGE_DIR=" + images, "all"], log)
    return ok, log


def qemu_cmd(bdir, sdk, config, system):
    """The QEMU command of the build in `bdir`. make qemu-cmd expands the system (its devices may
    add QEMU arguments), so it gets the build's SYSTEM: another would be expanded into `bdir`."""
    return subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                           "CONFIG=" + config, "SYSTEM=" + system, "qemu-cmd"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.split()


def bootargs(bdir):
    """The command line the VMM's guest gets (the native run uses the same)."""
    dtb = os.path.join(bdir, "gen/linux/guest.dtb")
    r = subprocess.run(["fdtget", dtb, "/chosen", "bootargs"], stdout=subprocess.PIPE, text=True)
    return r.stdout.strip() if r.returncode == 0 else "console=ttyAMA0 rdinit=/init"


def fmt_ticks(t):
    return "%.3f M ticks (%.0f M instructions)" % (t / 1e6, t * 16 / 1e6)


def linux(args, out_dir):
    images = marker_images.build(out_dir, "profile", "smp_cost")
    rows = {}
    for n in args.vcpus:
        bdir = os.path.join(out_dir, "vmm-%dcpu" % n)
        ok, blog = vmm_build(bdir, args.sdk, args.config, SYSTEMS[n], images)
        if not ok:
            print("linux %d vCPU: VMM build failed, log kept: %s" % (n, blog), flush=True)
            continue
        native = ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-smp",
                  str(n), "-m", "256M", "-display", "none", "-monitor", "none", "-serial",
                  "stdio", "-kernel", os.path.join(images, "linux"), "-initrd",
                  os.path.join(images, "rootfs.cpio.gz"), "-append", bootargs(bdir)] + ICOUNT
        vmm = qemu_cmd(bdir, args.sdk, args.config, SYSTEMS[n]) + [
            "-display", "none", "-monitor", "none", "-serial", "stdio"] + ICOUNT
        for kind, argv in (("native", native), ("vmm", vmm)):
            if kind == "native" and args.skip_native:
                continue
            runs = []
            for run in range(args.runs):
                log = os.path.join(bdir, "%s-%d.log" % (kind, run + 1))
                if kind == "vmm" and run > 0:
                    ok, blog = vmm_build(bdir, args.sdk, args.config, SYSTEMS[n], images)
                    if not ok:
                        print("linux %d vCPU: VMM build failed, log kept: %s" % (n, blog))
                        break
                got = counter_at_marker(argv, log, args.timeout)
                if got is None:
                    print("linux %d vCPU %s: no counter line after the marker; log kept: %s" %
                          (n, kind, log), flush=True)
                    continue
                if got[1] != 62500000:
                    print("note: counter frequency %d Hz, not 62.5 MHz" % got[1])
                runs.append(got[0])
            if not runs:
                continue
            rows[(kind, n)] = int(statistics.median(runs))
            print("linux %d vCPU %-6s: median %s; runs %s" %
                  (n, kind, fmt_ticks(rows[(kind, n)]),
                   " ".join("%.3f" % (r / 1e6) for r in runs)), flush=True)
    print()
    print("Linux, QEMU start to the marker (%s VMM):" % args.config)
    print("%-8s %-18s %-18s %s" % ("vCPUs", "native M ticks", "VMM M ticks", "VMM/native"))
    for n in args.vcpus:
        nat, vm = rows.get(("native", n)), rows.get(("vmm", n))
        print("%-8d %-18s %-18s %s" % (n, "%.3f" % (nat / 1e6) if nat else "-",
                                       "%.3f" % (vm / 1e6) if vm else "-",
                                       "%.4f" % (vm / nat) if nat and vm else "-"))
    base_n, base_v = rows.get(("native", 1)), rows.get(("vmm", 1))
    for n in args.vcpus:
        if n == 1:
            continue
        nat, vm = rows.get(("native", n)), rows.get(("vmm", n))
        parts = []
        if nat and base_n:
            parts.append("native %.4f" % (nat / base_n))
        if vm and base_v:
            parts.append("VMM %.4f (%+.1f M instructions)" % (vm / base_v,
                                                                  (vm - base_v) * 16 / 1e6))
        print("%d vCPUs against 1: %s" % (n, ", ".join(parts) or "-"))
    return {"linux %s %d" % (k, n): v for (k, n), v in rows.items()}


def baremetal(args, out_dir):
    bdir = os.path.join(out_dir, "baremetal")
    r = subprocess.run([PYTHON, os.path.join(ROOT, "tests/e2e/baremetal.py"), "--build-dir", bdir,
                        "--sdk", args.sdk, "--config", args.config, "--bench"],
                       stdout=subprocess.PIPE, text=True)
    figures = dict(re.findall(r"^bench (\w+)\s+(\d+) instructions", r.stdout, re.M))
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL")]
    print()
    print("Bare-metal guest, 3 vCPUs (%s VMM), instructions per operation:" % args.config)
    for name in ("sgi_ping_pong", "sgi_call", "spinlock_handoff", "hvc_round_trip"):
        print("  %-18s %s" % (name, figures.get(name, "- (not printed)")))
    if "hvc_round_trip" in figures:
        hvc = int(figures["hvc_round_trip"])
        for name in ("sgi_ping_pong", "sgi_call", "spinlock_handoff"):
            if name in figures:
                print("  %-18s %.1f HVC round trips" % (name, int(figures[name]) / hvc))
    for l in fails:
        print("  (%s)" % l)
    return {"baremetal " + k: int(v) for k, v in figures.items()}


def compare(now, path):
    """Each figure against the same one in a file --save wrote (an earlier build, say)."""
    with open(path) as f:
        before = json.load(f)
    print()
    print("Against %s (ticks for Linux, instructions per operation for the bare-metal guest):" %
          path)
    for key in sorted(now):
        if key in before and before[key]:
            print("  %-28s %12d -> %12d  %.3fx of before (%.2fx cheaper)" %
                  (key, before[key], now[key], now[key] / before[key], before[key] / now[key]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdk", default=os.environ.get("MICROKIT_SDK", "/opt/microkit-sdk-2.0.1"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench/smp"))
    ap.add_argument("--config", default="release")
    ap.add_argument("--vcpus", default="1,2,4")
    ap.add_argument("--only", choices=["linux", "baremetal"])
    ap.add_argument("--runs", type=int, default=3,
                    help="boots per configuration, the VMM rebuilt for each (see vmm_build); the "
                    "median is used")
    ap.add_argument("--skip-native", action="store_true", help="VMM runs only")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per boot")
    ap.add_argument("--save", help="write the figures to this JSON file")
    ap.add_argument("--against", help="compare with figures an earlier --save wrote")
    args = ap.parse_args()
    args.vcpus = [int(n) for n in args.vcpus.split(",")]
    out_dir = os.path.abspath(args.build_dir)
    os.makedirs(out_dir, exist_ok=True)
    figures = {}
    if args.only != "baremetal":
        figures.update(linux(args, out_dir))
    if args.only != "linux":
        figures.update(baremetal(args, out_dir))
    if args.save:
        with open(args.save, "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)
    if args.against:
        compare(figures, args.against)


if __name__ == "__main__":
    main()
