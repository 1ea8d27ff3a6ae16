"""blade-loadgen, the client blade's load generator (images/programs/
blade-loadgen.c): the image's binary run on the host against blade-httpd
(two of them, with host names of their own) and against a scripted server
for the answers blade-httpd never gives.

What the balancing bench relies on: every target of a round gets the same
seeded arrivals, the targets rotate from round to round, the log has one
line per measured request with consistent times and the blade that
answered, failed connections are counted with their reason, and bad
arguments and hostile answers end cleanly."""

import re
import shutil
import socket
import subprocess
import threading
import time
import unittest
from collections import Counter, defaultdict

from bptest import free_port
from bladeplane_cli import image

REQ_RE = re.compile(r"^req (\d+) (\d+) (\d+) (\d+) (\S+) (\d+) (\d+) (\d+)$")
FAIL_RE = re.compile(r"^fail (\d+) (\d+) (\d+) ([a-z0-9]+)$")
PHASE_RE = re.compile(r"^phase (\d+) (\d+) (\d+)$")
DONE_RE = re.compile(r"^loadgen-done: requests (\d+) failed (\d+) "
                     r"log_dropped (\d+)$")
INFO_RE = re.compile(r"^(loadgen-ready: \d+ blades at \d+\.\d{3} s|"
                     r"capacity_rps: \d+\.\d\d|rate_rps: \d+\.\d\d)$")
PATH = "/cgi-bin/work?kb=1"


def can_unshare_uts():
    return bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "-u", "true"], capture_output=True).returncode == 0


def wait_listening(port, proc):
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Log:
    """blade-loadgen's output, every line checked against its format."""

    def __init__(self, text):
        self.phases = []        # (target, round, start_ns)
        self.reqs = []          # dicts, in the order printed
        self.fails = []         # (target, round, conn, reason)
        self.info = []
        self.done = None
        phase = None
        for line in text.splitlines():
            if INFO_RE.match(line):
                self.info.append(line)
            elif m := PHASE_RE.match(line):
                phase = tuple(map(int, m.groups()))
                self.phases.append(phase)
            elif m := REQ_RE.match(line):
                g = m.groups()
                self.reqs.append({
                    "target": int(g[0]), "round": int(g[1]),
                    "conn": int(g[2]), "req": int(g[3]), "blade": g[4],
                    "due": int(g[5]), "start": int(g[6]), "end": int(g[7]),
                    "phase": phase})
                assert phase and phase[:2] == (int(g[0]), int(g[1])), line
            elif m := FAIL_RE.match(line):
                g = m.groups()
                self.fails.append((int(g[0]), int(g[1]), int(g[2]), g[3]))
                assert phase and phase[:2] == (int(g[0]), int(g[1])), line
            elif m := DONE_RE.match(line):
                assert self.done is None, "two loadgen-done lines"
                self.done = tuple(map(int, m.groups()))
            else:
                raise AssertionError(f"unexpected line: {line!r}")
        assert self.done is not None, "no loadgen-done line"
        assert text.endswith(line + "\n") and DONE_RE.match(line), \
            "loadgen-done is not the last line"

    def connections(self):
        """{(target, round, conn): [request indexes]}"""
        conns = defaultdict(list)
        for r in self.reqs:
            conns[(r["target"], r["round"], r["conn"])].append(r["req"])
        return conns


class ScriptedServer:
    """A server on 127.0.0.1 that answers every request with what
    answer(n) returns for the n-th request (None: close without an
    answer; "hang": say nothing), then closes the connection."""

    def __init__(self, answer):
        self.answer = answer
        self.count = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,),
                             daemon=True).start()

    def _one(self, conn):
        with conn:
            conn.settimeout(10)
            buf = b""
            try:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                with self.lock:
                    n = self.count
                    self.count += 1
                data = self.answer(n)
                if data == "hang":
                    conn.recv(4096)     # until the client gives up
                    return
                if data is not None:
                    conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(4096)         # the client's close
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()


def ok_answer(body):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body)) + body


class BladeLoadgenTest(unittest.TestCase):
    NAMES = ("bladeA", "bladeB")

    @classmethod
    def setUpClass(cls):
        built = image.build_programs()
        cls.loadgen = built["usr/bin/blade-loadgen"]
        httpd = built["usr/bin/blade-httpd"]
        cls.named = can_unshare_uts()
        cls.procs, cls.ports = [], []
        try:
            for name in cls.NAMES:
                port = free_port()
                cmd = [httpd, "-p", str(port), "-w", "1"]
                if cls.named:
                    # blade-httpd answers blade=<its host name>: give each
                    # its own, in a UTS namespace of its own.
                    cmd = ["unshare", "-u", "sh", "-c",
                           f'hostname {name} && exec "$@"', "sh"] + cmd
                proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
                cls.procs.append(proc)
                cls.ports.append(port)
                wait_listening(port, proc)
        except BaseException:
            cls.tearDownClass()
            raise
        cls.hostnames = cls.NAMES if cls.named else (socket.gethostname(),) * 2

    @classmethod
    def tearDownClass(cls):
        for proc in cls.procs:
            proc.terminate()
            proc.wait(10)

    def target(self, i):
        return f"127.0.0.1:{self.ports[i]}"

    def run_loadgen(self, *args, timeout=60):
        proc = subprocess.run([self.loadgen] + [str(a) for a in args],
                              capture_output=True, text=True,
                              timeout=timeout)
        return proc.returncode, proc.stdout, proc.stderr

    def run_log(self, *args, rc=0):
        code, out, err = self.run_loadgen(*args)
        self.assertEqual(code, rc, err)
        return Log(out)

    def check_requests(self, log, reqs):
        """Each connection has its REQS requests, the times are in order
        and the first request starts when its connection was due."""
        for r in log.reqs:
            self.assertGreaterEqual(r["due"], r["phase"][2])
            self.assertGreaterEqual(r["start"], r["due"])
            self.assertGreaterEqual(r["end"], r["start"])
            if r["req"] == 0:
                self.assertEqual(r["start"], r["due"])
        conns = log.connections()
        for key, idx in conns.items():
            self.assertEqual(idx, list(range(reqs)), key)
        for c in conns:
            dues = {r["due"] for r in log.reqs
                    if (r["target"], r["round"], r["conn"]) == c}
            self.assertEqual(len(dues), 1, c)
        return conns

    def test_rounds_same_arrivals_and_blades(self):
        # Three rounds over the two blade-httpd: in each round both
        # targets get the same connections at the same offsets from their
        # phase's start, and the answers carry each server's name.
        log = self.run_log("-p", PATH, "-r", 3, "-R", 240, "-w", 0.2,
                           "-m", 0.5, "-n", 3, "-s", 7, self.target(0),
                           self.target(1))
        self.assertEqual(log.info, ["rate_rps: 240.00"])
        self.assertEqual(log.fails, [])
        self.assertEqual(len(log.phases), 6)
        conns = self.check_requests(log, 3)
        self.assertEqual(log.done, (len(log.reqs), 0, 0))
        for rnd in range(3):
            offsets = [sorted((r["conn"], r["req"], r["due"] - r["phase"][2])
                              for r in log.reqs
                              if (r["target"], r["round"]) == (t, rnd))
                       for t in (0, 1)]
            self.assertGreater(len(offsets[0]), 0)
            self.assertEqual(offsets[0], offsets[1])
        counts = Counter((t, rnd) for t, rnd, _ in conns)
        self.assertEqual(counts[(0, 0)], counts[(1, 0)])
        # Different rounds, different seeds: not the same arrivals.
        self.assertNotEqual(
            sorted(r["due"] - r["phase"][2] for r in log.reqs
                   if (r["target"], r["round"]) == (0, 0)),
            sorted(r["due"] - r["phase"][2] for r in log.reqs
                   if (r["target"], r["round"]) == (0, 1)))
        for t in (0, 1):
            self.assertEqual({r["blade"] for r in log.reqs
                              if r["target"] == t}, {self.hostnames[t]})
        if not self.named:
            self.skipTest("no 'unshare -u' here: both servers have the host's "
                          "name (the rest was checked)")

    def test_rotation(self):
        log = self.run_log("-p", PATH, "-r", 1, "-R", 40, "-w", 0,
                           "-m", 0.1, "-n", 3, self.target(0),
                           self.target(1), self.target(0))
        self.assertEqual([(t, r) for t, r, _ in log.phases],
                         [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (0, 1),
                          (2, 2), (0, 2), (1, 2)])
        starts = [s for _, _, s in log.phases]
        self.assertEqual(starts, sorted(starts))

    def test_same_seed_same_arrivals(self):
        def arrivals(seed):
            log = self.run_log("-p", PATH, "-r", 2, "-R", 200, "-w", 0.1,
                               "-m", 0.4, "-n", 2, "-s", seed,
                               self.target(0))
            self.assertEqual(log.fails, [])
            return sorted((r["target"], r["round"], r["conn"], r["req"],
                           r["due"] - r["phase"][2]) for r in log.reqs)

        first = arrivals(11)
        self.assertGreater(len(first), 0)
        self.assertEqual(arrivals(11), first)
        self.assertNotEqual(arrivals(12), first)

    def test_refused_target(self):
        # Nothing listens on the second target: its connections fail as
        # 'refused', the run goes on and exits 0.
        dead = f"127.0.0.1:{free_port()}"
        log = self.run_log("-p", PATH, "-r", 2, "-R", 200, "-w", 0,
                           "-m", 0.3, self.target(0), dead)
        self.assertGreater(len(log.fails), 0)
        self.assertEqual({(t, reason) for t, _, _, reason in log.fails},
                         {(1, "refused")})
        self.assertEqual({r["target"] for r in log.reqs}, {0})
        self.assertEqual(log.done[:2], (len(log.reqs), len(log.fails)))
        # Every arrival is accounted for: failed connections have ids
        # among the phase's, none twice.
        ids = [c for _, _, c, _ in log.fails]
        self.assertEqual(sorted(ids), list(range(len(ids))))
        # Nothing answered at all: exit 2 (the log is still printed).
        log = self.run_log("-r", 2, "-R", 200, "-w", 0, "-m", 0.3, dead,
                           rc=2)
        self.assertEqual(log.done[0], 0)
        self.assertGreater(log.done[1], 0)

    def test_wait_for_blades(self):
        code, out, err = self.run_loadgen("-W", 1, "-n", 0, self.target(0))
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^loadgen-ready: 1 blades at \d+\.\d{3} s\n")
        # Two blades behind one address: a server that answers with two
        # names in turn.
        srv = ScriptedServer(
            lambda n: ok_answer(b"blade=b%d kb=1\n" % (n % 2)))
        try:
            code, out, err = self.run_loadgen("-W", 2, "-T", 10, "-n", 0,
                                              f"127.0.0.1:{srv.port}")
            self.assertEqual(code, 0, err)
            self.assertIn("loadgen-ready: 2 blades at ", out)
        finally:
            srv.close()
        # Only one blade answers: it gives up after -T, naming it.
        code, out, err = self.run_loadgen("-W", 2, "-T", 1, "-n", 0,
                                          self.target(0))
        self.assertEqual(code, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("1 blade answered", err)
        self.assertIn(self.hostnames[0], err)
        # Nobody listens.
        code, out, err = self.run_loadgen("-W", 1, "-T", 1, "-n", 0,
                                          f"127.0.0.1:{free_port()}")
        self.assertEqual(code, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("0 blades answered", err)

    def test_wait_on_the_blades_own_addresses(self):
        # -A: -W probes the addresses given (each blade's own), in turn,
        # and never TARGET 1, here a server that counts what reaches it
        # (a VIP: the probes must not count among its flows).
        servers = [ScriptedServer(lambda n, b=b: ok_answer(b"blade=%s kb=1\n"
                                                           % b))
                   for b in (b"b0", b"b1", b"vip")]
        b0, b1, vip = (f"127.0.0.1:{s.port}" for s in servers)
        dead = f"127.0.0.1:{free_port()}"
        try:
            code, out, err = self.run_loadgen("-W", 2, "-A", b0, "-A", b1,
                                              "-n", 0, vip)
            self.assertEqual(code, 0, err)
            self.assertRegex(out, r"^loadgen-ready: 2 blades at ")
            self.assertEqual([s.count for s in servers], [1, 1, 0])
            # An address a blade answered on is not probed again; one
            # that refuses is, every 20 ms, until -T gives up, naming
            # the addresses and the blades that answered.
            code, out, err = self.run_loadgen("-W", 2, "-T", 0.5, "-A", b0,
                                              "-A", dead, "-n", 0, vip)
            self.assertEqual(code, 1)
            self.assertEqual(err, f"blade-loadgen: -W 2: 1 blade answered "
                                  f"on {b0},{dead} in 0.5 s: b0\n")
            self.assertEqual([s.count for s in servers], [2, 1, 0])
            # Every address answered, still too few blades (two addresses
            # of one blade): all of them are probed again.
            code, out, err = self.run_loadgen("-W", 2, "-T", 0.3, "-A", b1,
                                              "-A", b1, "-n", 0, vip)
            self.assertEqual(code, 1)
            self.assertGreater(servers[1].count, 3)
            self.assertEqual(servers[2].count, 0)
            # -S: the wait, then SETTLE_S more before anything else
            start = time.monotonic()
            code, out, err = self.run_loadgen("-W", 1, "-A", b0, "-S", 0.5,
                                              "-n", 0, vip)
            self.assertEqual(code, 0, err)
            self.assertGreaterEqual(time.monotonic() - start, 0.5)
            self.assertEqual(servers[2].count, 0)
        finally:
            for s in servers:
                s.close()

    def test_capacity_and_fraction(self):
        log = self.run_log("-p", PATH, "-r", 4, "-c", 0.5, "-C", 2,
                           "-f", 0.001, "-w", 0, "-m", 0.3, self.target(0))
        cap = float(log.info[0].split()[1])
        rate = float(log.info[1].split()[1])
        self.assertTrue(log.info[0].startswith("capacity_rps: "))
        self.assertTrue(log.info[1].startswith("rate_rps: "))
        self.assertGreater(cap, 0)
        self.assertAlmostEqual(rate, cap * 0.001, delta=0.006)
        # -K: the capacity of another target (the first one refuses)
        log = self.run_log("-p", PATH, "-r", 4, "-c", 0.5, "-C", 2,
                           "-K", 2, "-n", 0, f"127.0.0.1:{free_port()}",
                           self.target(0))
        self.assertGreater(float(log.info[0].split()[1]), 0)

    def test_log_bound(self):
        log = self.run_log("-p", PATH, "-r", 2, "-R", 400, "-w", 0,
                           "-m", 0.3, "-L", 5, self.target(0))
        requests, failed, dropped = log.done
        self.assertEqual(len(log.reqs), 5)
        self.assertGreater(requests, 5)
        self.assertEqual(dropped, requests - 5)

    def test_hostile_answers(self):
        # Each answer fails its connection with the reason named, and the
        # run ends normally (exit 2: nothing was answered).
        cases = [
            (b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", "http500"),
            (ok_answer(b"kb=1 no name here\n"), "noblade"),
            (ok_answer(b"blade= kb=1\n"), "noblade"),
            (ok_answer(b"blade=a\x01b\n"), "noblade"),
            (ok_answer(b"blade=" + b"x" * 64 + b"\n"), "noblade"),
            (b"HTTP/1.1 200 OK\r\n\r\nblade=x\n", "nolength"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
             "toolarge"),
            (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000, "toolarge"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
             b"Content-Length: 2\r\n\r\nx", "badhttp"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
             b"Transfer-Encoding: chunked\r\n\r\nabc", "badhttp"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
             b" folded\r\n\r\nabc", "badhttp"),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "badhttp"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx",
             "badhttp"),
            (b"\x00\xff garbage\r\n\r\n", "badhttp"),
            (ok_answer(b"blade=x\n") + b"extra", "badhttp"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nblade=x",
             "closed"),
            (None, "closed"),
            ("hang", "timeout"),
        ]
        for answer, reason in cases:
            with self.subTest(reason=reason, answer=answer[:40]
                              if isinstance(answer, bytes) else answer):
                srv = ScriptedServer(lambda n, a=answer: a)
                try:
                    log = self.run_log("-r", 2, "-R", 20, "-w", 0,
                                       "-m", 0.2, "-t", 0.5, "-s", 3,
                                       f"127.0.0.1:{srv.port}", rc=2)
                finally:
                    srv.close()
                self.assertGreater(len(log.fails), 0)
                self.assertEqual({f[3] for f in log.fails}, {reason})
                self.assertEqual(log.reqs, [])
        # A good first answer, then a bad one: the first is logged.
        srv = ScriptedServer(lambda n: ok_answer(b"blade=x kb=1\n"))
        try:
            log = self.run_log("-r", 2, "-R", 20, "-w", 0, "-m", 0.2,
                               "-s", 3, f"127.0.0.1:{srv.port}")
        finally:
            srv.close()
        # The scripted server closes after one answer: the second
        # request of each connection finds it closed.
        self.assertGreater(len(log.reqs), 0)
        self.assertEqual({r["req"] for r in log.reqs}, {0})
        self.assertLessEqual({f[3] for f in log.fails}, {"closed", "reset"})
        self.assertEqual(len(log.fails), len(log.reqs))

    def test_bad_arguments(self):
        t = "127.0.0.1:8080"
        cases = [
            ([], "no TARGET"),
            ([t], "-f FRACTION or -R RATE"),
            (["-f", "0.5", t], "-f needs -c"),
            (["-f", "0.5", "-R", "10", "-c", "1", t], "exclude"),
            (["-R", "10", "1.2.3", ], "bad TARGET"),
            (["-R", "10", "1.2.3.4:0"], "port"),
            (["-R", "10", "1.2.3.4:99999"], "port"),
            (["-R", "10", "host:80"], "bad TARGET"),
            (["-r", "0", "-R", "10", t], "-r"),
            (["-R", "0", t], "-R"),
            (["-R", "nan", t], "-R"),
            (["-R", "-5", t], "-R"),
            (["-m", "0", "-R", "10", t], "-m"),
            (["-t", "x", "-R", "10", t], "-t"),
            (["-C", "5000", "-R", "10", t], "-C"),
            (["-K", "0", "-R", "10", t], "-K"),
            (["-K", "2", "-R", "10", t], "past the last TARGET"),
            (["-W", "-1", "-R", "10", t], "-W"),
            (["-A", t, "-R", "10", t], "-A needs -W"),
            (["-W", "1", "-A", "1.2.3", "-R", "10", t], "bad -A address"),
            (["-W", "1", "-A", "1.2.3.4:0", "-R", "10", t], "port"),
            (["-S", "1", "-R", "10", t], "-S needs -W"),
            (["-W", "1", "-S", "-1", "-R", "10", t], "-S"),
            (["-T", "0", "-R", "10", t], "-T"),
            (["-L", "-1", "-R", "10", t], "-L"),
            (["-n", "x", "-R", "10", t], "-n"),
            (["-s", "-1", "-R", "10", t], "-s"),
            (["-p", "noslash", "-R", "10", t], "-p"),
            (["-p", "/a b", "-R", "10", t], "-p"),
            (["-p", "/" + "a" * 1100, "-R", "10", t], "-p"),
            (["-x", t], "-x"),
            (["-R"], "-R needs a value"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                code, out, err = self.run_loadgen(*args, timeout=10)
                self.assertEqual(code, 1)
                self.assertEqual(out, "")
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertTrue(err.startswith("blade-loadgen: "), err)
                self.assertIn(words, err)
        code, out, err = self.run_loadgen("-h")
        self.assertEqual(code, 0)
        self.assertTrue(out.startswith("usage: blade-loadgen "))


if __name__ == "__main__":
    unittest.main()
