"""Benchmarks: programs that print 'name: value' figures.  Timing lives
here, never in tests."""

import os
import subprocess
import sys

from . import packages, testing
from .common import Failure, step

# name -> (what it measures, program in the host build)
BENCHES = {
    "pcs": ("8b/10b codec and lane transport throughput, cost of "
            "utilization reporting", "tests/bench/bench-pcs"),
    "lb": ("balancing quality: the simulator (net/balance.c's policies, "
           "JSQ and other oracles) on docs/balancing.md's headline cell, "
           "p99 per policy and the target ratios, then the same for eight "
           "requests per connection (keepalive_*); about 2 minutes",
           "tests/bench/bench-lb"),
    # in the QEMU build (a qtest-driven program), not the host build
    "nic": ("blade-nic frames/s and Gb/s from rings to the lane and back, "
            "interrupts and MMIO per frame",
            "tests/qtest/blade/blade-nic-bench"),
    "switch": ("frames/s and Gb/s through the chassis's switch blade "
               "(lane to lane, lane to uplink) beside QEMU's hub with stream "
               "netdevs, forwarding latency, memory per slot and per flow",
               "tests/qtest/blade/blade-switch-bench"),
    "fabric": ("several chassis: latency a chain hop and a central switch "
               "add, frames/s across 1 to 3 chain hops, age of remote "
               "utilization when a flow is placed",
               "tests/qtest/blade/blade-fabric-bench"),
    # in Python (lbemu.py): a chassis with booted blades
    "lb-emu": ("the balancing policies on booted blades: cells of three "
               "unequal blades (a: nice 0 hog, b: nice -10 hog, c: a blade "
               "with fewer vCPUs, d: a hog that comes and goes, e: b with "
               "one request per connection) under the same open-loop "
               "keep-alive load, p99 per policy with 95 % bootstrap "
               "intervals, util's rank; --cells, --rounds, --round-s, "
               "--warmup-s, --reqs; about an hour with the defaults on a "
               "busy 2-core host, about 5 minutes with --cells b --rounds 2 "
               "--round-s 5", None),
    "lb-calib": ("one blade's request service rate (closed loop) with no "
                 "hog, a nice 0 hog and a nice -10 hog, beside busybox "
                 "httpd's CGI without and with a nice 0 hog; --rounds, "
                 "--round-s, --reqs; about 4 minutes with the defaults",
                 None),
    # in Python (guestbench.py): blades under QEMU
    "guest": ("blade-to-blade ping and iperf3 over blade-nic beside "
              "virtio-net (-netdev stream), boot-to-ready times of 1 and 8 "
              "blades", None),
}


def run(name, lb_emu_opts=None):
    """lb_emu_opts: the lb-emu and lb-calib options given (None: their
    defaults)."""
    if name not in BENCHES:
        raise Failure(f"unknown benchmark '{name}': available: "
                      f"{', '.join(sorted(BENCHES))}")
    what, program = BENCHES[name]
    packages.ensure_packages()
    step(f"bench {name}: {what}")
    if name in ("lb-emu", "lb-calib"):
        from . import lbemu
        opts = {k: v for k, v in (lb_emu_opts or {}).items() if v is not None}
        if name == "lb-calib":
            opts.pop("cells", None)
            opts.pop("warmup_s", None)
            return lbemu.run_calib(**opts)
        return lbemu.run(**opts)
    if program is None:
        from . import guestbench, qemu
        qemu.build()
        testing.setup_host_build(testing.HOST_BUILD)      # lane-patch
        return guestbench.run()
    if program.startswith("tests/qtest/"):
        from . import qemu
        qemu.build()
        qemu.ninja([program], f"building {program}")
        return subprocess.run([os.path.join(qemu.QEMU_BUILD, program)],
                              cwd=qemu.QEMU_BUILD).returncode
    testing.setup_host_build(testing.HOST_BUILD)
    rc = subprocess.run([os.path.join(testing.HOST_BUILD, program)]).returncode
    if name == "lb" and rc == 0:
        rc = _lb_keepalive(os.path.join(testing.HOST_BUILD, program))
    return rc


def _lb_keepalive(program):
    """The second cell of docs/balancing.md: the headline's blades with
    background load too, eight requests per connection.  Its lines carry
    the prefix keepalive_ so that they do not shadow the headline's."""
    out = subprocess.run([program, "--het", "both", "--reqs", "8",
                          "--pickers", "jsq,sed,util,leastconn,p2c-conn,rr"],
                         capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    for line in out.stdout.splitlines():
        print("keepalive_" + line, flush=True)
    return out.returncode
