#!/usr/bin/env python3
"""End-to-end: two Linux VMs and the native echo service on one virtual switch
(board/qemu_virt_aarch64/systems/two_vms_net.system). The VMs configure their addresses with
busybox ip, ping each other and the echo PD, send a 16 MiB random file linux1 -> linux2 with
busybox nc and compare sha256 on both sides, exchange UDP echoes with the echo PD (udp_ping, a
small client built here into the guests' initramfs: Debian's busybox nc has no -u), linux1 forges
its source MAC and reaches nobody while the switch reports and counts the drops, and linux1
reboots while linux2 keeps reaching the echo PD (the switch prints its counters when linux1's
device is reset, with linux1's spoofed frames among them). Through the switch's uplink (QEMU's
virtio-net-device and its user network, restricted to this machine) the host reaches linux2 over
TCP at a forwarded loopback port, and linux2 reaches QEMU's gateway but nothing beyond it. Prints
one line per check and a summary; checks after a failure count as skipped."""
import argparse
import gzip
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from checks import Checks  # noqa: E402
from mux_guests import Guests  # noqa: E402
from qemu_console import Console  # noqa: E402
from vmmtools import cpio  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"
VMS = {"linux1": 1, "linux2": 2}  # name: mux client number
IP = {"linux1": "10.0.0.1", "linux2": "10.0.0.2"}
ECHO_IP, ECHO_PORT = "10.0.0.100", 7
LINUX1_MAC = "02:00:00:00:00:01"
FORGED_MAC = "02:00:00:00:00:99"
NAMES = ["build", "both VMs boot to their markers", "addresses configured",
         "the VMs ping each other", "both VMs ping the echo PD",
         "16 MiB file linux1 -> linux2 over TCP, sha256 equal", "UDP echo with the echo PD",
         "the uplink: the host reaches linux2 over TCP, nothing leaves the machine",
         "a forged source MAC reaches nobody, the switch drops and counts",
         "linux1 reboots while linux2 reaches the echo PD",
         "linux1 back on the network after its reboot"]


def guest_images(bdir):
    """The default images, with udp_ping added to the initramfs (a second cpio archive after the
    first: the kernel unpacks both)."""
    images = os.path.join(bdir, "images")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools/fetch-guest-images.py"), "--out",
                    images], check=True, stdout=subprocess.DEVNULL)
    tool = os.path.join(bdir, "udp_ping")
    subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-o", tool, os.path.join(ROOT, "tests/guest/net/udp_ping.c")], check=True)
    with open(tool, "rb") as f:
        extra = cpio.write_newc([("bin/udp_ping", 0o100755, f.read(), 0, 0)])
    out = os.path.join(bdir, "net-images")
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(images, "linux"), os.path.join(out, "linux"))
    with open(os.path.join(images, "rootfs.cpio.gz"), "rb") as f:
        rootfs = f.read()
    with open(os.path.join(out, "rootfs.cpio.gz"), "wb") as f:
        f.write(rootfs + gzip.compress(extra, mtime=0))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def system_file(bdir, port):
    """The example system with the uplink's forward on a port free on this machine now."""
    with open(os.path.join(ROOT, "board/qemu_virt_aarch64/systems/two_vms_net.system")) as f:
        text = f.read()
    assert "tcp:5501-10.0.0.2:5001" in text, "the example's uplink forward changed"
    path = os.path.join(bdir, "two_vms_net.system")
    with open(path, "w") as f:
        f.write(text.replace("tcp:5501-", "tcp:%d-" % port))
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--config", default="debug")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    host_port = free_port()
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + args.sdk,
            "CONFIG=" + args.config, "SYSTEM_FILE=" + system_file(bdir, host_port),
            "IMAGE_DIR=" + os.path.join(bdir, "net-images")]
    checks = Checks("two_vms_net", NAMES)
    log = os.path.join(bdir, "build.log")
    macs = {}

    def build():
        guest_images(bdir)
        with open(log, "w") as f:
            subprocess.run(make + ["all"], stdout=f, stderr=subprocess.STDOUT, check=True)
        with open(os.path.join(bdir, "system.xml")) as f:
            text = f.read()
        for pd in ("serial_mux", "timer", "vswitch_lan", "echo", "vswitch_lan_uplink"):
            assert 'protection_domain name="%s"' % pd in text, "the build added no %s PD" % pd
        with open(log) as f:
            for vm, mac in re.findall(r"virtual machine '(\w+)' is on switch 'lan' with MAC "
                                      r"([0-9a-f:]{17})", f.read()):
                macs[vm] = mac
        assert macs.get("linux1") == LINUX1_MAC, "linux1's MAC: %s" % macs.get("linux1")
        assert "linux2" in macs, "the build did not say linux2's MAC"
        return "linux2's derived MAC %s" % macs["linux2"]
    if not checks.run("build", build):
        print("     build log kept: %s" % log)
        return checks.summary()

    qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()
    qlog = os.path.join(bdir, "qemu.log")
    con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], qlog)
    counter = [0]
    reboot_at = [0]  # where in the output linux1 was told to reboot

    guests = Guests(con, VMS)
    output, wait_for, focus = guests.output, guests.wait_for, guests.focus

    def sh(vm, cmd, timeout=60):
        """Run `cmd` in vm's shell; returns its lines of output (the VM's own lines only). The
        end is a line the shell computes, so the echo of what was typed cannot match it."""
        focus(vm)
        counter[0] += 1
        n = counter[0]
        since = len(output())
        sep = " " if cmd.rstrip().endswith("&") else "; "
        con.send("%s%secho ==$((40+2))-%d-$?==\n" % (cmd, sep, n))
        m = wait_for(r"\[%s\] ==42-%d-(\d+)==\r?\n" % (vm, n), timeout, since)
        prefix = "[%s] " % vm
        lines = [ln[len(prefix):] for ln in output()[since:m.start()].splitlines()
                 if ln.startswith(prefix)]
        return lines, int(m.group(1))

    def ping(vm, dst, count=3, timeout=60):
        lines, _ = sh(vm, "ping -c %d -W 2 %s" % (count, dst), timeout)
        for ln in lines:
            m = re.search(r"(\d+) packets transmitted, (\d+) packets received", ln)
            if m:
                rtt = next((r for r in lines if "round-trip" in r), "")
                return int(m.group(2)), rtt.strip()
        raise AssertionError("%s: no ping summary in %r" % (vm, lines[-5:]))

    def configure(vm):
        lines, status = sh(vm, "ip link set eth0 up && ip addr add %s/24 dev eth0 && "
                               "ip addr show eth0" % IP[vm])
        assert status == 0, "%s: ip failed: %r" % (vm, lines[-5:])
        text = "\n".join(lines)
        assert "link/ether %s" % macs[vm] in text, "%s: eth0 is not %s: %r" % (vm, macs[vm],
                                                                              lines)
        assert "inet %s/24" % IP[vm] in text, "%s: no address: %r" % (vm, lines)

    def udp_echo(vm, count=5):
        token = "%s-%08x" % (vm, random.getrandbits(32))
        lines, status = sh(vm, "udp_ping %s %d %d %s" % (ECHO_IP, ECHO_PORT, count, token), 60)
        summary = next((ln for ln in lines if "echoed" in ln), "")
        assert status == 0 and "%d sent, %d echoed" % (count, count) in summary, \
            "%s: %r" % (vm, lines[-4:])
        assert sum('"%s-' % token in ln for ln in lines) == count, "%s: replies %r" % (vm, lines)
        return summary.split("echoed, ")[-1]

    try:
        def boot():
            for vm in VMS:
                wait_for(r"\[%s\] %s: [^\r\n]*\r?\n" % (vm, MARKER), 300)
        checks.run("both VMs boot to their markers", boot)

        def addresses():
            for vm in VMS:
                configure(vm)
        checks.run("addresses configured", addresses)

        def each_other():
            got1, rtt1 = ping("linux1", IP["linux2"])
            got2, _ = ping("linux2", IP["linux1"])
            assert (got1, got2) == (3, 3), "replies: linux1 %d of 3, linux2 %d of 3" % (got1, got2)
            return rtt1
        checks.run("the VMs ping each other", each_other)

        def echo_pd():
            got1, rtt1 = ping("linux1", ECHO_IP)
            got2, _ = ping("linux2", ECHO_IP)
            assert (got1, got2) == (3, 3), "replies: linux1 %d of 3, linux2 %d of 3" % (got1, got2)
            return rtt1
        checks.run("both VMs ping the echo PD", echo_pd)

        def transfer():
            lines, status = sh("linux2", "rm -f /tmp/recv; nc -l -p 5000 > /tmp/recv &")
            assert status == 0, "nc -l: %r" % lines
            # The listener is up once port 5000 (0x1388) is in LISTEN (0A) in /proc/net/tcp or,
            # for busybox's dual-stack socket, tcp6.
            listening = "grep -qs ':1388 0*:0000 0A' /proc/net/tcp /proc/net/tcp6"
            lines, status = sh("linux2", "for i in $(seq 40); do %s && break; sleep 0.25; done; "
                                         "%s || { jobs; cat /proc/net/tcp*; false; }" %
                                         (listening, listening), 30)
            assert status == 0, "linux2's nc -l is not listening: %r" % lines[-6:]
            lines, status = sh("linux1", "dd if=/dev/urandom of=/tmp/send bs=1M count=16 "
                                         "2>/dev/null && sha256sum /tmp/send", 120)
            sent = next((ln.split()[0] for ln in lines if ln.endswith("/tmp/send")), None)
            assert status == 0 and sent, "linux1: %r" % lines[-3:]
            t0 = time.monotonic()
            lines, status = sh("linux1", "nc %s 5000 < /tmp/send" % IP["linux2"], 1500)
            took = time.monotonic() - t0
            assert status == 0, "nc: %r" % lines[-3:]
            lines, status = sh("linux2", "wait; ls -l /tmp/recv; sha256sum /tmp/recv", 120)
            got = next((ln.split()[0] for ln in lines if ln.endswith("/tmp/recv")
                        and len(ln.split()[0]) == 64), None)
            assert got == sent, "sha256 sent %s, received %s (%r)" % (sent, got, lines)
            return "sha256 %s..., %.1f s (%.2f MiB/s of host time)" % (sent[:16], took,
                                                                        16 / took)
        checks.run("16 MiB file linux1 -> linux2 over TCP, sha256 equal", transfer)

        def udp():
            return "linux1 %s; linux2 %s" % (udp_echo("linux1"), udp_echo("linux2"))
        checks.run("UDP echo with the echo PD", udp)

        def uplink():
            lines, status = sh("linux2", "rm -f /tmp/fromhost; nc -l -p 5001 < /dev/null > "
                                         "/tmp/fromhost &")
            assert status == 0, "nc -l: %r" % lines
            token = "from-the-host-%08x" % random.getrandbits(32)
            deadline = time.monotonic() + 60
            while True:  # until linux2's nc listens
                try:
                    with socket.create_connection(("127.0.0.1", host_port), timeout=30) as c:
                        c.sendall(token.encode() + b"\n")
                        c.shutdown(socket.SHUT_WR)
                        c.settimeout(30)
                        while c.recv(100):
                            pass
                    lines, _ = sh("linux2", "wait; cat /tmp/fromhost")
                    if any(token in ln for ln in lines) or time.monotonic() > deadline:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(2)
            assert any(token in ln for ln in lines), "linux2 got %r" % lines[-3:]
            got, _ = ping("linux2", "10.0.0.254", 2)
            assert got == 2, "QEMU's gateway answered %d of 2 pings" % got
            # Unrestricted, QEMU would connect the guest to the host's loopback through its
            # gateway: a listener here must hear nothing.
            with socket.socket() as lis:
                lis.bind(("127.0.0.1", 0))
                lis.listen(1)
                lis.settimeout(15)
                port = lis.getsockname()[1]
                heard = []

                def listen():
                    try:
                        conn, _ = lis.accept()
                        heard.append(True)
                        conn.close()
                    except OSError:
                        pass
                t = threading.Thread(target=listen)
                t.start()
                lines, status = sh("linux2", "nc -w 5 10.0.0.254 %d < /dev/null" % port, 60)
                t.join()
                reached = bool(heard)
            assert status != 0 and not reached, "linux2 reached the host's 127.0.0.1:%d" % port
            return "127.0.0.1:%d -> linux2:5001 carried %s; the host's own ports unreachable" % (
                host_port, token)
        checks.run("the uplink: the host reaches linux2 over TCP, nothing leaves the machine",
                   uplink)

        def forged():
            since = len(output())
            lines, status = sh("linux1", "ip link set dev eth0 address %s && ip link show eth0" %
                               FORGED_MAC)
            assert status == 0 and any(FORGED_MAC in ln for ln in lines), "ip: %r" % lines
            got_echo, _ = ping("linux1", ECHO_IP, 3)
            got_vm, _ = ping("linux1", IP["linux2"], 2)
            assert (got_echo, got_vm) == (0, 0), "forged frames got answers: echo %d, linux2 %d" \
                % (got_echo, got_vm)
            m = wait_for(r"vswitch lan: warning: port 1 linux1: frame with source MAC %s, not its "
                         r"own %s: dropped \((\d+) spoofed so far\)" % (FORGED_MAC, LINUX1_MAC),
                         10, since)
            # linux2 still reaches the echo PD.
            got2, _ = ping("linux2", ECHO_IP, 2)
            assert got2 == 2, "linux2 got %d of 2 echo replies meanwhile" % got2
            return "the switch reported the first at drop %s" % m.group(1)
        checks.run("a forged source MAC reaches nobody, the switch drops and counts", forged)

        def reboot():
            focus("linux1")
            since = reboot_at[0] = len(output())
            con.send("reboot -f\n")
            wait_for(r"\[vm linux1\] psci: guest requested a reset", 60, since)
            m = wait_for(r"vswitch lan: port 1 linux1: in \d+ frames \d+ bytes, spoofed (\d+)", 30,
                         since)
            spoofed = int(m.group(1))
            assert spoofed >= 5, "the switch counted %d spoofed frames of linux1's" % spoofed
            assert re.search(r"vswitch lan: counters \(asked by linux1\)", output()[since:]), \
                "the counters were not asked for by linux1"
            got, _ = ping("linux2", ECHO_IP, 3)  # while linux1 boots again
            summary = udp_echo("linux2", 3)
            assert got == 3, "linux2 got %d of 3 echo replies while linux1 rebooted" % got
            rebooted = re.search(r"\[%s\] %s: " % ("linux1", MARKER), output()[since:])
            return "spoofed %d counted; linux2 ping 3/3, UDP %s%s" % (
                spoofed, summary, "" if rebooted else " before linux1's marker")
        checks.run("linux1 reboots while linux2 reaches the echo PD", reboot)

        def back():
            wait_for(r"\[linux1\] %s: [^\r\n]*\r?\n" % MARKER, 300, reboot_at[0])
            configure("linux1")
            got1, _ = ping("linux1", ECHO_IP)
            got2, _ = ping("linux1", IP["linux2"])
            assert (got1, got2) == (3, 3), "linux1 got echo %d/3, linux2 %d/3" % (got1, got2)
            return "with its own MAC %s again" % LINUX1_MAC
        checks.run("linux1 back on the network after its reboot", back)
    finally:
        con.close()
    if not all(checks.results):
        print("     QEMU log kept: %s" % qlog)
        for line in output()[-4000:].splitlines()[-30:]:
            print("     | " + line)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
