#!/usr/bin/env python3
"""End-to-end: two Linux VMs on one PL011 (board/qemu_virt_aarch64/systems/two_vms.system), each
with a virtio console served by the serial multiplexer. Both boot to their markers; a fresh token
typed into each (switching the input with Ctrl-\\ N) is echoed by that guest only; one reboots
while the other keeps answering; one powers off while the other keeps answering. Prints one line
per check and a summary; later checks after a failure are counted as skipped."""
import argparse
import os
import random
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from checks import Checks  # noqa: E402
from mux_guests import Guests  # noqa: E402
from qemu_console import Console  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
VMS = {"linux1": (1, 1), "linux2": (2, 2)}  # name: (mux client number, vCPUs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--config", default="debug")
    ap.add_argument("--system", default="two_vms.system")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "CONFIG=" + args.config, "SYSTEM=" + args.system]
    names = ["build", "both VMs boot to their markers", "input to linux1 only",
             "input to linux2 only", "linux1 reboots while linux2 answers",
             "linux1 answers after its reboot", "linux2 powers off while linux1 answers"]
    checks = Checks("two_vms", names)
    log = os.path.join(bdir, "build.log")

    def build():
        with open(log, "w") as f:
            subprocess.run(make + ["all"], stdout=f, stderr=subprocess.STDOUT, check=True)
        with open(os.path.join(bdir, "system.xml")) as f:
            text = f.read()
        for pd in ("serial_mux", "timer"):
            assert 'protection_domain name="%s"' % pd in text, "the build added no %s PD" % pd
    if not checks.run("build", build):
        print("     build log kept: %s" % log)
        return checks.summary()

    qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    qlog = os.path.join(bdir, "qemu.log")
    con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], qlog)

    guests = Guests(con, {vm: n for vm, (n, _) in VMS.items()})
    output, wait_for, focus = guests.output, guests.wait_for, guests.focus

    def ask(vm, timeout=30):
        """Type a command computing a fresh token into `vm`; the answer must come from it."""
        token = "%08x" % random.getrandbits(32)
        focus(vm)
        since = len(output())
        con.send("echo tok-$((6*7))-%s\n" % token)
        m = wait_for(r"\[(\w+)\] [^\n]*tok-42-%s" % token, timeout, since)
        assert m.group(1) == vm, "the answer came from %s, not %s" % (m.group(1), vm)
        for other in VMS:
            if other != vm:
                assert not re.search(r"\[%s\] [^\n]*tok-42-%s" % (other, token),
                                     output()[since:]), "%s answered too" % other
        return token

    try:
        def boot():
            for vm, (_, cpus) in VMS.items():
                m = wait_for(r"\[%s\] %s: ([^\r\n]*)\r?\n" % (vm, MARKER), 240)
                assert "%d cpu(s)" % cpus in m.group(1), "%s reports %r" % (vm, m.group(1))
        checks.run("both VMs boot to their markers", boot)
        checks.run("input to linux1 only", lambda: "token " + ask("linux1"))
        checks.run("input to linux2 only", lambda: "token " + ask("linux2"))

        def reboot():
            focus("linux1")
            since = len(output())
            con.send("reboot -f\n")
            wait_for(r"\[vm linux1\] psci: guest requested a reset", 30, since)
            token = ask("linux2")  # while linux1 boots again
            wait_for(r"\[linux1\] %s: " % MARKER, 240, since)
            return "linux2 answered %s meanwhile" % token
        checks.run("linux1 reboots while linux2 answers", reboot)
        checks.run("linux1 answers after its reboot", lambda: "token " + ask("linux1"))

        def poweroff():
            focus("linux2")
            since = len(output())
            con.send("poweroff -f\n")
            wait_for(r"\[vm linux2\] psci: guest powered off", 30, since)
            return "then linux1 answered " + ask("linux1")
        checks.run("linux2 powers off while linux1 answers", poweroff)
    finally:
        con.close()
    if not all(checks.results):
        print("     QEMU log kept: %s" % qlog)
        for line in output()[-3000:].splitlines()[-25:]:
            print("     | " + line)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
