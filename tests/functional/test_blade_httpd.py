"""blade-httpd, the blade's keep-alive HTTP/1.1 server (images/programs/
blade-httpd.c): several requests a connection, the CGI's work and checks,
hostile requests answered 4xx without harm to the server, its bounds.

First the image's own binary run on the host (quick, and it can be
pushed to its limits there), then in a booted blade behind the switch,
with blade-hog's nice levels and on/off periods."""

import hashlib
import os
import random
import re
import signal
import socket
import subprocess
import time
import unittest

from bptest import TopologyTestCase, free_port
from bladeplane_cli import image

ANSWER_RE = re.compile(r"^blade=(\S+) kb=(\d+) seconds=\d+\.\d{3} "
                       r"md5=([0-9a-f]{32})\n$")

# Requests that must be answered with this status, and the connection
# closed when the framing cannot be trusted any more.
HOSTILE = [
    (b"garbage\r\n\r\n", 400),
    (b"GET cgi-bin/work HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET /cgi-bin/work?kb=1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"\x00\xff\xfe\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
     b"Content-Length: 2\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"GET / HTTP/7.0\r\n\r\n", 505),
    (b"GET /" + b"a" * 400 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 9000, 431),
]
# Well-framed requests the server refuses, keeping the connection.
REFUSED = [
    (b"/cgi-bin/work?kb=-1", 400), (b"/cgi-bin/work?kb=99999999", 400),
    (b"/cgi-bin/work?kb=65537", 400), (b"/cgi-bin/work?kb=1;reboot", 400),
    (b"/cgi-bin/work?x=1", 400), (b"/cgi-bin/work?kb=", 400),
    (b"/nothing", 404),
]
NO_HOST = b"GET /cgi-bin/work?kb=1 HTTP/1.1\r\n\r\n"


def request(path, host=b"t", extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + \
        extra + b"\r\n"


class Client:
    """A raw HTTP/1.1 client on one connection: responses are read by
    their Content-Length, so several can follow on the connection."""

    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def response(self):
        """(status, headers {lower name: value}, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body.decode()

    def closed(self):
        """True if the server closed the connection (after what is
        buffered)."""
        try:
            return not self.sock.recv(1)
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class HttpdChecks:
    """Checks run against self.port, where blade-httpd answers."""

    HOSTNAME = None         # the host name the answers carry

    def check_answer(self, body, kb):
        m = ANSWER_RE.match(body)
        self.assertIsNotNone(m, body)
        self.assertEqual(int(m.group(2)), kb)
        self.assertEqual(m.group(3),
                         hashlib.md5(b"\0" * 1024 * kb).hexdigest())
        return m.group(1)

    def test_keep_alive_several_requests(self):
        c = Client(self.port)
        try:
            blades = set()
            for kb in (0, 1, 16, 64):
                c.send(request(f"/cgi-bin/work?kb={kb}".encode()))
                status, headers, body = c.response()
                self.assertEqual(status, 200, body)
                self.assertEqual(headers["connection"], "keep-alive")
                blades.add(self.check_answer(body, kb))
            # The default is the CGI's, 64 KiB.
            c.send(request(b"/cgi-bin/work"))
            status, _, body = c.response()
            self.assertEqual(status, 200)
            blades.add(self.check_answer(body, 64))
            self.assertEqual(len(blades), 1)
            if self.HOSTNAME:
                self.assertEqual(blades, {self.HOSTNAME})
            # The last one asks to close: answered, then closed.
            c.send(request(b"/cgi-bin/work?kb=2",
                           extra=b"Connection: close\r\n"))
            status, headers, body = c.response()
            self.assertEqual((status, headers["connection"]), (200, "close"))
            self.check_answer(body, 2)
            self.assertTrue(c.closed())
        finally:
            c.close()

    def test_pipelined_and_head(self):
        c = Client(self.port)
        try:
            c.send(request(b"/cgi-bin/work?kb=1") +
                   b"HEAD /cgi-bin/work?kb=3 HTTP/1.1\r\nHost: t\r\n\r\n" +
                   request(b"/cgi-bin/work?kb=2"))
            status, _, body = c.response()
            self.check_answer(body, 1)
            # HEAD: the headers of the answer, no body.
            while b"\r\n\r\n" not in c.buf:
                c._fill()
            head, c.buf = c.buf.split(b"\r\n\r\n", 1)
            self.assertTrue(head.startswith(b"HTTP/1.1 200 OK"), head)
            status, _, body = c.response()
            self.check_answer(body, 2)
        finally:
            c.close()

    def test_http10(self):
        c = Client(self.port)
        try:
            c.send(b"GET /cgi-bin/work?kb=1 HTTP/1.0\r\n\r\n")
            status, headers, body = c.response()
            self.assertEqual((status, headers["connection"]), (200, "close"))
            self.assertTrue(c.closed())
        finally:
            c.close()
        c = Client(self.port)
        try:
            c.send(b"GET /cgi-bin/work?kb=1 HTTP/1.0\r\n"
                   b"Connection: keep-alive\r\n\r\n")
            status, headers, _ = c.response()
            self.assertEqual(headers["connection"], "keep-alive")
            c.send(b"GET /cgi-bin/work?kb=2 HTTP/1.0\r\n\r\n")
            status, _, body = c.response()
            self.check_answer(body, 2)
        finally:
            c.close()

    def test_refused_requests_keep_the_connection(self):
        c = Client(self.port)
        try:
            for path, want in REFUSED:
                c.send(request(path))
                status, headers, body = c.response()
                self.assertEqual(status, want, (path, body))
                self.assertEqual(headers["connection"], "keep-alive", path)
            c.send(NO_HOST)
            self.assertEqual(c.response()[0], 400)
            c.send(b"POST /cgi-bin/work HTTP/1.1\r\nHost: t\r\n"
                   b"Content-Length: 5\r\n\r\nhello")
            status, headers, _ = c.response()
            self.assertEqual((status, headers["allow"]), (405, "GET, HEAD"))
            c.send(request(b"/cgi-bin/work?kb=1"))
            status, _, body = c.response()
            self.check_answer(body, 1)
        finally:
            c.close()

    def test_hostile_requests_answered_and_server_survives(self):
        for data, want in HOSTILE:
            c = Client(self.port)
            try:
                c.send(data)
                status, headers, _ = c.response()
                self.assertEqual(status, want, data[:60])
                self.assertEqual(headers["connection"], "close", data[:60])
            finally:
                c.close()
        # Random bytes, and connections dropped half way.
        rng = random.Random(13)
        for i in range(60):
            c = Client(self.port)
            try:
                c.send(bytes(rng.randrange(256) for _ in range(rng.randint(
                    1, 300))) + (b"\r\n\r\n" if i % 2 else b""))
            finally:
                c.close()
        c = Client(self.port)
        try:
            c.send(request(b"/cgi-bin/work?kb=4"))
            status, _, body = c.response()
            self.assertEqual(status, 200)
            self.check_answer(body, 4)
        finally:
            c.close()
        self.assert_workers_unchanged()


class BladeHttpdHostTest(HttpdChecks, unittest.TestCase):
    """The image's binary on the host: two workers, three connections
    each, so that the bounds can be reached."""

    @classmethod
    def setUpClass(cls):
        binary = image.build_programs()["usr/bin/blade-httpd"]
        cls.port = free_port()
        cls.proc = subprocess.Popen(
            [binary, "-p", str(cls.port), "-w", "2", "-c", "3"],
            stderr=subprocess.PIPE)
        # The port accepts as soon as the server listens, which is before
        # it has forked its workers: ready means both workers exist too.
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), 1).close()
                if len(cls.worker_pids()) == 2:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                cls.proc.kill()
                raise AssertionError("blade-httpd did not start two workers "
                                     "in 10 s")
            time.sleep(0.05)
        cls.workers = cls.worker_pids()

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(10)
        cls.proc.stderr.close()

    @classmethod
    def worker_pids(cls):
        with open(f"/proc/{cls.proc.pid}/task/{cls.proc.pid}/children") as f:
            return set(f.read().split())

    def assert_workers_unchanged(self):
        self.assertIsNone(self.proc.poll())
        self.assertEqual(self.worker_pids(), self.workers)

    def test_connection_limit(self):
        # 2 workers x 3: six connections are served; a seventh waits in
        # the listen backlog until one of them closes, then is served.
        held = [Client(self.port) for _ in range(6)]
        extra = None
        try:
            for c in held:          # each is served: it holds a slot
                c.send(request(b"/cgi-bin/work?kb=0"))
                self.assertEqual(c.response()[0], 200)
            extra = Client(self.port, timeout=1)
            extra.send(request(b"/cgi-bin/work?kb=1"))
            with self.assertRaises(socket.timeout):
                extra.response()
            held.pop().close()
            extra.sock.settimeout(30)
            status, _, body = extra.response()
            self.assertEqual(status, 200)
            self.check_answer(body, 1)
        finally:
            for c in held + [extra] if extra else held:
                c.close()

    def test_incomplete_request_times_out(self):
        c = Client(self.port, timeout=30)
        try:
            start = time.monotonic()
            c.send(b"GET /cgi-bin/work?kb=1 HTTP/1.1\r\nHost: t\r\n")
            status, headers, _ = c.response()
            self.assertEqual((status, headers["connection"]), (408, "close"))
            self.assertGreaterEqual(time.monotonic() - start, 9)
        finally:
            c.close()


class BladeHttpdStopTest(unittest.TestCase):
    """SIGTERM ends the server at any moment, start-up included: a worker
    forked as the signal arrives must not outlive the master's wait."""

    def test_sigterm_during_start_up_ends_the_server(self):
        binary = image.build_programs()["usr/bin/blade-httpd"]
        for i in range(100):
            proc = subprocess.Popen(
                [binary, "-p", str(free_port()), "-w", "2", "-c", "3"],
                stderr=subprocess.DEVNULL)
            # Spread the signal over the first 2 ms: before the handler,
            # between the forks, and once both workers run.
            time.sleep((i % 10) * 0.0002)
            proc.terminate()
            try:
                code = proc.wait(10)
            except subprocess.TimeoutExpired:
                workers = open(f"/proc/{proc.pid}/task/{proc.pid}/"
                               "children").read().split()
                for pid in workers:
                    os.kill(int(pid), signal.SIGKILL)
                proc.wait()
                self.fail(f"round {i}: SIGTERM did not end blade-httpd in "
                          f"10 s; workers left: {workers}")
            # 0: its handler ran; -SIGTERM: it came before the handler.
            self.assertIn(code, (0, -signal.SIGTERM), f"round {i}")


class BladeHttpdBladeTest(HttpdChecks, TopologyTestCase):
    """In a booted blade, through the switch (port 8080 of the VIP); and
    blade-hog's nice levels and on/off periods on the same blade."""

    NAME = "fn-httpd"
    TOPOLOGY = """\
[[chassis]]
name = "c1"
slots = 1
[chassis.uplink]
forward = ["tcp:127.0.0.1:{port}-10.0.2.100:8080"]
[[chassis.blade]]
slot = 0
name = "h0"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 8080
"""

    HOSTNAME = "h0"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workers = cls.guest_workers()

    @classmethod
    def console(cls):
        return cls.blade_console("h0")

    @classmethod
    def sh(cls, command):
        con = cls.console()
        try:
            status, out = con.run(command, timeout=60)
        finally:
            con.close()
        if status != 0:
            raise AssertionError(f"'{command}' failed in h0: {out}")
        return out

    @classmethod
    def guest_workers(cls):
        # The master and one worker per CPU (one vCPU).
        return set(cls.sh("pidof blade-httpd").split())

    def assert_workers_unchanged(self):
        self.assertEqual(self.guest_workers(), self.workers)
        self.assertEqual(len(self.workers), 2)

    def test_hog_nice_levels(self):
        for nice in ("0", "-10", "5"):
            opt = "" if nice == "0" else f"-n {nice} "
            self.sh(f"blade-hog start {opt}2")
            try:
                pids = self.sh("cat /run/blade-hog.pids").split()
                self.assertEqual(len(pids), 2)
                for pid in pids:
                    stat = self.sh(f"cat /proc/{pid}/stat").split()
                    self.assertEqual(stat[18], nice, f"nice of {pid}")
                want = "running 2" + ("" if nice == "0" else f" nice {nice}")
                self.assertEqual(self.sh("blade-hog status").strip(), want)
            finally:
                self.sh("blade-hog stop")
            for pid in pids:
                self.assertNotEqual(self.console_status(f"[ -d /proc/{pid} ]"),
                                    0, "a loop outlived 'stop'")
        for bad in ("-n -21", "-n x", "-p 0,1", "-p 1", "-n"):
            self.assertEqual(self.console_status(f"blade-hog start {bad}"),
                             2, bad)

    def test_hog_on_off(self):
        # ON:OFF, as blade.run passes it, is ON,OFF
        self.sh("blade-hog start -n -10 -p 1:1 1")
        try:
            self.assertEqual(self.sh("blade-hog status").strip(),
                             "running 1 on 1 off 1 nice -10")
            # Within 4 s the loop is seen both running (at nice -10) and
            # paused.
            seen = self.sh(
                "i=0; while [ $i -lt 40 ]; do "
                "l=$(ps -o nice,args | grep '[w]hile :' | head -1); "
                "if [ -n \"$l\" ]; then set -- $l; echo on $1; "
                "else echo off; fi; usleep 100000; i=$((i+1)); done").split()
            self.assertIn("off", seen)
            self.assertIn("on", seen)
            nices = {seen[i + 1] for i, w in enumerate(seen) if w == "on"}
            self.assertEqual(nices, {"-10"})
        finally:
            self.sh("blade-hog stop")
        # 'stop' kills the controller, which kills its loops on its way
        # out: wait for that, a few seconds at most.
        self.assertEqual(self.console_status(
            "i=0; while ps -o args | grep -q '[w]hile :' && "
            "[ $i -lt 50 ]; do usleep 100000; i=$((i+1)); done; "
            "[ $i -lt 50 ]"), 0, "loops outlived 'stop'")

    def console_status(self, command):
        con = self.console()
        try:
            return con.run(command, timeout=60)[0]
        finally:
            con.close()


if __name__ == "__main__":
    unittest.main()
