"""Shared set-up for the functional tests: import the CLI's modules and
read the accelerator that 'scripts/bladeplane test' chose."""

import os
import re
import select
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))

from bladeplane_cli import blade, qemu, testing  # noqa: E402,F401


def accel():
    """The accelerator chosen by the runner, or the auto choice when a test
    module is run on its own (python3 -m unittest)."""
    chosen = os.environ.get("BLADEPLANE_ACCEL")
    if not chosen:
        chosen, _ = blade.choose_accel("auto")
        os.environ["BLADEPLANE_ACCEL"] = chosen
    return chosen


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
