#!/usr/bin/env python3
"""End-to-end: boot the example Linux system on seL4 in QEMU, use its console, reboot it through
PSCI SYSTEM_RESET, power it off through SYSTEM_OFF. Prints one line per check and a summary."""
import argparse
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu_console import Console, Timeout  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
PROMPT = "guest# "


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--board", default="qemu_virt_aarch64")
    ap.add_argument("--config", default="debug")
    ap.add_argument("--system", default="simple.system")
    args = ap.parse_args()
    global ARGS
    ARGS = args

    results = []

    def check(name, fn):
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            results.append(True)
            print("ok   e2e %s (%.1fs) %s" % (name, time.monotonic() - t0, detail), flush=True)
            return True
        except (Timeout, subprocess.CalledProcessError, AssertionError) as e:
            results.append(False)
            print("FAIL e2e %s: %s" % (name, e), flush=True)
            return False

    bdir = args.build_dir
    os.makedirs(bdir, exist_ok=True)
    build_log = os.path.join(bdir, "e2e-build.log")

    def build():
        with open(build_log, "w") as log:
            subprocess.run(["make", "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
                            "BOARD=" + args.board, "CONFIG=" + args.config,
                            "SYSTEM=" + args.system, "all"],
                           stdout=log, stderr=subprocess.STDOUT, check=True)

    if not check("build %s %s %s" % (args.board, args.config, args.system), build):
        print("     build log kept: %s" % build_log)
        return summary(results)

    log_path = os.path.join(bdir, "e2e-qemu.log")
    qemu = subprocess.run(["make", "-s", "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
                           "BOARD=" + args.board, "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], log_path)
    try:
        ok = check("boot to marker", lambda: con.expect(MARKER, 90) and con.expect(PROMPT, 20)
                   and None)
        if ok:
            token = "%08x" % random.getrandbits(32)

            def echo():
                # The shell computes part of the answer, so the tty's echo of what was typed
                # cannot satisfy the check.
                con.send("echo e2e-$((6*7))-%s\n" % token)
                con.expect("e2e-42-%s" % token, 20)
                con.expect(PROMPT, 10)
                return "token %s" % token
            ok = check("console echo", echo)
        if ok:
            def sleep_one():
                # WFI sleeps until the guest's timer: sleep 1 must still take about a second.
                t0 = time.monotonic()
                con.send("sleep 1; echo slept-$((2+3))\n")
                con.expect("slept-5", 10)
                took = time.monotonic() - t0
                assert 0.95 <= took < 1.8, "sleep 1 took %.2fs" % took
                return "%.2fs" % took
            ok = check("guest sleep 1 takes about a second", sleep_one)
        if ok:
            def reboot():
                con.send("reboot -f\n")
                con.expect("guest requested a reset", 20)
                con.expect(MARKER, 90)
                con.expect(PROMPT, 20)
            ok = check("reboot (PSCI SYSTEM_RESET) reaches the marker again", reboot)
        if ok:
            def echo_again():
                con.send("echo again-$((7*7))\n")
                con.expect("again-49", 20)
            ok = check("console works after reboot", echo_again)
        if ok:
            def poweroff():
                con.send("poweroff -f\n")
                con.expect("guest powered off", 20)
            check("poweroff (PSCI SYSTEM_OFF) reported by the VMM", poweroff)
    finally:
        con.close()
    if not all(results):
        print("     QEMU log kept: %s" % log_path)
        with open(log_path, "rb") as f:
            tail = f.read()[-3000:].decode("utf-8", "replace")
        print("     --- last lines of the QEMU log ---")
        for line in tail.splitlines()[-25:]:
            print("     | " + line)
    return summary(results)


def summary(results):
    p = sum(results)
    f = len(results) - p
    print("e2e linux (%s): %d passed, %d failed" % (ARGS.board, p, f))
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
