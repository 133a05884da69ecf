"""A sequence of named end-to-end checks: each prints "ok", "FAIL" or "SKIPPED" with its time and
detail; after a failure the rest are skipped (they would only repeat it); the summary line is
"e2e <name>: N passed, N failed, N skipped", and a check that did not run never counts as passed."""
import subprocess
import time

from qemu_console import Timeout


class Checks:
    def __init__(self, name, names):
        self.name = name
        self.names = names
        self.results = []

    def run(self, name, fn):
        if self.results and not all(self.results):
            print("SKIPPED e2e %s %s: not run after an earlier failure" % (self.name, name),
                  flush=True)
            return False
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            self.results.append(True)
            print("ok   e2e %s %s (%.1fs) %s" % (self.name, name, time.monotonic() - t0, detail),
                  flush=True)
            return True
        except (Timeout, AssertionError, subprocess.CalledProcessError) as e:
            self.results.append(False)
            print("FAIL e2e %s %s: %s" % (self.name, name, e), flush=True)
            return False

    def summary(self):
        p = sum(self.results)
        f = len(self.results) - p
        s = len(self.names) - len(self.results)
        print("e2e %s: %d passed, %d failed, %d skipped" % (self.name, p, f, s))
        return 1 if f else 0
