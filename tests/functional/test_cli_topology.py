"""`bladeplane up` of a real topology: a chassis with two booted blades,
HTTP from the host through the forwarded port to the VIP, status, a
console, a capture, and `down` (the CLI's path end to end; the switch's
own behaviour is tested by its qtests and functional tests).  The
switch runs its slots' lanes on two iothreads (`iothreads = 2`), so the
lane threads carry booted blades here; the other chassis tests use the
main loop."""

import json
import os
import subprocess
import sys
import unittest
import urllib.request

from bptest import REPO, TopologyTestCase
from bladeplane_cli import chassis, console, rundir

CLI = os.path.join(REPO, "scripts", "bladeplane")


class TopologyUpTest(TopologyTestCase):
    NAME = "fn-topo"
    TOPOLOGY = """\
[[chassis]]
name = "c1"
slots = 2
[chassis.uplink]
forward = ["tcp:127.0.0.1:{port}-10.0.2.100:80"]
[chassis.switch]
iothreads = 2
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
"""

    def cli(self, *args):
        proc = subprocess.run([sys.executable, CLI] + list(args),
                              capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr

    def get(self):
        url = f"http://127.0.0.1:{self.port}/cgi-bin/work?kb=4"
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read().decode()

    def test_1_every_blade_in_rotation(self):
        self.assertEqual(self.not_in, {})

    def test_2_http_reaches_both_blades(self):
        seen = set()
        for _ in range(40):
            seen.add(self.get().split()[0])
            if seen == {"blade=b0", "blade=b1"}:
                break
        self.assertEqual(seen, {"blade=b0", "blade=b1"})

    def test_3_status_json(self):
        rc, out, err = self.cli("status", "--json", "fn-topo")
        self.assertEqual(rc, 0, err)
        info = json.loads(out)
        self.assertTrue(all(p["alive"] for p in info["processes"]))
        st = info["chassis"][0]["state"]
        self.assertEqual([b["in_rotation"] for b in st["blades"]], [True, True])
        # a slot's lane on its own thread
        self.assertEqual([p.get("iothread") for p in st["ports"]
                          if p["name"].startswith("slot")],
                         ["switch-io0", "switch-io1"])
        web = [s for s in st["services"] if s["name"] == "web"][0]
        self.assertEqual(web["new_flows"],
                         sum(b["new_flows"] for b in st["blades"]))

    def test_4_console(self):
        proc = next(p for p in self.topo_run.processes() if p["name"] == "b1")
        s = console.ConsoleSession(proc["console"], "blade b1")
        try:
            self.assertEqual(s.run("hostname"), (0, "b1\n"))
        finally:
            s.close()

    def test_5_capture_uplink(self):
        pcap = os.path.join(self.tmp.name, "up.pcap")
        chassis.capture(self.topo_run, "uplink", pcap=pcap, wait=self.get)
        self.assertGreater(chassis.pcap_frames(pcap), 4)

    def test_9_down(self):
        rc, out, err = self.cli("down", "fn-topo")
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(self.topo_run.path))
        self.assertEqual([p for p in self.topo_run.processes()
                          if rundir.process_alive(p)], [])


if __name__ == "__main__":
    unittest.main()
