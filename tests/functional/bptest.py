"""Shared set-up for the functional tests: import the CLI's modules and
read the accelerator that 'scripts/bladeplane test' chose."""

import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import unittest  # noqa: E402

from bladeplane_cli import blade, qemu, testing  # noqa: E402,F401
from bladeplane_cli.lanepatch import PatchLog  # noqa: E402,F401


DUMP_ROW = re.compile(r"^0x([0-9a-f]{4}):\s+((?:[0-9a-f]{2} ?)+)$", re.M)


def register_dump(out):
    """blade_nic's `ethtool -d` hex rows as one bytes object from offset 0
    (None if a row is missing or out of order)."""
    data = bytearray()
    for off, row in DUMP_ROW.findall(out):
        if int(off, 16) != len(data):
            return None
        data += bytes.fromhex(row.replace(" ", ""))
    return bytes(data) or None


def register(data, off):
    """The 32-bit little-endian register at off in a register_dump()."""
    return int.from_bytes(data[off:off + 4], "little")


def accel():
    """The accelerator chosen by the runner, or the auto choice when a test
    module is run on its own (python3 -m unittest)."""
    chosen = os.environ.get("BLADEPLANE_ACCEL")
    if not chosen:
        chosen, _ = blade.choose_accel("auto")
        os.environ["BLADEPLANE_ACCEL"] = chosen
    return chosen


def has_switch():
    """This QEMU has the blade-switch device."""
    if not os.path.exists(qemu.QEMU_BIN):
        return False
    out = subprocess.run([qemu.QEMU_BIN, "-device", "help"],
                         capture_output=True, text=True).stdout
    return '"blade-switch"' in out


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@unittest.skipUnless(has_switch(), "this QEMU has no blade-switch device")
class TopologyTestCase(unittest.TestCase):
    """A topology brought up with the CLI's launcher once for the class
    and stopped after it.  TOPOLOGY is the file's text, with {port} for a
    free host port (cls.port) to forward; NAME names the file (and so the
    topology).  The run directory is private to the class."""

    TOPOLOGY = None
    NAME = None

    @classmethod
    def setUpClass(cls):
        from bladeplane_cli import chassis, image, topology
        cls.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        cls.saved_env = os.environ.get("BLADEPLANE_RUN_DIR")
        os.environ["BLADEPLANE_RUN_DIR"] = os.path.join(cls.tmp.name, "run")
        cls.port = free_port()
        path = os.path.join(cls.tmp.name, cls.NAME + ".toml")
        with open(path, "w") as f:
            f.write(cls.TOPOLOGY.format(port=cls.port))
        cls.topo = topology.load(path)
        launcher = chassis.Launcher(cls.topo, accel(), qemu.QEMU_BIN,
                                    image.build(), ready_timeout=300)
        try:
            cls.topo_run, cls.not_in = launcher.up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        from bladeplane_cli import rundir
        for run in rundir.runs():
            rundir.stop(run.processes())
        if cls.saved_env is None:
            os.environ.pop("BLADEPLANE_RUN_DIR", None)
        else:
            os.environ["BLADEPLANE_RUN_DIR"] = cls.saved_env
        cls.tmp.cleanup()


    @classmethod
    def blade_console(cls, name):
        """A session on blade name's serial console, for commands whose
        output a test parses.  The kernel's own messages (a TX watchdog's
        warning, for one) are kept off the console with `dmesg -n 1`: on
        the serial line they land in the middle of a command's output.
        dmesg still has them."""
        from bladeplane_cli.console import ConsoleSession
        proc = next(p for p in cls.topo_run.processes() if p["name"] == name)
        con = ConsoleSession(proc["console"], f"blade {name}")
        status, out = con.run("dmesg -n 1")
        if status != 0:
            con.close()
            raise AssertionError(f"blade {name}: 'dmesg -n 1' failed: {out}")
        return con


class OneBladeTestCase(TopologyTestCase):
    """A TopologyTestCase that talks to its blade b0 on the serial console
    (cls.con, the process cls.proc): commands, the NIC's name and the
    driver's `ethtool -S` counters."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.proc = next(p for p in cls.topo_run.processes()
                        if p["name"] == "b0")
        cls.con = cls.blade_console("b0")

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "con", None):
            cls.con.close()
        super().tearDownClass()

    def sh(self, command, timeout=60):
        status, out = self.con.run(command, timeout=timeout)
        self.assertEqual(status, 0, f"'{command}' failed: {out}")
        return out

    def nic(self):
        return self.sh("ls /sys/bus/pci/drivers/blade_nic/*/net").split()[-1]

    def stat(self, name):
        out = self.sh(f"ethtool -S {self.nic()}")
        m = re.search(rf"^\s*{name}: (\d+)$", out, re.M)
        self.assertIsNotNone(m, f"no {name} in ethtool -S: {out}")
        return int(m.group(1))
