#!/usr/bin/env python3
"""End-to-end: the serial multiplexer on QEMU (tests/e2e/serial_mux/serial_mux.system): it owns the
PL011 and serves two instances of the example client (components/hello), declared as serial
clients and wired by the build. Builds it with make, boots it and checks: both clients' lines come prefixed with their names, the
client with the input shows its prompt, Ctrl-\\ 1 / Ctrl-\\ 2 route what is typed to the right
client only, an unknown number lists the clients, a client flooding 5000 lines gets them all out
in order while the other answers what it is typed in the middle of the flood, and a client that
stops reading has its input dropped and counted while the other keeps answering.

Every check is listed in CHECKS; one that could not run because an earlier step failed counts as
failed, with the reason, and the QEMU log is kept."""
import argparse
import os
import re
import secrets
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console, Timeout  # noqa: E402

HERE = os.path.join(ROOT, "tests/e2e/serial_mux")
ESC = "\x1c"
FLOOD = 5000

CHECKS = [
    "build",
    "the mux says who has the input",
    "both clients' greetings, prefixed",
    "typed text reaches client 1 only",
    "Ctrl-\\ 2 moves the input and shows client 2's prompt",
    "the prompt of the client with the input",
    "typed text reaches client 2 only",
    "Ctrl-\\ 1 moves the input back",
    "an unknown number lists the clients",
    "a flood of %d lines comes out whole and in order" % FLOOD,
    "the other client answers during the flood",
    "input for a client that stopped reading is dropped and counted",
    "the other client answers while one is deaf",
]


SYSTEM_FILE = "tests/e2e/serial_mux/serial_mux.system"


def make_cmd(bdir, sdk):
    return ["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
            "SYSTEM_FILE=" + SYSTEM_FILE]


def build(bdir, sdk, log):
    """The build expands the system file: the multiplexer PD, the two connections, the channels
    and each PD's configuration (tools/vmm-system.py)."""
    with open(log, "w") as f:
        return subprocess.run(make_cmd(bdir, sdk) + ["all"], stdout=f,
                              stderr=subprocess.STDOUT).returncode == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    results = {}

    def result(name, ok, detail=""):
        assert name in CHECKS, name
        results[name] = ok
        print("%s serial_mux %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)

    blog = os.path.join(bdir, "build.log")
    if not build(bdir, args.sdk, blog):
        result("build", False, "log kept: " + blog)
    else:
        result("build", True)
        run(bdir, args.sdk, result)
    for name in CHECKS:
        if name not in results:
            result(name, False, "not run: an earlier step failed")
    p = sum(1 for v in results.values() if v)
    f = len(results) - p
    print("e2e serial_mux: %d passed, %d failed" % (p, f))
    return 1 if f else 0


def run(bdir, sdk, result):
    qemu = subprocess.run(make_cmd(bdir, sdk) + ["-s", "qemu-cmd"], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.split()
    log = os.path.join(bdir, "qemu.log")
    con = Console(qemu + ["-display", "none", "-monitor", "none", "-serial", "stdio"], log)
    failed = False
    try:
        def step(name, needle, timeout=20, send=None):
            """Send `send` (if any), wait for `needle`; returns the text up to it."""
            if send is not None:
                con.send(send)
            try:
                seen = con.expect(needle, timeout)
            except Timeout as e:
                result(name, False, str(e))
                raise
            return seen

        tok1, tok2, tok3 = (secrets.token_hex(4) for _ in range(3))
        step("the mux says who has the input",
             "[mux] serial multiplexer on pl011: 2 clients; input -> hello1 (1)", 60)
        result("the mux says who has the input", True)
        greetings = ["[hello1] hello1: hello!", "[hello2] hello2: hello!", "[hello1] hello1> "]
        deadline = time.monotonic() + 20
        while not all(g in con.output() for g in greetings) and time.monotonic() < deadline:
            con._pump(0.2)
        result("both clients' greetings, prefixed", all(g in con.output() for g in greetings[:2]))
        if greetings[2] not in con.output():
            result("the prompt of the client with the input", False, "hello1's prompt not seen")
            raise Timeout("no prompt")
        step("typed text reaches client 1 only", '[hello1] hello1 got "%s"' % tok1,
                    send=tok1 + "\r")
        result("typed text reaches client 1 only", "hello2 got" not in con.output())
        step("Ctrl-\\ 2 moves the input and shows client 2's prompt",
                    "[mux] input -> hello2 (2)\r\n[hello2] hello2> ", send=ESC + "2")
        result("Ctrl-\\ 2 moves the input and shows client 2's prompt", True)
        before = con.output().split("[mux] input -> hello2 (2)")[0]
        result("the prompt of the client with the input", "hello2> " not in before,
               "(client 2's prompt showed before it had the input)" if "hello2> " in before
               else "")
        step("typed text reaches client 2 only", '[hello2] hello2 got "%s"' % tok2,
                    send=tok2 + "\r")
        result("typed text reaches client 2 only", 'hello1 got "%s"' % tok2 not in con.output())
        step("Ctrl-\\ 1 moves the input back", "[mux] input -> hello1 (1)", send=ESC + "1")
        step("Ctrl-\\ 1 moves the input back", '[hello1] hello1 got "%s"' % tok3,
                    send=tok3 + "\r")
        result("Ctrl-\\ 1 moves the input back", 'hello2 got "%s"' % tok3 not in con.output())
        seen = step("an unknown number lists the clients",
                    "[mux] Ctrl-\\ then 1-2 gives that client the input", send=ESC + "7")
        result("an unknown number lists the clients",
               "[mux] no client 7; the clients are:" in seen and "[mux] 1 hello1 <- input" in seen
               and "[mux] 2 hello2\r\n" in seen)

        flood = "a flood of %d lines comes out whole and in order" % FLOOD
        during = "the other client answers during the flood"
        seen = step(flood, "hello1 flood line 500 of %d" % FLOOD, send="flood %d\r" % FLOOD)
        answer = step(during, '[hello2] hello2 got "ping"', send=ESC + "2" + "ping\r")
        result(during, "flood done" not in answer,
               "%d flood lines came between" % answer.count("flood line"))
        seen += answer + step(flood, "[hello1] hello1: flood done", 120)
        lines = re.findall(r"^\[hello1\] hello1 flood line (\d+) of %d\r$" % FLOOD, seen, re.M)
        stray = [l for l in seen.split("\n") if "flood line" in l and
                 not re.fullmatch(r"\[hello1\] hello1 flood line \d+ of %d\r" % FLOOD, l)]
        result(flood, [int(n) for n in lines] == list(range(1, FLOOD + 1)) and not stray,
               "%d lines, %d broken" % (len(lines), len(stray)))

        # hello1 stops reading; each keystroke fills one of its receive buffers (the build gives
        # a client at most 32), then the mux drops what comes and says so once.
        step("input for a client that stopped reading is dropped and counted",
             "hello1: deaf from now on", send=ESC + "1" + "deaf\r")
        for _ in range(48):
            con.send("x")
            time.sleep(0.05)
        step("input for a client that stopped reading is dropped and counted",
             "[mux] hello1 (1): input dropped: it has no free receive buffer")
        seen = step("input for a client that stopped reading is dropped and counted",
                    "[mux] uart: receive errors", send=ESC + "?")
        m = re.search(r"\[mux\] hello1 \(1\): out \d+ bytes \(long lines cut \d+\), in (\d+) "
                      r"bytes, in dropped (\d+)", seen)
        result("input for a client that stopped reading is dropped and counted",
               bool(m) and int(m.group(2)) > 0,
               "in %s, dropped %s" % (m.group(1), m.group(2)) if m else "no counters line")
        step("the other client answers while one is deaf", '[hello2] hello2 got "alive"',
             send=ESC + "2" + "alive\r")
        result("the other client answers while one is deaf", True)
    except Timeout:
        failed = True
    finally:
        con.close()
    if failed:
        print("     QEMU log kept: %s" % log)


if __name__ == "__main__":
    sys.exit(main())
