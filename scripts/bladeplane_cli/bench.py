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
    "fabric-rx": ("CPU cost of a received control frame in net/fabric.c: "
                  "header-only frames and full rounds from a neighbour "
                  "advertising 256 blades of 8 chassis",
                  "tests/bench/bench-fabric-rx"),
    # in the QEMU build (a qtest-driven program), not the host build
    "nic": ("blade-nic frames/s and Gb/s from rings to the lane and back, "
            "interrupts and MMIO per frame",
            "tests/qtest/blade/blade-nic-bench"),
    "switch": ("frames/s and Gb/s through the chassis's switch blade "
               "(lane to lane, lane to uplink) beside QEMU's hub with stream "
               "netdevs, forwarding latency, memory per slot and per flow",
               "tests/qtest/blade/blade-switch-bench"),
    "flood": ("a chassis under floods (random source MACs from a blade, "
              "slot socket connect/close loops, control frames on a chain "
              "port with and without the key): the rate other ports keep "
              "forwarding at, switch RSS growth (docs/security.md)",
              "tests/qtest/blade/blade-switch-flood-bench"),
    "fabric": ("several chassis: latency a chain hop and a central switch "
               "add, frames/s across 1 to 3 chain hops, age of remote "
               "utilization when a flow is placed",
               "tests/qtest/blade/blade-fabric-bench"),
    # in Python (lbemu.py): a chassis with booted blades
    "lb-emu": ("the balancing policies on a real chassis of four unequal "
               "blades: client-measured response times under the same "
               "Poisson load, the hogged blade's share, the ranking; about "
               "8 minutes", None),
    "lb-emu-2": ("the same on two blades of one vCPU, one with a hog: no "
                 "more vCPUs than a 2-core host has cores; about 8 minutes",
                 None),
    # in Python (chaos.py): topologies under load and faults
    "chaos": ("faults over time under the demo's load: kill -9 a random "
              "blade of one chassis every 20 s, then chain3's middle "
              "chassis every 60 s, each restarted; failures attributed to "
              "kills, time out of rotation and back in service, RSS growth, "
              "hangs (docs/security.md); 10 minutes a phase, --minutes M",
              None),
    # in Python (guestbench.py): blades under QEMU
    "guest": ("blade-to-blade ping and iperf3 over blade-nic beside "
              "virtio-net (-netdev stream), boot-to-ready times of 1 and 8 "
              "blades", None),
}


def run(name, minutes=None):
    if name not in BENCHES:
        raise Failure(f"unknown benchmark '{name}': available: "
                      f"{', '.join(sorted(BENCHES))}")
    if minutes is not None and name != "chaos":
        raise Failure(f"--minutes is for bench chaos, not {name}")
    what, program = BENCHES[name]
    packages.ensure_packages()
    step(f"bench {name}: {what}")
    if name in ("lb-emu", "lb-emu-2"):
        from . import lbemu
        return lbemu.run("two" if name == "lb-emu-2" else "four")
    if name == "chaos":
        from . import chaos
        return chaos.run(chaos.MINUTES if minutes is None else minutes)
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
