"""'bench guest': blade to blade over blade-nic (two NICs wired to each
other by a socket chardev, server and client, their lanes paced at the
NIC's 1000 Mb/s) beside virtio-net (a QEMU '-netdev stream' pair over a
UNIX socket, which has no line rate) and beside a second blade-nic pair
with unpaced lanes (speed 0), a third, unpaced too, wired through
lane-patch instead (whose queues lie between the two NICs), and a fourth
in two slots of a chassis (a blade-switch, every lane paced at 1000 Mb/s
as `up` runs them), in the same run; the first two blade-nic pairs again
with their offloads off; the drivers' writes and the interrupts per 1000
frames; plus boot-to-ready times.  Prints 'name: value'."""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from . import blade, qemu
from .common import Failure
from .lanepatch import PatchLog

PINGS = 50
# The pings of each pair in rounds, the pairs in turn and in a new order
# each round: the host's speed drifts over seconds, and one pair's pings
# taken all before another's would be compared across that drift.
PING_ROUNDS = 5
COUNT_SECONDS = 3       # the run with the MMIO and notify trace events on
# what each NIC's driver writes to it per frame: blade-nic's MMIO writes,
# virtio-net's queue notifications (the trace events, docs/blade-nic.md 15)
WRITE_EVENT = {"blade": "blade_nic_mmio_write",
               "unpaced": "blade_nic_mmio_write",
               "relay": "blade_nic_mmio_write",
               "chassis": "blade_nic_mmio_write",
               "virtio": "virtio_queue_notify"}
PING_INTERVAL = 0.05
IPERF_SECONDS = 5
BOOTS_1 = 3
BOOTS_N = 8
READY_TIMEOUT = 300


def out(name, value):
    print(f"{name}: {value}", flush=True)


def sh(b, command, timeout=60):
    status, text = b.run(command, timeout=timeout)
    if status != 0:
        raise Failure(f"bench guest: blade {b.name}: '{command}' failed "
                      f"(status {status}): {text.strip()}")
    return text


def percentile(values, p):
    """Nearest rank."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def ping_times_ms(text):
    """The round trips ping printed."""
    return [float(t) for t in re.findall(r"time=([\d.]+) ms", text)]


def ping_all(senders, peer):
    """{kind: (median, p99)} of PINGS round trips from each kind's sender
    to peer, taken in PING_ROUNDS rounds that rotate the kinds' order."""
    count = PINGS // PING_ROUNDS
    kinds = list(senders)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for kind in kinds:
        sh(senders[kind], f"ping -c 2 -W 10 {peer} > /dev/null")  # ARP
    for r in range(PING_ROUNDS):
        for kind in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
            text = sh(senders[kind], f"ping -c {count} -i {PING_INTERVAL} "
                                     f"-W 5 {peer}", timeout=count * 5 + 30)
            times[kind] += ping_times_ms(text)
    stats = {}
    for kind in kinds:
        got = times[kind]
        if len(got) < PINGS * 0.9:
            raise Failure(f"bench guest: {senders[kind].name}: only "
                          f"{len(got)} of {PINGS} pings answered")
        stats[kind] = statistics.median(got), percentile(got, 99)
    return stats


UNITS = {"": 1e-9, "K": 1e-6, "M": 1e-3, "G": 1.0}


def receiver_gbps(text):
    """Gb/s the receiver saw, from iperf3 -c's summary; None: none."""
    m = re.search(r"([\d.]+) ([KMG]?)bits/sec\s+(?:\d+\s+)?receiver", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def iperf(b, peer, reverse):
    """Gb/s the receiver saw; reverse: the peer sends."""
    text = sh(b, f"iperf3 -c {peer} -t {IPERF_SECONDS} -f m"
                 f"{' -R' if reverse else ''}", timeout=IPERF_SECONDS + 60)
    gbps = receiver_gbps(text)
    if gbps is None:
        raise Failure(f"bench guest: {b.name}: no iperf3 summary in: {text}")
    return gbps


def irqs(b, pattern):
    """Interrupts the guest has taken on the lines whose name matches
    pattern (all CPUs)."""
    total = 0
    for line in sh(b, "cat /proc/interrupts").splitlines():
        fields = line.split()
        if len(fields) > 1 and fields[0].endswith(":") and \
                re.search(pattern, line):
            for f in fields[1:]:
                if not f.isdigit():
                    break
                total += int(f)
    return total


def rx_packets(b, nic):
    return int(sh(b, f"cat /sys/class/net/{nic}/statistics/rx_packets"))


def per_kframe(pair, nics, irq_of, event, traces):
    """(writes, interrupts) per 1000 frames pair[1] receives while pair[0]
    sends to it for COUNT_SECONDS, both blades counted: writes are the
    trace event's lines in the blades' -D logs (on only for this run),
    interrupts those on the lines irq_of[i] matches on blade i."""
    before = [irqs(b, p) for b, p in zip(pair, irq_of)]
    frames = rx_packets(pair[1], nics[pair[1].name])
    lines = [count_lines(t, event) for t in traces]
    for b in pair:
        b.qmp("trace-event-set-state", name=event, enable=True)
    sh(pair[0], f"iperf3 -c 10.0.0.2 -t {COUNT_SECONDS} > /dev/null",
       timeout=COUNT_SECONDS + 60)
    for b in pair:
        b.qmp("trace-event-set-state", name=event, enable=False)
    frames = max(rx_packets(pair[1], nics[pair[1].name]) - frames, 1)
    writes = sum(count_lines(t, event) - n for t, n in zip(traces, lines))
    taken = sum(irqs(b, p) - n for b, p, n in zip(pair, irq_of, before))
    return 1000 * writes / frames, 1000 * taken / frames


def count_lines(path, event):
    """Lines of trace event in a log-backend file ('EVENT ...', or
    'PID@TIME:EVENT ...' with timestamps)."""
    try:
        with open(path, errors="replace") as f:
            return sum(line.startswith(event + " ") or f":{event} " in line
                       for line in f)
    except FileNotFoundError:
        return 0


def set_offloads(b, nic, on):
    mode = "on" if on else "off"
    sh(b, f"ethtool -K {nic} tx {mode} rx {mode} sg {mode} tso {mode}")


def start_pair(blades):
    for b in blades:
        b.start()
    return [b.wait_ready(READY_TIMEOUT) for b in blades]


def start_switch(backplane, log_path):
    """A chassis of two slots for the 'chassis' pair: a blade-switch with
    its defaults (8b10b lanes paced at 1000 Mb/s, the lanes' transmit
    FIFOs), no uplink, its slots' sockets in backplane."""
    os.makedirs(backplane, mode=0o700)   # the switch refuses another mode
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [qemu.QEMU_BIN, "-M", "blade-chassis", "-nodefaults",
             "-no-user-config", "-display", "none", "-device",
             f"blade-switch,slots=2,backplane={blade.qemu_opt(backplane)}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not all(os.path.exists(os.path.join(backplane, f"slot{i}.sock"))
                  for i in range(2)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            with open(log_path, errors="replace") as f:
                raise Failure(f"bench guest: the chassis did not make its "
                              f"slots' sockets: {f.read().strip()}")
        time.sleep(0.05)
    return proc


def boot_times(accel):
    """Median of BOOTS_1 single boots; then BOOTS_N at once, until the
    last is ready.  Each blade has a blade-nic without a lane and no
    address, so it does not wait for a link."""
    single = []
    for i in range(BOOTS_1):
        b = blade.Blade(f"boot{i}", accel=accel)
        try:
            t0 = time.monotonic()
            b.start()
            b.wait_ready(READY_TIMEOUT)
            single.append(time.monotonic() - t0)
        finally:
            b.close()
    many = [blade.Blade(f"boot{i}", accel=accel) for i in range(BOOTS_N)]
    try:
        t0 = time.monotonic()
        for b in many:
            b.start()
        for b in many:
            b.wait_ready(READY_TIMEOUT)
        last = time.monotonic() - t0
    finally:
        for b in many:
            b.close()
    return statistics.median(single), last


def run():
    accel, why = blade.choose_accel("auto")
    print(f"bench-guest: blade-nic (2 blades, their NICs wired by a socket "
          f"chardev, server/client over a UNIX socket, lanes paced at 1000 "
          f"Mb/s) beside virtio-net (2 blades, '-netdev stream' server/client "
          f"over a UNIX socket) and blade-nic unpaced (2 more blades, "
          f"speed=0) and unpaced through lane-patch --speed 0 (relay, 2 "
          f"more) and in 2 slots of a blade-switch (chassis, 2 more, "
          f"paced at 1000 Mb/s), all 10 up at once, measured in turn; "
          f"accel {accel} ({why}); ping: {PINGS} at {PING_INTERVAL} s, "
          f"in {PING_ROUNDS} rounds of {PINGS // PING_ROUNDS} that take the "
          f"pairs in turn, in a new order each round, median and p99; "
          f"iperf3 TCP -t {IPERF_SECONDS} each way (send: blade 1 to 2, "
          f"recv: -R), Gbps the receiver saw, *_Gbps the mean of the two; "
          f"then both blade-nic pairs with ethtool -K tx rx sg tso off; then "
          f"{COUNT_SECONDS} s more each way 1 to 2: both blades' writes to "
          f"their NIC (blade-nic MMIO writes, virtio-net queue notifies, "
          f"counted by trace events) and interrupts on it, per 1000 frames "
          f"blade 2 received; "
          f"boot_ready: QEMU start to the BLADEPLANE-READY line, median of "
          f"{BOOTS_1} boots, and {BOOTS_N} started together until the last",
          flush=True)
    tmp = tempfile.TemporaryDirectory(prefix="bench-guest-")
    # each pair's socket: its first blade's QEMU listens on it
    sockets = {kind: os.path.join(tmp.name, f"{kind}.sock")
               for kind in ("blade", "virtio", "unpaced")}
    relay = [os.path.join(tmp.name, f"relay-{x}.sock") for x in "ab"]
    patch = PatchLog("--speed", "0", *relay)
    backplane = os.path.join(tmp.name, "bp")
    switch = None
    blades = []
    try:
        patch.wait_for(f"listening {relay[0]} {relay[1]}")
        switch = start_switch(backplane, os.path.join(tmp.name, "switch.log"))
        pairs: dict[str, list[blade.Blade]] = {
            "blade": [], "virtio": [], "unpaced": [], "relay": [],
            "chassis": []}
        # the trace events' log (-D): written only while per_kframe()
        # turns its event on
        traces = {f"bench-{k}{i}": os.path.join(tmp.name, f"{k}{i}.trace")
                  for k in ("nic", "virtio", "unpaced", "relay", "chassis")
                  for i in range(2)}
        for kind, prefix, speed in (("blade", "nic", ""),
                                    ("unpaced", "unpaced", ",speed=0")):
            for i in range(2):
                name = f"bench-{prefix}{i}"
                side = "server=on,wait=off" if i == 0 else "reconnect-ms=100"
                pairs[kind].append(blade.Blade(
                    name, accel=accel, nic_args=f",chardev=lane0{speed}",
                    append=f"blade.ip=10.0.0.{i + 1}/24 blade.http=0",
                    extra_args=["-chardev", f"socket,id=lane0,path="
                                f"{blade.qemu_opt(sockets[kind])},{side}",
                                "-D", traces[name]]))
        for i in range(2):
            name = f"bench-relay{i}"
            pairs["relay"].append(blade.Blade(
                name, accel=accel, nic_args=f",lane={relay[i]},speed=0",
                append=f"blade.ip=10.0.0.{i + 1}/24 blade.http=0",
                extra_args=["-D", traces[name]]))
        for i in range(2):
            name = f"bench-chassis{i}"
            pairs["chassis"].append(blade.Blade(
                name, accel=accel,
                nic_args=f",backplane={blade.qemu_opt(backplane)},slot={i}",
                append=f"blade.ip=10.0.0.{i + 1}/24 blade.http=0",
                extra_args=["-D", traces[name]]))
        for i in range(2):
            side = "server=on" if i == 0 else "server=off"
            name = f"bench-virtio{i}"
            pairs["virtio"].append(blade.Blade(
                name, accel=accel, nic_args=None,
                append=f"blade.ip=10.0.0.{i + 1}/24 blade.http=0",
                extra_args=["-netdev", f"stream,id=vn0,{side},addr.type=unix,"
                                       f"addr.path={sockets['virtio']}",
                            "-device", f"virtio-net-pci,netdev=vn0,romfile=,"
                                       f"mac={blade.blade_mac(name)}",
                            "-D", traces[name]]))
        blades = [b for kind in pairs for b in pairs[kind]]
        # Each pair's server has to listen before its client starts.
        for kind in sockets:
            pairs[kind][0].start()
        deadline = time.monotonic() + 30
        for kind in sockets:
            while not os.path.exists(sockets[kind]):
                if time.monotonic() > deadline:
                    raise Failure(f"bench guest: {pairs[kind][0].name} never "
                                  f"made {sockets[kind]}")
                time.sleep(0.05)
        for b in ([pairs[kind][1] for kind in sockets] + pairs["relay"] +
                  pairs["chassis"]):
            b.start()
        nics = {}
        for b in blades:
            info = b.wait_ready(READY_TIMEOUT)
            if info.get("link") != "up":
                raise Failure(f"bench guest: {b.name} came up without a "
                              f"link: {info}")
            nics[b.name] = info["nic"]
        for kind in pairs:
            sh(pairs[kind][1], "iperf3 -s -D")
        results = {}
        pings = ping_all({kind: pairs[kind][0] for kind in pairs},
                         "10.0.0.2")
        for kind in pairs:
            results[f"ping_{kind}"] = pings[kind]
        gbps = {}                   # (kind, reverse) -> Gb/s
        for reverse in (False, True):
            for kind in pairs:
                gbps[(kind, reverse)] = iperf(pairs[kind][0], "10.0.0.2",
                                              reverse)
        # both blade-nic pairs once more without their offloads
        # (datasheet 1.3)
        for kind in ("blade", "unpaced"):
            for b in pairs[kind]:
                set_offloads(b, nics[b.name], False)
            results[f"{kind}_off"] = [iperf(pairs[kind][0], "10.0.0.2", r)
                                      for r in (False, True)]
            for b in pairs[kind]:
                set_offloads(b, nics[b.name], True)
        # per 1000 frames the receiver took: what both ends' drivers
        # wrote to their NICs, and the interrupts both took
        for kind in pairs:
            irq_of = [r"virtio\d+-(input|output)" if kind == "virtio"
                      else rf"\b{nics[b.name]}-(rx|tx)\b" for b in pairs[kind]]
            results[f"kframe_{kind}"] = per_kframe(
                pairs[kind], nics, irq_of, WRITE_EVENT[kind],
                [traces[b.name] for b in pairs[kind]])
        for kind in pairs:
            med, p99 = results[f"ping_{kind}"]
            out(f"ping_{kind}_median_ms", f"{med:.3f}")
            out(f"ping_{kind}_p99_ms", f"{p99:.3f}")
        mean = {}
        for kind in pairs:
            send, recv = gbps[(kind, False)], gbps[(kind, True)]
            mean[kind] = (send + recv) / 2
            out(f"iperf_{kind}_send_Gbps", f"{send:.4f}")
            out(f"iperf_{kind}_recv_Gbps", f"{recv:.4f}")
            out(f"iperf_{kind}_Gbps", f"{mean[kind]:.4f}")
        out("iperf_virtio_stream_Gbps", f"{mean['virtio']:.4f}")
        out("blade_over_virtio_ratio",
            f"{mean['blade'] / mean['virtio']:.3f}" if mean["virtio"] else "nan")
        for kind in ("unpaced", "relay", "chassis"):
            out(f"blade_{kind}_over_virtio_ratio",
                f"{mean[kind] / mean['virtio']:.3f}" if mean["virtio"]
                else "nan")
        for kind in ("blade", "unpaced"):
            off = sum(results[f"{kind}_off"]) / 2
            out(f"iperf_{kind}_nooffload_Gbps", f"{off:.4f}")
            out(f"{kind}_offload_ratio",
                f"{mean[kind] / off:.3f}" if off else "nan")
        writes = {"blade": "blade_mmio_per_kframe",
                  "unpaced": "unpaced_mmio_per_kframe",
                  "relay": "relay_mmio_per_kframe",
                  "chassis": "chassis_mmio_per_kframe",
                  "virtio": "virtio_notify_per_kframe"}
        for kind in pairs:
            w, i = results[f"kframe_{kind}"]
            out(writes[kind], f"{w:.0f}")
            out(f"{kind}_irq_per_kframe", f"{i:.0f}")
    finally:
        for b in blades:
            b.close()
        if switch is not None:
            switch.terminate()
            try:
                switch.wait(10)
            except subprocess.TimeoutExpired:
                switch.kill()
                switch.wait()
        patch.close()
        tmp.cleanup()
    one, n = boot_times(accel)
    out("boot_ready_1_s", f"{one:.2f}")
    out(f"boot_ready_{BOOTS_N}_s", f"{n:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(run())
