#!/usr/bin/env python3
"""End-to-end: the bare-metal test guest (tests/guest) under the VMM, 3 vCPUs, raw-binary boot.
It resets itself 20 times through PSCI, then checks HVC/SMC with unknown IDs, aborts on unmapped
addresses, LDP on an emulated register (no syndrome), WFI with and without a timer, the EL1
physical timer (INTID 30, shared with the VMM's wake-ups), PSCI CPU_ON (including two callers
racing) and powers off. With --bench it also prints exit costs."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console, Timeout  # noqa: E402

RESETS = 20


def build(bdir, sdk, config, probe=""):
    """Build the guest (PROBE=`probe` builds an opt-in probe instead of the checks) and the
    system image around it; (ok, build log)."""
    images = os.path.join(bdir, "guest")
    subprocess.run(["make", "-s", "-B", "-C", os.path.join(ROOT, "tests/guest"), "OUT=" + images,
                    "PROBE=" + probe], check=True, stdout=subprocess.DEVNULL)
    os.replace(os.path.join(images, "guest.bin"), os.path.join(images, "linux"))
    log = os.path.join(bdir, "build.log")
    with open(log, "w") as f:
        r = subprocess.run(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                            "CONFIG=" + config, "SYSTEM=baremetal.system", "GUEST_PROTOCOL=raw",
                            "GUEST_LOAD_ADDR=0x40080000", "IMAGE_DIR=" + images, "all"],
                           stdout=f, stderr=subprocess.STDOUT)
    return r.returncode == 0, log


def run(bdir, sdk, config):
    qemu = subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                           "qemu-cmd"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    # -icount shift=0: one instruction per nanosecond, so counter ticks count instructions.
    log = os.path.join(bdir, "qemu.log")
    con = Console(qemu + ["-icount", "shift=0", "-display", "none", "-monitor", "none",
                          "-serial", "stdio"], log)
    try:
        out = con.expect("baremetal: done", 240)
        if config == "debug":  # a release VMM prints nothing
            out += con.expect("guest powered off", 20)
    finally:
        con.close()
    return out, log


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--config", default="debug")
    ap.add_argument("--bench", action="store_true", help="print the exit-cost figures")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    results = []

    def result(ok, name, detail=""):
        results.append(ok)
        print("%s baremetal %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)

    ok, blog = build(bdir, args.sdk, args.config)
    result(ok, "build (raw binary, 3 vCPUs)", "" if ok else "log kept: " + blog)
    if ok:
        try:
            out, log = run(bdir, args.sdk, args.config)
        except Timeout as e:
            out, log = None, os.path.join(bdir, "qemu.log")
            result(False, "run to power-off", "%s; QEMU log kept: %s" % (e, log))
        if out is not None:
            boots = [int(n) for n in re.findall(r"baremetal: boot (\d+)", out)]
            result(boots == list(range(1, RESETS + 2)), "%d resets in a row" % RESETS,
                   "boots seen: %s" % boots[-3:])
            vmm_logs = args.config == "debug"
            lines = [re.sub(r"#\d+", "#N", l) for l in re.findall(r"boot: boot #\d+:[^\r\n]*", out)]
            stats = [re.sub(r"#\d+", "#N", l) for l in re.findall(r"vm: boot #\d+ took[^\r\n]*", out)]
            if vmm_logs:
                result(len(set(lines)) == 1 and len(lines) == RESETS + 1,
                       "every boot loads the same images", lines[0] if lines else "")
                result(len(set(stats[:RESETS])) == 1 and len(stats) == RESETS + 1,
                       "every reset boot takes the same exits (nothing grows)",
                       stats[0] if stats else "")
            for name, verdict in re.findall(r"check (\w+): (ok|FAIL[^\r\n]*)", out):
                result(verdict == "ok", name, "" if verdict == "ok" else verdict)
            result("baremetal: done" in out, "guest finished its checks")
            if args.bench:
                for name, mt, freq in re.findall(r"bench (\w+): (\d+) millitick/op, counter (\d+)",
                                                 out):
                    insns = int(mt) / 1000 * 1e9 / int(freq)
                    print("bench %-16s %8.0f instructions per operation (%s)" %
                          (name, insns, args.config))
            if not all(results):
                print("     QEMU log kept: %s" % log)
    p = sum(results)
    print("e2e baremetal: %d passed, %d failed" % (p, len(results) - p))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
