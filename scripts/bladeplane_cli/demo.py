"""The main job: one chassis, four blades, a web service balanced by the
load the blades report in the idle gap of their lanes.

1. `up` of examples/one-chassis.toml (as topology "demo"): the chassis
   (user networking uplink, a host port forwarded to the service's VIP),
   then four blades; the service is moved to port 8080, blade-httpd's,
   so that connections stay open;
2. a load generator on the host: HTTP/1.1 GET /cgi-bin/work on the
   forwarded port from a few threads, each connection (a new flow)
   carrying eight requests;
3. the policy alternates between util and rr every ROUND_S seconds, so
   that the same run shows what the reports buy against round robin;
4. midway, a background CPU hog at nice -10 on one blade (`blade-hog
   start -n -10` on its console): it takes about nine tenths of the
   blade's CPU from its requests, a truly slow blade;
5. top-style frames all along: utilization, and the share of new flows
   moving away from the busy blade;
6. a summary: response times (p50, p99) before and with the hog under
   each policy, the busy blade's share of new flows; then `down`.  It
   fails if util did not move flows away from the busy blade, or if its
   p99 with the hog is not below rr's.

The hog is at nice -10 because a nice 0 busy loop is a different case:
CFS gives the requests' worker half the CPU and more when it wakes, and
moving all flows away from such a blade can cost more than it saves
(docs/balancing.md, "On booted blades").
"""

import os
import socket
import tempfile
import time

from . import blade, chassis, image, qemu, rundir, topology, views
from .common import REPO, Failure, say, step
from .console import ConsoleSession
from .loadgen import LoadGenerator

TOPOLOGY = os.path.join(REPO, "examples", "one-chassis.toml")
NAME = "demo"
BUSY = "b1"                 # the blade that gets the hog
HOG = "-n -10 1"            # blade-hog start options: a truly slow blade
FRAME_S = 5.0               # seconds per top frame
ROUND_S = 5.0               # seconds per policy before switching
POLICIES = ("util", "rr")   # compared in the same run
SETTLE_S = 5.0              # after the hog starts, before measuring "after"
LOAD_THREADS = 2
LOAD_REQS = 8               # requests per connection
SERVICE_PORT = 8080         # blade-httpd, keep-alive
LOAD_PATH = "/cgi-bin/work?kb=256"


def free_port(host, preferred):
    """preferred if it is free on host, else a port the kernel picks."""
    for port in (preferred, 0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise Failure(f"no free TCP port on {host}")


def demo_topology():
    topo = topology.load(TOPOLOGY)
    topo.name = NAME
    ch = topo.chassis[0]
    fw = ch.uplink.forwards[0]
    fw.host_port = free_port(fw.host_addr or "127.0.0.1", fw.host_port)
    # blade-httpd, the keep-alive server, on the same VIP.
    fw.guest_port = SERVICE_PORT
    ch.services[0].port = SERVICE_PORT
    return topo


class Watch:
    """Switch state reads with a frame printed every FRAME_S seconds."""

    def __init__(self, run, ch):
        self.qmp = run.state["chassis"][ch.name]["qmp"]
        self.ch = ch
        self.title = f"{run.name}/{ch.name}"
        self.last = self.read()

        self.policy = self.ch.services[0].policy
        self.phase = "before"
        # (phase, policy) -> {blade key: new flows}
        self.flows = {}

    def read(self):
        return chassis.read_switch(self.qmp, f"chassis {self.ch.name}")

    def tag(self):
        """What a connection starting now is counted under."""
        return (self.phase, self.policy)

    def set_policy(self, policy):
        with chassis.QMP.connect(self.qmp, f"chassis {self.ch.name}",
                                 10) as q:
            q.execute("blade-switch-set-policy",
                      {"name": self.ch.services[0].name, "policy": policy})
        self.policy = policy

    def run_for(self, seconds, load, policies=None, count=True):
        """Frames for @seconds; with @policies, switch among them every
        ROUND_S seconds; with @count, the new flows of each frame go to
        the current (phase, policy)."""
        end = time.monotonic() + seconds
        turn = 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return self.last
            if policies:
                self.set_policy(policies[turn % len(policies)])
                turn += 1
            time.sleep(min(ROUND_S if policies else FRAME_S, left))
            cur = self.read()
            print(f"[{self.phase}, policy {self.policy}]")
            print(views.render_top(self.title, self.last, cur, self.ch))
            snap = load.snapshot()
            print(f"  load: {snap['ok']} answered, {snap['failed']} failed"
                  + (f" (last: {snap['last_error']})" if snap["failed"] else ""),
                  flush=True)
            shares = views.interval_shares(self.last, cur)
            if count and shares:
                acc = self.flows.setdefault(self.tag(), {})
                for key, (n, _) in shares.items():
                    acc[key] = acc.get(key, 0) + n
            self.last = cur


def run(accel="auto", seconds=None, keep=False, timing="real"):
    if timing == "virtual":
        if seconds is not None or keep or accel != "auto":
            raise Failure("demo --timing virtual: --seconds, --keep and "
                          "--accel are for the real-time demo")
        return run_virtual()
    seconds = 30 if seconds is None else seconds
    qemu_bin = qemu.build()
    manifest = image.build()
    chosen, reason = blade.choose_accel(accel)
    print(f"accelerator: {chosen} ({reason})", flush=True)
    topo = demo_topology()
    ch = topo.chassis[0]
    busy = ch.blade(BUSY)
    fw = ch.uplink.forwards[0]
    host = fw.host_addr or "127.0.0.1"
    launcher = chassis.Launcher(topo, chosen, qemu_bin, manifest)
    step(f"up: chassis {ch.name} with {len(ch.blades)} blades, service "
         f"{ch.services[0].name} on {ch.services[0].vip}:{ch.services[0].port}, "
         f"host port {host}:{fw.host_port} forwarded to it")
    run_, not_in = launcher.up()
    chassis.print_summary(run_, topo, not_in)
    load = None
    try:
        if not_in:
            raise Failure("blades not in rotation: " + ", ".join(
                f"{n} ({r})" for n, r in not_in.items()))
        watch = Watch(run_, ch)
        step(f"load: {LOAD_THREADS} threads of GET http://{host}:"
             f"{fw.host_port}{LOAD_PATH}, {LOAD_REQS} requests a "
             f"connection; the policy alternates between "
             f"{' and '.join(POLICIES)} every {ROUND_S:g} s")
        load = LoadGenerator(host, fw.host_port, LOAD_PATH,
                             threads=LOAD_THREADS, reqs=LOAD_REQS,
                             tag=watch.tag)
        load.start()
        if not load.wait_answers(1, 60):
            snap = load.snapshot()
            raise Failure(f"no answer through {host}:{fw.host_port} within "
                          f"60 s (last error: {snap['last_error']})")
        watch.last = watch.read()
        step(f"{seconds} s of load on all four blades")
        watch.run_for(seconds, load, POLICIES)

        step(f"blade {BUSY}: 'blade-hog start {HOG}' on its console (a CPU "
             f"hog at nice -10 in the background: {BUSY} is truly slow)")
        con = ConsoleSession(_console(run_, BUSY), f"blade {BUSY}")
        try:
            status, text = con.run(f"blade-hog start {HOG}", timeout=60)
        finally:
            con.close()
        if status != 0:
            raise Failure(f"blade {BUSY}: blade-hog start failed: "
                          f"{text.strip()}")
        say(f"{BUSY}: {text.strip()}")
        step(f"{seconds} s of load with {BUSY} busy (the first "
             f"{SETTLE_S:g} s, under util, let its reports catch up and "
             f"are not counted)")
        watch.phase = "settling"
        watch.set_policy("util")
        watch.run_for(SETTLE_S, load, count=False)
        watch.phase = "with the hog"
        watch.run_for(max(ROUND_S * len(POLICIES), seconds - SETTLE_S),
                      load, POLICIES)
        watch.phase = "done"
    finally:
        if load:
            load.stop()
        if keep:
            say(f"--keep: topology {NAME} stays up; 'bladeplane down {NAME}' "
                f"stops it")
        else:
            step("down: a clean shutdown")
            chassis.down(rundir.find(NAME))
    return summary(busy, watch.flows, load)


def run_virtual():
    """The demo in virtual time: three server blades and a client blade
    (blade-demo-client in the image) that sends the load, starts the hog
    on BUSY midway and logs every request in virtual ns; rr and util are
    two services on two VIPs, taken in turn on the same arrivals.  The
    same figures on every host and under any load."""
    from . import lbemu, lbvirtual
    qemu.build()
    image.build()
    pols = list(POLICIES[::-1])     # rr first: the client waits on it
    cell = lbemu.Cell("demo", "the demo", [1, 1, 1])
    placeholder = topology.loads(
        lbvirtual.topology_text(NAME, cell, pols, ["true"]), "demo.toml")
    busy_ip = placeholder.chassis[0].blade(BUSY).ip.split("/")[0]
    args = ["blade-demo-client", busy_ip] + \
        [lbvirtual.vip(i) for i in range(len(pols))]
    step(f"up in virtual time: a chassis of {', '.join(lbvirtual.SERVERS)} "
         f"and a client blade, which waits for them, measures their "
         f"capacity, sends half of it alternating between rr and util, "
         f"then starts a CPU hog at nice -10 on {BUSY} and does the same "
         f"again (a few minutes of wall time; the figures are the same on "
         f"every run)")
    with tempfile.TemporaryDirectory(prefix="demo") as tmp:
        console, wall, _ = lbvirtual.cell_run(tmp, "v", cell, pols, args)
    say(f"the run took {wall:.0f} s of wall time")
    rows, answered, failed, rate = virtual_rows(
        lbvirtual.run_output(console), pols)
    return report(BUSY, rows, f"{answered}; failed connections: {failed}",
                  f"virtual time, {rate:.0f} requests/s, policies taking "
                  f"turns on the same arrivals",
                  f"the client's log; a fair share: "
                  f"{100 / len(lbvirtual.SERVERS):.0f}%")


def virtual_rows(lines, pols):
    """The client blade's output, read into report()'s rows; with the
    requests answered, the connections failed and the rate sent."""
    from . import lbvirtual
    if "demo-phase hog" not in lines:
        raise Failure("the client blade did not reach the hog: "
                      + " | ".join(lines[-3:]))
    cut = lines.index("demo-phase hog")
    logs = {"before": lbvirtual.ClientLog(lines[:cut], len(pols)),
            "with the hog": lbvirtual.ClientLog(lines[cut + 1:], len(pols))}
    rows = {}
    answered = failed = 0
    for phase, log in logs.items():
        for t, policy in enumerate(pols):
            times = [r[3] for r in log.requests[t]]
            shares = log.shares(t)
            total = sum(shares.values())
            rows[phase, policy] = (
                _percentile(times, 0.5), _percentile(times, 0.99), len(times),
                shares[BUSY] / total if total else None, total)
            answered += len(times)
            failed += log.failed[t]
    return rows, answered, failed, logs["before"].rate


def _console(run_, name):
    return next(p["console"] for p in run_.processes() if p["name"] == name)


def _percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))] if v else None


def summary(busy, flows, load):
    """Print response times and the busy blade's share of new flows per
    phase and policy; Failure if util did not steer away from the busy
    blade or its p99 with the hog is not below rr's."""
    key = (None, busy.slot)         # the chassis's own blades
    rows = {}
    for phase in ("before", "with the hog"):
        for policy in POLICIES:
            times = load.tagged.get((phase, policy), [])
            f = flows.get((phase, policy), {})
            total = sum(f.values())
            rows[phase, policy] = (
                _percentile(times, 0.5), _percentile(times, 0.99), len(times),
                f.get(key, 0) / total if total else None, total)
    snap = load.snapshot()
    by = ", ".join(f"{k} {v}" for k, v in sorted(snap["by_blade"].items()))
    return report(busy.name, rows, f"{snap['ok']} ({by}); failed "
                  f"connections: {snap['failed']}",
                  f"policies alternating every {ROUND_S:g} s",
                  "switch counters; a fair share: 25%")


def report(busy, rows, answered, how, shares):
    """Print the table of rows[(phase, policy)] = (p50 s, p99 s, requests,
    busy's share of new flows, new flows) and judge it: Failure if util
    did not steer new flows away from the busy blade or its p99 with the
    hog is not below rr's."""
    print()
    print(f"summary: the same run, {how}; response times of {LOAD_REQS} "
          f"requests a connection (ms), {busy}'s share of new flows "
          f"({shares})")
    print(f"  {'':<26}" + "".join(f"{p + ' p50':>10}{p + ' p99':>10}"
                                   f"{busy + ' share':>10}"
                                   for p in POLICIES))
    for phase, label in (("before", "before the hog"),
                         ("with the hog", "with the hog (nice -10)")):
        line = f"  {label:<26}"
        for policy in POLICIES:
            p50, p99, _, share, _ = rows[phase, policy]
            line += f"{_ms(p50):>10}{_ms(p99):>10}{_pct(share):>10}"
        print(line)
    print(f"  requests answered: {answered}")
    u_before, u_after = rows["before", "util"], rows["with the hog", "util"]
    r_after = rows["with the hog", "rr"]
    if None in (u_before[3], u_after[3], u_after[1], r_after[1]):
        raise Failure("a phase or policy had no requests or no new flows")
    if u_after[3] >= u_before[3] * 0.6:
        raise Failure(f"util did not steer new flows away from the busy "
                      f"blade clearly ({_pct(u_before[3])} -> "
                      f"{_pct(u_after[3])})")
    if u_after[1] >= r_after[1]:
        raise Failure(f"with the hog, util's p99 ({_ms(u_after[1])} ms) is "
                      f"not below rr's ({_ms(r_after[1])} ms)")
    print(f"demo done: with {busy} slowed by the hog, util steered new "
          f"flows away from it ({_pct(u_before[3])} -> {_pct(u_after[3])}) "
          f"and kept p99 at {_ms(u_after[1])} ms where rr's was "
          f"{_ms(r_after[1])} ms ({r_after[1] / u_after[1]:.1f}x).")
    return 0


def _ms(v):
    return "-" if v is None else f"{v * 1e3:.0f}"


def _pct(v):
    return "-" if v is None else f"{v * 100:.1f}%"
