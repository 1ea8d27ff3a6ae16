"""Run directories: where a topology that is up keeps its sockets, logs and
pid files, and the record (state.json) `up` writes for the other commands.

    $BLADEPLANE_RUN_DIR/NAME, else $XDG_RUNTIME_DIR/bladeplane/NAME,
    else build/run/NAME

A run directory is private (mode 0700, owned by the user): the sockets in it
(the backplane's slots, QMP, consoles) give control of the VMs.

The processes are not QEMU's python/qemu QEMUMachine: a QEMUMachine is the
child of the Python object that launched it, owns its QMP connection for
its life and shuts QEMU down when it is done with it.  `up` starts
processes that outlive it, daemonised, and every later command (`status`,
`top`, `console`, `restart`, `down`) is another process that finds them
again here, by pid file and socket.  QMP itself is QEMU's client (qmp.py).
"""

import datetime
import json
import os
import shutil
import signal
import time

from .common import BUILD, Failure
from .qmp import QMP, QMPError

STATE = "state.json"
STATE_FORMAT = 1
# A UNIX socket address holds 107 bytes of path.
SOCKET_PATH_MAX = 107


def base_dir():
    if os.environ.get("BLADEPLANE_RUN_DIR"):
        return os.path.abspath(os.environ["BLADEPLANE_RUN_DIR"])
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return os.path.join(xdg, "bladeplane")
    return os.path.join(BUILD, "run")


def make_private(path):
    """mkdir path with mode 0700 (FileExistsError if it exists) and check
    that nobody else can enter it."""
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)          # whatever the umask did
    check_private(path)
    return path


def check_private(path):
    st = os.lstat(path)
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or \
            not os.path.isdir(path) or os.path.islink(path):
        raise Failure(f"{path} is not a private directory of this user "
                      f"(mode {st.st_mode & 0o777:o}, owner {st.st_uid}): "
                      f"refusing to put sockets there")


def now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


class Run:
    """The run directory of a topology."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self._state = None

    @property
    def state_path(self):
        return os.path.join(self.path, STATE)

    @property
    def state(self):
        if self._state is None:
            try:
                with open(self.state_path) as f:
                    self._state = json.load(f)
            except FileNotFoundError:
                raise Failure(f"{self.path} holds no {STATE}: not a "
                              f"bladeplane run directory")
            except (OSError, ValueError) as e:
                raise Failure(f"{self.state_path} is unreadable ({e}): "
                              f"remove {self.path} by hand")
            if self._state.get("format") != STATE_FORMAT:
                raise Failure(f"{self.state_path} was written by another "
                              f"bladeplane version: remove {self.path}")
        return self._state

    def save(self, state=None):
        """Write state.json atomically."""
        if state is not None:
            self._state = state
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self._state, f, indent=1)
            f.write("\n")
        os.replace(tmp, self.state_path)

    def processes(self):
        return self.state.get("processes", [])

    def alive(self):
        return [p for p in self.processes() if process_alive(p)]

    def remove(self):
        """Delete the run directory (only if it is one)."""
        if not os.path.isfile(self.state_path):
            raise Failure(f"{self.path} holds no {STATE}: not removing it")
        shutil.rmtree(self.path)


def create(name) -> Run:
    """A new run directory for topology `name`.  A stale one (nothing in it
    alive) is removed first; one whose processes run is refused."""
    base = base_dir()
    os.makedirs(base, mode=0o700, exist_ok=True)
    path = os.path.join(base, name)
    longest = os.path.join(path, "c" * 32, "backplane", "slot63.sock")
    if len(longest) > SOCKET_PATH_MAX:
        raise Failure(f"run directory {path} is too long for UNIX socket "
                      f"paths ({len(longest)} > {SOCKET_PATH_MAX} bytes with "
                      f"the longest chassis name): set BLADEPLANE_RUN_DIR to "
                      f"a shorter directory")
    for _ in range(2):
        try:
            make_private(path)
            return Run(path)
        except FileExistsError:
            pass
        run = Run(path)
        if not os.path.isfile(run.state_path):
            # A run directory that never got its record: `up` died at once,
            # or the path is something else.  Never remove what we did not
            # make.
            if os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)
                continue
            raise Failure(f"{path} exists and is not a bladeplane run "
                          f"directory: remove it or rename the topology")
        state = run.state
        starter = state.get("up_pid")
        if state.get("phase") == "starting" and starter and \
                starter != os.getpid() and _pid_exists(starter):
            raise Failure(f"topology '{name}' is being started right now "
                          f"(by process {starter})")
        if run.alive():
            raise Failure(f"topology '{name}' is already up (run directory "
                          f"{path}); 'bladeplane down {name}' stops it")
        run.remove()
    raise Failure(f"cannot create the run directory {path}")


def runs():
    """The run directories under base_dir(), by name."""
    base = base_dir()
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    return [Run(os.path.join(base, n)) for n in names
            if os.path.isfile(os.path.join(base, n, STATE))]


def find(name=None):
    """The run of topology `name`, or the only one when name is None."""
    if name is not None:
        if name.endswith(".toml") and os.path.isfile(name):
            from . import topology
            name = topology.load(name).name
        from .topology import NAME_RE
        if not NAME_RE.match(name):
            raise Failure(f"'{name}' is not a topology name")
        path = os.path.join(base_dir(), name)
        if not os.path.isfile(os.path.join(path, STATE)):
            up = ", ".join(r.name for r in runs()) or "none"
            raise Failure(f"topology '{name}' is not up (up: {up})")
        return Run(path)
    found = runs()
    if not found:
        raise Failure(f"no topology is up (run directories: {base_dir()})")
    if len(found) > 1:
        raise Failure(f"several topologies are up "
                      f"({', '.join(r.name for r in found)}): name one")
    return found[0]


def check_not_up(name):
    """Failure if topology `name` runs (a quick check before the slow
    steps; create() checks again, atomically)."""
    path = os.path.join(base_dir(), name)
    if not os.path.isfile(os.path.join(path, STATE)):
        return
    run = Run(path)
    if run.alive():
        raise Failure(f"topology '{name}' is already up (run directory "
                      f"{path}); 'bladeplane down {name}' stops it")


def find_blade(ident, topology_name=None):
    """(Run, process record) of a blade: NAME or CHASSIS.NAME, in the given
    topology or in the one that has it."""
    chassis, _, name = ident.rpartition(".")
    candidates = [find(topology_name)] if topology_name else runs()
    found = []
    for run in candidates:
        for p in run.processes():
            if p["kind"] == "blade" and p["name"] == name and \
                    (not chassis or p.get("chassis") == chassis):
                found.append((run, p))
    if not found:
        where = (f"topology '{topology_name}'" if topology_name else
                 "the topologies that are up (" + (", ".join(
                     r.name for r in candidates) or "none") + ")")
        raise Failure(f"no blade '{ident}' in {where}")
    if len(found) > 1:
        raise Failure(f"blade '{ident}' is in several topologies ("
                      f"{', '.join(r.name for r, _ in found)}): use -t NAME")
    return found[0]


# ---- processes ----------------------------------------------------------------


def _pid_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_alive(proc):
    """Whether the process of a record ({"pid", "marker"}) runs: the pid
    exists, is not a zombie, and its command line holds the marker (so a
    reused pid is not mistaken for it)."""
    pid = proc.get("pid")
    if not pid:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)     # our own child: reap it
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    return proc.get("marker", "").encode() in cmdline


def stop(procs, quit_timeout=10.0, term_timeout=5.0, terminate=False):
    """Stop processes: QMP quit for those with a QMP socket (SIGTERM for
    the others, or for all with terminate), then SIGTERM, then SIGKILL for
    what still runs.  Returns {name: how}: quit, terminated (by the
    SIGTERM asked for), SIGTERM, SIGKILL, 'not running' or 'still
    running'."""
    how = {}
    alive = []
    for p in procs:
        if process_alive(p):
            alive.append(p)
        else:
            how[p["name"]] = "not running"
    first = {}
    for p in alive:
        first[p["name"]] = "quit"
        if terminate:
            first[p["name"]] = "terminated"
            _kill(p, signal.SIGTERM)
            continue
        if p.get("qmp"):
            try:
                with QMP.connect(p["qmp"], p["name"], timeout=2) as q:
                    q.execute("quit", timeout=2)
                continue
            except QMPError:
                pass                # it may have quit before it answered
            if not process_alive(p):
                continue
        first[p["name"]] = "SIGTERM"
        _kill(p, signal.SIGTERM)
    steps = [(None, quit_timeout), (signal.SIGTERM, term_timeout),
             (signal.SIGKILL, 5.0)]
    for sig, timeout in steps:
        if sig is not None:
            for p in alive:
                _kill(p, sig)
        deadline = time.monotonic() + timeout
        while alive:
            still = []
            for p in alive:
                if process_alive(p):
                    still.append(p)
                else:
                    how[p["name"]] = sig.name if sig else first[p["name"]]
            alive = still
            if not alive or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not alive:
            break
    for p in alive:
        how[p["name"]] = "still running"
    return how


def stop_topology(procs, quit_timeout=10.0, virtual=False):
    """Stop a topology's processes: helpers first (they talk to the
    others), then the rest.  In virtual time the blades go first, by
    SIGTERM (QEMU's clean shutdown): once one of them has left, the
    others wait for it at their next horizon, where they take a signal
    but answer no QMP.  Returns stop()'s {name: how} for all of them."""
    how = stop([p for p in procs if p["kind"] == "injector"],
               quit_timeout=quit_timeout)
    if virtual:
        how.update(stop([p for p in procs if p["kind"] == "blade"],
                        quit_timeout=quit_timeout, terminate=True))
    how.update(stop([p for p in procs if p["name"] not in how],
                    quit_timeout=quit_timeout))
    return how


def _kill(proc, sig):
    try:
        os.kill(proc["pid"], sig)
    except ProcessLookupError:
        pass
