"""tests/tools/lane-patch wires two blade NICs back to back: both links
come up through it, and a blade that goes away and comes back is seen."""

import os
import subprocess
import tempfile
import unittest

from bptest import PatchLog, qemu
from bladeplane_cli import testing


def nic_vm(lane):
    """A q35 machine with a blade-nic on lane, CPU stopped: the NIC's link
    works without any guest code."""
    return subprocess.Popen(
        [qemu.QEMU_BIN, "-M", "q35", "-S", "-nodefaults", "-display", "none",
         "-device", f"blade-nic,lane={lane}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class LanePatchTest(unittest.TestCase):

    def setUp(self):
        qemu.build()
        testing.setup_host_build(testing.HOST_BUILD)
        self.tmp = tempfile.TemporaryDirectory()
        self.a = os.path.join(self.tmp.name, "a.sock")
        self.b = os.path.join(self.tmp.name, "b.sock")
        self.patch = PatchLog(self.a, self.b)
        self.addCleanup(self.tmp.cleanup)
        self.addCleanup(self.patch.close)
        self.patch.wait_for(f"listening {self.a} {self.b}")

    def start_vm(self, lane):
        vm = nic_vm(lane)
        self.addCleanup(lambda: (vm.kill(), vm.wait()))
        return vm

    def test_links_come_up_and_recover(self):
        self.start_vm(self.a)
        vm_b = self.start_vm(self.b)
        self.patch.wait_for("event a link-up")
        self.patch.wait_for("event b link-up")

        vm_b.kill()
        vm_b.wait()
        self.patch.wait_for("event b disconnected")

        self.patch.lines.clear()
        self.start_vm(self.b)
        self.patch.wait_for("event b link-up")

    def test_contention_figures_pass(self):
        """A NIC measuring its host-side contention (util-source=host) sends
        the contention form; the patch takes the figures and passes them
        on (the unit tests check the form itself)."""
        vm = subprocess.Popen(
            [qemu.QEMU_BIN, "-M", "q35", "-nodefaults", "-display", "none",
             "-device", f"blade-nic,lane={self.a},util-source=host,"
             "util-interval=20"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (vm.kill(), vm.wait()))
        self.start_vm(self.b)
        self.patch.wait_for("event a link-up")
        line = self.patch.wait_for_match(
            r"^util a cpu=\d+ irq=0 seq=\d+ pressure=(\d+) runnable=(\d+)$")
        self.assertTrue(line)

    def test_bad_arguments(self):
        tool = os.path.join(testing.HOST_BUILD, "tests", "tools", "lane-patch")
        for args in (["--pcs", "10b12b", "x", "y"], ["--speed", "fast", "x", "y"],
                     ["only-one"]):
            proc = subprocess.run([tool] + args, capture_output=True, text=True)
            self.assertEqual(proc.returncode, 2, args)
            self.assertTrue(proc.stderr.strip(), args)

    def test_unusable_socket_path(self):
        tool = os.path.join(testing.HOST_BUILD, "tests", "tools", "lane-patch")
        proc = subprocess.run([tool, "/nonexistent/dir/a.sock", self.a + "x"],
                              capture_output=True, text=True, timeout=10)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("cannot listen on /nonexistent/dir/a.sock", proc.stderr)


if __name__ == "__main__":
    unittest.main()
