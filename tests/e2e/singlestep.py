#!/usr/bin/env python3
"""Opt-in probe, not part of `make test`: what happens when a guest arms a debug event for EL0 and
then leaves the CPU to seL4. seL4 switches neither MDSCR_EL1 nor the breakpoint and watchpoint
registers between a vCPU and the native threads (README, "What seL4 lets a guest do"), so on
this SDK the next native thread to run takes the guest's debug exception.

--probe singlestep (default): the bare-metal guest sets MDSCR_EL1.SS; every native thread then
takes a software-step exception before its first instruction. --probe watchpoint: it arms a
watchpoint on EL0 accesses to the low 2 GiB, where the VMM's data lives. Both build tests/guest
with PROBE=<probe> (debug_state_probe) and boot it with 3 vCPUs: CPU 0 makes a control exit,
clears the OS Lock, arms the event and makes an exit; CPU 1 prints ten heartbeats 100 ms apart
from a loop without exits, then makes one exit.

--probe ptrace: what a debugger's `stepi` does in a Linux guest. Boots the default Linux images
(1 vCPU) with tests/e2e/ptrace_step.c built static and added to the initramfs, and runs it at
the shell: it single-steps a child with ptrace(PTRACE_SINGLESTEP), for which Linux sets
MDSCR_EL1.SS around each stepped instruction.

Each runs under QEMU with exception logging (-d int) and timeouts; afterwards the QEMU monitor is
asked where the CPU is. Prints the debug exceptions taken (symbolised against the VMM and the
Microkit monitor), what seL4 and the monitor printed, what kept running, and keeps the logs.

Exit status: 0 when the probe ran to a conclusion matching --expect (any conclusion without it),
1 otherwise."""
import argparse
import gzip
import importlib.util
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
PROMPT = "guest# "
PTRACE_STEPS, PTRACE_EVERY = 20000, 1000
PTRACE_CMD = "/ptrace_step %d %d; echo ptrace-exit-$((6*7))" % (PTRACE_STEPS, PTRACE_EVERY)


class Probe:
    """How a probe is built, started and told apart: `start` is printed when the event is armed
    and the guest leaves the CPU, `survived` only if the system went on."""

    def __init__(self, name, start, survived, stuck):
        self.name, self.start, self.survived, self.stuck = name, start, survived, stuck

    def bare_metal(self):
        return self.name in ("singlestep", "watchpoint")


PROBES = {
    "singlestep": Probe("singlestep", "probe: cpu0 makes an exit", "probe: system survived",
                        "cpu0's exit never returned"),
    "watchpoint": Probe("watchpoint", "probe: cpu0 makes an exit", "probe: system survived",
                        "cpu0's exit never returned"),
    "ptrace": Probe("ptrace", "/ptrace_step", "ptrace-exit-42",
                    "the single-stepping never finished"),
}
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
    """The debug exceptions in QEMU's `-d int` log, in order, as (kind, from EL, to EL, ESR, ELR,
    where); `elves` maps a name to an ELF to look ELR up in."""
    found = []
    for b in re.split(r"(?m)^Taking exception ", trace)[1:]:
        if re.match(r"\d+ \[(IRQ|FIQ|Virtual IRQ|Virtual FIQ)\]", b):
            continue  # QEMU repeats the last syndrome for interrupts
        esr = re.search(r"with ESR 0x([0-9a-f]+)/0x([0-9a-f]+)", b)
        elr = re.search(r"with ELR 0x([0-9a-f]+)", b)
        frm = re.search(r"from (EL\d) to (EL\d)", b)
        if not (esr and elr) or int(esr.group(1), 16) not in DEBUG_CLASSES:
            continue
        addr = int(elr.group(1), 16)
        where = "(guest)" if frm and frm.group(2) != "EL2" else "(unknown)"
        for name, elf in elves.items() if where == "(unknown)" else ():
            fn = symbolise(elf, addr)
            if fn:
                where = "%s %s" % (name, fn)
                break
        found.append((DEBUG_CLASSES[int(esr.group(1), 16)], frm.group(1) if frm else "EL?",
                      frm.group(2) if frm else "EL?", esr.group(2), addr, where))
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


def cpio_newc():
    """tools/fetch-guest-images.py's cpio writer."""
    spec = importlib.util.spec_from_file_location(
        "fetch_guest_images", os.path.join(ROOT, "tools/fetch-guest-images.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.cpio_newc


def build_ptrace(bdir, sdk, config):
    """The default Linux images with ptrace_step added to the initramfs, and the system image
    around them; (ok, build log)."""
    log = os.path.join(bdir, "build.log")
    images = os.path.join(bdir, "ptrace-images")
    helper = os.path.join(bdir, "ptrace_step")
    with open(log, "w") as f:
        def sh(cmd):
            return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode == 0
        if not (sh(["aarch64-linux-gnu-gcc", "-std=c11", "-D_GNU_SOURCE", "-static", "-O2",
                    "-Wall", "-Wextra", "-Werror", "-o", helper,
                    os.path.join(ROOT, "tests/e2e/ptrace_step.c")]) and
                sh(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "images"])):
            return False, log
        os.makedirs(images, exist_ok=True)
        linux = os.path.join(images, "linux")
        if os.path.lexists(linux):
            os.unlink(linux)
        os.symlink(os.path.join(bdir, "images", "linux"), linux)
        with open(helper, "rb") as h:
            extra = cpio_newc()([("ptrace_step", 0o100755, h.read(), 0, 0)])
        with open(os.path.join(bdir, "images", "rootfs.cpio.gz"), "rb") as r:
            rootfs = r.read()
        # Linux unpacks concatenated (separately compressed) cpio archives one after the other.
        with open(os.path.join(images, "rootfs.cpio.gz"), "wb") as out:
            out.write(rootfs + gzip.compress(extra, mtime=0))
        ok = sh(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                 "CONFIG=" + config, "IMAGE_DIR=" + images, "all"])
    return ok, log


def run(probe, bdir, sdk, config, exit_wait):
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
            if not probe.bare_metal():
                con.expect(PROMPT, 120)
                con.send(PTRACE_CMD + "\n")
            con.expect(probe.start, 120)
        except Timeout as e:
            facts["error"] = "the guest never got to arm the event: %s" % e
            return facts
        try:
            con.expect(probe.survived, exit_wait)
            facts["survived"] = True
        except Timeout:
            facts["survived"] = False
        text = con.buf.decode("utf-8", "replace")
        facts["after"] = text[text.find(probe.start):]
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


def report(say, probe, facts, sdk, config, bdir):
    after = facts["after"]
    lines = [l.rstrip("\r") for l in after.split("\n")]
    say("outcome: %s" % ("the system survived" if facts["survived"] else
                         "stopped: " + probe.stuck))
    elf_dir = os.path.join(sdk, "board/qemu_virt_aarch64", config, "elf")
    try:
        with open(facts["trace"], errors="replace") as f:
            events = debug_exceptions(f.read(), {
                "VMM": os.path.join(bdir, "vmm.elf"),
                "Microkit monitor": os.path.join(elf_dir, "monitor.elf")})
        own = [e for e in events if e[2] != "EL2"]
        if own:
            say("debug exceptions the guest took itself (to its EL1): %d" % len(own))
        mine = [e for e in events if e[2] == "EL2"]
        say("debug exceptions taken to seL4 (EL2): %d" % len(mine))
        for kind, frm, _, esr, elr, where in mine:
            say("  %s from %s, ESR 0x%s, ELR 0x%x: %s" % (kind, frm, esr, elr, where))
    except OSError:
        say("no exception trace (QEMU -d int) to read")
    kernel = [l for l in lines if KERNEL_LINE.match(l)]
    for l in kernel:
        say("console afterwards: %s" % l)
    stack = [l for l in lines if re.match(r"0x[0-9a-f]+: ", l)]
    if stack:
        say("  (then %d lines of the thread's stack)" % len(stack))
    if not kernel:
        say("nothing on the console from seL4 or the monitor afterwards")
    m = re.search(r'in thread 0x[0-9a-f]+ "rootserver" at address (0x[0-9a-f]+)', after)
    if m:
        fn = symbolise(os.path.join(elf_dir, "monitor.elf"), int(m.group(1), 16))
        say("the thread seL4 names is the Microkit monitor, at %s: %s" %
            (m.group(1), fn or "(no symbol)"))
    if probe.bare_metal():
        say("cpu0's exit returned: %s" % ("yes" if "cpu0 exit returned" in after else "no"))
        for what in re.findall(r"probe: (after the exit [^\r\n]*)", after):
            say("guest: %s" % what)
        say("cpu1 heartbeats (no exits) while cpu0's exit had not returned: %d of %d" %
            (len(re.findall(r"cpu1 heartbeat \d+", after)), BEATS))
        if "cpu1 makes an exit" in after:
            say("cpu1's own exit afterwards returned: %s" %
                ("yes" if "cpu1 exit returned" in after else "no"))
    else:
        progress = re.findall(r"ptrace-step: ([^\r\n]*)", after)
        say("guest: %s" % (("last line of %d: ptrace-step: %s" % (len(progress), progress[-1]))
                           if progress else "no ptrace-step line (fewer than %d steps)" %
                           PTRACE_EVERY))
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
    ap.add_argument("--probe", choices=sorted(PROBES), default="singlestep")
    ap.add_argument("--wait", type=int,
                    help="seconds to wait, once the event is armed, for the system to go on "
                    "(default 20; 120 for ptrace)")
    ap.add_argument("--expect", choices=["stopped", "survived"],
                    help="fail unless this is what happened")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)

    def say(msg):
        print("%s %s: %s" % (args.probe, args.config, msg), flush=True)

    probe = PROBES[args.probe]
    if probe.bare_metal():
        ok, blog = build(bdir, args.sdk, args.config, probe=args.probe)
    else:
        ok, blog = build_ptrace(bdir, args.sdk, args.config)
    if not ok:
        say("FAIL build; log kept: %s" % blog)
        return 1
    wait = args.wait if args.wait is not None else (20 if probe.bare_metal() else 120)
    facts = run(probe, bdir, args.sdk, args.config, wait)
    if "error" in facts:
        say("FAIL %s; QEMU log kept: %s" % (facts["error"], facts["log"]))
        return 1
    report(say, probe, facts, args.sdk, args.config, bdir)
    outcome = "survived" if facts["survived"] else "stopped"
    if args.expect and args.expect != outcome:
        say("FAIL expected %s" % args.expect)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
