"""Consoles: a program running a command on one (ConsoleSession), and
`bladeplane console` attaching stdin/stdout to one (attach); the load
generator's requests and counts."""

import http.server
import os
import re
import socket
import tempfile
import threading
import unittest

import cli_path  # noqa: F401
from bladeplane_cli import console
from bladeplane_cli.loadgen import LoadGenerator


class ConsoleServer:
    """A console socket; handle(conn) runs in a thread for one client."""

    def __init__(self, test, handle):
        self.dir = tempfile.TemporaryDirectory()
        test.addCleanup(self.dir.cleanup)
        self.path = os.path.join(self.dir.name, "b0.console")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        test.addCleanup(self.sock.close)
        self.received = b""
        self.thread = threading.Thread(target=self._serve, args=(handle,))
        self.thread.start()
        test.addCleanup(self.thread.join, 5)

    def _serve(self, handle):
        conn, _ = self.sock.accept()
        with conn:
            handle(self, conn)

    def read_until(self, conn, marker):
        while marker not in self.received:
            data = conn.recv(4096)
            if not data:
                return False
            self.received += data
        return True


class SessionTest(unittest.TestCase):

    def test_run_finds_output_and_status_not_the_echo(self):
        def shell(srv, conn):
            srv.read_until(conn, b"\n")
            line = srv.received.decode()
            tag = re.match(r"echo (\S+)'<'", line).group(1)
            # The tty echoes the line first (it holds the tag too), then the
            # command runs.
            conn.sendall(line.replace("\n", "\r\n").encode())
            conn.sendall(f"{tag}<\r\nhog started\r\n{tag}>3\r\nb0:~# ".encode())
            srv.read_until(conn, b"never")          # until the client closes
        srv = ConsoleServer(self, shell)
        s = console.ConsoleSession(srv.path, "blade b0")
        try:
            self.assertEqual(s.run("blade-hog start"), (3, "hog started\n"))
        finally:
            s.close()
        self.assertRegex(srv.received.decode(),
                         r"^echo BP\d+x\d+'<'; blade-hog start; "
                         r"echo \"BP\d+x\d+>\$\?\"\n$")

    def test_background_command_line(self):
        self.assertEqual(console.command_line("T", "sleep 9 &"),
                         b"echo T'<'; sleep 9 & echo \"T>$?\"\n")

    def test_console_closing_is_an_error(self):
        srv = ConsoleServer(self, lambda srv, conn: None)
        s = console.ConsoleSession(srv.path, "blade b0")
        self.addCleanup(s.close)
        self.assertRaisesRegex(console.ConsoleError, "blade b0: the console "
                               "closed", s.run, "true", 5)

    def test_no_console(self):
        self.assertRaisesRegex(console.ConsoleError, "blade b9: cannot connect "
                               "to its console /nonexistent",
                               console.ConsoleSession, "/nonexistent", "blade b9")


class AttachTest(unittest.TestCase):
    """attach() with pipes for stdin and stdout (not a terminal)."""

    def pipes(self):
        rin, win = os.pipe()
        rout, wout = os.pipe()
        for fd in (rin, win, rout, wout):
            self.addCleanup(_close, fd)
        return rin, win, rout, wout

    def attach(self, path, rin, wout, **kw):
        result = {}

        def go():
            result["status"] = console.attach(path, "blade b0", stdin_fd=rin,
                                              stdout_fd=wout, **kw)
        t = threading.Thread(target=go)
        t.start()
        return t, result

    def test_input_goes_in_output_comes_out_then_quiet_ends_it(self):
        replied = threading.Event()
        release = threading.Event()

        def shell(srv, conn):
            srv.read_until(conn, b"uname -n\n")
            conn.sendall(b"uname -n\r\nb0\r\nb0:~# ")
            replied.set()
            release.wait(10)
        srv = ConsoleServer(self, shell)
        rin, win, rout, wout = self.pipes()
        t, result = self.attach(srv.path, rin, wout, linger=0.1)
        os.write(win, b"uname -n\n")
        self.assertTrue(replied.wait(10))
        out = b""
        while not out.endswith(b"b0:~# "):
            out += os.read(rout, 4096)
        os.close(win)                 # end of stdin: quiet for 0.1 s ends it
        t.join(10)
        release.set()
        self.assertFalse(t.is_alive())
        self.assertEqual(out, b"uname -n\r\nb0\r\nb0:~# ")
        self.assertEqual(result["status"], 0)

    def test_ctrl_bracket_leaves_without_sending_it(self):
        got = threading.Event()

        def shell(srv, conn):
            srv.read_until(conn, b"ab")
            got.set()
            srv.read_until(conn, b"never")
        srv = ConsoleServer(self, shell)
        rin, win, rout, wout = self.pipes()
        t, result = self.attach(srv.path, rin, wout, linger=60)
        os.write(win, b"ab\x1dcd")
        t.join(10)
        self.assertFalse(t.is_alive())      # left at once, no 60 s linger
        self.assertTrue(got.wait(10))
        self.assertEqual(srv.received, b"ab")
        self.assertEqual(result["status"], 0)

    def test_console_closing_ends_it(self):
        def shell(srv, conn):
            conn.sendall(b"bye\r\n")
        srv = ConsoleServer(self, shell)
        rin, win, rout, wout = self.pipes()
        t, result = self.attach(srv.path, rin, wout, linger=60)
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(os.read(rout, 100), b"bye\r\n")
        self.assertEqual(result["status"], 1)


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


class Handler(http.server.BaseHTTPRequestHandler):
    answers = []          # set per test: (status, body) in turn
    seen = []

    def do_GET(self):
        with Handler.lock:
            Handler.seen.append((self.path, self.headers.get("Connection"),
                                 self.client_address[1]))
            status, body = Handler.answers[len(Handler.seen) % len(Handler.answers)]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


Handler.lock = threading.Lock()


class LoadGeneratorTest(unittest.TestCase):

    def serve(self, answers):
        Handler.answers = answers
        Handler.seen = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=server.serve_forever)
        t.start()
        self.addCleanup(t.join, 5)
        self.addCleanup(server.shutdown)
        self.addCleanup(server.server_close)
        return server.server_address[1]

    def test_counts_answers_by_blade_one_connection_each(self):
        port = self.serve([(200, b"blade=b0 kb=8 seconds=0.01\n"),
                           (200, b"blade=b1 kb=8 seconds=0.02\n")])
        load = LoadGenerator("127.0.0.1", port, "/cgi-bin/work?kb=8",
                             threads=2).start()
        self.assertTrue(load.wait_answers(20, 30))
        load.stop()
        snap = load.snapshot()
        self.assertEqual(snap["failed"], 0)
        self.assertEqual(sum(snap["by_blade"].values()), snap["ok"])
        self.assertEqual(set(snap["by_blade"]), {"b0", "b1"})
        self.assertEqual(len(Handler.seen), snap["ok"])
        self.assertTrue(all(p == "/cgi-bin/work?kb=8" and c == "close"
                            for p, c, _ in Handler.seen))
        # A new connection (a new source port: a new flow) each time.
        ports = [p for _, _, p in Handler.seen]
        self.assertEqual(len(set(ports)), len(ports))

    def test_failures_are_counted_with_the_reason(self):
        port = self.serve([(400, b"kb must be a number\n")])
        load = LoadGenerator("127.0.0.1", port, threads=1)
        with self.assertRaisesRegex(ValueError, "HTTP 400: kb must be a number"):
            load.request()
        port = self.serve([(200, b"hello\n")])
        load = LoadGenerator("127.0.0.1", port, threads=1)
        with self.assertRaisesRegex(ValueError, "no blade= in the answer"):
            load.request()

    def test_refused_connections_are_failures(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()                               # nobody listens there
        load = LoadGenerator("127.0.0.1", port, threads=1).start()
        with load.lock:
            while load.failed == 0:
                load.lock.wait(10)
        load.stop()
        self.assertEqual(load.snapshot()["ok"], 0)
        self.assertIn("ConnectionRefusedError", load.snapshot()["last_error"])


if __name__ == "__main__":
    unittest.main()
