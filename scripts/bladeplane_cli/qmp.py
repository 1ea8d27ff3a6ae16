"""A small QMP client: JSON objects over a UNIX stream socket.

QEMU sends a greeting ({"QMP": ...}) when a client connects; the client
answers with qmp_capabilities and may then execute commands.  Every message
is one JSON object on a line of its own.  Events ({"event": ...}) can arrive
at any time, before or between replies: they are kept aside in `events`,
never mistaken for a reply.  Every command carries an "id" that its reply
echoes, so a reply is never matched to the wrong command.

A QMP socket serves one client at a time; another client's connection waits
until the first one closes.  Tools here therefore hold a connection only for
what they do, and every read has a deadline.
"""

import json
import socket
import time

from .common import Failure

# A reply larger than this is a broken peer, not a switch's state tree.
MAX_MESSAGE = 64 * 1024 * 1024


class QMPError(Failure):
    """The connection failed, or the peer broke the protocol."""


class CommandError(QMPError):
    """QEMU answered a command with an error."""

    def __init__(self, what, command, error):
        self.command = command
        self.error_class = error.get("class", "GenericError")
        self.desc = error.get("desc", "(no description)")
        super().__init__(f"{what}: {command}: {self.desc}")


class QMP:
    """A negotiated QMP session on a connected socket.

    `what` names the peer in error messages ("chassis c1")."""

    def __init__(self, sock, what="QMP", timeout=10.0):
        self.sock = sock
        self.what = what
        self.timeout = timeout
        self.buf = b""
        self.events = []
        self.next_id = 0
        self.greeting = self._read(time.monotonic() + timeout, timeout)
        if "QMP" not in self.greeting:
            raise QMPError(f"{what}: expected a QMP greeting, got "
                           f"{_short(self.greeting)}")
        self.execute("qmp_capabilities")

    @classmethod
    def connect(cls, path, what=None, timeout=10.0):
        what = what or path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except FileNotFoundError:
            sock.close()
            raise QMPError(f"{what}: no QMP socket at {path} (not running?)")
        except ConnectionRefusedError:
            sock.close()
            raise QMPError(f"{what}: nothing listens on {path} (QEMU gone?)")
        except OSError as e:
            sock.close()
            raise QMPError(f"{what}: cannot connect to {path}: {e.strerror}")
        try:
            return cls(sock, what, timeout)
        except BaseException:
            sock.close()
            raise

    def execute(self, command, arguments=None, timeout=None):
        """Run a command; returns its "return" value, raises CommandError
        for an error reply."""
        self.next_id += 1
        ident = f"bp-{self.next_id}"
        request = {"execute": command, "id": ident}
        if arguments:
            request["arguments"] = arguments
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        try:
            self.sock.settimeout(timeout)
            self.sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError as e:
            raise QMPError(f"{self.what}: cannot send {command}: "
                           f"{e.strerror or e}")
        while True:
            msg = self._read(deadline, timeout)
            if "event" in msg:
                self.events.append(msg)
                continue
            if msg.get("id") != ident:
                raise QMPError(f"{self.what}: {command}: reply for another "
                               f"command: {_short(msg)}")
            if "error" in msg:
                raise CommandError(self.what, command, msg["error"] or {})
            if "return" in msg:
                return msg["return"]
            raise QMPError(f"{self.what}: {command}: unexpected reply "
                           f"{_short(msg)}")

    def wait_event(self, name, timeout):
        """The first event called name, from those kept aside or arriving
        within timeout; it is removed from `events`."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("event") == name:
                    return self.events.pop(i)
            msg = self._read(deadline, timeout)
            if "event" in msg:
                self.events.append(msg)
            else:
                raise QMPError(f"{self.what}: unexpected message while "
                               f"waiting for {name}: {_short(msg)}")

    def take_events(self):
        events, self.events = self.events, []
        return events

    def _read(self, deadline, timeout):
        """The next message (a JSON object on its own line)."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    raise QMPError(f"{self.what}: not JSON: "
                                   f"{line[:80].decode(errors='replace')!r}")
                if not isinstance(msg, dict):
                    raise QMPError(f"{self.what}: not a JSON object: "
                                   f"{_short(msg)}")
                return msg
            if len(self.buf) > MAX_MESSAGE:
                raise QMPError(f"{self.what}: message longer than "
                               f"{MAX_MESSAGE} bytes")
            left = deadline - time.monotonic()
            if left <= 0:
                raise QMPError(f"{self.what}: no answer within "
                               f"{timeout:g} s (a QMP socket serves one "
                               f"client at a time: is another one connected?)")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                raise QMPError(f"{self.what}: connection lost: "
                               f"{e.strerror or e}")
            if not data:
                raise QMPError(f"{self.what}: connection closed by QEMU")
            self.buf += data

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _short(obj, limit=120):
    text = json.dumps(obj)
    return text if len(text) <= limit else text[:limit] + "..."


def session(path, what=None, timeout=10.0):
    """QMP.connect, for `with qmp.session(path) as q:`."""
    return QMP.connect(path, what, timeout)
