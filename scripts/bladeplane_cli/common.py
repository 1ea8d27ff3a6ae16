"""Paths, output and process helpers shared by the bladeplane commands."""

import errno
import os
import re
import shutil
import subprocess
import sys
import time
from typing import IO, AnyStr

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build")
LOGS = os.path.join(BUILD, "logs")


def cache_dir():
    """~/.cache/bladeplane (or $BLADEPLANE_CACHE): QEMU source, ccache, debs."""
    if os.environ.get("BLADEPLANE_CACHE"):
        return os.path.abspath(os.environ["BLADEPLANE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bladeplane")


class Failure(Exception):
    """A problem the user can act on: printed as one clear line, exit 1."""


def say(msg):
    print(f"bladeplane: {msg}", flush=True)


def step(msg):
    print(f"==> {msg}", flush=True)


def warn(msg):
    print(f"bladeplane: warning: {msg}", file=sys.stderr, flush=True)


def ensure_dir(path):
    os.makedirs(path, exist_ok=True)
    return path


def need_space(path, gib, what):
    """Fail early with one line if the file system of path has < gib free."""
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    free = shutil.disk_usage(probe).free / 2**30
    if free < gib:
        raise Failure(f"disk full: {what} needs about {gib} GiB under {probe}, "
                      f"only {free:.1f} GiB free")


class LoggedProcess(subprocess.CompletedProcess):
    """run()'s result for a command with a log: also what it printed."""

    log_text = ""


def run(cmd, *, log=None, check=True, env=None, cwd=None, quiet=False):
    """Run cmd; with log, stdout/stderr are appended to that file (and are
    in the result's log_text) and its tail is shown on failure.  Returns the
    CompletedProcess."""
    if log:
        ensure_dir(os.path.dirname(log))
        with open(log, "a") as f:
            f.write(f"\n$ {' '.join(cmd)}\n")
            f.flush()
            start = f.tell()
            done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                                  env=env, cwd=cwd)
        logged = LoggedProcess(done.args, done.returncode, done.stdout,
                               done.stderr)
        # What this command printed, for callers that diagnose failures.
        with open(log, errors="replace") as f:
            f.seek(start)
            logged.log_text = f.read()
        proc: subprocess.CompletedProcess = logged
    else:
        out = subprocess.DEVNULL if quiet else None
        proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=out,
                              stderr=out)
    if check and proc.returncode != 0:
        if log:
            show_tail(log)
            raise Failure(f"'{' '.join(cmd[:3])} ...' failed "
                          f"(exit {proc.returncode}); full log: {log}")
        raise Failure(f"'{' '.join(cmd)}' failed (exit {proc.returncode})")
    return proc


def output(cmd, env=None):
    """stdout of cmd, or None if it cannot run or fails."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


def piped(stream: IO[AnyStr] | None) -> IO[AnyStr]:
    """A Popen's stdin, stdout or stderr asked for as a PIPE: typed
    Optional because it is None when it was not."""
    if stream is None:
        raise RuntimeError("that stream of the process is not a pipe")
    return stream


def show_tail(log, lines=25):
    try:
        with open(log, errors="replace") as f:
            tail = f.readlines()[-lines:]
    except OSError:
        return
    sys.stderr.write("".join("    " + l for l in tail))


def check_disk_error(exc, where):
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        raise Failure(f"disk full while writing {where}") from exc
    raise exc


class Expect:
    """Wait for a regex in what a source prints, to a deadline: the one
    loop behind a blade's console on pipes or in its log (blade.Blade) and
    a console socket (console.ConsoleSession).  A subclass keeps what it
    read in self.buf and says how to read more and what to raise."""

    buf = b""

    def _more(self, left: float) -> bool:
        """Read what comes within left seconds into self.buf; False once
        the source is gone."""
        raise NotImplementedError

    def _timed_out(self, regex: re.Pattern, timeout: float) -> Exception:
        raise NotImplementedError

    def _gone(self, regex: re.Pattern) -> Exception:
        raise NotImplementedError

    def expect(self, pattern: bytes | re.Pattern,
               timeout: float) -> re.Match:
        """Wait for pattern (a regex, bytes) in the output; returns the
        match and consumes the output up to its end."""
        regex = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timed_out(regex, timeout)
            if not self._more(left):
                raise self._gone(regex)


class Progress:
    """One status line for a long step: rewritten in place on a terminal,
    printed at most every few seconds otherwise (CI logs)."""

    def __init__(self, what, every=20.0):
        self.what = what
        self.tty = sys.stdout.isatty()
        self.every = every
        self.last = 0.0
        self.start = time.monotonic()

    def update(self, text, force=False):
        now = time.monotonic()
        elapsed = now - self.start
        line = f"    {self.what}: {text} ({elapsed:.0f} s)"
        if self.tty:
            sys.stdout.write("\r\033[K" + line)
            sys.stdout.flush()
        elif force or now - self.last >= self.every:
            print(line, flush=True)
        else:
            return
        self.last = now

    def done(self, text):
        if self.tty:
            sys.stdout.write("\r\033[K")
        print(f"    {self.what}: {text} ({time.monotonic() - self.start:.0f} s)",
              flush=True)
