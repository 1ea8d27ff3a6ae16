"""A paused chassis must not reset its blades.

The blade_nic driver's TX watchdog (the driver's period, 5 s) resets the
NIC only when the device says the TX ring halted (STATUS.TX_HALT); a ring
that waits because the lane takes no frames (docs/blade-nic.md 6.1 step
6) is back-pressure: the driver counts the timeout and waits.  Two ways
of pausing a chassis of two blades that flood each other:

- QMP `stop`: the VM stops.  In this build the switch still reads its
  lanes (its egress waits on the stopped virtual clock and drops), so
  the blades' rings keep moving; the blades must ride it out unchanged.
- SIGSTOP of the chassis process: the far end of every lane stops
  reading.  The lanes, then the TX rings fill, the TX queues stay stopped
  for several watchdog periods: each is counted (tx_timeouts), none
  resets the NIC.

After each, traffic flows both ways again, with no reset on either
blade."""

import os
import re
import signal
import time
import unittest

from bptest import TopologyTestCase
from bladeplane_cli import chassis
from bladeplane_cli.qmp import QMP

BLADES = 2
WATCHDOG_S = 5              # the driver's BN_TX_TIMEOUT
TIMEOUTS = 2                # watchdog periods each blade must sit through


class PausedChassisTest(TopologyTestCase):
    NAME = "fn-paused"
    TOPOLOGY = """\
[[chassis]]
name = "c1"
slots = 2
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        files = chassis.chassis_files(cls.topo_run.path, cls.topo.chassis[0])
        cls.qmp = files["qmp"]
        with open(files["pid"]) as f:
            cls.chassis_pid = int(f.read())
        cls.ips = [b.ip.split("/")[0] for b in cls.topo.chassis[0].blades]
        cls.cons = [cls.blade_console(b.name)
                    for b in cls.topo.chassis[0].blades]

    @classmethod
    def tearDownClass(cls):
        for con in getattr(cls, "cons", []):
            con.close()
        super().tearDownClass()

    def sh(self, i, command, timeout=60):
        status, out = self.cons[i].run(command, timeout=timeout)
        self.assertEqual(status, 0, f"blade {i}: '{command}' failed: {out}")
        return out

    def nic(self, i):
        return self.sh(i, "ls /sys/bus/pci/drivers/blade_nic/*/net").strip()

    def stats(self, i):
        out = self.sh(i, f"ethtool -S {self.nic(i)}")
        return {k: int(v) for k, v in
                re.findall(r"^\s*(\w+): (\d+)$", out, re.M)}

    @staticmethod
    def moved(before, now):
        """The counters that changed, for a failure message."""
        return ", ".join(f"{k} +{now[k] - before.get(k, 0)}" for k in now
                         if now[k] != before.get(k, 0))

    def chassis_qmp(self, command):
        with QMP.connect(self.qmp, "chassis c1") as q:
            q.execute(command)

    def ping(self, i, peer):
        self.sh(i, f"ping -c 3 -W 10 {self.ips[peer]}", timeout=120)

    def flood(self):
        """Each blade floods the other, open loop (8000-octet pings: six
        frames each, every 10 ms); returns the counters before."""
        for i in range(BLADES):
            self.ping(i, 1 - i)
        before = [self.stats(i) for i in range(BLADES)]
        for i in range(BLADES):
            self.sh(i, f"ping -q -i 0.01 -s 8000 {self.ips[1 - i]} "
                       f">/dev/null 2>&1 & echo $! > /tmp/flood.pid")
        return before

    def stop_flood(self):
        # busybox ping may have given up already (a send that failed
        # with the queue stopped ends it).
        for i in range(BLADES):
            self.sh(i, "kill $(cat /tmp/flood.pid) 2>/dev/null; true")

    def assert_not_reset_and_flowing(self, before):
        for i in range(BLADES):
            self.ping(i, 1 - i)
            after = self.stats(i)
            self.assertEqual(after["resets"], before[i]["resets"],
                             f"blade {i} was reset")
            dmesg = self.sh(i, "dmesg")
            self.assertNotRegex(dmesg, r"resetting|re-initialisation")
            self.assertEqual(self.sh(i, f"cat /sys/class/net/{self.nic(i)}"
                                        f"/carrier").strip(), "1")

    def test_1_qmp_stop(self):
        before = self.flood()
        self.chassis_qmp("stop")
        try:
            # The pause is the scenario: longer than the watchdog periods.
            time.sleep(TIMEOUTS * WATCHDOG_S + 2)
        finally:
            self.chassis_qmp("cont")
            self.stop_flood()
        self.assert_not_reset_and_flowing(before)

    def test_2_chassis_stops_reading(self):
        before = self.flood()
        os.kill(self.chassis_pid, signal.SIGSTOP)
        try:
            # The old driver reset the NIC at the first timeout; this one
            # must sit through several with the ring held, and not reset.
            deadline = time.monotonic() + 120 + TIMEOUTS * WATCHDOG_S
            for i in range(BLADES):
                while True:
                    now = self.stats(i)
                    seen = now["tx_timeouts"] - before[i]["tx_timeouts"]
                    if seen >= TIMEOUTS:
                        break
                    self.assertEqual(now["resets"], before[i]["resets"],
                                     f"blade {i} reset while the chassis "
                                     f"read nothing")
                    self.assertLess(time.monotonic(), deadline,
                                    f"blade {i}: {now['tx_timeouts']} TX "
                                    f"timeouts (from "
                                    f"{before[i]['tx_timeouts']}) with the "
                                    f"chassis stopped; "
                                    f"{self.moved(before[i], now)}")
                    time.sleep(1)
        finally:
            os.kill(self.chassis_pid, signal.SIGCONT)
            self.stop_flood()
        self.assert_not_reset_and_flowing(before)
        for i in range(BLADES):
            self.assertRegex(self.sh(i, "dmesg"),
                             r"TX stalled, ring not halted")


if __name__ == "__main__":
    unittest.main()
