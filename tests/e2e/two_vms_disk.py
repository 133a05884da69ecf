#!/usr/bin/env python3
"""End-to-end: two Linux VMs with a disk each (board/qemu_virt_aarch64/systems/two_vms_disk.system):
partition 1 and 2 of one virtio-blk disk on QEMU, served by the block server PD, reached through
each VM's virtio-blk. The build makes the disk image (an MBR with two ext4 partitions).

  - both VMs boot and see a disk of their partition's size;
  - linux1 mounts its disk, writes 32 MiB of random data and its sha256, syncs, reboots (reboot -f)
    while linux2 keeps answering, mounts again: the hash matches;
  - linux2 writes a file of its own and reads back only what it wrote (not linux1's file);
  - linux1 writing past the end of its disk gets an I/O error; linux2's file is intact after it;
  - after QEMU stops, on the host: e2fsck -fn finds both file systems clean; partition 1 holds
    linux1's file with its hash; no 4 KiB piece of it is anywhere in partition 2, which holds
    linux2's file only.
Prints one line per check and a summary; checks after a failure count as skipped."""
import argparse
import hashlib
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from checks import Checks  # noqa: E402
from mux_guests import Guests  # noqa: E402
from qemu_console import Console  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
VMS = {"linux1": 1, "linux2": 2}  # name: mux client number
PART_SECTORS = 262144  # 128 MiB partitions (tools/make-disk-image.py, the system file)


def partitions(image):
    with open(image, "rb") as f:
        mbr = f.read(512)
    assert mbr[510:512] == b"\x55\xaa", "the disk image has no MBR"
    parts = []
    for i in range(4):
        _, _, ptype, _, start, count = struct.unpack_from("<B3sB3sII", mbr, 446 + 16 * i)
        if ptype:
            parts.append((start * 512, count * 512))
    return parts


def extract(image, part, out):
    start, size = part
    with open(image, "rb") as src, open(out, "wb") as dst:
        src.seek(start)
        left = size
        while left:
            block = src.read(min(left, 1 << 22))
            assert block, "the disk image is shorter than its partition table says"
            dst.write(block)
            left -= len(block)


def tool(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def debugfs(image, request):
    return subprocess.run([tool("debugfs"), "-R", request, image], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--config", default="debug")
    ap.add_argument("--system", default="two_vms_disk.system")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "CONFIG=" + args.config, "SYSTEM=" + args.system]
    names = ["build and disk image", "both VMs boot and see their disks",
             "linux1 writes 32 MiB and its hash", "linux2 writes and reads back its own file",
             "linux1 reboots while linux2 answers", "linux1's data survives its reboot",
             "linux1 writing past its disk gets an I/O error", "linux2 is unaffected",
             "both file systems clean (e2fsck -fn)", "each partition holds its own VM's data only"]
    checks = Checks("two_vms_disk", names)
    log = os.path.join(bdir, "build.log")
    image = os.path.join(bdir, "disk.img")

    def build():
        if os.path.exists(image):
            os.unlink(image)  # a fresh disk every run
        with open(log, "w") as f:
            subprocess.run(make + ["all", "disks"], stdout=f, stderr=subprocess.STDOUT, check=True)
        with open(os.path.join(bdir, "system.xml")) as f:
            text = f.read()
        assert 'protection_domain name="disk"' in text, "the build added no block server PD"
        assert len(partitions(image)) == 2, "the disk image does not have two partitions"
        return "%d MiB image" % (os.path.getsize(image) >> 20)
    if not checks.run("build and disk image", build):
        print("     build log kept: %s" % log)
        return checks.summary()

    qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    assert image in qemu[qemu.index("-drive") + 1], "qemu-cmd does not give QEMU the disk image"
    qlog = os.path.join(bdir, "qemu.log")
    con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], qlog)
    g = Guests(con, VMS)
    state = {}
    try:
        def boot():
            for vm in VMS:
                g.wait_for(r"\[%s\] %s: [^\r\n]*\r?\n" % (vm, MARKER), 240)
                m = g.wait_for(r"\[vm %s\] virtio: blk-disk@0x[0-9a-f]+: disk of (\d+) sectors"
                               r"([^\r\n]*)" % vm, 10)
                assert int(m.group(1)) == PART_SECTORS, "%s: %s sectors" % (vm, m.group(1))
                # The block server's QEMU device takes direct requests: no data is copied.
                assert "data by DMA in guest RAM" in m.group(2), "%s: %r" % (vm, m.group(2))
                size = g.run(vm, "cat /sys/block/vda/size")
                assert size == [str(PART_SECTORS)], "%s: /dev/vda is %r sectors" % (vm, size)
            return "both see %d sectors, data by DMA in guest RAM" % PART_SECTORS
        checks.run("both VMs boot and see their disks", boot)

        def write1():
            g.run("linux1", "mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d")
            g.run("linux1", "dd if=/dev/urandom of=/mnt/d/rand bs=1M count=32 2>/dev/null",
                  timeout=300)
            lines = g.run("linux1", "sha256sum /mnt/d/rand | tee /mnt/d/rand.sha256", timeout=120)
            m = re.search(r"\b([0-9a-f]{64})\s+/mnt/d/rand", " ".join(lines))
            assert m, "no hash printed: %r" % lines
            state["hash"] = m.group(1)
            g.run("linux1", "sync", timeout=120)
            return "sha256 " + state["hash"][:16] + "..."
        checks.run("linux1 writes 32 MiB and its hash", write1)

        def write2():
            state["token"] = "linux2-%08x" % random.getrandbits(32)
            g.run("linux2", "mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d")
            g.run("linux2", "echo %s > /mnt/d/mine && sync && echo 3 > /proc/sys/vm/drop_caches"
                  % state["token"])
            lines = g.run("linux2", "ls /mnt/d; cat /mnt/d/mine")
            assert state["token"] in lines, "linux2 did not read back its file: %r" % lines
            assert not any("rand" in line for line in lines), "linux2 sees %r" % lines
            return "read back %s; its disk holds %s" % (state["token"], " ".join(lines[:-1]))
        checks.run("linux2 writes and reads back its own file", write2)

        def reboot():
            g.focus("linux1")
            since = len(g.output())
            con.send("reboot -f\n")
            g.wait_for(r"\[vm linux1\] psci: guest requested a reset", 30, since)
            lines = g.run("linux2", "cat /mnt/d/mine")  # while linux1 boots again
            assert lines == [state["token"]], "linux2 answered %r" % lines
            g.wait_for(r"\[linux1\] %s: [^\r\n]*\r?\n" % MARKER, 240, since)
            return "linux2 read its file meanwhile"
        checks.run("linux1 reboots while linux2 answers", reboot)

        def survives():
            g.run("linux1", "mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d")
            lines = g.run("linux1", "sha256sum /mnt/d/rand; cat /mnt/d/rand.sha256", timeout=120)
            hashes = re.findall(r"\b([0-9a-f]{64})\s+/mnt/d/rand", " ".join(lines))
            assert hashes == [state["hash"]] * 2, "hashes after reboot: %r, before: %s" % (
                hashes, state["hash"])
            return "sha256 matches"
        checks.run("linux1's data survives its reboot", survives)

        def past_end():
            status, lines = g.run("linux1", "dd if=/dev/zero of=/dev/vda bs=512 seek=%d count=8 "
                                  "conv=notrunc oflag=direct" % PART_SECTORS,
                                  expect_status=None)
            assert status != 0, "dd past the end succeeded: %r" % lines
            text = " ".join(lines)
            assert re.search(r"No space left|I/O error|Invalid argument", text), text
            return "dd: " + text[-80:]
        checks.run("linux1 writing past its disk gets an I/O error", past_end)

        def unaffected():
            lines = g.run("linux2", "echo 3 > /proc/sys/vm/drop_caches; cat /mnt/d/mine")
            assert lines == [state["token"]], "linux2 now reads %r" % lines
            for vm in VMS:
                g.run(vm, "umount /mnt/d && sync", timeout=120)
            return "linux2 still reads its file; both unmounted"
        checks.run("linux2 is unaffected", unaffected)
    finally:
        con.close()

    work = tempfile.TemporaryDirectory()
    parts = []

    def fsck():
        for i, part in enumerate(partitions(image)):
            path = os.path.join(work.name, "part%d.img" % (i + 1))
            extract(image, part, path)
            res = subprocess.run([tool("e2fsck"), "-fn", path], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            assert res.returncode == 0, "partition %d: e2fsck -fn exit %d:\n%s" % (
                i + 1, res.returncode, res.stdout[-2000:])
            parts.append(path)
        return "partition 1 and 2 clean"
    checks.run("both file systems clean (e2fsck -fn)", fsck)

    def separation():
        rand = os.path.join(work.name, "rand")
        debugfs(parts[0], "dump /rand %s" % rand)
        with open(rand, "rb") as f:
            data = f.read()
        assert len(data) == 32 << 20, "partition 1's /rand is %d bytes" % len(data)
        assert hashlib.sha256(data).hexdigest() == state["hash"], "partition 1's /rand differs"
        listing = debugfs(parts[1], "ls -l /").decode()
        assert "mine" in listing and "rand" not in listing, listing
        mine = os.path.join(work.name, "mine")
        debugfs(parts[1], "dump /mine %s" % mine)
        with open(mine) as f:
            assert f.read().strip() == state["token"]
        with open(parts[1], "rb") as f:
            other = f.read()
        pieces = [data[k:k + 4096] for k in range(0, len(data), len(data) // 64)]
        found = [k for k, p in enumerate(pieces) if p in other]
        assert not found, "pieces %s of linux1's data are in partition 2" % found[:5]
        return "64 pieces of linux1's file looked for in partition 2: none there"
    checks.run("each partition holds its own VM's data only", separation)
    work.cleanup()
    if not all(checks.results):
        print("     QEMU log kept: %s; disk image: %s" % (qlog, image))
        for line in g.output()[-3000:].splitlines()[-25:]:
            print("     | " + line)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
