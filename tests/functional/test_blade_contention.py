"""A booted blade hands its CPU contention to the chassis: blade-load-agent
sets the blade_nic driver's devlink parameters cpu_pressure and
runnable_tasks every report interval, they rise under a CPU hog, and the
driver sends them with its utilization reports (docs/blade-nic.md 16.6).
Also the reporter itself: it follows the device's interval (UTIL_CFG) and
stays quiet while the interface is down.

The device side (UTIL_CONT, datasheet revision 1.1) and the switch's state
tree are checked where this build has them, and skipped with the reason
where it does not."""

import re
import time

from bptest import OneBladeTestCase
from bladeplane_cli import chassis

INTERVAL_MS = 20            # the blade NIC's util-interval in this test
SHOW = re.compile(r"^pci/(\S+) cpu_pressure (\d+) runnable_tasks (\d+)$", re.M)


class BladeContentionTest(OneBladeTestCase):
    NAME = "fn-contention"
    TOPOLOGY = f"""\
[[chassis]]
name = "c1"
slots = 1
[[chassis.blade]]
slot = 0
util-interval = {INTERVAL_MS}
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qmp = chassis.chassis_files(cls.topo_run.path,
                                        cls.topo.chassis[0])["qmp"]

    def show(self):
        """The driver's parameters, read back through devlink by the
        agent (the image has no devlink tool): (pressure, runnable)."""
        out = self.sh("blade-load-agent -s")
        m = SHOW.search(out)
        self.assertIsNotNone(m, f"blade-load-agent -s said: {out}")
        return int(m.group(2)), int(m.group(3))

    def wait_show(self, check, what, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            figures = self.show()
            if check(*figures):
                return figures
            self.assertLess(time.monotonic(), deadline,
                            f"{what}: still {figures} after {timeout} s")
            time.sleep(0.5)

    def device_has_contention(self):
        """The NIC is of datasheet revision 1.1 or later (UTIL_CONT), as
        the driver's probe line says (the image has no devlink tool to
        read devlink info's asic.rev)."""
        probe = self.sh("dmesg | grep 'blade_nic.*: blade-nic '")
        m = re.search(r", datasheet (\d+)\.(\d+),", probe)
        self.assertIsNotNone(m, probe)
        return (int(m.group(1)), int(m.group(2))) >= (1, 1)

    def test_1_agent_runs_at_the_nics_interval(self):
        self.sh("pidof blade-load-agent")
        with open(self.proc["console_log"], errors="replace") as f:
            log = f.read()
        self.assertRegex(log, rf"blade-load-agent: 1 NIC from pci/\S+, "
                              rf"every {INTERVAL_MS} ms \(the NIC's interval\)")
        self.assertNotIn("blade-load-agent: setting", log)

    def test_2_parameters_read_back_in_range(self):
        if self.sh("command -v devlink || true").strip():
            out = self.sh(f"devlink dev param show pci/$(ls "
                          f"/sys/bus/pci/drivers/blade_nic | grep :) "
                          f"name cpu_pressure")
            self.assertIn("cpu_pressure", out)
        pressure, runnable = self.show()
        self.assertLessEqual(pressure, 1000)
        self.assertLessEqual(runnable, 1023)

    def test_3_reporter_follows_the_device_interval(self):
        # 2 s of guest time at a 20 ms interval: about 100 UTIL writes
        # (a jiffy is 4 ms); a reporter on a fixed 100 ms period makes 20.
        out = self.sh(f"n={self.nic()}; "
                      "a=$(ethtool -S $n | sed -n 's/^ *util_writes: //p'); "
                      "sleep 2; "
                      "b=$(ethtool -S $n | sed -n 's/^ *util_writes: //p'); "
                      "echo $((b - a))")
        self.assertGreaterEqual(int(out.split()[-1]), 50,
                                "UTIL writes in 2 s at a 20 ms interval")

    def test_4_reporter_quiet_while_down(self):
        # While the interface is down the reporter does not run: no UTIL
        # write in 1 s of guest time (50 intervals); up again, it does.
        nic = self.nic()
        try:
            out = self.sh(f"ip link set {nic} down; "
                          f"a=$(ethtool -S {nic} | sed -n 's/^ *util_writes: //p'); "
                          "sleep 1; "
                          f"b=$(ethtool -S {nic} | sed -n 's/^ *util_writes: //p'); "
                          "echo $((b - a))")
            self.assertEqual(int(out.split()[-1]), 0,
                             "UTIL writes while the interface was down")
        finally:
            self.sh(f"ip link set {nic} up")
        before = self.stat("util_writes")
        deadline = time.monotonic() + 30
        while self.stat("util_writes") <= before:
            self.assertLess(time.monotonic(), deadline,
                            "no UTIL write after the interface came up")
            time.sleep(0.2)

    def test_5_hog_raises_the_parameters(self):
        # One vCPU and two busy loops: one always waits for the CPU.
        self.wait_show(lambda p, r: p < 500, "an idle blade's pressure")
        self.sh("blade-hog start 2")
        try:
            pressure, _ = self.wait_show(
                lambda p, r: p >= 500 and r >= 1,
                "the figures under two busy loops on one vCPU")
            self.assertLessEqual(pressure, 1000)
        finally:
            self.sh("blade-hog stop")
        self.wait_show(lambda p, r: p < 500, "the pressure after the hog")

    def test_6_hog_pressure_reaches_the_far_end(self):
        if not self.device_has_contention():
            self.skipTest("the NIC predates datasheet revision 1.1 (no "
                          "UTIL_CONT): the driver has no register to hand "
                          "the figures to, so the lane cannot carry them")
        self.sh("blade-hog start 2")
        try:
            deadline = time.monotonic() + 60
            while not (self.stat("util_cont_tx_valid") == 1 and
                       self.stat("util_cont_tx_pressure") >= 500):
                self.assertLess(time.monotonic(), deadline,
                                "UTIL_CONT_TX never showed the pressure")
                time.sleep(0.5)
            self.assertGreater(self.stat("util_cont_writes"), 0)
            self.assert_switch_sees_pressure()
        finally:
            self.sh("blade-hog stop")

    def assert_switch_sees_pressure(self):
        """The far end of the lane: the switch's state tree shows the
        blade's pressure, once the switch reports contention figures."""
        deadline = time.monotonic() + 60
        while True:
            blade = chassis.read_switch(self.qmp, "chassis c1")["blades"][0]
            keys = [k for k in blade if "pressure" in k or "psi" in k]
            if not keys:
                self.skipTest("the switch's state tree has no contention "
                              f"figures (blade entry: {sorted(blade)})")
            value = blade[keys[0]]
            if isinstance(value, (int, float)) and value >= 500:
                return
            self.assertLess(time.monotonic(), deadline,
                            f"the switch's {keys[0]} stayed at {value}")
            time.sleep(0.5)

    def test_7_stale_figures_stop_being_sent(self):
        if not self.device_has_contention():
            self.skipTest("the NIC predates datasheet revision 1.1 (no "
                          "UTIL_CONT_TX to watch)")
        self.wait_until_valid(1, "while the agent runs")
        # A stopped agent refreshes nothing: within 3 intervals the driver
        # sends UTIL alone, and the device's sample carries no figures.
        self.sh("kill -STOP $(pidof blade-load-agent)")
        try:
            self.wait_until_valid(0, "with the agent stopped")
        finally:
            self.sh("kill -CONT $(pidof blade-load-agent)")
        self.wait_until_valid(1, "with the agent running again")

    def wait_until_valid(self, value, what):
        deadline = time.monotonic() + 60
        while self.stat("util_cont_tx_valid") != value:
            self.assertLess(time.monotonic(), deadline,
                            f"util_cont_tx_valid never became {value} {what}")
            time.sleep(0.2)

    def test_8_agent_stops_on_sigterm(self):
        self.sh("kill -TERM $(pidof blade-load-agent)")
        self.sh("i=0; while pidof blade-load-agent >/dev/null && "
                "[ $i -lt 100 ]; do usleep 100000; i=$((i+1)); done; "
                "! pidof blade-load-agent")
