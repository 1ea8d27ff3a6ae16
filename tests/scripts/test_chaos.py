"""`bench chaos`'s own logic: which failures count as in flight at a kill,
when a killed blade serves again, the percentiles, which blades a dead
chassis takes away; and `restart BLADE` (which the bench uses) end to end
against tests/scripts/fake_qemu.py.  No timing: the bench measures."""

import ctypes
import mmap
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import bench, chaos, chassis, rundir, topology
from bladeplane_cli.chaos import Kill, Request
from bladeplane_cli.common import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_QEMU = os.path.join(HERE, "fake_qemu.py")
CLI = os.path.join(cli_path.REPO, "scripts", "bladeplane")
MANIFEST = {"kernel": "/img/vmlinuz", "initramfs": "/img/initramfs.cpio.gz"}


def kill(at, until, *blades):
    return Kill(at=at, until=until, blades=frozenset(blades),
                what="blade " + ",".join(blades))


def failed(sent, done, blade=None):
    return Request(sent, done, False, blade, "ConnectionResetError")


def answered(sent, done, blade):
    return Request(sent, done, True, blade)


class AttributionTest(unittest.TestCase):

    def test_in_flight_at_the_kill(self):
        k = kill(10.0, 10.2, "b1")
        self.assertTrue(chaos.in_flight(failed(9.0, 10.5), k))
        # Ends exactly at the kill, or starts exactly at the window's end.
        self.assertTrue(chaos.in_flight(failed(9.0, 10.0), k))
        self.assertTrue(chaos.in_flight(failed(10.2, 40.2), k))

    def test_sent_before_the_switch_took_the_blade_out(self):
        # After the SIGKILL, before the switch saw it: still placeable on
        # the dead blade, so exposed to the kill.
        self.assertTrue(chaos.in_flight(failed(10.1, 40.1), kill(10, 10.2,
                                                                 "b1")))

    def test_outside_the_window(self):
        k = kill(10.0, 10.2, "b1")
        self.assertFalse(chaos.in_flight(failed(8.0, 9.99), k))
        self.assertFalse(chaos.in_flight(failed(10.21, 11.0), k))

    def test_a_known_blade_counts_only_against_its_own_kills(self):
        k = kill(10.0, 10.2, "b1")
        self.assertTrue(chaos.in_flight(failed(9.0, 10.5, "b1"), k))
        self.assertFalse(chaos.in_flight(failed(9.0, 10.5, "b2"), k))
        # A chassis kill takes several blades away.
        self.assertTrue(chaos.in_flight(failed(9.0, 10.5, "c3b0"),
                                        kill(10, 10.2, "c2b0", "c3b0")))

    def test_attribute(self):
        kills = [kill(10.0, 10.2, "b1"), kill(30.0, 30.1, "b2")]
        reqs = [answered(9.0, 9.5, "b0"),
                failed(9.5, 10.1),              # the first kill
                failed(10.1, 40.1),             # both: counts against the first
                failed(29.0, 30.05),            # the second
                failed(20.0, 20.5),             # between kills: no kill's
                failed(29.0, 30.05, "b3"),      # b3 was not killed
                answered(10.0, 10.5, "b1")]     # answers never count
        by_kill, orphans = chaos.attribute(reqs, kills)
        self.assertEqual(by_kill, {0: 2, 1: 1})
        self.assertEqual(orphans, [reqs[4], reqs[5]])

    def test_describe_orphan(self):
        k = kill(10.0, 10.2, "b1")
        k.restarted = 30.5
        self.assertEqual(chaos.describe_orphan(failed(31.0, 31.25), [k]),
                         "sent 21.00 s after the kill of blade b1 (restarted "
                         "at +20.50 s), failed after 0.25 s: "
                         "ConnectionResetError")
        self.assertEqual(chaos.describe_orphan(failed(5.0, 5.5), [k]),
                         "before the first kill, failed after 0.50 s: "
                         "ConnectionResetError")

    def test_no_kills_means_every_failure_is_an_orphan(self):
        reqs = [failed(1, 2), answered(2, 3, "b0")]
        self.assertEqual(chaos.attribute(reqs, []), ({}, [reqs[0]]))
        self.assertEqual(chaos.attribute([], []), ({}, []))


class BackInServiceTest(unittest.TestCase):

    def test_first_answer_from_the_blade_sent_after_the_kill(self):
        k = kill(10.0, 10.1, "b1")
        reqs = [answered(9.0, 9.5, "b1"),       # before: the old QEMU
                answered(11.0, 11.2, "b0"),
                answered(35.0, 35.5, "b1"),
                answered(34.0, 36.0, "b1")]     # sent earlier, done later
        self.assertEqual(chaos.back_in_service(reqs, k), 25.5)

    def test_any_blade_of_a_chassis_kill_counts(self):
        k = kill(10.0, 10.1, "c2b0", "c3b0")
        reqs = [answered(11.0, 12.0, "c1b0"), answered(30.0, 32.0, "c2b0")]
        self.assertEqual(chaos.back_in_service(reqs, k), 22.0)
        reqs.append(answered(20.0, 21.0, "c3b0"))
        self.assertEqual(chaos.back_in_service(reqs, k), 11.0)

    def test_never_back(self):
        self.assertIsNone(chaos.back_in_service(
            [answered(1, 2, "b1"), failed(11, 12, "b1")], kill(10, 10.1, "b1")))


class PercentileTest(unittest.TestCase):

    def test_nearest_rank(self):
        self.assertEqual(chaos.percentile([3, 1, 2], 50), 2)
        self.assertEqual(chaos.percentile([4, 1, 3, 2], 50), 2)
        self.assertEqual(chaos.percentile(range(1, 101), 99), 99)
        self.assertEqual(chaos.percentile([5, 7], 100), 7)
        self.assertEqual(chaos.percentile([5, 7], 0), 5)
        self.assertEqual(chaos.percentile([42.5], 50), 42.5)

    def test_empty_and_unknown_values(self):
        self.assertIsNone(chaos.percentile([], 50))
        self.assertIsNone(chaos.percentile([None], 50))
        self.assertEqual(chaos.percentile([None, 8, None], 50), 8)


class FiguresTest(unittest.TestCase):

    def test_figures_and_exit_status(self):
        ph = chaos.Phase("p")
        ph.kills = [kill(10, 10.05, "b1")]
        ph.kills[0].out_ms = 50.0
        ph.requests = [answered(1, 2, "b0"), failed(9, 11),
                       answered(12, 14, "b1")]
        Rss = chaos.Rss
        ph.rss = {"c1": (Rss(1000), Rss(1200)),
                  "b0": (Rss(5000, 2000, 100), Rss(9000, 6000, 100)),
                  "b2": (None, Rss(10))}
        f, orphans, hangs = chaos.figures([ph])
        self.assertEqual((f["chaos_requests_sent"],
                          f["chaos_requests_answered"],
                          f["chaos_requests_failed"],
                          f["chaos_failed_not_in_flight"]), (3, 2, 1, 0))
        self.assertEqual(f["chaos_out_of_rotation_ms_max"], 50.0)
        self.assertEqual(f["chaos_back_in_service_s_p50"], 4)
        # b0's guest touched 4000 KiB of its RAM: legitimate, reported
        # apart; the bound is on the rest (c1's 200).
        self.assertEqual(f["chaos_rss_growth_max_kib"], 200)
        self.assertEqual(f["chaos_rss_growth_max_in"], "c1")
        self.assertEqual(f["chaos_rss_guest_ram_growth_max_kib"], 4000)
        self.assertEqual(f["chaos_rss_total_growth_max_kib"], 4000)
        self.assertEqual(f["chaos_hangs"], 0)
        lines = []
        with mock.patch("sys.stderr") as err:
            self.assertEqual(chaos.report([ph], lines.append), 0)
        # Every failure is told, with where it fell.
        err.write.assert_any_call(
            "bladeplane: failure in flight at a kill (p): before the first "
            "kill, failed after 2.00 s: ConnectionResetError")
        self.assertIn("chaos_failed_not_in_flight: 0", lines)
        self.assertIn("chaos_blade_rss_kib_c1: 1000 -> 1200 (guest RAM 0 -> "
                      "0, TCG code 0 -> 0, the rest 1000 -> 1200)", lines)
        self.assertIn("chaos_blade_rss_kib_b2: - -> 10", lines)

        # Over the bound: the exit status says so.
        ph.rss["c1"] = (Rss(1000), Rss(1001 + chaos.RSS_GROWTH_BOUND_KIB))
        with mock.patch("sys.stderr"):
            self.assertEqual(chaos.report([ph], lambda line: None), 1)
        ph.rss["c1"] = (Rss(1000), Rss(1000 + chaos.RSS_GROWTH_BOUND_KIB))
        with mock.patch("sys.stderr"):
            self.assertEqual(chaos.report([ph], lambda line: None), 0)

        ph.requests.append(failed(20, 21))
        ph.hangs.append("b0: no answer")
        with mock.patch("sys.stderr"):
            self.assertEqual(chaos.report([ph], lambda line: None), 1)
        f, orphans, hangs = chaos.figures([ph])
        self.assertEqual((f["chaos_failed_not_in_flight"], f["chaos_hangs"]),
                         (1, 1))

    def test_a_failed_restart_fails_the_bench(self):
        ph = chaos.Phase("p")
        ph.restart_failures.append("chassis c2: QEMU gone")
        with mock.patch("sys.stderr") as err:
            self.assertEqual(chaos.report([ph], lambda line: None), 1)
        self.assertEqual(chaos.figures([ph])[0]["chaos_restarts_failed"], 1)
        err.write.assert_any_call("bladeplane: restart failed (p): chassis "
                                  "c2: QEMU gone; the phase ended there")


class RssSplitTest(unittest.TestCase):

    def test_guest_ram_is_the_mapping_of_its_size(self):
        # A private anonymous mapping of an unusual size stands for the
        # guest's RAM, between two PROT_NONE pages (as QEMU's guard
        # pages) so that the kernel keeps it apart from its neighbours;
        # touch 1 MiB of it.
        page = mmap.PAGESIZE
        size = 3 * 1024 * 1024 + 7 * page
        m = mmap.mmap(-1, size + 2 * page,
                      flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.addCleanup(m.close)
        first = ctypes.c_char.from_buffer(m)
        base = ctypes.addressof(first)
        del first                   # m may be closed again
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t,
                                  ctypes.c_int)
        for at in (base, base + page + size):
            self.assertEqual(libc.mprotect(at, page, 0), 0)   # PROT_NONE
        for off in range(page, page + 1024 * 1024, page):
            m[off] = 1
        rss = chaos.rss_split(os.getpid(), size // 1024)
        self.assertGreaterEqual(rss.guest, 1024)
        self.assertLess(rss.guest, size // 1024 + 1)
        self.assertEqual(rss.other, rss.total - rss.guest - rss.code)
        self.assertGreater(rss.other, 0)
        # Without a guest size nothing counts as guest RAM.
        self.assertEqual(chaos.rss_split(os.getpid()).guest, 0)
        self.assertIsNone(chaos.rss_split(2 ** 22 + 1))


class BenchEntryTest(unittest.TestCase):

    def test_registered_and_minutes_only_for_chaos(self):
        self.assertIn("chaos", bench.BENCHES)
        with self.assertRaises(Failure) as cm:
            bench.run("pcs", minutes=1)
        self.assertEqual(str(cm.exception),
                         "--minutes is for bench chaos, not pcs")


CHAIN = """\
name = "ch"
[[chassis]]
name = "c1"
slots = 1
[chassis.uplink]
forward = ["tcp:127.0.0.1:8090-10.0.2.100:80"]
[[chassis.blade]]
slot = 0
name = "a0"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
remote = true
[[chassis]]
name = "c2"
slots = 1
[[chassis.blade]]
slot = 0
name = "m0"
[[chassis]]
name = "c3"
slots = 2
[[chassis.blade]]
slot = 1
name = "z1"
[[chassis]]
name = "c4"
slots = 1
[[link]]
a = "c1"
b = "c2"
[[link]]
a = "c2"
b = "c3"
[[link]]
a = "c1"
b = "c4"
"""


class TopologyTest(unittest.TestCase):

    def test_cut_off(self):
        topo = topology.loads(CHAIN, "/x/ch.toml")
        self.assertEqual(chaos.cut_off(topo, "c2"), {"c2", "c3"})
        self.assertEqual(chaos.cut_off(topo, "c3"), {"c3"})
        self.assertEqual(chaos.cut_off(topo, "c4"), {"c4"})

    def test_chain3_example(self):
        topo = topology.load(chaos.CHAIN3)
        self.assertEqual(chaos.cut_off(topo, chaos.MIDDLE), {"c2", "c3"})

    def test_out_of_rotation(self):
        state = {"blades": [
            {"slot": 0, "in_rotation": True},
            {"slot": 1, "in_rotation": False},
            {"slot": 0, "remote": True, "chassis": "c2", "in_rotation": True}]}
        self.assertTrue(chaos.out_of_rotation(state, "c1", {("c1", 1)}))
        self.assertFalse(chaos.out_of_rotation(state, "c1", {("c1", 0)}))
        self.assertFalse(chaos.out_of_rotation(state, "c1",
                                               {("c1", 1), ("c2", 0)}))
        # Not listed at all: a remote blade the switch forgot.
        self.assertTrue(chaos.out_of_rotation(state, "c1",
                                              {("c1", 1), ("c3", 1)}))


ONE = """\
name = "rb"
[[chassis]]
name = "c1"
slots = 2
[chassis.uplink]
forward = ["tcp:127.0.0.1:0-10.0.2.100:80"]
[[chassis.blade]]
slot = 0
name = "b0"
[[chassis.blade]]
slot = 1
name = "c1"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
"""


class RestartBladeTest(unittest.TestCase):
    """`bladeplane restart BLADE` against fake_qemu.py."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        self.env = {"BLADEPLANE_RUN_DIR": os.path.join(self.tmp.name, "run")}
        patcher = mock.patch.dict(os.environ, self.env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for run in rundir.runs():
            rundir.stop(run.processes(), quit_timeout=2, term_timeout=2)

    def cli(self, *args):
        proc = subprocess.run([sys.executable, CLI] + list(args),
                              capture_output=True, timeout=60,
                              env=dict(os.environ, **self.env))
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def test_kill_and_restart_one_blade(self):
        topo = topology.loads(ONE.replace(":0-", f":{chaos.free_port('127.0.0.1', 0)}-"),
                              "/x/rb.toml")
        with mock.patch("sys.stdout"):
            run, not_in = chassis.Launcher(topo, "tcg", FAKE_QEMU, MANIFEST,
                                           ready_timeout=30,
                                           rotation_timeout=10).up()
        self.assertEqual(not_in, {})
        before = {p["name"]: p for p in run.processes()}
        os.kill(before["b0"]["pid"], signal.SIGKILL)

        rc, text, err = self.cli("restart", "b0", "-t", "rb")
        self.assertEqual(rc, 0, err)
        self.assertIn("blade b0 of topology rb is up again", text)
        after = {p["name"]: p for p in rundir.Run(run.path).processes()}
        self.assertEqual(list(after), list(before))     # replaced in place
        self.assertNotEqual(after["b0"]["pid"], before["b0"]["pid"])
        self.assertEqual({n: after[n]["pid"] for n in after if n != "b0"},
                         {n: before[n]["pid"] for n in before if n != "b0"})
        self.assertTrue(all(rundir.process_alive(p) for p in after.values()))
        # The old console log is kept beside the new one.
        self.assertTrue(os.path.exists(after["b0"]["console_log"] + ".prev"))
        state = chassis.read_switch(run.state["chassis"]["c1"]["qmp"], "c1")
        self.assertTrue(state["blades"][0]["in_rotation"])

        # A running blade is stopped first; CHASSIS.BLADE names it too.
        rc, text, err = self.cli("restart", "c1.b0", "-t", "rb")
        self.assertEqual(rc, 0, err)
        self.assertIn("blade b0: stopped (quit)", text)

        # A blade named like a chassis must be named CHASSIS.BLADE.
        rc, text, err = self.cli("restart", "c1", "-t", "rb")
        self.assertEqual((rc, err), (1, "bladeplane: error: 'c1' is both a "
                                        "chassis and a blade of topology rb: "
                                        "name the blade CHASSIS.c1\n"))
        rc, text, err = self.cli("restart", "nope", "-t", "rb")
        self.assertEqual((rc, err), (1, "bladeplane: error: no chassis or "
                                        "blade 'nope' in topology rb "
                                        "(chassis: c1; blades: b0, c1)\n"))
        rc, text, err = self.cli("restart", "c9.b0", "-t", "rb")
        self.assertEqual((rc, err), (1, "bladeplane: error: no blade 'c9.b0' "
                                        "in topology rb (blades: b0, c1)\n"))
        with mock.patch("sys.stdout"):
            self.assertRaises(Failure, chassis.restart_named, run, "x.y")


if __name__ == "__main__":
    unittest.main()
