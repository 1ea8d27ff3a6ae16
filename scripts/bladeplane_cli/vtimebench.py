"""'bench vtime': virtual time (docs/virtual-time.md), measured.

Determinism: the two-blade chassis of tests/functional/test_virtual_time.py
(b1 at half b0's speed, b0 pinging b1 from blade.run) brought up with `up`
five times: as it is, again, beside a CPU burner on host core 1, pinned to
host core 0, and with the blades' quiet promises off.  Both consoles must
be byte-identical.

The same two blades in two chassis joined by a link, twice: identical
consoles, and the round trip across the chain.

Speed: 1, 4 and 8 blades, each running the same fixed work from blade.run
(`dd` of /dev/urandom to /dev/null, timed by the guest), brought up once
in virtual time and once in real time.  The wall time of that work in
the two modes, side by side, and then how fast an idle chassis's clock
runs against the wall.  Prints 'name: value'."""

import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from . import chassis, qmp, rundir, topology
from .common import LOGS, REPO, Failure, ensure_dir, piped

CLI = os.path.join(REPO, "scripts", "bladeplane")
LATENCY_NS = 50000
PINGS = 5
BLADE_COUNTS = (1, 4, 8)
# the fixed work: 24 MiB of the guest's CSPRNG, a few seconds of TCG
WORK = "time,dd,if=/dev/urandom,of=/dev/null,bs=65536,count=384"
IDLE_WALL_S = 10
RUN_TIMEOUT = 900

PAIR = f"""
name = "vtime-pair"
timing = "virtual"

[[chassis]]
name = "c1"
slots = 2
subnet = "10.0.2.0/24"
latency_ns = {LATENCY_NS}

[[chassis.blade]]
slot = 0
name = "b0"
append = "blade.run=ping,-c,{PINGS},10.0.2.11"

[[chassis.blade]]
slot = 1
name = "b1"
icount_shift = 1
"""

# The same two blades in two chassis joined by a link (a lane in virtual
# time): b0's pings cross the chain both ways.  The example users run.
CHAIN_TOML = os.path.join(REPO, "examples", "virtual-chain.toml")
CHAIN_LATENCY_NS = topology.load(CHAIN_TOML).links[0].latency_ns


def out(name, value):
    print(f"{name}: {value}", flush=True)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def _env(run_dir):
    return dict(os.environ, BLADEPLANE_RUN_DIR=run_dir)


def _down(name, run_dir):
    subprocess.run([CLI, "down", name], env=_env(run_dir),
                   capture_output=True)


def run_to_end(tmp, tag, name, text, blade, blades, prefix=(),
               timeout=RUN_TIMEOUT, snapshot=False, nic_counters=None,
               port_counters=None):
    """Up the virtual-time topology `text` (named `name`), wait for
    blade's blade.run to end (blade: a name, or a tuple of names to wait
    for each); the consoles of `blades` (of any chassis),
    the wall seconds it took, and with `snapshot` the switch's state tree
    at its vtime-snapshot-ns (waited for once the run has ended), else
    None.  A dict `nic_counters` is filled with each blade's virtual-time
    counters of its NIC (QOM vtime-*) at the end, and `port_counters`
    with the first chassis's, per port (query-blade-switch's vtime)."""
    path = os.path.join(tmp, f"{name}.toml")
    with open(path, "w") as f:
        f.write(text)
    run_dir = os.path.join(tmp, tag)
    cdir = os.path.join(run_dir, name, "c1")

    def blade_file(b, ext):
        found = glob.glob(os.path.join(run_dir, name, "*", f"{b}.{ext}"))
        return found[0] if found else os.path.join(cdir, f"{b}.{ext}")

    start = time.monotonic()
    try:
        up = subprocess.run(list(prefix) + [CLI, "up", path],
                            env=_env(run_dir), capture_output=True, text=True)
        if up.returncode:
            raise Failure(f"{name}: up ({tag}) failed: "
                          f"{(up.stdout + up.stderr).strip()[-400:]}")
        for waited in (blade,) if isinstance(blade, str) else blade:
            log = blade_file(waited, "console.log")
            while b"BLADEPLANE-RUN-END" not in _read(log):
                refused = re.search(
                    rb"blade-init: ignoring blade\.run[^\r\n]*", _read(log))
                if refused:
                    raise Failure(f"{name}: {waited}: "
                                  f"{refused[0].decode()}")
                if time.monotonic() - start > timeout:
                    raise Failure(f"{name}: {tag}: {waited}'s blade.run did "
                                  f"not end within {timeout} s")
                gone = _gone(os.path.join(run_dir, name))
                if gone:
                    raise Failure(f"{name}: {tag}: {gone}, before "
                                  f"{waited}'s blade.run ended")
                time.sleep(0.5)
        wall = time.monotonic() - start
        snap = _snapshot(name, tag, os.path.join(cdir, "switch.qmp"),
                         start + timeout) if snapshot else None
        # the serial port's last lines reach the log a moment later
        time.sleep(2)
        if nic_counters is not None:
            for b in blades:
                nic_counters[b] = _nic_vtime(blade_file(b, "qmp"))
        if port_counters is not None:
            state = chassis.read_switch(os.path.join(cdir, "switch.qmp"),
                                        f"{name} ({tag}): the chassis")
            for port in state.get("ports", []):
                if "vtime" in port:
                    port_counters[port["name"]] = port["vtime"]
        return {b: _read(blade_file(b, "console.log"))
                for b in blades}, wall, snap
    finally:
        _down(name, run_dir)


def _gone(path):
    """The first process of the run in `path` that has ended, with the last
    line of its log (in virtual time one that stops stops them all), or
    None."""
    try:
        with open(os.path.join(path, "state.json")) as f:
            procs = json.load(f).get("processes", [])
    except (OSError, ValueError):
        return None
    for p in procs:
        if not rundir.process_alive(p):
            last = _read(p.get("log") or "").decode(errors="replace")
            lines = last.strip().splitlines()
            return (f"{p.get('kind')} {p.get('name')} exited"
                    + (f": {lines[-1]}" if lines else ""))
    return None


NIC_VTIME = ("vtime-quiet-sent", "vtime-quiet-raised", "vtime-cuts",
             "vtime-promises-sent", "vtime-promises-taken", "vtime-late",
             "vtime-tx-waits")


def _nic_vtime(qmp_path):
    with qmp.session(qmp_path, "a blade") as q:
        return {p: q.execute("qom-get", {"path": "/machine/peripheral/nic0",
                                         "property": p})
                for p in NIC_VTIME}


def _snapshot(name, tag, qmp_path, deadline):
    """The switch's vtime-snapshot, once the chassis's clock has passed
    its time."""
    with qmp.session(qmp_path, f"{name} ({tag}): the chassis") as q:
        while True:
            try:
                return chassis.python_names(q.execute(
                    "qom-get", {"path": chassis.SWITCH_PATH,
                                "property": "vtime-snapshot"}))
            except qmp.CommandError as e:
                if not e.desc.startswith("no snapshot"):
                    raise
            if time.monotonic() > deadline:
                raise Failure(f"{name}: {tag}: the chassis's clock did not "
                              f"reach its vtime-snapshot-ns in time")
            time.sleep(0.5)


# the blades' quiet promises off: an idle blade steps a lookahead at a time
QUIET_OFF = '\n[defaults]\nvtime-quiet = "off"\n'


def pair_run(tmp, tag, prefix=(), quiet=True, nic_counters=None):
    """Up the pair, wait for b0's end of the ping; both consoles, and
    the wall seconds it took."""
    text = PAIR if quiet else PAIR.replace("\n[[chassis]]",
                                           QUIET_OFF + "\n[[chassis]]", 1)
    return run_to_end(tmp, tag, "vtime-pair", text, "b0", ("b0", "b1"),
                      prefix, nic_counters=nic_counters)[:2]


def chain_run(tmp, tag, prefix=()):
    """The pair across two chassis: both consoles, and the wall seconds."""
    with open(CHAIN_TOML) as f:
        text = f.read()
    return run_to_end(tmp, tag, "virtual-chain", text, "b0", ("b0", "b1"),
                      prefix)[:2]


def chain_hosts_texts(port):
    """The chain pair as two topology files, as on two hosts joined by a
    TCP link (here both on 127.0.0.1:port): the same chassis, blades,
    addresses and latencies as CHAIN_TOML."""
    link = ("[[link]]\na = \"{c}\"\npeer = \"tcp:127.0.0.1:%d\"\n%s"
            "latency_ns = %d\n")
    a = (f'name = "vh-a"\ntiming = "virtual"\n\n[[chassis]]\nname = "c1"\n'
         f'id = 1\nslots = 1\nsubnet = "10.0.2.0/24"\n'
         f'latency_ns = {LATENCY_NS}\n\n[[chassis.blade]]\nslot = 0\n'
         f'name = "b0"\nip = "10.0.2.10"\n'
         f'append = "blade.run=ping,-c,{PINGS},10.0.2.11"\n\n'
         + link.format(c="c1") % (port, "listen = true\n", CHAIN_LATENCY_NS))
    b = (f'name = "vh-b"\ntiming = "virtual"\n\n[[chassis]]\nname = "c2"\n'
         f'id = 2\nslots = 1\nlatency_ns = {LATENCY_NS}\n\n'
         f'[[chassis.blade]]\nslot = 0\nname = "b1"\nip = "10.0.2.11"\n'
         f'icount_shift = 1\n\n'
         + link.format(c="c2") % (port, "", CHAIN_LATENCY_NS))
    return {"vh-a": a, "vh-b": b}


def chain_hosts_run(tmp, tag, port, timeout=RUN_TIMEOUT):
    """Up both files at once, as two hosts would; b0's and b1's consoles
    once b0's blade.run has ended."""
    run_dir = os.path.join(tmp, tag)
    ups = []
    try:
        for name, text in chain_hosts_texts(port).items():
            path = os.path.join(tmp, f"{name}.toml")
            with open(path, "w") as f:
                f.write(text)
            ups.append(subprocess.Popen([CLI, "up", path], env=_env(run_dir),
                                        stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
        for up in ups:
            out, _ = up.communicate(timeout=timeout)
            if up.returncode:
                raise Failure(f"chain across hosts: up ({tag}) failed: "
                              f"{out.strip()[-400:]}")
        logs = {"b0": os.path.join(run_dir, "vh-a", "c1", "b0.console.log"),
                "b1": os.path.join(run_dir, "vh-b", "c2", "b1.console.log")}
        start = time.monotonic()
        while b"BLADEPLANE-RUN-END" not in _read(logs["b0"]):
            if time.monotonic() - start > timeout:
                raise Failure(f"chain across hosts: {tag}: b0's blade.run "
                              f"did not end within {timeout} s")
            time.sleep(0.5)
        time.sleep(2)   # the serial port's last lines
        return {b: _read(path) for b, path in logs.items()}
    finally:
        for up in ups:
            if up.poll() is None:
                up.kill()
                up.wait()
        for name in ("vh-a", "vh-b"):
            _down(name, run_dir)


def last_rtt_us(console):
    rtts = re.findall(rb"seq=\d+ ttl=64 time=([0-9.]+) ms", console)
    if len(rtts) != PINGS:
        raise Failure("bench vtime: b0 did not print every round trip")
    return round(float(rtts[-1]) * 1000, 1)


def determinism(tmp):
    runs = {}
    walls = []
    for tag, prefix in (("plain", ()), ("again", ()), ("burner", ()),
                        ("one-core", ("taskset", "-c", "0")),
                        ("quiet-off", ())):
        burner = None
        if tag == "burner":
            burner = subprocess.Popen(["taskset", "-c", "1", sys.executable,
                                       "-c", "while True: pass"])
        try:
            runs[tag], wall = pair_run(tmp, tag, prefix,
                                       quiet=tag != "quiet-off")
        finally:
            if burner:
                burner.kill()
                burner.wait()
        walls.append(wall)
    plain = runs["plain"]
    out("vtime_identical_runs", int(plain == runs["again"]))
    out("vtime_identical_under_load", int(plain == runs["burner"]))
    out("vtime_identical_one_core", int(plain == runs["one-core"]))
    out("vtime_identical_without_quiet", int(plain == runs["quiet-off"]))
    out("vtime_ping_rtt_us_run1", last_rtt_us(plain["b0"]))
    out("vtime_ping_rtt_us_run2", last_rtt_us(runs["again"]["b0"]))
    # four lanes a round trip: b0 -> switch -> b1 and back
    out("vtime_ping_modelled_us", 4 * LATENCY_NS / 1000)
    out("vtime_pair_wall_s", round(statistics.median(walls), 1))
    out("vtime_pair_wall_s_quiet_off", round(walls[-1], 1))
    # across a chain: two more lanes each way, between two chassis
    for tag in ("chain", "chain-again"):
        runs[tag], wall = chain_run(tmp, tag)
    out("vtime_chain_identical_runs", int(runs["chain"] ==
                                          runs["chain-again"]))
    out("vtime_chain_ping_rtt_us", last_rtt_us(runs["chain"]["b0"]))
    out("vtime_chain_ping_modelled_us",
        (4 * LATENCY_NS + 2 * CHAIN_LATENCY_NS) / 1000)
    out("vtime_chain_wall_s", round(wall, 1))
    # a run that parted: both consoles kept, to diff against plain's
    for tag, consoles in runs.items():
        base = "chain" if tag.startswith("chain") else "plain"
        if consoles != runs[base]:
            for t in (base, tag):
                for b in consoles:
                    path = os.path.join(ensure_dir(LOGS),
                                        f"vtime-{t}-{b}.console.log")
                    with open(path, "wb") as f:
                        f.write(runs[t][b])
            print(f"bench vtime: run '{tag}' differs from '{base}': "
                  f"{LOGS}/vtime-{tag}-b0.console.log and the others",
                  file=sys.stderr)


def work_topology(n, timing, quiet=True, nchassis=1):
    """n blades doing the work, in one chassis or split evenly over
    nchassis joined in a chain (links of CHAIN_LATENCY_NS)."""
    name = f"vtime-{n}" + (f"x{nchassis}" if nchassis > 1 else "")
    per = n // nchassis
    lines = [f'name = "{name}"', f'timing = "{timing}"', ""]
    if not quiet:
        lines += QUIET_OFF.strip().split("\n") + [""]
    for c in range(nchassis):
        lines += ["[[chassis]]", f'name = "c{c + 1}"',
                  f"slots = {max(per, 2)}"]
        if c == 0:
            lines.append('subnet = "10.0.2.0/24"')
        if timing == "virtual":
            lines.append(f"latency_ns = {LATENCY_NS}")
        for i in range(c * per, (c + 1) * per):
            lines += ["", "[[chassis.blade]]", f"slot = {i - c * per}",
                      f'name = "b{i}"', f'append = "blade.run={WORK}"']
        lines.append("")
    for c in range(1, nchassis):
        lines += ["[[link]]", f'a = "c{c}"', f'b = "c{c + 1}"']
        if timing == "virtual":
            lines.append(f"latency_ns = {CHAIN_LATENCY_NS}")
        lines.append("")
    return name, "\n".join(lines) + "\n"


def _guest_seconds(console):
    """The guest's own measure of the work (busybox time: 'real 0m 1.23s')."""
    m = re.search(rb"real\s+(\d+)m\s*([0-9.]+)s", console)
    return int(m.group(1)) * 60 + float(m.group(2)) if m else None


def _switch_ms(qmp):
    state = chassis.read_switch(qmp, "chassis c1")
    return (state.get("switch") or {}).get("now_ms")


def work_run(tmp, n, timing, quiet=True, nchassis=1):
    """Up n blades doing the fixed work (in nchassis chassis); returns the
    wall seconds from the ready lines' and the work's first start to its
    last end, the guest's seconds of work (median), and the (first)
    chassis clock's virtual ms per wall second once the blades are
    idle."""
    name, text = work_topology(n, timing, quiet, nchassis)
    path = os.path.join(tmp, f"{name}-{timing}{'' if quiet else '-q'}.toml")
    # short: the run directory's sockets must fit a UNIX socket path
    with open(path, "w") as f:
        f.write(text)
    run_dir = os.path.join(tmp, f"{n}{timing[0]}{'' if quiet else 'q'}"
                                f"{nchassis if nchassis > 1 else ''}")
    cdir = os.path.join(run_dir, name, "c1")
    per = n // nchassis
    logs = [os.path.join(run_dir, name, f"c{i // per + 1}",
                         f"b{i}.console.log") for i in range(n)]
    start = time.monotonic()
    up = subprocess.Popen([CLI, "up", path], env=_env(run_dir),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    try:
        begin = end = None
        ready = {}
        while True:
            now = time.monotonic()
            texts = [_read(p) for p in logs]
            for i, t in enumerate(texts):
                if i not in ready and b"BLADEPLANE-READY" in t:
                    ready[i] = now - start
            if begin is None and any(b"BLADEPLANE-RUN-BEGIN" in t
                                     for t in texts):
                begin = now
            if all(b"BLADEPLANE-RUN-END" in t for t in texts):
                end = now
                break
            if up.poll() not in (None, 0):
                said = piped(up.stdout).read().strip()
                raise Failure(f"bench vtime: up of {n} blades ({timing}) "
                              f"failed: {said[-400:]}")
            if now - start > RUN_TIMEOUT:
                raise Failure(f"bench vtime: {n} blades ({timing}): the "
                              f"work did not end within {RUN_TIMEOUT} s")
            time.sleep(0.1)
        guest = [_guest_seconds(t) for t in texts]
        if None in guest:
            raise Failure(f"bench vtime: {n} blades ({timing}): a blade "
                          f"did not print the time of its work")
        if begin is None:
            raise Failure(f"bench vtime: {n} blades ({timing}): no blade "
                          f"printed BLADEPLANE-RUN-BEGIN")
        if up.wait(RUN_TIMEOUT) != 0:
            said = piped(up.stdout).read().strip()
            raise Failure(f"bench vtime: up of {n} blades ({timing}) "
                          f"failed: {said[-400:]}")
        qmp = os.path.join(cdir, "switch.qmp")
        w0, v0 = time.monotonic(), _switch_ms(qmp)
        time.sleep(IDLE_WALL_S)
        w1, v1 = time.monotonic(), _switch_ms(qmp)
        return {"boot": max(ready.values()), "work": end - begin,
                "guest": statistics.median(guest),
                "idle_speed": (v1 - v0) / 1000 / (w1 - w0)}
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        _down(name, run_dir)


def speed(tmp):
    for n in BLADE_COUNTS:
        real = work_run(tmp, n, "real")
        virt = work_run(tmp, n, "virtual")
        out(f"realtime_boot_wall_s_{n}", round(real["boot"], 1))
        out(f"vtime_boot_wall_s_{n}", round(virt["boot"], 1))
        out(f"realtime_work_wall_s_{n}", round(real["work"], 2))
        out(f"vtime_work_wall_s_{n}", round(virt["work"], 2))
        out(f"vtime_work_virtual_s_{n}", round(virt["guest"], 3))
        out(f"vtime_wall_per_virtual_s_{n}_loaded",
            round(virt["work"] / virt["guest"], 2))
        out(f"vtime_over_realtime_{n}_loaded",
            round(virt["work"] / real["work"], 2))
        out(f"vtime_idle_speedup_{n}", round(virt["idle_speed"], 2))
        if n == 4:
            off = work_run(tmp, n, "virtual", quiet=False)
            out("vtime_over_realtime_4_loaded",
                round(virt["work"] / real["work"], 2))
            out("vtime_idle_speedup", round(virt["idle_speed"], 2))
            out("vtime_idle_speedup_4_quiet_off",
                round(off["idle_speed"], 2))
            out("vtime_work_wall_s_4_quiet_off", round(off["work"], 2))
            out("vtime_quiet_idle_gain_4",
                round(virt["idle_speed"] / off["idle_speed"], 1))
            # the same four blades in two chassis joined by a link
            chain = work_run(tmp, n, "virtual", nchassis=2)
            out("vtime_chain_work_wall_s_4", round(chain["work"], 2))
            out("vtime_chain_over_realtime_4_loaded",
                round(chain["work"] / real["work"], 2))
            out("vtime_chain_idle_speedup_4", round(chain["idle_speed"], 2))


def run():
    from . import image, qemu
    qemu.build()
    image.build()
    if not shutil.which("taskset"):
        raise Failure("bench vtime: taskset (util-linux) is not installed")
    tmp = tempfile.mkdtemp(prefix="bpvt-", dir="/tmp")
    try:
        determinism(tmp)
        speed(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
