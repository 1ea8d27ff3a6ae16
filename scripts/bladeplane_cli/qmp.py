"""QMP for the CLI, on QEMU's own client: qemu.qmp.QMPClient, from the
python/ directory of the QEMU source tree setup unpacks.

QMPClient is asynchronous; the tools here are not.  QMP below runs each
call to completion on an event loop of its own, with a deadline, and
keeps QEMU's events aside in `events` (QMPClient's default listener
takes them, whenever they arrive).  It does not use qemu.qmp.legacy's
QEMUMonitorProtocol: that one connects without a deadline, and a QMP
socket serves one client at a time, so a second client would wait for
ever.  Errors become QMPError (CommandError for QEMU's error replies),
naming the peer ("chassis c1").

Tools here hold a connection only for what they do: another client of the
same socket waits until it is closed.
"""

import asyncio
import functools
import importlib
import logging
import os
import socket
import sys

from .common import Failure


class QMPError(Failure):
    """The connection failed, or the peer broke the protocol."""


class CommandError(QMPError):
    """QEMU answered a command with an error."""

    def __init__(self, what, command, error_class, desc):
        self.command = command
        self.error_class = error_class
        self.desc = desc
        super().__init__(f"{what}: {command}: {desc}")


@functools.cache
def qemu_qmp():
    """QEMU's qemu.qmp package, from the python/ directory of the QEMU
    source tree (unpacked by setup, or now), ahead of anything else called
    qemu on the path (scripts/qemu holds the overlay's files)."""
    from . import qemu
    path, _ = qemu.pristine_source()
    python = os.path.join(path, "python")
    if python not in sys.path:
        sys.path.insert(0, python)
    qqmp = importlib.import_module("qemu.qmp")
    # Its errors reach the caller as QMPError; not also as log lines.
    logging.getLogger("qemu.qmp").addHandler(logging.NullHandler())
    logging.getLogger("qemu.qmp").propagate = False
    return qqmp


class QMP:
    """A negotiated QMP session on a connected socket.

    `what` names the peer in error messages ("chassis c1")."""

    def __init__(self, sock, what="QMP", timeout=10.0):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.qqmp = qemu_qmp()
        self.what = what
        self.timeout = timeout
        self.events = []
        self.client = self.qqmp.QMPClient(what)
        # QEMU runs qmp_capabilities in a bottom half and answers it from
        # the dispatcher afterwards: an event emitted in between (the
        # switch's BLADE_SWITCH_BLADE, say) reaches the client first.
        # QMPClient's own negotiation takes the next message as the reply
        # and fails; execute() sets the event aside like any other.
        self.client.negotiate = False
        self.loop = asyncio.new_event_loop()
        try:
            self._run(self.client.connect(sock), timeout, "greeting")
            self._run(self.client.execute("qmp_capabilities"), timeout,
                      "qmp_capabilities")
        except BaseException:
            self.close()
            raise

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
        sock.setblocking(False)
        return cls(sock, what, timeout)

    def _open_loop(self) -> asyncio.AbstractEventLoop:
        """The session's event loop; close() has not dropped it."""
        if self.loop is None:
            raise RuntimeError(f"{self.what}: QMP session used after close()")
        return self.loop

    def _run(self, coro, timeout, doing):
        """Run coro to its end within timeout; QEMU's events go aside."""
        try:
            return self._open_loop().run_until_complete(
                asyncio.wait_for(coro, timeout))
        except asyncio.TimeoutError:
            raise QMPError(f"{self.what}: no answer within {timeout:g} s "
                           f"to {doing} (a QMP socket serves one client at "
                           f"a time: is another one connected?)") from None
        except self.qqmp.ExecuteError as e:
            raise CommandError(self.what, doing, e.error_class,
                               e.error.error.desc) from None
        except self.qqmp.ExecInterruptedError:
            raise QMPError(f"{self.what}: connection closed by QEMU") \
                from None
        except (self.qqmp.QMPError, EOFError, OSError) as e:
            cause = e.exc if isinstance(e, self.qqmp.ConnectError) else e
            raise QMPError(f"{self.what}: {doing}: {cause}") from None
        finally:
            self._set_aside()

    def _set_aside(self):
        listener = self.client.events
        while not listener.empty():
            msg = self._open_loop().run_until_complete(listener.get())
            self.events.append(dict(msg))

    def execute(self, command, arguments=None, timeout=None):
        """Run a command; returns its "return" value, raises CommandError
        for an error reply."""
        return self._run(self.client.execute(command, arguments),
                         timeout or self.timeout, command)

    def wait_event(self, name, timeout):
        """The first event called name, from those kept aside or arriving
        within timeout; it is removed from `events`."""
        self._set_aside()
        for i, ev in enumerate(self.events):
            if ev.get("event") == name:
                return self.events.pop(i)
        return self._run(self._event(name), timeout, f"waiting for {name}")

    async def _event(self, name):
        while True:
            msg = dict(await self.client.events.get())
            if msg.get("event") == name:
                return msg
            self.events.append(msg)

    def take_events(self):
        self._set_aside()
        events, self.events = self.events, []
        return events

    def close(self):
        # also for a session whose __init__ failed part way
        loop: asyncio.AbstractEventLoop | None = getattr(self, "loop", None)
        if loop is None:
            return
        try:
            loop.run_until_complete(self.client.disconnect())
        except (self.qqmp.QMPError, EOFError, OSError):
            pass        # what broke the session was said already
        loop.close()
        self.loop = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def session(path, what=None, timeout=10.0):
    """QMP.connect, for `with qmp.session(path) as q:`."""
    return QMP.connect(path, what, timeout)
