"""A blade boots Linux from the blade image and sees its blade-nic."""

import unittest

from bptest import accel, blade


class BladeBootTest(unittest.TestCase):
    """One boot, several checks from inside the guest."""

    @classmethod
    def setUpClass(cls):
        cls.blade = blade.Blade(
            "fn0", accel=accel(),
            append="blade.role=web blade.Bad-Key=1 blade.evil=$(reboot)")
        cls.blade.start()
        try:
            cls.ready = cls.blade.wait_ready(timeout=180)
        except Exception:
            cls.blade.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.blade.close()

    def sh(self, command):
        status, out = self.blade.run(command)
        self.assertEqual(status, 0, f"'{command}' failed in the guest: {out}")
        return out

    def test_ready_line(self):
        self.assertEqual(self.ready["name"], "fn0")
        self.assertRegex(self.ready["kernel"], r"^\d+\.\d+\.\d+-\d+-cloud-amd64$")
        self.assertGreater(self.ready["uptime_s"], 0)

    def test_hostname_from_blade_name(self):
        self.assertEqual(self.sh("hostname").strip(), "fn0")

    def test_kernel_filesystems_mounted(self):
        mounts = self.sh("cat /proc/mounts")
        for fstype, point in [("proc", "/proc"), ("sysfs", "/sys"),
                              ("devtmpfs", "/dev")]:
            self.assertRegex(mounts, rf"(?m)^\S+ {point} {fstype} ")

    def test_blade_parameters(self):
        self.assertEqual(self.sh("cat /run/blade/role").strip(), "web")
        self.assertEqual(self.sh("cat /run/blade/name").strip(), "fn0")

    def test_bad_parameters_ignored(self):
        # A bad key and a value with shell metacharacters are not recorded.
        listing = self.sh("ls /run/blade").split()
        self.assertNotIn("Bad-Key", listing)
        self.assertNotIn("evil", listing)

    def test_nic_on_pci_bus(self):
        out = self.sh("lspci -n")
        self.assertRegex(out, r"(?m)^\S+ 0200: 1af4:10f0 \(rev 01\)")
        dev = self.sh("grep -l 0x10f0 /sys/bus/pci/devices/*/device").strip()
        self.assertTrue(dev, "no PCI function with device id 0x10f0")
        sysdir = dev.rsplit("/", 1)[0]
        self.assertEqual(self.sh(f"cat {sysdir}/vendor").strip(), "0x1af4")
        self.assertEqual(self.sh(f"cat {sysdir}/class").strip(), "0x020000")
        # BAR0 is a 4 KiB memory BAR.
        start, end, _flags = self.sh(f"head -1 {sysdir}/resource").split()
        self.assertEqual(int(end, 16) - int(start, 16) + 1, 4096)

    def test_shell_status(self):
        status, _ = self.blade.run("false")
        self.assertEqual(status, 1)


class BladePowerOffTest(unittest.TestCase):

    def test_poweroff_exits_qemu_cleanly(self):
        b = blade.Blade("fn1", accel=accel(), nic_args=None)
        with b:
            b.wait_ready(timeout=180)
            self.assertEqual(b.poweroff(), 0)


if __name__ == "__main__":
    unittest.main()
