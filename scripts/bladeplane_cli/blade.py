"""Boot a blade VM and talk to it over its serial console.

The one way to start a blade.  Two modes:

- foreground (tests, benchmarks): the console on the QEMU process's
  stdin/stdout, a copy in build/logs/blade-NAME.log, QMP in build/run/;
  the blade dies with its Blade object;
- background (run_dir given; `bladeplane up`): QEMU in a session of its own
  that outlives the command, the console on a UNIX socket with everything
  it prints in a log file, QMP on a socket, a pid file, all in run_dir.
"""

import hashlib
import json
import os
import re
import select
import signal
import subprocess
import time
from typing import IO

from . import console, image, qemu
from .common import (BUILD, LOGS, Expect, Failure, cache_dir, ensure_dir,
                     piped)
from .qmp import QMP, QMPError

READY_RE = re.compile(rb"BLADEPLANE-READY (\{[^\r\n]*\})")


class BladeError(Failure):
    pass


def blade_mac(name):
    """A stable, locally administered MAC for a blade's NIC.  Each blade is
    its own QEMU process, so QEMU's default (52:54:00:12:34:56 for the first
    NIC of every process) would repeat on the backplane."""
    digest = hashlib.sha256(name.encode()).digest()
    return "52:54:00:%02x:%02x:%02x" % tuple(digest[:3])


def qemu_opt(value):
    """A value inside a QEMU option string: commas are doubled."""
    return str(value).replace(",", ",,")


def kernel_cmdline(name, append="", real_time_tcg=False):
    """no_timer_check for a TCG blade on the host's clock: Linux checks at
    boot that the 8254 timer ticks during a 10 ms busy wait, and on a
    loaded host a TCG vCPU that loses the CPU there fails the check and
    panics ("IO-APIC + timer doesn't work").  Under KVM, kvmclock skips the
    check itself; under icount the wait and the ticks share one clock."""
    words = ["console=ttyS0", "quiet", "panic=-1"]
    if real_time_tcg:
        words.append("no_timer_check")
    return " ".join(words + [f"blade.name={name}", append]).strip()


def blade_argv(*, qemu_bin, name, accel, kernel, initrd, console_args,
               qmp_path, memory=256, cpus=1, append="", mac=None, nic_args="",
               extra_args=()):
    """The QEMU command line of a blade.  nic_args is appended to
    'blade-nic,id=nic0,mac=MAC' (None: no blade-nic); console_args define
    the chardev 'console' the serial port uses."""
    argv = [qemu_bin,
            "-M", "q35", "-accel", accel, "-m", str(memory),
            "-smp", str(cpus), "-name", name,
            "-nodefaults", "-no-user-config", "-display", "none",
            "-no-reboot"]
    argv += list(console_args) + ["-serial", "chardev:console"]
    argv += ["-kernel", kernel, "-initrd", initrd,
             "-append", kernel_cmdline(
                 name, append,
                 real_time_tcg=accel == "tcg" and "-icount" not in extra_args)]
    if nic_args is not None:
        argv += ["-device",
                 f"blade-nic,id=nic0,mac={mac or blade_mac(name)}" + nic_args]
    argv += list(extra_args)
    # QMP, for the host side of tests and tools (fault injection, state).
    argv += ["-chardev", f"socket,id=qmp,path={qemu_opt(qmp_path)},"
                         "server=on,wait=off",
             "-mon", "chardev=qmp,mode=control"]
    return argv


class Blade(Expect):
    """One blade: q35, the blade image, a blade-nic.

    Foreground (run_dir None): serial console on pipes, also written to
    build/logs/blade-<name>.log so a failed boot can be read afterwards.
    Background (run_dir given): see the module's description; the files are
    run_dir/NAME.{console,console.log,qmp,pid,log}."""

    def __init__(self, name="blade0", accel="tcg", memory=256, nic_args="",
                 extra_args=(), append="", cpus=1, mac=None, run_dir=None,
                 manifest=None, qemu_bin=None):
        self.name = name
        self.accel = accel
        self.background = run_dir is not None
        manifest = manifest or image.build()
        if self.background:
            files = {ext: os.path.join(run_dir, f"{name}.{ext}") for ext in
                     ("console", "console.log", "qmp", "pid", "log")}
            self.console_path = files["console"]
            self.serial_log_path = files["console.log"]
            self.qmp_path = files["qmp"]
            self.pid_path = files["pid"]
            self.log_path = files["log"]
            console_args = ["-chardev",
                            f"socket,id=console,path={qemu_opt(self.console_path)},"
                            f"server=on,wait=off,"
                            f"logfile={qemu_opt(self.serial_log_path)}"]
        else:
            self.qmp_path = os.path.join(ensure_dir(os.path.join(BUILD, "run")),
                                         f"{name}.qmp")
            self.serial_log_path = os.path.join(ensure_dir(LOGS),
                                                f"blade-{name}.log")
            console_args = ["-chardev", "stdio,id=console,signal=off"]
        self.argv = blade_argv(
            qemu_bin=qemu_bin or qemu.QEMU_BIN, name=name, accel=accel,
            kernel=manifest["kernel"], initrd=manifest["initramfs"],
            console_args=console_args, qmp_path=self.qmp_path, memory=memory,
            cpus=cpus, append=append, mac=mac, nic_args=nic_args,
            extra_args=extra_args)
        self.qmp_session = None
        self.console = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.buf = b""
        self.log_offset = 0
        self.ready_info = None
        self.serial_log: IO[bytes] | None = None
        self.seq = 0

    def start(self):
        if self.background:
            # A session of its own: the blade outlives the command that
            # started it, and a Ctrl-C in that terminal does not reach it.
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True)
            with open(self.pid_path, "w") as f:
                f.write(f"{self.proc.pid}\n")
            return self
        self.serial_log = open(self.serial_log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        return self

    def process(self) -> subprocess.Popen[bytes]:
        """QEMU's process, once start() has made it."""
        if self.proc is None:
            raise RuntimeError(f"blade {self.name}: not started")
        return self.proc

    def _pipes(self) -> tuple[IO[bytes], IO[bytes], IO[bytes]]:
        """Foreground: the console (QEMU's stdin and stdout) and the log
        that keeps a copy of what it prints."""
        proc = self.process()
        if self.serial_log is None:
            raise RuntimeError(f"blade {self.name}: no console on pipes")
        return piped(proc.stdin), piped(proc.stdout), self.serial_log

    def _read_log(self, timeout):
        """Background: new console output from the log file QEMU writes."""
        try:
            with open(self.serial_log_path, "rb") as f:
                f.seek(self.log_offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data:
            self.log_offset += len(data)
            self.buf += data
            return True
        if self.process().poll() is not None:
            return False
        time.sleep(min(timeout, 0.1))
        return True

    def _read(self, timeout):
        """Read what is available within timeout; False once QEMU is gone."""
        if self.background:
            return self._read_log(timeout)
        _, stdout, log = self._pipes()
        ready, _, _ = select.select([stdout], [], [], timeout)
        if not ready:
            return True
        data = os.read(stdout.fileno(), 65536)
        if not data:
            return False
        log.write(data)
        log.flush()
        self.buf += data
        return True

    # expect() (common.Expect): the console's output
    def _more(self, left):
        return self._read(min(left, 0.5))

    def _timed_out(self, regex, timeout):
        return BladeError(f"blade {self.name}: timed out after {timeout} s "
                          f"waiting for {regex.pattern!r} "
                          f"(console log: {self.serial_log_path})")

    def _gone(self, regex):
        rc = self.process().wait()
        return BladeError(f"blade {self.name}: QEMU exited (status {rc}) "
                          f"before {regex.pattern!r}{self._why()} "
                          f"(console log: {self.serial_log_path})")

    def _why(self):
        """Background: QEMU's last line of its own output, if any."""
        if not self.background:
            return ""
        line = last_line(self.log_path)
        return f": {line}" if line else ""

    def wait_ready(self, timeout=120):
        m = self.expect(READY_RE, timeout)
        self.ready_info = json.loads(m.group(1))
        return self.ready_info

    def poll_ready(self):
        """Background: the ready line's JSON if it has come, else None
        (never waits); BladeError if QEMU is gone."""
        if self.ready_info is not None:
            return self.ready_info
        m = READY_RE.search(self.buf)
        if not m:
            if not self._read(0):
                rc = self.process().wait()
                raise BladeError(f"blade {self.name}: QEMU exited (status "
                                 f"{rc}) before its ready line{self._why()} "
                                 f"(console log: {self.serial_log_path})")
            m = READY_RE.search(self.buf)
            if not m:
                # Keep only what a ready line split across reads needs.
                self.buf = self.buf[-4096:]
                return None
        self.buf = self.buf[m.end():]
        self.ready_info = json.loads(m.group(1))
        return self.ready_info

    def run(self, command, timeout=60):
        """Run a shell command on the console; returns (status, output)."""
        if self.background:
            if self.console is None:
                self.console = console.ConsoleSession(
                    self.console_path, f"blade {self.name}")
            return self.console.run(command, timeout)
        self.seq += 1
        tag = f"BP{self.seq}"
        stdin, _, _ = self._pipes()
        stdin.write(console.command_line(tag, command))
        stdin.flush()
        m = self.expect(console.result_regex(tag), timeout)
        return console.result(m)

    def qmp(self, command, **arguments):
        """Execute a QMP command; returns its 'return' value."""
        try:
            if self.qmp_session is None:
                self.qmp_session = QMP.connect(self.qmp_path,
                                               f"blade {self.name}", timeout=30)
            return self.qmp_session.execute(command, arguments)
        except QMPError as e:
            raise BladeError(str(e)) from e

    def poweroff(self, timeout=30):
        """Clean shutdown from inside the guest; kill if it does not stop."""
        if self.proc is None or self.proc.poll() is not None:
            return self.close()
        try:
            stdin = piped(self.proc.stdin)
            stdin.write(b"poweroff -f\n")
            stdin.flush()
        except BrokenPipeError:
            pass
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if not self._read(0.5):
                break
        try:
            rc = self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.close()
            raise BladeError(f"blade {self.name}: did not power off within "
                             f"{timeout} s")
        self.close()
        return rc

    def disconnect(self):
        """Background: close the console and QMP connections, leaving the
        blade running."""
        if self.qmp_session:
            self.qmp_session.close()
            self.qmp_session = None
        if self.console:
            self.console.close()
            self.console = None

    def close(self):
        self.disconnect()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.serial_log:
            self.serial_log.close()
            self.serial_log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def last_line(path):
    """The last non-empty line of a (log) file, or ''."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _kvm_usable():
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user"
    return None


def choose_accel(requested="auto", probe_timeout=20):
    """Returns (accel, reason).  'auto' uses KVM only if a short probe boot
    under KVM reaches the ready line: on nested hosts KVM opens but Linux
    hangs.  The probe's verdict is kept (in the cache, for every checkout)
    until QEMU's version, the blade kernel or the host kernel change."""
    if requested in ("kvm", "tcg"):
        return requested, "requested"
    if requested != "auto":
        raise Failure(f"unknown accelerator '{requested}': use auto, kvm or tcg")
    why_not = _kvm_usable()
    if why_not:
        return "tcg", why_not
    manifest = image.build()
    with open(os.path.join(qemu.QEMU_SRC, "VERSION")) as f:
        qemu_version = f.read().strip()
    # The kernel, not the rest of the image, decides whether KVM boots.
    key = {"qemu": qemu_version, "kernel": manifest["kernel_version"],
           "host": os.uname().release}
    # Kept in the cache: the verdict is about this host, not this checkout.
    path = os.path.join(cache_dir(), "accel-probe.json")
    try:
        with open(path) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            return cached["accel"], "earlier probe: " + cached["reason"]
    except (OSError, ValueError):
        pass
    blade = Blade("kvm-probe", accel="kvm", nic_args=None)
    start = time.monotonic()
    try:
        with blade:
            blade.wait_ready(probe_timeout)
        accel, reason = "kvm", f"KVM probe boot ready in {time.monotonic() - start:.1f} s"
    except BladeError:
        accel, reason = "tcg", (f"KVM opens but a probe boot did not reach the "
                                f"ready line within {probe_timeout} s")
    with open(path, "w") as f:
        json.dump({"key": key, "accel": accel, "reason": reason}, f)
    return accel, reason
