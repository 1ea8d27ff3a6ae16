"""QEMU's generic-fuzz on the blade devices (qemu-fuzz-x86_64, built by
qemu.build_fuzz with clang, libFuzzer and ASan).

The configurations are QEMU's predefined generic-fuzz targets the overlay
adds (tests/qtest/blade-generic-fuzz.h): generic-fuzz-blade-nic and
generic-fuzz-blade-switch.  Each run starts from the committed seeds in
tests/fuzz/corpus/generic-fuzz-CONFIG (replayed first, so an input that
once crashed QEMU and was kept there is a regression case) and writes what
it finds to build/qemu-fuzz/corpus/CONFIG; a crashing input is written to
build/qemu-fuzz/artifacts/CONFIG/, a directory of its own, so that runs of
the two configurations side by side each report only their own inputs.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from . import qemu
from .common import LOGS, REPO, Failure, ensure_dir

CONFIGS = {
    "blade-nic": "two blade-nics on a blade-switch in the same process, "
                 "so one's frames reach the other's RX",
    "blade-switch": "a blade-switch with small tables and queues, three "
                    "blade-nics on its backplane and slirp on its uplink, "
                    "fuzzed through the NICs",
}
# The test tier's time per configuration.
TIER_SECONDS = 60
SEEDS = os.path.join(REPO, "tests", "fuzz", "corpus")
WORK = os.path.join(qemu.QEMU_FUZZ_BUILD, "corpus")
ARTIFACTS = os.path.join(qemu.QEMU_FUZZ_BUILD, "artifacts")


# libFuzzer's exit code after SIGINT, set explicitly so that it cannot be
# mistaken for a finding.
INTERRUPT_EXIT = 72


def seeds_dir(config):
    return os.path.join(SEEDS, "generic-fuzz-" + config)


def artifacts_dir(config):
    """Where libFuzzer writes the configuration's crashing and slow
    inputs: one directory per configuration, because a run reports what
    appeared there while it ran."""
    return os.path.join(ARTIFACTS, config)


def check_config(config):
    if config not in CONFIGS:
        raise Failure(f"unknown generic-fuzz configuration '{config}': "
                      f"choose from {', '.join(CONFIGS)}")


def parse_stats(text):
    """libFuzzer's figures from its output: execs, cov, ft, corpus units,
    new units, peak RSS and exec/s (None where absent)."""
    stats: dict[str, int] = {}
    m = None
    for m in re.finditer(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) "
                         r"corp: (\d+)/", text, re.M):
        pass
    if m:
        stats.update(cov=int(m.group(2)), ft=int(m.group(3)),
                     corpus=int(m.group(4)))
    for key, name in (("number_of_executed_units", "execs"),
                      ("average_exec_per_sec", "exec_per_s"),
                      ("new_units_added", "new_units"),
                      ("peak_rss_mb", "peak_rss_mb")):
        m = re.search(rf"^stat::{key}:\s*(\d+)", text, re.M)
        if m:
            stats[name] = int(m.group(1))
    return stats


def tree_cpu_seconds(pid):
    """CPU seconds of process `pid` and of its children it has reaped
    (generic-fuzz forks one child per input), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        # the command name may hold spaces: fields start after its ")"
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime are fields 14 to 17 (1-based)
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_fuzzer(cmd, env, out, seconds, cpu_seconds):
    """Run the fuzzer; with `cpu_seconds`, interrupt it (SIGINT: libFuzzer
    prints its final stats and exits) once its process tree has used that
    much CPU. Returns its exit code (0 after our interrupt), or None when
    it outlived `seconds` + 600 s and was killed."""
    # SIGINT is how the budget ends a run: a launcher started in the
    # background of a script ignores it, and the fuzzer would inherit that.
    proc = subprocess.Popen(cmd, env=env, stdout=out,
                            stderr=subprocess.STDOUT,
                            preexec_fn=_default_sigint)
    deadline = time.monotonic() + seconds + 600
    interrupted = False
    while True:
        try:
            rc = proc.wait(timeout=2)
            return 0 if interrupted and rc == INTERRUPT_EXIT else rc
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return None
        if cpu_seconds is None or interrupted:
            continue
        try:
            used = tree_cpu_seconds(proc.pid)
        except (OSError, ValueError, IndexError):
            continue
        if used >= cpu_seconds:
            proc.send_signal(signal.SIGINT)
            interrupted = True


def run(config, seconds, log, extra=(), cpu_seconds=None):
    """Fuzz one configuration for `seconds` of wall time, or, with
    `cpu_seconds`, until its processes have used that much CPU (a shared
    machine gives a wall-clock budget less CPU than it says); returns
    (exit code, stats, crashing inputs written, wall seconds); stats
    ["slow_units"] lists the inputs libFuzzer kept as slow."""
    check_config(config)
    binary = qemu.QEMU_FUZZ_BIN
    work = ensure_dir(os.path.join(WORK, config))
    seeds = seeds_dir(config)
    artifacts = ensure_dir(artifacts_dir(config))
    prefix = os.path.join(artifacts, config + "-")
    before = set(os.listdir(artifacts))
    # The backplane directories the configurations make go to a private
    # TMPDIR, removed afterwards.
    tmp = tempfile.mkdtemp(prefix="bladeplane-gfuzz.")
    env = dict(os.environ, TMPDIR=tmp)
    # ASan aborts on the first error (libFuzzer then keeps the input);
    # QEMU's own exit-time allocations are not leaks of the devices.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    cmd = [binary, f"--fuzz-target=generic-fuzz-{config}", work]
    if os.path.isdir(seeds):
        cmd.append(seeds)
    cmd += [f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=3072",
            f"-artifact_prefix={prefix}", "-print_final_stats=1",
            f"-interrupt_exitcode={INTERRUPT_EXIT}"] + list(extra)
    start = time.monotonic()
    try:
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            rc = wait_fuzzer(cmd, env, f, seconds, cpu_seconds)
        if rc is None:
            with open(log, "a") as f:
                f.write(f"\n*** still running {seconds + 600} s after "
                        "start: killed\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.monotonic() - start
    with open(log, errors="replace") as f:
        text = f.read()
    found = sorted(os.path.join(artifacts, n)
                   for n in set(os.listdir(artifacts)) - before)
    # libFuzzer also keeps inputs that took over 10 s (slow-unit-*): not a
    # failure by itself (a shared machine can stall any input); the
    # campaign lists them for a look.
    crashes = [f for f in found if "-slow-unit-" not in f]
    stats = parse_stats(text)
    stats["slow_units"] = [f for f in found if "-slow-unit-" in f]
    return rc, stats, crashes, wall


def campaign(config, cpu_minutes):
    """scripts/bladeplane fuzz-campaign: one fuzzer process, stopped when it
    has used `cpu_minutes` of CPU, however long that takes on a shared
    machine."""
    check_config(config)
    binary = qemu.build_fuzz()
    log = os.path.join(ensure_dir(os.path.join(LOGS, "fuzz-campaign")),
                       f"{config}-{time.strftime('%Y%m%dT%H%M%S')}.log")
    print(f"fuzzing generic-fuzz-{config} ({CONFIGS[config]}) for "
          f"{cpu_minutes} CPU-minutes; log: {log}", flush=True)
    cpu0 = os.times()
    # Wall time is only a safety net: the budget is CPU time.
    rc, stats, crashes, wall = run(config, int(cpu_minutes * 60 * 20), log,
                                   cpu_seconds=cpu_minutes * 60)
    cpu1 = os.times()
    cpu = (cpu1.children_user - cpu0.children_user +
           cpu1.children_system - cpu0.children_system)
    print(f"fuzz_{config}_cpu_s: {cpu:.0f}")
    print(f"fuzz_{config}_wall_s: {wall:.0f}")
    for key in ("execs", "exec_per_s", "cov", "ft", "corpus", "new_units",
                "peak_rss_mb"):
        print(f"fuzz_{config}_{key}: {stats.get(key, 'unknown')}")
    print(f"fuzz_{config}_findings: {len(crashes)}")
    print(f"fuzz_{config}_slow_units: {len(stats['slow_units'])}")
    for c in stats["slow_units"]:
        print(f"    slow (over 10 s once; replay it to see if it still is): "
              f"{c}")
    for c in crashes:
        print(f"    finding: {c}")
        print(f"    reproduce: {binary} "
              f"--fuzz-target=generic-fuzz-{config} {c}")
    if rc not in (0,) and not crashes:
        print(f"    libFuzzer exited {rc} without an input: see {log}")
    return 0 if rc == 0 and not crashes else 1
