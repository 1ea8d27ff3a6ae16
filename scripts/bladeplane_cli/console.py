"""A blade's serial console: run a command on it from a program
(ConsoleSession), or attach a terminal to it (attach, `bladeplane console`).

A background blade's console is a UNIX socket QEMU listens on (one client
at a time); everything the blade prints also goes to a log file, whoever is
connected."""

import os
import re
import select
import signal
import socket
import sys
import termios
import time
import tty

from .common import Expect, Failure

ESCAPE = b"\x1d"             # Ctrl-]


class ConsoleError(Failure):
    pass


# ---- commands with markers -------------------------------------------------


def command_line(tag, command):
    """What to type to run command so its output and status can be found.

    The markers are split with quotes in what we type, so the shell's echo
    of the command line can never be mistaken for the output.  One line, so
    no prompt lands in the output; a command may end in '&' (then it already
    ends the list)."""
    sep = " " if command.rstrip().endswith("&") else "; "
    return f"echo {tag}'<'; {command}{sep}echo \"{tag}>$?\"\n".encode()


def result_regex(tag):
    return re.compile(rf"(?:^|\n){tag}<\r?\n(.*?){tag}>(\d+)".encode(), re.S)


def result(match):
    """(status, output) from a result_regex match."""
    text = match.group(1).decode(errors="replace").replace("\r\n", "\n")
    return int(match.group(2)), text


class ConsoleSession(Expect):
    """A program's connection to a console socket."""

    seq = 0

    def __init__(self, path, what, timeout=10):
        self.what = what
        self.buf = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise ConsoleError(f"{what}: cannot connect to its console "
                               f"{path}: {e.strerror or e}")

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise ConsoleError(f"{self.what}: the console closed")
        except OSError as e:
            raise ConsoleError(f"{self.what}: console: {e.strerror or e}")

    # expect() (common.Expect): what the console prints
    def _more(self, left):
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except ConnectionResetError:
            data = b""
        except OSError as e:
            raise ConsoleError(f"{self.what}: console: {e.strerror or e}")
        self.buf += data
        return bool(data)

    def _timed_out(self, regex, timeout):
        return ConsoleError(f"{self.what}: timed out after {timeout} s "
                            f"waiting for {regex.pattern!r} on the console")

    def _gone(self, regex):
        return ConsoleError(f"{self.what}: the console closed")

    def run(self, command, timeout=60):
        """Run a shell command; returns (status, output)."""
        ConsoleSession.seq += 1
        tag = f"BP{os.getpid()}x{ConsoleSession.seq}"
        self.send(command_line(tag, command))
        return result(self.expect(result_regex(tag), timeout))

    def close(self):
        self.sock.close()       # a second close() does nothing


# ---- a terminal on the console ---------------------------------------------


def attach(path, what, stdin_fd=0, stdout_fd=1, linger=1.0, notice=None):
    """Copy stdin to the console and the console to stdout until Ctrl-] is
    typed or the console closes.  On a terminal, stdin is put in raw mode
    (and restored).  When stdin is not a terminal, its end does not end the
    session at once: output is copied until the console has been quiet for
    `linger` seconds, so `echo uname -a | bladeplane console b0` shows the
    answer.  Returns 0, or 1 if the console closed."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise ConsoleError(f"{what}: cannot connect to its console {path}: "
                           f"{e.strerror or e}")
    is_tty = os.isatty(stdin_fd)
    saved = termios.tcgetattr(stdin_fd) if is_tty else None
    notice = notice if notice is not None else sys.stderr
    saved_handlers = {}
    if is_tty:
        notice.write(f"connected to {what}'s console (Enter for a prompt; "
                     f"Ctrl-] leaves)\r\n")
        notice.flush()
        # A signal must not leave the terminal in raw mode: leave through
        # the finally below.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            saved_handlers[sig] = signal.signal(
                sig, lambda signum, _: sys.exit(128 + signum))
        tty.setraw(stdin_fd)
    status = 0
    stdin_open = True
    quiet_since = None
    try:
        while True:
            fds = [sock] + ([stdin_fd] if stdin_open else [])
            timeout = None
            if not stdin_open:
                if quiet_since is None:
                    quiet_since = time.monotonic()
                timeout = max(0.0, quiet_since + linger - time.monotonic())
            ready, _, _ = select.select(fds, [], [], timeout)
            if not ready:
                break                      # stdin done and the console quiet
            if sock in ready:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    status = 1
                    if is_tty:
                        notice.write(f"\r\n{what}'s console closed\r\n")
                    break
                _write_all(stdout_fd, data)
                quiet_since = None
            if stdin_open and stdin_fd in ready:
                data = os.read(stdin_fd, 4096)
                if not data:
                    stdin_open = False
                    continue
                cut = data.find(ESCAPE)
                try:
                    sock.sendall(data if cut < 0 else data[:cut])
                except (BrokenPipeError, ConnectionResetError):
                    status = 1
                    break
                if cut >= 0:
                    break
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
            notice.write("\r\n")
            notice.flush()
        for sig, handler in saved_handlers.items():
            signal.signal(sig, handler)
        sock.close()
    return status


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]
