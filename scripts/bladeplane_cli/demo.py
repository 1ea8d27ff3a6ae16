"""The main job: one chassis, four blades, a web service balanced by the
load the blades report in the idle gap of their lanes.

1. `up` of examples/one-chassis.toml (as topology "demo"): the chassis
   (user networking uplink, a host port forwarded to the service's VIP),
   then four blades;
2. a load generator on the host: HTTP GET /cgi-bin/work on the forwarded
   port from a few threads, a new TCP connection (a new flow) each;
3. midway, a background CPU hog on one blade (`blade-hog start` on its
   console: through the VIP a request could not choose its blade);
4. top-style frames all along: utilization, and the share of new flows
   moving away from the busy blade;
5. a summary read from the switch's counters, then `down`.
"""

import os
import socket
import time

from . import blade, chassis, image, qemu, rundir, topology, views
from .common import REPO, Failure, say, step
from .console import ConsoleSession
from .loadgen import LoadGenerator

TOPOLOGY = os.path.join(REPO, "examples", "one-chassis.toml")
NAME = "demo"
BUSY = "b1"                 # the blade that gets the hog
FRAME_S = 5.0               # seconds per top frame
SETTLE_S = 5.0              # after the hog starts, before measuring "after"
LOAD_THREADS = 2
LOAD_PATH = "/cgi-bin/work?kb=64"


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
    return topo


class Watch:
    """Switch state reads with a frame printed every FRAME_S seconds."""

    def __init__(self, run, ch):
        self.qmp = run.state["chassis"][ch.name]["qmp"]
        self.ch = ch
        self.title = f"{run.name}/{ch.name}"
        self.last = self.read()

    def read(self):
        return chassis.read_switch(self.qmp, f"chassis {self.ch.name}")

    def run_for(self, seconds, load):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return self.last
            time.sleep(min(FRAME_S, left))
            cur = self.read()
            print(views.render_top(self.title, self.last, cur, self.ch))
            snap = load.snapshot()
            print(f"  load: {snap['ok']} answered, {snap['failed']} failed"
                  + (f" (last: {snap['last_error']})" if snap["failed"] else ""),
                  flush=True)
            self.last = cur


def run(accel="auto", seconds=30, keep=False):
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
             f"{fw.host_port}{LOAD_PATH}, a new connection each")
        load = LoadGenerator(host, fw.host_port, LOAD_PATH,
                             threads=LOAD_THREADS).start()
        if not load.wait_answers(1, 60):
            snap = load.snapshot()
            raise Failure(f"no answer through {host}:{fw.host_port} within "
                          f"60 s (last error: {snap['last_error']})")
        start = watch.read()
        watch.last = start
        step(f"{seconds} s of load on all four blades")
        before_hog = watch.run_for(seconds, load)

        step(f"blade {BUSY}: 'blade-hog start' on its console (a CPU hog "
             f"in the background)")
        con = ConsoleSession(_console(run_, BUSY), f"blade {BUSY}")
        try:
            status, text = con.run("blade-hog start", timeout=60)
        finally:
            con.close()
        if status != 0:
            raise Failure(f"blade {BUSY}: blade-hog start failed: "
                          f"{text.strip()}")
        say(f"{BUSY}: {text.strip()}")
        step(f"{seconds} s of load with {BUSY} busy (the first "
             f"{SETTLE_S:g} s let its reports catch up)")
        watch.run_for(SETTLE_S, load)
        settled = watch.last
        end = watch.run_for(max(FRAME_S, seconds - SETTLE_S), load)
    finally:
        if load:
            load.stop()
        if keep:
            say(f"--keep: topology {NAME} stays up; 'bladeplane down {NAME}' "
                f"stops it")
        else:
            step("down: a clean shutdown")
            chassis.down(rundir.find(NAME))
    return summary(busy, start, before_hog, settled, end, load)


def _console(run_, name):
    return next(p["console"] for p in run_.processes() if p["name"] == name)


def summary(busy, start, before_hog, settled, end, load):
    """Print the busy blade's share of new flows before and with its hog
    (two intervals of the switch's counters); Failure if it did not drop."""
    before = views.interval_shares(start, before_hog) or {}
    after = views.interval_shares(settled, end) or {}
    n_before = sum(d for d, _ in before.values())
    n_after = sum(d for d, _ in after.values())
    # The chassis's own blades are keyed (None, slot).
    s_before = before.get((None, busy.slot), (0, None))[1]
    s_after = after.get((None, busy.slot), (0, None))[1]
    fair = 1 / max(1, len(before) or 4)
    snap = load.snapshot()
    print()
    print("summary (from the switch's new_flows counters):")
    print(f"  {busy.name}'s share of new flows before its hog: "
          f"{_pct(s_before)} of {n_before} (a fair share: {fair * 100:.0f}%)")
    print(f"  {busy.name}'s share of new flows with its hog:   "
          f"{_pct(s_after)} of {n_after}")
    by = ", ".join(f"{k} {v}" for k, v in sorted(snap["by_blade"].items()))
    print(f"  requests answered: {snap['ok']} ({by}); failed: {snap['failed']}")
    if s_before is None or s_after is None:
        raise Failure("no new flows were measured in one of the two periods")
    if s_after >= s_before * 0.6:
        raise Failure(f"the busy blade's share did not drop clearly "
                      f"({_pct(s_before)} -> {_pct(s_after)})")
    print(f"demo done: the switch steered new flows away from the busy "
          f"blade ({_pct(s_before)} -> {_pct(s_after)}).")
    return 0


def _pct(v):
    return "-" if v is None else f"{v * 100:.1f}%"
