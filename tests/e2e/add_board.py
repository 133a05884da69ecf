#!/usr/bin/env python3
"""Adding a board is data: in a scratch copy of the repository, add a board that did not exist
(a QEMU virt machine with 1 GiB and 2 CPUs, its DTB dumped from QEMU here) with only board.mk,
a DTS and a system file; build it and boot it to the guest's marker line. No C file is touched."""
import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console, Timeout  # noqa: E402

MACHINE = "virt,virtualization=on,highmem=off,secure=off"

BOARD_MK = """# A board added as data only (tests/e2e/add_board.py).
MICROKIT_BOARD := qemu_virt_aarch64
BOARD_DTS := board.dts
GIC_LRS := 4
QEMU_MACHINE := %s
QEMU_CPU := cortex-a53
QEMU_MEM := 2G
LOADER_ADDR := 0x70000000
""" % MACHINE

# 128 MiB of guest RAM seen at 0x48000000, 2 vCPUs, the UART and the vCPU interface.
SYSTEM = """<?xml version="1.0" encoding="UTF-8"?>
<system>
    <memory_region name="ram" size="0x8_000_000" page_size="0x200_000" />
    <memory_region name="console" size="0x1_000" phys_addr="0x9_000_000" />
    <memory_region name="vgic_cpu" size="0x1_000" phys_addr="0x8_040_000" />
    <protection_domain name="VMM" priority="254">
        <program_image path="vmm.elf" />
        <map mr="ram" vaddr="0x20_000_000" perms="rw" setvar_vaddr="guest_ram_vaddr" />
        <irq irq="33" id="5" />
        <irq irq="30" id="6" />
        <virtual_machine name="fifth" priority="100">
            <vcpu id="0" />
            <vcpu id="1" />
            <map mr="ram" vaddr="0x48_000_000" perms="rwx" />
            <map mr="console" vaddr="0x9_000_000" perms="rw" cached="false" />
            <map mr="vgic_cpu" vaddr="0x8_010_000" perms="rw" cached="false" />
        </virtual_machine>
    </protection_domain>
</system>
"""


def c_sources_touched(work, files, build_dir):
    """C sources of the scratch copy that differ from the ones copied in, or were added."""
    copied = set(f for f in files if f.endswith((".c", ".h")))
    touched = [f for f in sorted(copied)
               if not filecmp.cmp(os.path.join(ROOT, f), os.path.join(work, f), shallow=False)]
    for top, dirs, names in os.walk(work):
        if os.path.abspath(top).startswith(os.path.abspath(build_dir)):
            continue
        for n in names:
            rel = os.path.relpath(os.path.join(top, n), work)
            if n.endswith((".c", ".h")) and rel not in copied:
                touched.append(rel)
    return touched


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--images", required=True, help="directory with linux and rootfs.cpio.gz")
    args = ap.parse_args()
    args.images = os.path.abspath(args.images)
    results = []
    work = tempfile.mkdtemp(prefix="add-board-")
    log = os.path.join(work, "qemu.log")
    try:
        files = subprocess.run(["git", "-C", ROOT, "ls-files"], stdout=subprocess.PIPE,
                               text=True, check=True).stdout.split()
        for f in files:
            os.makedirs(os.path.join(work, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(work, f))
        bdir = os.path.join(work, "board/fifth_board")
        os.makedirs(os.path.join(bdir, "systems"))
        dtb = os.path.join(work, "fifth.dtb")
        subprocess.run(["qemu-system-aarch64", "-machine", MACHINE + ",dumpdtb=" + dtb, "-cpu",
                        "cortex-a53", "-m", "1G", "-smp", "2", "-nographic"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", "-o",
                        os.path.join(bdir, "board.dts"), dtb], check=True)
        with open(os.path.join(bdir, "board.mk"), "w") as f:
            f.write(BOARD_MK)
        with open(os.path.join(bdir, "systems/fifth.system"), "w") as f:
            f.write(SYSTEM)
        out = os.path.join(work, "build")
        build = subprocess.run(["make", "-C", work, "BUILD_DIR=" + out, "BOARD=fifth_board",
                                "SYSTEM=fifth.system",
                                "MICROKIT_SDK=" + args.sdk, "IMAGE_DIR=" + args.images, "all"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ok = build.returncode == 0
        results.append(ok)
        print("%s add-board: build of a board made of board.mk, a DTS and a system file" %
              ("ok  " if ok else "FAIL"))
        if not ok:
            print("\n".join("     | " + l for l in build.stdout.splitlines()[-15:]))
        changed = c_sources_touched(work, files, out)
        results.append(not changed)
        print("%s add-board: no C source changed%s" % ("ok  " if not changed else "FAIL",
                                                       ": " + " ".join(changed) if changed else ""))
        if ok:
            qemu = subprocess.run(["make", "-s", "-C", work, "BUILD_DIR=" + out,
                                   "BOARD=fifth_board", "SYSTEM=fifth.system",
                                   "MICROKIT_SDK=" + args.sdk, "qemu-cmd"],
                                  stdout=subprocess.PIPE, text=True, check=True).stdout.split()
            con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], log)
            try:
                line = con.expect("SEL4VMM-GUEST-READY", 90) + con.expect("\n", 5)
                ok = "2 cpu(s)" in line
                results.append(ok)
                print("%s add-board: the new board boots Linux with 2 CPUs and 128 MiB at "
                      "0x48000000" % ("ok  " if ok else "FAIL"))
            except Timeout as e:
                results.append(False)
                print("FAIL add-board: boot: %s (log %s)" % (e, log))
            finally:
                con.close()
    finally:
        if all(results):
            shutil.rmtree(work, ignore_errors=True)
    p = sum(results)
    print("add-board: %d passed, %d failed" % (p, len(results) - p))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
