"""Booted blades on a chassis whose backplane is a TDM bus (fig. 4,
docs/backplane.md): `up` of a two-blade chassis with backplane =
"tdm-bus", HTTP from the host through the forwarded port to the web
service, balanced over both blades, and the bus's account of it in the
state tree and in `status`.  The bus's own behaviour (schedules, counts,
back-pressure) is its qtests' (blade-switch-bus-test)."""

import os
import subprocess
import sys
import unittest
import urllib.request

from bptest import REPO, TopologyTestCase
from bladeplane_cli import chassis

CLI = os.path.join(REPO, "scripts", "bladeplane")


class BusChassisTest(TopologyTestCase):
    NAME = "fn-bus"
    TOPOLOGY = """\
[[chassis]]
name = "c1"
slots = 2
backplane = "tdm-bus"
[chassis.uplink]
forward = ["tcp:127.0.0.1:{port}-10.0.2.100:80"]
[chassis.switch]
bus-schedule = "on-demand"
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
"""

    def get(self):
        url = f"http://127.0.0.1:{self.port}/cgi-bin/work?kb=16"
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read().decode()

    def state(self):
        qmp = self.topo_run.state["chassis"]["c1"]["qmp"]
        return chassis.read_switch(qmp, "chassis c1", timeout=10)

    def test_1_every_blade_in_rotation(self):
        # their utilization sets crossed the bus: the balancer has them
        self.assertEqual(self.not_in, {})

    def test_2_web_over_the_bus(self):
        before = self.state()["bus"]
        seen = set()
        for _ in range(40):
            seen.add(self.get().split()[0])
            if seen == {"blade=b0", "blade=b1"}:
                break
        self.assertEqual(seen, {"blade=b0", "blade=b1"})
        bus = self.state()["bus"]
        self.assertEqual(bus["schedule"], "on-demand")
        self.assertEqual([t["name"] for t in bus["transceivers"]],
                         ["slot0", "slot1", "switch"])
        for i, t in enumerate(bus["transceivers"]):
            # requests in the switch's slots, answers in the blades'
            with self.subTest(transceiver=t["name"]):
                self.assertGreater(t["frames"],
                                   before["transceivers"][i]["frames"])
                self.assertGreater(t["grants"], 0)
        for t in bus["transceivers"][:2]:
            self.assertGreater(t["util_carried"], 0)
        self.assertGreater(bus["busy_ns"], before["busy_ns"])
        self.assertLess(bus["utilization"], 1)

    def test_3_status_shows_the_bus(self):
        proc = subprocess.run([sys.executable, CLI, "status", "fn-bus"],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("bus: TDM, 10000 Mb/s, on-demand", proc.stdout)
        self.assertIn("util_sets", proc.stdout)


if __name__ == "__main__":
    unittest.main()
