#!/usr/bin/env python3
"""Benchmark (not a test): what booting Linux under the VMM costs, in instructions and in seconds.

The same Debian kernel and busybox initramfs (build/images, tools/fetch-guest-images.py) boot
natively (`-machine virt -cpu cortex-a53`, no hypervisor, the VM's 256 MiB and command line) and
under the VMM on seL4 (simple.system, 1 vCPU), once for each --images mode: the images built into
the VMM (GUEST_IMAGES=embedded) and placed by QEMU's loader outside seL4's memory (preload). The initramfs is a bench-only copy whose /init
runs bench/marker_counter.c right after the marker line: it prints the guest's virtual counter.

- Instructions: each boot once under `qemu -icount shift=0,sleep=off` (one instruction per
  nanosecond, idle time skipped; the same run gives the same count): the counter at the marker,
  16 instructions per tick. QEMU's -seed fixes the native run's KASLR seed; the VMM derives its
  own seeds from the counter and its build's secret.
- Seconds: --pairs boots of each, interleaved, plain TCG, QEMU start to the marker (medians).
- --breakdown: the VMM boot once more under icount, stopped by QEMU's gdb stub at the entries of
  seL4, the Microkit monitor and the VMM and at the VMM's first start of the vCPU (QMP's
  query-replay gives the instruction count at each stop), and once just after the marker, where
  the VMM's own exit counters (struct vm) are read. Instructions before the guest's first one
  are measured; the exits' share is their count times each kind's cost in bench/irq_latency.py's
  last run (an estimate); the rest is the guest's own run against the native one, which also
  probes the devices QEMU's virt machine has and the VM lacks.

Nothing here fails on a figure; a boot that does not reach its marker is reported and skipped.
"""
import argparse
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from qemu_console import Console, Timeout  # noqa: E402
import marker_images  # noqa: E402
from marker_images import COUNTER_RE, sh  # noqa: E402

PYTHON = "/usr/bin/python3"
MARKER = "SEL4VMM-GUEST-READY"
BOARD = "qemu_virt_aarch64"
ICOUNT = ["-icount", "shift=0,sleep=off"]


def vmm_build(bdir, sdk, config, images, mode):
    """Build simple.system with the guest images `mode` (GUEST_IMAGES: embedded in the VMM, or
    preload: placed by QEMU's loader outside seL4's memory); its QEMU command."""
    os.makedirs(bdir, exist_ok=True)
    log = os.path.join(bdir, "build.log")
    make = ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk, "CONFIG=" + config,
            "SYSTEM=simple.system", "IMAGE_DIR=" + images, "GUEST_IMAGES=" + mode]
    if not sh(make + ["all"], log):
        sys.exit("boot_icount: the VMM build failed (log: %s)" % log)
    qemu = subprocess.run(make + ["-s", "qemu-cmd"], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.split()
    return qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"]


def guest_bootargs(bdir):
    dtb = os.path.join(bdir, "gen/linux/guest.dtb")
    r = subprocess.run(["fdtget", dtb, "/chosen", "bootargs"], stdout=subprocess.PIPE, text=True)
    return r.stdout.strip() if r.returncode == 0 else "console=ttyAMA0 rdinit=/init"


def native_cmd(images, bootargs):
    return ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-m", "256M",
            "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-kernel", os.path.join(images, "linux"),
            "-initrd", os.path.join(images, "rootfs.cpio.gz"), "-append", bootargs]


def counter_at_marker(argv, log, timeout=600):
    """Boot under icount; the counter at the marker as (ticks, Hz), or None."""
    con = Console(argv + ICOUNT, log)
    try:
        con.expect(MARKER, timeout)
        # The kernel's console may put lines in between; the program's line follows the marker.
        m = COUNTER_RE.search(con.expect("cntvct ", 60) + con.expect("\n", 60))
        if not m:
            print("boot_icount: no counter line after the marker (log: %s)" % log)
        return (int(m.group(1)), int(m.group(2))) if m else None
    except Timeout as e:
        print("boot_icount: %s (log: %s)" % (e, log))
        return None
    finally:
        con.close()


def seconds_to_marker(argv, log, timeout=300):
    t0 = time.monotonic()
    con = Console(argv, log)
    try:
        con.expect(MARKER, timeout)
        return time.monotonic() - t0
    except Timeout as e:
        print("boot_icount: %s (log: %s)" % (e, log))
        return None
    finally:
        con.close()


class GdbStub:
    """Just enough of the GDB remote protocol for breakpoints and reads (QEMU's -gdb)."""

    def __init__(self, port):
        for _ in range(100):
            try:
                self.sock = socket.create_connection(("127.0.0.1", port))
                self.sock.settimeout(600)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise Timeout("no gdb stub on port %d" % port)
        self.buf = b""

    def _packet(self):
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start + 1) if start >= 0 else -1
            if end >= 0 and len(self.buf) >= end + 3:
                data = self.buf[start + 1:end]
                self.buf = self.buf[end + 3:]
                self.sock.sendall(b"+")
                return data.decode()
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Timeout("the gdb stub did not answer within %ds" % self.sock.gettimeout())
            if not chunk:
                raise Timeout("the gdb stub closed the connection")
            self.buf += chunk

    def cmd(self, data):
        self.sock.sendall(b"$%s#%02x" % (data.encode(), sum(data.encode()) & 0xff))
        return self._packet()

    def reg(self, n):
        """Register n (0-30: x0-x30, 31: sp, 32: pc) from the `g` packet (QEMU answers `p`
        only to a debugger that has read its target description)."""
        regs = self.cmd("g")
        return int.from_bytes(bytes.fromhex(regs[16 * n:16 * n + 16]), "little")

    def mem(self, addr, n):
        return bytes.fromhex(self.cmd("m%x,%x" % (addr, n)))


class Qmp:
    def __init__(self, path):
        for _ in range(100):
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise Timeout("no QMP socket at %s" % path)
        self.f = self.sock.makefile("rw")
        self.f.readline()  # greeting
        self.execute("qmp_capabilities")

    def execute(self, command):
        self.f.write(json.dumps({"execute": command}) + "\n")
        self.f.flush()
        while True:  # events (STOP, RESUME) come in between
            msg = json.loads(self.f.readline())
            if "return" in msg or "error" in msg:
                return msg.get("return")

    def icount(self):
        return self.execute("query-replay")["icount"]


def elf_symbols(elf):
    out = subprocess.run(["aarch64-linux-gnu-nm", elf], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    return {f[2]: int(f[0], 16) for f in (line.split() for line in out.splitlines())
            if len(f) == 3}


def elf_entry(elf):
    out = subprocess.run(["aarch64-linux-gnu-readelf", "-h", elf], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    return int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", out).group(1), 16)


def vm_counters(vmm_elf):
    """Where the VMM's own exit counters are (its static `vm`, struct vm in include/vmm/vm.h),
    from the ELF's debugging information: [(name, address, size)]."""
    fields = [("boots", 4), ("exits", 8), ("exits_by_kind", 8 * len(EXIT_KINDS)),
              ("exits_wfx", 8)]
    cmd = ["gdb", "-batch", "-ex", "print/d &vm"]
    for f, _ in fields:
        cmd += ["-ex", "print/d &((struct vm *)0)->%s" % f]
    out = subprocess.run(cmd + [vmm_elf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True).stdout
    vals = [int(v) for v in re.findall(r"^\$\d+ = (?:\(.*\) )?(\d+)", out, re.M)]
    if len(vals) != len(fields) + 1:
        sys.exit("boot_icount --breakdown: gdb cannot find the VMM's counters in %s:\n%s" %
                 (vmm_elf, out))
    return [(f, vals[0] + off, n) for (f, n), off in zip(fields, vals[1:])]


# enum exit_kind (include/vmm/exit.h), in order.
EXIT_KINDS = ["stage-2 fault", "HVC", "trapped instruction", "virtual PPI", "vGIC maintenance",
              "user exception", "unknown"]


def breakdown(argv, bdir, sdk, config, vdir, log, timeout=900):
    """The VMM boot under icount, stopped by the gdb stub where each phase starts and once just
    after the marker (at the next exit), where the VMM's own counters are read: ({phase:
    instructions at its start}, {counter: value}, the counter line's (ticks, Hz) or None)."""
    elfs = os.path.join(sdk, "board", BOARD, config, "elf")
    vmm_elf = [os.path.join(vdir, f) for f in os.listdir(vdir) if f.startswith("vmm_")
               and f.endswith(".elf")][0]
    sym = elf_symbols(vmm_elf)
    counters = vm_counters(vmm_elf)
    phases = [("seL4 boot", elf_entry(os.path.join(elfs, "sel4.elf"))),
              ("Microkit monitor", elf_entry(os.path.join(elfs, "monitor.elf"))),
              ("VMM start-up", elf_entry(vmm_elf)),
              ("guest", sym["hyp_vcpu_start"])]
    port = 20000 + os.getpid() % 20000
    qmp_path = os.path.join(bdir, "qmp.sock")
    if os.path.exists(qmp_path):
        os.unlink(qmp_path)
    con = Console(argv + ICOUNT + ["-S", "-gdb", "tcp:127.0.0.1:%d" % port,
                                   "-qmp", "unix:%s,server=on,wait=off" % qmp_path], log)
    starts = {"Microkit loader": 0}
    try:
        gdb, qmp = GdbStub(port), Qmp(qmp_path)
        for name, pc in phases:
            gdb.cmd("Z0,%x,4" % pc)
            gdb.cmd("c")
            if gdb.reg(32) != pc:
                raise Timeout("stopped at %#x, not at %s's start %#x" % (gdb.reg(32), name, pc))
            starts[name] = qmp.icount()
            gdb.cmd("z0,%x,4" % pc)
        gdb.sock.sendall(b"$c#63")
        con.expect(MARKER, timeout)
        starts["marker"] = qmp.icount()  # just after: the console is read while it runs
        gdb.sock.sendall(b"\x03")  # stop, then run to the VMM's next exit
        gdb._packet()
        handle_exit = sym["vm_handle_exit"]
        gdb.cmd("Z0,%x,4" % handle_exit)
        gdb.cmd("c")
        values = {}
        for name, addr, n in counters:
            raw = gdb.mem(addr, n)
            if name == "exits_by_kind":
                for kind, v in zip(EXIT_KINDS, struct.unpack("<%dQ" % (n // 8), raw)):
                    values[kind] = v
            else:
                values[name] = int.from_bytes(raw, "little")
        gdb.cmd("z0,%x,4" % handle_exit)
        gdb.sock.sendall(b"$c#63")
        m = COUNTER_RE.search(con.expect("cntvct ", 120) + con.expect("\n", 60))
        return starts, values, (int(m.group(1)), int(m.group(2))) if m else None
    except Timeout as e:
        print("boot_icount --breakdown: %s (log: %s)" % (e, log))
        return None
    finally:
        con.close()


def insns(counter):
    ticks, hz = counter
    return ticks * 1e9 / hz


def fmt_m(n):
    return "%.2f M" % (n / 1e6)


def exit_costs():
    """Instructions each kind of exit costs, from bench/irq_latency.py's last VMM run if there is
    one (its log): {kind: cost}. Natively each of these paths takes at most 31."""
    log = os.path.join(ROOT, "build/bench/irq-latency/vmm/qemu.log")
    if not os.path.exists(log):
        return {}
    with open(log, errors="replace") as f:
        text = f.read()
    fig = {n: int(mt) / 1000 * 1e9 / int(hz) for n, mt, hz in
           re.findall(r"bench (\w+): (\d+) millitick/op, counter (\d+) Hz", text)}
    costs = {}
    for name, key in [("HVC", "hvc_round_trip"), ("trapped instruction", "smc_round_trip"),
                      ("stage-2 fault", "vgic_dist_read"), ("virtual PPI", "irq_vtimer_busy"),
                      ("vGIC maintenance", "irq_vtimer_busy_finish"),
                      ("notification", "irq_ptimer_busy")]:
        if key in fig:
            costs[name] = fig[key]
    if "irq_vtimer_wfi" in fig and "irq_vtimer_busy" in fig:
        costs["WFI"] = fig["irq_vtimer_wfi"] - fig["irq_vtimer_busy"]
    return costs


def print_breakdown(result, nat_c, vmm_c):
    if not result:
        print("breakdown: no figure (see above)")
        return
    starts, values, counter = result
    order = ["Microkit loader", "seL4 boot", "Microkit monitor", "VMM start-up", "guest"]
    print("Where the VMM boot's instructions go (QMP query-replay's count where each starts; the "
          "Microkit monitor's part includes the seL4 calls it makes)")
    for a, b in zip(order, order[1:] + ["marker"]):
        print("  %-30s %14s" % (a if a != "guest" else "guest, up to the marker",
                                "{:,}".format(starts[b] - starts[a])))
    if counter and vmm_c:
        print("  (this run's counter at the marker: %d ticks; the run without stops: %d)" %
              (counter[0], vmm_c[0]))
    costs = exit_costs()
    wfx = values.get("exits_wfx", 0)
    rows = [(k, values.get(k, 0)) for k in EXIT_KINDS if k != "trapped instruction"]
    rows += [("WFI", wfx), ("trapped instruction", values.get("trapped instruction", 0) - wfx)]
    # Every interrupt injected gets its EOI maintenance exit: those beyond the virtual PPIs' are
    # the passthrough interrupts' (the UART's), each reported by a notification first.
    rows.append(("notification", max(values.get("vGIC maintenance", 0) -
                                     values.get("virtual PPI", 0), 0)))
    print("  the guest's exits up to the marker: %d (the VMM's counters, boot #%d), by kind, "
          "each at its cost in bench/irq_latency.py's last run (an estimate):" %
          (values.get("exits", 0), values.get("boots", 0)))
    total = 0
    for name, n in rows:
        if not n:
            continue
        c = costs.get(name)
        total += n * c if c else 0
        label = {"trapped instruction": "trapped SMC, MSR/MRS (as an SMC)",
                 "WFI": "trapped WFI (its sleep and wake-up)",
                 "notification": "notification (inferred: maintenance - vPPI)",
                 "stage-2 fault": "stage-2 fault (as a GICD read)"}.get(name, name)
        print("    %-44s %6d x %6s = %11s" % (label, n, "{:,.0f}".format(c) if c else "?",
                                              "{:,.0f}".format(n * c) if c else "?"))
    print("    %-62s %11s" % ("together", "{:,.0f}".format(total)))
    if nat_c and vmm_c:
        pre = starts["guest"]
        extra = insns(vmm_c) - insns(nat_c)
        print("  extra instructions %s = before the guest's first instruction %s + its exits "
              "(estimated) %s + the rest %s (the guest's own run against the native one, which "
              "also probes the devices QEMU's virt machine has and the VM lacks)" %
              (fmt_m(extra), fmt_m(pre), fmt_m(total), fmt_m(extra - pre - total)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdk", default=os.environ.get("MICROKIT_SDK", "/opt/microkit-sdk-2.0.1"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench/boot-icount"))
    ap.add_argument("--config", default="release", choices=["release", "debug"])
    ap.add_argument("--breakdown", action="store_true",
                    help="also: where the VMM run's extra instructions go (one more boot)")
    ap.add_argument("--pairs", type=int, default=3,
                    help="wall-clock boots of each, interleaved (0: instructions only)")
    ap.add_argument("--images", default="embedded,preload",
                    help="the VMM builds to compare with native, by GUEST_IMAGES (comma-separated)")
    args = ap.parse_args()
    modes = [m for m in args.images.split(",") if m]
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    images = marker_images.build(bdir, "init", "boot_icount")
    vdirs = {m: os.path.join(bdir, args.config + ("" if m == "embedded" else "-" + m))
             for m in modes}
    vmms = {m: vmm_build(vdirs[m], args.sdk, args.config, images, m) for m in modes}
    native = native_cmd(images, guest_bootargs(vdirs[modes[0]])) + ["-seed", "1"]

    nat_c = counter_at_marker(native, os.path.join(bdir, "native-icount.log"))
    vmm_c = {m: counter_at_marker(vmms[m], os.path.join(bdir, "vmm-%s-icount.log" % m))
             for m in modes}
    nat_s, vmm_s = [], {m: [] for m in modes}
    for i in range(args.pairs):
        nat_s.append(seconds_to_marker(native, os.path.join(bdir, "native-time.log")))
        for m in modes:
            vmm_s[m].append(seconds_to_marker(vmms[m], os.path.join(bdir, "vmm-%s-time.log" % m)))
        print("round %d: native %s s, %s" % (
            i + 1, "-" if nat_s[-1] is None else "%.2f" % nat_s[-1],
            ", ".join("vmm (%s) %s s" % (m, "-" if vmm_s[m][-1] is None else
                                         "%.2f" % vmm_s[m][-1]) for m in modes)), flush=True)

    print("Boot to the marker line, Linux on 1 vCPU (%s build, simple.system), "
          "same kernel and initramfs natively and under the VMM" % args.config)
    for m in modes:
        if nat_c and vmm_c[m]:
            n, v = insns(nat_c), insns(vmm_c[m])
            print("instructions (-icount shift=0,sleep=off), guest images %s: native %s (%d ticks "
                  "at %d Hz), VMM %s (%d ticks), extra %s, ratio VMM/native %.4f" %
                  (m, fmt_m(n), nat_c[0], nat_c[1], fmt_m(v), vmm_c[m][0], fmt_m(v - n), v / n))
        else:
            print("instructions, guest images %s: no figure (a boot did not print its counter; "
                  "see above)" % m)
        nat_ok = [x for x in nat_s if x is not None]
        vmm_ok = [x for x in vmm_s[m] if x is not None]
        if nat_ok and vmm_ok:
            mn, mv = statistics.median(nat_ok), statistics.median(vmm_ok)
            print("seconds (plain TCG, median of %d and %d), guest images %s: native %.2f s, "
                  "VMM %.2f s, ratio VMM/native %.2f" % (len(nat_ok), len(vmm_ok), m, mn, mv,
                                                         mv / mn))
        elif args.pairs:
            print("seconds, guest images %s: no figure (no timed boot reached the marker)" % m)
    if args.breakdown:
        for m in modes:
            print("guest images %s:" % m)
            print_breakdown(breakdown(vmms[m], bdir, args.sdk, args.config, vdirs[m],
                                      os.path.join(bdir, "vmm-%s-breakdown.log" % m)),
                            nat_c, vmm_c[m])
    return 0 if nat_c and all(vmm_c.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
