"""lane-patch --log as a child process: wires two lanes back to back (a
patch cable) and prints what it sees.  Used by the functional tests and
'bench guest'."""

import os
import re
import subprocess
import threading
import time

from . import testing
from .common import piped


class PatchLog:
    """lane-patch --log, its lines read by a thread of their own with a
    deadline for the waiters.  lane-patch prints a line for every
    utilization set: a pipe nobody drains fills within a minute or two of
    traffic, and lane-patch, blocked in printf, would stop relaying frames."""

    # Lines kept at most (the oldest go first): bounded memory however long
    # a test or bench runs.
    MAX_LINES = 100000

    def __init__(self, *paths):
        self.proc = subprocess.Popen(
            [os.path.join(testing.HOST_BUILD, "tests", "tools", "lane-patch"),
             "--log"] + list(paths),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.exited = False
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        partial = ""
        while True:
            data = os.read(piped(self.proc.stdout).fileno(), 4096)
            with self.cond:
                if not data:
                    self.exited = True
                    self.cond.notify_all()
                    return
                partial += data.decode(errors="replace")
                *done, partial = partial.split("\n")
                self.lines += [line.strip() for line in done]
                del self.lines[:-self.MAX_LINES]
                self.cond.notify_all()

    def _wait(self, found, timeout, what):
        """Wait until found() (called with the lock held) returns a value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = found()
                if value is not None:
                    return value
                left = deadline - time.monotonic()
                if self.exited:
                    raise AssertionError(f"lane-patch exited before it "
                                         f"printed {what}; it printed "
                                         f"{self.lines[-50:]}")
                if left <= 0:
                    raise AssertionError(f"lane-patch never printed {what}; "
                                         f"it printed {self.lines[-50:]}")
                self.cond.wait(left)

    def wait_for(self, line, timeout=30):
        self._wait(lambda: True if line in self.lines else None, timeout,
                   repr(line))

    def wait_for_match(self, pattern, timeout=30):
        """Wait for a new line matching pattern (a regex); it is then the
        last line in self.lines."""
        regex = re.compile(pattern)
        with self.cond:
            seen = len(self.lines)

        def found():
            nonlocal seen
            seen = min(seen, len(self.lines))
            for i in range(seen, len(self.lines)):
                if regex.search(self.lines[i]):
                    del self.lines[i + 1:]
                    return self.lines[i]
            seen = len(self.lines)
            return None
        return self._wait(found, timeout, f"a line matching {pattern!r}")

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.reader.join(10)
        piped(self.proc.stdout).close()
