"""`bench lb-emu --timing virtual`: the balancing cells on booted blades
in virtual time (docs/virtual-time.md), the run the host cannot disturb.

A chassis in virtual time takes no traffic from the host (its uplink is
real time), so the load comes from a client blade in the last slot:
blade-loadgen (images/programs/blade-loadgen.c), started by blade.run,
sends the same open-loop keep-alive load as `bench lb-emu` to the
services' VIPs through the switch and logs every request in the guest's
clock, which is the virtual clock.  Each policy is a service of its own,
on a VIP of its own (VIP_BASE + its index) served by the three blades on
port 8080, so the client takes the policies in turn, in rotating rounds
on the same arrivals, without the host touching the chassis: the whole
run, per-request log included, is the same on every host and under any
load.

A cell is one boot: b1's hog starts from its blade.run, and cell c's
slow blade is a CPU at half speed (icount_shift 1) rather than fewer
vCPUs (under icount a blade's vCPUs take turns on one clock, so a second
one adds no capacity).  The client first waits until every blade has
answered, then measures the cell's capacity closed loop under
`leastconn`, then offers LOAD_FRACTION of it.  It waits on the blades'
own addresses (blade-loadgen -A), not on a VIP: its probes then pass the
switch as plain frames and count among no service's flows; and then
SETTLE_S more, until the switch has every blade in rotation (waiting on
a VIP waited for that too).

Prints the lines `bench lb-emu` prints, from the client's log."""

import collections
import os
import re
import tempfile

from . import image, qemu, topology
from .common import Failure, say, step
from .lbemu import (BOOT_REPS, CALIB_CONNS, CALIB_HOGS, CELLS,
                    LOAD_FRACTION, SLOW, Cell, cell_lines, summarize,
                    summary_lines)
from .vtimebench import run_to_end

SERVERS = ("b0", "b1", "b2")
CLIENT = "client"
SUBNET = "10.0.2.0/24"
VIP_BASE = 100              # policy i's VIP: 10.0.2.(VIP_BASE + i)
LATENCY_NS = 50000          # each lane, per direction (bench vtime's)
# blade-loadgen's default path, /cgi-bin/work?kb=64 on blade-httpd (a
# blade.run value cannot carry a '?')
KB = 64
# after the wait (-S): a blade answers on its own address once its link
# is up, the switch puts it in rotation with its first utilization report,
# one report interval (100 ms) after its interface came up; until then a
# new flow finds no blade, and its SYN is sent again a second later
SETTLE_S = 0.5
CAPACITY_S = 2.0            # closed loop under rr, virtual seconds
CAPACITY_CONNS = 6          # two per blade: each kept busy
ROUNDS = 2
ROUND_S = 1.5               # measured, per policy and round (virtual s)
WARMUP_S = 0.3
BLOCK_S = 0.25              # bootstrap unit: arrivals of this long
SEED = 1
TIMEOUT_S = 7200            # wall seconds a cell may take


def vip(i):
    return f"10.0.2.{VIP_BASE + i}"


def server_ip(slot):
    """A server blade's own address (topology_text sets it; the default
    for its slot), where the client's -W probes it."""
    return f"10.0.2.{10 + slot}"


def policies():
    """rr first: the order of the VIPs, and so of the targets in each
    round."""
    return ["rr"] + [p for p in topology.POLICIES if p != "rr"]


def loadgen_args(cell, pols, rounds, round_s, warmup_s, reqs):
    # -W waits until every server answers on its own address (-A), not
    # on a VIP, so that no service counts the probes among its flows,
    # then SETTLE_S for the switch to have them all in rotation; the
    # capacity under leastconn, which follows the blades' queues (rr
    # would leave most of a closed loop's connections on the slow blade)
    probes = [a for slot in range(len(SERVERS))
              for a in ("-A", server_ip(slot))]
    return ["blade-loadgen", "-W", str(len(SERVERS))] + probes + [
            "-S", f"{SETTLE_S:g}", "-c", f"{CAPACITY_S:g}", "-C", str(CAPACITY_CONNS),
            "-K", str(pols.index("leastconn") + 1),
            "-f", f"{LOAD_FRACTION:g}", "-n", str(rounds),
            "-w", f"{warmup_s:g}", "-m", f"{round_s:g}",
            "-r", str(cell.reqs or reqs), "-s", str(SEED)] + \
        [vip(i) for i in range(len(pols))]


def topology_text(name, cell, pols, args, round_s=ROUND_S,
                  snapshot_ns=None, servers=SERVERS, slow=SLOW):
    """The cell's chassis: `servers` in the first slots, `slow` among them
    made unequal as `cell` says, the client in the last slot running
    `args`, and one service per policy of `pols` on the servers."""
    lines = [f'name = "{name}"', 'timing = "virtual"', "", "[[chassis]]",
             'name = "c1"', f"slots = {len(servers) + 1}",
             f'subnet = "{SUBNET}"', f"latency_ns = {LATENCY_NS}",
             "[chassis.switch]", "seed = 1"]
    if snapshot_ns:
        lines.append(f"vtime-snapshot-ns = {snapshot_ns}")
    for slot, name_ in enumerate(servers):
        lines += ["", "[[chassis.blade]]", f"slot = {slot}",
                  f'name = "{name_}"', f'ip = "{server_ip(slot)}"']
        if name_ == slow and cell.shift:
            lines.append(f"icount_shift = {cell.shift}")
        if name_ == slow and cell.hog:
            hog = cell.hog.split()
            if "-p" in hog:
                # A period of the measured phase's length: every phase then
                # holds the same time of hog wherever it starts, so every
                # policy meets the same load (ON:OFF: blade.run separates
                # arguments by commas).
                hog[hog.index("-p") + 1] = f"{round_s / 2:g}:{round_s / 2:g}"
            hog = ",".join(["blade-hog", "start"] + hog)
            lines.append(f'append = "blade.run={hog}"')
    lines += ["", "[[chassis.blade]]", f"slot = {len(servers)}",
              f'name = "{CLIENT}"',
              f'append = "blade.http=0 blade.run={",".join(args)}"']
    members = ", ".join(str(s) for s in range(len(servers)))
    for i, policy in enumerate(pols):
        lines += ["", "[[chassis.service]]", f'name = "{policy}"',
                  f'vip = "{vip(i)}"', "port = 8080",
                  f"blades = [{members}]", f'policy = "{policy}"']
    return "\n".join(lines) + "\n"


def run_output(console):
    """The lines blade.run printed: between the markers, without the
    serial port's carriage returns.  console: the console's bytes, or its
    text."""
    if isinstance(console, bytes):
        console = console.decode(errors="replace")
    text = console.replace("\r", "")
    begin = text.find("BLADEPLANE-RUN-BEGIN\n")
    end = text.find("BLADEPLANE-RUN-END", begin)
    if begin < 0 or end < 0:
        raise Failure("the client's console has no complete run")
    return text[begin + len("BLADEPLANE-RUN-BEGIN\n"):end].splitlines()


TARGET_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(:\d+)?$")


def loadgen_targets(append):
    """The addresses a blade's blade-loadgen sends to, in its order (the
    log's targets 0, 1, ...), from the blade.run of its kernel command
    line (`append`); None if the blade runs no blade-loadgen.  Its
    targets are its only arguments that are addresses (ADDR or
    ADDR:PORT) but the values of -A (the addresses -W probes); its other
    options' values are numbers and paths."""
    for word in append.split():
        if word.startswith("blade.run="):
            args = word[len("blade.run="):].split(",")
            if os.path.basename(args[0]) != "blade-loadgen":
                return None
            targets = []
            probe = False
            for a in args[1:]:
                if probe:
                    probe = False
                elif a == "-A":
                    probe = True
                elif TARGET_RE.match(a):
                    targets.append(a.split(":")[0])
            return targets
    return None


class ClientLog:
    """blade-loadgen's output, parsed.  requests[target]: [(round, conn,
    due offset in the phase s, response time s, blade)]; failed[target]:
    connections; capacity and rate in requests/s."""

    def __init__(self, lines, ntargets):
        self.requests = collections.defaultdict(list)
        self.failed: collections.Counter[int] = collections.Counter()
        self.capacity = self.rate = None
        self.done = None
        phase = {}
        for n, line in enumerate(lines, 1):
            f = line.split()
            if not f:
                continue
            try:
                if f[0] == "phase":
                    phase[(int(f[1]), int(f[2]))] = int(f[3])
                elif f[0] == "req":
                    t, r, conn = int(f[1]), int(f[2]), int(f[3])
                    due, start, end = int(f[6]), int(f[7]), int(f[8])
                    self._target(t, ntargets, n)
                    self.requests[t].append(
                        (r, conn, (due - phase[(t, r)]) / 1e9,
                         (end - start) / 1e9, f[5]))
                elif f[0] == "fail":
                    self._target(int(f[1]), ntargets, n)
                    self.failed[int(f[1])] += 1
                elif f[0] == "capacity_rps:":
                    self.capacity = float(f[1])
                elif f[0] == "rate_rps:":
                    self.rate = float(f[1])
                elif f[0] == "loadgen-done:":
                    self.done = line
            except (IndexError, KeyError, ValueError) as e:
                raise Failure(f"the client's log, line {n}: cannot read "
                              f"{line[:80]!r} ({type(e).__name__})")
        if self.done is None:
            raise Failure("blade-loadgen did not finish: "
                          + (lines[-1][:200] if lines else "no output"))

    @staticmethod
    def _target(t, ntargets, n):
        if not 0 <= t < ntargets:
            raise Failure(f"the client's log, line {n}: target {t} of "
                          f"{ntargets}")

    def groups(self, t, block_s=BLOCK_S):
        """Response times of target t in blocks of block_s seconds of
        arrivals, per round (the bootstrap's units)."""
        by = collections.defaultdict(list)
        for r, _, offset, rt, _ in self.requests[t]:
            by[(r, int(offset // block_s))].append(rt)
        return [by[k] for k in sorted(by)]

    def shares(self, t):
        """Connections per blade of target t."""
        first: dict[tuple[int, int], str] = {}     # (round, conn) -> blade
        for r, conn, _, _, blade in self.requests[t]:
            first.setdefault((r, conn), blade)
        return collections.Counter(first.values())

    def split(self, t):
        """Connections of target t answered by more than one blade."""
        blades = collections.defaultdict(set)
        for r, conn, _, _, blade in self.requests[t]:
            blades[(r, conn)].add(blade)
        return sum(len(b) > 1 for b in blades.values())


def cell_run(tmp, tag, cell, pols, args, prefix=(), round_s=ROUND_S,
             snapshot_ns=None):
    """Up the cell's chassis, its client running `args`, until the
    client's run ends; the client's console, the wall seconds, and with
    `snapshot_ns` the switch's state tree at that virtual time (else
    None)."""
    name = f"lbvt-{cell.name}"
    consoles, wall, snap = run_to_end(
        tmp, tag, name, topology_text(name, cell, pols, args, round_s,
                                      snapshot_ns),
        CLIENT, (CLIENT,), prefix, timeout=TIMEOUT_S,
        snapshot=bool(snapshot_ns))
    return consoles[CLIENT], wall, snap


def run_cell(tmp, cell, pols, opts):
    args = loadgen_args(cell, pols, **opts)
    what = cell.vt_what or cell.what
    reqs = cell.reqs or opts["reqs"]
    print(f"# cell {cell.name}: {what}; {reqs} request"
          f"{'s' if reqs > 1 else ''} per connection", flush=True)
    step(f"cell {cell.name}: up in virtual time, the client runs "
         f"{' '.join(args)}")
    console, wall, _ = cell_run(tmp, cell.name, cell, pols, args,
                                round_s=opts["round_s"])
    log = ClientLog(run_output(console), len(pols))
    print(f"emu_{cell.name}_capacity_rps: {log.capacity:.2f}")
    print(f"emu_{cell.name}_rate_rps: {log.rate:.2f}")
    results = {}
    for t, policy in sorted(enumerate(pols), key=lambda tp: tp[1] != "util"):
        if not log.requests[t]:
            raise Failure(f"cell {cell.name}, {policy}: no answers")
        results[policy] = summarize(log.groups(t))
    for line in cell_lines(cell.name, results):
        print(line)
    split = 0
    for t, policy in enumerate(pols):
        shares = log.shares(t)
        print(f"emu_{cell.name}_{policy}_slow_share: "
              f"{shares[SLOW] / (sum(shares.values()) or 1):.3f}")
        print(f"emu_{cell.name}_{policy}_failed: {log.failed[t]}")
        split += log.split(t)
    print(f"emu_{cell.name}_split_connections: {split}")
    print(f"emu_{cell.name}_wall_s: {wall:.0f}", flush=True)
    say(f"cell {cell.name}: {log.done}")
    return results


def run(cells, rounds=None, round_s=None, warmup_s=None, reqs=8):
    opts = {"rounds": rounds or ROUNDS, "round_s": round_s or ROUND_S,
            "warmup_s": warmup_s or WARMUP_S, "reqs": reqs}
    qemu.build()
    image.build()
    pols = policies()
    print(f"# lb-emu in virtual time: a client blade, {opts['rounds']} "
          f"rounds of {opts['round_s']:g} virtual s per policy and cell "
          f"after {opts['warmup_s']:g} s of warm-up; load "
          f"{LOAD_FRACTION:g} of the cell's capacity; /cgi-bin/work?kb={KB} "
          f"on blade-httpd; lanes of {LATENCY_NS // 1000} us; p99 "
          f"intervals: 95 % percentile bootstrap over {BLOCK_S:g} s blocks "
          f"of arrivals, {BOOT_REPS} resamples", flush=True)
    print("emu_timing: virtual")
    results = {}
    with tempfile.TemporaryDirectory(prefix="lbvt") as tmp:
        for c in cells:
            results[c] = run_cell(tmp, CELLS[c], pols, opts)
    for line in summary_lines(results):
        print(line)
    return 0


# ---- lb-calib --timing virtual ------------------------------------------

# What the simulator's blades are calibrated against, on the blades of
# these cells: one server of one vCPU, as a cell's slow blade would be
# (its blade-hog start options, its icount_shift).  A boot each: a run in
# virtual time gives the same figures every time, so there are no rounds
# to interleave.
# real-time lb-calib's conditions (CALIB_HOGS), and a CPU at half speed
CALIB = {cond: Cell(f"calib-{cond}", f"blade-hog start {hog}" if hog else
                    "no hog", [1], hog)
         for cond, hog in CALIB_HOGS.items()}
CALIB["half-speed"] = Cell("calib-half-speed", "a CPU at half speed "
                           "(icount_shift 1)", [1], shift=1)
CALIB_SERVER = "b0"
CALIB_S = 5.0               # closed loop, virtual seconds


def calib_args(cap_s, reqs):
    """The client's closed loop on the server's own address: no service,
    so no balancing between it and the blade; -S lets the server's
    blade.run (its hog) start before the loop does."""
    return ["blade-loadgen", "-W", "1", "-S", f"{SETTLE_S:g}",
            "-c", f"{cap_s:g}", "-C", str(CALIB_CONNS), "-r", str(reqs),
            "-n", "0", server_ip(0)]


def calib_run(tmp, cond, args):
    """One condition's boot; the client's log and the wall seconds."""
    cell = CALIB[cond]
    # short: the run directory holds UNIX sockets
    name = f"cal-{cond}"
    consoles, wall, _ = run_to_end(
        tmp, f"cal{list(CALIB).index(cond)}", name,
        topology_text(name, cell, [], args, servers=(CALIB_SERVER,),
                      slow=CALIB_SERVER),
        CLIENT, (CLIENT,), timeout=TIMEOUT_S)
    return ClientLog(run_output(consoles[CLIENT]), 1), wall


def run_calib(rounds=None, round_s=None, reqs=8):
    if rounds is not None:
        raise Failure("lb-calib --timing virtual: --rounds: every run gives "
                      "the same figures, so each condition runs once "
                      "(--round-s sets its length)")
    cap_s = round_s or CALIB_S
    qemu.build()
    image.build()
    args = calib_args(cap_s, reqs)
    print(f"# lb-calib in virtual time: one blade of one vCPU, "
          f"{CALIB_CONNS} closed-loop connections of {reqs} requests from "
          f"a client blade, {cap_s:g} virtual s per condition; "
          f"/cgi-bin/work?kb={KB} on blade-httpd; lanes of "
          f"{LATENCY_NS // 1000} us", flush=True)
    print("emu_timing: virtual")
    rate = {}
    with tempfile.TemporaryDirectory(prefix="lbvt") as tmp:
        for cond, cell in CALIB.items():
            step(f"{cond} ({cell.what}): up in virtual time, the client "
                 f"runs {' '.join(args)}")
            log, wall = calib_run(tmp, cond, args)
            if log.capacity is None:
                raise Failure(f"{cond}: the client's log has no capacity")
            rate[cond] = log.capacity
            print(f"emu_rate_{cond}_rps: {rate[cond]:.2f}")
            print(f"emu_calib_{cond}_wall_s: {wall:.0f}", flush=True)
    if not rate["none"]:
        raise Failure("no answers without a hog")
    for cond in list(CALIB)[1:]:
        print(f"emu_rate_{cond}_over_none: {rate[cond] / rate['none']:.3f}")
    print(f"emu_service_ms_httpd_kb{KB}: {1e3 / rate['none']:.2f}")
    return 0
