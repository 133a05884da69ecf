"""Drive a QEMU serial console from a test: wait for text with a timeout, type lines, keep a log."""
import os
import select
import subprocess
import time


class Timeout(Exception):
    pass


class Console:
    def __init__(self, argv, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.buf = b""
        self.pos = 0  # everything before pos has been matched already
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _pump(self, wait):
        r, _, _ = select.select([self.proc.stdout], [], [], wait)
        if r:
            data = self.proc.stdout.read()
            if data:
                self.buf += data
                self.log.write(data)
                self.log.flush()
            elif self.proc.poll() is not None:
                raise Timeout("QEMU exited (status %s)" % self.proc.returncode)

    def expect(self, needle, timeout):
        """Wait for `needle` (bytes or str) after the last match; return the text up to it."""
        if isinstance(needle, str):
            needle = needle.encode()
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(needle, self.pos)
            if i >= 0:
                seen = self.buf[self.pos:i + len(needle)]
                self.pos = i + len(needle)
                return seen.decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("%r not seen within %ds" % (needle.decode(), timeout))
            self._pump(min(left, 0.5))

    def output(self):
        """Everything QEMU printed so far (to judge what a run that timed out did show)."""
        return self.buf.decode("utf-8", "replace")

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        try:
            while self._pump(0) is None and self.proc.stdout.read():
                pass
        except (Timeout, ValueError, OSError):
            pass
        self.log.close()
