"""The CLI's QMP (qmp.py, on QEMU's qemu.qmp) against a scripted peer on
a socketpair."""

import json
import os
import socket
import tempfile
import threading
import unittest

import cli_path  # noqa: F401
from bladeplane_cli.qmp import QMP, CommandError, QMPError

GREETING = {"QMP": {"version": {"qemu": {"major": 10, "minor": 0,
                                         "micro": 13}}, "capabilities": []}}


def next_request(sock, buf):
    """The next request on sock: a JSON object, newline or not (QEMU's
    parser takes a stream of them); returns it and what is left."""
    while True:
        text = buf.decode().lstrip()
        try:
            req, end = json.JSONDecoder().raw_decode(text)
            return req, text[end:].encode()
        except ValueError:
            data = sock.recv(65536)
            if not data:
                raise EOFError("client closed")
            buf = text.encode() + data


class Peer:
    """The QEMU side: runs script(peer) in a thread."""

    def __init__(self, test, script):
        self.client, self.server = socket.socketpair()
        self.buf = b""
        self.requests = []
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(script,))
        self.thread.start()
        test.addCleanup(self.close)

    def _run(self, script):
        try:
            script(self)
        except Exception as e:          # reported by close()
            self.error = e

    def send(self, msg, chunk=None):
        data = (msg if isinstance(msg, bytes) else
                json.dumps(msg).encode() + b"\r\n")
        if chunk:
            for i in range(0, len(data), chunk):
                self.server.sendall(data[i:i + chunk])
        else:
            self.server.sendall(data)

    def request(self):
        req, self.buf = next_request(self.server, self.buf)
        self.requests.append(req)
        return req

    def reply(self, value=None, **extra):
        req = self.request()
        msg = {"return": {} if value is None else value}
        if "id" in req:                 # as QEMU does: echoed when given
            msg["id"] = req["id"]
        msg.update(extra)
        self.send(msg)
        return req

    def negotiate(self):
        self.send(GREETING)
        req = self.reply()
        assert req["execute"] == "qmp_capabilities", req

    def close(self):
        self.client.close()
        self.thread.join(5)
        self.server.close()
        if self.error and not isinstance(self.error, (EOFError, OSError)):
            raise self.error


class FramingTest(unittest.TestCase):
    """The CLI's QMP on QEMU's client (qemu.qmp) against a scripted QEMU."""

    def test_negotiation_and_command(self):
        def script(p):
            p.negotiate()
            p.reply({"status": "running", "running": True})
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        self.assertEqual(q.execute("query-status"),
                         {"status": "running", "running": True})
        self.assertEqual([r["execute"] for r in peer.requests],
                         ["qmp_capabilities", "query-status"])
        # a command carries an id, so that its reply is never another's
        self.assertIn("id", peer.requests[-1])

    def test_event_before_the_negotiation_reply(self):
        """QEMU answers qmp_capabilities after a bottom half: an event
        emitted meanwhile comes first.  The session is made all the same,
        and the event kept."""
        ev = {"event": "BLADE_SWITCH_BLADE", "data": {"slot": 1}}

        def script(p):
            p.send(GREETING)
            req = p.request()
            assert req["execute"] == "qmp_capabilities", req
            p.send(ev)
            p.send({"return": {}, "id": req["id"]})
            p.reply({"status": "running", "running": True})
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        self.assertEqual(q.execute("query-status")["status"], "running")
        self.assertEqual([e["event"] for e in q.take_events()],
                         ["BLADE_SWITCH_BLADE"])

    def test_arguments_are_sent_as_given(self):
        def script(p):
            p.negotiate()
            p.reply()
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        q.execute("blade-switch-add-steering", {"name": "s", "port-min": 1})
        self.assertEqual(peer.requests[-1]["arguments"],
                         {"name": "s", "port-min": 1})

    def test_events_are_kept_aside(self):
        ev1 = {"event": "BLADE_SWITCH_PORT_LINK", "data": {"port": "slot0",
                                                           "up": True}}
        ev2 = {"event": "BLADE_SWITCH_BLADE", "data": {"slot": 0}}

        def script(p):
            p.negotiate()
            req = p.request()
            p.send(ev1)                     # between request and reply
            p.send({"return": 7, "id": req["id"]})
            p.send(ev2)
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        self.assertEqual(q.execute("x"), 7)
        self.assertEqual(q.wait_event("BLADE_SWITCH_BLADE", 1), ev2)
        self.assertEqual(q.take_events(), [ev1])
        self.assertEqual(q.take_events(), [])

    def test_wait_event_reads_until_it_comes(self):
        ev = {"event": "SHUTDOWN", "data": {}}

        def script(p):
            p.negotiate()
            p.send({"event": "OTHER"})
            p.send(ev, chunk=3)
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        self.assertEqual(q.wait_event("SHUTDOWN", 5), ev)
        self.assertEqual([e["event"] for e in q.events], ["OTHER"])

    def test_wait_event_that_never_comes(self):
        peer = Peer(self, lambda p: p.negotiate())
        q = QMP(peer.client, "blade b0")
        self.addCleanup(q.close)
        self.assertRaisesRegex(QMPError, r"^blade b0: no answer within 0.2 s "
                               r"to waiting for SHUTDOWN", q.wait_event,
                               "SHUTDOWN", 0.2)

    def test_reply_split_in_small_pieces(self):
        big = {"blades": [{"slot": i, "cpu": i} for i in range(64)]}

        def script(p):
            p.send(GREETING, chunk=1)
            req = p.request()
            p.send({"return": {}, "id": req["id"]}, chunk=2)
            req = p.request()
            p.send({"return": big, "id": req["id"]}, chunk=7)
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        self.assertEqual(q.execute("query-blade-switch"), big)

    def test_two_messages_in_one_read(self):
        def script(p):
            p.send(GREETING)
            req = p.request()
            p.send(json.dumps({"return": {}, "id": req["id"]}).encode() +
                   b"\r\n" +
                   json.dumps({"event": "E"}).encode() + b"\r\n")
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        self.assertEqual(q.wait_event("E", 1), {"event": "E"})

    def test_error_reply(self):
        def script(p):
            p.negotiate()
            req = p.request()
            p.send({"error": {"class": "GenericError",
                              "desc": "no such service 'web'"},
                    "id": req["id"]})
        peer = Peer(self, script)
        q = QMP(peer.client, "chassis c1")
        self.addCleanup(q.close)
        with self.assertRaises(CommandError) as cm:
            q.execute("blade-switch-del-rule", {"name": "web"})
        self.assertEqual(str(cm.exception), "chassis c1: blade-switch-del-rule: "
                         "no such service 'web'")
        self.assertEqual(cm.exception.error_class, "GenericError")

    def test_reply_for_another_command(self):
        # never taken for the command's own: that one is still awaited
        def script(p):
            p.negotiate()
            p.request()
            p.send({"return": {}, "id": "someone-else"})
        peer = Peer(self, script)
        q = QMP(peer.client, "test")
        self.addCleanup(q.close)
        self.assertRaisesRegex(QMPError, "no answer within 0.5 s to x",
                               q.execute, "x", timeout=0.5)

    def test_closed_in_the_middle_of_a_reply(self):
        def script(p):
            p.negotiate()
            p.request()
            p.send(b'{"return": {"half')
            p.server.shutdown(socket.SHUT_WR)
        peer = Peer(self, script)
        q = QMP(peer.client, "blade b0")
        self.addCleanup(q.close)
        self.assertRaisesRegex(QMPError, r"^blade b0: connection closed by "
                               r"QEMU$", q.execute, "x")

    def test_not_a_greeting(self):
        peer = Peer(self, lambda p: p.send({"return": {}}))
        self.assertRaisesRegex(QMPError, "^test: greeting: Did not understand "
                               "Greeting", QMP, peer.client, "test")

    def test_not_json(self):
        peer = Peer(self, lambda p: p.send(b"Welcome to telnet\r\n"))
        self.assertRaisesRegex(QMPError, "^test: greeting: Did not understand "
                               "Greeting: Failed to deserialize", QMP,
                               peer.client, "test")

    def test_not_an_object(self):
        peer = Peer(self, lambda p: p.send(b"[1, 2]\n"))
        self.assertRaisesRegex(QMPError, "^test: greeting: Did not understand "
                               "Greeting", QMP, peer.client, "test")

    def test_silence_is_a_timeout_that_says_why(self):
        done = threading.Event()

        def script(p):
            p.negotiate()
            p.request()
            done.wait(5)                     # never answers
        peer = Peer(self, script)
        q = QMP(peer.client, "chassis c1", timeout=5)
        self.addCleanup(q.close)
        with self.assertRaises(QMPError) as cm:
            q.execute("qom-get", timeout=0.2)
        done.set()
        self.assertIn("no answer within 0.2 s", str(cm.exception))
        self.assertIn("one client at a time", str(cm.exception))


class ConnectTest(unittest.TestCase):

    def test_no_socket(self):
        self.assertRaisesRegex(QMPError, r"^chassis c1: no QMP socket at "
                               r"/nonexistent/q\.sock \(not running\?\)$",
                               QMP.connect, "/nonexistent/q.sock", "chassis c1")

    def test_nobody_listening(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "q.sock")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)                        # bound, never listening
            self.addCleanup(s.close)
            self.assertRaisesRegex(QMPError, "nothing listens on",
                                   QMP.connect, path, "blade b1")

    def test_connect_and_context_manager(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "q.sock")
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(path)
            srv.listen(1)
            self.addCleanup(srv.close)

            after = []

            def serve():
                conn, _ = srv.accept()
                conn.sendall(json.dumps(GREETING).encode() + b"\n")
                buf = b""
                for _ in range(2):
                    req, buf = next_request(conn, buf)
                    reply = {"return": {}}
                    if "id" in req:
                        reply["id"] = req["id"]
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                after.append(conn.recv(1))      # b"": closed by the client
                conn.close()
            t = threading.Thread(target=serve)
            t.start()
            with QMP.connect(path, "x") as q:
                self.assertEqual(q.execute("quit"), {})
            t.join(5)
            self.assertFalse(t.is_alive())
            self.assertEqual(after, [b""])


if __name__ == "__main__":
    unittest.main()
