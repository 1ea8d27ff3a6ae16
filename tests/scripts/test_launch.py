"""The launcher: command lines of the chassis and the blades, run
directories and processes, and up/status/top/console/capture/down end to
end against tests/scripts/fake_qemu.py (a stand-in that speaks the
contract of docs/switch-blade.md; the real device is tested by the qtest
and functional tiers)."""

import contextlib
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import blade, chassis, rundir, topology
from bladeplane_cli.common import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_QEMU = os.path.join(HERE, "fake_qemu.py")
CLI = os.path.join(cli_path.REPO, "scripts", "bladeplane")
MANIFEST = {"kernel": "/img/vmlinuz", "initramfs": "/img/initramfs.cpio.gz"}

TOPO = """\
name = "t1"
[image]
append = "loglevel=4"
[[chassis]]
name = "c1"
slots = 3
[chassis.uplink]
forward = ["tcp:127.0.0.1:PORT-10.0.2.100:80", "udp::UDPPORT-10.0.2.11:53"]
speed = 2500
[chassis.switch]
util-stale = 500
pcs = "raw"
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
name = "web1"
memory = 512
cpus = 2
append = "mitigations=off"
util-interval = 50
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
[[chassis.steering]]
name = "admin"
vip = "10.0.2.101"
port-min = 8000
port-max = 8099
blades = ["web1"]
"""


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load(text=TOPO, port=8080, udp_port=5300):
    return topology.loads(text.replace("UDPPORT", str(udp_port))
                          .replace("PORT", str(port)), "/x/t1.toml")


class CommandLineTest(unittest.TestCase):

    def test_chassis(self):
        topo = load()
        ch = topo.chassis[0]
        files = chassis.chassis_files("/run/bp/t1", ch)
        self.assertEqual(chassis.chassis_argv("/q/qemu", ch, files), [
            "/q/qemu", "-M", "blade-chassis", "-name", "c1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-netdev", "user,id=uplink,net=10.0.2.0/24,host=10.0.2.2,"
                       "hostfwd=tcp:127.0.0.1:8080-10.0.2.100:80,"
                       "hostfwd=udp::5300-10.0.2.11:53",
            "-device", "blade-switch,id=switch,slots=3,backplane=/run/bp/t1/"
                       "c1/backplane,uplink=uplink,uplink-speed=2500,"
                       "slot-speed=1000,pcs=raw,util-stale=500",
            "-chardev", "socket,id=qmp,path=/run/bp/t1/c1/switch.qmp,"
                        "server=on,wait=off",
            "-mon", "chardev=qmp,mode=control"])

    def test_raw_netdev_uplink_and_commas_in_paths(self):
        topo = load(TOPO.replace(
            'forward = ["tcp:127.0.0.1:PORT-10.0.2.100:80", '
            '"udp::UDPPORT-10.0.2.11:53"]',
            'netdev = "stream,server=off,addr.type=inet,addr.host=h,'
            'addr.port=9"'))
        ch = topo.chassis[0]
        self.assertEqual(chassis.uplink_netdev(ch),
                         "stream,id=uplink,server=off,addr.type=inet,"
                         "addr.host=h,addr.port=9")
        self.assertIn("backplane=/r,,x/c1/backplane,",
                      chassis.switch_device(ch, "/r,x/c1/backplane"))

    def test_blade(self):
        topo = load()
        ch = topo.chassis[0]
        b = ch.blades[1]
        bl = chassis.make_blade(topo, ch, b, "tcg", "/run/bp/t1", MANIFEST,
                                "/q/qemu")
        d = "/run/bp/t1/c1"
        self.assertEqual(bl.argv, [
            "/q/qemu", "-M", "q35", "-accel", "tcg", "-m", "512", "-smp", "2",
            "-name", "web1", "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot",
            "-chardev", f"socket,id=console,path={d}/web1.console,server=on,"
                        f"wait=off,logfile={d}/web1.console.log",
            "-serial", "chardev:console",
            "-kernel", "/img/vmlinuz", "-initrd", "/img/initramfs.cpio.gz",
            "-append", "console=ttyS0 quiet panic=-1 no_timer_check "
                       "blade.name=web1 blade.ip=10.0.2.11/24 blade.gw=10.0.2.2 "
                       "blade.vip=10.0.2.100,10.0.2.101 loglevel=4 "
                       "mitigations=off",
            "-device", f"blade-nic,id=nic0,mac={blade.blade_mac('web1')},"
                       f"backplane={d}/backplane,slot=1,speed=1000,pcs=raw,"
                       f"util-interval=50",
            "-chardev", f"socket,id=qmp,path={d}/web1.qmp,server=on,wait=off",
            "-mon", "chardev=qmp,mode=control"])
        self.assertEqual((bl.console_path, bl.serial_log_path, bl.qmp_path,
                          bl.pid_path, bl.log_path),
                         tuple(f"{d}/web1.{e}" for e in
                               ("console", "console.log", "qmp", "pid", "log")))

    def test_timer_check_skipped_only_on_the_hosts_clock_under_tcg(self):
        """A loaded host can make a TCG blade fail Linux's boot-time timer
        check and panic; KVM and icount blades keep the check."""
        def append(accel, extra_args=()):
            argv = blade.blade_argv(
                qemu_bin="/q/qemu", name="b0", accel=accel,
                kernel="/k", initrd="/i", console_args=[], qmp_path="/q.qmp",
                extra_args=extra_args)
            return argv[argv.index("-append") + 1].split()

        self.assertIn("no_timer_check", append("tcg"))
        self.assertNotIn("no_timer_check", append("kvm"))
        self.assertNotIn("no_timer_check", append(
            "tcg", chassis.virtual_blade_args(
                mock.Mock(icount_shift=0))))

    def test_foreground_blade_keeps_its_console_on_stdio(self):
        b = blade.Blade("fg0", accel="kvm", nic_args=",lane=/tmp/a.sock",
                        manifest=MANIFEST, qemu_bin="/q/qemu")
        argv = b.argv
        self.assertEqual(argv[argv.index("-chardev") + 1],
                         "stdio,id=console,signal=off")
        self.assertIn(f"blade-nic,id=nic0,mac={blade.blade_mac('fg0')},"
                      f"lane=/tmp/a.sock", argv)
        self.assertIn("console=ttyS0 quiet panic=-1 blade.name=fg0", argv)
        self.assertFalse(b.background)


class RunDirTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        patcher = mock.patch.dict(os.environ, {"BLADEPLANE_RUN_DIR": self.tmp.name})
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_private_and_refusing_what_is_not_ours(self):
        run = rundir.create("t1")
        self.assertEqual(stat.S_IMODE(os.stat(run.path).st_mode), 0o700)
        os.chmod(run.path, 0o755)
        self.assertRaisesRegex(Failure, "not a private directory",
                               rundir.check_private, run.path)
        other = os.path.join(self.tmp.name, "t2")
        os.mkdir(other)
        open(os.path.join(other, "x"), "w").close()
        self.assertRaisesRegex(Failure, "exists and is not a bladeplane run "
                               "directory", rundir.create, "t2")

    def test_stale_run_directory_is_replaced(self):
        run = rundir.create("t1")
        run.save({"format": rundir.STATE_FORMAT, "name": "t1", "phase": "up",
                  "processes": [{"kind": "blade", "name": "b0", "pid": 1,
                                 "marker": "/no/such/marker"}]})
        again = rundir.create("t1")
        self.assertFalse(os.path.exists(again.state_path))

    def test_socket_paths_must_fit(self):
        with mock.patch.dict(os.environ, {"BLADEPLANE_RUN_DIR": "/tmp/" + "d" * 80}):
            self.assertRaisesRegex(Failure, "too long for UNIX socket paths",
                                   rundir.create, "t1")

    def test_find(self):
        self.assertRaisesRegex(Failure, "no topology is up", rundir.find)
        for name in ("a1", "b1"):
            rundir.create(name).save({"format": 1, "name": name,
                                      "processes": []})
        self.assertRaisesRegex(Failure, r"several topologies are up \(a1, b1\)",
                               rundir.find)
        self.assertEqual(rundir.find("b1").name, "b1")
        self.assertRaisesRegex(Failure, r"topology 'c1' is not up \(up: a1, b1\)",
                               rundir.find, "c1")
        self.assertRaisesRegex(Failure, "'../x' is not a topology name",
                               rundir.find, "../x")

    def test_alive_needs_the_marker(self):
        marker = os.path.join(self.tmp.name, "marker")
        proc = subprocess.Popen([sys.executable, "-c", "import sys; "
                                 "print('ready', flush=True); "
                                 "sys.stdin.read()", marker],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.assertEqual(proc.stdout.readline(), b"ready\n")    # exec'd
        proc.stdout.close()
        rec = {"pid": proc.pid, "marker": marker}
        self.assertTrue(rundir.process_alive(rec))
        # Another process with that pid (a reused pid) is not it.
        self.assertFalse(rundir.process_alive(dict(rec, marker="/other")))
        proc.stdin.close()            # it exits
        proc.wait()
        self.assertFalse(rundir.process_alive(rec))
        self.assertFalse(rundir.process_alive({"pid": None, "marker": ""}))

    def test_stop_escalates_to_sigkill(self):
        marker = os.path.join(self.tmp.name, "stubborn")
        proc = subprocess.Popen(
            [sys.executable, "-c", "import signal, sys, time; "
             "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
             "print('ready', flush=True); time.sleep(60)", marker],
            stdout=subprocess.PIPE)
        self.addCleanup(proc.wait)
        self.assertEqual(proc.stdout.readline(), b"ready\n")
        rec = {"name": "stubborn", "pid": proc.pid, "marker": marker}
        how = rundir.stop([rec, {"name": "gone", "pid": None}],
                          quit_timeout=0.1, term_timeout=0.2)
        self.assertEqual(how, {"stubborn": "SIGKILL", "gone": "not running"})
        proc.stdout.close()


    def test_stop_topology_terminates_virtual_blades_first(self):
        """In virtual time the blades get SIGTERM, and before the
        chassis: the order each process saw its signal in is the order
        they wrote their names to a shared file."""
        order = os.path.join(self.tmp.name, "order")
        procs = []
        for name, kind in (("c1", "chassis"), ("b0", "blade"),
                           ("b1", "blade")):
            marker = os.path.join(self.tmp.name, name)
            proc = subprocess.Popen(
                [sys.executable, "-c", "import signal, sys, time\n"
                 "def bye(*_):\n"
                 f"    open({order!r}, 'a').write({name!r} + '\\n')\n"
                 "    sys.exit(0)\n"
                 "signal.signal(signal.SIGTERM, bye)\n"
                 "print('ready', flush=True)\n"
                 "time.sleep(60)", marker], stdout=subprocess.PIPE)
            self.addCleanup(proc.wait)
            self.assertEqual(proc.stdout.readline(), b"ready\n")
            proc.stdout.close()
            procs.append({"name": name, "kind": kind, "pid": proc.pid,
                          "marker": marker})
        how = rundir.stop_topology(procs, quit_timeout=5, virtual=True)
        self.assertEqual(how, {"b0": "terminated", "b1": "terminated",
                               "c1": "SIGTERM"})
        with open(order) as f:
            self.assertEqual(f.read().split()[-1], "c1")


class EndToEndTest(unittest.TestCase):
    """up, status, top, console, capture and down with fake_qemu.py."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        self.env = {"BLADEPLANE_RUN_DIR": os.path.join(self.tmp.name, "run")}
        patcher = mock.patch.dict(os.environ, self.env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.port = free_port()
        self.topo = load(port=self.port,
                         udp_port=free_port(socket.SOCK_DGRAM))
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for run in rundir.runs():
            rundir.stop(run.processes(), quit_timeout=2, term_timeout=2)

    def up(self, topo=None, env=None):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), \
                mock.patch.dict(os.environ, env or {}):
            launcher = chassis.Launcher(topo or self.topo, "tcg", FAKE_QEMU,
                                        MANIFEST, ready_timeout=30,
                                        rotation_timeout=10)
            run, not_in = launcher.up()
        return run, not_in, out.getvalue()

    def cli(self, *args, stdin=None):
        proc = subprocess.run([sys.executable, CLI] + list(args),
                              input=stdin, capture_output=True, timeout=60,
                              env=dict(os.environ, **self.env))
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def test_up_use_and_down(self):
        run, not_in, out = self.up()
        self.assertEqual(not_in, {})
        self.assertIn("blades ready", out)
        self.assertEqual(stat.S_IMODE(os.stat(run.path).st_mode), 0o700)
        backplane = os.path.join(run.path, "c1", "backplane")
        self.assertEqual(stat.S_IMODE(os.stat(backplane).st_mode), 0o700)
        procs = run.processes()
        self.assertEqual([(p["kind"], p["name"]) for p in procs],
                         [("chassis", "c1"), ("blade", "b0"), ("blade", "web1")])
        self.assertTrue(all(rundir.process_alive(p) for p in procs))
        for p in procs:
            with open(p["pid_file"]) as f:
                self.assertEqual(int(f.read()), p["pid"])
        self.assertEqual(run.state["phase"], "up")

        # A second up says so, and leaves the first alone.
        self.assertRaisesRegex(Failure, "topology 't1' is already up",
                               rundir.check_not_up, "t1")
        self.assertRaisesRegex(Failure, "topology 't1' is already up",
                               self.up)
        self.assertTrue(all(rundir.process_alive(p) for p in procs))

        # The services were configured: the switch lists them.
        rc, text, err = self.cli("status", "--json")
        self.assertEqual((rc, err), (0, ""))
        info = json.loads(text)
        self.assertEqual(info["topology"], "t1")
        self.assertTrue(all(p["alive"] for p in info["processes"]))
        services = info["chassis"][0]["state"]["services"]
        self.assertEqual([(s["name"], s["kind"], s["blades"]) for s in services],
                         [("admin", "steering", [1]), ("web", "service", [0, 1])])

        rc, text, err = self.cli("status", "t1")
        self.assertEqual(rc, 0, err)
        self.assertRegex(text, r"\n  blade    web1\s+\d+  alive  slot 1")
        self.assertRegex(text, r"\n    slot1   web1   up\s+yes")

        # top: two frames; the fake adds slot+1 new flows per read.
        rc, text, err = self.cli("top", "--count", "2", "--interval", "0.2")
        self.assertEqual(rc, 0, err)
        frames = text.strip().split("\n\n")
        self.assertEqual(len(frames), 2)
        for frame in frames:
            self.assertRegex(frame, r"\n +0  b0 .* 1  33\.3%  ")
            self.assertRegex(frame, r"\n +1  web1 .* 2  66\.7%  ")
            self.assertRegex(frame, r"\n +2  -  +down  no  ")

        rc, text, err = self.cli("console", "web1", stdin=b"uname -n\n")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("uname -n\r\nweb1\r\n", text)

        pcap = os.path.join(self.tmp.name, "web1.pcap")
        rc, text, err = self.cli("capture", "web1", "-w", pcap,
                                 "--duration", "0.1")
        self.assertEqual(rc, 0, err)
        self.assertIn(f"{pcap} (1 frames;", text)
        self.assertIn("utilization log: " + pcap[:-5] + ".util.log (1 lines)",
                      text)
        self.assertEqual(chassis.pcap_frames(pcap), 1)
        rc, text, err = self.cli("capture", "slot7", "-w", pcap)
        self.assertEqual((rc, err), (1, "bladeplane: error: chassis c1 has "
                                        "slots 0..2, not 7\n"))

        rc, text, err = self.cli("down", "t1")
        self.assertEqual(rc, 0, err)
        self.assertIn(f"removed {run.path}", text)
        self.assertFalse(os.path.exists(run.path))
        self.assertFalse(any(rundir.process_alive(p) for p in procs))
        rc, text, err = self.cli("status")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^bladeplane: error: no topology is up")

    def test_a_blade_that_fails_stops_everything(self):
        with self.assertRaises(Failure) as cm:
            self.up(env={"FAKE_QEMU_FAIL_BLADE": "web1"})
        self.assertRegex(str(cm.exception),
                         r"^blade web1: QEMU exited \(status 1\) before its "
                         r"ready line: qemu-system-x86_64: fake failure of "
                         r"web1 \(console log: .*/c1/web1\.console\.log\)$")
        run = rundir.Run(os.path.join(self.env["BLADEPLANE_RUN_DIR"], "t1"))
        self.assertEqual(run.state["phase"], "failed")
        self.assertEqual(run.alive(), [])
        # The logs stay; the next up starts afresh.
        self.assertTrue(os.path.exists(os.path.join(run.path, "c1",
                                                    "switch.log")))
        run2, _, _ = self.up()
        self.assertEqual(len(run2.alive()), 3)

    def test_a_chassis_that_fails_says_why(self):
        with self.assertRaises(Failure) as cm:
            self.up(env={"FAKE_QEMU_FAIL_CHASSIS": "1"})
        self.assertRegex(str(cm.exception),
                         r"^chassis c1: QEMU exited \(status 1\): "
                         r"qemu-system-x86_64: -device blade-switch: fake "
                         r"failure \(log: .*/c1/switch\.log\)$")

    def test_host_port_in_use_fails_before_anything_starts(self):
        s = socket.socket()
        s.bind(("127.0.0.1", self.port))
        self.addCleanup(s.close)
        with self.assertRaises(Failure) as cm:
            self.up()
        self.assertEqual(str(cm.exception),
                         f"chassis c1: host port tcp:127.0.0.1:{self.port} of "
                         f"forward tcp:127.0.0.1:{self.port}-10.0.2.100:80 is "
                         f"in use")
        self.assertEqual(rundir.runs(), [])


# Two chassis joined by a link, services and steering in each: `up`'s
# order, in virtual time (VIRTUAL) and in real time.
ORDER_TOPO = """\
name = "order"
TIMING
[[chassis]]
name = "c1"
slots = 2
subnet = "10.0.2.0/24"
[[chassis.blade]]
slot = 0
name = "b0"
[[chassis.blade]]
slot = 1
name = "client"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 8080
blades = ["b0"]
[[chassis]]
name = "c2"
slots = 1
[[chassis.blade]]
slot = 0
name = "d0"
[[chassis.steering]]
name = "admin"
port-min = 8000
port-max = 8099
blades = ["d0"]
[[link]]
a = "c1"
b = "c2"
"""


class LaunchOrderTest(unittest.TestCase):
    """`up` configures each chassis's services and steering right after
    the chassis starts, before any blade: in virtual time the chassis's
    clock stays at 0 until its blades are connected, so they are there
    from virtual time 0 on every run, whenever the host gets there.  Real
    time takes the same order.  In virtual time the rotation wait never
    types at a blade's console (docs/virtual-time.md, "What is
    deterministic, and what is not")."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        patcher = mock.patch.dict(os.environ, {
            "BLADEPLANE_RUN_DIR": os.path.join(self.tmp.name, "run")})
        patcher.start()
        self.addCleanup(patcher.stop)

    def topo(self, virtual):
        return topology.loads(ORDER_TOPO.replace(
            "TIMING", 'timing = "virtual"' if virtual else ""),
            "/x/order.toml")

    def steps(self, topo):
        """The launcher's steps as up() takes them: (step, chassis)."""
        launcher = chassis.Launcher(topo, "tcg", FAKE_QEMU, MANIFEST)
        steps = []

        def record(name, result=None):
            def step(*args):
                steps.append((name,) + tuple(a.name for a in args
                                             if hasattr(a, "slots")))
                return result
            return step

        with mock.patch.multiple(
                launcher, _start_chassis=record("chassis"),
                _configure=record("configure"),
                _start_blades=record("blades"),
                _wait_rotation=record("rotation", {}),
                _wait_fabric=record("fabric"), _impair=record("impair")):
            run, not_in = launcher.up()
        self.assertEqual((run.state["phase"], not_in), ("up", {}))
        return steps

    def test_services_before_the_blades(self):
        for virtual in (True, False):
            with self.subTest(virtual=virtual):
                topo = self.topo(virtual)
                self.assertEqual(topo.virtual(), virtual)
                self.assertEqual(self.steps(topo), [
                    ("chassis", "c1"), ("configure", "c1"),
                    ("chassis", "c2"), ("configure", "c2"),
                    ("blades",),
                    ("rotation", "c1"), ("rotation", "c2"), ("fabric",),
                    ("impair", "c1"), ("impair", "c2")])
                for run in rundir.runs():
                    run.remove()

    def test_a_restarted_chassis_starts_its_clock_where_told(self):
        """`restart CHASSIS` in virtual time passes the switch the time
        its clock starts at; `up` passes none (its clock starts at 0)."""
        topo = self.topo(True)
        c1 = topo.chassis[0]
        files = {"backplane": "/r/c1/backplane", "qmp": "/r/c1/switch.qmp"}
        self.assertIn('"vtime-start-ns": 7000000123', chassis.switch_device(
            c1, "/r/c1/backplane", topo, 7000000123))
        argv = chassis.chassis_argv("/q/qemu", c1, files, topo, "/r")
        self.assertNotIn("vtime-start-ns", " ".join(argv))
        # a link to another host: its clock there cannot be read
        remote = topology.loads(textwrap.dedent("""\
            name = "far"
            timing = "virtual"
            [[chassis]]
            name = "c1"
            id = 3
            slots = 1
            [[chassis.blade]]
            slot = 0
            name = "b0"
            ip = "10.0.2.10"
            [[link]]
            a = "c1"
            peer = "tcp:192.0.2.7:7000"
            """), "/x/far.toml")
        run = mock.Mock(state={"spec": remote.to_dict()})
        with self.assertRaisesRegex(Failure, "chain0 goes to a chassis on "
                                    "another host"):
            chassis.restart(run, "c1")
        run.processes.assert_not_called()

    def announced(self, virtual):
        """The blades the rotation wait asked to announce themselves: c1's
        b0 is never learned, the clock moves a second a look."""
        topo = self.topo(virtual)
        launcher = chassis.Launcher(topo, "tcg", FAKE_QEMU, MANIFEST,
                                    rotation_timeout=10)
        launcher.run = mock.Mock(state={"chassis": {"c1": {"qmp": "q"}}})
        launcher.blades = {"b0": mock.sentinel.b0,
                           "client": mock.sentinel.client}
        state = {"blades": [
            {"slot": 0, "in_rotation": False, "mac": None,
             "reason": "mac-unknown"},
            {"slot": 1, "in_rotation": True, "mac": "52:54:00:00:00:01"}]}
        clock = iter(range(1000))
        announced = []
        with mock.patch.object(chassis, "read_switch", return_value=state), \
                mock.patch.object(chassis.time, "monotonic",
                                  side_effect=lambda: next(clock)), \
                mock.patch.object(chassis.time, "sleep"), \
                mock.patch.object(launcher, "_announce",
                                  side_effect=announced.append), \
                contextlib.redirect_stdout(io.StringIO()):
            not_in = launcher._wait_rotation(topo.by_name("c1"))
        self.assertEqual(not_in, {"b0": "mac-unknown"})
        return announced

    def test_no_console_input_in_virtual_time(self):
        self.assertEqual(self.announced(False), [mock.sentinel.b0])
        self.assertEqual(self.announced(True), [])


class HostPortTest(unittest.TestCase):

    def test_time_wait_is_not_in_use_but_a_listener_is(self):
        # A listener like QEMU's for a forwarded port (SO_REUSEADDR), which
        # leaves its closed connections in TIME_WAIT when the topology ends.
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        cli = socket.create_connection(("127.0.0.1", port))
        conn, _ = srv.accept()
        conn.close()                  # the server side closes first: TIME_WAIT
        cli.close()
        ch = load(port=port, udp_port=free_port(socket.SOCK_DGRAM)).chassis[0]
        self.assertRaisesRegex(Failure, f"host port tcp:127.0.0.1:{port} of "
                               f"forward .* is in use",
                               chassis.check_host_ports, ch)
        srv.close()                   # only TIME_WAIT is left on the port
        chassis.check_host_ports(ch)


class CliErrorTest(unittest.TestCase):
    """Untrusted arguments get one line and exit 1, never a traceback."""

    def run_cli(self, *args):
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            proc = subprocess.run([sys.executable, CLI] + list(args),
                                  capture_output=True, timeout=60,
                                  env=dict(os.environ, BLADEPLANE_RUN_DIR=d))
        return proc.returncode, proc.stderr.decode()

    def test_one_line_errors(self):
        for args, want in [
            (["up"], "bladeplane: error: bladeplane up: the following "
                     "arguments are required: TOPOLOGY (see 'bladeplane up "
                     "--help')"),
            (["up", "/nonexistent.toml"], "bladeplane: error: "
                                          "/nonexistent.toml: no such file"),
            (["top", "--count", "0"], "bladeplane: error: bladeplane top: "
                                      "argument --count: must be > 0, got 0 "
                                      "(see 'bladeplane top --help')"),
            (["top", "--interval", "nan"], "bladeplane: error: bladeplane "
                                           "top: argument --interval: must be "
                                           ">= 0.1, got nan (see 'bladeplane "
                                           "top --help')"),
            (["capture", "slot0", "--duration", "x"],
             "bladeplane: error: bladeplane capture: argument --duration: not "
             "a number: 'x' (see 'bladeplane capture --help')"),
            (["down", "../etc"], "bladeplane: error: '../etc' is not a "
                                 "topology name"),
            (["console", "b0"], "bladeplane: error: no blade 'b0' in the "
                                "topologies that are up (none)"),
            (["frobnicate"], "bladeplane: error: bladeplane: argument COMMAND: "
                             "invalid choice: 'frobnicate'"),
        ]:
            with self.subTest(args):
                rc, err = self.run_cli(*args)
                self.assertEqual(rc, 1)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertTrue(err.startswith(want), err)

    def test_topology_error_through_the_cli(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", dir="/tmp") as f:
            f.write(textwrap.dedent("""\
                [[chassis]]
                slots = 65
                """))
            f.flush()
            rc, err = self.run_cli("up", f.name)
        self.assertEqual(rc, 1)
        self.assertEqual(err, f"bladeplane: error: {f.name}:2: "
                              f"chassis.c1.slots: must be 0..64, got 65\n")

    def test_every_command_has_help(self):
        for cmd in ["up", "down", "status", "top", "console", "capture",
                    "restart",
                    "demo", "test", "bench", "image", "setup"]:
            with self.subTest(cmd):
                proc = subprocess.run([sys.executable, CLI, cmd, "--help"],
                                      capture_output=True, timeout=60)
                self.assertEqual(proc.returncode, 0)
                self.assertIn(f"usage: bladeplane {cmd}", proc.stdout.decode())


if __name__ == "__main__":
    unittest.main()
