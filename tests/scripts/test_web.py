"""`bladeplane web`: its arguments, the snapshot it builds from the
switches' state trees (recorded from running topologies in
web_states.json), its routes and what it refuses, the event stream and
its bound, and a topology going down and coming back (with
fake_qemu.py).  The page in a browser is the functional tier's
(tests/functional/test_web.py)."""

import contextlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Any
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import chassis, rundir, topology, web
from bladeplane_cli.common import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(cli_path.REPO, "scripts", "bladeplane")
FAKE_QEMU = os.path.join(HERE, "fake_qemu.py")
MANIFEST = {"kernel": "/img/vmlinuz", "initramfs": "/img/initramfs.cpio.gz"}

with open(os.path.join(HERE, "web_states.json")) as _f:
    RECORDED = json.load(_f)


def recorded(name: str) -> tuple[topology.Topology, list[dict]]:
    """A recorded topology: its spec and its reads ({chassis: state})."""
    rec = RECORDED[name]
    return topology.from_dict(rec["spec"]), rec["reads"]


def reading(name: str, read: int, alive: dict | None = None) -> web.Reading:
    spec, reads = recorded(name)
    return web.Reading(spec.name, spec, states=dict(reads[read]),
                       alive=alive or {})


class ArgumentTest(unittest.TestCase):

    def test_ports(self):
        for text, port in [("1", 1), ("8070", 8070), ("65535", 65535),
                           ("00080", 80)]:
            self.assertEqual(web.parse_port(text), port)
        for text in ["0", "65536", "99999", "-1", "", " 80", "80 ", "8e3",
                     "0x50", "http", "123456", "٣"]:
            with self.subTest(text=text):
                self.assertRaises(ValueError, web.parse_port, text)

    def test_bind_addresses(self):
        for text, addr in [("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
                           ("0.0.0.0", "0.0.0.0"),
                           ("0:0:0:0:0:0:0:1", "::1")]:
            self.assertEqual(web.parse_bind(text), addr)
        for text in ["localhost", "", "127.0.0.1:80", "1.2.3", "256.0.0.1",
                     "224.0.0.1", "ff02::1", "127.0.0.1 ", "[::1]",
                     "example.org"]:
            with self.subTest(text=text):
                self.assertRaises(ValueError, web.parse_bind, text)

    def test_the_cli_says_so_in_one_line(self):
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            env = dict(os.environ, BLADEPLANE_RUN_DIR=d)
            for args, want in [
                (["--port", "0"], "bladeplane: error: bladeplane web: "
                 "argument --port: port 0 is out of range (1 to 65535)"),
                (["--port", "http"], "bladeplane: error: bladeplane web: "
                 "argument --port: not a port number: 'http'"),
                (["--bind", "localhost"], "bladeplane: error: bladeplane "
                 "web: argument --bind: not an IP address: 'localhost'"),
                (["../etc"], "bladeplane: error: '../etc' is not a "
                 "topology name"),
                ([], "bladeplane: error: no topology is up"),
            ]:
                with self.subTest(args):
                    proc = subprocess.run(
                        [sys.executable, CLI, "web"] + args,
                        capture_output=True, timeout=60, env=env)
                    err = proc.stderr.decode()
                    self.assertEqual(proc.returncode, 1)
                    self.assertEqual(len(err.splitlines()), 1, err)
                    self.assertTrue(err.startswith(want), err)

    def test_host_header(self):
        for host in ["127.0.0.1:8070", "localhost:8070", "[::1]:8070",
                     "LOCALHOST", "127.0.0.1", "localhost."]:
            self.assertTrue(web.host_allowed(host, True), host)
        for host in [None, "", "evil.example", "evil.example:8070",
                     "127.0.0.1.evil.example", "localhost.evil", "[::2]:80"]:
            self.assertFalse(web.host_allowed(host, True), host)
        self.assertTrue(web.host_allowed("evil.example", False))


class SnapshotTest(unittest.TestCase):
    """build_snapshot on recorded state trees."""

    def test_one_chassis_under_load_with_a_hog(self):
        spec, reads = recorded("one")
        alive = {("blade", "b0", "c1"): True, ("blade", "b1", "c1"): True,
                 ("chassis", "c1", None): True}
        snap = web.build_snapshot(reading("one", 1, alive),
                                  reads[0], seq=7, now=1000.0)
        json.dumps(snap)                        # it is JSON
        self.assertEqual((snap["topology"], snap["seq"], snap["time"],
                          snap["connected"], snap["error"]),
                         ("webdev", 7, 1000.0, True, None))
        self.assertAlmostEqual(snap["interval_s"], 1.007)
        blades = {b["id"]: b for b in snap["blades"]}
        self.assertEqual(list(blades), ["c1.b0", "c1.b1"])
        b0, b1 = blades["c1.b0"], blades["c1.b1"]
        self.assertEqual((b0["name"], b0["chassis"], b0["slot"], b0["alive"],
                          b0["in_rotation"], b0["link"], b0["sync"]),
                         ("b0", "c1", 0, True, True, True, True))
        # b1 runs the hog: 100 % CPU, and util sent the interval's new
        # flows (7) to b0.
        self.assertEqual((b0["cpu"], b0["pressure"], b0["new"], b0["share"]),
                         (19, 120, 7, 1.0))
        self.assertEqual((b1["cpu"], b1["pressure"], b1["new"], b1["share"]),
                         (100, 13, 0, 0.0))
        ch = snap["chassis"][0]
        self.assertEqual((ch["name"], ch["answered"], ch["alive"],
                          ch["uplink"], ch["uplink_link"], ch["blades"]),
                         ("c1", True, True, True, True, {0: "b0", 1: "b1"}))
        ports = {p["name"]: p for p in ch["ports"]}
        self.assertEqual(list(ports), ["slot0", "slot1", "slot2", "uplink"])
        self.assertEqual((ports["slot2"]["link"], ports["slot2"]["blade"],
                          ports["slot2"]["sync"]), (False, None, False))
        self.assertEqual((ports["uplink"]["sync"],
                          ports["uplink"]["code_errors"]), (None, None))
        self.assertEqual(ch["drops"], {})
        services = {s["name"]: s for s in ch["services"]}
        self.assertEqual((services["web"]["new"], services["web"]["ports"],
                          services["web"]["policy"],
                          services["web"]["no_blade"]), (7, "80", "util", 0))
        self.assertEqual([(t["blade"], t["new"]) for t in
                          services["web"]["to"]], [("b0", 7), ("b1", 0)])
        self.assertEqual((services["admin"]["kind"], services["admin"]["new"],
                          services["admin"]["ports"]),
                         ("steering", 0, "8000-8099"))
        # Only rules that got new flows make a decision line.
        self.assertEqual(snap["decisions"],
                         [{"chassis": "c1", "service": "web",
                           "policy": "util", "new": 7,
                           "to": [{"blade": "b0", "chassis": "c1",
                                   "slot": 0, "new": 7,
                                   "share": services["web"]["to"][0]
                                   ["share"]}]}])
        self.assertEqual(snap["links"], [])

    def test_a_first_read_has_no_interval(self):
        snap = web.build_snapshot(reading("one", 0), {})
        self.assertIsNone(snap["interval_s"])
        self.assertEqual([(b["new"], b["share"], b["cpu"])
                          for b in snap["blades"]],
                         [(None, None, 44), (None, None, 100)])
        self.assertEqual(snap["decisions"], [])
        self.assertEqual([s["new"] for s in snap["chassis"][0]["services"]],
                         [None, None])

    def test_counters_that_went_back_mean_a_restarted_switch(self):
        _, reads = recorded("one")
        snap = web.build_snapshot(reading("one", 0), reads[1])
        self.assertEqual([b["new"] for b in snap["blades"]], [None, None])
        self.assertEqual(snap["decisions"], [])

    def test_drops_of_the_interval(self):
        _, reads = recorded("one")
        before = json.loads(json.dumps(reads[0]))
        after = json.loads(json.dumps(reads[1]))
        before["c1"]["drops"]["no_service"] = 3
        after["c1"]["drops"]["no_service"] = 5
        after["c1"]["drops"]["runt"] = 1
        spec, _ = recorded("one")
        snap = web.build_snapshot(web.Reading("webdev", spec, states=after),
                                  before)
        ch = snap["chassis"][0]
        self.assertEqual(ch["drops"], {"no_service": 5, "runt": 1})
        self.assertEqual(ch["drops_new"], {"no_service": 2, "runt": 1})

    def test_a_ring_with_a_blocked_link(self):
        spec, reads = recorded("ring")
        snap = web.build_snapshot(web.Reading("webring", spec,
                                              states=dict(reads[0])), {})
        self.assertEqual([(x["a"], x["a_port"], x["b"], x["b_port"],
                           x["state"]) for x in snap["links"]],
                         [("c1", "chain0", "c2", "chain0", "forwarding"),
                          ("c2", "chain1", "c3", "chain0", "blocked"),
                          ("c3", "chain1", "c1", "chain1", "forwarding")])
        fabric = {c["name"]: c["fabric"] for c in snap["chassis"]}
        self.assertEqual([(n, f["root"]) for n, f in fabric.items()],
                         [("c1", True), ("c2", False), ("c3", False)])
        self.assertEqual([(p["name"], p["state"]) for p in
                          fabric["c3"]["ports"]],
                         [("chain0", "blocked (loop)"),
                          ("chain1", "forwarding")])
        self.assertEqual(snap["blades"], [])
        # A chassis that does not answer: its links are judged by the
        # other end; a link down at either end is down.
        states = dict(reads[0])
        del states["c2"]
        states["c1"] = json.loads(json.dumps(states["c1"]))
        for p in states["c1"]["ports"]:
            if p["name"] == "chain1":
                p["link"] = False
        snap = web.build_snapshot(web.Reading("webring", spec,
                                              states=states), {})
        self.assertEqual([x["state"] for x in snap["links"]],
                         ["forwarding", "blocked", "down"])
        self.assertFalse(snap["chassis"][1]["answered"])

    def test_a_topology_that_is_down(self):
        spec, _ = recorded("one")
        snap = web.build_snapshot(web.Reading(
            "webdev", spec, error="topology 'webdev' is not up (up: none)",
            alive={("blade", "b1", "c1"): False}), {})
        self.assertFalse(snap["connected"])
        self.assertEqual(snap["error"],
                         "topology 'webdev' is not up (up: none)")
        self.assertEqual([(b["id"], b["present"], b["in_rotation"],
                           b["reason"], b["cpu"], b["alive"])
                          for b in snap["blades"]],
                         [("c1.b0", False, False,
                           "no answer from the switch", None, None),
                          ("c1.b1", False, False,
                           "no answer from the switch", None, False)])
        # Never up since the server started: nothing to draw.
        snap = web.build_snapshot(web.Reading("x", None, error="not up"), {})
        self.assertEqual((snap["chassis"], snap["blades"], snap["connected"]),
                         ([], [], False))

    def test_history_samples(self):
        _, reads = recorded("one")
        snap = web.build_snapshot(reading("one", 1), reads[0], now=5.0)
        self.assertEqual(web.sample(snap)["blades"]["c1.b1"],
                         {"cpu": 100, "irq": 0, "pressure": 13, "share": 0.0,
                          "in_rotation": True, "link": True})


class FakeReader:
    """Plays recorded reads, or a topology that is down."""

    def __init__(self) -> None:
        self.spec, self.reads = recorded("one")
        self.n = 0
        self.down = False

    def __call__(self, name: str, spec: Any) -> web.Reading:
        if self.down:
            return web.Reading(name, spec, error=f"topology '{name}' is "
                               f"not up (up: none)")
        states = self.reads[self.n % len(self.reads)]
        self.n += 1
        return web.Reading(name, self.spec, states=dict(states))


class ServerTest(unittest.TestCase):
    """The HTTP server on a port of 127.0.0.1, with a poller that plays
    recorded reads (polled by the test, not by its thread)."""

    max_clients = 2

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(tmp.cleanup)
        chart = os.path.join(tmp.name, "chart.min.js")
        with open(chart, "w") as f:
            f.write("/* a stand-in for Chart.js */\n")
        self.reader = FakeReader()
        self.poller = web.Poller("webdev", reader=self.reader)
        self.poller.poll()
        self.server = web.make_server("127.0.0.1", 0, self.poller,
                                      web.load_static(chart),
                                      max_clients=self.max_clients)
        self.port = self.server.server_address[1]
        thread = threading.Thread(target=self.server.serve_forever,
                                  kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(self.server.stop)

    def request(self, path: str, method: str = "GET",
                host: str | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.putrequest(method, path, skip_host=True,
                            skip_accept_encoding=True)
            conn.putheader("Host", host or f"127.0.0.1:{self.port}")
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def test_the_page_and_its_files(self):
        for path, ctype, piece in [
                ("/", "text/html", b'<script src="/app.js"'),
                ("/?tab=1", "text/html", b"<svg id=\"graph\""),
                ("/app.js", "text/javascript", b"new EventSource"),
                ("/style.css", "text/css", b"#conn"),
                ("/chart.js", "text/javascript", b"stand-in for Chart.js")]:
            with self.subTest(path):
                status, headers, body = self.request(path)
                self.assertEqual(status, 200)
                self.assertTrue(headers["Content-Type"].startswith(ctype))
                self.assertIn(piece, body)
                self.assertEqual(headers["X-Content-Type-Options"],
                                 "nosniff")
                self.assertIn("default-src 'self'",
                              headers["Content-Security-Policy"])

    def test_the_snapshot(self):
        status, headers, body = self.request("/api/snapshot")
        self.assertEqual((status, headers["Content-Type"]),
                         (200, "application/json"))
        snap = json.loads(body)
        self.assertEqual((snap["topology"], snap["seq"], snap["connected"]),
                         ("webdev", 1, True))
        self.assertEqual([b["id"] for b in snap["blades"]],
                         ["c1.b0", "c1.b1"])

    def test_unknown_paths_and_traversal(self):
        for path in ["/nope", "/index.html", "/web/app.js",
                     "/scripts/bladeplane_cli/web.py", "/../../etc/passwd",
                     "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd",
                     "/app.js/", "/app.js/..", "/api", "/api/events/x",
                     "/usr/share/javascript/chart.js/chart.min.js",
                     "/" + "a" * 5000, "*", "etc/passwd"]:
            with self.subTest(path[:40]):
                status, _, body = self.request(path)
                self.assertEqual(status, 404)
                self.assertEqual(body, b"not found\n")

    def test_get_only(self):
        for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
                       "TRACE"]:
            with self.subTest(method):
                status, headers, _ = self.request("/", method)
                self.assertEqual(status, 405)
                self.assertEqual(headers["Allow"], "GET")
        status, _, _ = self.request("/", "BREW")
        self.assertEqual(status, 501)

    def test_a_foreign_host_name_is_refused(self):
        status, _, body = self.request("/api/snapshot",
                                       host="evil.example:80")
        self.assertEqual(status, 403)
        self.assertNotIn(b"webdev", body)
        status, _, _ = self.request("/", host=f"localhost:{self.port}")
        self.assertEqual(status, 200)

    def test_malformed_requests(self):
        for request, answer in [
                (b"GET\r\n\r\n", b"Error code: 400"),
                (b"GET / HTTP/1.1 x\r\n\r\n", b"Error code: 400"),
                (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                 b"Error code: 400"),
                (b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n",
                 b"HTTP/1.0 414 "),
                (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 150 + b"\r\n",
                 b"HTTP/1.0 431 ")]:
            with self.subTest(request[:20]), \
                    socket.create_connection(("127.0.0.1", self.port),
                                             5) as s:
                s.sendall(request)
                got = b""
                while chunk := s.recv(4096):
                    got += chunk
                self.assertIn(answer, got)
        # and it still serves
        self.assertEqual(self.request("/")[0], 200)

    def stream(self) -> tuple[socket.socket, io.BufferedReader]:
        s = socket.create_connection(("127.0.0.1", self.port), 5)
        s.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:"
                  f"{self.port}\r\n\r\n".encode())
        return s, s.makefile("rb")

    @staticmethod
    def events(f: io.BufferedReader, count: int) -> list[tuple[str, str]]:
        """The next `count` named events of a stream (name, data)."""
        out: list[tuple[str, str]] = []
        name = data = None
        while len(out) < count:
            line = f.readline().decode()
            if not line:
                raise AssertionError(f"the stream ended after {out}")
            line = line.rstrip("\r\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and name is not None and data is not None:
                out.append((name, data))
                name = data = None
        return out

    def test_the_event_stream(self):
        s, f = self.stream()
        with s, f:
            self.assertEqual(f.readline(), b"HTTP/1.0 200 OK\r\n")
            (h, history), (n, first) = self.events(f, 2)
            self.assertEqual((h, n), ("history", "snapshot"))
            self.assertEqual(len(json.loads(history)), 1)
            self.assertEqual(json.loads(first)["seq"], 1)
            # Each poll reaches the page; the topology going down and
            # coming back too.
            self.poller.poll()
            [(n, second)] = self.events(f, 1)
            snap = json.loads(second)
            self.assertEqual((snap["seq"], snap["connected"]), (2, True))
            self.assertEqual([b["new"] for b in snap["blades"]], [7, 0])
            self.reader.down = True
            self.poller.poll()
            snap = json.loads(self.events(f, 1)[0][1])
            self.assertEqual((snap["seq"], snap["connected"], snap["error"]),
                             (3, False, "topology 'webdev' is not up "
                              "(up: none)"))
            self.assertEqual([b["in_rotation"] for b in snap["blades"]],
                             [False, False])
            self.reader.down = False
            self.poller.poll()
            snap = json.loads(self.events(f, 1)[0][1])
            self.assertEqual((snap["seq"], snap["connected"]), (4, True))

    def test_event_streams_are_bounded(self):
        open_streams = [self.stream() for _ in range(self.max_clients)]
        for s, f in open_streams:
            self.events(f, 2)
        s, f = self.stream()
        with s, f:
            status = f.readline()
            self.assertRegex(status, rb"^HTTP/1\.0 503 ")
            self.assertIn(b"Retry-After: 5\r\n", f.read())
        # Closing one makes room, once its server side notices.
        for s, f in open_streams[1:]:
            f.close()
            s.close()
        deadline = time.monotonic() + 10
        while True:
            self.poller.poll()
            s, f = self.stream()
            with s, f:
                if f.readline().startswith(b"HTTP/1.0 200"):
                    break
            self.assertLess(time.monotonic(), deadline,
                            "a closed stream never freed its place")
            time.sleep(0.1)
        s, f = open_streams[0]
        f.close()
        s.close()

    def test_a_port_in_use(self):
        with self.assertRaisesRegex(Failure, rf"^port {self.port} on "
                                    rf"127\.0\.0\.1 is in use: choose "
                                    rf"another with --port$"):
            web.make_server("127.0.0.1", self.port, self.poller, {})

    @unittest.skipUnless(socket.has_ipv6, "no IPv6")
    def test_an_ipv6_loopback(self):
        try:
            server = web.make_server("::1", 0, self.poller, {})
        except Exception as e:      # a host without ::1
            self.skipTest(str(e))
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            conn = http.client.HTTPConnection("::1", port, timeout=5)
            conn.request("GET", "/api/snapshot")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read())["topology"], "webdev")
            conn.close()
        finally:
            server.stop()
            thread.join(5)
        self.assertEqual(web.url("::1", 8070), "http://[::1]:8070/")

    def test_a_reader_that_fails_is_a_disconnection(self):
        def broken(name: str, spec: Any) -> web.Reading:
            raise RuntimeError("boom")
        poller = web.Poller("webdev", reader=broken)
        snap = poller.poll()
        self.assertEqual((snap["connected"], snap["error"]),
                         (False, "reading the topology failed: boom"))

    def test_the_poller_thread(self):
        poller = web.Poller("webdev", interval=0.05, reader=FakeReader())
        poller.start()
        try:
            snap = poller.newer(0, 5)
            self.assertIsNotNone(snap)
            assert snap is not None
            later = poller.newer(snap["seq"], 5)
            assert later is not None
            self.assertGreater(later["seq"], snap["seq"])
            self.assertLessEqual(len(poller.history_list()), web.HISTORY)
        finally:
            poller.stop()
            poller.join(5)
        self.assertFalse(poller.is_alive())


class FakeTopologyTest(unittest.TestCase):
    """`bladeplane web` on a topology of fake_qemu.py processes: the real
    reads over QMP, the topology going down (`down`) and up again."""

    TOPO = """\
name = "w1"
[[chassis]]
name = "c1"
slots = 3
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
"""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        self.env = {"BLADEPLANE_RUN_DIR": os.path.join(self.tmp.name, "run")}
        patcher = mock.patch.dict(os.environ, self.env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self.stop_all)
        self.topo = topology.loads(self.TOPO, "/x/w1.toml")

    def stop_all(self) -> None:
        for run in rundir.runs():
            rundir.stop(run.processes(), quit_timeout=2, term_timeout=2)

    def up(self) -> rundir.Run:
        with contextlib.redirect_stdout(io.StringIO()):
            run, _ = chassis.Launcher(self.topo, "tcg", FAKE_QEMU, MANIFEST,
                                      ready_timeout=30,
                                      rotation_timeout=10).up()
        return run

    def test_down_and_up_again(self):
        run = self.up()
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, CLI, "web", "w1", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, **self.env))

        def stop() -> None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(10)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        assert proc.stdout is not None
        self.assertEqual(proc.stdout.readline().decode(),
                         f"web view of topology w1: http://127.0.0.1:{port}/"
                         f" (Ctrl-C stops it)\n")

        def snapshot(want: Any) -> dict:
            deadline = time.monotonic() + 15
            while True:
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=5)
                conn.request("GET", "/api/snapshot")
                snap = json.loads(conn.getresponse().read() or b"{}")
                conn.close()
                if snap and want(snap):
                    return snap
                self.assertLess(time.monotonic(), deadline, snap)
                time.sleep(0.1)

        snap = snapshot(lambda s: s["connected"] and
                        s["interval_s"] is not None)
        self.assertEqual([(b["name"], b["in_rotation"], b["alive"])
                          for b in snap["blades"]],
                         [("b0", True, True), ("b1", True, True)])
        # The fake adds slot+1 new flows to each blade per read.
        self.assertEqual([b["new"] for b in snap["blades"]], [1, 2])

        with contextlib.redirect_stdout(io.StringIO()):
            chassis.down(run)
        snap = snapshot(lambda s: not s["connected"])
        self.assertEqual(snap["error"], "topology 'w1' is not up (up: none)")
        self.assertEqual([b["name"] for b in snap["blades"]], ["b0", "b1"])

        self.up()
        snap = snapshot(lambda s: s["connected"])
        self.assertEqual([b["in_rotation"] for b in snap["blades"]],
                         [True, True])
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(10), 0)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    unittest.main()
