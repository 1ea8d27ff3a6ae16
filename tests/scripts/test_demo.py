"""The demo's verdict (scripts/bladeplane_cli/demo.py): its table, and
what makes it fail; in virtual time, read from the client blade's log."""

import contextlib
import io
import unittest

import cli_path  # noqa: F401
from bladeplane_cli import demo
from bladeplane_cli.common import Failure

POLS = ["rr", "util"]


def phase(name, shares_b1, rt_ms, rate="100.00"):
    """A client log of one phase: per target, 4 connections of one
    request, shares_b1[t] of them answered by b1, each in rt_ms[t]."""
    lines = [f"rate_rps: {rate}"]
    for t in range(2):
        lines.append(f"phase {t} 0 0")
        for c in range(4):
            blade = "b1" if c < shares_b1[t] else "b0"
            end = int(rt_ms[t] * 1e6)
            lines.append(f"req {t} 0 {c} 0 {blade} 0 0 {end}")
    lines.append("loadgen-done: requests 8 failed 0 log_dropped 0")
    return ([f"demo-phase {name}"] if name == "hog" else []) + lines


class VirtualDemoTest(unittest.TestCase):

    def judge(self, before, hog):
        rows, answered, failed, rate = demo.virtual_rows(before + hog, POLS)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            demo.report("b1", rows, f"{answered}; failed {failed}", "how",
                        "shares")
        return rows, out.getvalue()

    def test_util_steers_away_and_wins(self):
        rows, out = self.judge(phase("before", [1, 1], [5, 5]),
                               phase("hog", [1, 0], [90, 10]))
        self.assertEqual(rows["before", "util"][3], 0.25)
        self.assertEqual(rows["with the hog", "util"][3], 0.0)
        self.assertAlmostEqual(rows["with the hog", "rr"][1], 0.09)
        self.assertIn("demo done", out)
        self.assertIn("(9.0x)", out)

    def test_fails_when_util_keeps_the_busy_blade(self):
        with self.assertRaises(Failure) as cm:
            self.judge(phase("before", [1, 1], [5, 5]),
                       phase("hog", [1, 1], [90, 10]))
        self.assertIn("did not steer", str(cm.exception))

    def test_fails_when_util_is_slower_than_rr(self):
        with self.assertRaises(Failure) as cm:
            self.judge(phase("before", [1, 1], [5, 5]),
                       phase("hog", [1, 0], [10, 20]))
        self.assertIn("not below rr's", str(cm.exception))

    def test_no_hog_phase(self):
        with self.assertRaises(Failure) as cm:
            demo.virtual_rows(phase("before", [1, 1], [5, 5]), POLS)
        self.assertIn("did not reach the hog", str(cm.exception))

    def test_virtual_refuses_real_time_options(self):
        for kw in ({"seconds": 20}, {"keep": True}, {"accel": "tcg"}):
            with self.assertRaises(Failure):
                demo.run(timing="virtual", **kw)
