#!/usr/bin/env python3
"""End-to-end: build an example (make EXAMPLE=<name>) and boot it in QEMU, waiting for the lines
it promises (each --expect, in order) and the Linux guest's marker. Prints one line per check."""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console, Timeout  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--example", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--images", help="IMAGE_DIR for the guest (default: the build's own)")
    ap.add_argument("--expect", action="append", default=[], help="a line to wait for")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "EXAMPLE=" + args.example] + (["IMAGE_DIR=" + args.images] if args.images else [])
    results = []

    def result(ok, name, detail=""):
        results.append(ok)
        print("%s example %s: %s %s" % ("ok  " if ok else "FAIL", args.example, name, detail),
              flush=True)

    log = os.path.join(bdir, "build.log")
    with open(log, "w") as f:
        built = subprocess.run(make + ["all"], stdout=f, stderr=subprocess.STDOUT).returncode == 0
    result(built, "builds", "" if built else "(log kept: %s)" % log)
    if built:
        qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                              check=True).stdout.split()
        qlog = os.path.join(bdir, "qemu.log")
        con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], qlog)
        try:
            for line in args.expect + ["SEL4VMM-GUEST-READY"]:
                try:
                    con.expect(line, 90)
                    result(True, "prints %r" % line)
                except Timeout as e:
                    result(False, "prints %r" % line, "%s (QEMU log kept: %s)" % (e, qlog))
                    break
        finally:
            con.close()
    missing = len(args.expect) + 2 - len(results)
    for _ in range(missing):
        print("SKIPPED example %s: a later check, not run after a failure" % args.example)
    p = sum(results)
    print("e2e example %s: %d passed, %d failed, %d skipped" %
          (args.example, p, len(results) - p, missing))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
