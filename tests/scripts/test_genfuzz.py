"""QEMU generic-fuzz runs (scripts/bladeplane_cli/genfuzz.py): libFuzzer's
figures read from its output, crashing inputs found (each configuration's
in its own directory, so two runs side by side do not report each
other's), the private TMPDIR removed, and the tier being opt-in."""

import os
import shutil
import stat
import tempfile
import threading
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import genfuzz, testing
from bladeplane_cli.common import Failure

# The end of a real run (generic-fuzz-blade-nic, 20 s).
OUTPUT = """\
#2\tINITED cov: 664 ft: 665 corp: 1/1b exec/s: 0 rss: 89Mb
#4096\tpulse  cov: 800 ft: 1021 corp: 41/182b lim: 14 exec/s: 409 rss: 318Mb
#7700\tNEW    cov: 861 ft: 1150 corp: 70/540b lim: 17 exec/s: 368 rss: 318Mb \
L: 9/17
#7743\tDONE   cov: 861 ft: 1157 corp: 71/550b lim: 17 exec/s: 368 rss: 318Mb
Done 7743 runs in 21 second(s)
stat::number_of_executed_units: 7743
stat::average_exec_per_sec:     368
stat::new_units_added:          93
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              318
"""

# A stand-in for qemu-fuzz-x86_64: records its TMPDIR and arguments, and
# with CRASH set writes an input where -artifact_prefix says and fails.
FAKE = """#!/bin/sh
echo "$TMPDIR" > "$FAKE_OUT/tmpdir"
echo "$@" > "$FAKE_OUT/args"
for a in "$@"; do
    case "$a" in -artifact_prefix=*) prefix="${a#-artifact_prefix=}";; esac
done
# wait_for NAME: until $FAKE_OUT/NAME exists (at most 20 s)
wait_for() {
    i=0
    while [ ! -e "$FAKE_OUT/$1" ] && [ $i -lt 200 ]; do
        sleep 0.1; i=$((i + 1))
    done
}
# Two runs side by side: FIRST starts, SECOND keeps its slow input while
# FIRST still runs, FIRST ends after that.
case "$1" in *"$FIRST") : > "$FAKE_OUT/first-started";; esac
case "$1" in *"$SECOND") wait_for first-started;; esac
case "$1" in *"$SLOW") printf 'FUZZ' > "${prefix}slow-unit-0002";; esac
case "$1" in *"$SECOND") : > "$FAKE_OUT/second-kept";; esac
case "$1" in *"$FIRST") wait_for second-kept;; esac
if [ -n "$BURN" ]; then
    trap 'echo "stat::number_of_executed_units: 99"; exit 72' INT
    while :; do :; done
fi
if [ -n "$CRASH" ]; then
    echo "==1==ERROR: AddressSanitizer: heap-buffer-overflow"
    printf 'FUZZ' > "${prefix}crash-0001"
    exit 1
fi
printf '#10\\tDONE   cov: 5 ft: 6 corp: 2/3b lim: 4 exec/s: 10 rss: 30Mb\\n'
echo 'stat::number_of_executed_units: 10'
"""


class ParseStatsTest(unittest.TestCase):

    def test_final_figures(self):
        self.assertEqual(genfuzz.parse_stats(OUTPUT), {
            "cov": 861, "ft": 1157, "corpus": 71, "execs": 7743,
            "exec_per_s": 368, "new_units": 93, "peak_rss_mb": 318})

    def test_nothing_run(self):
        self.assertEqual(genfuzz.parse_stats("INFO: Seed: 1\n"), {})


class RunTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        fake = os.path.join(self.dir, "qemu-fuzz-x86_64")
        with open(fake, "w") as f:
            f.write(FAKE)
        os.chmod(fake, stat.S_IRWXU)
        patches = [mock.patch.object(genfuzz.qemu, "QEMU_FUZZ_BIN", fake),
                   mock.patch.object(genfuzz, "WORK",
                                     os.path.join(self.dir, "corpus")),
                   mock.patch.object(genfuzz, "ARTIFACTS",
                                     os.path.join(self.dir, "artifacts")),
                   mock.patch.dict(os.environ, {"FAKE_OUT": self.dir})]
        for p in patches:
            p.start()
            self.addCleanup(p.stop)
        self.log = os.path.join(self.dir, "log")

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read().strip()

    def test_clean_run(self):
        rc, stats, crashes, _ = genfuzz.run("blade-nic", 7, self.log)
        self.assertEqual((rc, crashes), (0, []))
        self.assertEqual(stats["execs"], 10)
        args = self.read("args").split()
        self.assertEqual(args[0], "--fuzz-target=generic-fuzz-blade-nic")
        self.assertIn("-max_total_time=7", args)
        # New inputs go to the build tree, the committed seeds come second.
        self.assertEqual(args[1], os.path.join(self.dir, "corpus", "blade-nic"))
        self.assertEqual(args[2], genfuzz.seeds_dir("blade-nic"))
        # The configurations' backplane directories are gone afterwards.
        self.assertFalse(os.path.exists(self.read("tmpdir")))

    def test_cpu_budget_interrupts_and_keeps_the_figures(self):
        # A fuzzer that would run forever: the CPU budget stops it with
        # SIGINT, and its final figures count as a clean run.
        with mock.patch.dict(os.environ, {"BURN": "1"}):
            rc, stats, crashes, _ = genfuzz.run("blade-nic", 60, self.log,
                                                cpu_seconds=1)
        self.assertEqual((rc, crashes), (0, []))
        self.assertEqual(stats["execs"], 99)
        self.assertIn("-interrupt_exitcode=72", self.read("args").split())

    def test_crash_is_reported_with_its_input(self):
        with mock.patch.dict(os.environ, {"CRASH": "1"}):
            rc, _, crashes, _ = genfuzz.run("blade-switch", 7, self.log)
        self.assertEqual(rc, 1)
        self.assertEqual(crashes, [os.path.join(
            self.dir, "artifacts", "blade-switch",
            "blade-switch-crash-0001")])

    def test_slow_unit_is_listed_not_failed(self):
        with mock.patch.dict(os.environ, {"SLOW": "blade-nic"}):
            rc, stats, crashes, _ = genfuzz.run("blade-nic", 7, self.log)
        self.assertEqual((rc, crashes), (0, []))
        self.assertEqual([os.path.basename(c) for c in stats["slow_units"]],
                         ["blade-nic-slow-unit-0002"])

    def test_side_by_side_runs_report_their_own(self):
        # Two campaigns at once: the switch's run keeps a slow input while
        # the NIC's is running (the fakes wait for each other's marks).
        # Each lists only its own; with one artifacts directory the NIC's
        # listed the switch's too.
        env = {"SLOW": "blade-switch", "FIRST": "blade-nic",
               "SECOND": "blade-switch"}
        results = {}

        def nic():
            results["nic"] = genfuzz.run("blade-nic", 7, self.log + ".nic")

        with mock.patch.dict(os.environ, env):
            t = threading.Thread(target=nic)
            t.start()
            results["switch"] = genfuzz.run("blade-switch", 7,
                                            self.log + ".switch")
            t.join(60)
        self.assertFalse(t.is_alive())
        self.assertTrue(os.path.exists(os.path.join(self.dir,
                                                    "second-kept")))
        _, nic_stats, nic_crashes, _ = results["nic"]
        _, sw_stats, sw_crashes, _ = results["switch"]
        self.assertEqual((nic_crashes, sw_crashes), ([], []))
        self.assertEqual(nic_stats["slow_units"], [])
        self.assertEqual(sw_stats["slow_units"], [os.path.join(
            self.dir, "artifacts", "blade-switch",
            "blade-switch-slow-unit-0002")])

    def test_unknown_config(self):
        with self.assertRaises(Failure):
            genfuzz.run("virtio-net", 7, self.log)


class TierTest(unittest.TestCase):

    def test_opt_in(self):
        self.assertNotIn("qemu-fuzz", testing.TIERS)
        self.assertIn("qemu-fuzz", testing.ALL_TIERS)
        self.assertTrue(callable(testing.tier_qemu_fuzz))


if __name__ == "__main__":
    unittest.main()
