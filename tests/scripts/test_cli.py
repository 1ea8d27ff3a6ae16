"""The CLI's own logic: apt configuration, version choice, TAP counting,
the initramfs writer, and the one-line errors users see."""

import io
import os
import subprocess
import tempfile
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import image, packages, qemu, testing
from bladeplane_cli.common import Failure


class AptConfigTest(unittest.TestCase):

    def write(self, text):
        fd, path = tempfile.mkstemp()
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_uri_from_deb822(self):
        deb822 = self.write(
            "Types: deb\nURIs: http://mirror.example/debian\n"
            "Suites: bookworm bookworm-updates\nComponents: main\n\n"
            "Types: deb\nURIs: http://mirror.example/debian-security\n"
            "Suites: bookworm-security\nComponents: main\n")
        self.assertEqual(packages.archive_uri(deb822, "/nonexistent"),
                         "http://mirror.example/debian")

    def test_uri_from_sources_list(self):
        one_line = self.write(
            "# comment\n"
            "deb [arch=amd64] http://other.example/debian bookworm main\n"
            "deb http://security.example/debian-security bookworm-security main\n")
        self.assertEqual(packages.archive_uri("/nonexistent", one_line),
                         "http://other.example/debian")

    def test_no_uri_is_one_clear_error(self):
        empty = self.write("")
        with self.assertRaisesRegex(Failure, "cannot find the Debian archive"):
            packages.archive_uri(empty, empty)

    def test_sources_name_no_host_of_their_own(self):
        text = packages.wanted_sources("http://mirror.example/debian")
        self.assertIn("Suites: bookworm-backports", text)
        self.assertIn("Types: deb-src\nURIs: http://mirror.example/debian\n"
                      "Suites: trixie", text)
        # trixie must never be a binary suite: it would upgrade the system.
        self.assertNotRegex(text, r"Types: deb\n[^\n]*\nSuites: trixie")

    def test_unsupported_distribution(self):
        with self.assertRaisesRegex(Failure, "unsupported distribution "
                                    "Fedora Linux 40.*BLADEPLANE_QEMU_SRC"):
            packages.check_distribution({"ID": "fedora", "VERSION_ID": "40",
                                         "PRETTY_NAME": "Fedora Linux 40"})
        packages.check_distribution({"ID": "debian", "VERSION_ID": "12"})

    def test_missing_packages_with_one_unknown(self):
        # dpkg-query fails as a whole when one name is unknown; the others
        # must still be judged on their own.
        self.assertEqual(packages.missing_packages(
            ["dpkg", "bladeplane-no-such-package"]),
            ["bladeplane-no-such-package"])

    def test_neither_root_nor_sudo(self):
        with mock.patch("os.geteuid", return_value=1000), \
             mock.patch("shutil.which", return_value=None):
            with self.assertRaisesRegex(Failure, "needs root.*sudo"):
                packages.root_prefix()


class QemuVersionTest(unittest.TestCase):

    def test_newest_10_0_first(self):
        showsrc = ("Package: qemu\nVersion: 1:10.0.2+ds-2+deb13u1~bpo12+1\n\n"
                   "Package: qemu\nVersion: 1:7.2+dfsg-7+deb12u7\n\n"
                   "Package: qemu\nVersion: 1:10.0.13+ds-0+deb13u1\n\n"
                   "Package: qemu\nVersion: 1:10.1.0+ds-1\n")
        self.assertEqual(qemu.source_versions(showsrc),
                         ["1:10.0.13+ds-0+deb13u1",
                          "1:10.0.2+ds-2+deb13u1~bpo12+1"])

    def test_none_found(self):
        self.assertEqual(qemu.source_versions("Package: qemu\n"
                                              "Version: 1:7.2+dfsg-7\n"), [])


class TapTest(unittest.TestCase):

    def test_counts(self):
        results, planned = testing.parse_tap(
            "1..4\nok 1 /a\nnot ok 2 /b\nok 3 /c # SKIP no kvm\n"
            "# comment\nok 4 - /d\n")
        self.assertEqual(planned, 4)
        self.assertEqual(results, [(True, False, "/a"), (False, False, "/b"),
                                   (True, True, "/c"), (True, False, "/d")])

    def test_program_dying_early_fails(self):
        test = {"name": "dies", "cmd": ["sh", "-c", "echo 1..3; echo ok 1; "
                                        "kill -SEGV $$"],
                "protocol": "tap", "timeout": 10}
        tally = testing.run_test_program("unit-selftest", test, "/tmp",
                                         report=False)
        self.assertEqual((tally.passed, tally.failed), (1, 1))

    def test_valgrind_wraps_qemu(self):
        test = {"name": "qtest-x86_64/t", "cmd": ["t", "--tap", "-k"],
                "env": {"QTEST_QEMU_BINARY": "./qemu-system-x86_64"},
                "protocol": "tap", "timeout": 120}
        vt = testing.valgrind_test(test, ["/x86_64/a", "/x86_64/b"])
        self.assertEqual(vt["cmd"], ["t", "--tap", "-k", "-p", "/x86_64/a",
                                     "-p", "/x86_64/b"])
        self.assertEqual(vt["env"]["QTEST_QEMU_BINARY"],
                         "valgrind -q --error-exitcode=99 "
                         "./qemu-system-x86_64")
        self.assertEqual(vt["name"], "qtest-x86_64/t under valgrind")
        self.assertEqual(test["cmd"], ["t", "--tap", "-k"])
        self.assertEqual(test["env"]["QTEST_QEMU_BINARY"],
                         "./qemu-system-x86_64")

    def test_failing_case_counted_once(self):
        test = {"name": "onefail", "cmd": ["sh", "-c", "echo 1..2; echo ok 1;"
                                           " echo not ok 2; exit 1"],
                "protocol": "tap", "timeout": 10}
        tally = testing.run_test_program("unit-selftest", test, "/tmp",
                                         report=False)
        self.assertEqual((tally.passed, tally.failed), (1, 1))


class TierModulesTest(unittest.TestCase):
    def test_module_names_differ_between_tiers(self):
        """`bladeplane test` discovers the unit tier's and the functional
        tier's modules in one process: a name in both makes the second
        discovery fail with an import error."""
        def names(tier: str) -> set[str]:
            return {f for f in os.listdir(os.path.join(cli_path.REPO,
                                                       "tests", tier))
                    if f.startswith("test_") and f.endswith(".py")}
        self.assertEqual(names("scripts") & names("functional"), set())


class CpioTest(unittest.TestCase):

    def archive(self):
        buf = io.BytesIO()
        cpio = image.Cpio(buf)
        cpio.file("bin/tool", b"#!/bin/sh\necho hi\n", 0o755)
        cpio.symlink("usr/bin/tool", "../../bin/tool")
        cpio.chardev("dev/console", 5, 1)
        cpio.file("etc/odd", b"abc")   # a length that needs padding
        cpio.close()
        return buf.getvalue()

    def test_gnu_cpio_reads_it(self):
        listing = subprocess.run(["cpio", "-itv", "--quiet"], input=self.archive(),
                                 capture_output=True, check=True).stdout.decode()
        lines = {l.split()[-1] if "->" not in l else l.split()[-3]: l
                 for l in listing.splitlines()}
        self.assertTrue(lines["bin/tool"].startswith("-rwxr-xr-x"))
        self.assertTrue(lines["usr/bin/tool"].startswith("lrwxrwxrwx"))
        self.assertIn("-> ../../bin/tool", lines["usr/bin/tool"])
        self.assertTrue(lines["dev/console"].startswith("crw-------"))
        self.assertIn("5,", lines["dev/console"])
        self.assertTrue(lines["usr"].startswith("drwxr-xr-x"))
        # Owned by root, whoever builds it.
        self.assertRegex(lines["etc/odd"], r"^-rw-r--r-- +1 root +root +3 ")

    def test_reproducible(self):
        self.assertEqual(self.archive(), self.archive())


if __name__ == "__main__":
    unittest.main()
