#!/usr/bin/env python3
"""Make the disk image QEMU gives a block server (tools/vmm-system.py says its layout): an MBR
with partitions 1..N of the same size, each an ext4 file system made by mkfs.ext4 (labelled with
the name of the VM that uses it), and at least --min-bytes in all (for clients given a range of
sectors rather than a partition). An existing image is never touched: it holds someone's data."""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

MIB = 1 << 20
FIRST = MIB  # the first partition starts at 1 MiB, as partitioning tools put it


def mkfs_ext4():
    for d in (None, "/usr/sbin", "/sbin"):
        path = shutil.which("mkfs.ext4", path=d) if d else shutil.which("mkfs.ext4")
        if path:
            return path
    sys.exit("make-disk-image: error: mkfs.ext4 not found (Debian package e2fsprogs)")


def mbr(partitions, part_bytes):
    table = bytearray(512)
    for i in range(partitions):
        start = (FIRST + i * part_bytes) // 512
        entry = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", start, part_bytes // 512)
        table[446 + 16 * i:446 + 16 * (i + 1)] = entry
    table[510:512] = b"\x55\xaa"
    return bytes(table)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--partitions", type=int, default=0)
    ap.add_argument("--partition-mib", type=int, default=128)
    ap.add_argument("--min-bytes", type=int, default=0)
    ap.add_argument("--label", action="append", default=[], help="N=NAME: partition N's label")
    args = ap.parse_args()
    if os.path.exists(args.out):
        print("make-disk-image: %s exists: kept as it is (delete it for a fresh one)" % args.out)
        return
    if args.partitions > 4:
        sys.exit("make-disk-image: error: an MBR holds 4 partitions; %d asked for" %
                 args.partitions)
    labels = dict(item.split("=", 1) for item in args.label)
    part_bytes = args.partition_mib * MIB
    size = max(FIRST + args.partitions * part_bytes if args.partitions else 0, args.min_bytes,
               MIB)
    size = (size + MIB - 1) // MIB * MIB
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as img:
        img.truncate(size)
        if args.partitions:
            img.write(mbr(args.partitions, part_bytes))
        for i in range(args.partitions):
            with tempfile.NamedTemporaryFile(dir=os.path.dirname(os.path.abspath(args.out))) as p:
                p.truncate(part_bytes)
                p.flush()
                cmd = [mkfs_ext4(), "-q", "-F", "-E", "root_owner=0:0"]
                if str(i + 1) in labels:
                    cmd += ["-L", labels[str(i + 1)][:16]]
                subprocess.run(cmd + [p.name], check=True)
                p.seek(0)
                img.seek(FIRST + i * part_bytes)
                while True:
                    block = p.read(4 * MIB)
                    if not block:
                        break
                    if block.count(0) != len(block):
                        img.write(block)
                    else:
                        img.seek(len(block), os.SEEK_CUR)  # keep the image sparse
    os.replace(tmp, args.out)
    print("make-disk-image: %s: %d MiB, %d ext4 partition(s) of %d MiB" %
          (args.out, size // MIB, args.partitions, args.partition_mib))


if __name__ == "__main__":
    main()
