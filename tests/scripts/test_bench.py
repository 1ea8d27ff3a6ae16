"""bench flood's verdict on its figures (scripts/bladeplane_cli/bench.py)."""

import unittest

import cli_path  # noqa: F401
from bladeplane_cli import bench

GOOD = {"flood_mac_rate_ratio": "0.998", "flood_ctrl_rate_ratio": "1.000",
        "flood_ctrl_keyed_rate_ratio": "0.950",
        "flood_other_ports_rate_ratio": "0.950",
        "flood_rss_growth_kib": "1752", "flood_rss_bound_kib": "23893"}


class FloodVerdictTest(unittest.TestCase):

    def test_within_bounds(self):
        self.assertEqual(bench.flood_verdict(GOOD), [])

    def test_rate_ratio_below(self):
        v = dict(GOOD, flood_ctrl_keyed_rate_ratio="0.899",
                 flood_other_ports_rate_ratio="0.899")
        [what] = bench.flood_verdict(v)
        self.assertIn("kept 0.899", what)
        self.assertIn("below 0.9", what)
        self.assertIn("flood_ctrl_keyed_rate_ratio 0.899", what)
        self.assertNotIn("flood_mac_rate_ratio", what)

    def test_rss_over_bound(self):
        v = dict(GOOD, flood_rss_growth_kib="23894")
        [what] = bench.flood_verdict(v)
        self.assertIn("grew by 23894 KiB", what)
        self.assertIn("bound of 23893 KiB", what)

    def test_rss_at_bound(self):
        v = dict(GOOD, flood_rss_growth_kib="23893")
        self.assertEqual(bench.flood_verdict(v), [])

    def test_both(self):
        v = dict(GOOD, flood_other_ports_rate_ratio="0.5",
                 flood_mac_rate_ratio="0.5", flood_rss_growth_kib="99999")
        self.assertEqual(len(bench.flood_verdict(v)), 2)

    def test_missing_figure(self):
        v = dict(GOOD)
        del v["flood_rss_bound_kib"]
        [what] = bench.flood_verdict(v)
        self.assertIn("flood_rss_bound_kib", what)


if __name__ == "__main__":
    unittest.main()
