#!/usr/bin/env python3
"""Benchmark (not a test): the network of two_vms_net.system on QEMU. Prints
  - VM -> VM TCP throughput: 16 MiB from /dev/zero through busybox nc (linux1 -> linux2), timed
    by the guest (`time`), in MiB/s;
  - ping round-trip times VM -> VM and VM -> echo PD (busybox ping, 20 each);
  - UDP round-trip time VM -> echo PD (udp_ping, 20 datagrams);
  - under -icount (the default: `-icount shift=0,sleep=off`, one instruction per nanosecond of
    guest time), every figure is also instructions: a round trip's microseconds are thousands of
    instructions, and the transfer's time over the frames both guests sent (TCP segments, from
    /proc/net/snmp) is the whole system's instructions per frame (guests, VMMs, switch, seL4).
The VMM's and the switch's own share per frame is bench/net_cost.sh's (callgrind, host build).
With --realtime QEMU runs at its own pace (figures then depend on the host and its load).
Never fails on timing; exits non-zero only if the system could not be built or booted."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console  # noqa: E402
from mux_guests import Guests  # noqa: E402
from two_vms_net import VMS, free_port, guest_images, system_file  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdk", default="/opt/microkit-sdk-2.0.1")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench-net"))
    ap.add_argument("--config", default="release")
    ap.add_argument("--realtime", action="store_true", help="no -icount")
    ap.add_argument("--mib", type=int, default=16)
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    images = guest_images(bdir)
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "CONFIG=" + args.config, "SYSTEM_FILE=" + system_file(bdir, free_port()),
            "IMAGE_DIR=" + images]
    with open(os.path.join(bdir, "build.log"), "w") as f:
        subprocess.run(make + ["all"], stdout=f, stderr=subprocess.STDOUT, check=True)
    qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    if not args.realtime:
        qemu += ["-icount", "shift=0,sleep=off"]
    con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"],
                  os.path.join(bdir, "qemu.log"))
    n = [0]
    guests = Guests(con, VMS)
    output, wait_for = guests.output, guests.wait_for

    def sh(vm, cmd, timeout=120):
        guests.focus(vm)
        n[0] += 1
        since = len(output())
        sep = " " if cmd.rstrip().endswith("&") else "; "
        con.send("%s%secho ==$((40+2))-%d==\n" % (cmd, sep, n[0]))
        m = wait_for(r"\[%s\] ==42-%d==\r?\n" % (vm, n[0]), timeout, since)
        return "\n".join(ln[len(vm) + 3:] for ln in output()[since:m.start()].splitlines()
                         if ln.startswith("[%s] " % vm))

    def tcp_segments():
        total = 0
        for vm in ("linux1", "linux2"):
            # Tcp: RtoAlgorithm (1) RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails
            # EstabResets CurrEstab InSegs OutSegs ...
            m = re.search(r"Tcp: 1 (?:-?\d+ ){9}(\d+)", sh(vm, "grep Tcp: /proc/net/snmp"))
            total += int(m.group(1))
        return total

    unit = "instructions (-icount)" if not args.realtime else "host time"
    try:
        for vm in ("linux1", "linux2"):
            wait_for(r"\[%s\] %s: [^\r\n]*\r?\n" % (vm, MARKER), 600)
        sh("linux1", "ip link set eth0 up && ip addr add 10.0.0.1/24 dev eth0")
        sh("linux2", "ip link set eth0 up && ip addr add 10.0.0.2/24 dev eth0")
        sh("linux1", "ping -c 2 10.0.0.2; ping -c 2 10.0.0.100")  # ARP resolved first
        print("network of two_vms_net.system, %s build, QEMU %s" %
              (args.config, "-icount shift=0,sleep=off" if not args.realtime else "real time"))
        for what, dst in (("ping linux1 -> linux2", "10.0.0.2"),
                          ("ping linux1 -> echo PD", "10.0.0.100")):
            text = sh("linux1", "ping -c 20 -i 0.05 %s" % dst, 300)
            m = re.search(r"round-trip min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+) ms", text)
            print("%-34s min/avg/max %s/%s/%s ms%s" % (
                what, m.group(1), m.group(2), m.group(3),
                "  (avg %.0f thousand instructions)" % (float(m.group(2)) * 1000)
                if not args.realtime else ""))
        text = sh("linux1", "udp_ping 10.0.0.100 7 20 bench", 300)
        m = re.search(r"rtt min/avg/max (\d+)/(\d+)/(\d+) us", text)
        print("%-34s min/avg/max %.3f/%.3f/%.3f ms%s" % (
            "UDP echo linux1 -> echo PD", int(m.group(1)) / 1000, int(m.group(2)) / 1000,
            int(m.group(3)) / 1000, "  (avg %d thousand instructions)" % int(m.group(2))
            if not args.realtime else ""))
        sh("linux2", "nc -l -p 5000 > /dev/null &")
        before = tcp_segments()
        text = sh("linux1", "time sh -c 'dd if=/dev/zero bs=64k count=%d 2>/dev/null | "
                            "nc 10.0.0.2 5000'" % (args.mib * 16), 3600)
        m = re.search(r"real\s+(?:(\d+)m\s*)?([\d.]+)s", text)
        secs = int(m.group(1) or 0) * 60 + float(m.group(2))
        frames = tcp_segments() - before
        print("%-34s %d MiB in %.2f s: %.2f MiB/s; %d TCP segments%s" % (
            "TCP linux1 -> linux2 (nc)", args.mib, secs, args.mib / secs, frames,
            ", %.0f instructions per segment (the whole system)" % (secs * 1e9 / frames)
            if not args.realtime else ""))
        print("(times are the guests' own clocks; %s)" % unit)
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
