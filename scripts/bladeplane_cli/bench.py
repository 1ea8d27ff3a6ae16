"""Benchmarks: programs that print 'name: value' figures.  Timing lives
here, never in tests."""

import os
import subprocess

from . import packages, testing
from .common import Failure, step

# name -> (what it measures, program in the host build)
BENCHES = {
    "pcs": ("8b/10b codec and lane transport throughput, cost of "
            "utilization reporting", "tests/bench/bench-pcs"),
}


def run(name):
    if name not in BENCHES:
        raise Failure(f"unknown benchmark '{name}': available: "
                      f"{', '.join(sorted(BENCHES))}")
    what, program = BENCHES[name]
    packages.ensure_packages()
    step(f"bench {name}: {what}")
    testing.setup_host_build(testing.HOST_BUILD)
    return subprocess.run([os.path.join(testing.HOST_BUILD, program)]).returncode
