"""`bench lb-emu`: the balancing policies on a real chassis.

One chassis, four booted blades made unequal (one with a background CPU
hog, one with two vCPUs), a web service on the uplink.  The host sends
open-loop (Poisson) HTTP requests, each a new flow, and measures each
response time from the moment the request was due.  First a closed-loop
run finds what the blades can answer per second; then each policy, set
at run time over QMP, gets the same arrival rate (a fraction of that
capacity) for the same time, in rounds that take the policies in turn so
that a host busy with something else for a while hurts them alike.
Prints 'name: value' lines: per policy the p50, p99 and mean response
time and the hogged blade's share of new flows, and the ranking by p99
(docs/balancing.md compares it with the simulator's).

`bench lb-emu-2` runs the same on two blades of one vCPU each, one with
the hog: no more vCPUs than a 2-core host has cores, so that a blade's
reported CPU time is its own and not a share of cores all blades contend
for (docs/balancing.md, "Emulator runs").
"""

import concurrent.futures
import os
import random
import tempfile
import threading
import time

from . import blade, chassis, image, qemu, topology
from .common import Failure, say, step
from .console import ConsoleSession
from .demo import free_port
from .loadgen import LoadGenerator

POLICIES = ["util", "random", "rr", "leastconn", "p2c-conn", "wrr-cpu"]
PATH = "/cgi-bin/work?kb=32"
HOG = "b1"                  # a background CPU hog
BIG = "b2"                  # two vCPUs
CALIBRATE_S = 20
ROUNDS = 3
WARMUP_S = 5                # after each change of policy
MEASURE_S = 15              # a round, per policy
LOAD_FRACTION = 0.7
WORKERS = 24
SEED = 1

TOPOLOGY = """\
name = "lb-emu"
[[chassis]]
name = "c1"
slots = {slots}
[chassis.uplink]
forward = ["tcp:127.0.0.1:{port}-10.0.2.100:80"]
[chassis.switch]
seed = 1
{blades}[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
policy = "util"
"""

# variant -> (what it starts, blades: vCPUs per slot)
VARIANTS = {
    "four": ("one chassis, four blades (b1 with a CPU hog, b2 with two "
             "vCPUs)", [1, 1, 2, 1]),
    "two": ("one chassis, two blades of one vCPU (b1 with a CPU hog)",
            [1, 1]),
}


def topology_text(variant, port):
    blades = ""
    for slot, cpus in enumerate(VARIANTS[variant][1]):
        blades += f"[[chassis.blade]]\nslot = {slot}\n"
        if cpus != 1:
            blades += f"cpus = {cpus}\n"
    return TOPOLOGY.format(slots=len(VARIANTS[variant][1]), port=port,
                           blades=blades)


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))]


class OpenLoop:
    """Poisson arrivals at @rate per second for @seconds; each request is
    timed from when it was due, so queueing on the client side counts."""

    def __init__(self, host, port, rate, seconds, seed):
        self.gen = LoadGenerator(host, port, PATH, threads=0, timeout=60)
        self.rate = rate
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.times = []
        self.failed = 0
        self.lock = threading.Lock()

    def _one(self, due):
        try:
            self.gen.request()
        except Exception:
            with self.lock:
                self.failed += 1
            return
        with self.lock:
            self.times.append(time.monotonic() - due)

    def run(self):
        start = time.monotonic()
        due = start
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            while True:
                due += self.rng.expovariate(self.rate)
                if due - start > self.seconds:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._one, due)
        return self


def new_flows(state):
    return {b["slot"]: b["new_flows"] for b in state["blades"]}


def run(variant="four", accel="auto"):
    qemu_bin = qemu.build()
    manifest = image.build()
    chosen, reason = blade.choose_accel(accel)
    say(f"accelerator: {chosen} ({reason})")
    tmp = tempfile.TemporaryDirectory()
    port = free_port("127.0.0.1", 0)
    path = os.path.join(tmp.name, "lb-emu.toml")
    with open(path, "w") as f:
        f.write(topology_text(variant, port))
    topo = topology.load(path)
    ch = topo.chassis[0]
    step("up: " + VARIANTS[variant][0])
    run_, not_in = chassis.Launcher(topo, chosen, qemu_bin, manifest).up()
    qmp = chassis.chassis_files(run_.path, ch)["qmp"]
    hog_slot = ch.blade(HOG).slot
    try:
        if not_in:
            raise Failure("blades not in rotation: " + ", ".join(not_in))
        proc = next(p for p in run_.processes() if p["name"] == HOG)
        con = ConsoleSession(proc["console"], f"blade {HOG}")
        try:
            status, out = con.run("blade-hog start 1", timeout=60)
        finally:
            con.close()
        if status != 0:
            raise Failure(f"{HOG}: blade-hog start failed: {out.strip()}")

        step(f"capacity: {CALIBRATE_S} s of closed-loop load, 4 threads")
        gen = LoadGenerator("127.0.0.1", port, PATH, threads=4).start()
        time.sleep(CALIBRATE_S)
        gen.stop()
        snap = gen.snapshot()
        capacity = snap["ok"] / CALIBRATE_S
        if capacity <= 0:
            raise Failure(f"no answers in {CALIBRATE_S} s "
                          f"({snap['last_error']})")
        rate = capacity * LOAD_FRACTION
        print(f"emu_capacity_rps: {capacity:.2f}", flush=True)
        print(f"emu_rate_rps: {rate:.2f}", flush=True)

        times = {p: [] for p in POLICIES}
        failed = {p: 0 for p in POLICIES}
        flows = {p: {} for p in POLICIES}
        for rnd in range(ROUNDS):
            for policy in POLICIES:
                with chassis.QMP.connect(qmp, "chassis c1", 10) as q:
                    q.execute("blade-switch-set-policy",
                              {"name": "web", "policy": policy})
                step(f"round {rnd + 1}/{ROUNDS}, policy {policy}: "
                     f"{WARMUP_S} s warm-up, {MEASURE_S} s of Poisson "
                     f"arrivals at {rate:.2f}/s")
                OpenLoop("127.0.0.1", port, rate, WARMUP_S,
                         SEED + 2 * rnd).run()
                before = new_flows(chassis.read_switch(qmp, "chassis c1"))
                ol = OpenLoop("127.0.0.1", port, rate, MEASURE_S,
                              SEED + 2 * rnd + 1).run()
                after = new_flows(chassis.read_switch(qmp, "chassis c1"))
                for slot in after:
                    flows[policy][slot] = (flows[policy].get(slot, 0) +
                                           after[slot] -
                                           before.get(slot, 0))
                times[policy] += ol.times
                failed[policy] += ol.failed

        results = {}
        for policy in POLICIES:
            t = times[policy]
            if not t:
                raise Failure(f"policy {policy}: no answers")
            total = sum(flows[policy].values()) or 1
            results[policy] = percentile(t, 0.99)
            print(f"emu_{policy}_p50_ms: {percentile(t, 0.5) * 1e3:.0f}")
            print(f"emu_{policy}_p99_ms: {results[policy] * 1e3:.0f}")
            print(f"emu_{policy}_mean_ms: {sum(t) / len(t) * 1e3:.0f}")
            print(f"emu_{policy}_hog_share: "
                  f"{flows[policy].get(hog_slot, 0) / total:.3f}")
            print(f"emu_{policy}_failed: {failed[policy]}", flush=True)
        ranking = sorted(results, key=results.get)
        print(f"emu_ranking_by_p99: {','.join(ranking)}")
    finally:
        chassis.down(run_)
        tmp.cleanup()
    return 0
