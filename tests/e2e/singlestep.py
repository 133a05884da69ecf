#!/usr/bin/env python3
"""Opt-in probe, not part of `make test`: what happens when a guest arms a debug event for EL0 and
then makes an exit. seL4 switches neither MDSCR_EL1 nor the breakpoint and watchpoint registers
between a vCPU and the native threads (README, "What seL4 lets a guest do"), so on this SDK the
next native thread to run takes the guest's debug exception.

--probe singlestep (default): the guest sets MDSCR_EL1.SS; every native thread then takes a
software-step exception before its first instruction. --probe watchpoint: the guest arms a
watchpoint on EL0 accesses to the low 2 GiB, where the VMM's data lives.

Builds the bare-metal guest with PROBE=<probe> (tests/guest/main.c, debug_state_probe), boots it
with 3 vCPUs under QEMU with exception logging (-d int), and waits with timeouts. CPU 0 makes a
control exit, clears the OS Lock, arms the event and makes an exit; CPU 1 prints ten heartbeats
100 ms apart from a loop without exits, then makes one exit. Afterwards the QEMU monitor is asked
where the CPU is. Prints what happened and keeps the logs.

Exit status: 0 when the probe ran to a conclusion matching --expect (any conclusion without it),
1 otherwise."""
import argparse
import os
import re
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from baremetal import build  # noqa: E402
from qemu_console import Console, Timeout  # noqa: E402

BEATS = 10
MARK_EXIT = "probe: cpu0 makes an exit"
MARK_SURVIVED = "probe: system survived"
# Lines seL4's debug kernel and the Microkit monitor print about a fault.
KERNEL_LINE = re.compile(r"^(Found thread|Caught|in thread|With stack|unknown fault|vm fault|"
                         r"cap fault|MON\|)")
# ESR exception classes of debug events taken from a lower EL (software step, breakpoint,
# watchpoint) and from the same EL.
DEBUG_CLASSES = {0x30: "breakpoint", 0x31: "breakpoint", 0x32: "software step",
                 0x33: "software step", 0x34: "watchpoint", 0x35: "watchpoint"}


class Monitor:
    """The QEMU human monitor on a Unix socket: one command at a time."""

    def __init__(self, path, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self._until_prompt()

    def _until_prompt(self):
        data = b""
        while not data.endswith(b"(qemu) "):
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\n")
        return self._until_prompt()

    def close(self):
        self.sock.close()


def text_symbols(elf):
    """[(address, name)] of elf's text symbols, sorted; [] when nm cannot read it."""
    try:
        out = subprocess.run(["aarch64-linux-gnu-nm", "-n", elf], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    syms = []
    for line in out.split("\n"):
        f = line.split()
        if len(f) == 3 and f[1] in "tT":
            syms.append((int(f[0], 16), f[2]))
    return syms


def symbolise(elf, addr, slack=0x10000):
    """'function+0xoffset' for addr in elf (its nearest text symbol below, at most `slack` past
    the last one), or ''."""
    syms = text_symbols(elf)
    below = [s for s in syms if s[0] <= addr]
    if not below or addr - syms[-1][0] > slack:
        return ""
    return "%s+0x%x" % (below[-1][1], addr - below[-1][0])


def debug_exceptions(trace, elves):
    """The debug exceptions in QEMU's `-d int` log, in order, as (kind, from EL, ESR, ELR,
    where); `elves` maps a name to an ELF to look ELR up in."""
    found = []
    for b in re.split(r"(?m)^Taking exception ", trace)[1:]:
        if re.match(r"\d+ \[(IRQ|FIQ|Virtual IRQ|Virtual FIQ)\]", b):
            continue  # QEMU repeats the last syndrome for interrupts
        esr = re.search(r"with ESR 0x([0-9a-f]+)/0x([0-9a-f]+)", b)
        elr = re.search(r"with ELR 0x([0-9a-f]+)", b)
        frm = re.search(r"from (EL\d)", b)
        if not (esr and elr) or int(esr.group(1), 16) not in DEBUG_CLASSES:
            continue
        addr = int(elr.group(1), 16)
        where = "(unknown)"
        for name, elf in elves.items():
            fn = symbolise(elf, addr)
            if fn:
                where = "%s %s" % (name, fn)
                break
        found.append((DEBUG_CLASSES[int(esr.group(1), 16)], frm.group(1) if frm else "EL?",
                      esr.group(2), addr, where))
    return found


def where_is_the_cpu(mon, kernel_elf, samples=5):
    """Sample the CPU's PC and exception level a few times; the distinct places it was."""
    seen = []
    for _ in range(samples):
        regs = mon.cmd("info registers")
        pc = re.search(r"PC=([0-9a-f]+)", regs)
        el = re.search(r"\b(EL[0-3][th])\b", regs)
        if pc:
            addr = int(pc.group(1), 16)
            fn = symbolise(kernel_elf, addr) if addr >= 0x8000000000 else ""
            where = "pc 0x%x %s%s" % (addr, el.group(1) if el else "EL?",
                                      (" in seL4's " + fn) if fn else "")
            if where not in seen:
                seen.append(where)
        time.sleep(0.2)
    return seen


def run(bdir, sdk, config, exit_wait):
    qemu = subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                           "qemu-cmd"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    log = os.path.join(bdir, "qemu.log")
    trace = os.path.join(bdir, "exceptions.log")
    sock = os.path.join(bdir, "monitor.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    con = Console(qemu + ["-display", "none", "-monitor", "unix:%s,server=on,wait=off" % sock,
                          "-serial", "stdio", "-d", "int", "-D", trace], log)
    facts = {"log": log, "trace": trace}
    try:
        try:
            con.expect(MARK_EXIT, 120)
        except Timeout as e:
            facts["error"] = "the guest never reached its exit with the event armed: %s" % e
            return facts
        try:
            con.expect(MARK_SURVIVED, exit_wait)
            facts["survived"] = True
        except Timeout:
            facts["survived"] = False
        text = con.buf.decode("utf-8", "replace")
        facts["after"] = text[text.find(MARK_EXIT):]
        if con.proc.poll() is None:
            mon = Monitor(sock)
            try:
                facts["cpu"] = where_is_the_cpu(
                    mon, os.path.join(sdk, "board/qemu_virt_aarch64", config, "elf/sel4.elf"))
            finally:
                mon.close()
        facts["qemu_running"] = con.proc.poll() is None
    finally:
        con.close()
    return facts


def report(say, facts, sdk, config, bdir):
    after = facts["after"]
    lines = [l.rstrip("\r") for l in after.split("\n")]
    say("outcome: %s" % ("the system survived" if facts["survived"] else
                         "stopped: cpu0's exit never returned"))
    elf_dir = os.path.join(sdk, "board/qemu_virt_aarch64", config, "elf")
    try:
        with open(facts["trace"], errors="replace") as f:
            events = debug_exceptions(f.read(), {
                "VMM": os.path.join(bdir, "vmm.elf"),
                "Microkit monitor": os.path.join(elf_dir, "monitor.elf")})
        say("debug exceptions QEMU took after boot: %d" % len(events))
        for kind, frm, esr, elr, where in events:
            say("  %s from %s, ESR 0x%s, ELR 0x%x: %s" % (kind, frm, esr, elr, where))
    except OSError:
        say("no exception trace (QEMU -d int) to read")
    kernel = [l for l in lines if KERNEL_LINE.match(l)]
    for l in kernel:
        say("console after the exit: %s" % l)
    stack = [l for l in lines if re.match(r"0x[0-9a-f]+: ", l)]
    if stack:
        say("  (then %d lines of the thread's stack)" % len(stack))
    if not kernel:
        say("nothing on the console from seL4 or the monitor after the exit")
    m = re.search(r'in thread 0x[0-9a-f]+ "rootserver" at address (0x[0-9a-f]+)', after)
    if m:
        fn = symbolise(os.path.join(elf_dir, "monitor.elf"), int(m.group(1), 16))
        say("the thread seL4 names is the Microkit monitor, at %s: %s" %
            (m.group(1), fn or "(no symbol)"))
    say("cpu0's exit returned: %s" % ("yes" if "cpu0 exit returned" in after else "no"))
    for what in re.findall(r"probe: (after the exit [^\r\n]*)", after):
        say("guest: %s" % what)
    say("cpu1 heartbeats (no exits) after cpu0's exit: %d of %d" %
        (len(re.findall(r"cpu1 heartbeat \d+", after)), BEATS))
    if "cpu1 makes an exit" in after:
        say("cpu1's own exit afterwards returned: %s" %
            ("yes" if "cpu1 exit returned" in after else "no"))
    if facts.get("cpu"):
        say("QEMU still running; the CPU, sampled 5 times over 1 s, was at: %s" %
            "; ".join(facts["cpu"]))
    elif not facts.get("qemu_running", True):
        say("QEMU exited")
    say("logs kept: %s, %s" % (facts["log"], facts["trace"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--config", default="debug")
    ap.add_argument("--probe", choices=["singlestep", "watchpoint"], default="singlestep")
    ap.add_argument("--wait", type=int, default=20,
                    help="seconds to wait after the exit for the system to go on (default 20)")
    ap.add_argument("--expect", choices=["stopped", "survived"],
                    help="fail unless this is what happened")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)

    def say(msg):
        print("%s %s: %s" % (args.probe, args.config, msg), flush=True)

    ok, blog = build(bdir, args.sdk, args.config, probe=args.probe)
    if not ok:
        say("FAIL build; log kept: %s" % blog)
        return 1
    facts = run(bdir, args.sdk, args.config, args.wait)
    if "error" in facts:
        say("FAIL %s; QEMU log kept: %s" % (facts["error"], facts["log"]))
        return 1
    report(say, facts, args.sdk, args.config, bdir)
    outcome = "survived" if facts["survived"] else "stopped"
    if args.expect and args.expect != outcome:
        say("FAIL expected %s" % args.expect)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
