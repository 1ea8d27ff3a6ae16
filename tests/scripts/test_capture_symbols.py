"""`bladeplane capture PORT --symbols` against tests/scripts/fake_qemu.py:
the options reach QMP blade-switch-capture as its symbols members, the
file is named beside the pcap file and summarised (its lines, and what a
limit kept out), and the flags that make no sense are one-line errors.
The device's side is tests/qtest's /blade-switch/capture-symbols."""

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import chassis, rundir
from test_launch import CLI, FAKE_QEMU, MANIFEST, free_port, load


class CaptureSymbolsTest(unittest.TestCase):

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        self.env = {"BLADEPLANE_RUN_DIR": os.path.join(self.tmp.name, "run")}
        patcher = mock.patch.dict(os.environ, self.env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self.stop_all)
        topo = load(port=free_port(), udp_port=free_port(socket.SOCK_DGRAM))
        with contextlib.redirect_stdout(io.StringIO()):
            launcher = chassis.Launcher(topo, "tcg", FAKE_QEMU, MANIFEST,
                                        ready_timeout=30,
                                        rotation_timeout=10)
            launcher.up()

    def stop_all(self) -> None:
        for run in rundir.runs():
            rundir.stop(run.processes(), quit_timeout=2, term_timeout=2)

    def cli(self, *args: str) -> tuple[int, str, str]:
        proc = subprocess.run([sys.executable, CLI] + list(args),
                              capture_output=True, timeout=60,
                              env=dict(os.environ, **self.env))
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def test_symbols_beside_the_pcap(self) -> None:
        pcap = os.path.join(self.tmp.name, "web1.pcap")
        sym = pcap[:-5] + ".sym"
        rc, text, err = self.cli("capture", "web1", "-w", pcap,
                                 "--duration", "0.1", "--symbols")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn(f", its code groups to {sym}, for 0.1 s", text)
        self.assertIn(f"symbols: {sym} (2 lines; docs/link-layer.md, "
                      f"\"Symbol capture\", reads them)", text)
        with open(sym) as f:
            head = f.read()
        self.assertTrue(head.startswith("# bladeplane symbol capture 1: "
                                        "slot1, both directions\n"))
        self.assertIn("# fake: full=None bits=None limit=67108864\n", head)
        # the pcap file and the utilization log as without --symbols
        self.assertEqual(chassis.pcap_frames(pcap), 1)
        self.assertTrue(os.path.exists(pcap[:-5] + ".util.log"))

    def test_options_and_limit(self) -> None:
        pcap = os.path.join(self.tmp.name, "s0.pcap")
        rc, text, err = self.cli("capture", "slot0", "-w", pcap,
                                 "--duration", "0.1", "--symbols", "--full",
                                 "--bits", "--symbols-limit", "0.005")
        self.assertEqual((rc, err), (0, ""))
        with open(pcap[:-5] + ".sym") as f:
            self.assertIn("# fake: full=True bits=True limit=5242\n",
                          f.read())
        self.assertRegex(text, r"symbols: .*s0\.sym \(0 lines; its limit of "
                         r"5242 octets kept out 3 bursts, gaps and events; ")

    def test_refusals(self) -> None:
        pcap = os.path.join(self.tmp.name, "x.pcap")
        rc, text, err = self.cli("capture", "uplink", "-w", pcap,
                                 "--symbols")
        self.assertEqual((rc, err), (1, "bladeplane: error: the uplink has "
                                        "no code groups: --symbols takes a "
                                        "slot (or a chain lane)\n"))
        for flag in (["--full"], ["--bits"], ["--symbols-limit", "1"]):
            rc, text, err = self.cli("capture", "slot0", "-w", pcap, *flag)
            self.assertEqual((rc, err), (1, "bladeplane: error: --full, "
                                            "--bits and --symbols-limit go "
                                            "with --symbols\n"))
        rc, text, err = self.cli("capture", "slot0", "--symbols",
                                 "--symbols-limit", "0")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^bladeplane: error: bladeplane capture: "
                         r"argument --symbols-limit: must be > 0, got 0 ")
        self.assertFalse(os.path.exists(pcap))
        self.assertFalse(any(re.search(r"\.sym$", n)
                             for n in os.listdir(self.tmp.name)))


if __name__ == "__main__":
    unittest.main()
