"""Benchmarks: programs that print 'name: value' figures.  Timing lives
here, never in tests."""

import os
import subprocess
import sys

from . import packages, schema, testing
from .common import Failure, piped, step

# name -> (what it measures, program in the host build)
BENCHES = {
    "pcs": ("8b/10b codec and lane transport throughput, cost of "
            "utilization reporting", "tests/bench/bench-pcs"),
    "lb": ("balancing quality: the simulator (net/balance.c's policies, "
           "JSQ and other oracles) on docs/balancing.md's headline cell, "
           "p99 per policy and the target ratios, then the same for eight "
           "requests per connection (keepalive_*), the CFS model's "
           "predicted service rates with a hog (sim_rate_*), the cells "
           "of bench lb-emu (sim_<cell>_*) and util against its previous "
           "estimator on a hog (hog_*); about 3 minutes",
           "tests/bench/bench-lb"),
    "ring": ("the lane's shared-memory rings (net/lane-ring.c) between two "
             "processes streaming 64- and 1518-octet frame records, beside "
             "a UNIX stream socket pair in the same run; kicks per 1000 "
             "records; about 15 s", "tests/bench/bench-ring"),
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
               "netdevs, four slots at 1 Gb/s at once, forwarding latency, "
               "memory per slot and per flow, then lane to lane with the "
               "slots' lanes on 0, 1 and 2 iothreads; about a minute",
               "tests/qtest/blade/blade-switch-bench"),
    "flood": ("a chassis under floods (random source MACs from a blade, "
              "slot socket connect/close loops, control frames on a chain "
              "port without a key, with a wrong one and with the right "
              "one): the rate other ports keep forwarding at, switch RSS "
              "growth; fails below a rate ratio of 0.9 or over the RSS "
              "bound (docs/security.md)",
              "tests/qtest/blade/blade-switch-flood-bench"),
    "bus": ("the TDM bus backplane against dedicated lanes "
            "(docs/backplane.md): fairness, weighted shares and "
            "utilization of a saturated bus on the chassis clock, then one "
            "seeded offered load through lanes, the bus with equal slots "
            "and on demand in virtual time, p50/p99 latency; fails when a "
            "bound of issue 19 is missed; about 10 s",
            "tests/qtest/blade/blade-switch-bus-bench"),
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
               "--round-s 5; --timing virtual: each cell in virtual time "
               "with a client blade, the same figures on any host (cell c: "
               "a CPU at half speed), 10 to 30 minutes a cell on a 2-core "
               "host", None),
    "lb-calib": ("one blade's request service rate (closed loop) with no "
                 "hog, a nice 0 hog and a nice -10 hog, beside busybox "
                 "httpd's CGI without and with a nice 0 hog; --rounds, "
                 "--round-s, --reqs; about 4 minutes with the defaults; "
                 "--timing virtual: each condition, and a CPU at half "
                 "speed, one boot in virtual time with a client blade, "
                 "the same on every host, about 2 minutes", None),
    # in Python (chaos.py): topologies under load and faults
    "chaos": ("faults over time under the demo's load: kill -9 a random "
              "blade of one chassis every 20 s, then chain3's middle "
              "chassis every 60 s, each restarted; failures attributed to "
              "kills, time out of rotation and back in service, RSS growth, "
              "hangs (docs/security.md); 10 minutes a phase, --minutes M",
              None),
    # in Python (vtimebench.py): chassis brought up in virtual time
    "vtime": ("virtual time: five runs of a two-blade chassis (again, "
              "beside a CPU burner, pinned to one core, without quiet "
              "promises) compared byte for byte, the ping's round trip, "
              "the same pair across two chassis joined by a link, twice, "
              "then 1, 4 and 8 blades doing the same fixed work in virtual "
              "and in real time, and an idle chassis's clock against the "
              "wall, four blades also without quiet promises and in two "
              "chassis (docs/virtual-time.md); about 16 minutes on a quiet "
              "2-core host", None),
    # in Python (guestbench.py): blades under QEMU
    "guest": ("blade-to-blade ping and iperf3 over blade-nic (paced at "
              "1 Gb/s, and unpaced; direct and through a chassis) beside "
              "virtio-net (-netdev stream), "
              "blade-nic without its offloads, writes and interrupts per "
              "1000 frames, boot-to-ready times of 1 and 8 blades; "
              "--timing virtual: the chassis pair, paced and unpaced, in "
              "virtual time, twice each, the same figures on any host, "
              "about 7 minutes", None),
}


def run(name, lb_emu_opts=None, minutes=None):
    """lb_emu_opts: the lb-emu and lb-calib options given (None: their
    defaults); minutes: bench chaos's minutes a phase (None: its default)."""
    if name not in BENCHES:
        raise Failure(f"unknown benchmark '{name}': available: "
                      f"{', '.join(sorted(BENCHES))}")
    if minutes is not None and name != "chaos":
        raise Failure(f"--minutes is for bench chaos, not {name}")
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
    if name == "chaos":
        from . import chaos
        return chaos.run(chaos.MINUTES if minutes is None else minutes)
    if name == "vtime":
        from . import vtimebench
        return vtimebench.run()
    if name == "guest" and (lb_emu_opts or {}).get("timing") == "virtual":
        from . import guestvirtual
        return guestvirtual.run()
    if program is None:
        from . import guestbench, qemu
        qemu.build()
        testing.setup_host_build(testing.HOST_BUILD)      # lane-patch
        return guestbench.run()
    if program.startswith("tests/qtest/"):
        from . import qemu
        qemu.build()
        qemu.ninja([program], f"building {program}")
        if name == "flood":
            return _flood(os.path.join(qemu.QEMU_BUILD, program),
                          qemu.QEMU_BUILD)
        return subprocess.run([os.path.join(qemu.QEMU_BUILD, program)],
                              cwd=qemu.QEMU_BUILD).returncode
    testing.setup_host_build(testing.HOST_BUILD)
    rc = subprocess.run([os.path.join(testing.HOST_BUILD, program)]).returncode
    if name == "lb" and rc == 0:
        rc = _lb_keepalive(os.path.join(testing.HOST_BUILD, program))
    if name == "lb" and rc == 0:
        rc = _lb_cells(os.path.join(testing.HOST_BUILD, program))
    return rc


# bench flood's bounds (docs/security.md, "Floods, measured"): the rate
# the other ports keep under every flood, and the switch's RSS growth
# against the bench's own bound (flood_rss_bound_kib).
FLOOD_RATE_RATIO_MIN = 0.9


def flood_verdict(values):
    """What of bench flood's figures ({name: value}) is out of its bounds,
    one line each; none: it passed."""
    missing = [k for k in ("flood_other_ports_rate_ratio",
                           "flood_rss_growth_kib", "flood_rss_bound_kib")
               if k not in values]
    if missing:
        return [f"no {', '.join(missing)} in the bench's output"]
    out = []
    ratio = float(values["flood_other_ports_rate_ratio"])
    if ratio < FLOOD_RATE_RATIO_MIN:
        low = ", ".join(f"{k} {v}" for k, v in values.items()
                        if k.endswith("_rate_ratio") and
                        k != "flood_other_ports_rate_ratio" and
                        float(v) < FLOOD_RATE_RATIO_MIN)
        out.append(f"the other ports kept {ratio:.3f} of their rate "
                   f"(flood_other_ports_rate_ratio), below "
                   f"{FLOOD_RATE_RATIO_MIN}: {low}")
    growth = int(values["flood_rss_growth_kib"])
    bound = int(values["flood_rss_bound_kib"])
    if growth > bound:
        out.append(f"the switch's RSS grew by {growth} KiB over the floods "
                   f"(flood_rss_growth_kib), over the bound of {bound} KiB "
                   f"(flood_rss_bound_kib)")
    return out


def _flood(program, cwd):
    """Run bench flood, its lines as they come; non-zero if it failed or
    a figure is out of its bounds (said on stderr, as bench chaos does)."""
    proc = subprocess.Popen([program], cwd=cwd, stdout=subprocess.PIPE,
                            text=True)
    values = {}
    for line in piped(proc.stdout):
        print(line, end="", flush=True)
        key, sep, value = line.rstrip("\n").partition(": ")
        if sep:
            values[key] = value
    rc = proc.wait()
    if rc:
        return rc
    failed = flood_verdict(values)
    for what in failed:
        print(f"bladeplane: bench flood: {what}", file=sys.stderr)
    return 1 if failed else 0


# The simulator's oracles (each blade's queue known exactly), then every
# policy; the keep-alive cell leaves out random and wrr-cpu, which its
# table in docs/balancing.md does not compare.
LB_ORACLES = ("jsq", "sed")
LB_CELL_PICKERS = ",".join(LB_ORACLES + schema.enum("BladePolicy"))
LB_KEEPALIVE_PICKERS = ",".join(
    LB_ORACLES + tuple(p for p in schema.enum("BladePolicy")
                       if p not in ("random", "wrr-cpu")))


def _lb_keepalive(program):
    """The second cell of docs/balancing.md: the headline's blades with
    background load too, eight requests per connection.  Its lines carry
    the prefix keepalive_ so that they do not shadow the headline's."""
    out = subprocess.run([program, "--het", "both", "--reqs", "8",
                          "--pickers", LB_KEEPALIVE_PICKERS],
                         capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    for line in out.stdout.splitlines():
        print("keepalive_" + line, flush=True)
    return out.returncode


# The cells of bench lb-emu in the simulator, with the emulator's
# proportions: four blades of one core, exponential service of mean 100 ms,
# eight requests per connection, load 0.7, a report every 100 ms; blade 0
# is the unequal one.  docs/balancing.md puts them beside the emulator's.
LB_EMU_REGIME = ["--blades", "4", "--cores", "1", "--mean-us", "100000",
                 "--load", "0.7", "--report-us", "100000", "--reqs", "8",
                 "--flows", "50000", "--warmup", "5000"]
LB_HOG = ["--het", "hog", "--bg-model", "cfs", "--bg-cores", "1"]
LB_CELLS = [
    ("a", "a nice 0 hog", LB_HOG + ["--nice", "0", "--bg-always"]),
    ("b", "a nice -10 hog", LB_HOG + ["--nice", "-10", "--bg-always"]),
    ("c", "a blade at half speed", ["--het", "slow", "--slow-speed", "0.5"]),
    ("d", "the nice -10 hog on and off, 3 s each on average",
     LB_HOG + ["--nice", "-10", "--bg-on-us", "3000000",
               "--bg-off-us", "3000000"]),
    ("e", "the nice -10 hog, one request per connection",
     LB_HOG + ["--nice", "-10", "--bg-always", "--reqs", "1"]),
]


def _lb_values(program, args):
    out = subprocess.run([program] + args, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    values = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            values[key] = value
    return out.returncode, values


def _lb_cells(program):
    """The CFS model's predicted service rates, the lb-emu cells' p99 and
    ranking by policy, and util against its previous estimator (backlog)
    on cell (a)."""
    rc, rates = _lb_values(program, ["--cfs-rates", "--cores", "1"])
    if rc:
        return rc
    for key in ("sim_rate_nice0_over_none", "sim_rate_nice-10_over_none"):
        print(f"{key}: {rates[key]}", flush=True)
    for cell, what, args in LB_CELLS:
        rc, v = _lb_values(program, LB_EMU_REGIME + args +
                           ["--pickers", LB_CELL_PICKERS])
        if rc:
            return rc
        print(f"sim_{cell}_cell: {what}")
        for picker in LB_CELL_PICKERS.split(","):
            key = picker.replace("-", "_")
            print(f"sim_{cell}_{key}_p99_ms: "
                  f"{float(v[key + '_p99_us']) / 1000:.1f}")
        print(f"sim_{cell}_p99_rank: {v['p99_rank']}")
        print(f"sim_{cell}_util_rank: {v['util_rank']}")
        print(f"sim_{cell}_p99_prequal_over_util: "
              f"{v['p99_prequal_over_util']}", flush=True)
    hog = LB_EMU_REGIME + LB_CELLS[0][2] + ["--pickers", "util"]
    rc, now = _lb_values(program, hog)
    if rc:
        return rc
    rc, before = _lb_values(program, hog + ["--estimator", "backlog"])
    if rc:
        return rc
    util, backlog = float(now["util_p99_us"]), float(before["util_p99_us"])
    print(f"hog_util_p99_ms: {util / 1000:.1f}")
    print(f"hog_util_backlog_p99_ms: {backlog / 1000:.1f}")
    print(f"hog_p99_util_backlog_over_util: {backlog / util:.3f}", flush=True)
    return 0
