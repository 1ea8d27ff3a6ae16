"""The blade image: what it holds, and that it is rebuilt only when its
inputs change."""

import gzip
import os
import subprocess
import unittest

import bptest  # noqa: F401  (puts the CLI on the import path)
from bladeplane_cli import image


class ImageTest(unittest.TestCase):

    def test_contents(self):
        image.build()
        with gzip.open(image.INITRAMFS) as f:
            data = f.read()
        listing = subprocess.run(["cpio", "-itv", "--quiet"], input=data,
                                 capture_output=True, check=True).stdout.decode()
        entries = {}
        for line in listing.splitlines():
            name = line.split(" -> ")[0].split()[-1]
            entries[name] = line
        for name in ["init", "bin/busybox", "bin/sh", "dev/console",
                     "usr/bin/blade-hog", "srv/www/cgi-bin/work",
                     "usr/bin/lspci", "usr/share/misc/pci.ids",
                     "sbin/ethtool", "lib64/ld-linux-x86-64.so.2"]:
            self.assertIn(name, entries, f"{name} is not in the initramfs")
        self.assertTrue(entries["init"].startswith("-rwxr-xr-x"))
        self.assertTrue(entries["srv/www/cgi-bin/work"].startswith("-rwxr-xr-x"))
        self.assertTrue(entries["srv/www/index.html"].startswith("-rw-r--r--"))
        self.assertTrue(entries["dev/console"].startswith("c"))

    def test_not_rebuilt_without_changes(self):
        first = image.build()
        stamps = [os.stat(p).st_mtime_ns for p in (image.KERNEL, image.INITRAMFS)]
        second = image.build()
        self.assertEqual(first, second)
        self.assertEqual(stamps, [os.stat(p).st_mtime_ns
                                  for p in (image.KERNEL, image.INITRAMFS)])

    def test_inputs_include_init(self):
        # Editing images/rootfs/init must change the digest that decides a
        # rebuild.
        parts = {"kernel_package": "k", "kernel_version": "1"}
        before = image.inputs_digest(parts)
        with mock_file_append(os.path.join(image.ROOTFS, "init"), b"\n# edited\n"):
            self.assertNotEqual(image.inputs_digest(parts), before)
        self.assertEqual(image.inputs_digest(parts), before)


class mock_file_append:
    """Append to a file for the duration of a with block."""

    def __init__(self, path, extra):
        self.path, self.extra = path, extra

    def __enter__(self):
        with open(self.path, "rb") as f:
            self.saved = f.read()
        with open(self.path, "ab") as f:
            f.write(self.extra)

    def __exit__(self, *exc):
        with open(self.path, "wb") as f:
            f.write(self.saved)


if __name__ == "__main__":
    unittest.main()
