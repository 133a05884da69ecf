"""Several guests on the serial multiplexer, seen through one QEMU console: the output so far, a
wait for a pattern in it, switching the input to a guest (`Ctrl-\\` then its client number), and a
command run in a guest's shell with its exit status and the lines it printed."""
import random
import re
import time

from qemu_console import Timeout

SWITCH = "\x1c"  # Ctrl-\, then the client's number
KERNEL_LINE = re.compile(r"^\[\s*\d+\.\d+\] ")  # the guest kernel's console messages


class Guests:
    """Several guests on the serial multiplexer: focus one, run a command in it and wait for its
    exit status, with the output lines it printed (without the "[name] " prefix)."""

    def __init__(self, con, clients):
        self.con = con
        self.clients = clients

    def output(self):
        return self.con.buf.decode("utf-8", "replace")

    def wait_for(self, pattern, timeout, since=0):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.output(), since)
            if m:
                return m
            if time.monotonic() > deadline:
                raise Timeout("%r not seen within %ds" % (pattern, timeout))
            self.con._pump(0.2)

    def focus(self, vm):
        since = len(self.output())
        self.con.send(SWITCH + str(self.clients[vm]))
        self.wait_for(r"input -> %s" % vm, 10, since)

    def run(self, vm, cmd, timeout=60, expect_status=0):
        """Run `cmd` in `vm`; returns its output lines. The status must be `expect_status`
        (None: any; then the status is returned with the lines)."""
        self.focus(vm)
        token = "%08x" % random.getrandbits(32)
        since = len(self.output())
        self.con.send("%s; echo end-%s-$?\n" % (cmd, token))
        m = self.wait_for(r"\[%s\] end-%s-(\d+)\r?\n" % (vm, token), timeout, since)
        lines = [line[len(vm) + 3:].rstrip("\r") for line in
                 self.output()[since:m.start()].split("\n") if line.startswith("[%s] " % vm)]
        # What the command printed: the lines after the shell's echo of it, or after its prompt
        # when another VMM's line (on the same debug console) split the echo off that line.
        echoed = [i for i, line in enumerate(lines) if "end-%s" % token in line or
                  line.startswith("guest# ")]
        lines = lines[echoed[-1] + 1:] if echoed else lines
        lines = [line for line in lines if not KERNEL_LINE.match(line)]
        status = int(m.group(1))
        if expect_status is None:
            return status, lines
        assert status == expect_status, "%s: `%s` exited %d: %s" % (vm, cmd, status,
                                                                     " | ".join(lines[-5:]))
        return lines
