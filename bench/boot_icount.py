#!/usr/bin/env python3
"""Benchmark (not a test): what booting Linux under the VMM costs, in instructions and in seconds.

The same Debian kernel and busybox initramfs (build/images, tools/fetch-guest-images.py) boot
natively (`-machine virt -cpu cortex-a53`, no hypervisor, the VM's 256 MiB and command line) and
under the VMM on seL4 (simple.system, 1 vCPU). The initramfs is a bench-only copy whose /init
runs bench/boot_icount.c right after the marker line: it prints the guest's virtual counter.

- Instructions: each boot once under `qemu -icount shift=0,sleep=off` (one instruction per
  nanosecond, idle time skipped; the same run gives the same count): the counter at the marker,
  16 instructions per tick. QEMU's -seed fixes the native run's KASLR seed; the VMM derives its
  own seeds from the counter and its build's secret.
- Seconds: --pairs boots of each, interleaved, plain TCG, QEMU start to the marker (medians).

Nothing here fails on a figure; a boot that does not reach its marker is reported and skipped.
"""
import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from qemu_console import Console, Timeout  # noqa: E402
from vmmtools import cpio  # noqa: E402

PYTHON = "/usr/bin/python3"
MARKER = "SEL4VMM-GUEST-READY"
COUNTER_RE = re.compile(r"boot_icount: cntvct (\d+) (\d+)")
ICOUNT = ["-icount", "shift=0,sleep=off"]


def sh(cmd, log=None):
    with open(log or os.devnull, "w") as f:
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode == 0


def bench_images(bdir):
    """build/images with the counter program run right after the marker: `linux` and a
    rootfs.cpio.gz that is the default one plus an appended gzip'd cpio (the kernel unpacks both;
    the later /init wins) holding /bin/boot_icount and that /init."""
    images = os.path.join(ROOT, "build/images")
    if not sh([PYTHON, os.path.join(ROOT, "tools/fetch-guest-images.py"), "--out", images]):
        sys.exit("boot_icount: tools/fetch-guest-images.py failed")
    out = os.path.join(bdir, "images")
    os.makedirs(out, exist_ok=True)
    prog = os.path.join(bdir, "boot_icount")
    if not sh(["aarch64-linux-gnu-gcc", "-std=c11", "-O2", "-static", "-nostdlib",
               "-ffreestanding", "-fno-stack-protector", "-fno-pic", "-no-pie", "-Wall",
               "-Wextra", "-Werror", "-Wl,--build-id=none", "-o", prog,
               os.path.join(ROOT, "bench/boot_icount.c")]):
        sys.exit("boot_icount: cannot build bench/boot_icount.c")
    with open(os.path.join(images, "rootfs.cpio.gz"), "rb") as f:
        base = f.read()
    init = [e for e in cpio.read_newc(gzip.decompress(base)) if e[0] == "init"][0]
    lines = init[2].decode().splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.startswith('echo "%s' % MARKER)]
    if len(at) != 1:
        sys.exit("boot_icount: the initramfs's /init has no single marker line")
    lines.insert(at[0] + 1, "/bin/boot_icount\n")
    with open(prog, "rb") as f:
        overlay = cpio.write_newc([("bin/boot_icount", 0o100755, f.read(), 0, 0),
                                   ("init", init[1], "".join(lines).encode(), 0, 0)])
    base += b"\0" * ((4 - len(base) % 4) % 4)  # the next archive starts 4-byte aligned
    data = base + gzip.compress(overlay, mtime=0)
    path = os.path.join(out, "rootfs.cpio.gz")
    if not os.path.exists(path) or open(path, "rb").read() != data:
        with open(path, "wb") as f:
            f.write(data)
    kernel = os.path.join(out, "linux")
    with open(os.path.join(images, "linux"), "rb") as f:
        blob = f.read()
    if not os.path.exists(kernel) or open(kernel, "rb").read() != blob:
        with open(kernel, "wb") as f:
            f.write(blob)
    return out


def vmm_build(bdir, sdk, config, images):
    os.makedirs(bdir, exist_ok=True)
    log = os.path.join(bdir, "build.log")
    ok = sh(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk, "CONFIG=" + config,
             "SYSTEM=simple.system", "IMAGE_DIR=" + images, "all"], log)
    if not ok:
        sys.exit("boot_icount: the VMM build failed (log: %s)" % log)
    qemu = subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir,
                           "MICROKIT_SDK=" + sdk, "qemu-cmd"], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.split()
    return qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"]


def guest_bootargs(bdir):
    dtb = os.path.join(bdir, "gen/linux/guest.dtb")
    r = subprocess.run(["fdtget", dtb, "/chosen", "bootargs"], stdout=subprocess.PIPE, text=True)
    return r.stdout.strip() if r.returncode == 0 else "console=ttyAMA0 rdinit=/init"


def native_cmd(images, bootargs):
    return ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-m", "256M",
            "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-kernel", os.path.join(images, "linux"),
            "-initrd", os.path.join(images, "rootfs.cpio.gz"), "-append", bootargs]


def counter_at_marker(argv, log, timeout=600):
    """Boot under icount; the counter at the marker as (ticks, Hz), or None."""
    con = Console(argv + ICOUNT, log)
    try:
        con.expect(MARKER, timeout)
        # The kernel's console may put lines in between; the program's line follows the marker.
        m = COUNTER_RE.search(con.expect("boot_icount: cntvct", 60) + con.expect("\n", 60))
        if not m:
            print("boot_icount: no counter line after the marker (log: %s)" % log)
        return (int(m.group(1)), int(m.group(2))) if m else None
    except Timeout as e:
        print("boot_icount: %s (log: %s)" % (e, log))
        return None
    finally:
        con.close()


def seconds_to_marker(argv, log, timeout=300):
    t0 = time.monotonic()
    con = Console(argv, log)
    try:
        con.expect(MARKER, timeout)
        return time.monotonic() - t0
    except Timeout as e:
        print("boot_icount: %s (log: %s)" % (e, log))
        return None
    finally:
        con.close()


def insns(counter):
    ticks, hz = counter
    return ticks * 1e9 / hz


def fmt_m(n):
    return "%.2f M" % (n / 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdk", default=os.environ.get("MICROKIT_SDK", "/opt/microkit-sdk-2.0.1"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench/boot-icount"))
    ap.add_argument("--config", default="release", choices=["release", "debug"])
    ap.add_argument("--pairs", type=int, default=3,
                    help="wall-clock boots of each, interleaved (0: instructions only)")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    images = bench_images(bdir)
    vdir = os.path.join(bdir, args.config)
    vmm = vmm_build(vdir, args.sdk, args.config, images)
    native = native_cmd(images, guest_bootargs(vdir)) + ["-seed", "1"]

    nat_c = counter_at_marker(native, os.path.join(bdir, "native-icount.log"))
    vmm_c = counter_at_marker(vmm, os.path.join(bdir, "vmm-icount.log"))
    nat_s, vmm_s = [], []
    for i in range(args.pairs):
        nat_s.append(seconds_to_marker(native, os.path.join(bdir, "native-time.log")))
        vmm_s.append(seconds_to_marker(vmm, os.path.join(bdir, "vmm-time.log")))
        print("pair %d: native %s s, vmm %s s" % (i + 1, *("-" if x is None else "%.2f" % x
                                                           for x in (nat_s[-1], vmm_s[-1]))),
              flush=True)

    print("Boot to the marker line, Linux on 1 vCPU (%s build, simple.system), "
          "same kernel and initramfs natively and under the VMM" % args.config)
    if nat_c and vmm_c:
        n, v = insns(nat_c), insns(vmm_c)
        print("instructions (-icount shift=0,sleep=off): native %s (%d ticks at %d Hz), "
              "VMM %s (%d ticks), extra %s, ratio VMM/native %.4f" %
              (fmt_m(n), nat_c[0], nat_c[1], fmt_m(v), vmm_c[0], fmt_m(v - n), v / n))
    else:
        print("instructions: no figure (a boot did not print its counter; see above)")
    nat_ok = [x for x in nat_s if x is not None]
    vmm_ok = [x for x in vmm_s if x is not None]
    if nat_ok and vmm_ok:
        mn, mv = statistics.median(nat_ok), statistics.median(vmm_ok)
        print("seconds (plain TCG, median of %d and %d): native %.2f s, VMM %.2f s, "
              "ratio VMM/native %.2f" % (len(nat_ok), len(vmm_ok), mn, mv, mv / mn))
    elif args.pairs:
        print("seconds: no figure (no timed boot reached the marker)")
    return 0 if nat_c and vmm_c else 1


if __name__ == "__main__":
    sys.exit(main())
