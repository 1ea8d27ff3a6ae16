"""`bladeplane bench chaos`: faults over time under the demo's load.

Two phases, each `minutes` long, each under the demo's load (the host
load generator's GETs through the uplink's forwarded port, a new TCP
connection each):

1. examples/one-chassis.toml: every BLADE_PERIOD_S a random blade's QEMU
   gets SIGKILL and is started again (`bladeplane restart BLADE`);
2. examples/chain3.toml: every CHASSIS_PERIOD_S the middle chassis (c2)
   gets SIGKILL and is started again (`bladeplane restart c2`).

The first kill of a phase comes half a period after the load starts, so
the last one has time to recover before the phase ends.

Attribution rule.  A failed request is attributed to a kill when its
lifetime [sent, failed] overlaps the kill's window [the SIGKILL, the first
poll that saw every blade the kill took away out of the front switch's
rotation]: it was in flight at the kill, or was sent while the switch
could still place it on the dead blade.  A failure names no blade (the
client never got an answer), so its placement is unknown and any kill's
window counts; a request whose blade is known counts only against kills of
that blade.  A failure no window covers is `chaos_failed_not_in_flight`
and fails the bench.

Hangs: a process of the topology that is alive but does not answer QMP
`query-status` within QMP_BOUND_S, or a request still open REQUEST_GRACE_S
after its own timeout.  A restart that fails (`chaos_restarts_failed`: the
new QEMU died, or its blades did not come back into rotation) ends the
phase and fails the bench.

RSS: every process that lived through a phase, at the load's start and at
the phase's end, from /proc/PID/smaps, split into the guest's RAM (a blade
touching its pages: legitimate, up to its `memory`), TCG's translation
buffer (fills up to its fixed size, then is flushed: legitimate) and the
rest (QEMU's heap, stacks, libraries).  The rest is what a leak grows:
`chaos_rss_growth_max_kib` is its largest growth, bounded by
RSS_GROWTH_BOUND_KIB, over which the bench fails.

Evidence: every failure is printed with where it fell against the kills
and the front switch's BLADE_SWITCH_BLADE events around it (not those of
a restart: `restart` needs the switch's one QMP socket); the run's logs,
the failures, those events and the switch's state tree after each new
failure are kept in build/chaos/TOPOLOGY.
"""

import contextlib
import dataclasses
import glob
import http.client
import json
import math
import os
import random
import shutil
import signal
import sys
import threading
import time

from . import blade, chassis, image, qemu, rundir, topology
from .common import BUILD, REPO, Failure, step
from .demo import free_port
from .loadgen import LoadGenerator
from .qmp import QMP, QMPError

ONE_CHASSIS = os.path.join(REPO, "examples", "one-chassis.toml")
CHAIN3 = os.path.join(REPO, "examples", "chain3.toml")
EVIDENCE = os.path.join(BUILD, "chaos")   # kept for each phase
MIDDLE = "c2"                   # chain3's middle chassis
MINUTES = 10.0
BLADE_PERIOD_S = 20.0
CHASSIS_PERIOD_S = 60.0
LOAD_THREADS = 2                # as the demo
LOAD_PATH = "/cgi-bin/work?kb=64"
REQUEST_TIMEOUT_S = 30.0
REQUEST_GRACE_S = 15.0
QMP_BOUND_S = 5.0
OUT_WAIT_S = 30.0               # longest wait for a killed blade to go out
POLL_S = 0.01                   # pause between two reads of the switch
FAIL_PAUSE_S = 0.1              # a thread's pause after a failed request
ROTATION_CONTEXT_S = 5.0        # rotation events told before a failure
RSS_GROWTH_BOUND_KIB = 4096     # a surviving process's RSS outside guest
#                                 RAM and TCG's translation buffer


# ---- the pure part: attribution and figures ------------------------------------


@dataclasses.dataclass
class Request:
    sent: float                 # time.monotonic()
    done: float                 # answered or failed
    ok: bool
    blade: str | None = None    # the answer's blade=; None if unknown
    error: str | None = None


@dataclasses.dataclass
class Kill:
    at: float                   # the SIGKILL
    until: float                # the poll that saw its blades out (or the
    #                             time the wait gave up)
    blades: frozenset           # the blades it took out of rotation
    what: str                   # "blade b2", "chassis c2"
    out_ms: float | None = None  # None: never seen out of rotation
    restarted: float | None = None  # restart command done (back in rotation)
    first_read_ms: float | None = None  # the first read of the switch after it


def in_flight(req, kill):
    """Whether a request was exposed to a kill: its lifetime overlaps the
    kill's window, and its blade, if known, is one the kill took out."""
    if req.blade is not None and req.blade not in kill.blades:
        return False
    return req.sent <= kill.until and req.done >= kill.at


def attribute(requests, kills):
    """Failed requests by kill: ({kill index: count}, [failures no kill
    covers]).  A failure exposed to several kills counts against the
    first."""
    by_kill: dict[int, int] = {}
    orphans = []
    for r in requests:
        if r.ok:
            continue
        i = next((i for i, k in enumerate(kills) if in_flight(r, k)), None)
        if i is None:
            orphans.append(r)
        else:
            by_kill[i] = by_kill.get(i, 0) + 1
    return by_kill, orphans


def back_in_service(requests, kill):
    """Seconds from a kill until a blade it took out answers a request sent
    after it (a SIGKILLed QEMU answers nothing, so that answer came from
    the new one, or through the restarted chassis); None if none did.
    Any of a chassis's blades, not all: the balancer may rightly leave one
    idle for a while."""
    done = [r.done for r in requests
            if r.ok and r.blade in kill.blades and r.sent > kill.at]
    return min(done) - kill.at if done else None


def describe_orphan(req, kills):
    """A failure no kill covers, placed against the last kill before it
    (when its restart finished): for the report."""
    before = [k for k in kills if k.at <= req.sent]
    where = "before the first kill"
    if before:
        k = before[-1]
        where = f"sent {req.sent - k.at:.2f} s after the kill of {k.what}"
        if k.restarted is not None:
            where += (f" (restarted at +{k.restarted - k.at:.2f} s)")
        elif req.sent <= k.until:
            where += f" (out of rotation at +{k.until - k.at:.2f} s)"
    return f"{where}, failed after {req.done - req.sent:.2f} s: {req.error}"


def percentile(values, p):
    """The nearest-rank percentile (p in 0..100) of values; None if there
    are none.  p50 of an even count is the lower of the two middle
    values."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    rank = max(1, math.ceil(p / 100 * len(vals)))
    return vals[rank - 1]


def out_of_rotation(state, local, keys):
    """Whether a switch's state tree (`local`: its chassis's name) has
    every blade of keys ((chassis, slot) pairs) out of rotation: not
    listed, or listed with in_rotation false."""
    seen = {chassis.blade_key(e, local): e for e in state.get("blades", [])}
    return all(k not in seen or not seen[k].get("in_rotation")
               for k in keys)


def cut_off(topo, dead):
    """The chassis a front chassis no longer reaches once chassis `dead`
    is gone: `dead` and those only reached through it."""
    front = topo.front()
    reach = {front.name}
    todo = [front.name]
    while todo:
        here = todo.pop()
        for link in topo.links:
            if link.b is None or dead in (link.a, link.b):
                continue
            for a, b in ((link.a, link.b), (link.b, link.a)):
                if a == here and b not in reach:
                    reach.add(b)
                    todo.append(b)
    return {c.name for c in topo.chassis} - reach


@dataclasses.dataclass
class Rss:
    """A process's resident set in KiB, split by what it is: in the
    guest's RAM (the anonymous mapping of exactly the guest's memory
    size: a booted guest touching its pages), in TCG's translation buffer
    (QEMU's one anonymous executable mapping: translated code), and the
    rest (QEMU's own heap, stacks, libraries: what a leak grows)."""
    total: int
    guest: int = 0
    code: int = 0

    @property
    def other(self):
        return self.total - self.guest - self.code


def rss_split(pid, guest_kib=None):
    """A process's Rss from /proc/PID/smaps (guest_kib: its guest RAM
    size, None for a process without guest RAM); None if it is gone."""
    rss = Rss(0)
    kind = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if not fields:
                    continue
                if not fields[0].endswith(":"):
                    # A mapping: ADDR-ADDR PERMS OFFSET DEV INODE [PATH]
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    anon = len(fields) < 6
                    perms = fields[1]
                    kind = None
                    if anon and perms.startswith("rwx"):
                        kind = "code"
                    elif (anon and perms.startswith("rw") and
                          guest_kib and (hi - lo) // 1024 == guest_kib):
                        kind = "guest"
                elif fields[0] == "Rss:":
                    kib = int(fields[1])
                    rss.total += kib
                    if kind == "guest":
                        rss.guest += kib
                    elif kind == "code":
                        rss.code += kib
    except (OSError, ValueError, IndexError):
        return None
    return rss


# ---- the load ----------------------------------------------------------------


class Load:
    """LOAD_THREADS threads of one request at a time through the load
    generator's request() (a GET on a new connection, returning the
    answer's blade), each timed and kept."""

    def __init__(self, host, port):
        self.gen = LoadGenerator(host, port, LOAD_PATH,
                                 timeout=REQUEST_TIMEOUT_S)
        self.lock = threading.Lock()
        self.requests = []
        self.open = {}              # thread name -> sent
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for i in range(LOAD_THREADS):
            t = threading.Thread(target=self._loop, name=f"chaos-load{i}",
                                 daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _loop(self):
        me = threading.current_thread().name
        while not self.stopping.is_set():
            sent = time.monotonic()
            with self.lock:
                self.open[me] = sent
            try:
                req = Request(sent, 0, True, self.gen.request())
            except (OSError, http.client.HTTPException, ValueError) as e:
                req = Request(sent, 0, False, error=f"{type(e).__name__}: "
                                                    f"{e}")
            req.done = time.monotonic()
            with self.lock:
                del self.open[me]
                self.requests.append(req)
            if not req.ok:
                self.stopping.wait(FAIL_PAUSE_S)

    def answered(self):
        with self.lock:
            return sum(r.ok for r in self.requests)

    def overdue(self, now):
        """Requests open longer than their timeout and the grace: {(thread,
        sent)}."""
        bound = REQUEST_TIMEOUT_S + REQUEST_GRACE_S
        with self.lock:
            return {(t, s) for t, s in self.open.items() if now - s > bound}

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(REQUEST_TIMEOUT_S + REQUEST_GRACE_S)
        with self.lock:
            return list(self.requests), dict(self.open)


# ---- one phase -----------------------------------------------------------------


@dataclasses.dataclass
class Phase:
    name: str
    requests: list = dataclasses.field(default_factory=list)
    kills: list = dataclasses.field(default_factory=list)
    hangs: list = dataclasses.field(default_factory=list)
    rss: dict = dataclasses.field(default_factory=dict)   # name -> (Rss,
    #                                                       Rss)
    poll_gaps: list = dataclasses.field(default_factory=list)
    restart_failures: list = dataclasses.field(default_factory=list)
    rotation: list = dataclasses.field(default_factory=list)  # (monotonic,
    #                                  blade, in rotation, reason): the
    #                                  front switch's BLADE_SWITCH_BLADE
    snapshots: list = dataclasses.field(default_factory=list)  # (seconds
    #                                  since the load began, failures so
    #                                  far, the front switch's state)


class Chaos:
    def __init__(self, phase, path, name, accel, qemu_bin, manifest):
        self.phase = phase
        topo = topology.load(path)
        topo.name = name
        front = topo.front()
        fw = front.uplink.forwards[0]
        self.host = fw.host_addr or "127.0.0.1"
        fw.host_port = free_port(self.host, fw.host_port)
        self.port = fw.host_port
        self.topo = topo
        self.front = front
        self.accel = accel
        self.qemu_bin = qemu_bin
        self.manifest = manifest
        self.run: rundir.Run | None = None     # up() brings it
        self.where = {b.name: (c.name, b.slot) for c, b in topo.blades()}
        self.guest_kib = {b.name: b.memory * 1024 for _, b in topo.blades()}
        self.hung = set()           # request hangs already counted
        self.failures_seen = 0
        self.t0: float | None = None            # the load's start
        self.watch: QMP | None = None   # QMP session on the front switch
        self.wall = time.time() - time.monotonic()

    def _rundir(self) -> rundir.Run:
        """The run directory of the topology up() brought up."""
        if self.run is None:
            raise RuntimeError(f"topology {self.topo.name} is not up")
        return self.run

    def up(self):
        rundir.check_not_up(self.topo.name)
        chassis.check_device(self.qemu_bin, self.topo)
        launcher = chassis.Launcher(self.topo, self.accel, self.qemu_bin,
                                    self.manifest)
        with contextlib.redirect_stdout(sys.stderr):
            self.run, not_in = launcher.up()
        if not_in:
            raise Failure(f"topology {self.topo.name}: blades not in "
                          f"rotation: " + ", ".join(f"{n} ({r})" for n, r in
                                                    not_in.items()))

    def front_session(self):
        """The one QMP session on the front switch (a QMP socket serves
        one client at a time), kept for the phase: its rotation events
        are read from it, and so is its state."""
        if self.watch is None:
            self.watch = QMP.connect(self.front_qmp(),
                                     f"chassis {self.front.name}",
                                     QMP_BOUND_S)
        return self.watch

    def close_front(self):
        if self.watch is not None:
            self.watch.close()
            self.watch = None

    def watch_rotation(self):
        """Keep the front switch's rotation events (their QMP timestamps,
        as monotonic times): what entered and left rotation, and why,
        to set beside each failure.  A blade of another chassis is named
        by the switch's index for it (its state tree lists them)."""
        try:
            watch = self.front_session()
            watch.execute("query-status")
        except QMPError:
            self.close_front()
            return
        local = {slot: name for name, (ch, slot) in self.where.items()
                 if ch == self.front.name}
        for ev in watch.take_events():
            if ev.get("event") != "BLADE_SWITCH_BLADE":
                continue
            data, ts = ev.get("data", {}), ev.get("timestamp", {})
            at = ts.get("seconds", 0) + ts.get("microseconds", 0) / 1e6
            slot = data.get("slot")
            self.phase.rotation.append(
                (at - self.wall, local.get(slot, f"remote blade {slot}"),
                 data.get("in-rotation"), data.get("reason")))

    def snapshot(self, load):
        """After new failures: the front switch's state tree (its drop
        counters, its rotation), kept with the failure count."""
        with load.lock:
            n = sum(not r.ok for r in load.requests)
        if n == self.failures_seen:
            return
        self.failures_seen = n
        try:
            state = chassis.switch_state(self.front_session())
        except QMPError as e:
            self.close_front()
            state = {"error": str(e)}
        if self.t0 is None:
            raise RuntimeError("a snapshot before the load began")
        self.phase.snapshots.append((time.monotonic() - self.t0, n, state))

    def keep_evidence(self, load):
        """Copy the run's logs (blade consoles, the old console of a
        restarted blade, QEMU's stderr) and the failures with the switch
        snapshots into EVIDENCE/TOPOLOGY before the run is removed."""
        where = os.path.join(EVIDENCE, self.topo.name)
        shutil.rmtree(where, ignore_errors=True)
        os.makedirs(where)
        run = self._rundir()
        for path in glob.glob(os.path.join(run.path, "**", "*.log*"),
                              recursive=True):
            rel = os.path.relpath(path, run.path).replace(os.sep, "_")
            shutil.copy(path, os.path.join(where, rel))
        t0 = self.t0 or 0
        doc = {
            "kills": [{"what": k.what, "at": k.at - t0, "out": k.until - t0,
                       "restarted": (None if k.restarted is None else
                                     k.restarted - t0)}
                      for k in self.phase.kills],
            "failures": [{"sent": r.sent - t0, "done": r.done - t0,
                          "error": r.error}
                         for r in (load.requests if load else [])
                         if not r.ok],
            "rotation": [{"at": t - t0, "blade": b, "in_rotation": i,
                          "reason": why}
                         for t, b, i, why in self.phase.rotation],
            "switch_snapshots": [{"at": t, "failures": n, "state": st}
                                 for t, n, st in self.phase.snapshots],
        }
        with open(os.path.join(where, "failures.json"), "w") as f:
            json.dump(doc, f, indent=1)
        print(f"    kept the logs and failures in {where}", file=sys.stderr)

    def down(self):
        if self.run is not None:
            with contextlib.redirect_stdout(sys.stderr):
                chassis.down(rundir.Run(self.run.path))

    def procs(self):
        return {p["name"]: p for p in
                rundir.Run(self._rundir().path).processes()}

    def rss(self, name, p):
        guest = self.guest_kib.get(name) if p["kind"] == "blade" else None
        return rss_split(p["pid"], guest)

    def front_qmp(self):
        return self._rundir().state["chassis"][self.front.name]["qmp"]

    def check_qmp(self, skip=()):
        """Every live process of the topology but those in skip answers
        query-status within QMP_BOUND_S; a hang is recorded otherwise."""
        for name, p in self.procs().items():
            if name in skip or not p.get("qmp") or \
                    not rundir.process_alive(p):
                continue
            try:
                if p["qmp"] == self.front_qmp():
                    self.front_session().execute("query-status")
                else:
                    with QMP.connect(p["qmp"], name, QMP_BOUND_S) as q:
                        q.execute("query-status")
            except QMPError as e:
                if p["qmp"] == self.front_qmp():
                    self.close_front()
                if rundir.process_alive(p):
                    self.phase.hangs.append(f"{name}: {e}")

    def check_requests(self, load):
        for key in load.overdue(time.monotonic()) - self.hung:
            self.hung.add(key)
            self.phase.hangs.append(f"request from {key[0]} open more than "
                                    f"{REQUEST_TIMEOUT_S + REQUEST_GRACE_S:g}"
                                    f" s")

    def wait_out(self, kill, keys):
        """Poll the front switch until keys are out of rotation (sets
        kill.until and kill.out_ms)."""
        deadline = kill.at + OUT_WAIT_S
        last = None
        try:
            q = self.front_session()
            while time.monotonic() < deadline:
                state = chassis.switch_state(q)
                now = time.monotonic()
                if last is not None:
                    self.phase.poll_gaps.append(now - last)
                else:
                    kill.first_read_ms = (now - kill.at) * 1000
                last = now
                if out_of_rotation(state, self.front.name, keys):
                    kill.until = now
                    kill.out_ms = (now - kill.at) * 1000
                    return
                time.sleep(POLL_S)
        except QMPError as e:
            self.close_front()
            self.phase.hangs.append(f"chassis {self.front.name}: {e}")
        kill.until = time.monotonic()

    def kill(self, target, blades):
        """SIGKILL the process named target, wait until the blades it takes
        away are out of the front switch's rotation, restart it."""
        rec = self.procs()[target]
        keys = {self.where[b] for b in blades}
        kind = rec["kind"]
        k = Kill(at=0, until=0, blades=frozenset(blades),
                 what=f"{kind} {target}")
        k.at = time.monotonic()
        os.kill(rec["pid"], signal.SIGKILL)
        self.wait_out(k, keys)
        self.phase.kills.append(k)
        print(f"    kill -9 {k.what}: out of rotation after "
              + (f"{k.out_ms:.0f} ms" if k.out_ms is not None else
                 f"(not seen in {OUT_WAIT_S:g} s)")
              + (f" (first read of the switch after {k.first_read_ms:.0f} "
                 f"ms)" if k.first_read_ms is not None else ""),
              file=sys.stderr, flush=True)
        # restart() reads the front switch's state: its QMP socket must be
        # free (the rotation events of the restart itself are not seen).
        self.watch_rotation()
        self.close_front()
        # restart() reaps our child once it finds it dead.
        try:
            with contextlib.redirect_stdout(sys.stderr):
                if kind == "blade":
                    chassis.restart_blade(self.run, target)
                else:
                    chassis.restart(self.run, target)
        except (Failure, QMPError) as e:
            # The phase ends here, with its figures: a restart that fails
            # (the new QEMU died, or never came into rotation) fails the
            # bench.
            new = self.procs().get(target, {})
            alive = bool(new) and rundir.process_alive(new)
            self.phase.restart_failures.append(
                f"{k.what} at +{time.monotonic() - k.at:.2f} s: {e} (the "
                f"new process {new.get('pid')} is "
                f"{'alive' if alive else 'gone'})")
            return
        k.restarted = time.monotonic()

    def go(self, seconds, period, pick):
        """Bring the topology up, load it, and every period kill pick()'s
        (target, blades it takes away) and restart it, for seconds."""
        self.up()
        load = None
        try:
            step(f"{self.phase.name}: load: {LOAD_THREADS} threads of GET "
                 f"http://{self.host}:{self.port}{LOAD_PATH}, a new "
                 f"connection each; kill -9 every {period:g} s for "
                 f"{seconds:g} s")
            load = Load(self.host, self.port).start()
            self.t0 = time.monotonic()
            deadline = time.monotonic() + 60
            while load.answered() == 0:
                if time.monotonic() > deadline:
                    raise Failure(f"no answer through {self.host}:"
                                  f"{self.port} within 60 s")
                time.sleep(0.1)
            start_rss = {n: (p["pid"], self.rss(n, p))
                         for n, p in self.procs().items()}
            start = time.monotonic()
            end = start + seconds
            next_kill = start + period / 2
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if now >= next_kill:
                    target, blades = pick()
                    self.kill(target, blades)
                    if self.phase.restart_failures:
                        break
                    next_kill += period
                    self.check_qmp()
                    continue
                self.check_requests(load)
                self.watch_rotation()
                self.snapshot(load)
                time.sleep(min(1.0, end - now, max(0, next_kill - now)))
            self.check_qmp()
            self.check_requests(load)
            self.watch_rotation()
            for name, p in self.procs().items():
                pid, before = start_rss.get(name, (None, None))
                if pid == p["pid"] and rundir.process_alive(p):
                    self.phase.rss[name] = (before, self.rss(name, p))
        finally:
            if load is not None:
                requests, still = load.stop()
                self.phase.requests = requests
                for t, sent in still.items():
                    key = (t, sent)
                    if key not in self.hung:
                        self.phase.hangs.append(f"request from {t} never "
                                                f"ended")
            self.close_front()
            if self.run is not None:
                with contextlib.suppress(OSError):
                    self.keep_evidence(load)
            self.down()


def blade_phase(seconds, accel, qemu_bin, manifest, rng):
    phase = Phase("one chassis, kill -9 a random blade")
    c = Chaos(phase, ONE_CHASSIS, "chaos-blades", accel, qemu_bin, manifest)
    names = [b.name for _, b in c.topo.blades()]

    def pick():
        name = rng.choice(names)
        return name, {name}
    c.go(seconds, BLADE_PERIOD_S, pick)
    return phase


def chassis_phase(seconds, accel, qemu_bin, manifest):
    phase = Phase(f"chain3, kill -9 the middle chassis {MIDDLE}")
    c = Chaos(phase, CHAIN3, "chaos-chain3", accel, qemu_bin, manifest)
    gone = cut_off(c.topo, MIDDLE)
    blades = {b.name for ch, b in c.topo.blades() if ch.name in gone}

    def pick():
        return MIDDLE, blades
    c.go(seconds, CHASSIS_PERIOD_S, pick)
    return phase


# ---- report --------------------------------------------------------------------


def figures(phases):
    """The bench's figures ({name: value}) over the phases, and the
    failures no kill covers."""
    sent = answered = failed = 0
    outs, backs, growth, gaps, guest, total = [], [], [], [], [], []
    orphans, hangs, never_back = [], [], 0
    kills = restarts_failed = 0
    for ph in phases:
        sent += len(ph.requests)
        answered += sum(r.ok for r in ph.requests)
        failed += sum(not r.ok for r in ph.requests)
        _, lost = attribute(ph.requests, ph.kills)
        orphans += lost
        kills += len(ph.kills)
        outs += [k.out_ms for k in ph.kills if k.out_ms is not None]
        for k in ph.kills:
            b = back_in_service(ph.requests, k)
            if b is None:
                never_back += 1
            else:
                backs.append(b)
        for name, (a, b) in ph.rss.items():
            if a is not None and b is not None:
                growth.append((b.other - a.other, name))
                guest.append(b.guest - a.guest)
                total.append(b.total - a.total)
        gaps += ph.poll_gaps
        hangs += ph.hangs
        restarts_failed += len(ph.restart_failures)
    f = {
        "chaos_kills": kills,
        "chaos_requests_sent": sent,
        "chaos_requests_answered": answered,
        "chaos_requests_failed": failed,
        "chaos_failed_in_flight": failed - len(orphans),
        "chaos_failed_not_in_flight": len(orphans),
        "chaos_out_of_rotation_ms_p50": percentile(outs, 50),
        "chaos_out_of_rotation_ms_max": max(outs) if outs else None,
        "chaos_out_of_rotation_not_seen": sum(
            k.out_ms is None for ph in phases for k in ph.kills),
        "chaos_poll_interval_ms_p50": (None if not gaps else
                                       percentile(gaps, 50) * 1000),
        "chaos_back_in_service_s_p50": percentile(backs, 50),
        "chaos_back_in_service_s_max": max(backs) if backs else None,
        "chaos_back_in_service_missing": never_back,
        "chaos_rss_growth_max_kib": max(growth)[0] if growth else None,
        "chaos_rss_growth_max_in": max(growth)[1] if growth else None,
        "chaos_rss_guest_ram_growth_max_kib": max(guest) if guest else None,
        "chaos_rss_total_growth_max_kib": max(total) if total else None,
        "chaos_hangs": len(hangs),
        "chaos_restarts_failed": restarts_failed,
    }
    return f, orphans, hangs


def describe_rss(a, b):
    """A process's RSS at the start and the end, split (see Rss)."""
    if a is None or b is None:
        return f"{fmt(a and a.total)} -> {fmt(b and b.total)}"
    return (f"{a.total} -> {b.total} (guest RAM {a.guest} -> {b.guest}, "
            f"TCG code {a.code} -> {b.code}, the rest {a.other} -> "
            f"{b.other})")


def fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)


def report(phases, out=print):
    for ph, prefix in zip(phases, ("chaos_blade", "chaos_chassis")):
        f, _, _ = figures([ph])
        out(f"# {ph.name}")
        for name, value in f.items():
            out(f"{prefix}{name[len('chaos'):]}: {fmt(value)}")
        by_blade: dict[str, int] = {}       # answers per blade
        for r in ph.requests:
            if r.ok:
                by_blade[r.blade] = by_blade.get(r.blade, 0) + 1
        for name, n in sorted(by_blade.items()):
            out(f"{prefix}_answered_by_{name.replace('-', '_')}: {n}")
        for name, (a, b) in sorted(ph.rss.items()):
            out(f"{prefix}_rss_kib_{name.replace('-', '_')}: "
                + describe_rss(a, b))
    f, orphans, hangs = figures(phases)
    out("# both phases")
    for name, value in f.items():
        out(f"{name}: {fmt(value)}")
    for ph in phases:
        lost = {id(r) for r in attribute(ph.requests, ph.kills)[1]}
        for r in ph.requests:
            if r.ok:
                continue
            what = ("in flight at no kill" if id(r) in lost else
                    "in flight at a kill")
            print(f"bladeplane: failure {what} ({ph.name}): "
                  f"{describe_orphan(r, ph.kills)}", file=sys.stderr)
            for t, b, i, why in ph.rotation:
                if r.sent - ROTATION_CONTEXT_S <= t <= r.done + 1:
                    print(f"    {t - r.sent:+.2f} s from its sending: {b} "
                          f"{'in' if i else 'out of'} rotation ({why})",
                          file=sys.stderr)
    for h in hangs:
        print(f"bladeplane: hang: {h}", file=sys.stderr)
    for ph in phases:
        for r in ph.restart_failures:
            print(f"bladeplane: restart failed ({ph.name}): {r}; the "
                  f"phase ended there", file=sys.stderr)
    over = (f["chaos_rss_growth_max_kib"] or 0) > RSS_GROWTH_BOUND_KIB
    if over:
        print(f"bladeplane: {f['chaos_rss_growth_max_in']}'s RSS outside "
              f"guest RAM and TCG's translation buffer grew by "
              f"{f['chaos_rss_growth_max_kib']} KiB, over the bound of "
              f"{RSS_GROWTH_BOUND_KIB} KiB", file=sys.stderr)
    return 1 if (f["chaos_failed_not_in_flight"] or f["chaos_hangs"] or
                 f["chaos_restarts_failed"] or over) else 0


def run(minutes=MINUTES, accel="auto", seed=None):
    qemu_bin = qemu.build()
    manifest = image.build()
    chosen, reason = blade.choose_accel(accel)
    print(f"# accelerator: {chosen} ({reason}); {minutes:g} min a phase; "
          f"the front switch's state read every {POLL_S * 1000:g} ms plus "
          f"the read's own time (chaos_poll_interval_ms_p50)", flush=True)
    print("# attribution: a failed request counts against a kill when it was "
          "open at some moment between the SIGKILL and the front switch "
          "showing the kill's blades out of rotation; a failure's blade is "
          "unknown, so any kill's window counts", flush=True)
    rng = random.Random(seed)
    seconds = minutes * 60
    phases = [blade_phase(seconds, chosen, qemu_bin, manifest, rng),
              chassis_phase(seconds, chosen, qemu_bin, manifest)]
    return report(phases)
