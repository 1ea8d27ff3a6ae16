"""'bench guest': blade to blade over blade-nic (back to back through
lane-patch) beside virtio-net (a QEMU '-netdev stream' pair over a UNIX
socket) in the same run, plus boot-to-ready times.  Prints 'name: value'."""

import os
import re
import statistics
import sys
import tempfile
import time

from . import blade
from .common import Failure
from .lanepatch import PatchLog

PINGS = 50
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


def ping_stats(b, peer):
    sh(b, f"ping -c 2 -W 10 {peer} > /dev/null")          # ARP, warm-up
    text = sh(b, f"ping -c {PINGS} -i {PING_INTERVAL} -W 5 {peer}",
              timeout=PINGS * 5 + 30)
    times = [float(t) for t in re.findall(r"time=([\d.]+) ms", text)]
    if len(times) < PINGS * 0.9:
        raise Failure(f"bench guest: {b.name}: only {len(times)} of {PINGS} "
                      f"pings answered")
    return statistics.median(times), percentile(times, 99)


UNITS = {"": 1e-9, "K": 1e-6, "M": 1e-3, "G": 1.0}


def iperf(b, peer, reverse):
    """Gb/s the receiver saw; reverse: the peer sends."""
    text = sh(b, f"iperf3 -c {peer} -t {IPERF_SECONDS} -f m"
                 f"{' -R' if reverse else ''}", timeout=IPERF_SECONDS + 60)
    m = re.search(r"([\d.]+) ([KMG]?)bits/sec\s+(?:\d+\s+)?receiver", text)
    if not m:
        raise Failure(f"bench guest: {b.name}: no iperf3 summary in: {text}")
    return float(m.group(1)) * UNITS[m.group(2)]


def start_pair(blades):
    for b in blades:
        b.start()
    return [b.wait_ready(READY_TIMEOUT) for b in blades]


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
    print(f"bench-guest: blade-nic (2 blades back to back through lane-patch) "
          f"beside virtio-net (2 blades, '-netdev stream' server/client over "
          f"a UNIX socket), all 4 up at once, measured in turn; accel {accel} "
          f"({why}); ping: {PINGS} at {PING_INTERVAL} s, median and p99; "
          f"iperf3 TCP -t {IPERF_SECONDS} each way (send: blade 1 to 2, "
          f"recv: -R), Gbps the receiver saw, *_Gbps the mean of the two; "
          f"boot_ready: QEMU start to the BLADEPLANE-READY line, median of "
          f"{BOOTS_1} boots, and {BOOTS_N} started together until the last",
          flush=True)
    tmp = tempfile.TemporaryDirectory(prefix="bench-guest-")
    lanes = [os.path.join(tmp.name, f"{x}.sock") for x in "ab"]
    stream = os.path.join(tmp.name, "virtio.sock")
    patch = PatchLog(*lanes)
    blades = []
    try:
        patch.wait_for(f"listening {lanes[0]} {lanes[1]}")
        pairs = {"blade": [], "virtio": []}
        for i in range(2):
            pairs["blade"].append(blade.Blade(
                f"bench-nic{i}", accel=accel, nic_args=f",lane={lanes[i]}",
                append=f"blade.ip=10.0.0.{i + 1}/24 blade.http=0"))
        for i in range(2):
            side = "server=on" if i == 0 else "server=off"
            name = f"bench-virtio{i}"
            pairs["virtio"].append(blade.Blade(
                name, accel=accel, nic_args=None,
                append=f"blade.ip=10.0.0.{i + 1}/24 blade.http=0",
                extra_args=["-netdev", f"stream,id=vn0,{side},addr.type=unix,"
                                       f"addr.path={stream}",
                            "-device", f"virtio-net-pci,netdev=vn0,romfile=,"
                                       f"mac={blade.blade_mac(name)}"]))
        blades = pairs["blade"] + pairs["virtio"]
        # The stream server has to listen before its client starts.
        pairs["virtio"][0].start()
        deadline = time.monotonic() + 30
        while not os.path.exists(stream):
            if time.monotonic() > deadline:
                raise Failure("bench guest: the virtio-net stream server "
                              f"never made {stream}")
            time.sleep(0.05)
        for b in [pairs["virtio"][1]] + pairs["blade"]:
            b.start()
        for b in blades:
            info = b.wait_ready(READY_TIMEOUT)
            if info.get("link") != "up":
                raise Failure(f"bench guest: {b.name} came up without a "
                              f"link: {info}")
        for kind in pairs:
            sh(pairs[kind][1], "iperf3 -s -D")
        results = {}
        for kind in pairs:
            results[f"ping_{kind}"] = ping_stats(pairs[kind][0], "10.0.0.2")
        for reverse in (False, True):
            for kind in pairs:
                results[(kind, reverse)] = iperf(pairs[kind][0], "10.0.0.2",
                                                 reverse)
        for kind in pairs:
            med, p99 = results[f"ping_{kind}"]
            out(f"ping_{kind}_median_ms", f"{med:.3f}")
            out(f"ping_{kind}_p99_ms", f"{p99:.3f}")
        mean = {}
        for kind in pairs:
            send, recv = results[(kind, False)], results[(kind, True)]
            mean[kind] = (send + recv) / 2
            out(f"iperf_{kind}_send_Gbps", f"{send:.4f}")
            out(f"iperf_{kind}_recv_Gbps", f"{recv:.4f}")
            out(f"iperf_{kind}_Gbps", f"{mean[kind]:.4f}")
        out("iperf_virtio_stream_Gbps", f"{mean['virtio']:.4f}")
        out("blade_over_virtio_ratio",
            f"{mean['blade'] / mean['virtio']:.3f}" if mean["virtio"] else "nan")
    finally:
        for b in blades:
            b.close()
        patch.close()
        tmp.cleanup()
    one, n = boot_times(accel)
    out("boot_ready_1_s", f"{one:.2f}")
    out(f"boot_ready_{BOOTS_N}_s", f"{n:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(run())
