#!/usr/bin/env python3
"""A stand-in for qemu-system-x86_64 in the CLI's tests: it speaks just
enough of what `bladeplane up` and the other commands use, following
docs/switch-blade.md, so the launcher can be tested without the device.

- `-M blade-chassis -device blade-switch,slots=N,backplane=DIR`: listens on
  DIR/slotN.sock; a slot is up while a (fake) blade holds a connection.
  QMP: qom-get `state` (each read adds slot+1 new flows to each connected
  blade, so shares are known), blade-switch-add-service/-steering,
  blade-switch-capture (writes a pcap header and one frame), quit.
- `-M q35 ... -device blade-nic,backplane=DIR,slot=N`: connects to its slot
  (and reconnects), prints the ready line on its console (a socket chardev
  with a logfile) and answers commands typed there the way the blade
  image's shell would, for the few commands the CLI types.

Failures on request, from the environment:
  FAKE_QEMU_FAIL_CHASSIS=1   the chassis exits at once with an error line
  FAKE_QEMU_FAIL_BLADE=NAME  that blade exits before its ready line
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
           "netdevs": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if a == "-M":
            cfg["machine"] = nxt
        elif a == "-chardev":
            kind, o = opts(nxt)
            cfg["chardevs"][o["id"]] = dict(o, kind=kind)
        elif a == "-device":
            kind, o = opts(nxt)
            cfg["devices"].append(dict(o, driver=kind))
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


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    return s


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
        while b"\n" in self.qmp_buf:
            line, self.qmp_buf = self.qmp_buf.split(b"\n", 1)
            if not line.strip():
                continue
            req = json.loads(line)
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
        self.lanes = {}             # slot -> connection
        self.new_flows = [0] * self.slots
        self.rules = []
        self.captures = {}
        self.start = time.monotonic()
        self.reads = 0
        for n in range(self.slots):
            srv = listen(os.path.join(self.backplane, f"slot{n}.sock"))
            self.readers[srv] = lambda s, n=n: self.accept_lane(s, n)

    def accept_lane(self, server, slot):
        conn, _ = server.accept()
        old = self.lanes.get(slot)
        if old:
            self.readers.pop(old, None)
            old.close()
        self.lanes[slot] = conn
        self.readers[conn] = lambda c, n=slot: self.read_lane(c, n)

    def read_lane(self, conn, slot):
        if not conn.recv(4096):
            self.readers.pop(conn, None)
            conn.close()
            if self.lanes.get(slot) is conn:
                del self.lanes[slot]

    def command(self, name, args):
        if name == "qom-get" and args.get("property") == "state":
            self.reads += 1
            for n in self.lanes:
                self.new_flows[n] += n + 1
            return self.state()
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
                self.captures[port] = args
            else:
                self.captures.pop(port, None)
            return {}
        return super().command(name, args)

    def state(self):
        now = int((time.monotonic() - self.start) * 1000) + self.reads
        ports = [{"name": "uplink", "kind": "uplink", "link": True,
                  "connected": True, "sync": True, "speed_mbps": 10000,
                  "rx_frames": 0, "rx_bytes": 0, "tx_frames": 0,
                  "tx_bytes": 0, "rx_drops": 0, "tx_drops": 0, "errors": 0,
                  "link_changes": 1, "queue": 0}]
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
                "drops": {"runt": 0, "no_service": 0}}


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
        if not conn.recv(4096):
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
