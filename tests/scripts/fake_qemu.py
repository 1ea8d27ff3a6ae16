#!/usr/bin/env python3
"""A stand-in for qemu-system-x86_64 in the CLI's tests: it speaks just
enough of what `bladeplane up` and the other commands use, following
docs/switch-blade.md, so the launcher can be tested without the device.

- `-M blade-chassis -device blade-switch,slots=N,backplane=DIR`: listens on
  DIR/slotN.sock; a slot is up while a (fake) blade holds a connection.
  QMP: query-blade-switch (each read adds slot+1 new flows to each connected
  blade, so shares are known), blade-switch-add-service/-steering,
  blade-switch-capture (writes a pcap header and one frame, and with
  `symbols` a symbol capture's header, two lines and its end), quit.
- Chassis joined by links: the switch given as JSON with `chain` (netdev
  ids of `-netdev stream,...,addr.type=unix,addr.path=P` or inet), each
  chain port listening (server=on) or connecting and reconnecting
  (reconnect-ms).  Over a link the fakes speak a stand-in of the control
  protocol: length-prefixed frames (QEMU's stream netdev framing) holding
  JSON adverts of the blades a chassis holds and has heard of, every
  fabric-interval ms; a neighbour silent for three intervals, or a link
  that drops, is forgotten.  The state tree then lists the other chassis's
  blades ("remote": true, chassis, chassis_id, hops; each read adds one
  new flow to each) and a `fabric` object.  No spanning tree: every chain
  port forwards.
- `-M q35 ... -device blade-nic,backplane=DIR,slot=N`: connects to its slot
  (and reconnects), prints the ready line on its console (a socket chardev
  with a logfile) and answers commands typed there the way the blade
  image's shell would, for the few commands the CLI types.

Failures on request, from the environment:
  FAKE_QEMU_FAIL_CHASSIS=1   the chassis exits at once with an error line
  FAKE_QEMU_FAIL_BLADE=NAME  that blade exits before its ready line
  FAKE_QEMU_SILENT=NAME      chassis NAME sends no adverts (never converges)
"""

import json
import os
import re
import select
import socket
import struct
import sys
import time


def opts(text):
    """QEMU option string -> (first word, {key: value})."""
    parts = [p.replace("\0", ",") for p in text.replace(",,", "\0").split(",")]
    out = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        out[k] = v
    return parts[0], out


def parse(argv):
    cfg = {"chardevs": {}, "devices": [], "append": "", "machine": None,
           "netdevs": [], "objects": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if a == "-M":
            cfg["machine"] = nxt
        elif a == "-chardev":
            kind, o = opts(nxt)
            cfg["chardevs"][o["id"]] = dict(o, kind=kind)
        elif a == "-device" and nxt.startswith("{"):
            cfg["devices"].append(json.loads(nxt))
        elif a == "-device":
            kind, o = opts(nxt)
            cfg["devices"].append(dict(o, driver=kind))
        elif a == "-object":
            kind, o = opts(nxt)
            cfg["objects"].append(dict(o, qom_type=kind))
        elif a == "-append":
            cfg["append"] = nxt
        elif a == "-netdev":
            cfg["netdevs"].append(nxt)
        if a.startswith("-") and a not in ("-nodefaults", "-no-user-config",
                                           "-no-reboot"):
            i += 2
        else:
            i += 1
    return cfg


def recv(conn):
    """What a socket has, b"" when the peer went away (a peer that dies
    with data unread resets the connection)."""
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def listen(path):
    # As QEMU's socket servers and the switch's lanes: a socket file left
    # by a process that died goes first.
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    return s



def qapi_names(tree):
    """The tree as QEMU's QAPI puts it: member names with dashes, and an
    optional member without a value left out."""
    if isinstance(tree, dict):
        return {k.replace("_", "-"): qapi_names(v) for k, v in tree.items()
                if v is not None}
    if isinstance(tree, list):
        return [qapi_names(v) for v in tree]
    return tree


class Fake:
    def __init__(self, cfg):
        self.cfg = cfg
        self.readers = {}           # socket -> handler(sock)
        self.qmp_client = None
        self.qmp_buf = b""
        self.quit = False
        qmp = cfg["chardevs"]["qmp"]
        self.qmp_server = listen(qmp["path"])
        self.readers[self.qmp_server] = self.accept_qmp

    def accept_qmp(self, server):
        # One client at a time, as QEMU: while one is connected the server
        # is not watched, and the next connection waits in the backlog.
        conn, _ = server.accept()
        self.qmp_client = conn
        del self.readers[server]
        self.readers[conn] = self.read_qmp
        self.send_qmp({"QMP": {"version": {"qemu": {"major": 10, "minor": 0,
                                                    "micro": 0}},
                               "capabilities": []}})

    def send_qmp(self, msg):
        self.qmp_client.sendall(json.dumps(msg).encode() + b"\r\n")

    def read_qmp(self, conn):
        data = conn.recv(65536)
        if not data:
            del self.readers[conn]
            conn.close()
            self.qmp_client = None
            self.qmp_buf = b""
            self.readers[self.qmp_server] = self.accept_qmp
            return
        self.qmp_buf += data
        # A client's messages are JSON objects one after the other, with
        # or without a newline between (QEMU's parser is a stream parser).
        while True:
            text = self.qmp_buf.decode().lstrip()
            try:
                req, end = json.JSONDecoder().raw_decode(text)
            except ValueError:
                self.qmp_buf = text.encode()
                break
            self.qmp_buf = text[end:].encode()
            reply = {"id": req["id"]} if "id" in req else {}
            try:
                reply["return"] = self.command(req["execute"],
                                               req.get("arguments", {}))
            except KeyError as e:
                reply["error"] = {"class": "GenericError", "desc": str(e)}
            self.send_qmp(reply)
            if req["execute"] == "quit":
                self.quit = True

    def command(self, name, args):
        if name in ("qmp_capabilities", "quit"):
            return {}
        if name == "query-status":
            return {"status": "running", "running": True}
        raise KeyError(f"The command {name} has not been found")

    def loop(self):
        while not self.quit:
            self.tick()
            ready, _, _ = select.select(list(self.readers), [], [], 0.05)
            for s in ready:
                if s in self.readers:
                    self.readers[s](s)

    def tick(self):
        pass


class FakeChassis(Fake):
    def __init__(self, cfg):
        super().__init__(cfg)
        if os.environ.get("FAKE_QEMU_FAIL_CHASSIS"):
            print("qemu-system-x86_64: -device blade-switch: fake failure",
                  file=sys.stderr)
            sys.exit(1)
        sw = next(d for d in cfg["devices"] if d["driver"] == "blade-switch")
        self.slots = int(sw.get("slots", 4))
        self.backplane = sw["backplane"]
        self.has_uplink = "uplink" in sw
        self.name = sw.get("chassis")
        self.chassis_id = sw.get("chassis-id")
        self.interval = sw.get("fabric-interval", 100) / 1000
        netdevs = {opts(n)[1].get("id"): n for n in cfg["netdevs"]}
        self.chain = [ChainPort(self, port, netdevs[port])
                      for port in sw.get("chain", [])]
        self.remote_flows = {}      # (chassis, slot) -> new flows
        self.lanes = {}             # slot -> connection
        self.new_flows = [0] * self.slots
        self.rules = []
        self.captures = {}
        self.start = time.monotonic()
        self.reads = 0
        for n in range(self.slots):
            srv = listen(os.path.join(self.backplane, f"slot{n}.sock"))
            self.readers[srv] = lambda s, n=n: self.accept_lane(s, n)

    def tick(self):
        now = time.monotonic()
        for port in self.chain:
            port.tick(now, self.interval)

    def local_blades(self):
        return [{"chassis": self.name, "chassis_id": self.chassis_id,
                 "slot": n, "mac": f"52:54:00:00:{self.chassis_id or 0:02x}:"
                 f"{n:02x}", "in_rotation": True, "cpu": 10 * n, "irq": 1,
                 "hops": 0} for n in sorted(self.lanes)]

    def remote(self, skip=None):
        """The other chassis's blades, each by its fewest hops (at most
        8), from the neighbours' latest adverts."""
        best = {}
        for port in self.chain:
            if port is skip or port.advert is None:
                continue
            for b in port.advert["blades"]:
                if b["chassis_id"] == self.chassis_id or b["hops"] >= 8:
                    continue
                key = (b["chassis"], b["slot"])
                if key not in best or b["hops"] + 1 < best[key]["hops"]:
                    best[key] = dict(b, hops=b["hops"] + 1, port=port.name)
        return best

    def advert(self, port):
        # What this chassis holds, and what it heard on its other ports.
        return {"chassis": self.name, "chassis_id": self.chassis_id,
                "blades": self.local_blades() +
                list(self.remote(skip=port).values())}

    def accept_lane(self, server, slot):
        conn, _ = server.accept()
        old = self.lanes.get(slot)
        if old:
            self.readers.pop(old, None)
            old.close()
        self.lanes[slot] = conn
        self.readers[conn] = lambda c, n=slot: self.read_lane(c, n)

    def read_lane(self, conn, slot):
        if not recv(conn):
            self.readers.pop(conn, None)
            conn.close()
            if self.lanes.get(slot) is conn:
                del self.lanes[slot]

    def command(self, name, args):
        if name == "query-blade-switch":
            self.reads += 1
            for n in self.lanes:
                self.new_flows[n] += n + 1
            for key in self.remote():
                self.remote_flows[key] = self.remote_flows.get(key, 0) + 1
            return qapi_names(self.state())
        if name in ("blade-switch-add-service", "blade-switch-add-steering"):
            for r in self.rules:
                if r["name"] == args["name"]:
                    raise KeyError(f"a rule named {args['name']} exists")
            self.rules.append(dict(args, kind=name.rsplit("-", 1)[1]))
            return {}
        if name == "blade-switch-capture":
            port = args["port"]
            if "pcap" in args:
                with open(args["pcap"], "wb") as f:
                    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0,
                                        65535, 1))
                    frame = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + b"\0" * 46
                    f.write(struct.pack("<IIII", 1, 0, len(frame), len(frame)))
                    f.write(frame)
                if "util-log" in args:
                    with open(args["util-log"], "w") as f:
                        f.write("0.100 cpu=10 irq=1 seq=1 form=idle K28.5 D16.2\n")
                if "symbols" in args:
                    self.write_symbols(port, args)
                self.captures[port] = args
            else:
                self.captures.pop(port, None)
            return {}
        return super().command(name, args)

    def write_symbols(self, port, args):
        """A symbol capture's file as the device writes it
        (docs/link-layer.md, "Symbol capture"), with the options it got;
        a limit under 10000 octets keeps out all but the header."""
        limit = args.get("symbols-limit") or 64 * 1024 * 1024
        with open(args["symbols"], "w") as f:
            f.write(f"# bladeplane symbol capture 1: {port}, both "
                    f"directions\n# fake: full={args.get('symbols-full')} "
                    f"bits={args.get('symbols-bits')} limit={limit}\n")
            if limit < 10000:
                f.write(f"# limit of {limit} octets reached: what follows "
                        f"is counted, not written\n# end: 0 lines, 120 "
                        f"octets; 3 bursts, gaps and events not written "
                        f"(limit {limit} octets)\n")
                return
            f.write("1.000000000 rx idle 12 K28.5- D16.2+ ..8.. K28.5- "
                    "D16.2+ # /I2/ x6, implied gap\n"
                    "1.000000100 rx event sync-acquired\n"
                    "# end: 2 lines, 120 octets; 0 bursts, gaps and events "
                    f"not written (limit {limit} octets)\n")

    def state(self):
        now = int((time.monotonic() - self.start) * 1000) + self.reads
        ports = []
        if self.has_uplink:
            ports.append({"name": "uplink", "kind": "uplink", "link": True,
                          "connected": True, "sync": True,
                          "speed_mbps": 10000, "rx_frames": 0, "rx_bytes": 0,
                          "tx_frames": 0, "tx_bytes": 0, "rx_drops": 0,
                          "tx_drops": 0, "errors": 0, "link_changes": 1,
                          "queue": 0})
        blades = []
        for n in range(self.slots):
            up = n in self.lanes
            ports.append({"name": f"slot{n}", "kind": "slot", "slot": n,
                          "link": up, "connected": up, "sync": up,
                          "speed_mbps": 1000, "rx_frames": 10 * n,
                          "rx_bytes": 1000 * n, "tx_frames": 0, "tx_bytes": 0,
                          "rx_drops": 0, "tx_drops": 0, "errors": 0,
                          "link_changes": 1 if up else 0, "queue": 0,
                          "pcs": {"code_errors": 0, "sync_losses": 0,
                                  "fcs_errors": 0, "util_sets": 5}})
            blades.append({"slot": n, "mac": f"52:54:00:00:00:{n:02x}" if up
                           else None, "in_rotation": up,
                           "reason": "in rotation" if up else "link down",
                           "cpu": 10 * n if up else None,
                           "irq": 1 if up else None,
                           "report_age_ms": 50 if up else None, "reports": 5,
                           "active_flows": n, "new_flows": self.new_flows[n],
                           "moved_flows": 0, "score": 10 * n})
        for (chassis, slot), b in sorted(self.remote().items()):
            blades.append({"slot": slot, "mac": b["mac"], "remote": True,
                           "chassis": chassis, "chassis_id": b["chassis_id"],
                           "hops": b["hops"], "in_rotation": b["in_rotation"],
                           "reason": "in rotation", "cpu": b["cpu"],
                           "irq": b["irq"], "report_age_ms": 80, "reports": 5,
                           "active_flows": 0, "moved_flows": 0,
                           "new_flows": self.remote_flows.get((chassis, slot),
                                                              0),
                           "score": b["cpu"]})
        for port in self.chain:
            up = port.conn is not None
            ports.append({"name": port.name, "kind": "chain", "link": up,
                          "connected": up, "blocked": False,
                          "speed_mbps": 10000, "rx_frames": port.rx,
                          "rx_bytes": 100 * port.rx, "tx_frames": port.tx,
                          "tx_bytes": 100 * port.tx, "rx_drops": 0,
                          "tx_drops": 0, "errors": 0, "link_changes": 1,
                          "queue": 0})
        services = [{"name": r["name"], "kind": r["kind"],
                     "vip": r.get("vip"), "protocol": r["protocol"],
                     "port_min": r.get("port", r.get("port-min", 0)),
                     "port_max": r.get("port", r.get("port-max", 65535)),
                     "policy": r.get("policy", "util"),
                     "blades": r["blades"], "new_flows": 0, "no_blade": 0,
                     "share": []} for r in self.rules]
        return {"switch": {"mac": "02:00:00:00:00:01", "slots": self.slots,
                           "backplane": self.backplane, "now_ms": now},
                "ports": ports, "blades": blades, "services": services,
                "flows": {"count": 0, "capacity": 65536, "created": 0,
                          "closed": 0, "expired": 0, "evicted": 0, "moved": 0},
                "mac_table": {"count": len(self.lanes), "capacity": 4096,
                              "learned": len(self.lanes), "moved": 0,
                              "aged": 0, "full": 0},
                "drops": {"runt": 0, "no_service": 0},
                **({"fabric": self.fabric_state()} if self.chain else {})}

    def fabric_state(self):
        now = time.monotonic()
        ports = []
        for p in self.chain:
            adv = p.advert
            ports.append({"name": p.name, "link": p.conn is not None,
                          "forwarding": p.conn is not None,
                          "state": "forwarding" if p.conn else "down",
                          "neighbour": adv["chassis"] if adv else None,
                          "neighbour_id": adv["chassis_id"] if adv else None,
                          "heard_age_ms": int((now - p.heard) * 1000)
                          if p.heard else None,
                          "rx_adverts": p.rx, "tx_adverts": p.tx})
        ids = [self.chassis_id] + [p.advert["chassis_id"] for p in self.chain
                                   if p.advert]
        return {"chassis": self.name, "chassis_id": self.chassis_id,
                "root_id": min(ids), "ports": ports,
                "stats": {"tx_adverts": sum(p.tx for p in self.chain),
                          "rx_adverts": sum(p.rx for p in self.chain),
                          "rx_malformed": 0, "rx_bad_version": 0,
                          "rx_unauthenticated": 0, "rx_bad_auth": 0,
                          "rx_replayed": 0, "rx_own": 0}}


class ChainPort:
    """A chain port: a stream netdev, listening or (re)connecting."""

    def __init__(self, fake, name, netdev):
        kind, o = opts(netdev)
        self.fake = fake
        self.name = name
        self.server = o.get("server") == "on"
        if o.get("addr.type") == "unix":
            self.family, self.addr = socket.AF_UNIX, o["addr.path"]
        else:
            self.family = socket.AF_INET
            self.addr = (o["addr.host"], int(o["addr.port"]))
        self.reconnect = int(o.get("reconnect-ms", 0)) / 1000
        self.conn = None
        self.buf = b""
        self.next_try = 0.0
        self.last_tx = 0.0
        self.heard = None
        self.advert = None          # the neighbour's latest
        self.rx = self.tx = 0
        if self.server:
            if self.family == socket.AF_UNIX:
                srv = listen(self.addr)
            else:
                srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                srv.bind(self.addr)
                srv.listen(1)
            fake.readers[srv] = self.accept

    def accept(self, server):
        conn, _ = server.accept()
        self.drop()
        self.attach(conn)

    def attach(self, conn):
        self.conn = conn
        self.buf = b""
        self.fake.readers[conn] = self.read
        self.last_tx = 0.0

    def drop(self):
        if self.conn is not None:
            self.fake.readers.pop(self.conn, None)
            self.conn.close()
        self.conn = None
        self.advert = None
        self.heard = None

    def tick(self, now, interval):
        if self.conn is None and not self.server and self.reconnect and \
                now >= self.next_try:
            self.next_try = now + self.reconnect
            s = socket.socket(self.family, socket.SOCK_STREAM)
            try:
                s.connect(self.addr)
                self.attach(s)
            except OSError:
                s.close()
        if self.heard is not None and now - self.heard > 3 * interval:
            self.advert = None          # a silent neighbour is forgotten
            self.heard = None
        if self.conn is not None and now - self.last_tx >= interval and \
                os.environ.get("FAKE_QEMU_SILENT") != self.fake.name:
            self.last_tx = now
            data = json.dumps(self.fake.advert(self)).encode()
            try:
                self.conn.sendall(struct.pack(">I", len(data)) + data)
                self.tx += 1
            except OSError:
                self.drop()

    def read(self, conn):
        data = recv(conn)
        if not data:
            self.drop()
            return
        self.buf += data
        while len(self.buf) >= 4:
            n = struct.unpack(">I", self.buf[:4])[0]
            if len(self.buf) < 4 + n:
                break
            frame, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
            self.advert = json.loads(frame)
            self.heard = time.monotonic()
            self.rx += 1


class FakeBlade(Fake):
    def __init__(self, cfg):
        super().__init__(cfg)
        params = dict(w.split("=", 1) for w in cfg["append"].split() if "=" in w)
        self.name = params.get("blade.name", "blade")
        self.ip = params.get("blade.ip", "")
        nic = next(d for d in cfg["devices"] if d["driver"] == "blade-nic")
        self.lane_path = os.path.join(nic["backplane"], f"slot{nic['slot']}.sock")
        self.lane = None
        con = cfg["chardevs"]["console"]
        self.log = open(con["logfile"], "ab", buffering=0)
        self.console_server = listen(con["path"])
        self.readers[self.console_server] = self.accept_console
        self.console = None
        self.console_buf = b""
        self.born = time.monotonic()
        self.ready = False
        self.hog = False
        self.out(b"Linux version 6.1.0-fake\r\n")

    def out(self, data):
        self.log.write(data)
        if self.console:
            try:
                self.console.sendall(data)
            except OSError:
                pass

    def tick(self):
        if self.lane is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.lane_path)
                self.lane = s
                self.readers[s] = self.read_lane
            except OSError:
                s.close()
        if not self.ready and time.monotonic() - self.born > 0.2:
            if os.environ.get("FAKE_QEMU_FAIL_BLADE") == self.name:
                print(f"qemu-system-x86_64: fake failure of {self.name}",
                      file=sys.stderr)
                sys.exit(1)
            self.ready = True
            info = {"name": self.name, "kernel": "6.1.0-fake", "uptime_s": 0.2,
                    "nic": "eth0", "link": "up" if self.lane else "down",
                    "ip": self.ip}
            self.out(b"BLADEPLANE-READY " + json.dumps(info).encode() + b"\r\n")

    def read_lane(self, conn):
        if not recv(conn):
            self.readers.pop(conn, None)
            conn.close()
            self.lane = None

    def accept_console(self, server):
        conn, _ = server.accept()
        self.console = conn
        del self.readers[server]
        self.readers[conn] = self.read_console

    def read_console(self, conn):
        data = conn.recv(4096)
        if not data:
            self.readers.pop(conn, None)
            conn.close()
            self.console = None
            self.readers[self.console_server] = self.accept_console
            return
        self.out(data.replace(b"\n", b"\r\n"))          # the tty's echo
        self.console_buf += data
        while b"\n" in self.console_buf:
            line, self.console_buf = self.console_buf.split(b"\n", 1)
            self.shell(line.decode())

    def shell(self, line):
        m = re.match(r"^echo (\S+)'<'; (.*?)(?:; | )echo \"\S+>\$\?\"$", line)
        if m:
            tag, command = m.groups()
            status, text = self.run(command)
            self.out(f"{tag}<\r\n{text}{tag}>{status}\r\n".encode())
        else:
            status, text = self.run(line)
            self.out(text.encode())
        self.out(f"{self.name}:~# ".encode())

    def run(self, command):
        if command == "blade-hog start":
            self.hog = True
            return 0, "blade-hog: started 1 loops\r\n"
        if command.startswith("echo "):
            return 0, command[5:] + "\r\n"
        if command.startswith("arping "):
            return 0, ""
        if command == "uname -n":
            return 0, self.name + "\r\n"
        return 127, f"sh: {command.split()[0] if command else ''}: not found\r\n"

    def command(self, name, args):
        if name == "qom-get" and args.get("property") == "link-state":
            return "up" if self.lane else "down: chassis absent"
        if name == "qom-set":
            return {}
        return super().command(name, args)


def main():
    cfg = parse(sys.argv[1:])
    if cfg["machine"] == "blade-chassis":
        fake = FakeChassis(cfg)
    else:
        fake = FakeBlade(cfg)
    fake.loop()


if __name__ == "__main__":
    main()
