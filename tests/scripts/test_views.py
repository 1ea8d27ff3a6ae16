"""status/top: shares of new flows from two reads of the switch's counters,
top's rows and the status text; the BER injector's arithmetic."""

import contextlib
import io
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import impair, topology, views
from bladeplane_cli.common import Failure


def state(now_ms, new_flows, moved=None, cpu=None, links=None):
    """A switch state tree with the members top reads."""
    blades, ports = [], []
    for slot, n in enumerate(new_flows):
        up = True if links is None else links[slot]
        blades.append({"slot": slot, "new_flows": n, "in_rotation": up,
                       "reason": "in rotation" if up else "link down",
                       "cpu": None if cpu is None else cpu[slot], "irq": 2,
                       "report_age_ms": 40, "active_flows": 1,
                       "moved_flows": 0 if moved is None else moved[slot]})
        ports.append({"name": f"slot{slot}", "kind": "slot", "slot": slot,
                      "link": up, "errors": 1,
                      "pcs": {"code_errors": 2, "fcs_errors": 3}})
    return {"switch": {"now_ms": now_ms}, "blades": blades, "ports": ports}


CHASSIS = topology.loads('[[chassis]]\n[[chassis.blade]]\nslot = 0\n'
                         '[[chassis.blade]]\nslot = 1\nname = "busy"\n'
                         '[[chassis.blade]]\nslot = 2\n', "t.toml").chassis[0]


class SharesTest(unittest.TestCase):

    def test_shares_of_the_interval_not_of_all_time(self):
        prev = state(1000, [100, 100, 100])
        cur = state(2000, [130, 110, 160])
        self.assertEqual(views.interval_shares(prev, cur),
                         {0: (30, 0.3), 1: (10, 0.1), 2: (60, 0.6)})
        self.assertEqual(views.share_between(prev, cur, 1), 0.1)

    def test_no_new_flows_has_no_share(self):
        s = state(1000, [5, 5, 5])
        self.assertEqual(views.interval_shares(s, state(2000, [5, 5, 5])),
                         {0: (0, None), 1: (0, None), 2: (0, None)})
        self.assertIsNone(views.share_between(s, state(2000, [5, 5, 5]), 0))

    def test_first_read_has_nothing_to_compare(self):
        self.assertIsNone(views.interval_shares(None, state(1, [1, 2, 3])))

    def test_counters_going_back_mean_a_restarted_switch(self):
        self.assertIsNone(views.interval_shares(state(5000, [10, 10, 10]),
                                                state(100, [1, 0, 0])))
        self.assertIsNone(views.interval_shares(state(1000, [10, 10, 10]),
                                                state(2000, [12, 9, 10])))

    def test_a_blade_that_appears_counts_from_zero(self):
        prev = {"switch": {"now_ms": 0}, "blades": [{"slot": 0, "new_flows": 4}]}
        self.assertEqual(views.interval_shares(prev, state(10, [6, 2])),
                         {0: (2, 0.5), 1: (2, 0.5)})

    def test_interval_seconds_from_the_chassis_clock(self):
        self.assertEqual(views.interval_seconds(state(1500, [0]),
                                                state(2750, [0])), 1.25)
        self.assertIsNone(views.interval_seconds(None, state(1, [0])))


class TopTest(unittest.TestCase):

    def test_rows(self):
        prev = state(1000, [10, 10, 10], moved=[0, 0, 0])
        cur = state(2000, [13, 10, 15], moved=[0, 2, 0], cpu=[20, 95, 30],
                    links=[True, True, False])
        rows = views.top_rows(prev, cur, CHASSIS)
        self.assertEqual([(r["slot"], r["blade"], r["new"], r["share"],
                           r["moved"], r["link"], r["errors"], r["cpu"])
                          for r in rows],
                         [(0, "b0", 3, 0.375, 0, True, 1, 20),
                          (1, "busy", 0, 0.0, 2, True, 1, 95),
                          (2, "b2", 5, 0.625, 0, False, 1, 30)])

    def test_frame_text(self):
        prev = state(1000, [10, 10, 10])
        cur = state(3000, [13, 11, 16], cpu=[20, 95, None],
                    links=[True, True, False])
        text = views.render_top("demo/c1", prev, cur, CHASSIS)
        lines = text.splitlines()
        self.assertRegex(lines[0], r"^demo/c1  \d\d:\d\d:\d\d  new flows: 10 "
                         r"in 2\.0 s \(5\.0/s\)$")
        self.assertEqual(lines[1].split(), ["slot", "blade", "link", "rot", "cpu",
                                            "irq", "age", "new", "share",
                                            "flows", "moved", "errors"])
        self.assertEqual(lines[3].split(), ["1", "busy", "up", "yes",
                                            "[##########]", "95%", "2%", "40ms",
                                            "1", "10.0%", "1", "0", "1"])
        self.assertEqual(lines[4].split()[:5], ["2", "b2", "down", "no", "["])
        self.assertEqual(lines[-1], "  b2: link down")

    def test_bar(self):
        self.assertEqual(views.bar(0), "[..........]")
        self.assertEqual(views.bar(44), "[####......]")
        self.assertEqual(views.bar(250), "[##########]")
        self.assertEqual(views.bar(None), "[          ]")


class TableTest(unittest.TestCase):

    def test_numbers_right_text_left(self):
        text = views.table(["name", "n", "cpu"], [["a", 5, "7%"],
                                                  ["long", 123, None]])
        self.assertEqual(text.splitlines(), ["  name    n  cpu",
                                             "  a       5   7%",
                                             "  long  123    -"])


class DemoSummaryTest(unittest.TestCase):
    """The demo's verdict, from the switch's counters at four moments."""

    def setUp(self):
        from bladeplane_cli import demo
        self.demo = demo
        self.busy = CHASSIS.blades[1]

    def summary(self, counts):
        start, before, settled, end = (state(i * 1000, c)
                                       for i, c in enumerate(counts))
        load = mock.Mock()
        load.snapshot.return_value = {"ok": 9, "failed": 0,
                                      "by_blade": {"b0": 5, "busy": 4},
                                      "last_error": None}
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                return self.demo.summary(self.busy, start, before, settled,
                                         end, load), out.getvalue()
            except Exception as e:
                return e, out.getvalue()

    def test_share_that_falls(self):
        rc, text = self.summary([[0, 0, 0], [30, 30, 30], [40, 35, 40],
                                 [80, 37, 83]])
        self.assertEqual(rc, 0)
        self.assertIn("busy's share of new flows before its hog: 33.3% of 90",
                      text)
        self.assertIn("busy's share of new flows with its hog:   2.4% of 85",
                      text)
        self.assertIn("requests answered: 9 (b0 5, busy 4); failed: 0", text)

    def test_share_that_does_not_fall_is_a_failure(self):
        err, text = self.summary([[0, 0, 0], [30, 30, 30], [40, 40, 40],
                                  [60, 58, 60]])
        self.assertIsInstance(err, Failure)
        self.assertEqual(str(err), "the busy blade's share did not drop "
                         "clearly (33.3% -> 31.0%)")

    def test_no_flows_is_a_failure(self):
        err, _ = self.summary([[0, 0, 0], [0, 0, 0], [1, 1, 1], [2, 1, 2]])
        self.assertEqual(str(err), "no new flows were measured in one of the "
                         "two periods")


class InjectorTest(unittest.TestCase):

    def test_errors_follow_the_traffic(self):
        # 1e-6 per bit, 10 bits per code group: 1000 frames of 988 octets
        # are 1000 * (988 + 12) code groups = 1e6 groups = 1e7 bits.
        self.assertEqual(impair.code_group_errors(1e-6, 988000, 1000),
                         (10, 0.0))

    def test_fractions_carry_over(self):
        # 2**-10 per bit, 64 code groups a second: 0.625 errors a second
        # (every figure exact in binary floating point).
        ber = 2.0 ** -10
        n, carry = impair.code_group_errors(ber, 64, 0)
        self.assertEqual((n, carry), (0, 0.625))
        total = n
        for _ in range(9):
            n, carry = impair.code_group_errors(ber, 64, 0, carry)
            total += n
        self.assertEqual((total, carry), (6, 0.25))     # 6.25 in 10 seconds

    def test_restarted_counters_and_the_device_limit(self):
        self.assertEqual(impair.code_group_errors(1e-3, -5, 1), (0, 0.0))
        self.assertEqual(impair.code_group_errors(1e-3, 10 ** 12, 0)[0],
                         impair.MAX_PER_WRITE)

    def test_port_counters(self):
        st = {"ports": [{"kind": "uplink", "name": "uplink", "rx_bytes": 9},
                        {"kind": "slot", "slot": 1, "rx_bytes": 5,
                         "rx_frames": 2}]}
        self.assertEqual(impair.port_counters(st, 1), (5, 2))
        self.assertIsNone(impair.port_counters(st, 0))


if __name__ == "__main__":
    unittest.main()
