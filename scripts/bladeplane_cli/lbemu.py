"""`bench lb-emu` and `bench lb-calib`: the balancing policies on booted
blades.

lb-emu runs cells of unequal blades (CELLS).  In each, the host sends
open-loop load to blade-httpd (port 8080 of every blade, keep-alive
HTTP/1.1) through a service VIP: connections arrive as a Poisson process,
each carrying `reqs` requests (default 8) one after the other.  A
closed-loop run first measures what the cell's blades answer per second;
every policy then gets the same arrival rate (LOAD_FRACTION of that),
in rounds that take the policies in turn (each round starting one
policy later), so that a host busy elsewhere for a while hurts all
policies alike.  Each policy's p99 gets a 95 % percentile-bootstrap
confidence interval over blocks of BLOCK_S seconds of arrivals (the
requests of the connections that arrived in a block stay together:
requests close in time wait in the same queues and are not independent
samples).

lb-calib measures one blade's request service rate (closed loop) with no
hog, a nice 0 hog and a nice -10 hog, in interleaved rounds: what the
simulator's CFS model is calibrated against; and busybox httpd's CGI
without and with a nice 0 hog, for comparison.

Both print 'name: value' lines; docs/balancing.md ("On booted blades")
describes them and the figures measured.
"""

import collections
import dataclasses
import os
import random
import tempfile
import time

from . import blade, chassis, image, qemu, rundir, topology
from .common import Failure, say, step
from .console import ConsoleSession
from .demo import free_port
from .loadgen import LoadGenerator, OpenLoop
from .qmp import CommandError

# /cgi-bin/work?kb=KB on blade-httpd: about 20 ms of hashing on an idle TCG
# blade; lighter than the CGI's kb=32 (about 90 ms, most of it process
# starts), so that a run on a shared host gathers more requests a second.
KB = 256
HTTPD_PORT = 8080           # blade-httpd in the blade image
SLOW = "b1"                 # the blade each cell makes unequal
CAPACITY_S = 10             # closed loop, to find the cell's capacity
LOAD_FRACTION = 0.7
BLOCK_S = 2.5               # bootstrap unit: arrivals of this long
BOOT_REPS = 2000            # bootstrap resamples
ROUNDS = 5
ROUND_S = 10.0              # measured, per policy and round
WARMUP_S = 3.0              # after each change of policy, not measured
REQS = 8                    # requests per connection
SEED = 1


@dataclasses.dataclass
class Cell:
    name: str
    what: str
    cpus: list              # vCPUs per slot, SLOW is slot 1
    hog: str = ""           # blade-hog start options on SLOW, "" = none
    reqs: int | None = None  # requests per connection (None: the default)
    # virtual time: SLOW's icount_shift (its CPU 2**shift times slower);
    # the blades have one vCPU each there (icount runs a blade's vCPUs in
    # turn on one clock: a second vCPU adds no capacity)
    shift: int = 0
    vt_what: str | None = None  # what the cell is in virtual time, if not `what`


CELLS = {
    "a": Cell("a", "a nice 0 CPU hog on b1", [1, 1, 1], "-n 0 1"),
    "b": Cell("b", "a nice -10 CPU hog on b1: a truly slow blade",
              [1, 1, 1], "-n -10 1"),
    "c": Cell("c", "b1 with one vCPU, b0 and b2 with two", [2, 1, 2],
              shift=1, vt_what="b1's CPU at half the speed of b0's and "
              "b2's (icount_shift 1)"),
    "d": Cell("d", "background load that comes and goes on b1: a nice -10 "
              "hog 3 s on, 3 s off", [1, 1, 1], "-n -10 -p 3,3 1",
              vt_what="background load that comes and goes on b1: a nice "
              "-10 hog on for half of each measured phase's length, off for "
              "the other half"),
    "e": Cell("e", "cell b with one request per connection", [1, 1, 1],
              "-n -10 1", reqs=1),
}
SLOW_CELLS = ("b", "c")     # emu_slow_cells_util_over_best_baseline

TOPOLOGY = """\
name = "{name}"
[[chassis]]
name = "c1"
slots = {slots}
[chassis.uplink]
forward = [{forwards}]
[chassis.switch]
seed = 1
{blades}{services}"""

SERVICE = """[[chassis.service]]
name = "{name}"
vip = "10.0.2.100"
port = {port}
policy = "util"
"""


def topology_text(name, cpus, ports):
    """A chassis of len(cpus) blades; ports: {guest port: host port},
    each a service on the VIP (port 8080: 'web', port 80: 'cgi')."""
    blades = ""
    for slot, n in enumerate(cpus):
        blades += f"[[chassis.blade]]\nslot = {slot}\n"
        if n != 1:
            blades += f"cpus = {n}\n"
    forwards = ", ".join(f'"tcp:127.0.0.1:{host}-10.0.2.100:{guest}"'
                         for guest, host in sorted(ports.items()))
    services = "".join(SERVICE.format(name="web" if g == HTTPD_PORT else "cgi",
                                      port=g) for g in sorted(ports))
    return TOPOLOGY.format(name=name, slots=len(cpus), forwards=forwards,
                           blades=blades, services=services)


# ---- statistics (pure; tests/scripts/test_lbemu.py) ----------------------

def percentile(values, p):
    """The p-quantile (0..1) of values: the smallest value with at least
    p of them below it, as the project's benches take it."""
    v = sorted(values)
    if not v:
        raise ValueError("no values")
    return v[min(len(v) - 1, int(p * len(v)))]


def blocks(requests, block_s=BLOCK_S):
    """Group (offset, response time, blade) records of one round into
    blocks by their connection's arrival: [[response time, ...], ...]."""
    by = collections.defaultdict(list)
    for offset, rt, _ in requests:
        by[int(offset // block_s)].append(rt)
    return [by[k] for k in sorted(by)]


def bootstrap_ci(groups, stat, reps=BOOT_REPS, level=0.95, seed=SEED):
    """Percentile bootstrap interval of stat(pooled values): resample the
    groups (blocks) with replacement, as many as there are, pool their
    values, take stat; the interval holds the middle `level` of the reps
    statistics.  Returns (lo, hi)."""
    groups = [g for g in groups if g]
    if not groups:
        raise ValueError("no groups")
    rng = random.Random(seed)
    stats = []
    for _ in range(reps):
        pooled = []
        for _ in range(len(groups)):
            pooled += groups[rng.randrange(len(groups))]
        stats.append(stat(pooled))
    stats.sort()
    tail = (1 - level) / 2
    lo = stats[int(tail * reps)]
    hi = stats[min(reps - 1, int((1 - tail) * reps))]
    return lo, hi


@dataclasses.dataclass
class PolicyResult:
    p50: float
    p99: float
    lo: float               # 95 % interval of the p99
    hi: float
    requests: int


def summarize(groups, reps=BOOT_REPS, seed=SEED):
    values = [v for g in groups for v in g]
    lo, hi = bootstrap_ci(groups, lambda v: percentile(v, 0.99), reps,
                          seed=seed)
    return PolicyResult(percentile(values, 0.5), percentile(values, 0.99),
                        lo, hi, len(values))


def util_rank(results):
    """util's place by p99 (1 = best; ties share the better place)."""
    return 1 + sum(r.p99 < results["util"].p99 for r in results.values())


def util_best_or_tied(results):
    """util's p99 is the lowest, or its interval overlaps the lowest's."""
    best = min(results.values(), key=lambda r: r.p99)
    u = results["util"]
    return u.p99 <= best.p99 or (u.lo <= best.hi and best.lo <= u.hi)


def best_baseline(results):
    """(name, result) of the policy other than util with the lowest p99."""
    return min(((p, r) for p, r in results.items() if p != "util"),
               key=lambda pr: pr[1].p99)


def cell_lines(cell, results):
    """The 'name: value' lines of one cell (results: {policy:
    PolicyResult}, in the order the policies are listed)."""
    lines = []
    for policy, r in results.items():
        pre = f"emu_{cell}_{policy}"
        lines += [f"{pre}_p50_ms: {r.p50 * 1e3:.0f}",
                  f"{pre}_p99_ms: {r.p99 * 1e3:.0f}",
                  f"{pre}_p99_ci_lo_ms: {r.lo * 1e3:.0f}",
                  f"{pre}_p99_ci_hi_ms: {r.hi * 1e3:.0f}",
                  f"{pre}_requests: {r.requests}"]
    if "util" in results and len(results) > 1:
        name, base = best_baseline(results)
        lines += [f"emu_{cell}_util_rank: {util_rank(results)}",
                  f"emu_{cell}_best_baseline: {name}",
                  f"emu_{cell}_best_baseline_over_util: "
                  f"{base.p99 / results['util'].p99:.2f}"]
    return lines


def summary_lines(cells):
    """The lines over all cells run (cells: {cell: {policy:
    PolicyResult}})."""
    judged = {c: r for c, r in cells.items() if "util" in r and len(r) > 1}
    lines = []
    if judged:
        n = sum(util_best_or_tied(r) for r in judged.values())
        lines.append(f"emu_cells_util_best_or_tied: {n} of {len(judged)}")
    factors = [best_baseline(judged[c])[1].p99 / judged[c]["util"].p99
               for c in SLOW_CELLS if c in judged]
    if factors:
        lines.append(f"emu_slow_cells_util_over_best_baseline: "
                     f"{min(factors):.2f}")
    return lines


# ---- running blades -----------------------------------------------------

class Chassis:
    """A topology brought up for a bench, with its QMP socket and the
    blades' consoles; a context manager that brings it down."""

    def __init__(self, name, cpus, accel, ports=(HTTPD_PORT,)):
        self.qemu_bin = qemu.build()
        self.manifest = image.build()
        self.accel = accel
        self.ports = {p: free_port("127.0.0.1", 0) for p in ports}
        self.tmp = tempfile.TemporaryDirectory()
        path = os.path.join(self.tmp.name, f"{name}.toml")
        with open(path, "w") as f:
            f.write(topology_text(name, cpus, self.ports))
        self.topo = topology.load(path)
        self.ch = self.topo.chassis[0]
        self.run: rundir.Run | None = None     # while in the with block

    def __enter__(self):
        step(f"up: one chassis, {len(self.ch.blades)} blades of "
             f"{', '.join(str(b.cpus) for b in self.ch.blades)} vCPUs")
        self.run, not_in = chassis.Launcher(
            self.topo, self.accel, self.qemu_bin, self.manifest).up()
        self.qmp = chassis.chassis_files(self.run.path, self.ch)["qmp"]
        if not_in:
            chassis.down(self.run)
            self.tmp.cleanup()
            raise Failure("blades not in rotation: " + ", ".join(not_in))
        return self

    def __exit__(self, *exc):
        chassis.down(self.run)
        self.tmp.cleanup()

    def console(self, name, command, timeout=60):
        if self.run is None:
            raise RuntimeError("the chassis is not up (use it in a with)")
        proc = next(p for p in self.run.processes() if p["name"] == name)
        con = ConsoleSession(proc["console"], f"blade {name}")
        try:
            status, out = con.run(command, timeout=timeout)
        finally:
            con.close()
        if status != 0:
            raise Failure(f"{name}: '{command}' failed: {out.strip()}")
        return out.strip()

    def hog(self, options, name=SLOW):
        """Stop any hog on blade `name`, then start one with these
        blade-hog options ("": none)."""
        self.console(name, "blade-hog stop")
        if options:
            say(f"{name}: {self.console(name, 'blade-hog start ' + options)}")

    def set_policy(self, policy, service="web"):
        with chassis.QMP.connect(self.qmp, "chassis c1", 10) as q:
            q.execute("blade-switch-set-policy",
                      {"name": service, "policy": policy})

    def new_flows(self):
        state = chassis.read_switch(self.qmp, "chassis c1")
        return {b["slot"]: b["new_flows"] for b in state["blades"]}


def usable_policies(box):
    """The switch's policies (topology.POLICIES, so that a new one is run
    as soon as it exists), util first; one the switch refuses is left
    out with a message."""
    ok = []
    for policy in ["util"] + [p for p in topology.POLICIES if p != "util"]:
        try:
            box.set_policy(policy)
        except CommandError as e:
            say(f"policy {policy} left out: the switch refused it ({e})")
            continue
        ok.append(policy)
    return ok


def capacity(box, reqs):
    """Requests per second the cell answers, closed loop under leastconn
    (which follows the blades' real queues), two connections per vCPU."""
    box.set_policy("leastconn")
    threads = 2 * sum(b.cpus for b in box.ch.blades)
    step(f"capacity: {CAPACITY_S} s of closed-loop load, {threads} "
         f"connections of {reqs} requests")
    gen = LoadGenerator("127.0.0.1", box.ports[HTTPD_PORT],
                        f"/cgi-bin/work?kb={KB}", threads=threads,
                        reqs=reqs).start()
    time.sleep(CAPACITY_S)
    gen.stop()
    snap = gen.snapshot()
    if snap["ok"] == 0:
        raise Failure(f"no answers in {CAPACITY_S} s ({snap['last_error']})")
    return snap["ok"] / CAPACITY_S


def run_cell(box, cell, policies, opts):
    reqs = cell.reqs or opts["reqs"]
    print(f"# cell {cell.name}: {cell.what}; {reqs} request"
          f"{'s' if reqs > 1 else ''} per connection", flush=True)
    box.hog(cell.hog)
    try:
        cap = capacity(box, reqs)
        rate = cap * LOAD_FRACTION
        print(f"emu_{cell.name}_capacity_rps: {cap:.2f}")
        print(f"emu_{cell.name}_rate_rps: {rate:.2f}", flush=True)
        port = box.ports[HTTPD_PORT]
        path = f"/cgi-bin/work?kb={KB}"
        # per policy: response times in blocks, flows per slot, failures
        groups: dict[str, list[list[float]]] = {p: [] for p in policies}
        flows: dict[str, collections.Counter[int]] = {
            p: collections.Counter() for p in policies}
        failed: collections.Counter[str] = collections.Counter()
        split = 0
        slow_slot = box.ch.blade(SLOW).slot
        rounds = opts["rounds"]
        for rnd in range(rounds):
            order = policies[rnd % len(policies):] + \
                policies[:rnd % len(policies)]
            for policy in order:
                box.set_policy(policy)
                step(f"cell {cell.name}, round {rnd + 1}/{rounds}, "
                     f"{policy}: {opts['warmup_s']:g} s warm-up, "
                     f"{opts['round_s']:g} s of {rate / reqs:.2f} "
                     f"connections/s")
                seed = SEED + 1000 * rnd
                OpenLoop("127.0.0.1", port, path, rate / reqs,
                         opts["warmup_s"], reqs, seed).run()
                before = box.new_flows()
                ol = OpenLoop("127.0.0.1", port, path, rate / reqs,
                              opts["round_s"], reqs, seed + 1).run()
                after = box.new_flows()
                for slot, n in after.items():
                    flows[policy][slot] += n - before.get(slot, 0)
                groups[policy] += blocks(ol.requests)
                failed[policy] += ol.failed
                split += ol.split
                if ol.failed:
                    say(f"{policy}: {ol.failed} connections failed "
                        f"(last: {ol.last_error})")
    finally:
        box.hog("")
    results = {}
    for policy in policies:
        if not any(groups[policy]):
            raise Failure(f"cell {cell.name}, {policy}: no answers")
        results[policy] = summarize(groups[policy])
    for line in cell_lines(cell.name, results):
        print(line)
    for policy in policies:
        total = sum(flows[policy].values()) or 1
        print(f"emu_{cell.name}_{policy}_slow_share: "
              f"{flows[policy][slow_slot] / total:.3f}")
        print(f"emu_{cell.name}_{policy}_failed: {failed[policy]}")
    print(f"emu_{cell.name}_split_connections: {split}", flush=True)
    return results


def pick_cells(cells):
    cells = "".join(dict.fromkeys(cells.replace(",", "")))
    unknown = [c for c in cells if c not in CELLS]
    if unknown or not cells:
        raise Failure(f"unknown cells {','.join(unknown)}: choose from "
                      f"{', '.join(CELLS)}")
    return cells


def run(accel="auto", cells="abcde", rounds=None, round_s=None,
        warmup_s=None, reqs=REQS, timing="real"):
    cells = pick_cells(cells)
    if timing == "virtual":
        from . import lbvirtual
        return lbvirtual.run(cells, rounds, round_s, warmup_s, reqs)
    rounds = rounds or ROUNDS
    round_s = round_s or ROUND_S
    warmup_s = warmup_s or WARMUP_S
    opts = {"rounds": rounds, "round_s": round_s, "warmup_s": warmup_s,
            "reqs": reqs}
    chosen, reason = blade.choose_accel(accel)
    say(f"accelerator: {chosen} ({reason})")
    print(f"# lb-emu: {rounds} rounds of {round_s:g} s per policy and cell "
          f"after {warmup_s:g} s of warm-up; load {LOAD_FRACTION:g} of the "
          f"cell's capacity; /cgi-bin/work?kb={KB} on blade-httpd; p99 "
          f"intervals: 95 % percentile bootstrap over {BLOCK_S:g} s blocks "
          f"of arrivals, {BOOT_REPS} resamples", flush=True)
    results = {}
    # Cells on the same blades share one boot.
    by_cpus: collections.OrderedDict[tuple[int, ...], list[Cell]] = \
        collections.OrderedDict()
    for c in cells:
        by_cpus.setdefault(tuple(CELLS[c].cpus), []).append(CELLS[c])
    for cpus, group in by_cpus.items():
        with Chassis("lb-emu", list(cpus), chosen) as box:
            policies = usable_policies(box)
            for cell in group:
                results[cell.name] = run_cell(box, cell, policies, opts)
    for line in summary_lines(results):
        print(line)
    return 0


# ---- lb-calib -----------------------------------------------------------

CALIB_HOGS = {"none": "", "nice0": "-n 0 1", "nice-10": "-n -10 1"}
CALIB_CONNS = 4             # closed-loop connections on the one blade


def run_calib(accel="auto", rounds=None, round_s=None, reqs=REQS,
              timing="real"):
    if timing == "virtual":
        from . import lbvirtual
        return lbvirtual.run_calib(rounds, round_s, reqs)
    rounds = rounds or 3
    round_s = round_s or 10.0
    chosen, reason = blade.choose_accel(accel)
    say(f"accelerator: {chosen} ({reason})")
    print(f"# lb-calib: one blade of one vCPU, {CALIB_CONNS} closed-loop "
          f"connections of {reqs} requests, {rounds} rounds of {round_s:g} "
          f"s per condition", flush=True)
    # answers per condition
    done: collections.Counter[str] = collections.Counter()
    cgi: collections.Counter[str] = collections.Counter()
    with Chassis("lb-calib", [1], chosen, ports=(HTTPD_PORT, 80)) as box:
        for service in ("web", "cgi"):
            box.set_policy("rr", service)

        def closed_loop(port, path, r):
            gen = LoadGenerator("127.0.0.1", port, path, threads=CALIB_CONNS,
                                reqs=r).start()
            time.sleep(round_s)
            gen.stop()
            snap = gen.snapshot()
            if snap["failed"]:
                say(f"{snap['failed']} failed ({snap['last_error']})")
            return snap["ok"]

        for rnd in range(rounds):
            for cond, hog in CALIB_HOGS.items():
                step(f"round {rnd + 1}/{rounds}: {cond}")
                box.hog(hog, "b0")
                done[cond] += closed_loop(box.ports[HTTPD_PORT],
                                          f"/cgi-bin/work?kb={KB}", reqs)
            for cond in ("none", "nice0"):
                step(f"round {rnd + 1}/{rounds}: busybox httpd's CGI, "
                     f"kb=32, {cond}")
                box.hog(CALIB_HOGS[cond], "b0")
                cgi[cond] += closed_loop(box.ports[80], "/cgi-bin/work?kb=32",
                                         1)
            box.hog("", "b0")
    seconds = rounds * round_s
    rate = {c: done[c] / seconds for c in CALIB_HOGS}
    for c in CALIB_HOGS:
        print(f"emu_rate_{c}_rps: {rate[c]:.2f}")
    if rate["none"] <= 0:
        raise Failure("no answers without a hog")
    for c in ("nice0", "nice-10"):
        print(f"emu_rate_{c}_over_none: {rate[c] / rate['none']:.3f}")
    print(f"emu_service_ms_httpd_kb{KB}: {1e3 / rate['none']:.1f}")
    # The CGI, one process per request, against a nice 0 hog: how the
    # earlier lb-emu's blades were slowed (docs/balancing.md).
    if cgi["none"]:
        print(f"emu_service_ms_cgi_kb32: {1e3 * seconds / cgi['none']:.1f}")
        print(f"emu_rate_cgi_nice0_over_none: "
              f"{cgi['nice0'] / cgi['none']:.3f}")
    return 0
