#!/usr/bin/env python3
"""Benchmark (not a test): interrupt latency and the cost of finishing an interrupt, in
instructions, for the bare-metal test guest (tests/guest/irq_latency.c) run three ways under
`qemu -icount shift=0,sleep=off` (one instruction per nanosecond; virtual time jumps over idle
periods):

  native  the same guest binary under QEMU with no hypervisor (it starts at EL2 and drops to EL1)
  floor   under bench/irq_latency/floor.c, a Microkit PD doing only the kernel calls each path
          needs: seL4's floor
  VMM     under the VMM (release build, the e2e system baremetal.system), which also prints the
          exit costs of tests/e2e/baremetal.py --bench

Prints one table: each path's instructions natively, on the floor and under the VMM, the VMM's
own share (VMM - floor) and the ratio VMM / floor; then the exit costs beside them."""
import argparse
import bisect
import collections
import os
import re
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
import baremetal  # noqa: E402
from qemu_console import Console, Timeout  # noqa: E402

BOARD = "qemu_virt_aarch64"
QEMU_BASE = ["qemu-system-aarch64", "-machine", "virt,virtualization=on,highmem=off,secure=off",
             "-cpu", "cortex-a53", "-m", "2G", "-icount", "shift=0,sleep=off", "-display", "none",
             "-monitor", "none", "-serial", "stdio"]
# The handler's time stamp is its fifth instruction (tests/guest/irq_latency_vectors.S).
STAMP_OFFSET = 4

PATHS = [
    ("vtimer_busy", "virtual timer (vPPI), vCPU busy"),
    ("vtimer_wfi", "virtual timer (vPPI), vCPU in WFI"),
    ("ptimer_busy", "passthrough (INTID 30), vCPU busy"),
    ("ptimer_wfi", "passthrough (INTID 30), vCPU in WFI"),
    ("sgi_busy", "SGI from vCPU 1, vCPU 0 busy"),
    ("sgi_wfi", "SGI from vCPU 1, vCPU 0 in WFI"),
]
EXITS = [("hvc_round_trip", "HVC round trip"), ("smc_round_trip", "SMC round trip"),
         ("mmio_read", "emulated MMIO read"), ("vgic_dist_read", "vGIC distributor read"),
         ("sgi_ping_pong", "SGI ping-pong")]


def figures(out):
    """{name: instructions} from the guest's "bench NAME: N millitick/op, counter F Hz" lines."""
    return {name: int(mt) / 1000 * 1e9 / int(freq) for name, mt, freq in
            re.findall(r"bench (\w+): (\d+) millitick/op, counter (\d+) Hz", out)}


def boot(argv, log, what):
    """Run until the guest says it is done; its output, or None (the reason printed)."""
    con = Console(argv, log)
    try:
        con.expect("baremetal: done", 300)
        out = con.output()
        if "check irq_latency_every_sample_delivered: ok" not in out:
            print("irq_latency %s: not every sample took its interrupt (log: %s)" % (what, log))
        return out
    except Timeout as e:
        print("irq_latency %s: %s (log: %s)" % (what, e, log))
        return None
    finally:
        con.close()


def build_guest(out_dir):
    subprocess.run(["make", "-s", "-B", "-C", os.path.join(ROOT, "tests/guest"), "OUT=" + out_dir],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out_dir, "guest.elf"), os.path.join(out_dir, "guest.bin")


def build_floor(bdir, sdk, guest_bin):
    """floor.elf (floor.c + the guest) and the system image around it; the image's path."""
    src = os.path.join(ROOT, "bench/irq_latency")
    sdk_board = os.path.join(sdk, "board", BOARD, "release")
    cc = ["aarch64-linux-gnu-gcc", "-std=gnu11", "-ffreestanding", "-nostdlib",
          "-fno-stack-protector", "-fno-pic", "-march=armv8-a", "-mstrict-align",
          "-mno-outline-atomics", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
          "-I" + os.path.join(sdk_board, "include")]
    objs = [os.path.join(bdir, "floor.o"), os.path.join(bdir, "floor_guest.o")]
    subprocess.run(cc + ["-c", os.path.join(src, "floor.c"), "-o", objs[0]], check=True)
    subprocess.run(cc + ['-DFLOOR_GUEST="%s"' % guest_bin, "-c",
                         os.path.join(src, "floor_guest.S"), "-o", objs[1]], check=True)
    subprocess.run(["aarch64-linux-gnu-ld", "-L" + os.path.join(sdk_board, "lib")] + objs +
                   ["-lmicrokit", "-Tmicrokit.ld", "-o", os.path.join(bdir, "floor.elf")],
                   check=True)
    image = os.path.join(bdir, "floor-loader.img")
    subprocess.run([os.path.join(sdk, "bin/microkit"), os.path.join(src, "floor.system"),
                    "--search-path", bdir, "--board", BOARD, "--config", "release", "-o", image,
                    "-r", os.path.join(bdir, "floor-report.txt")], check=True,
                   stdout=subprocess.DEVNULL)
    return image


# ---- --trace: one sample per path, instruction by instruction --------------------------------

def symbols(elf):
    """[(address, name)] sorted, of an ELF's functions and labels."""
    out = subprocess.run(["aarch64-linux-gnu-nm", "-n", "--defined-only", elf],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW" and not parts[2].startswith("$"):
            syms.append((int(parts[0], 16), parts[2]))
    return syms


class Symbolizer:
    """Which component (guest, seL4, the PD) and function a PC belongs to."""

    def __init__(self, elves):
        self.table = []
        for component, elf in elves:
            for addr, name in symbols(elf):
                self.table.append((addr, component, name))
        self.table.sort()
        self.addrs = [t[0] for t in self.table]

    def __call__(self, pc):
        i = bisect.bisect_right(self.addrs, pc) - 1
        if i < 0:
            return "?", "?"
        _, component, name = self.table[i]
        return component, name


def eoi_stamp(guest_elf):
    """PC of the counter read after the EOI in lat_on_irq."""
    out = subprocess.run(["aarch64-linux-gnu-objdump", "-d", "--disassemble=lat_on_irq",
                          guest_elf], stdout=subprocess.PIPE, text=True, check=True).stdout
    pcs = [int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):.*mrs\s+\w+, cntvct_el0",
                                                    out, re.M)]
    return pcs[-1]


def trace_pcs(path):
    pcs = []
    with open(path) as f:
        for line in f:
            m = re.match(r"Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/", line)
            if m:
                pcs.append(int(m.group(1), 16))
    return pcs


def phases(pcs, sym):
    """Consecutive runs of one component: [(component, count, first function, last function)]."""
    runs = []
    for pc in pcs:
        comp, fn = sym(pc)
        if fn == "idle_thread":
            comp = "idle"
        if runs and runs[-1][0] == comp:
            runs[-1][1] += 1
            runs[-1][3] = fn
            runs[-1][4][fn] += 1
        else:
            runs.append([comp, 1, fn, fn, collections.Counter({fn: 1})])
    return runs


def describe(label, pcs, sym, out):
    runs = phases(pcs, sym)
    totals = collections.Counter()
    for r in runs:
        totals[r[0]] += r[1]
    out.append("  %s: %d instructions (%s)" % (label, len(pcs), ", ".join(
        "%s %d" % kv for kv in sorted(totals.items(), key=lambda kv: -kv[1]))))
    for comp, n, _, _, fns in runs:
        top = ", ".join("%s %d" % kv for kv in fns.most_common(6))
        out.append("    %-6s %6d  %s" % (comp, n, top))


def analyse(name, pcs, sym, guest_elf, out):
    """Split one traced sample into its latency (start to the handler's first instruction) and
    its finishing (to the counter read after the EOI) and describe both."""
    if name.startswith("exit_"):
        # Everything from the trap to the guest's next instruction after it.
        first = next(i for i, pc in enumerate(pcs) if sym(pc)[0] != "guest")
        last = next(i for i in range(first, len(pcs)) if sym(pcs[i])[0] == "guest")
        out.append(name)
        describe("the exit (trap to the guest's next instruction)", pcs[first:last], sym, out)
        return
    gs = dict((n, a) for a, n in symbols(guest_elf))
    entry = gs["lat_vectors"] + 0x280
    try:
        h = pcs.index(entry)
    except ValueError:
        out.append("%s: the handler never ran in the traced window" % name)
        return
    if "sgi" in name:
        start = max(i for i in range(h) if pcs[i] == gs["lat_send_stamp"])
    else:
        # The interrupt became pending after the guest's (or the idle thread's) last instruction.
        start = h
        while start > 0:
            comp, fn = sym(pcs[start - 1])
            if comp == "guest" or fn == "idle_thread":
                break
            start -= 1
    end = pcs.index(eoi_stamp(guest_elf), h)
    out.append("%s" % name)
    describe("latency (to the handler's first instruction)", pcs[start:h], sym, out)
    describe("finishing (to the time stamp after the EOI)", pcs[h:end], sym, out)


class Monitor:
    """QEMU's human monitor on a unix socket."""

    def __init__(self, path):
        for _ in range(100):
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        self.read_prompt()

    def read_prompt(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            buf += self.sock.recv(4096)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\n")
        self.read_prompt()


def traced_run(argv, bdir, what):
    """Run a PROBE=irqtrace guest, logging each traced sample's instructions to its own file;
    {latency name: log path}."""
    sock = os.path.join(bdir, "%s-monitor.sock" % what)
    if os.path.exists(sock):
        os.unlink(sock)
    argv = [a if a != "none" or argv[i - 1] != "-monitor" else "unix:%s,server,nowait" % sock
            for i, a in enumerate(argv)]
    con = Console(argv, os.path.join(bdir, "%s-trace-console.log" % what))
    logs = {}
    try:
        mon = Monitor(sock)
        while True:
            seen = con.expect("\n", 600)
            m = re.search(r"lat-trace: (begin|end) (\w+)", seen)
            if "baremetal: done" in seen:
                break
            if not m:
                continue
            if m.group(1) == "begin":
                logs[m.group(2)] = os.path.join(bdir, "%s-%s.trace" % (what, m.group(2)))
                if os.path.exists(logs[m.group(2)]):
                    os.unlink(logs[m.group(2)])  # QEMU appends to a log file
                mon.cmd("logfile " + logs[m.group(2)])
                mon.cmd("singlestep on")
                mon.cmd("log exec,nochain")
            else:
                mon.cmd("log none")
                mon.cmd("singlestep off")
            con.send("x")
    finally:
        con.close()
    return logs


def trace(args, bdir):
    """--trace: one sample per path on the floor and under the VMM, instruction by instruction."""
    tdir = os.path.join(bdir, "trace")
    os.makedirs(tdir, exist_ok=True)
    subprocess.run(["make", "-s", "-B", "-C", os.path.join(ROOT, "tests/guest"),
                    "OUT=" + os.path.join(tdir, "guest"), "PROBE=irqtrace"], check=True,
                   stdout=subprocess.DEVNULL)
    guest_elf = os.path.join(tdir, "guest", "guest.elf")
    kernel = os.path.join(args.sdk, "board", BOARD, "release", "elf", "sel4.elf")
    runs = []
    if "floor" in args.trace:
        img = build_floor(tdir, args.sdk, os.path.join(tdir, "guest", "guest.bin"))
        runs.append(("floor", QEMU_BASE + ["-device", "loader,file=%s,addr=0x70000000,cpu-num=0"
                                           % img], os.path.join(tdir, "floor.elf")))
    if "vmm" in args.trace:
        vdir = os.path.join(tdir, "vmm")
        ok, blog = baremetal.build(vdir, args.sdk, "release", probe="irqtrace")
        if not ok:
            print("irq_latency --trace: the VMM build failed (log: %s)" % blog)
            return 1
        qemu = baremetal.qemu_cmd(vdir, args.sdk)
        runs.append(("vmm", qemu + QEMU_BASE[QEMU_BASE.index("-icount"):],
                     os.path.join(vdir, "vmm_baremetal.elf")))
    for what, argv, pd_elf in runs:
        logs = traced_run(argv, tdir, what)
        sym = Symbolizer([("guest", guest_elf), ("seL4", kernel), (what, pd_elf)])
        out = []
        for name, log in logs.items():
            analyse(name, trace_pcs(log), sym, guest_elf, out)
        report = os.path.join(tdir, "%s-report.txt" % what)
        with open(report, "w") as f:
            f.write("\n".join(out) + "\n")
        print("== %s (%s)" % (what, report))
        print("\n".join(out))
    return 0


def fmt(v):
    return "-" if v is None else "{:,.0f}".format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdk", default=os.environ.get("MICROKIT_SDK", "/opt/microkit-sdk-2.0.1"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build/bench/irq-latency"))
    ap.add_argument("--trace", nargs="*", choices=["floor", "vmm"],
                    help="instead: trace one sample per path (qemu -singlestep -d exec) on the "
                    "floor and/or under the VMM and say where its instructions go")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    if args.trace is not None:
        args.trace = args.trace or ["floor", "vmm"]
        return trace(args, bdir)

    guest_elf, guest_bin = build_guest(os.path.join(bdir, "guest"))
    native = boot(QEMU_BASE + ["-smp", "2", "-kernel", guest_elf],
                  os.path.join(bdir, "native.log"), "native")
    floor_img = build_floor(bdir, args.sdk, guest_bin)
    floor = boot(QEMU_BASE + ["-device", "loader,file=%s,addr=0x70000000,cpu-num=0" % floor_img],
                 os.path.join(bdir, "floor.log"), "floor")
    vdir = os.path.join(bdir, "vmm")
    ok, blog = baremetal.build(vdir, args.sdk, "release")
    vmm = None
    if not ok:
        print("irq_latency vmm: the build failed (log: %s)" % blog)
    else:
        out, stopped, log = baremetal.run(vdir, args.sdk, "release")
        vmm = out if not stopped else None
        if stopped:
            print("irq_latency vmm: %s (log: %s)" % (stopped, log))
    n, f, v = (figures(x or "") for x in (native, floor, vmm))

    print("Interrupt latency, instructions from pending in hardware to the guest handler's first "
          "instruction; finishing: from there to the point the next can be taken (release, "
          "qemu -icount shift=0,sleep=off)")
    print("%-40s %8s %8s %8s %8s %7s" % ("path", "native", "floor", "VMM", "VMM-fl", "VMM/fl"))
    for key, label in PATHS:
        for suffix, what in (("", "latency"), ("_finish", "finishing")):
            name = "irq_" + key + suffix
            vals = [d.get(name) for d in (n, f, v)]
            if not suffix:
                vals = [x - STAMP_OFFSET if x is not None else None for x in vals]
            share = vals[2] - vals[1] if None not in vals[1:] else None
            ratio = "%.3f" % (vals[2] / vals[1]) if None not in vals[1:] and vals[1] else "-"
            print("%-40s %8s %8s %8s %8s %7s" % (("  " + what) if suffix else label + ": latency",
                                                 fmt(vals[0]), fmt(vals[1]), fmt(vals[2]),
                                                 fmt(share), ratio))
    print("Exit costs (the same VMM run, tests/e2e/baremetal.py --bench)")
    for key, label in EXITS:
        print("%-40s %8s" % (label, fmt(v.get(key))))
    return 0 if native and floor and vmm else 1


if __name__ == "__main__":
    sys.exit(main())
