"""Guest images for the instruction-count benchmarks (bench/boot_icount.py, bench/smp_cost.py):
the default kernel and initramfs (build/images, tools/fetch-guest-images.py) plus
bench/marker_counter.c, a static program that prints the guest's virtual counter,
"cntvct <ticks> <Hz>". Under `qemu -icount shift=0` that counter counts instructions from QEMU's
start (16 per tick at 62.5 MHz), natively and under the VMM alike."""
import gzip
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from vmmtools import cpio  # noqa: E402

PYTHON = "/usr/bin/python3"
MARKER = "SEL4VMM-GUEST-READY"
COUNTER_RE = re.compile(r"cntvct (\d+) (\d+)")
# Where the counter program runs: right after /init prints the marker line, or as the first
# thing the shell does (/etc/profile), after /init printed it and started the shell.
HOOKS = ("init", "profile")


def sh(cmd, log=None):
    """Run a command; its output goes to `log` (or nowhere). True if it succeeded."""
    with open(log or os.devnull, "w") as f:
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode == 0


def write_if_changed(path, data):
    if not os.path.exists(path) or open(path, "rb").read() != data:
        with open(path, "wb") as f:
            f.write(data)


def build(bdir, hook, who):
    """A directory with `linux` and `rootfs.cpio.gz`: the default initramfs with a second,
    gzip'd cpio appended (the kernel unpacks both; later files win) holding
    /bin/marker_counter and the /init or /etc/profile that runs it. `who` names the caller in
    errors."""
    assert hook in HOOKS
    images = os.path.join(ROOT, "build/images")
    if not sh([PYTHON, os.path.join(ROOT, "tools/fetch-guest-images.py"), "--out", images]):
        sys.exit("%s: tools/fetch-guest-images.py failed" % who)
    out = os.path.join(bdir, "images")
    os.makedirs(out, exist_ok=True)
    prog = os.path.join(bdir, "marker_counter")
    if not sh(["aarch64-linux-gnu-gcc", "-std=c11", "-O2", "-static", "-nostdlib",
               "-ffreestanding", "-fno-stack-protector", "-fno-pic", "-no-pie", "-Wall",
               "-Wextra", "-Werror", "-Wl,--build-id=none", "-o", prog,
               os.path.join(ROOT, "bench/marker_counter.c")]):
        sys.exit("%s: cannot build bench/marker_counter.c" % who)
    with open(os.path.join(images, "rootfs.cpio.gz"), "rb") as f:
        base = f.read()
    if hook == "init":
        init = [e for e in cpio.read_newc(gzip.decompress(base)) if e[0] == "init"][0]
        lines = init[2].decode().splitlines(keepends=True)
        at = [i for i, line in enumerate(lines) if line.startswith('echo "%s' % MARKER)]
        if len(at) != 1:
            sys.exit("%s: the initramfs's /init has no single marker line" % who)
        lines.insert(at[0] + 1, "/bin/marker_counter\n")
        hooked = ("init", init[1], "".join(lines).encode(), 0, 0)
    else:
        hooked = ("etc/profile", 0o100644, b'export PS1="guest# "\n/bin/marker_counter\n', 0, 0)
    with open(prog, "rb") as f:
        overlay = cpio.write_newc([("bin/marker_counter", 0o100755, f.read(), 0, 0), hooked])
    base += b"\0" * ((4 - len(base) % 4) % 4)  # the next archive starts 4-byte aligned
    write_if_changed(os.path.join(out, "rootfs.cpio.gz"), base + gzip.compress(overlay, mtime=0))
    with open(os.path.join(images, "linux"), "rb") as f:
        write_if_changed(os.path.join(out, "linux"), f.read())
    return out
