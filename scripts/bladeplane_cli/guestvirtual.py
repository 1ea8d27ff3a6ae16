"""`bench guest --timing virtual`: blade to blade over blade-nic in
virtual time (docs/virtual-time.md, "A driver's figures"), the figures a
driver change moves and the host does not.

Two blades in two slots of a chassis in virtual time, each lane
LATENCY_NS a direction, booted RUNS times with the slots paced at 1000
Mb/s as `up` runs them ("chassis") and RUNS times at speed 0
("unpaced": the blades' CPUs set the rate).  The workload is
blade-nic-bench (images/rootfs/usr/bin), started by each blade's
blade.run, so the host touches nothing while it runs: b0 pings b1, runs
iperf3 TCP to it and from it, the same with both NICs' offloads off,
then once more counting both NICs' interrupts.  The boots' consoles are
compared byte for byte.

What the real-time bench compares this pair with, virtio-net over a
stream netdev and lane-patch, runs in real time only: those lines are
not printed.  Nor are the drivers' MMIO writes: the host counts them
with trace events it turns on for the counted run, which in virtual
time would be at a moment the host chose.  Prints 'name: value', the
real-time bench's names for the pair."""

import os
import re
import statistics
import tempfile

from . import image, qemu
from .common import LOGS, Failure, ensure_dir
from .guestbench import out, percentile, ping_times_ms, receiver_gbps
from .lbvirtual import run_output
from .vtimebench import run_to_end

LATENCY_NS = 50000          # each lane, a direction (bench vtime's)
# each iperf3 test: virtual seconds (real time's are 5; here there is no
# noise to average out), or octets (blade-nic-bench's LENGTH)
LENGTH = "1"
KINDS = ("chassis", "unpaced")
PINGS = 50                  # 0.05 s apart, as in real time
RUNS = 2
TIMEOUT_S = 3600            # wall seconds a run may take
SUBNET = "10.0.2.0/24"
SERVER_IP = "10.0.2.11"     # b1, the default for its slot
STEPS = ("ping", "send", "recv", "send_nooffload", "recv_nooffload",
         "count")


def topology_text(kind, length=LENGTH, pings=PINGS):
    """kind: "chassis", its slots paced at 1000 Mb/s, or "unpaced", every
    slot and NIC at speed 0."""
    switch = ["[chassis.switch]", "slot-speed = 0", ""] \
        if kind == "unpaced" else []
    return "\n".join([
        f'name = "guest-vtime-{kind}"', 'timing = "virtual"', "",
        "[[chassis]]", 'name = "c1"', "slots = 2", f'subnet = "{SUBNET}"',
        f"latency_ns = {LATENCY_NS}", ""] + switch + [
        "[[chassis.blade]]", "slot = 0", 'name = "b0"',
        f'append = "blade.http=0 blade.run=blade-nic-bench,send,'
        f'{SERVER_IP},{length},{pings}"', "",
        "[[chassis.blade]]", "slot = 1", 'name = "b1"',
        'append = "blade.http=0 blade.run=blade-nic-bench,serve"', ""])


def steps(lines):
    """The sender's output by step: {step: [line, ...]}."""
    by: dict[str, list[str]] = {}
    current = None
    for line in lines:
        m = re.fullmatch(r"step (\w+)", line.strip())
        if m:
            current = m.group(1)
            by[current] = []
        elif current is not None:
            by[current].append(line)
    missing = [s for s in STEPS if s not in by]
    if missing:
        raise Failure(f"bench guest: b0's run has no step "
                      f"{', '.join(missing)}: {' | '.join(lines[-5:])}")
    return by


def ping_times(lines, pings):
    times = ping_times_ms("\n".join(lines))
    if len(times) < pings:
        raise Failure(f"bench guest: only {len(times)} of {pings} pings "
                      f"answered")
    return times


def step_gbps(lines, step):
    gbps = receiver_gbps("\n".join(lines))
    if gbps is None:
        raise Failure(f"bench guest: no iperf3 summary in step {step}: "
                      f"{' | '.join(lines[-5:])}")
    return gbps


def counts(lines, who):
    """(interrupts, frames received) between 'counts before' and
    'counts after'."""
    seen = {}
    for line in lines:
        f = line.split()
        if len(f) == 4 and f[0] == "counts" and f[2].isdigit() and \
                f[3].isdigit():
            seen[f[1]] = (int(f[2]), int(f[3]))
    if set(seen) != {"before", "after"}:
        raise Failure(f"bench guest: {who} printed no counts around the "
                      f"counted run")
    return tuple(a - b for a, b in zip(seen["after"], seen["before"]))


def missed(lines, who):
    """The NIC's rx_missed_errors the blade printed last."""
    for line in reversed(lines):
        f = line.split()
        if len(f) == 2 and f[0] == "missed" and f[1].isdigit():
            return int(f[1])
    raise Failure(f"bench guest: {who} printed no missed count")


def figures(kind, consoles, pings=PINGS):
    """kind's lines from one run's consoles."""
    sender = run_output(consoles["b0"])
    server = run_output(consoles["b1"])
    by = steps(sender)
    times = ping_times(by["ping"], pings)
    gbps = {s: step_gbps(by[s], s) for s in STEPS[1:5]}
    irq_s, frames = counts(server, "b1")
    irq_c, _ = counts(sender, "b0")
    mean = (gbps["send"] + gbps["recv"]) / 2
    off = (gbps["send_nooffload"] + gbps["recv_nooffload"]) / 2
    return [(f"ping_{kind}_median_ms", f"{statistics.median(times):.3f}"),
            (f"ping_{kind}_p99_ms", f"{percentile(times, 99):.3f}"),
            (f"iperf_{kind}_send_Gbps", f"{gbps['send']:.4f}"),
            (f"iperf_{kind}_recv_Gbps", f"{gbps['recv']:.4f}"),
            (f"iperf_{kind}_Gbps", f"{mean:.4f}"),
            (f"iperf_{kind}_nooffload_Gbps", f"{off:.4f}"),
            (f"{kind}_offload_ratio", f"{mean / off:.3f}" if off else "nan"),
            (f"{kind}_irq_per_kframe",
             f"{1000 * (irq_s + irq_c) / max(frames, 1):.0f}"),
            (f"{kind}_rx_missed",
             str(missed(sender, "b0") + missed(server, "b1")))]


def run(length=LENGTH, pings=PINGS, runs=RUNS, kinds=KINDS):
    qemu.build()
    image.build()
    print(f"bench-guest in virtual time: 2 blades in 2 slots of a chassis, "
          f"{LATENCY_NS // 1000} us a lane and direction, its lanes paced "
          f"at 1000 Mb/s (chassis) and at speed 0 (unpaced: the blades' "
          f"CPUs, 1 GHz, set the rate); blade-nic-bench from blade.run; "
          f"ping: {pings} at 0.05 s, median and p99; iperf3 TCP "
          f"{length}{'' if length[-1] in 'KMG' else ' s'} each way (send: "
          f"b0 to b1, recv: -R), Gbps the receiver saw in virtual time, "
          f"*_Gbps the mean of the two; then both with ethtool -K tx rx sg "
          f"tso off; then once more b0 to b1: both blades' interrupts on "
          f"their NIC per 1000 frames b1 received; each boot {runs} times, "
          f"consoles compared; virtio-net, lane-patch, MMIO writes and boot "
          f"times: real time only", flush=True)
    with tempfile.TemporaryDirectory(prefix="guest-vt-") as tmp:
        for kind in kinds:
            text = topology_text(kind, length, pings)
            results = []
            walls = []
            late = {"vtime-late": 0, "vtime-tx-waits": 0}
            port_late = {"late": 0, "tx_waits": 0}
            for i in range(runs):
                nics: dict[str, dict] = {}
                ports: dict[str, dict] = {}
                consoles, wall, _ = run_to_end(
                    tmp, f"{kind}{i + 1}", f"guest-vtime-{kind}", text,
                    ("b0", "b1"), ("b0", "b1"), timeout=TIMEOUT_S,
                    nic_counters=nics, port_counters=ports)
                results.append(consoles)
                walls.append(wall)
                for k in late:
                    late[k] = max(late[k], sum(n[k] for n in nics.values()))
                for k in port_late:
                    port_late[k] = max(port_late[k],
                                       sum(p[k] for p in ports.values()))
            for name, value in figures(kind, results[0], pings):
                out(name, value)
            if runs > 1:
                _identical(kind, results)
            # what makes a run depend on the host (docs/virtual-time.md,
            # "What is deterministic"): records the NICs took after their
            # time, and frames they held back while their lane's queue was
            # full; the most of any boot, both blades
            out(f"vtime_{kind}_nic_late", late["vtime-late"])
            out(f"vtime_{kind}_nic_tx_waits", late["vtime-tx-waits"])
            # the same at the chassis's ports
            out(f"vtime_{kind}_switch_late", port_late["late"])
            out(f"vtime_{kind}_switch_tx_waits", port_late["tx_waits"])
            # wall seconds a boot of this pair took, to its end of the run
            out(f"vtime_{kind}_wall_s", f"{statistics.median(walls):.1f}")
    return 0


def _identical(kind, results):
    same = all(c == results[0] for c in results[1:])
    out(f"vtime_{kind}_identical_runs", int(same))
    if not same:
        for i, consoles in enumerate(results):
            for b, text in consoles.items():
                path = os.path.join(ensure_dir(LOGS), f"guest-vtime-{kind}"
                                    f"{i + 1}-{b}.console.log")
                with open(path, "wb") as f:
                    f.write(text)
        print(f"bench guest: {kind}'s runs' consoles differ: "
              f"{LOGS}/guest-vtime-{kind}*.console.log", flush=True)
