"""status/top: shares of new flows from two reads of the switch's counters,
top's rows and the status text; the BER injector's arithmetic."""

import contextlib
import io
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import impair, topology, views
from bladeplane_cli.common import Failure


def state(now_ms, new_flows, moved=None, cpu=None, links=None, cont=None):
    """A switch state tree with the members top reads; @cont: per blade
    (pressure, runnable), or None for a blade without contention figures."""
    blades, ports = [], []
    for slot, n in enumerate(new_flows):
        up = True if links is None else links[slot]
        psi, run = (cont[slot] if cont and cont[slot] else (None, None))
        blades.append({"slot": slot, "new_flows": n, "in_rotation": up,
                       "reason": "in rotation" if up else "link down",
                       "pressure": psi, "runnable": run,
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
                         {(None, 0): (30, 0.3), (None, 1): (10, 0.1),
                          (None, 2): (60, 0.6)})
        self.assertEqual(views.share_between(prev, cur, (None, 1)), 0.1)
        # The switch's own chassis, named.
        self.assertEqual(views.share_between(prev, cur, ("c1", 2), "c1"), 0.6)

    def test_no_new_flows_has_no_share(self):
        s = state(1000, [5, 5, 5])
        self.assertEqual(views.interval_shares(s, state(2000, [5, 5, 5])),
                         {(None, 0): (0, None), (None, 1): (0, None),
                          (None, 2): (0, None)})
        self.assertIsNone(views.share_between(s, state(2000, [5, 5, 5]),
                                              (None, 0)))

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
                         {(None, 0): (2, 0.5), (None, 1): (2, 0.5)})

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
                                            "irq", "psi", "run", "age", "new",
                                            "share", "flows", "moved",
                                            "errors"])
        self.assertEqual(lines[3].split(), ["1", "busy", "up", "yes",
                                            "[##########]", "95%", "2%", "-",
                                            "-", "40ms", "1", "10.0%", "1", "0",
                                            "1"])
        self.assertEqual(lines[4].split()[:5], ["2", "b2", "down", "no", "["])
        self.assertEqual(lines[-1], "  b2: link down")

    def test_contention_figures(self):
        """Pressure (permille in the state tree) shows as a percentage and
        runnable as a count; a blade that sends none shows "-"."""
        prev = state(1000, [10, 10, 10])
        cur = state(2000, [12, 11, 10], cpu=[20, 95, 30],
                    cont=[(425, 3), None, (1000, 1023)])
        rows = views.top_rows(prev, cur, CHASSIS)
        self.assertEqual([(r["pressure"], r["runnable"]) for r in rows],
                         [(425, 3), (None, None), (1000, 1023)])
        lines = views.render_top("demo/c1", prev, cur, CHASSIS).splitlines()
        self.assertEqual(lines[2].split()[5:9], ["20%", "2%", "42.5%", "3"])
        self.assertEqual(lines[3].split()[5:9], ["95%", "2%", "-", "-"])
        self.assertEqual(lines[4].split()[5:9], ["30%", "2%", "100.0%", "1023"])

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
    """The demo's verdict: per phase and policy, the busy blade's share of
    new flows (the switch's counters) and the response times."""

    def setUp(self):
        from bladeplane_cli import demo
        self.demo = demo
        self.busy = CHASSIS.blades[1]

    def summary(self, shares, times):
        """shares: {(phase, policy): [new flows per slot]}; times:
        {(phase, policy): [response times in s]}."""
        flows = {tag: {(None, slot): n for slot, n in enumerate(counts)}
                 for tag, counts in shares.items()}
        load = mock.Mock()
        load.tagged = times
        load.snapshot.return_value = {"ok": 9, "failed": 0,
                                      "by_blade": {"b0": 5, "busy": 4},
                                      "last_error": None}
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                return self.demo.summary(self.busy, flows, load), \
                    out.getvalue()
            except Exception as e:
                return e, out.getvalue()

    SHARES = {("before", "util"): [30, 30, 30], ("before", "rr"): [30, 30, 30],
              ("with the hog", "util"): [40, 2, 43],
              ("with the hog", "rr"): [30, 30, 30]}
    TIMES = {("before", "util"): [0.03] * 99 + [0.15],
             ("before", "rr"): [0.03] * 99 + [0.12],
             ("with the hog", "util"): [0.03] * 99 + [0.4],
             ("with the hog", "rr"): [0.03] * 90 + [1.0] * 10}

    def test_share_falls_and_p99_below_rr(self):
        rc, text = self.summary(self.SHARES, self.TIMES)
        self.assertEqual(rc, 0, text)
        self.assertRegex(text, r"before the hog +30 +150 +33\.3% +30 +120 "
                         r"+33\.3%")
        self.assertRegex(text, r"with the hog \(nice -10\) +30 +400 +2\.4% "
                         r"+30 +1000 +33\.3%")
        self.assertIn("requests answered: 9 (b0 5, busy 4); failed "
                      "connections: 0", text)
        self.assertIn("(33.3% -> 2.4%) and kept p99 at 400 ms where rr's was "
                      "1000 ms (2.5x)", text)

    def test_share_that_does_not_fall_is_a_failure(self):
        shares = dict(self.SHARES)
        shares["with the hog", "util"] = [30, 28, 32]
        err, _ = self.summary(shares, self.TIMES)
        self.assertIsInstance(err, Failure)
        self.assertEqual(str(err), "util did not steer new flows away from "
                         "the busy blade clearly (33.3% -> 31.1%)")

    def test_p99_not_below_rr_is_a_failure(self):
        times = dict(self.TIMES)
        times["with the hog", "util"] = [0.03] * 90 + [1.0] * 10
        err, _ = self.summary(self.SHARES, times)
        self.assertIsInstance(err, Failure)
        self.assertEqual(str(err), "with the hog, util's p99 (1000 ms) is not "
                         "below rr's (1000 ms)")

    def test_no_flows_is_a_failure(self):
        shares = dict(self.SHARES)
        shares["with the hog", "rr"] = [0, 0, 0]
        del shares["before", "util"]
        err, _ = self.summary(shares, self.TIMES)
        self.assertIsInstance(err, Failure)
        self.assertEqual(str(err), "a phase or policy had no requests or no "
                         "new flows")


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


def fabric_state(now_ms, local, remote, blocked=False):
    """A front chassis's state: its own blades {slot: new_flows} and the
    other chassis's {(chassis, slot): (new_flows, hops)}, same slot
    numbers on purpose."""
    blades, ports = [], []
    for slot, n in local.items():
        blades.append({"slot": slot, "new_flows": n, "in_rotation": True,
                       "reason": "in rotation", "cpu": 10, "irq": 1,
                       "report_age_ms": 30, "active_flows": 0,
                       "moved_flows": 0, "mac": f"52:54:00:00:01:{slot:02x}"})
        ports.append({"name": f"slot{slot}", "kind": "slot", "slot": slot,
                      "link": True, "errors": 0})
    for (chassis, slot), (n, hops) in remote.items():
        blades.append({"slot": slot, "new_flows": n, "remote": True,
                       "chassis": chassis, "chassis_id": int(chassis[1:]),
                       "hops": hops, "in_rotation": chassis != "c9",
                       "reason": "stale" if chassis == "c9" else
                       "in rotation", "cpu": 50, "irq": 2,
                       "report_age_ms": 120, "active_flows": 1,
                       "moved_flows": 0, "mac": "52:54:00:00:09:00"})
    ports += [{"name": "chain0", "kind": "chain", "link": True,
               "blocked": False, "errors": 0},
              {"name": "chain1", "kind": "chain", "link": True,
               "blocked": blocked, "errors": 0}]
    fabric = {"chassis": "c1", "chassis_id": 1, "root_id": 1,
              "ports": [{"name": "chain0", "link": True, "forwarding": True,
                         "state": "forwarding", "neighbour": "c2",
                         "neighbour_id": 2, "heard_age_ms": 40,
                         "rx_adverts": 50, "tx_adverts": 51},
                        {"name": "chain1", "link": True,
                         "forwarding": not blocked,
                         "state": "blocked (loop)" if blocked else
                         "forwarding", "neighbour": "c3",
                         "neighbour_id": 3, "heard_age_ms": 60,
                         "rx_adverts": 48, "tx_adverts": 51}],
              "stats": {"tx_adverts": 102, "rx_adverts": 98,
                        "rx_malformed": 0, "rx_bad_auth": 2,
                        "rx_unauthenticated": 0, "rx_replayed": 0,
                        "rx_own": 0, "rx_bad_version": 0}}
    return {"switch": {"now_ms": now_ms, "mac": "52:54:00:aa:00:01",
                       "slots": 2},
            "blades": blades, "ports": ports, "fabric": fabric,
            "services": [{"name": "web", "kind": "service", "remote": True,
                          "vip": "10.0.2.100", "protocol": "tcp",
                          "port_min": 80, "port_max": 80, "policy": "util",
                          "new_flows": 10, "no_blade": 0,
                          "share": [{"slot": 0, "share": 0.5},
                                    {"slot": 0, "chassis": "c3",
                                     "share": 0.5}]}]}


RING = topology.loads("""\
[fabric]
loops = "block"
[[chassis]]
name = "c1"
slots = 2
[chassis.uplink]
[[chassis.blade]]
slot = 0
name = "front"
[[chassis]]
name = "c2"
slots = 2
[[chassis.blade]]
slot = 0
name = "middle"
[[chassis]]
name = "c3"
slots = 2
[[chassis.blade]]
slot = 0
name = "far"
[[link]]
a = "c1"
b = "c2"
[[link]]
a = "c2"
b = "c3"
[[link]]
a = "c3"
b = "c1"
""", "ring.toml")


class FabricViewTest(unittest.TestCase):
    """Several chassis: blades keyed (chassis, slot), remote blades and
    the fabric in status and top."""

    def test_shares_keep_blades_of_other_chassis_apart(self):
        prev = fabric_state(1000, {0: 10}, {("c2", 0): (10, 1),
                                            ("c3", 0): (10, 2)})
        cur = fabric_state(2000, {0: 12}, {("c2", 0): (14, 1),
                                           ("c3", 0): (12, 2)})
        self.assertEqual(views.interval_shares(prev, cur, "c1"),
                         {("c1", 0): (2, 0.25), ("c2", 0): (4, 0.5),
                          ("c3", 0): (2, 0.25)})
        self.assertEqual(views.share_between(prev, cur, ("c2", 0), "c1"), 0.5)
        # A remote blade that appears counts from zero.
        cur2 = fabric_state(3000, {0: 12}, {("c2", 0): (14, 1),
                                            ("c3", 0): (12, 2),
                                            ("c3", 1): (4, 2)})
        self.assertEqual(views.interval_shares(cur, cur2, "c1")[("c3", 1)],
                         (4, 1.0))

    def test_top_rows_and_frame(self):
        # The switch may list remote blades in any order: nearest first.
        prev = fabric_state(1000, {0: 10}, {("c9", 1): (0, 3),
                                            ("c3", 0): (10, 2),
                                            ("c2", 0): (10, 1)})
        cur = fabric_state(2000, {0: 12}, {("c3", 0): (12, 2),
                                           ("c9", 1): (0, 3),
                                           ("c2", 0): (14, 1)})
        ch = RING.chassis[0]
        rows = views.top_rows(prev, cur, ch, RING)
        self.assertEqual([(r["chassis"], r["slot"], r["blade"], r["hops"],
                           r["remote"], r["new"], r["link"]) for r in rows],
                         [("c1", 0, "front", 0, False, 2, True),
                          ("c2", 0, "middle", 1, True, 4, None),
                          ("c3", 0, "far", 2, True, 2, None),
                          ("c9", 1, "c9/slot1", 3, True, 0, None)])
        lines = views.render_top("ring/c1", prev, cur, ch, RING).splitlines()
        self.assertEqual(lines[1].split()[:5],
                         ["slot", "chassis", "hops", "blade", "link"])
        self.assertEqual(lines[3].split()[:6],
                         ["0", "c2", "1", "middle", "-", "yes"])
        self.assertEqual(lines[-1], "  c9/slot1: stale")

    def test_status_of_a_chassis_with_a_blocked_port(self):
        st = fabric_state(5000, {0: 3}, {("c2", 0): (1, 1),
                                         ("c3", 0): (2, 2)}, blocked=True)
        text = "\n".join(views.render_chassis({"state": st}, RING.chassis[0],
                                               RING))
        self.assertIn("\n  fabric: chassis c1 (id 1), root 1 (this chassis), "
                      "adverts sent 102, received 98; refused or lost: "
                      "rx_bad_auth 2\n",
                      text)
        self.assertRegex(text, r"\n    chain1\s+up\s+blocked \(loop\)\s+c3 "
                         r"\(id 3\)\s+60ms\s+48\s+51\n")
        self.assertRegex(text, r"\n    chain1\s+up, blocked\s")
        self.assertRegex(text, r"\n +0\s+c3\s+2\s+far\s+52:54:00:00:09:00\s+"
                         r"yes")
        self.assertIn("service (remote)", text)
        self.assertIn("front:50% far:50%", text)

    def test_status_shows_contention_figures(self):
        st = fabric_state(5000, {0: 3, 1: 4}, {("c2", 0): (1, 1)})
        st["blades"][0].update(pressure=125, runnable=2)
        text = "\n".join(views.render_chassis({"state": st}, RING.chassis[0],
                                               RING))
        self.assertRegex(text, r"\n +slot +chassis +hops +blade +mac +rotation"
                         r" +cpu +irq +psi +run +age ")
        # this chassis's blade 0 sends them, blade 1 and remote blades not
        self.assertRegex(text, r"\n +0 +c1 +0 .* yes +10% +1% +12\.5% +2 +30ms")
        self.assertRegex(text, r"\n +1 +c1 +0 .* yes +10% +1% +- +- +30ms")
        self.assertRegex(text, r"\n +0 +c2 +1 .* yes +50% +2% +- +- +120ms")


if __name__ == "__main__":
    unittest.main()
