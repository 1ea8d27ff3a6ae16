"""Topology files: what `bladeplane up` starts, in TOML (docs/topology.md).

load(path) reads and checks a file and returns a Topology with every
default filled in.  Every value is untrusted: each error is a TopologyError
whose one line names the file, the line and the key
(`topo.toml:12: chassis.c1.slots: must be 0..64, got 99`); unknown keys are
errors, so a typo never passes silently.

Today a topology holds one chassis; the format is laid out for several
(`[[chassis]]` tables, a top-level `name`) so that files written now stay
valid when chassis links come.
"""

import dataclasses
import difflib
import ipaddress
import os
import re
import tomllib

from . import tomlpos
from .common import Failure

FORMAT = 1
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
NAME_RULE = "1 to 32 of a-z, 0-9, '_' and '-', starting with a letter"
# Names a blade cannot have: they are switch port names.
PORT_NAME_RE = re.compile(r"^(uplink|slot\d+|chain\d+|fabric\d*)$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# QEMU's host forwarding rule: PROTO:[HOSTADDR]:HOSTPORT-GUESTADDR:GUESTPORT
FORWARD_RE = re.compile(r"^(tcp|udp):([0-9.]*):(\d{1,5})-([0-9.]+):(\d{1,5})$")
# Kernel command line words: printable ASCII, no quotes (init sees words).
APPEND_RE = re.compile(r"^[!#-~ ]*$")
NETDEV_TYPES = ("user", "tap", "socket", "stream", "dgram", "vde", "l2tpv3",
                "bridge", "vhost-user", "af-xdp")
POLICIES = ("util", "random", "rr", "leastconn", "p2c-conn", "wrr-cpu")
PROTOCOLS = ("tcp", "udp")
# Kernel parameters the topology sets itself (blade keys say them).
OWN_PARAMS = {"blade.name": "name", "blade.ip": "ip", "blade.gw": "the "
              "chassis's gateway", "blade.vip": "the services' vip"}
APPEND_MAX = 1024

# The switch's properties a topology may set (docs/switch-blade.md), with
# the ranges the device accepts (slot-speed: the NICs' range, since they get
# the same speed): key -> (kind, low, high) for numbers, or a tuple of
# choices for strings.
SWITCH_PROPS = {
    "slot-speed": ("int", 0, 100000),
    "pcs": ("8b10b", "raw"),
    "mac": "mac",
    "mac-aging": ("int", 1, 1000000),
    "mac-table-size": ("int", 16, 1 << 20),
    "flow-idle": ("int", 1, 1000000),
    "flow-table-size": ("int", 16, 1 << 22),
    "util-stale": ("int", 1, 3600000),
    "queue-frames": ("int", 1, 65536),
    "seed": ("int", 0, (1 << 64) - 1),
}
SWITCH_DEFAULTS = {"slot-speed": 1000, "pcs": "8b10b"}

# blade-nic properties a blade (or [defaults]) may set (docs/blade-nic.md).
NIC_PROPS = {
    "util-source": ("guest", "host", "auto"),
    "util-interval": ("int", 0, 60000),
    "util-form": ("idle", "expanded"),
}


class TopologyError(Failure):
    pass


@dataclasses.dataclass
class Forward:
    protocol: str
    host_addr: str          # "" = every host address
    host_port: int
    guest_addr: str
    guest_port: int

    def rule(self):
        return (f"{self.protocol}:{self.host_addr}:{self.host_port}-"
                f"{self.guest_addr}:{self.guest_port}")


@dataclasses.dataclass
class Uplink:
    kind: str               # "user" or "netdev"
    forwards: list
    netdev: str = ""        # the -netdev options for kind "netdev"
    speed: int = None       # Mb/s; None = the switch's default


@dataclasses.dataclass
class Blade:
    name: str
    slot: int
    memory: int
    cpus: int
    ip: str                 # ADDR/PREFIX
    mac: str
    append: str
    nic: dict


@dataclasses.dataclass
class Service:
    name: str
    vip: str
    protocol: str
    port: int
    blades: list            # slot numbers
    policy: str


@dataclasses.dataclass
class Steering:
    name: str
    protocol: str
    port_min: int
    port_max: int
    vip: str                # None: any VIP
    blades: list
    policy: str


@dataclasses.dataclass
class Impairment:
    blade: str
    slot: int
    link_down: bool = False
    sync_loss: bool = False
    code_errors: int = 0
    ber: float = 0.0


@dataclasses.dataclass
class Chassis:
    name: str
    slots: int
    subnet: str             # e.g. 10.0.2.0/24
    gateway: str            # None: no default route on the blades
    uplink: Uplink
    switch: dict            # property -> value, as given (plus defaults)
    blades: list
    services: list
    steering: list
    impairments: list

    def vips(self):
        vips = [s.vip for s in self.services]
        vips += [r.vip for r in self.steering if r.vip]
        return list(dict.fromkeys(vips))

    def blade(self, ident):
        """A blade by name, or by slot (a number, or its digits), or None."""
        for b in self.blades:
            if (b.name == ident if type(ident) is str and not ident.isdigit()
                    else str(b.slot) == str(ident)):
                return b
        return None


@dataclasses.dataclass
class Image:
    kernel: str             # None: the image `bladeplane image` builds
    initrd: str
    append: str


@dataclasses.dataclass
class Topology:
    name: str
    path: str
    image: Image
    chassis: list

    def blades(self):
        return [(c, b) for c in self.chassis for b in c.blades]

    def to_dict(self):
        return dataclasses.asdict(self)


def from_dict(d):
    """The inverse of Topology.to_dict (for the run directory's record)."""
    chassis = []
    for c in d["chassis"]:
        c = dict(c)
        up = dict(c["uplink"])
        up["forwards"] = [Forward(**f) for f in up["forwards"]]
        c["uplink"] = Uplink(**up)
        c["blades"] = [Blade(**b) for b in c["blades"]]
        c["services"] = [Service(**s) for s in c["services"]]
        c["steering"] = [Steering(**s) for s in c["steering"]]
        c["impairments"] = [Impairment(**i) for i in c["impairments"]]
        chassis.append(Chassis(**c))
    return Topology(d["name"], d["path"], Image(**d["image"]), chassis)


# ---- reading --------------------------------------------------------------


class _Node:
    """A table of the document with its concrete path (for line numbers)
    and its display name (for messages)."""

    def __init__(self, ctx, table, path, label):
        self.ctx = ctx
        self.table = table
        self.path = path
        self.label = label

    def key_label(self, key):
        return f"{self.label}.{key}" if self.label else key

    def error(self, key, msg, index=None):
        path = self.path + ((key,) if key is not None else ())
        label = self.key_label(key) if key is not None else self.label
        if index is not None:
            path += (index,)
            label += f"[{index}]"
        self.ctx.fail(path, label, msg)

    def check_keys(self, allowed, reserved=None):
        for key in self.table:
            if key in allowed:
                continue
            if reserved and key in reserved:
                self.error(key, reserved[key])
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = (f" (did you mean '{near[0]}'?)" if near else
                    f" (known keys: {', '.join(sorted(allowed))})")
            self.error(key, f"unknown key{hint}")

    def child(self, key, index=None):
        value = self.table[key] if index is None else self.table[key][index]
        path = self.path + (key,) + (() if index is None else (index,))
        label = self.key_label(key) + ("" if index is None else f"[{index}]")
        return _Node(self.ctx, value, path, label)

    # -- typed values ---------------------------------------------------

    def has(self, key):
        return key in self.table

    def int(self, key, default, low, high):
        if key not in self.table:
            return default
        v = self.table[key]
        if type(v) is not int:
            self.error(key, f"must be an integer, got {_show(v)}")
        if not low <= v <= high:
            self.error(key, f"must be {low}..{high}, got {v}")
        return v

    def float(self, key, default, low, high):
        if key not in self.table:
            return default
        v = self.table[key]
        if type(v) not in (int, float):
            self.error(key, f"must be a number, got {_show(v)}")
        if not low <= v <= high:
            self.error(key, f"must be {low:g}..{high:g}, got {v:g}")
        return float(v)

    def bool(self, key, default):
        if key not in self.table:
            return default
        v = self.table[key]
        if type(v) is not bool:
            self.error(key, f"must be true or false, got {_show(v)}")
        return v

    def str(self, key, default, choices=None, pattern=None, rule=None):
        if key not in self.table:
            return default
        v = self.table[key]
        if type(v) is not str:
            self.error(key, f"must be a string, got {_show(v)}")
        if choices and v not in choices:
            self.error(key, f"must be one of {', '.join(choices)}, got {v!r}")
        if pattern and not pattern.match(v):
            self.error(key, f"{rule}, got {v!r}")
        return v

    def name(self, key, default):
        return self.str(key, default, pattern=NAME_RE, rule=f"must be "
                        f"{NAME_RULE}")

    def table_of(self, key):
        """A sub-table, or None if absent."""
        if key not in self.table:
            return None
        if not isinstance(self.table[key], dict):
            self.error(key, f"must be a table, got {_show(self.table[key])}")
        return self.child(key)

    def tables(self, key):
        """An array of tables ([[key]]), as nodes; [] if absent."""
        if key not in self.table:
            return []
        v = self.table[key]
        if not isinstance(v, list) or not all(isinstance(t, dict) for t in v):
            self.error(key, f"must be an array of tables ([[...{key}]]), "
                       f"got {_show(v)}")
        return [self.child(key, index=i) for i in range(len(v))]

    def list(self, key):
        if key not in self.table:
            return None
        v = self.table[key]
        if not isinstance(v, list):
            self.error(key, f"must be an array, got {_show(v)}")
        return v


class _Context:
    def __init__(self, path, text):
        self.path = path
        self.positions = tomlpos.locate(text)

    def fail(self, path, label, msg):
        line = self.positions.line(path)
        where = f"{self.path}:{line}" if line else self.path
        raise TopologyError(f"{where}: {label}: {msg}")


def _show(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    return str(v)


def load(path):
    """Read and check a topology file; returns a Topology."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise TopologyError(f"{path}: no such file")
    except IsADirectoryError:
        raise TopologyError(f"{path}: is a directory, not a topology file")
    except OSError as e:
        raise TopologyError(f"{path}: cannot read: {e.strerror}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise TopologyError(f"{path}:{line}: not UTF-8 text")
    return loads(text, path)


def loads(text, path="<topology>"):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # "Invalid value (at line 3, column 7)" -> "path:3: invalid value
        # (column 7)".
        msg = str(e)
        m = re.match(r"^(.*) \(at line (\d+), column (\d+)\)$", msg)
        if m:
            raise TopologyError(f"{path}:{m.group(2)}: TOML syntax: "
                                f"{m.group(1)[0].lower()}{m.group(1)[1:]} "
                                f"(column {m.group(3)})")
        raise TopologyError(f"{path}: TOML syntax: {msg}")
    ctx = _Context(path, text)
    return _topology(_Node(ctx, doc, (), ""), path)


def _topology(top, path):
    top.check_keys({"format", "name", "image", "defaults", "chassis"},
                   reserved={"link": "links between chassis are not "
                             "supported yet: one chassis per topology for now",
                             "links": "links between chassis are not "
                             "supported yet: one chassis per topology for now"})
    fmt = top.int("format", FORMAT, 1, 1 << 31)
    if fmt != FORMAT:
        top.error("format", f"this file is format {fmt}; this bladeplane "
                  f"reads format {FORMAT}")
    stem = os.path.splitext(os.path.basename(path))[0]
    if top.has("name"):
        name = top.name("name", None)
    elif NAME_RE.match(stem):
        name = stem
    else:
        top.error("name", f"missing, and the file name "
                  f"'{stem}' is not a valid name ({NAME_RULE}): set name")
    image = _image(top, os.path.dirname(os.path.abspath(path)))
    defaults = _defaults(top)
    nodes = top.tables("chassis")
    if not nodes:
        top.ctx.fail(("chassis",), "chassis", "no [[chassis]] table: a "
                     "topology needs one chassis")
    if len(nodes) > 1:
        nodes[1].error(None, "only one chassis per topology for now")
    chassis = [_chassis(n, i, defaults) for i, n in enumerate(nodes)]
    return Topology(name, os.path.abspath(path), image, chassis)


def _path_value(node, key, base):
    p = node.str(key, None)
    if p is None:
        return None
    if not p:
        node.error(key, "must not be empty")
    full = os.path.join(base, os.path.expanduser(p))
    if not os.path.isfile(full):
        node.error(key, f"no such file: {full}")
    return full


def _append(node, key, default=""):
    text = node.str(key, default)
    if not APPEND_RE.match(text):
        node.error(key, "must be printable ASCII without quotes (kernel "
                   "command line words)")
    if len(text) > APPEND_MAX:
        node.error(key, f"longer than {APPEND_MAX} characters")
    for word in text.split():
        param = word.split("=", 1)[0]
        if param in OWN_PARAMS:
            node.error(key, f"{param} is set by the topology (from "
                       f"{OWN_PARAMS[param]}); do not put it in append")
    return " ".join(text.split())


def _image(top, base):
    node = top.table_of("image")
    if node is None:
        return Image(None, None, "")
    node.check_keys({"kernel", "initrd", "append"})
    kernel = _path_value(node, "kernel", base)
    initrd = _path_value(node, "initrd", base)
    if (kernel is None) != (initrd is None):
        node.error("kernel" if kernel is None else "initrd",
                   "missing: give both kernel and initrd, or neither (the "
                   "image `bladeplane image` builds)")
    return Image(kernel, initrd, _append(node, "append"))


BLADE_DEFAULTS = {"memory": 256, "cpus": 1}


def _defaults(top):
    node = top.table_of("defaults")
    out = dict(BLADE_DEFAULTS, nic={})
    if node is None:
        return out
    node.check_keys({"memory", "cpus"} | set(NIC_PROPS))
    out["memory"] = node.int("memory", out["memory"], 64, 65536)
    out["cpus"] = node.int("cpus", out["cpus"], 1, 64)
    out["nic"] = _props(node, NIC_PROPS)
    return out


def _props(node, spec):
    out = {}
    for key, kind in spec.items():
        if not node.has(key):
            continue
        if kind == "mac":
            out[key] = _mac(node, key)
        elif kind[0] == "int":
            out[key] = node.int(key, None, kind[1], kind[2])
        else:
            out[key] = node.str(key, None, choices=kind)
    return out


def _mac(node, key):
    mac = node.str(key, None)
    if mac is None:
        return None
    mac = mac.lower()
    if not MAC_RE.match(mac):
        node.error(key, f"must be a MAC address like 52:54:00:12:34:56, got "
                   f"{mac!r}")
    if int(mac[:2], 16) & 1:
        node.error(key, f"must be a unicast MAC (first octet even), got {mac}")
    return mac


def _ipv4(node, key, value, index=None):
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        node.error(key, f"must be an IPv4 address, got {value!r}", index)


def _chassis(node, index, defaults):
    name = node.name("name", f"c{index + 1}")
    node.label = f"chassis.{name}"
    node.check_keys({"name", "slots", "subnet", "gateway", "uplink", "switch",
                     "blade", "service", "steering", "impairment"})
    slots = node.int("slots", 4, 0, 64)
    subnet_text = node.str("subnet", "10.0.2.0/24")
    try:
        subnet = ipaddress.IPv4Network(subnet_text)
    except ValueError as e:
        node.error("subnet", f"must be an IPv4 network like 10.0.2.0/24 "
                   f"({e})")
    if subnet.prefixlen > 28:
        node.error("subnet", f"/{subnet.prefixlen} is too small: at most /28")

    uplink = _uplink(node, subnet)
    # User networking's own addresses: its host (the gateway) and its DNS.
    default_gw = str(subnet.network_address + 2) if uplink.kind == "user" else None
    reserved = {}
    if uplink.kind == "user":
        reserved[str(subnet.network_address + 3)] = "user networking's DNS server"
    gateway = node.str("gateway", default_gw)
    if gateway is not None:
        gw = _ipv4(node, "gateway", gateway)
        if gw not in subnet or gw in (subnet.network_address,
                                      subnet.broadcast_address):
            node.error("gateway", f"{gw} is not a host address of the "
                       f"chassis subnet {subnet}")
        gateway = str(gw)

    switch = dict(SWITCH_DEFAULTS)
    sw = node.table_of("switch")
    if sw is not None:
        sw.check_keys(set(SWITCH_PROPS),
                      reserved={k: f"set by the topology ({v})" for k, v in {
                          "slots": "chassis slots", "backplane": "the run "
                          "directory", "uplink": "the [chassis.uplink] table",
                          "uplink-speed": "uplink speed", "capture-dir":
                          "use `bladeplane capture`"}.items()})
        switch.update(_props(sw, SWITCH_PROPS))

    blade_nodes = node.tables("blade")
    blades = [_blade(n, i, node, slots, subnet, defaults)
              for i, n in enumerate(blade_nodes)]
    by_slot, by_name, by_ip, by_mac = {}, {}, {}, {}
    for n, b in zip(blade_nodes, blades):
        for key, seen, value, what in (
                ("slot", by_slot, b.slot, "slot {v} is already blade {b}'s"),
                ("name", by_name, b.name, "name {v} is already taken by the "
                 "blade in slot {s}"),
                ("ip", by_ip, b.ip.split("/")[0], "address {v} is already "
                 "blade {b}'s"),
                ("mac", by_mac, b.mac, "MAC {v} is already blade {b}'s")):
            if value in seen:
                other = seen[value]
                n.error(key if n.has(key) else None,
                        what.format(v=value, b=other.name, s=other.slot)
                        + ("" if n.has(key) else f" (the default {key}: set "
                           f"{key} on one of them)"))
            seen[value] = b
    by_ip = {ip: b.name for ip, b in by_ip.items()}
    if gateway in by_ip:
        node.error("gateway", f"{gateway} is blade {by_ip[gateway]}'s address")
    if gateway in reserved:
        node.error("gateway", f"{gateway} is {reserved[gateway]}")
    if gateway:
        reserved[gateway] = "the gateway"
    for n, b in zip(blade_nodes, blades):
        addr = b.ip.split("/")[0]
        if addr in reserved:
            n.error("ip" if n.has("ip") else None,
                    f"{addr} is {reserved[addr]}" + ("" if n.has("ip") else
                                                     " (the default ip: set ip)"))

    chassis = Chassis(name, slots, str(subnet), gateway, uplink, switch,
                      blades, [], [], [])
    taken = {ip: f"blade {name}'s address" for ip, name in by_ip.items()}
    taken.update(reserved)
    rules = {}
    for n in node.tables("service"):
        chassis.services.append(_service(n, chassis, subnet, uplink, taken,
                                         rules))
    for n in node.tables("steering"):
        chassis.steering.append(_steering(n, chassis, subnet, uplink, taken,
                                          rules))
    for n in node.tables("impairment"):
        chassis.impairments.append(_impairment(n, chassis))
    vips = set(chassis.vips())
    for i, f in enumerate(uplink.forwards):
        guest = f.guest_addr
        if guest not in vips and guest not in by_ip:
            what = ", ".join(sorted(vips)) or "none"
            node.child("uplink").error(
                "forward", f"{f.rule()}: {guest} is neither a service VIP "
                f"({what}) nor a blade address", i)
    return chassis


def _uplink(chassis, subnet):
    node = chassis.table_of("uplink")
    if node is None:
        return Uplink("user", [])
    node.check_keys({"netdev", "forward", "speed"})
    speed = node.int("speed", None, 0, 400000)
    if node.has("netdev"):
        if node.has("forward"):
            node.error("forward", "forward is for user networking; with "
                       "netdev, set hostfwd in the netdev options yourself")
        text = node.str("netdev", None)
        if not text or any(c.isspace() or not c.isprintable() for c in text):
            node.error("netdev", "must be a -netdev option string without "
                       "spaces, like 'tap,ifname=bp0,script=no,downscript=no'")
        kind = text.split(",", 1)[0]
        if kind not in NETDEV_TYPES:
            node.error("netdev", f"unknown netdev type {kind!r} (one of "
                       f"{', '.join(NETDEV_TYPES)})")
        opts = _split_opts(text)[1:]
        if any(o.split("=", 1)[0] == "id" for o in opts):
            node.error("netdev", "must not set id: the launcher names the "
                       "uplink netdev")
        if kind == "user":
            node.error("netdev", "for user networking leave netdev out and "
                       "use forward (the chassis subnet is its network)")
        return Uplink("netdev", [], text, speed)
    forwards = []
    items = node.list("forward") or []
    for i, item in enumerate(items):
        if type(item) is not str:
            node.error("forward", f"must be a string like "
                       f"'tcp:127.0.0.1:8080-10.0.2.100:80', got {_show(item)}", i)
        m = FORWARD_RE.match(item)
        if not m:
            node.error("forward", f"must be PROTO:[HOSTADDR]:HOSTPORT-"
                       f"GUESTADDR:GUESTPORT like "
                       f"'tcp:127.0.0.1:8080-10.0.2.100:80', got {item!r}", i)
        proto, haddr, hport, gaddr, gport = m.groups()
        if haddr:
            _ipv4(node, "forward", haddr, i)
        guest = _ipv4(node, "forward", gaddr, i)
        for port in (hport, gport):
            if not 1 <= int(port) <= 65535:
                node.error("forward", f"{item}: port {port} is not 1..65535", i)
        if guest not in subnet:
            node.error("forward", f"{item}: {guest} is not in the chassis "
                       f"subnet {subnet}", i)
        f = Forward(proto, haddr, int(hport), str(guest), int(gport))
        for j, g in enumerate(forwards):
            if (g.protocol, g.host_addr, g.host_port) == (proto, haddr, int(hport)):
                node.error("forward", f"host port {proto}:{haddr}:{hport} is "
                           f"already forwarded by forward[{j}]", i)
        forwards.append(f)
    return Uplink("user", forwards, "", speed)


def _split_opts(text):
    """QEMU option string -> options (',,' is an escaped comma)."""
    return [o.replace("\0", ",") for o in text.replace(",,", "\0").split(",")]


def _blade(node, index, chassis, slots, subnet, defaults):
    if not node.has("slot"):
        node.error(None, "missing key 'slot'")
    if slots == 0:
        node.error("slot", "the chassis has no slots (slots = 0)")
    slot = node.int("slot", None, 0, slots - 1)
    name = node.name("name", f"b{slot}")
    if PORT_NAME_RE.match(name):
        node.error("name", f"{name!r} is a switch port name; choose another")
    node.label = f"{chassis.label}.blade.{name}"
    node.check_keys({"slot", "name", "memory", "cpus", "ip", "mac",
                     "append"} | set(NIC_PROPS))
    memory = node.int("memory", defaults["memory"], 64, 65536)
    cpus = node.int("cpus", defaults["cpus"], 1, 64)
    if node.has("ip"):
        text = node.str("ip", None)
        try:
            iface = ipaddress.IPv4Interface(text if "/" in text else
                                            f"{text}/{subnet.prefixlen}")
        except ValueError:
            node.error("ip", f"must be an IPv4 address (ADDR or ADDR/PREFIX), "
                       f"got {text!r}")
        if iface.ip not in subnet or iface.network != subnet:
            node.error("ip", f"{iface} is not in the chassis subnet {subnet}")
    else:
        addr = subnet.network_address + 10 + slot
        if addr not in subnet or addr == subnet.broadcast_address:
            node.error(None, f"the default address (.{10 + slot} of "
                       f"{subnet}) does not fit the subnet: set ip")
        iface = ipaddress.IPv4Interface(f"{addr}/{subnet.prefixlen}")
    if iface.ip in (subnet.network_address, subnet.broadcast_address):
        node.error("ip", f"{iface.ip} is not a host address of {subnet}")
    from .blade import blade_mac
    mac = _mac(node, "mac") or blade_mac(name)
    nic = dict(defaults["nic"])
    nic.update(_props(node, NIC_PROPS))
    return Blade(name, slot, memory, cpus, str(iface), mac,
                 _append(node, "append"), nic)


def _group(node, chassis, key="blades"):
    """A blade group: names or slot numbers; default every blade."""
    items = node.list(key)
    if items is None:
        if not chassis.blades:
            node.error(None, "the chassis has no blades to serve this")
        return [b.slot for b in chassis.blades]
    if not items:
        node.error(key, "must name at least one blade")
    slots = []
    for i, item in enumerate(items):
        if type(item) is int:
            b = chassis.blade(item)
            if b is None:
                node.error(key, f"no blade in slot {item}", i)
        elif type(item) is str:
            b = chassis.blade(item)
            if b is None:
                names = ", ".join(b.name for b in chassis.blades) or "none"
                node.error(key, f"no blade named {item!r} (blades: {names})", i)
        else:
            node.error(key, f"must be a blade name or slot number, got "
                       f"{_show(item)}", i)
        if b.slot in slots:
            node.error(key, f"blade {b.name} is listed twice", i)
        slots.append(b.slot)
    return slots


def _rule_name(node, rules, kind):
    if not node.has("name"):
        node.error(None, f"missing key 'name' (every {kind} is named)")
    name = node.name("name", None)
    node.label = node.label.rsplit("[", 1)[0] + f".{name}"
    if name in rules:
        node.error("name", f"{name!r} is already the name of a {rules[name]}")
    rules[name] = kind
    return name


def _vip(node, key, subnet, uplink, taken, required):
    if not node.has(key):
        if required:
            node.error(None, f"missing key '{key}'")
        return None
    vip = _ipv4(node, key, node.str(key, None))
    if uplink.kind == "user" and vip not in subnet:
        node.error(key, f"{vip} is not in the chassis subnet {subnet} (user "
                   f"networking reaches only its subnet)")
    if vip in (subnet.network_address, subnet.broadcast_address):
        node.error(key, f"{vip} is not a host address of {subnet}")
    if str(vip) in taken:
        node.error(key, f"{vip} is {taken[str(vip)]}")
    return str(vip)


def _service(node, chassis, subnet, uplink, taken, rules):
    name = _rule_name(node, rules, "service")
    node.check_keys({"name", "vip", "protocol", "port", "blades", "policy"})
    vip = _vip(node, "vip", subnet, uplink, taken, True)
    protocol = node.str("protocol", "tcp", choices=PROTOCOLS)
    port = node.int("port", 0, 0, 65535)
    for s in chassis.services:
        if (s.vip, s.protocol, s.port) == (vip, protocol, port):
            node.error("port", f"{protocol} port {port} of {vip} is already "
                       f"service {s.name}")
    return Service(name, vip, protocol, port, _group(node, chassis),
                   node.str("policy", "util", choices=POLICIES))


def _steering(node, chassis, subnet, uplink, taken, rules):
    name = _rule_name(node, rules, "steering")
    node.check_keys({"name", "vip", "protocol", "port-min", "port-max",
                     "blades", "policy"})
    vip = _vip(node, "vip", subnet, uplink, taken, False)
    protocol = node.str("protocol", "tcp", choices=PROTOCOLS)
    if not node.has("port-min"):
        node.error(None, "missing key 'port-min'")
    port_min = node.int("port-min", None, 0, 65535)
    port_max = node.int("port-max", port_min, 0, 65535)
    if port_max < port_min:
        node.error("port-max", f"must be >= port-min ({port_min}), got "
                   f"{port_max}")
    return Steering(name, protocol, port_min, port_max, vip,
                    _group(node, chassis), node.str("policy", "util",
                                                    choices=POLICIES))


def _impairment(node, chassis):
    node.check_keys({"blade", "link-down", "sync-loss", "code-errors", "ber"})
    if not node.has("blade"):
        node.error(None, "missing key 'blade' (the lane is the blade's)")
    ident = node.table["blade"]
    b = chassis.blade(ident) if type(ident) in (str, int) else None
    if b is None:
        names = ", ".join(b.name for b in chassis.blades) or "none"
        node.error("blade", f"no blade {_show(ident)} (blades: {names})")
    imp = Impairment(b.name, b.slot,
                     link_down=node.bool("link-down", False),
                     sync_loss=node.bool("sync-loss", False),
                     code_errors=node.int("code-errors", 0, 0, 1000000),
                     ber=node.float("ber", 0.0, 0.0, 1e-3))
    if not (imp.link_down or imp.sync_loss or imp.code_errors or imp.ber):
        node.error(None, "no effect: set link-down, sync-loss, code-errors "
                   "or ber")
    if (imp.code_errors or imp.ber) and chassis.switch["pcs"] != "8b10b":
        node.error("code-errors" if imp.code_errors else "ber",
                   "code-group errors need pcs = \"8b10b\" (the switch runs "
                   f"pcs = \"{chassis.switch['pcs']}\")")
    return imp
