#!/usr/bin/env python3
"""What zlib says, for the host tests of src/core/inflate.c to compare against.

Writes into --out: for each crafted fixture tests/host/data/inflate-NAME.gz, zlib's inflated
bytes as inflate-NAME.raw; with --kernel, linux.gz, the kernel image compressed by zlib (level
9), whose inflated bytes must be the image itself. Files already newer than their input are kept.
"""
import argparse
import glob
import gzip
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stale(out, src):
    return not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src)


def write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--kernel", help="a raw kernel image to compress")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for src in sorted(glob.glob(os.path.join(ROOT, "tests/host/data/inflate-*.gz"))):
        out = os.path.join(args.out, os.path.basename(src)[:-3] + ".raw")
        if stale(out, src) or stale(out, __file__):
            with open(src, "rb") as f:
                write(out, gzip.decompress(f.read()))
    if args.kernel:
        out = os.path.join(args.out, "linux.gz")
        if stale(out, args.kernel) or stale(out, __file__):
            with open(args.kernel, "rb") as f:
                image = f.read()
            packed = gzip.compress(image, compresslevel=9, mtime=0)
            if gzip.decompress(packed) != image:
                sys.exit("zlib_reference: zlib does not give the image back")
            write(out, packed)
            print("zlib_reference: %s (%d bytes) compressed to %s (%d bytes)" %
                  (args.kernel, len(image), out, len(packed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
