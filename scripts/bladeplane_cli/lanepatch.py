"""lane-patch --log as a child process: wires two lanes back to back (a
patch cable) and prints what it sees.  Used by the functional tests and
'bench guest'."""

import os
import re
import select
import subprocess
import time

from . import testing


class PatchLog:
    """lane-patch --log, read line by line with a deadline.  Raw reads:
    select() cannot see lines a buffered reader already pulled out of the
    pipe."""

    def __init__(self, *paths):
        self.proc = subprocess.Popen(
            [os.path.join(testing.HOST_BUILD, "tests", "tools", "lane-patch"),
             "--log"] + list(paths),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.partial = ""

    def wait_for(self, line, timeout=30):
        deadline = time.monotonic() + timeout
        while line not in self.lines:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"lane-patch never printed {line!r}; "
                                     f"it printed {self.lines}")
            self._read(left)

    def wait_for_match(self, pattern, timeout=30):
        """Wait for a new line matching pattern (a regex); it is then the
        last line in self.lines."""
        regex = re.compile(pattern)
        seen = len(self.lines)
        deadline = time.monotonic() + timeout
        while True:
            for i in range(seen, len(self.lines)):
                if regex.search(self.lines[i]):
                    self.lines[:] = self.lines[:i + 1]
                    return self.lines[i]
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"lane-patch never printed a line "
                                     f"matching {pattern!r}")
            self._read(left)

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if ready:
            data = os.read(self.proc.stdout.fileno(), 4096)
            if not data:
                raise AssertionError(f"lane-patch exited; it printed "
                                     f"{self.lines}")
            self.partial += data.decode()
            *done, self.partial = self.partial.split("\n")
            self.lines += [l.strip() for l in done]

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
