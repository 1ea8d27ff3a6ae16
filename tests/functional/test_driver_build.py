"""The guest driver builds warning-free (W=1, warnings are errors) against
the blade image's kernel and against the newest kernel in
bookworm-backports, and has no module parameters (netdev: ethtool and
devlink cover what they did)."""

import subprocess
import unittest

import bptest  # noqa: F401  (puts the CLI on the import path)
from bladeplane_cli import driver, image


@unittest.skipUnless(driver.present(), "guest-driver/ has no driver yet")
class DriverBuildTest(unittest.TestCase):

    def modinfo(self, ko, field):
        return subprocess.run(["/sbin/modinfo", "-F", field, ko],
                              capture_output=True, text=True,
                              check=True).stdout

    def test_image_kernel(self):
        abi = image.build()["abi"]
        ko = driver.build(abi)
        self.assertTrue(self.modinfo(ko, "vermagic").startswith(abi + " "))
        self.assertIn("1af4", self.modinfo(ko, "alias").lower())
        self.assertEqual(self.modinfo(ko, "parm"), "")

    def test_newer_backports_kernel(self):
        abi = driver.backports_abi()
        self.assertFalse(abi.startswith("6.1."), abi)
        ko = driver.build(abi)
        self.assertTrue(self.modinfo(ko, "vermagic").startswith(abi + " "))


if __name__ == "__main__":
    unittest.main()
