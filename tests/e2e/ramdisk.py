#!/usr/bin/env python3
"""End-to-end: a VM's disk on a RAM disk built into the block server (`<block_server
ramdisk="...">`): the image (an MBR with one ext4 partition, tools/make-disk-image.py) is linked
into the server; the VM sees partition 1 as /dev/vda, mounts it, writes a file and its hash,
syncs, reboots (reboot -f), mounts again and the hash matches (the RAM disk lives as long as the
system, not the guest).
Prints one line per check and a summary; checks after a failure count as skipped."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console, Timeout  # noqa: E402
from checks import Checks  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
SYSTEM = """<?xml version="1.0" encoding="UTF-8"?>
<system>
    <memory_region name="guest_ram" size="0x10_000_000" page_size="0x200_000"
                   phys_addr="0x40_000_000" />
    <memory_region name="uart" size="0x1_000" phys_addr="0x9_000_000" />
    <memory_region name="gic_vcpu" size="0x1_000" phys_addr="0x8_040_000" />
    <block_server name="rd" ramdisk="%s" />
    <protection_domain name="VMM" priority="254">
        <program_image path="vmm.elf" />
        <map mr="guest_ram" vaddr="0x40_000_000" perms="rw" setvar_vaddr="guest_ram_vaddr" />
        <irq irq="33" id="1" />
        <virtual_machine name="linux" priority="100">
            <vcpu id="0" />
            <map mr="guest_ram" vaddr="0x40_000_000" perms="rwx" />
            <map mr="uart" vaddr="0x9_000_000" perms="rw" cached="false" />
            <map mr="gic_vcpu" vaddr="0x8_010_000" perms="rw" cached="false" />
            <virtio_blk server="rd" partition="1" />
        </virtual_machine>
    </protection_domain>
</system>
"""
PART_SECTORS = 16 * 2048


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    names = ["build with the RAM disk", "the VM boots and sees its partition",
             "writes a file and its hash", "the hash matches after a reboot"]
    checks = Checks("ramdisk", names)
    image = os.path.join(bdir, "ramdisk.img")
    system = os.path.join(bdir, "ramdisk.system")
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "SYSTEM_FILE=" + system]
    log = os.path.join(bdir, "build.log")

    def build():
        if os.path.exists(image):
            os.unlink(image)
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/make-disk-image.py"), "--out",
                        image, "--partitions", "1", "--partition-mib", "16", "--label",
                        "1=linux"], check=True, stdout=subprocess.DEVNULL)
        with open(system, "w") as f:
            f.write(SYSTEM % image)
        with open(log, "w") as f:
            subprocess.run(make + ["all"], stdout=f, stderr=subprocess.STDOUT, check=True)
        qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                              check=True).stdout
        assert "-drive" not in qemu, "a RAM disk needs no QEMU drive: %s" % qemu
        return "%d MiB image in rd.elf (%d MiB)" % (os.path.getsize(image) >> 20,
                                                   os.path.getsize(os.path.join(bdir, "rd.elf"))
                                                   >> 20)
    if not checks.run("build with the RAM disk", build):
        print("     build log kept: %s" % log)
        return checks.summary()
    qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    qlog = os.path.join(bdir, "qemu.log")
    con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], qlog)
    state = {}

    def run(cmd, timeout=120):
        """Run `cmd` in the guest: its output, once it exited 0. The shell computes the end
        marker, so the echo of the command line is not it."""
        token = "%08x" % (hash(cmd) & 0xffffffff)
        con.send("%s; echo end-$((6*7))-%s-$?\n" % (cmd, token))
        text = con.expect("end-42-%s-" % token, timeout)
        status = con.expect("\n", 10).strip()
        assert status == "0", "`%s` exited %s: %s" % (cmd, status, text[-300:])
        return text

    try:
        def boot():
            con.expect(MARKER, 240)
            out = con.output()
            assert re.search(r"blk_server rd: ramdisk, \d+ sectors", out), "no server line"
            assert "client 'linux': partition 1, sectors 2048..34815" in out, "no range line"
            # A RAM disk cannot reach guest RAM: every byte is copied through the data region.
            assert re.search(r"blk-[a-z]+@0x[0-9a-f]+: disk of \d+ sectors[^\r\n]*, data copied",
                             out), "the VMM does not say the data is copied"
            size = run("cat /sys/block/vda/size")
            assert str(PART_SECTORS) in size, size
            return "blk_server rd: client 'linux': partition 1, data copied"
        checks.run("the VM boots and sees its partition", boot)

        def write():
            run("mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d")
            run("dd if=/dev/urandom of=/mnt/d/f bs=64k count=64 2>/dev/null")
            text = run("sha256sum /mnt/d/f | tee /mnt/d/f.sha256; sync")
            m = re.search(r"\b([0-9a-f]{64})\s+/mnt/d/f", text)
            assert m, text
            state["hash"] = m.group(1)
            return "sha256 " + state["hash"][:16] + "..."
        checks.run("writes a file and its hash", write)

        def reboot():
            con.send("reboot -f\n")
            con.expect("psci: guest requested a reset", 30)
            con.expect(MARKER, 240)
            run("mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d")
            text = run("sha256sum /mnt/d/f; cat /mnt/d/f.sha256")
            hashes = re.findall(r"\b([0-9a-f]{64})\s+/mnt/d/f\b", text)
            assert hashes[-2:] == [state["hash"]] * 2, (hashes, state["hash"])
            return "sha256 matches"
        checks.run("the hash matches after a reboot", reboot)
    except Timeout as e:
        print("     %s" % e)
    finally:
        con.close()
    if not all(checks.results):
        print("     QEMU log kept: %s" % qlog)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
