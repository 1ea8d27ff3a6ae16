"""The test tiers and their runner.

unit        net/ unit tests (GLib TAP programs from the top-level meson build)
            and the CLI's own logic (tests/scripts, Python unittest)
fuzz        libFuzzer targets on the decoders, briefly (clang build)
qemu-fuzz   QEMU's generic-fuzz on blade-nic and the switch blade, 60 s
            each (a clang + libFuzzer + ASan build of QEMU in build/qemu-fuzz);
            opt-in: not in the default run, whose first-run time it would
            double; CI runs it (.ci/run)
qtest       device tests driven through libqtest (QEMU's build)
functional  real blades booted under the chosen accelerator (Python unittest)

Every test case counts: TAP programs are run directly and each 'ok' /
'not ok' line is one result; a program that dies without finishing its plan
is a failure.  The run ends with 'N passed, N failed'.
"""

import json
import os
import re
import subprocess
import sys
import time
import unittest

from . import packages, qemu
from .common import BUILD, LOGS, REPO, Failure, ensure_dir, output, run, step

TIERS = ["unit", "fuzz", "qtest", "functional"]
ALL_TIERS = TIERS + ["qemu-fuzz"]
HOST_BUILD = os.path.join(BUILD, "host")
FUZZ_BUILD = os.path.join(BUILD, "fuzz")
MESON = "/usr/bin/meson"


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.failures += other.failures


def setup_host_build(builddir, options=(), env=None):
    """Configure (once) and build the top-level meson project."""
    if not os.path.exists(os.path.join(builddir, "build.ninja")):
        run([MESON, "setup", builddir, REPO] + list(options), env=env,
            log=os.path.join(LOGS, os.path.basename(builddir) + "-setup.log"))
    run(["ninja", "-C", builddir], env=env,
        log=os.path.join(LOGS, os.path.basename(builddir) + "-build.log"))


def introspect_tests(builddir, suite, meson=MESON):
    text = output([meson, "introspect", "--tests", builddir])
    if text is None:
        raise Failure(f"cannot list the tests of {builddir}")
    tests = json.loads(text)
    return [t for t in tests
            if any(s == suite or s.endswith(":" + suite) for s in t["suite"])]


def parse_tap(text):
    """Returns (results, planned): results is a list of (ok, skipped, name)."""
    results, planned = [], None
    for line in text.splitlines():
        m = re.match(r"^(ok|not ok)\b\s*\d*\s*-?\s*(.*)$", line)
        if m:
            name, _, directive = m.group(2).partition("#")
            skipped = directive.strip().upper().startswith("SKIP")
            results.append((m.group(1) == "ok", skipped, name.strip()))
            continue
        m = re.match(r"^1\.\.(\d+)", line)
        if m:
            planned = int(m.group(1))
    return results, planned


def run_test_program(tier, test, builddir, report=True):
    """Run one registered meson test; returns a Tally (and prints a line
    about it, unless report is False)."""
    tally = Tally()
    env = dict(os.environ)
    env.update(test.get("env") or {})
    cwd = test.get("workdir") or builddir
    name = test["name"]
    log = os.path.join(ensure_dir(os.path.join(LOGS, tier)),
                       re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".log")
    start = time.monotonic()
    timeout = test.get("timeout") or 60
    try:
        proc = subprocess.run(test["cmd"], cwd=cwd, env=env, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out, rc = proc.stdout.decode(errors="replace"), proc.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        out += f"\n*** timed out after {timeout} s\n"
        rc = None
    with open(log, "w") as f:
        f.write(out)
    elapsed = time.monotonic() - start
    if test.get("protocol") == "tap":
        results, planned = parse_tap(out)
        for ok, skipped, case in results:
            if skipped:
                tally.skipped += 1
            elif ok:
                tally.passed += 1
            else:
                tally.failed += 1
                tally.failures.append(f"{tier}: {name} {case} (log: {log})")
        if rc != 0 or planned is None or len(results) < planned:
            if not any(not ok for ok, _, _ in results):
                tally.failed += 1
                why = "timed out" if rc is None else f"exit {rc}"
                tally.failures.append(f"{tier}: {name} ended early ({why}, "
                                      f"{len(results)} of {planned} cases; log: {log})")
    elif rc == 0:
        tally.passed += 1
    else:
        tally.failed += 1
        why = "timed out" if rc is None else f"exit {rc}"
        tally.failures.append(f"{tier}: {name} ({why}; log: {log})")
    if not report:
        return tally
    status = "FAIL" if tally.failed else "ok"
    print(f"    {status:4} {name}: {tally.passed} passed, {tally.failed} failed"
          f"{f', {tally.skipped} skipped' if tally.skipped else ''}"
          f" ({elapsed:.1f} s)", flush=True)
    if tally.failed:
        tail = out.strip().splitlines()[-15:]
        print("".join(f"        | {l}\n" for l in tail), end="", flush=True)
    return tally


def run_suite(tier, builddir, suite, meson=MESON):
    tally = Tally()
    tests = introspect_tests(builddir, suite, meson)
    if not tests:
        raise Failure(f"{tier}: no tests registered in suite '{suite}' of {builddir}")
    for test in tests:
        tally.add(run_test_program(tier, test, builddir))
    return tally


def tier_unit():
    packages.ensure_packages()
    step("unit: building net/ and its tests")
    setup_host_build(HOST_BUILD)
    tally = run_suite("unit", HOST_BUILD, "unit")
    step("unit: the bladeplane CLI's own logic")
    tally.add(run_unittests("unit", os.path.join(REPO, "tests", "scripts")))
    step("unit: the bladeplane CLI's types (mypy)")
    tally.add(run_mypy("unit"))
    return tally


def run_mypy(tier):
    """mypy on the CLI (scripts/bladeplane_cli, scripts/bladeplane): one
    test, failed by any error.  The bodies of unannotated functions are
    checked too (--check-untyped-defs): most of the CLI has none."""
    scripts = os.path.join(REPO, "scripts")
    log = os.path.join(LOGS, "mypy.log")
    proc = subprocess.run(
        ["mypy", "--python-version", "3.11", "--check-untyped-defs",
         "--cache-dir", os.path.join(BUILD, "mypy-cache"),
         "bladeplane_cli", "bladeplane"],
        cwd=scripts, capture_output=True, text=True)
    with open(log, "w") as f:
        f.write(proc.stdout + proc.stderr)
    tally = Tally()
    if proc.returncode == 0:
        tally.passed = 1
        print("    ok   mypy: no issues", flush=True)
    else:
        tally.failed = 1
        tally.failures.append(f"{tier}: mypy (log: {log})")
        print("    FAIL mypy:", flush=True)
        print("".join(f"        | {line}\n" for line in
                      proc.stdout.strip().splitlines()[-15:]), end="",
              flush=True)
    return tally


def tier_fuzz():
    packages.ensure_packages()
    step("fuzz: building libFuzzer targets (clang, ASan + UBSan)")
    env = dict(os.environ, CC="clang")
    setup_host_build(FUZZ_BUILD, ["-Dfuzzing=true", "-Dwerror=true"], env=env)
    return run_suite("fuzz", FUZZ_BUILD, "fuzz")


def tier_qemu_fuzz():
    from . import genfuzz
    qemu.build_fuzz()
    step(f"qemu-fuzz: QEMU's generic-fuzz, {genfuzz.TIER_SECONDS} s per "
         "configuration, from the committed seeds")
    tally = Tally()
    logdir = ensure_dir(os.path.join(LOGS, "qemu-fuzz"))
    for config in genfuzz.CONFIGS:
        name = f"generic-fuzz-{config}"
        log = os.path.join(logdir, name + ".log")
        rc, stats, crashes, wall = genfuzz.run(config, genfuzz.TIER_SECONDS,
                                               log)
        figures = ", ".join(f"{k} {stats[k]}" for k in ("execs", "cov", "ft")
                            if k in stats)
        if rc == 0 and not crashes:
            tally.passed += 1
            print(f"    ok   {name}: {figures} ({wall:.1f} s)", flush=True)
            continue
        tally.failed += 1
        why = ("still running: killed" if rc is None else
               f"exit {rc}, {len(crashes)} crashing input(s): "
               f"{' '.join(crashes)}")
        tally.failures.append(f"qemu-fuzz: {name} ({why}; log: {log})")
        print(f"    FAIL {name}: {why} ({wall:.1f} s)", flush=True)
        tail = open(log, errors="replace").read().strip().splitlines()[-15:]
        print("".join(f"        | {l}\n" for l in tail), end="", flush=True)
    return tally


# Tests run once more with QEMU under valgrind: a guest unplugging the NIC
# from inside the lane's callbacks (issue 17, item 8).  An invalid access
# makes QEMU exit 99, which libqtest's quit turns into an abort: the test
# program fails.
VALGRIND_QTEST = "qtest-x86_64/blade-nic-test"
VALGRIND_QTEST_PATHS = ["/x86_64/blade-nic/robust/unplug-from-msix",
                        "/x86_64/blade-nic/robust/unplug-from-rx-dma",
                        "/x86_64/blade-nic/robust/unplug-on-cont"]
VALGRIND = ["valgrind", "-q", "--error-exitcode=99"]


def valgrind_test(test, paths):
    """A registered qtest narrowed to paths (-p), its QEMU run by valgrind
    (libqtest starts QTEST_QEMU_BINARY through sh -c: a wrapper with
    arguments works)."""
    env = dict(test.get("env") or {})
    env["QTEST_QEMU_BINARY"] = " ".join(
        VALGRIND + [env.get("QTEST_QEMU_BINARY", "./qemu-system-x86_64")])
    cmd = list(test["cmd"])
    for path in paths:
        cmd += ["-p", path]
    return dict(test, name=test["name"] + " under valgrind", cmd=cmd,
                env=env)


def tier_qtest():
    qemu.build(qtests=True)
    step("qtest: blade devices through libqtest")
    meson = os.path.join(qemu.QEMU_BUILD, "pyvenv", "bin", "meson")
    tally = run_suite("qtest", qemu.QEMU_BUILD, "bladeplane", meson=meson)
    step("qtest: the NIC's unplug tests again, QEMU under valgrind")
    tests = [t for t in introspect_tests(qemu.QEMU_BUILD, "bladeplane", meson)
             if t["name"] == VALGRIND_QTEST]
    if len(tests) != 1:
        tally.failed += 1
        tally.failures.append(f"qtest: {VALGRIND_QTEST} is not registered")
        return tally
    tally.add(run_test_program(
        "qtest", valgrind_test(tests[0], VALGRIND_QTEST_PATHS),
        qemu.QEMU_BUILD))
    return tally


def run_unittests(tier, directory):
    """Python unittest modules test_*.py in directory, counted per test."""
    # A fresh loader: one remembers the first discovery's top-level
    # directory and then refuses any other.
    suite = unittest.TestLoader().discover(directory, pattern="test_*.py")
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    tally = Tally()
    tally.failed = (len(result.failures) + len(result.errors) +
                    len(result.unexpectedSuccesses))
    tally.skipped = len(result.skipped)
    tally.passed = result.testsRun - tally.failed - tally.skipped
    for test, _ in result.failures + result.errors:
        tally.failures.append(f"{tier}: {test.id()}")
    return tally


def tier_functional(accel="auto"):
    from . import blade, image
    qemu.build()
    image.build()
    setup_host_build(HOST_BUILD)    # tools the tests use (lane-patch)
    chosen, reason = blade.choose_accel(accel)
    print(f"    accelerator: {chosen} ({reason})", flush=True)
    os.environ["BLADEPLANE_ACCEL"] = chosen
    step(f"functional: booting blades under {chosen}")
    return run_unittests("functional", os.path.join(REPO, "tests", "functional"))


def run_tiers(names, accel="auto"):
    total = Tally()
    start = time.monotonic()
    for name in names:
        t0 = time.monotonic()
        try:
            if name == "functional":
                tally = tier_functional(accel)
            else:
                tally = globals()["tier_" + name.replace("-", "_")]()
        except Failure as e:
            # A tier that cannot even start counts as one failure and the
            # other tiers still run.
            print(f"    FAIL {name}: {e}", flush=True)
            tally = Tally()
            tally.failed = 1
            tally.failures.append(f"{name}: {e}")
        print(f"    {name}: {tally.passed} passed, {tally.failed} failed"
              f"{f', {tally.skipped} skipped' if tally.skipped else ''}"
              f" ({time.monotonic() - t0:.0f} s)", flush=True)
        total.add(tally)
    if total.failures:
        print("\nfailures:")
        for f in total.failures:
            print(f"  {f}")
    print(f"\ntotal time {time.monotonic() - start:.0f} s")
    skipped = f", {total.skipped} skipped" if total.skipped else ""
    print(f"{total.passed} passed, {total.failed} failed{skipped}", flush=True)
    return total.failed == 0 and total.passed > 0
