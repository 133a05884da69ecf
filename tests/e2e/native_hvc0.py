#!/usr/bin/env python3
"""The default guest images booted directly in QEMU, without seL4 (no SDK needed): with
console=hvc0 the marker and an interactive shell, with hvc0 as its controlling terminal, are on
the virtio console; the virtio-blk and virtio-net modules drive QEMU's virtio-mmio devices (an ext4
disk made on the host, a restricted user network); without console=hvc0 everything stays on the
serial port as under the VMM; and a module that is missing or broken does not stop the boot.
Prints one line per check and a summary."""
import argparse
import gzip
import os
import random
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools"))
from qemu_console import Console, Timeout  # noqa: E402
from vmmtools import cpio  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
MARKER_LINE = re.compile(r"^%s: Linux \S+ aarch64, 1 cpu\(s\)\r?$" % MARKER, re.M)
PROMPT = "guest# "
BOOT_TIMEOUT = 120
APPLETS = ["sha256sum", "dd", "sync", "mount", "umount", "ip", "ping", "nc", "udhcpc", "mke2fs",
           "fdisk", "losetup", "modprobe", "setsid", "cttyhack"]


def qemu_argv(args, kernel_args, initrd, serial, devices=()):
    """QEMU's virt board with nothing but what is asked (-nodefaults: no default network)."""
    return [args.qemu, "-machine", "virt", "-cpu", "cortex-a53", "-m", "512M", "-nodefaults",
            "-display", "none", "-monitor", "none", "-kernel", os.path.join(args.images, "linux"),
            "-initrd", initrd, "-append", kernel_args, "-serial", serial] + list(devices)


def hvc0_devices():
    """The virtio-mmio console on QEMU's stdio (the test's pipe): hvc0 in the guest."""
    return ["-device", "virtio-serial-device", "-chardev", "stdio,id=c0",
            "-device", "virtconsole,chardev=c0"]


def initrd_modules(path):
    """(name, path) of each `load` line of the image's /init, in order."""
    with open(path, "rb") as f:
        files = {e[0]: e for e in cpio.read_newc(gzip.decompress(f.read()))}
    init = files["init"][2].decode()
    return re.findall(r"^\s+load (\S+) (\S+)$", init, re.M), files


def rewrite_initrd(src, dst, change):
    """The image with change(name, data) applied to each entry: (name, data), or None to drop."""
    with open(src, "rb") as f:
        entries = cpio.read_newc(gzip.decompress(f.read()))
    out = []
    for name, mode, data, major, minor, _ in entries:
        changed = change(name, data)
        if changed:
            out.append((changed[0], mode, changed[1], major, minor))
    with open(dst, "wb") as f:
        f.write(gzip.compress(cpio.write_newc(out), mtime=0))


def break_modules(name, data):
    """virtio_blk.ko left out, ext4.ko replaced by garbage."""
    if name.endswith("/virtio_blk.ko"):
        return None
    if name.endswith("/ext4.ko"):
        return name, b"not an ELF file\n" * 64
    return name, data


def other_kernel_version(name, data):
    """The modules filed under another kernel version, as a user's own kernel would see them."""
    return re.sub(r"^lib/modules/[^/]+", "lib/modules/0.0.0-another-kernel", name), data


class Run:
    """One line per check; after a failure the remaining checks of the same boot are skipped."""

    def __init__(self):
        self.results = []
        self.failed_in_boot = None

    def check(self, name, fn):
        if self.failed_in_boot:
            self.results.append(None)
            print("SKIPPED native %s: not run, %r failed before it" % (name, self.failed_in_boot),
                  flush=True)
            return
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            self.results.append(True)
            print("ok   native %s (%.1fs) %s" % (name, time.monotonic() - t0, detail), flush=True)
        except (Timeout, subprocess.CalledProcessError, AssertionError, OSError) as e:
            self.results.append(False)
            self.failed_in_boot = name
            print("FAIL native %s: %s" % (name, e), flush=True)


def show_log(path, serial_log=None):
    for p in [path, serial_log]:
        if p and os.path.exists(p):
            with open(p, "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            print("     log kept: %s; its last lines:" % p)
            for line in tail.splitlines()[-25:]:
                print("     | " + line)


def marker_after(con, what):
    """Wait for the marker line; return (everything before it, the line)."""
    before = con.expect(MARKER + ": ", BOOT_TIMEOUT)
    line = MARKER + ": " + con.expect("\n", 10)
    assert MARKER_LINE.search(line), "%s: marker line %r is not in the expected format" % (
        what, line.strip())
    con.expect(PROMPT, 20)
    return before, line.strip()


def shell(con, cmd, timeout=20):
    """Run `cmd` in the guest shell; its output up to the next prompt. The command ends by
    printing a computed token, so the tty's echo of what was typed cannot satisfy the wait."""
    tag = random.getrandbits(24)
    con.send("%s; echo end-$((%d+1))\n" % (cmd, tag))
    out = con.expect("end-%d" % (tag + 1), timeout)
    con.expect(PROMPT, 10)
    return out


def boot_hvc0(args, run, bdir):
    """console=hvc0 with a virtio-blk ext4 disk and a virtio-net on a restricted user network."""
    run.failed_in_boot = None
    log, serial_log = os.path.join(bdir, "hvc0.log"), os.path.join(bdir, "hvc0-serial.log")
    disk, seed = os.path.join(bdir, "disk.img"), os.path.join(bdir, "disk-seed")
    host_token, guest_token = "%08x" % random.getrandbits(32), "%08x" % random.getrandbits(32)
    modules, _ = initrd_modules(os.path.join(args.images, "rootfs.cpio.gz"))
    state = {}

    def make_disk():
        shutil.rmtree(seed, ignore_errors=True)
        os.makedirs(seed)
        with open(os.path.join(seed, "host.txt"), "w") as f:
            f.write("host-%s\n" % host_token)
        if os.path.exists(disk):
            os.remove(disk)
        with open(disk, "wb") as f:
            f.truncate(64 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "native", "-d", seed, disk],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        return "64 MiB ext4 holding host.txt"

    def boot():
        devices = hvc0_devices() + [
            "-drive", "if=none,file=%s,format=raw,id=d0" % disk,
            "-device", "virtio-blk-device,drive=d0",
            "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-device,netdev=n0"]
        state["con"] = Console(qemu_argv(args, "console=hvc0", os.path.join(
            args.images, "rootfs.cpio.gz"), "file:" + serial_log, devices), log)
        before, line = marker_after(state["con"], "hvc0")
        assert "not loaded" not in before, "a module did not load: %r" % before[-500:]
        with open(serial_log, "rb") as f:
            assert MARKER.encode() not in f.read(), "the marker went to the serial port"
        return line

    def echo():
        token = "%08x" % random.getrandbits(32)
        state["con"].send("echo hvc-$((6*7))-%s\n" % token)
        state["con"].expect("hvc-42-%s" % token, 20)
        state["con"].expect(PROMPT, 10)
        return "typed on hvc0, answer computed by the guest shell"

    def applets():
        # What the disk and network tests will run in the guest.
        out = shell(state["con"], "for a in %s; do busybox --list | grep -qx $a && "
                    "echo applet-$a-$((2*2)); done" % " ".join(APPLETS))
        missing = [a for a in APPLETS if "applet-%s-4" % a not in out]
        assert not missing, "busybox lacks: %s" % " ".join(missing)
        return " ".join(APPLETS)

    def ctty():
        con = state["con"]
        out = shell(con, "tty")
        assert "/dev/hvc0" in out, "tty says %r" % out
        assert "job control turned off" not in con.output(), "the shell has no job control"
        # Ctrl-C reaches the foreground job only if hvc0 is the shell's controlling terminal.
        con.send("echo sleeping-$((3*5)); sleep 60\n")
        con.expect("sleeping-15", 20)
        time.sleep(1)
        t0 = time.monotonic()
        con.send("\x03")
        con.expect(PROMPT, 15)
        took = time.monotonic() - t0
        out = shell(con, "echo status-$?")
        assert "status-130" in out, "after Ctrl-C: %r" % out
        return "tty is /dev/hvc0; Ctrl-C ended sleep 60 after %.1fs (status 130)" % took

    def loaded():
        out = shell(state["con"], "cat /proc/modules")
        have = set(re.findall(r"^(\w+) \d+ \d+ .* Live ", out, re.M))
        want = [name for name, _ in modules]
        missing = [m for m in want if m not in have]
        assert want and not missing, "not loaded: %s (in /proc/modules: %s)" % (
            missing, sorted(have))
        return "%d modules live: %s" % (len(want), " ".join(want))

    def blk():
        out = shell(state["con"], "mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && "
                    "cat /mnt/host.txt && echo guest-%s > /mnt/guest.txt && sync && "
                    "umount /mnt && echo umounted-$((5*5))" % guest_token, 60)
        assert "host-%s" % host_token in out, "host's file not read: %r" % out
        assert "umounted-25" in out, "mount/write/umount failed: %r" % out
        return "/dev/vda mounted as ext4, host's file read, guest's file written"

    def net():
        out = shell(state["con"], "ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && "
                    "ping -c 1 -W 10 10.0.2.2", 60)
        assert "1 packets received" in out, "no answer from QEMU's user network: %r" % out
        return "eth0 up, QEMU's gateway 10.0.2.2 answers a ping"

    def poweroff():
        con = state["con"]
        con.send("poweroff -f\n")
        deadline = time.monotonic() + 30
        while con.proc.poll() is None:
            assert time.monotonic() < deadline, "QEMU still running 30 s after poweroff -f"
            time.sleep(0.2)
        fsck = subprocess.run(["e2fsck", "-fn", disk], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        assert fsck.returncode == 0, "e2fsck -fn: status %d\n%s" % (fsck.returncode, fsck.stdout)
        cat = subprocess.run(["debugfs", "-R", "cat /guest.txt", disk], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        assert "guest-%s" % guest_token in cat.stdout, "host reads %r" % cat.stdout
        return "e2fsck -fn clean; the host reads the guest's file"

    try:
        run.check("make an ext4 disk on the host", make_disk)
        run.check("console=hvc0: marker on hvc0, last, after the modules", boot)
        run.check("console=hvc0: interactive shell", echo)
        run.check("busybox has the applets guest tests use", applets)
        run.check("console=hvc0: controlling terminal, Ctrl-C", ctty)
        run.check("modules of /init all live", loaded)
        run.check("virtio-blk: ext4 on /dev/vda", blk)
        run.check("virtio-net: eth0", net)
        run.check("poweroff; the disk is clean and holds the guest's file", poweroff)
    finally:
        if "con" in state:
            state["con"].close()
    if run.failed_in_boot:
        show_log(log, serial_log)


def boot_serial(args, run, bdir):
    """No console=hvc0 and no virtio devices: marker and shell on the serial port, as under the
    VMM today."""
    run.failed_in_boot = None
    log = os.path.join(bdir, "serial.log")
    state = {}

    def boot():
        state["con"] = Console(qemu_argv(args, "console=ttyAMA0", os.path.join(
            args.images, "rootfs.cpio.gz"), "stdio"), log)
        before, line = marker_after(state["con"], "serial")
        assert "not loaded" not in before, "a module did not load: %r" % before[-500:]
        return line

    def echo():
        out = shell(state["con"], "echo serial-$((6*7)); tty")
        assert "serial-42" in out, out
        return "shell on %s" % (out.split("\n")[-2].strip() if "\n" in out else "?")

    try:
        run.check("console=ttyAMA0: marker on the serial port", boot)
        run.check("console=ttyAMA0: interactive shell", echo)
    finally:
        if "con" in state:
            state["con"].close()
    if run.failed_in_boot:
        show_log(log)


def boot_broken(args, run, bdir):
    """virtio_blk.ko missing and ext4.ko broken: named, the boot goes on to hvc0 and the marker."""
    run.failed_in_boot = None
    log, serial_log = os.path.join(bdir, "broken.log"), os.path.join(bdir, "broken-serial.log")
    initrd = os.path.join(bdir, "broken.cpio.gz")
    state = {}

    def boot():
        rewrite_initrd(os.path.join(args.images, "rootfs.cpio.gz"), initrd, break_modules)
        state["con"] = Console(qemu_argv(args, "console=hvc0", initrd, "file:" + serial_log,
                                         hvc0_devices()), log)
        before, line = marker_after(state["con"], "broken modules")
        out = shell(state["con"], "cat /proc/modules; tty")
        for name in ["virtio_blk", "ext4"]:
            assert "init: module %s not loaded; going on" % name in before, \
                "no line naming %s in %r" % (name, before[-800:])
            assert not re.search(r"^%s " % name, out, re.M), "%s is loaded?" % name
        assert re.search(r"^jbd2 ", out, re.M), "the modules after the broken ones did not load"
        assert "/dev/hvc0" in out, "shell not on hvc0: %r" % out
        return "both named, the rest loaded, shell on hvc0"

    try:
        run.check("a missing and a broken module do not stop the boot", boot)
    finally:
        if "con" in state:
            state["con"].close()
    if run.failed_in_boot:
        show_log(log, serial_log)


def boot_other_version(args, run, bdir):
    """A kernel whose version has no /lib/modules here (your own, virtio built in): nothing is
    loaded, nothing is reported, the boot is as before."""
    run.failed_in_boot = None
    log = os.path.join(bdir, "other-version.log")
    initrd = os.path.join(bdir, "other-version.cpio.gz")
    state = {}

    def boot():
        rewrite_initrd(os.path.join(args.images, "rootfs.cpio.gz"), initrd, other_kernel_version)
        state["con"] = Console(qemu_argv(args, "console=ttyAMA0", initrd, "stdio"), log)
        before, line = marker_after(state["con"], "other version")
        assert "not loaded" not in before, "modules of another version reported: %r" % before
        out = shell(state["con"], "echo modules-$(wc -l < /proc/modules)")
        assert re.search(r"^modules-0\r?$", out, re.M), "modules loaded: %r" % out
        return "no module loaded or reported, marker and shell as before"

    try:
        run.check("a kernel of another version loads nothing", boot)
    finally:
        if "con" in state:
            state["con"].close()
    if run.failed_in_boot:
        show_log(log)


def boot_no_hvc0(args, run, bdir):
    """console=ttyAMA0 console=hvc0 on a board without a virtio console: the kernel falls back
    to the serial port, /init waits for hvc0 in vain, says so and stays there."""
    run.failed_in_boot = None
    log = os.path.join(bdir, "no-hvc0.log")
    state = {}

    def boot():
        state["con"] = Console(qemu_argv(args, "console=ttyAMA0 console=hvc0", os.path.join(
            args.images, "rootfs.cpio.gz"), "stdio"), log)
        before, line = marker_after(state["con"], "no hvc0")
        assert "init: console=hvc0 but no /dev/hvc0 after 20 s" in before, \
            "no word about the missing hvc0: %r" % before[-500:]
        out = shell(state["con"], "tty")
        assert "/dev/ttyAMA0" in out, "shell on %r" % out
        return "said so after 20 s, marker and shell on the serial port"

    try:
        run.check("console=hvc0 without a virtio console: fallback", boot)
    finally:
        if "con" in state:
            state["con"].close()
    if run.failed_in_boot:
        show_log(log)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="directory with linux and rootfs.cpio.gz")
    ap.add_argument("--build-dir", required=True, help="for logs and the disk image")
    ap.add_argument("--qemu", default="qemu-system-aarch64")
    args = ap.parse_args()
    os.makedirs(args.build_dir, exist_ok=True)
    missing = [p for p in ["linux", "rootfs.cpio.gz"]
               if not os.path.exists(os.path.join(args.images, p))]
    tools = [t for t in [args.qemu, "mkfs.ext4", "e2fsck", "debugfs"] if not shutil.which(t)]
    if missing or tools:
        print("SKIPPED native: %s" % ("no %s in %s" % (" ".join(missing), args.images) if missing
                                      else "not installed: " + " ".join(tools)))
        print("native hvc0: 0 passed, 0 failed, 1 skipped")
        return 0
    run = Run()
    boot_hvc0(args, run, args.build_dir)
    boot_serial(args, run, args.build_dir)
    boot_broken(args, run, args.build_dir)
    boot_other_version(args, run, args.build_dir)
    boot_no_hvc0(args, run, args.build_dir)
    p, f, s = run.results.count(True), run.results.count(False), run.results.count(None)
    print("native hvc0: %d passed, %d failed, %d skipped" % (p, f, s))
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
