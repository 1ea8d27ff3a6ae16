"""A chassis with three booted blades balancing a web service by the load
the blades report in the idle gap of their lanes: HTTP from the host
through the forwarded port reaches every blade; when a CPU hog at nice
-10 starts on one blade, its share of new flows drops (read from the
switch's counters); connections open before the hog stay on their blades
to the end.

The hog is at nice -10 because that makes the blade truly slow for its
requests (about a tenth of its speed, `bench lb-calib`): moving flows
away is then what a user wants, and the share is what this test asserts.
Whether that also wins in response time, and what a nice 0 hog does, are
timings: `bench lb-emu` and the demo measure them, not this test."""

import socket
import time
import unittest

from bptest import TopologyTestCase
from bladeplane_cli import chassis, views
from bladeplane_cli.loadgen import LoadGenerator

BUSY = 1                    # the slot that gets the hog
WINDOW_FLOWS = 36           # new flows measured before and after
BLADES = 3                  # in the topology below


class ChassisBalancingTest(TopologyTestCase):
    NAME = "fn-balance"
    TOPOLOGY = """\
[[chassis]]
name = "c1"
slots = 3
[chassis.uplink]
forward = ["tcp:127.0.0.1:{port}-10.0.2.100:80"]
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
[[chassis.blade]]
slot = 2
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
policy = "util"
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qmp = chassis.chassis_files(cls.topo_run.path,
                                        cls.topo.chassis[0])["qmp"]

    def state(self):
        return chassis.read_switch(self.qmp, "chassis c1")

    def console(self, name):
        return self.blade_console(name)

    def load_window(self, flows):
        """Run the load generator until the switch placed @flows new flows;
        returns the states before and after.  One request at a time: the
        blades that do not run the hog stay lightly loaded, so the busy
        one stands out in the reports (under TCG on two host cores, more
        load keeps every blade near 100 %)."""
        before = self.state()
        start = sum(b["new_flows"] for b in before["blades"])
        load = LoadGenerator("127.0.0.1", self.port,
                             path="/cgi-bin/work?kb=16", threads=1).start()
        try:
            deadline = time.monotonic() + 300
            while True:
                after = self.state()
                done = sum(b["new_flows"] for b in after["blades"]) - start
                if done >= flows:
                    break
                self.assertLess(time.monotonic(), deadline,
                                f"only {done} new flows in 300 s")
                time.sleep(0.5)
        finally:
            load.stop()
        snap = load.snapshot()
        self.assertEqual(snap["failed"], 0, snap["last_error"])
        return before, after

    def open_request(self):
        """A connection through the VIP with half a request sent: a flow
        in progress."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        s.sendall(b"GET /cgi-bin/work?kb=1 HTTP/1.0\r\n")
        return s

    @staticmethod
    def finish_request(s):
        s.sendall(b"\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.decode(errors="replace")

    def test_1_in_rotation(self):
        self.assertEqual(self.not_in, {})

    def test_2_http_reaches_every_blade(self):
        load = LoadGenerator("127.0.0.1", self.port,
                             path="/cgi-bin/work?kb=1", threads=2).start()
        try:
            deadline = time.monotonic() + 120
            while len(load.snapshot()["by_blade"]) < 3:
                self.assertLess(time.monotonic(), deadline,
                                f"answers so far: {load.snapshot()}")
                time.sleep(0.2)
        finally:
            load.stop()
        self.assertEqual(set(load.snapshot()["by_blade"]), {"b0", "b1", "b2"})

    def test_3_busy_blade_gets_fewer_new_flows(self):
        before, after = self.load_window(WINDOW_FLOWS)
        share_before = views.share_between(before, after, (None, BUSY))

        # Connections in progress when the load changes (half a request
        # sent), spread over the blades by the policy.
        held = [self.open_request() for _ in range(3)]
        moved_before = self.state()["flows"]["moved"]
        con = self.console(f"b{BUSY}")
        try:
            status, out = con.run("blade-hog start -n -10 1")
            self.assertEqual(status, 0, out)
            # The blade reports its new load within a few report periods.
            deadline = time.monotonic() + 60
            while self.state()["blades"][BUSY]["cpu"] < 90:
                self.assertLess(time.monotonic(), deadline,
                                "the hog never showed in the reports")
                time.sleep(0.5)
            # New flows now avoid the busy blade; the held ones finish on
            # the blade that took them (one moved elsewhere would be reset
            # there), and the switch moved none.
            self.load_window(6)
            for s in held:
                self.assertIn("blade=b", self.finish_request(s))
            self.assertEqual(self.state()["flows"]["moved"], moved_before)

            before, after = self.load_window(WINDOW_FLOWS)
            share_after = views.share_between(before, after, (None, BUSY))
        finally:
            con.run("blade-hog stop")
            con.close()

        self.assertIsNotNone(share_before)
        self.assertIsNotNone(share_after)
        # A blade slowed to a tenth gets well under a fair share of new
        # flows (rr and random give it a third).  Its share before the hog
        # is no baseline: with one request at a time every blade is idle
        # between requests, and util's choice among idle blades is not
        # even (docs/balancing.md, "Where util loses").
        fair = 1 / BLADES
        self.assertLess(share_after, fair / 2,
                        f"slot {BUSY}: {share_after:.2f} of new flows with "
                        f"the hog ({share_before:.2f} before), a fair share "
                        f"being {fair:.2f}")


if __name__ == "__main__":
    unittest.main()
