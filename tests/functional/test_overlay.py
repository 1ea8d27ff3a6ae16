"""The QEMU overlay: QEMU's tree sees this checkout's files, never copies,
and an edit to one device file recompiles exactly that file."""

import os
import re
import subprocess
import unittest

from bptest import REPO, qemu


class OverlayTest(unittest.TestCase):

    def test_overlay_is_this_checkout(self):
        for rel_qemu, rel_repo in [
                ("hw/blade/blade-nic.c", "hw/blade/blade-nic.c"),
                ("hw/blade/net/fcs.c", "net/fcs.c"),
                ("tests/qtest/blade/blade-nic-test.c",
                 "tests/qtest/blade-nic-test.c")]:
            path = os.path.join(qemu.QEMU_SRC, rel_qemu)
            self.assertTrue(os.path.samefile(path, os.path.join(REPO, rel_repo)),
                            f"{path} is not this checkout's {rel_repo}")

    def test_devices_listed(self):
        binary = qemu.build()
        devices = subprocess.run([binary, "-device", "help"], capture_output=True,
                                 text=True, check=True).stdout
        self.assertRegex(devices, r'name "blade-nic", bus PCI, desc "bladeplane')
        machines = subprocess.run([binary, "-M", "help"], capture_output=True,
                                  text=True, check=True).stdout
        self.assertRegex(machines, r"(?m)^blade-chassis +bladeplane blade-server chassis")
        # The chassis runs no guest code: -kernel is refused, clearly.
        proc = subprocess.run([binary, "-M", "blade-chassis", "-display", "none",
                               "-kernel", "/dev/null"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("a chassis runs no guest code", proc.stderr)

    def test_edit_recompiles_only_that_file(self):
        qemu.build()
        os.utime(os.path.join(REPO, "hw", "blade", "blade-nic.c"))
        proc = subprocess.run(["ninja", "-C", qemu.QEMU_BUILD,
                               "qemu-system-x86_64"],
                              env=qemu.ccache_env(), capture_output=True,
                              text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:])
        compiled = re.findall(r"Compiling C object (\S+)", proc.stdout)
        self.assertEqual(len(compiled), 1, compiled)
        self.assertRegex(compiled[0], r"hw_blade_blade-nic\.c\.o$")

    def test_compiles_through_ccache(self):
        # Fresh clones rebuild QEMU from the shared cache only if the
        # compiler command really goes through ccache.
        with open(os.path.join(qemu.QEMU_BUILD, "build.ninja")) as f:
            self.assertRegex(f.read(), r"(?m)^ command = ccache cc ")

    def test_pristine_tree_untouched(self):
        # The files the overlay patch edits are private copies, so the
        # source tree shared by all checkouts keeps QEMU's own version.
        pristine = qemu._read_json(os.path.join(
            qemu.QEMU_SRC, ".bladeplane-tree"))["pristine"]
        with open(os.path.join(pristine, "hw", "Kconfig")) as f:
            self.assertNotIn("blade", f.read())
        with open(os.path.join(qemu.QEMU_SRC, "hw", "Kconfig")) as f:
            self.assertIn("source blade/Kconfig", f.read())


if __name__ == "__main__":
    unittest.main()
