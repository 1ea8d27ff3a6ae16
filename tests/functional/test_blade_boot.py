"""A blade boots Linux from the blade image and sees its blade-nic."""

import unittest

from bptest import accel, blade
from bladeplane_cli import image


class BladeBootTest(unittest.TestCase):
    """One boot, several checks from inside the guest."""

    @classmethod
    def setUpClass(cls):
        cls.blade = blade.Blade(
            "fn0", accel=accel(),
            append="blade.role=web blade.Bad-Key=1 blade.evil=$(reboot) "
                   "blade.vip=10.9.9.9,10.9.9.10 blade.ip=10.0.0.5/24 "
                   "blade.link_wait=0")
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

    def test_ready_line_network(self):
        # No lane: the NIC (when the driver is in the image) has no link.
        if image.build().get("driver_sha256"):
            self.assertRegex(self.ready["nic"], r"^eth\d+$")
            self.assertEqual(self.ready["link"], "down")
        else:
            self.assertIsNone(self.ready["nic"])
            self.assertIsNone(self.ready["link"])
        self.assertEqual(self.ready["ip"], "10.0.0.5/24")

    def test_vips_on_loopback_without_arp(self):
        addrs = self.sh("ip -4 addr show dev lo")
        self.assertIn("inet 10.9.9.9/32", addrs)
        self.assertIn("inet 10.9.9.10/32", addrs)
        self.assertEqual(self.sh("sysctl -n net.ipv4.conf.all.arp_ignore").strip(), "1")
        self.assertEqual(self.sh("sysctl -n net.ipv4.conf.all.arp_announce").strip(), "2")

    def test_work_endpoint(self):
        out = self.sh("wget -qO- 'http://127.0.0.1/cgi-bin/work?kb=16'")
        self.assertRegex(out, r"^blade=fn0 kb=16 seconds=\d+\.\d\d$")
        for bad in ["kb=-1", "kb=99999999", "kb=1;reboot", "x=1"]:
            status, out = self.blade.run(
                f"wget -qO- 'http://127.0.0.1/cgi-bin/work?{bad}' 2>&1")
            self.assertNotEqual(status, 0, bad)
            self.assertIn("400 Bad Request", out, bad)

    def test_cpu_hog_over_http(self):
        # The CGI reads blade-hog's output to its end: it must answer
        # while the loops run on (they once kept its pipe open).
        hog = "http://127.0.0.1/cgi-bin/hog"
        try:
            status, out = self.blade.run(
                f"timeout 20 wget -qO- '{hog}?start&n=-10'", timeout=60)
            self.assertEqual(status, 0, out)
            self.assertEqual(out.strip(), "blade=fn0 blade-hog: started 1 "
                             "loops (running 1 nice -10)")
            out = self.sh(f"wget -qO- '{hog}?status'")
            self.assertEqual(out.strip(), "blade=fn0 running 1 nice -10")
        finally:
            self.sh("blade-hog stop")
        for bad in ("start&n=-100", "start&n=-21", "start&n=x",
                    "start&n=1;reboot", "go"):
            status, out = self.blade.run(f"wget -qO- '{hog}?{bad}' 2>&1")
            self.assertNotEqual(status, 0, bad)
            self.assertIn("400 Bad Request", out, bad)
        self.assertEqual(self.sh("blade-hog status").strip(), "stopped")

    def test_cpu_hog(self):
        self.assertEqual(self.sh("blade-hog status").strip(), "stopped")
        self.sh("blade-hog start 1")
        try:
            pid = self.sh("cat /run/blade-hog.pids").strip()
            self.assertEqual(self.sh("blade-hog status").strip(), "running 1")
            # The hog burns CPU: its user time grows while we wait for it.
            status, _ = self.blade.run(
                f"t0=$(cut -d' ' -f14 /proc/{pid}/stat); i=0; "
                f"while [ $(cut -d' ' -f14 /proc/{pid}/stat) -le $((t0 + 20)) ] "
                f"&& [ $i -lt 600 ]; do usleep 50000; i=$((i + 1)); done; "
                f"[ $i -lt 600 ]", timeout=60)
            self.assertEqual(status, 0, "the hog did not use CPU time")
            out = self.sh("wget -qO- 'http://127.0.0.1/cgi-bin/hog?status'")
            self.assertEqual(out.strip(), "blade=fn0 running 1")
        finally:
            self.sh("blade-hog stop")
        self.assertEqual(self.sh("blade-hog status").strip(), "stopped")
        status, _ = self.blade.run(f"[ -d /proc/{pid} ]")
        self.assertNotEqual(status, 0, "the hog is still running")
        status, out = self.blade.run("blade-hog start 0 2>&1")
        self.assertEqual(status, 2)

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
