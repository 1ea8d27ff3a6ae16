"""Several chassis: the command lines of linked chassis (chain netdevs,
the switch as JSON, the shared key), and up/status/top/capture/restart/
down end to end against tests/scripts/fake_qemu.py, whose chassis
advertise their blades to each other over the links (the real switch's
fabric is tested by the qtest and functional tiers)."""

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import chassis, rundir, topology
from bladeplane_cli.common import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_QEMU = os.path.join(HERE, "fake_qemu.py")
CLI = os.path.join(cli_path.REPO, "scripts", "bladeplane")
MANIFEST = {"kernel": "/img/vmlinuz", "initramfs": "/img/initramfs.cpio.gz"}

# c1 (front) -- c2 -- c3, the second link listed c3 first: c3 listens and
# c2, started before it, connects when it can.
CHAIN = """\
name = "NAME"
[fabric]
interval = 50
[[chassis]]
name = "c1"
slots = 2
[chassis.uplink]
forward = ["tcp:127.0.0.1:PORT-10.0.2.100:80"]
[[chassis.blade]]
slot = 0
name = "a0"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
remote = true
[[chassis]]
name = "c2"
slots = 2
[[chassis.blade]]
slot = 0
name = "m0"
[[chassis]]
name = "c3"
slots = 2
[[chassis.blade]]
slot = 1
name = "z1"
[[link]]
a = "c1"
b = "c2"
speed = 2500
[[link]]
a = "c3"
b = "c2"
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load(text=CHAIN, name="ch", port=8080, path=None):
    return topology.loads(text.replace("NAME", name).replace("PORT", str(port)),
                          path or f"/x/{name}.toml")


class CommandLineTest(unittest.TestCase):

    def argv(self, topo, name, run="/run/bp/ch"):
        ch = topo.by_name(name)
        return chassis.chassis_argv("/q/qemu", ch,
                                    chassis.chassis_files(run, ch), topo, run)

    def device(self, argv):
        return json.loads(argv[argv.index("-device") + 1])

    def test_the_middle_of_a_chain(self):
        argv = self.argv(load(), "c2")
        self.assertEqual(argv[:argv.index("-device")], [
            "/q/qemu", "-M", "blade-chassis", "-name", "c2", "-nodefaults",
            "-no-user-config", "-display", "none",
            "-netdev", "stream,id=chain0,server=off,addr.type=unix,"
                       "addr.path=/run/bp/ch/link0.sock,reconnect-ms=200",
            "-netdev", "stream,id=chain1,server=off,addr.type=unix,"
                       "addr.path=/run/bp/ch/link1.sock,reconnect-ms=200"])
        self.assertEqual(self.device(argv), {
            "driver": "blade-switch", "id": "switch", "slots": 2,
            "backplane": "/run/bp/ch/c2/backplane", "slot-speed": 1000,
            "pcs": "8b10b", "chain": ["chain0", "chain1"],
            "chain-speed": 2500, "chassis": "c2", "chassis-id": 2,
            "fabric-interval": 50})
        self.assertEqual(argv[argv.index("-device") + 2:], [
            "-chardev", "socket,id=qmp,path=/run/bp/ch/c2/switch.qmp,"
                        "server=on,wait=off",
            "-mon", "chardev=qmp,mode=control"])
        # The device is one argument, and its numbers are JSON numbers.
        self.assertIn('"slots": 2', argv[argv.index("-device") + 1])

    def test_the_ends_of_a_chain(self):
        topo = load()
        c1 = self.argv(topo, "c1")
        self.assertEqual(c1[c1.index("-netdev") + 1][:21], "user,id=uplink,net=10")
        self.assertIn("stream,id=chain0,server=on,addr.type=unix,addr.path="
                      "/run/bp/ch/link0.sock", c1)
        dev = self.device(c1)
        self.assertEqual((dev["uplink"], dev["chain"], dev["chassis-id"],
                          dev["chain-speed"]), ("uplink", ["chain0"], 1, 2500))
        c3 = self.argv(topo, "c3")
        self.assertIn("stream,id=chain0,server=on,addr.type=unix,addr.path="
                      "/run/bp/ch/link1.sock", c3)
        dev = self.device(c3)
        self.assertNotIn("uplink", dev)
        self.assertNotIn("chain-speed", dev)    # its one link has no speed

    def test_a_central_switch_with_a_key(self):
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            key = os.path.join(d, "k,ey")
            with open(key, "wb") as f:
                f.write(b"secret")
            text = (CHAIN.replace("interval = 50", 'key-file = "k,ey"\n'
                                  'hop-cost = 25')
                    + '[[chassis]]\nname = "core"\nrole = "central"\n'
                    '[[link]]\na = "core"\nb = "c1"\n')
            text = text.replace('a = "c3"\nb = "c2"', 'a = "c3"\nb = "core"')
            topo = load(text, path=os.path.join(d, "ch.toml"))
            argv = self.argv(topo, "core")
            i = argv.index("-object")
            self.assertEqual(argv[i + 1], f"secret,id=fabric-key,file={d}/k,,ey")
            self.assertLess(i, argv.index("-device"))
            self.assertEqual(self.device(argv), {
                "driver": "blade-switch", "id": "switch", "slots": 0,
                "backplane": "/run/bp/ch/core/backplane", "slot-speed": 1000,
                "pcs": "8b10b", "chain": ["chain0", "chain1"],
                "chassis": "core", "chassis-id": 4, "fabric-priority": 4096,
                "hop-cost": 25, "fabric-key-secret": "fabric-key"})
            self.assertEqual(self.device(self.argv(topo, "c2"))
                             ["fabric-key-secret"], "fabric-key")

    def test_links_to_another_host(self):
        text = ('[[chassis]]\nname = "c7"\nid = 70\npriority = 100\n'
                '[[chassis.blade]]\nslot = 0\nip = "10.0.2.70"\n'
                '[[link]]\na = "c7"\npeer = "tcp:0.0.0.0:7000"\nlisten = true\n'
                '[[link]]\na = "c7"\npeer = "tcp:[fd00::2]:7001"\n')
        argv = self.argv(load(text), "c7")
        self.assertEqual([argv[i + 1] for i, a in enumerate(argv)
                          if a == "-netdev"],
                         ["stream,id=chain0,server=on,addr.type=inet,"
                          "addr.host=0.0.0.0,addr.port=7000",
                          "stream,id=chain1,server=off,addr.type=inet,"
                          "addr.host=fd00::2,addr.port=7001,reconnect-ms=200"])
        dev = self.device(argv)
        self.assertEqual((dev["chassis-id"], dev["fabric-priority"]),
                         (70, 100))

    def test_one_chassis_keeps_its_option_string(self):
        topo = topology.loads("[[chassis]]\n[[chassis.blade]]\nslot = 0\n",
                              "/x/one.toml")
        argv = self.argv(topo, "c1")
        self.assertTrue(argv[argv.index("-device") + 1].startswith(
            "blade-switch,id=switch,slots=4,"))
        self.assertNotIn("-object", argv)

    def test_blades_hold_the_shared_vips(self):
        topo = load()
        c2 = topo.by_name("c2")
        self.assertEqual(chassis.blade_append(topo, c2, c2.blades[0]),
                         "blade.ip=10.0.2.12/24 blade.gw=10.0.2.2 "
                         "blade.vip=10.0.2.100")

    def test_a_listening_port_in_use(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        port = srv.getsockname()[1]
        text = ('[[chassis]]\nname = "c7"\nid = 70\n'
                f'[[link]]\na = "c7"\npeer = "tcp:127.0.0.1:{port}"\n'
                'listen = true\n')
        topo = load(text)
        self.assertRaisesRegex(Failure, f"^chassis c7: port tcp:127.0.0.1:"
                               f"{port} that link\\[0\\] listens on is in use$",
                               chassis.check_host_ports, topo.chassis[0], topo)

    def test_a_qemu_without_chain_ports_is_refused_at_once(self):
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            fake = os.path.join(d, "qemu")
            for props, ok in (("slots=<uint32>\n  uplink=<str>", False),
                              ("chain=<list>\n  chassis=<str>\n"
                               "  chassis-id=<uint64>", True)):
                with open(fake, "w") as f:
                    f.write(f"#!/bin/sh\nprintf 'blade-switch options:\\n"
                            f"  {props}\\n'\n".replace("\n  ", "\\n  "))
                os.chmod(fake, 0o755)
                topo = load()
                if ok:
                    chassis.check_device(fake, topo)
                    continue
                with self.assertRaises(Failure) as cm:
                    chassis.check_device(fake, topo)
                self.assertEqual(str(cm.exception),
                                 f"{fake}: its blade-switch has no chain, "
                                 f"chassis, chassis-id property: it predates "
                                 f"chain ports, so it cannot link chassis "
                                 f"(topology ch); rebuild it from this "
                                 f"checkout (scripts/bladeplane setup)")
                # One chassis on its own needs none of it.
                chassis.check_device(fake, topology.loads(
                    "[[chassis]]\n", "/x/one.toml"))

    def test_capture_ports(self):
        topo = load()
        self.assertEqual(chassis.find_port(topo, "c2.chain1")[:2],
                         (topo.by_name("c2"), "chain1"))
        self.assertEqual(chassis.find_port(topo, "uplink")[:2],
                         (topo.by_name("c1"), "uplink"))
        self.assertEqual(chassis.find_port(topo, "z1"),
                         (topo.by_name("c3"), "slot1", 1))
        for text, msg in (("chain0", "which chassis's chain0? name it "
                           "CHASSIS.chain0 (chassis: c1, c2, c3)"),
                          ("c3.chain1", "chassis c3 has no port chain1 (chain "
                           "ports: chain0)"),
                          ("c2.uplink", "chassis c2 has no uplink")):
            with self.subTest(text):
                with self.assertRaises(Failure) as cm:
                    chassis.find_port(topo, text)
                self.assertEqual(str(cm.exception), msg)


class EndToEndTest(unittest.TestCase):
    """A chain of three fake chassis, a blade in each."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        self.env = {"BLADEPLANE_RUN_DIR": os.path.join(self.tmp.name, "run")}
        patcher = mock.patch.dict(os.environ, self.env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for run in rundir.runs():
            rundir.stop(run.processes(), quit_timeout=2, term_timeout=2)

    def up(self, topo, env=None, fabric_timeout=20):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), \
                mock.patch.dict(os.environ, env or {}):
            launcher = chassis.Launcher(topo, "tcg", FAKE_QEMU, MANIFEST,
                                        ready_timeout=30, rotation_timeout=10,
                                        fabric_timeout=fabric_timeout)
            run, not_in = launcher.up()
            chassis.print_summary(run, topo, not_in)
        return run, not_in, out.getvalue()

    def cli(self, *args):
        proc = subprocess.run([sys.executable, CLI] + list(args),
                              capture_output=True, timeout=60,
                              env=dict(os.environ, **self.env))
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def state(self, run, name):
        return chassis.read_switch(run.state["chassis"][name]["qmp"], name)

    def wait_for(self, what, check, timeout=15):
        deadline = time.monotonic() + timeout
        while not check():
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(0.05)

    def remote_of(self, run, name):
        return {k: (b["hops"], b["in_rotation"]) for k, b in
                chassis.remote_blades(self.state(run, name)).items()}

    def test_chain_up_status_restart_down(self):
        topo = load(port=free_port())
        run, not_in, out = self.up(topo)
        self.assertEqual(not_in, {})
        self.assertIn("fabric: remote blades seen", out)
        self.assertIn("    chain0: to c2.chain0\n", out)
        self.assertIn("  chassis c2, id 2: ", out)
        self.assertIn("    uplink: none (reached through the other chassis)",
                      out)
        self.assertIn("service web: 10.0.2.100 tcp/80 on a0 and the blades "
                      "of c2, c3 (util)", out)
        self.assertTrue(os.path.exists(os.path.join(run.path, "link1.sock")))
        # The front chassis sees the other two: c3's blade two hops away.
        self.assertEqual(self.remote_of(run, "c1"),
                         {("c2", 0): (1, True), ("c3", 1): (2, True)})
        # The service was added with remote.
        rc, text, err = self.cli("status", "--json", "ch")
        self.assertEqual((rc, err), (0, ""))
        info = json.loads(text)
        c1 = info["chassis"][0]["state"]
        self.assertEqual([s["name"] for s in c1["services"]], ["web"])
        self.assertEqual(c1["fabric"]["ports"][0]["neighbour"], "c2")

        rc, text, err = self.cli("status", "ch")
        self.assertEqual(rc, 0, err)
        self.assertRegex(text, r"\n  blade    z1\s+\d+  alive  c3 slot 1")
        self.assertIn("\n  fabric: chassis c1 (id 1), root 1 (this chassis)",
                      text)
        self.assertRegex(text, r"\n    chain1\s+up\s+forwarding\s+c3 \(id 3\)")
        self.assertRegex(text, r"\n +1\s+c3\s+2\s+z1\s")

        rc, text, err = self.cli("top", "ch", "--count", "1",
                                 "--interval", "0.2")
        self.assertEqual(rc, 0, err)
        frame = text.split("\n\n")[0]
        self.assertRegex(frame, r"\n +0\s+c1\s+0\s+a0\s+up\s+yes ")
        self.assertRegex(frame, r"\n +1\s+c3\s+2\s+z1\s+-\s+yes ")

        pcap = os.path.join(self.tmp.name, "chain.pcap")
        rc, text, err = self.cli("capture", "c2.chain1", "-w", pcap,
                                 "--duration", "0.1")
        self.assertEqual(rc, 0, err)
        self.assertIn(f"capturing c2.chain1 to {pcap}", text)

        # The middle chassis dies: the front loses c3's blade...
        procs = {p["name"]: p for p in run.processes()}
        os.kill(procs["c2"]["pid"], signal.SIGKILL)
        self.wait_for("c1 still sees c3 after c2 died",
                      lambda: not self.remote_of(run, "c1"))
        rc, text, err = self.cli("status", "ch")
        self.assertEqual(rc, 1)
        self.assertRegex(text, r"\n  chassis  c2\s+\d+\s+DEAD")
        # ... and comes back with `restart`, the others untouched.
        pids = {n: p["pid"] for n, p in procs.items() if n != "c2"}
        rc, text, err = self.cli("restart", "c2", "-t", "ch")
        self.assertEqual(rc, 0, err)
        self.assertIn("chassis c2 of topology ch is up again", text)
        self.assertEqual(self.remote_of(run, "c1"),
                         {("c2", 0): (1, True), ("c3", 1): (2, True)})
        after = {p["name"]: p for p in rundir.Run(run.path).processes()}
        self.assertEqual({n: after[n]["pid"] for n in pids}, pids)
        self.assertNotEqual(after["c2"]["pid"], procs["c2"]["pid"])
        self.assertTrue(all(rundir.process_alive(p) for p in after.values()))
        # m0's lane came back to the new switch, and its service again.
        self.assertTrue(self.state(run, "c2")["blades"][0]["in_rotation"])

        rc, text, err = self.cli("restart", "c9", "-t", "ch")
        self.assertEqual((rc, err), (1, "bladeplane: error: no chassis or "
                                        "blade 'c9' in topology ch (chassis: "
                                        "c1, c2, c3; blades: a0, m0, z1)\n"))
        rc, text, err = self.cli("down", "ch")
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(run.path))
        self.assertFalse(any(rundir.process_alive(p) for p in after.values()))

    def test_a_fabric_that_does_not_converge_stops_everything(self):
        topo = load(port=free_port())
        with self.assertRaises(Failure) as cm:
            self.up(topo, env={"FAKE_QEMU_SILENT": "c3"}, fabric_timeout=1)
        self.assertEqual(str(cm.exception),
                         "the fabric did not converge within 1 s: chassis c1 "
                         "does not see blade z1 (chassis c3, slot 1); its "
                         "chain ports: chain0 up forwarding neighbour c2")
        run = rundir.Run(os.path.join(self.env["BLADEPLANE_RUN_DIR"], "ch"))
        self.assertEqual(run.state["phase"], "failed")
        self.assertEqual(run.alive(), [])

    def test_two_topologies_joined_across_hosts(self):
        port = free_port()
        a = load(f"""\
name = "ha"
[fabric]
interval = 50
[[chassis]]
name = "c1"
id = 1
slots = 1
[chassis.uplink]
[[chassis.blade]]
slot = 0
name = "a0"
ip = "10.0.2.10"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
remote = true
[[link]]
a = "c1"
peer = "tcp:127.0.0.1:{port}"
listen = true
""", name="ha")
        b = load(f"""\
name = "hb"
[fabric]
interval = 50
vips = ["10.0.2.100"]
[[chassis]]
name = "c5"
id = 5
slots = 1
gateway = "10.0.2.2"
[[chassis.blade]]
slot = 0
name = "b5"
ip = "10.0.2.50"
[[link]]
a = "c5"
peer = "tcp:127.0.0.1:{port}"
""", name="hb")
        run_b, _, _ = self.up(b)          # B first: it retries until A listens
        run_a, not_in, out = self.up(a)
        self.assertEqual(not_in, {})
        self.assertIn(f"    chain0: listens on tcp:127.0.0.1:{port} (another "
                      f"host)", out)
        self.wait_for("A never saw B's blade",
                      lambda: self.remote_of(run_a, "c1") ==
                      {("c5", 0): (1, True)})
        rc, text, err = self.cli("status", "ha")
        self.assertEqual(rc, 0, err)
        self.assertRegex(text, r"\n +0\s+c5\s+1\s+c5/slot0\s")
        self.assertRegex(text, r"\n    chain0\s+up\s+forwarding\s+c5 \(id 5\)")


if __name__ == "__main__":
    unittest.main()
