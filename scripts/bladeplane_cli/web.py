"""`bladeplane web`: a live view of a running topology in a browser.

One poller thread reads every chassis's switch (`query-blade-switch`,
docs/switch-blade.md) about once a second, as `top` does, and turns the
reads into a JSON snapshot (build_snapshot): the topology as a graph
(chassis, slots, blades, links and their spanning-tree state), per blade
its reported load and its share of the new flows of the interval, per
port its link, sync, drops and errors, and per service which blades got
the new flows of the interval.  Every browser that is connected gets the
same snapshots as server-sent events (/api/events); the poller is shared,
so ten pages cost the chassis no more QMP reads than one.

The balancing decisions are derived, not reported: the switch counts new
flows per blade and per service (cumulative), and the difference between
two reads says which blades got the new flows of that interval.

The server is Python's http.server, bound to 127.0.0.1 unless told
otherwise.  It answers GET for a fixed set of paths, from files read once
at start (the page, its script and style under web/, and Debian's
Chart.js from libjs-chart.js): a request path is never looked up on the
file system.  Everything else is 404 (unknown path) or 405 (another
method).  Event streams are bounded (MAX_CLIENTS), and so are the
connections being served at once (MAX_CONNECTIONS), each with a socket
timeout.  On a loopback address the Host header must name a loopback
host, so a web page elsewhere cannot read the view by rebinding its own
name to 127.0.0.1.

A topology that goes down (its switches stop answering, or `down` removes
its run directory) makes the snapshots say so ("connected": false, with
the reason); the poller keeps looking for the topology by name and the
page recovers when it is up again."""

import collections
import dataclasses
import errno
import http.server
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable, Iterable, TextIO

from . import rundir, topology
from .chassis import read_switch
from .common import Failure
from .qmp import QMPError
from .views import bus_interval, interval_shares

DEFAULT_PORT = 8070
DEFAULT_BIND = "127.0.0.1"
POLL_INTERVAL = 1.0         # seconds between reads of the switches
QMP_TIMEOUT = 2.0           # per read: a QMP socket serves one client
HISTORY = 180               # samples kept for a page that connects later
MAX_CLIENTS = 8             # event streams at once
MAX_CONNECTIONS = 32        # connections being served at once
SOCKET_TIMEOUT = 10.0       # per read or write of a connection
KEEPALIVE = 15.0            # seconds between comments on a quiet stream

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
# Debian's libjs-chart.js (3.x): the UMD build defines window.Chart.
CHART_JS = ("/usr/share/javascript/chart.js/chart.min.js",
            "/usr/share/javascript/chart.js/chart.js")
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
CHART_PATH = "/chart.js"
SNAPSHOT_PATH = "/api/snapshot"
EVENTS_PATH = "/api/events"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# ---- command-line values ------------------------------------------------


def parse_port(text: str) -> int:
    """--port: a TCP port, 1 to 65535 (ValueError otherwise)."""
    if not re.fullmatch(r"[0-9]{1,5}", text):
        raise ValueError(f"not a port number: {text!r}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range (1 to 65535)")
    return port


def parse_bind(text: str) -> str:
    """--bind: a numeric IPv4 or IPv6 address of this host to listen on
    (ValueError otherwise; a name would need a resolver to say which)."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"not an IP address: {text!r} (give a numeric "
                         f"address such as 127.0.0.1 or ::1)") from None
    if addr.is_multicast:
        raise ValueError(f"{text} is a multicast address")
    return str(addr)


def is_loopback(bind: str) -> bool:
    return ipaddress.ip_address(bind).is_loopback


# ---- snapshots ----------------------------------------------------------


@dataclasses.dataclass
class Reading:
    """One poll of a topology: its spec (None before it was ever found),
    each chassis's state tree or why there is none, whether each process
    runs, and why the topology could not be read at all."""
    name: str
    spec: topology.Topology | None = None
    states: dict[str, dict | None] = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    alive: dict[tuple[str, str, str | None], bool] = dataclasses.field(
        default_factory=dict)
    error: str | None = None
    started: str | None = None


def read_topology(name: str, spec: topology.Topology | None = None,
                  timeout: float = QMP_TIMEOUT) -> Reading:
    """Read a topology that may be up: its run directory's record and
    every chassis's switch (each QMP socket held for one read).  `spec`
    is the last one seen, kept while the topology is down."""
    reading = Reading(name, spec)
    try:
        run = rundir.find(name)
        state = run.state
        found = topology.from_dict(state["spec"])
        reading.spec = found
        reading.started = state.get("started")
        procs = run.processes()
    except (Failure, KeyError, TypeError) as e:
        reading.error = str(e) if isinstance(e, Failure) else \
            f"the run directory of '{name}' holds no usable record ({e})"
        return reading
    for p in procs:
        key = (p.get("kind"), p.get("name"),
               p.get("chassis") if p.get("kind") == "blade" else None)
        reading.alive[key] = rundir.process_alive(p)
    for ch in found.chassis:
        qmp = (state.get("chassis") or {}).get(ch.name, {}).get("qmp")
        if not qmp:
            reading.errors[ch.name] = "not started yet"
            continue
        try:
            reading.states[ch.name] = read_switch(
                qmp, f"chassis {ch.name}", timeout=timeout)
        except QMPError as e:
            reading.errors[ch.name] = str(e)
    if not reading.states:
        reading.error = ("no switch answers: " +
                         "; ".join(reading.errors.values()))
    return reading


def _delta(cur: Any, prev: Any) -> int | None:
    if not isinstance(cur, int) or not isinstance(prev, int) or cur < prev:
        return None
    return cur - prev


def _port_row(p: dict, blade: str | None) -> dict:
    pcs = p.get("pcs") or {}
    drops = (p.get("rx_drops") or 0) + (p.get("tx_drops") or 0)
    return {"name": p.get("name"), "kind": p.get("kind"),
            "slot": p.get("slot"), "blade": blade, "link": p.get("link"),
            "connected": p.get("connected"),
            "sync": p.get("sync") if "pcs" in p else None,
            "blocked": p.get("blocked"),
            "rx_drops": p.get("rx_drops"), "tx_drops": p.get("tx_drops"),
            "drops": drops, "errors": p.get("errors"),
            "code_errors": pcs.get("code_errors"),
            "sync_losses": pcs.get("sync_losses"),
            "link_changes": p.get("link_changes"), "queue": p.get("queue")}


def _link_end(states: dict[str, dict | None], chassis: str,
              port: str | None) -> str:
    """One end of a link as its chassis's switch sees it."""
    st = states.get(chassis)
    if st is None or port is None:
        return "unknown"
    p = next((x for x in st.get("ports", []) if x.get("name") == port),
             None)
    if p is None:
        return "unknown"
    if not p.get("link"):
        return "down"
    return "blocked" if p.get("blocked") else "forwarding"


def link_state(states: dict[str, dict | None], link: topology.Link) -> str:
    """forwarding, blocked (the spanning tree keeps it out of use at
    either end), down (either end), or unknown (no end read)."""
    ends = [_link_end(states, link.a, link.a_port)]
    if link.b is not None:
        ends.append(_link_end(states, link.b, link.b_port))
    known = [e for e in ends if e != "unknown"]
    for verdict in ("down", "blocked"):
        if verdict in known:
            return verdict
    return "forwarding" if known else "unknown"


def build_snapshot(reading: Reading, prev: dict[str, dict | None],
                   seq: int = 0, now: float | None = None) -> dict:
    """The JSON the page shows, from one reading and the chassis's states
    of the reading before (for the interval's new flows and drops)."""
    now = time.time() if now is None else now
    spec = reading.spec
    snap: dict[str, Any] = {
        "topology": reading.name, "seq": seq, "time": round(now, 3),
        "connected": bool(reading.states), "error": reading.error,
        "started": reading.started, "chassis": [], "blades": [],
        "links": [], "decisions": [], "interval_s": None}
    if spec is None:
        return snap
    states = reading.states
    names: dict[tuple, str] = {(c.name, b.slot): b.name
                               for c in spec.chassis for b in c.blades}

    # New flows of the interval, fabric wide: the switch that placed a
    # flow counts it (the front one for the blades of other chassis).
    new: dict[tuple, int] = collections.Counter()
    intervals = []
    for ch in spec.chassis:
        cur, before = states.get(ch.name), prev.get(ch.name)
        if cur is None:
            continue
        shares = interval_shares(before, cur, ch.name)
        if shares is None:
            continue
        for key, (d, _) in shares.items():
            new[key] += d
        was, is_ = ((before or {}).get("switch") or {}).get("now_ms"), \
            (cur.get("switch") or {}).get("now_ms")
        if isinstance(was, int) and isinstance(is_, int):
            intervals.append((is_ - was) / 1000.0)
    total = sum(new.values())
    if intervals:
        snap["interval_s"] = round(max(intervals), 3)

    for ch in spec.chassis:
        view = _chassis_view(reading, ch, prev.get(ch.name), names)
        snap["chassis"].append(view)
        st = states.get(ch.name) or {}
        local = {b.get("slot"): b for b in st.get("blades", [])
                 if not b.get("remote")}
        ports = {p.get("name"): p for p in st.get("ports", [])}
        for b in ch.blades:
            entry = local.get(b.slot) or {}
            port = ports.get(f"slot{b.slot}") or {}
            key = (ch.name, b.slot)
            got = new.get(key) if key in new else None
            snap["blades"].append({
                "id": f"{ch.name}.{b.name}", "name": b.name,
                "chassis": ch.name, "slot": b.slot,
                "alive": reading.alive.get(("blade", b.name, ch.name)),
                "present": bool(entry),
                "link": port.get("link"),
                "sync": port.get("sync") if "pcs" in port else None,
                "in_rotation": bool(entry.get("in_rotation")),
                "reason": entry.get("reason") or (
                    "no answer from the switch" if not st else "not listed"),
                "cpu": entry.get("cpu"), "irq": entry.get("irq"),
                "pressure": entry.get("pressure"),
                "runnable": entry.get("runnable"),
                "age_ms": entry.get("report_age_ms"),
                "reports": entry.get("reports"),
                "flows": entry.get("active_flows"),
                "new": got,
                "share": (got / total if got is not None and total
                          else None),
                "errors": port.get("errors")})
        for s in view["services"]:
            if s["new"]:
                snap["decisions"].append({
                    "chassis": ch.name, "service": s["name"],
                    "policy": s["policy"], "new": s["new"],
                    "to": [t for t in s["to"] if t["new"]]})
    for link in spec.links:
        far = link.b if link.b is not None else \
            f"tcp:{link.peer_host}:{link.peer_port}"
        snap["links"].append({"a": link.a, "a_port": link.a_port,
                              "b": link.b, "b_port": link.b_port,
                              "peer": link.b is None, "far": far,
                              "state": link_state(states, link)})
    return snap


def _chassis_view(reading: Reading, ch: topology.Chassis,
                  before: dict | None,
                  names: dict[tuple, str]) -> dict:
    st = reading.states.get(ch.name)
    view: dict[str, Any] = {
        "name": ch.name, "role": ch.role, "slots": ch.slots,
        "alive": reading.alive.get(("chassis", ch.name, None)),
        "answered": st is not None, "error": reading.errors.get(ch.name),
        "uplink": ch.uplink is not None,
        "blades": {b.slot: b.name for b in ch.blades},
        "ports": [], "drops": {}, "drops_new": {}, "services": [],
        "fabric": None, "clock_ms": None, "mac": None,
        "score_unit": None, "uplink_link": None, "bus": None}
    if st is None:
        return view
    sw = st.get("switch") or {}
    view.update(clock_ms=sw.get("now_ms"), mac=sw.get("mac"),
                score_unit=st.get("score_unit"))
    for p in st.get("ports", []):
        blade = names.get((ch.name, p.get("slot"))) \
            if p.get("kind") == "slot" else None
        view["ports"].append(_port_row(p, blade))
        if p.get("name") == "uplink":
            view["uplink_link"] = p.get("link")
    drops = st.get("drops") or {}
    old = (before or {}).get("drops") or {}
    view["drops"] = {k: v for k, v in drops.items() if v}
    if before is not None:
        view["drops_new"] = {k: d for k, v in drops.items()
                             if (d := _delta(v, old.get(k, 0)))}
    fab = st.get("fabric")
    if fab:
        view["fabric"] = {
            "chassis_id": fab.get("chassis_id"),
            "root_id": fab.get("root_id"),
            "root": fab.get("root_id") is not None and
            fab.get("root_id") == fab.get("chassis_id"),
            "ports": [{"name": p.get("name"), "link": p.get("link"),
                       "state": p.get("state") or (
                           "forwarding" if p.get("forwarding")
                           else "blocked"),
                       "role": p.get("role"),
                       "neighbour": p.get("neighbour")}
                      for p in fab.get("ports", [])]}
    view["services"] = _services(ch, st, before, names)
    view["bus"] = _bus_view(st, before, names, ch.name)
    return view


def _bus_view(st: dict, before: dict | None, names: dict[tuple, str],
              chassis: str) -> dict | None:
    """A bus chassis's TDM bus (docs/backplane.md): its utilization in
    the interval and since the switch started, and per transceiver its
    weight, its queue, and in the interval its grants, wasted slots,
    octets, share of the octets sent and its frames' mean wait (None: no
    interval yet, or nothing crossed)."""
    bus = st.get("bus")
    if not bus:
        return None
    interval = bus_interval(before, st) or {}
    per = interval.get("transceivers", {})
    return {
        "speed_mbps": bus.get("speed_mbps"), "schedule": bus.get("schedule"),
        "frame_slots": bus.get("frame_slots"),
        "utilization": interval.get("utilization"),
        "utilization_total": bus.get("utilization"),
        "transceivers": [
            {"name": t.get("name"),
             "blade": names.get((chassis, t.get("slot")))
             if "slot" in t else None,
             "weight": t.get("weight"), "queue": t.get("queue"),
             **{k: per.get(t.get("name"), {}).get(k)
                for k in ("grants", "wasted", "bytes", "share", "wait_us")}}
            for t in bus.get("transceivers", [])]}


def _share_key(ch: topology.Chassis, x: dict) -> tuple:
    return (x.get("chassis") or ch.name, x.get("slot"))


def _services(ch: topology.Chassis, st: dict, before: dict | None,
              names: dict[tuple, str]) -> list[dict]:
    """Each service and steering rule of a switch, with the new flows of
    the interval and the blades that got them."""
    out = []
    old = {s.get("name"): s for s in (before or {}).get("services", [])}
    for s in st.get("services", []):
        prior = old.get(s.get("name"))
        was = {_share_key(ch, x): x.get("new_flows", 0)
               for x in (prior or {}).get("share", [])}
        to = []
        for x in s.get("share", []):
            key = _share_key(ch, x)
            label = names.get(key) or f"{key[0]}/slot{key[1]}"
            d = _delta(x.get("new_flows", 0), was.get(key, 0)) \
                if prior is not None else None
            to.append({"blade": label, "chassis": key[0], "slot": key[1],
                       "new": d, "share": x.get("share")})
        lo, hi = s.get("port_min"), s.get("port_max")
        ports = "*" if (lo, hi) in ((0, 65535), (0, 0)) else (
            f"{lo}" if lo == hi else f"{lo}-{hi}")
        out.append({
            "name": s.get("name"), "kind": s.get("kind"),
            "policy": s.get("policy"), "vip": s.get("vip"),
            "protocol": s.get("protocol"), "ports": ports,
            "remote": bool(s.get("remote")),
            "new_flows": s.get("new_flows"),
            "new": (_delta(s.get("new_flows"), prior.get("new_flows"))
                    if prior is not None else None),
            "no_blade": (_delta(s.get("no_blade"), prior.get("no_blade"))
                         if prior is not None else None),
            "to": to})
    return out


def sample(snap: dict) -> dict:
    """What the page plots of a snapshot: kept as history for pages that
    connect later."""
    return {"time": snap["time"], "connected": snap["connected"],
            "blades": {b["id"]: {k: b[k] for k in
                                 ("cpu", "irq", "pressure", "share",
                                  "in_rotation", "link")}
                       for b in snap["blades"]}}


# ---- the poller ---------------------------------------------------------


Reader = Callable[[str, "topology.Topology | None"], Reading]


class Poller(threading.Thread):
    """Reads the topology every `interval` seconds and keeps the latest
    snapshot and a history of samples; clients wait on it for newer
    ones.  One for the server, whatever the number of pages."""

    def __init__(self, name: str, interval: float = POLL_INTERVAL,
                 reader: Reader | None = None, history: int = HISTORY):
        super().__init__(name="bladeplane-web-poller", daemon=True)
        self.topology = name
        self.interval = interval
        self.reader: Reader = reader or read_topology
        self.cond = threading.Condition()
        self.latest: dict | None = None
        self.seq = 0
        self.history: collections.deque = collections.deque(maxlen=history)
        self.stopping = threading.Event()
        self._spec: topology.Topology | None = None
        self._prev: dict[str, dict | None] = {}

    def poll(self) -> dict:
        """One read: a new snapshot, handed to every waiting client."""
        try:
            reading = self.reader(self.topology, self._spec)
        except Exception as e:          # noqa: BLE001 - keep serving
            reading = Reading(self.topology, self._spec,
                              error=f"reading the topology failed: {e}")
        self._spec = reading.spec
        with self.cond:
            seq = self.seq + 1
        snap = build_snapshot(reading, self._prev, seq)
        # A chassis that did not answer has no interval to the next read.
        self._prev = dict(reading.states)
        with self.cond:
            self.seq = seq
            self.latest = snap
            self.history.append(sample(snap))
            self.cond.notify_all()
        return snap

    def run(self) -> None:
        tick = time.monotonic()
        while not self.stopping.is_set():
            self.poll()
            tick += self.interval
            late = time.monotonic() - tick
            if late > self.interval:        # a slow read: do not catch up
                tick = time.monotonic()
            self.stopping.wait(max(0.0, tick - time.monotonic()))

    def stop(self) -> None:
        self.stopping.set()
        with self.cond:
            self.cond.notify_all()

    def newer(self, seq: int, timeout: float) -> dict | None:
        """The latest snapshot once it is newer than `seq`, or None after
        `timeout` seconds (or when stopping)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.seq <= seq and not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.latest if self.seq > seq else None

    def history_list(self) -> list[dict]:
        with self.cond:
            return list(self.history)


# ---- the server ---------------------------------------------------------


def find_chart_js(candidates: Iterable[str] = CHART_JS) -> str:
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise Failure("Chart.js is not installed (Debian package "
                  "libjs-chart.js, which 'scripts/bladeplane setup' "
                  "installs): the web view plots with it")


def load_static(chart_js: str, directory: str = STATIC_DIR
                ) -> dict[str, tuple[bytes, str]]:
    """{path: (body, content type)}: every file the server sends, read
    once."""
    files = {}
    for path, (name, ctype) in STATIC.items():
        with open(os.path.join(directory, name), "rb") as f:
            files[path] = (f.read(), ctype)
    with open(chart_js, "rb") as f:
        files[CHART_PATH] = (f.read(), "text/javascript; charset=utf-8")
    return files


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def host_allowed(host: str | None, loopback_only: bool) -> bool:
    """Whether a request's Host header may be answered: on a loopback
    bind, only a loopback name (with any port)."""
    if not loopback_only:
        return True
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):
        name = name.split("]", 1)[0] + "]"
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name in LOOPBACK_HOSTS or name.rstrip(".") == "localhost"


class Handler(http.server.BaseHTTPRequestHandler):
    """GET of the known paths; 404 for any other path, 405 for any other
    method."""

    server: "WebServer"
    timeout = SOCKET_TIMEOUT

    def version_string(self) -> str:
        return "bladeplane-web"     # not Python's version

    def log_message(self, format: str, *args: Any) -> None:
        pass                    # no line per request on the terminal

    def _send(self, code: int, body: bytes, ctype: str,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code: int, text: str,
               extra: dict[str, str] | None = None) -> None:
        self.close_connection = True
        self._send(code, (text + "\n").encode(), "text/plain; charset=utf-8",
                   extra)

    def do_GET(self) -> None:
        if not host_allowed(self.headers.get("Host"),
                            self.server.loopback_only):
            self._error(403, "forbidden: this view answers requests to a "
                        "loopback host name only")
            return
        path = urllib.parse.urlsplit(self.path).path
        if path in self.server.files:
            body, ctype = self.server.files[path]
            self._send(200, body, ctype)
        elif path == SNAPSHOT_PATH:
            snap = self.server.poller.latest or {}
            self._send(200, json.dumps(snap).encode(),
                       "application/json")
        elif path == EVENTS_PATH:
            self._events()
        else:
            self._error(404, "not found")

    def _refuse_method(self) -> None:
        self._error(405, "method not allowed: GET only", {"Allow": "GET"})

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = \
        do_TRACE = do_CONNECT = _refuse_method

    def _events(self) -> None:
        """Server-sent events: the history, then every snapshot."""
        srv = self.server
        if not srv.clients.acquire(blocking=False):
            self._error(503, f"too many event streams (at most "
                        f"{srv.max_clients}): close another page",
                        {"Retry-After": "5"})
            return
        try:
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            for k, v in SECURITY_HEADERS.items():
                self.send_header(k, v)
            self.end_headers()
            self._event(None, "retry: 2000")
            self._event("history", json.dumps(srv.poller.history_list()))
            seq = 0
            latest = srv.poller.latest
            if latest is not None:
                self._event("snapshot", json.dumps(latest))
                seq = latest["seq"]
            while not srv.stopping.is_set():
                snap = srv.poller.newer(seq, KEEPALIVE)
                if srv.stopping.is_set():
                    break
                if snap is None:
                    self._event(None, ": keep-alive")
                    continue
                seq = snap["seq"]
                self._event("snapshot", json.dumps(snap))
        except (OSError, ValueError):
            pass                # the page went away, or timed out
        finally:
            srv.clients.release()

    def _event(self, name: str | None, data: str) -> None:
        if name is None:
            text = data + "\n\n"
        else:
            text = f"event: {name}\ndata: {data}\n\n"
        self.wfile.write(text.encode())
        self.wfile.flush()


class WebServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], poller: Poller,
                 files: dict[str, tuple[bytes, str]],
                 max_clients: int = MAX_CLIENTS,
                 max_connections: int = MAX_CONNECTIONS):
        self.poller = poller
        self.files = files
        self.max_clients = max_clients
        self.clients = threading.BoundedSemaphore(max_clients)
        self.connections = threading.BoundedSemaphore(max_connections)
        self.stopping = threading.Event()
        self.loopback_only = is_loopback(address[0])
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # More connections than that at once are closed unanswered.
        if not self.connections.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connections.release()
            raise

    def process_request_thread(self, request: Any,
                               client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release()

    def stop(self) -> None:
        self.stopping.set()
        self.poller.stop()
        self.shutdown()
        self.server_close()


class WebServer6(WebServer):
    address_family = socket.AF_INET6


def make_server(bind: str, port: int, poller: Poller,
                files: dict[str, tuple[bytes, str]],
                **limits: int) -> WebServer:
    cls = WebServer6 if ipaddress.ip_address(bind).version == 6 \
        else WebServer
    try:
        return cls((bind, port), poller, files, **limits)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise Failure(f"port {port} on {bind} is in use: choose "
                          f"another with --port") from None
        raise Failure(f"cannot listen on {bind} port {port}: "
                      f"{e.strerror or e}") from None


def url(bind: str, port: int) -> str:
    host = f"[{bind}]" if ":" in bind else bind
    return f"http://{host}:{port}/"


def serve(name: str | None, port: int = DEFAULT_PORT,
          bind: str = DEFAULT_BIND, out: TextIO = sys.stdout) -> int:
    """`bladeplane web`: serve the view of a topology that is up until
    Ctrl-C."""
    run = rundir.find(name)
    files = load_static(find_chart_js())
    poller = Poller(run.name)
    server = make_server(bind, port, poller, files)
    poller.start()
    out.write(f"web view of topology {run.name}: {url(bind, port)} "
              f"(Ctrl-C stops it)\n")
    if not is_loopback(bind):
        out.write(f"note: {bind} is not a loopback address: anyone who can "
                  f"reach it sees the view (it is read-only)\n")
    out.flush()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        out.write("\n")
    finally:
        server.stopping.set()
        poller.stop()
        server.server_close()
    return 0
