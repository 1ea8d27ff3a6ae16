"""Boot a blade VM and talk to it over its serial console."""

import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import time

from . import image, qemu
from .common import BUILD, LOGS, Failure, cache_dir, ensure_dir

READY_RE = re.compile(rb"BLADEPLANE-READY (\{[^\r\n]*\})")


class BladeError(Failure):
    pass


def blade_mac(name):
    """A stable, locally administered MAC for a blade's NIC.  Each blade is
    its own QEMU process, so QEMU's default (52:54:00:12:34:56 for the first
    NIC of every process) would repeat on the backplane."""
    digest = hashlib.sha256(name.encode()).digest()
    return "52:54:00:%02x:%02x:%02x" % tuple(digest[:3])


class Blade:
    """One blade: q35, the blade image, a blade-nic, serial console on pipes.

    The serial output is also written to build/logs/blade-<name>.log so a
    failed boot can be read afterwards."""

    def __init__(self, name="blade0", accel="tcg", memory=256, nic_args="",
                 extra_args=(), append=""):
        self.name = name
        self.accel = accel
        manifest = image.build()
        cmdline = f"console=ttyS0 quiet panic=-1 blade.name={name} {append}".strip()
        self.argv = [qemu.QEMU_BIN,
            "-M", "q35", "-accel", accel, "-m", str(memory), "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-no-reboot",
            "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
            "-kernel", manifest["kernel"], "-initrd", manifest["initramfs"],
            "-append", cmdline,
        ]
        if nic_args is not None:
            self.argv += ["-device",
                          f"blade-nic,id=nic0,mac={blade_mac(name)}" + nic_args]
        self.argv += list(extra_args)
        # QMP, for the host side of tests and tools (fault injection, state).
        self.qmp_path = os.path.join(ensure_dir(os.path.join(BUILD, "run")),
                                     f"{name}.qmp")
        self.argv += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self.qmp_sock = None
        self.qmp_file = None
        self.proc = None
        self.buf = b""
        self.ready_info = None
        self.serial_log_path = os.path.join(ensure_dir(LOGS), f"blade-{name}.log")
        self.serial_log = None
        self.seq = 0

    def start(self):
        self.serial_log = open(self.serial_log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        return self

    def _read(self, timeout):
        """Read what is available within timeout; False once QEMU is gone."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return True
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            return False
        self.serial_log.write(data)
        self.serial_log.flush()
        self.buf += data
        return True

    def expect(self, pattern, timeout):
        """Wait for a regex (bytes) in the console output; returns the match
        and consumes the output up to its end."""
        regex = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise BladeError(f"blade {self.name}: timed out after {timeout} s "
                                 f"waiting for {regex.pattern!r} "
                                 f"(console log: {self.serial_log_path})")
            if not self._read(min(left, 0.5)):
                rc = self.proc.wait()
                raise BladeError(f"blade {self.name}: QEMU exited (status {rc}) "
                                 f"before {regex.pattern!r} "
                                 f"(console log: {self.serial_log_path})")

    def wait_ready(self, timeout=120):
        m = self.expect(READY_RE, timeout)
        self.ready_info = json.loads(m.group(1))
        return self.ready_info

    def run(self, command, timeout=60):
        """Run a shell command on the console; returns (status, output)."""
        self.seq += 1
        tag = f"BP{self.seq}"
        # The markers are split with quotes in what we type, so the shell's
        # echo of the command line can never be mistaken for the output.
        # One line, so no prompt lands in the output; a command may end in
        # '&' (then it already ends the list).
        sep = " " if command.rstrip().endswith("&") else "; "
        line = f"echo {tag}'<'; {command}{sep}echo \"{tag}>$?\"\n"
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        m = self.expect(re.compile(
            rf"(?:^|\n){tag}<\r?\n(.*?){tag}>(\d+)".encode(), re.S), timeout)
        text = m.group(1).decode(errors="replace").replace("\r\n", "\n")
        return int(m.group(2)), text

    def qmp(self, command, **arguments):
        """Execute a QMP command; returns its 'return' value."""
        if self.qmp_sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(30)
            sock.connect(self.qmp_path)
            self.qmp_sock, self.qmp_file = sock, sock.makefile("rwb")
            self._qmp_reply()                       # the greeting
            self.qmp("qmp_capabilities")
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.qmp_file.write(json.dumps(request).encode() + b"\n")
        self.qmp_file.flush()
        reply = self._qmp_reply()
        if "error" in reply:
            raise BladeError(f"blade {self.name}: QMP {command} failed: "
                             f"{reply['error'].get('desc')}")
        return reply.get("return")

    def _qmp_reply(self):
        while True:
            line = self.qmp_file.readline()
            if not line:
                raise BladeError(f"blade {self.name}: QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def poweroff(self, timeout=30):
        """Clean shutdown from inside the guest; kill if it does not stop."""
        if self.proc is None or self.proc.poll() is not None:
            return self.close()
        try:
            self.proc.stdin.write(b"poweroff -f\n")
            self.proc.stdin.flush()
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

    def close(self):
        if self.qmp_sock:
            self.qmp_sock.close()
            self.qmp_sock = self.qmp_file = None
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
