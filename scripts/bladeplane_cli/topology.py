"""Topology files: what `bladeplane up` starts, in TOML (docs/topology.md).

load(path) reads and checks a file and returns a Topology with every
default filled in.  Every value is untrusted: each error is a TopologyError
whose one line names the file, the line and the key
(`topo.toml:12: chassis.c1.slots: must be 0..64, got 99`); unknown keys are
errors, so a typo never passes silently.

A topology holds one chassis, or several joined by links (`[[link]]`:
daisy chains, a central switch, chassis on other hosts), which then share
one network: the front chassis's, the one with the uplink.  The launcher
numbers each switch's chain ports (chain0, chain1, ...) in the order of
the links in the file.
"""

import collections
import dataclasses
import difflib
import ipaddress
import os
import re
import tomllib
from typing import NoReturn

from . import schema, tomlpos
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
# hw/blade/blade.json has the names (schema.py)
POLICIES = schema.enum("BladePolicy")
PROTOCOLS = schema.enum("BladeProtocol")
TIMINGS = schema.enum("BladeTiming")
# Kernel parameters the topology sets itself (blade keys say them).
OWN_PARAMS = {"blade.name": "name", "blade.ip": "ip", "blade.gw": "the "
              "chassis's gateway", "blade.vip": "the services' vip"}
APPEND_MAX = 1024
# The switch's `chassis` property: 1 to 31 characters.
CHASSIS_NAME_MAX = 31
# Chain ports a switch can have (net/fabric.h: FAB_MAX_PORTS).
MAX_CHAIN_PORTS = 16
SPEED_MAX = 400000              # Mb/s, the switch's limit for every port
CENTRAL_PRIORITY = 4096         # a central switch's default fabric-priority
KEY_MAX = 64                    # bytes of the fabric's shared key
# A chassis on another host: tcp:HOST:PORT (HOST a name, IPv4, or [IPv6]).
PEER_RE = re.compile(r"^tcp:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):"
                     r"(\d{1,5})$")
LOOPS = ("refuse", "block")

# a value as an error names it
_show = tomlpos.show_value

# The switch's properties a topology may set (docs/switch-blade.md), with
# the ranges the device accepts (slot-speed: the NICs' range, since they get
# the same speed): key -> (kind, low, high) for numbers, or a tuple of
# choices for strings.
SWITCH_PROPS = {
    "slot-speed": ("int", 0, 100000),
    "pcs": schema.enum("BladeLanePcs"),
    "mac": "mac",
    "mac-aging": ("int", 1, 1000000),
    "mac-table-size": ("int", 16, 1 << 20),
    "mac-limit": ("int", 0, 1 << 20),
    "flow-idle": ("int", 1, 1000000),
    "flow-table-size": ("int", 16, 1 << 22),
    "util-stale": ("int", 1, 3600000),
    "queue-frames": ("int", 1, 65536),
    # each paced lane's MAC FIFO, octets (real time only, as the NIC's)
    "tx-fifo": ("int", 0, 1 << 20),
    "seed": ("int", 0, (1 << 64) - 1),
    "util-estimator": schema.enum("BladeUtilEstimator"),
    "vtime-snapshot-ns": ("int", 1, (1 << 63) - 1),
    # a count here: the launcher makes the iothreads and names them
    "iothreads": ("int", 1, 64),
    # the TDM bus backplane (backplane = "tdm-bus", docs/backplane.md);
    # bus-weights, an array, is read apart
    "bus-speed": ("int", 1, 400000),
    "bus-schedule": schema.enum("BladeBusSchedule"),
    "bus-switch-weight": ("int", 0, 4096),
    "bus-slot-bytes": ("int", 64, 16384),
    "bus-frame-slots": ("int", 1, 4096),
}
SWITCH_DEFAULTS = {"slot-speed": 1000, "pcs": "8b10b"}
BACKPLANES = schema.enum("BladeBackplaneKind")
# The bus's defaults (the switch's), and the bounds of its weights and
# frame (net/tdm-bus.h), for the schedule the launcher checks first.
BUS_DEFAULT_SPEED = 10000
BUS_DEFAULT_SLOT_BYTES = 512
BUS_MIN_SLOT_NS = 200           # net/tdm-bus.h TDM_MIN_SLOT_NS
BUS_MAX_WEIGHT = 4096
BUS_MAX_FRAME_SLOTS = 4096
# A blade's NIC paces its lane at most at this (its speed property).
NIC_MAX_SPEED = 100000
# The device's defaults the launcher checks against (mac-limit <= table),
# not passed to it (tests/functional/test_device_props.py compares them
# with QEMU's).
SWITCH_CHECKED_DEFAULTS = {"mac-limit": 64, "mac-table-size": 4096}

# blade-nic properties a blade (or [defaults]) may set (docs/blade-nic.md).
NIC_PROPS = {
    "util-source": schema.enum("BladeUtilSource"),
    "util-interval": ("int", 0, 60000),
    "util-form": schema.enum("BladeUtilForm"),
    # virtual time: an idle blade's quiet promises, and how often a
    # computing one promises its clock (docs/virtual-time.md)
    "vtime-quiet": ("on", "off"),
    "vtime-promise-ns": ("int", 1, (1 << 32) - 1),
    # the transmit packet buffer, octets (docs/blade-nic.md)
    "tx-fifo": ("int", 0, 1 << 20),
}
NIC_VIRTUAL_ONLY = ("vtime-quiet", "vtime-promise-ns")
# In virtual time a lane runs 20 us ahead whatever tx-fifo says: a record
# is stamped when it is sent, so a deeper FIFO would deliver frames before
# the line could (docs/link-layer.md).
REAL_ONLY_WHY = ('for timing = "real": in virtual time a lane runs 20 us '
                 'ahead of its line, since a record takes effect at its '
                 'send time')


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
    speed: int | None = None  # Mb/s; None = the switch's default


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
    icount_shift: int = 0   # virtual time: 2**N ns per instruction
    latency_ns: int | None = None  # virtual time: its lane's, per direction;
    #                                None: the chassis's


@dataclasses.dataclass
class Service:
    name: str
    vip: str
    protocol: str
    port: int
    blades: list            # slot numbers
    policy: str
    remote: bool = False    # the blades of the other chassis serve it too


@dataclasses.dataclass
class Steering:
    name: str
    protocol: str
    port_min: int
    port_max: int
    vip: str                # None: any VIP
    blades: list
    policy: str
    remote: bool = False


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
    # Chassis joined by links (defaults: a chassis on its own).
    role: str = "blades"    # or "central": a switch with no slots
    priority: int | None = None  # fabric-priority; None: the switch's default
    chassis_id: int | None = None  # chassis-id, unique in the fabric
    chain: list = dataclasses.field(default_factory=list)
    #                         chain port names, in link order (chain0, ...)
    latency_ns: int | None = None  # virtual time: each slot lane's, per direction
    backplane: str = "lanes"        # or "tdm-bus": the switch's backplane-kind

    def vips(self, slot=None):
        """The chassis's VIPs; with a slot, those of the services and
        steering rules the blade in that slot serves."""
        rules = [r for r in self.services + self.steering if r.vip]
        return list(dict.fromkeys(r.vip for r in rules
                                  if slot is None or slot in r.blades))

    def blade(self, ident):
        """A blade by name, or by slot (a number, or its digits), or None."""
        for b in self.blades:
            if (b.name == ident if type(ident) is str and not ident.isdigit()
                    else str(b.slot) == str(ident)):
                return b
        return None


@dataclasses.dataclass
class Link:
    """A link between two chassis of the file (b), or between one of them
    and a chassis on another host (peer)."""
    index: int              # position among the file's [[link]] tables
    a: str                  # chassis name
    a_port: str             # its chain port: chainN
    b: str | None = None    # chassis name, or None for a peer link
    b_port: str | None = None
    peer_host: str | None = None  # peer link: the address to listen on or reach
    peer_port: int | None = None
    listen: bool = False    # peer link: this end listens
    speed: int | None = None  # Mb/s (the switches' chain-speed); None: default
    latency_ns: int | None = None  # virtual time: its lane's, per direction;
    #                                None: each end's chassis latency

    def label(self):
        far = self.b if self.b else f"tcp:{self.peer_host}:{self.peer_port}"
        return f"{self.a}-{far}"


@dataclasses.dataclass
class Fabric:
    """What every switch of a topology with links shares."""
    interval: int | None = None  # fabric-interval, ms; None: the switch's
    hop_cost: int | None = None  # hop-cost, %; None: the switch's
    key_file: str | None = None  # the shared HMAC key (fabric-key-secret)
    loops: str = "refuse"   # "refuse" rings of links, or let the switches "block"
    vips: list = dataclasses.field(default_factory=list)
    #                         VIPs every blade holds besides the topology's


@dataclasses.dataclass
class Image:
    kernel: str | None      # None: the image `bladeplane image` builds
    initrd: str | None
    append: str


@dataclasses.dataclass
class Topology:
    name: str
    path: str
    image: Image
    chassis: list
    links: list = dataclasses.field(default_factory=list)
    fabric: Fabric | None = None  # None: one chassis on its own, no links
    timing: str = "real"    # or "virtual" (docs/virtual-time.md)

    def virtual(self):
        return self.timing == "virtual"

    def blades(self):
        return [(c, b) for c in self.chassis for b in c.blades]

    def multi(self):
        """Whether the chassis are joined by links (several chassis, or a
        link to another host): the switches then run the fabric."""
        return self.fabric is not None

    def by_name(self, name):
        return next((c for c in self.chassis if c.name == name), None)

    def front(self):
        """The chassis with the uplink (None: none has one)."""
        return next((c for c in self.chassis if c.uplink is not None), None)

    def blade_at(self, chassis, slot):
        """The blade in a chassis's slot (by chassis name), or None."""
        ch = self.by_name(chassis)
        return None if ch is None else next(
            (b for b in ch.blades if b.slot == slot), None)

    def blade_vips(self, ch, blade):
        """The VIPs a blade of chassis ch holds on loopback: those of the
        services of its chassis it serves (a blade that serves none, such
        as a client blade, holds none of them and reaches them through
        the switch), those of every service that other chassis's blades
        serve too (remote), and the fabric's own list."""
        vips = ch.vips(blade.slot)
        for c in self.chassis:
            if c is not ch:
                vips += [s.vip for s in c.services + c.steering
                         if s.remote and s.vip]
        if self.fabric:
            vips += self.fabric.vips
        return list(dict.fromkeys(vips))

    def links_of(self, name):
        """(link, its chain port on this chassis) for every link of a
        chassis, in the order of the file."""
        out = []
        for link in self.links:
            if link.a == name:
                out.append((link, link.a_port))
            if link.b == name:
                out.append((link, link.b_port))
        return out

    def to_dict(self):
        return dataclasses.asdict(self)


def from_dict(d):
    """The inverse of Topology.to_dict (for the run directory's record)."""
    chassis = []
    for c in d["chassis"]:
        c = dict(c)
        if c["uplink"] is not None:
            up = dict(c["uplink"])
            up["forwards"] = [Forward(**f) for f in up["forwards"]]
            c["uplink"] = Uplink(**up)
        c["blades"] = [Blade(**b) for b in c["blades"]]
        c["services"] = [Service(**s) for s in c["services"]]
        c["steering"] = [Steering(**s) for s in c["steering"]]
        c["impairments"] = [Impairment(**i) for i in c["impairments"]]
        chassis.append(Chassis(**c))
    links = [Link(**link) for link in d.get("links", [])]
    fabric = Fabric(**d["fabric"]) if d.get("fabric") else None
    return Topology(d["name"], d["path"], Image(**d["image"]), chassis,
                    links, fabric, d.get("timing", "real"))


# ---- reading --------------------------------------------------------------


class _Node:
    """A table of the document with its concrete path (for line numbers)
    and its display name (for messages)."""

    def __init__(self, ctx, table, path, label):
        self.ctx: _Context = ctx
        self.table = table
        self.path = path
        self.label = label

    def key_label(self, key):
        return f"{self.label}.{key}" if self.label else key

    def error(self, key, msg, index=None) -> NoReturn:
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

    def table_of(self, key) -> "_Node | None":
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

    def fail(self, path, label, msg) -> NoReturn:
        line = self.positions.line(path)
        where = f"{self.path}:{line}" if line else self.path
        raise TopologyError(f"{where}: {label}: {msg}")


def load(path, timing=None):
    """Read and check a topology file; returns a Topology.  timing, if
    given, overrides the file's (up --timing)."""
    text, err = tomlpos.read_text(path, "topology file")
    if text is None:
        raise TopologyError(err)
    return loads(text, path, timing)


def loads(text, path="<topology>", timing=None):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TopologyError(tomlpos.syntax_message(path, e)) from None
    ctx = _Context(path, text)
    return _topology(_Node(ctx, doc, (), ""), path, timing)


def _topology(top, path, timing_override=None):
    top.check_keys({"format", "name", "image", "defaults", "chassis", "link",
                    "fabric", "timing"})
    timing = top.str("timing", "real", choices=TIMINGS)
    if timing_override:
        timing = timing_override
    virtual = timing == "virtual"
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
    base = os.path.dirname(os.path.abspath(path))
    image = _image(top, base)
    defaults = _defaults(top)
    nodes = top.tables("chassis")
    if not nodes:
        top.ctx.fail(("chassis",), "chassis", "no [[chassis]] table: a "
                     "topology needs one chassis")
    link_nodes = top.tables("link")
    multi = len(nodes) > 1 or bool(link_nodes)
    fabric_node = top.table_of("fabric")
    if fabric_node is not None and not multi:
        fabric_node.error(None, "for chassis joined by links: this topology "
                          "has one chassis and no [[link]]")
    heads = [_chassis_head(n, i, multi, virtual) for i, n in enumerate(nodes)]
    seen: dict[str, int] = {}       # chassis name -> its index
    for h in heads:
        if h.name in seen:
            h.node.error("name" if h.node.has("name") else None,
                         f"name {h.name} is already taken by chassis"
                         f"[{seen[h.name]}]" + ("" if h.node.has("name") else
                                                " (the default name: set name)"))
        seen[h.name] = h.index
    fabric = _fabric(fabric_node, base) if multi else None
    links = _links(link_nodes, heads, fabric, virtual) if multi else []
    net = _network(heads, multi, links)

    # The switches and the blades of every chassis, then what depends on
    # every blade (addresses), then services, steering and impairments.
    chassis = []
    for h in heads:
        chassis.append(_chassis_blades(h, net, defaults, virtual))
    _check_addresses(heads, chassis, net)
    for h, ch in zip(heads, chassis):
        _chassis_rules(h, ch, net)
    if multi:
        fabric.vips = _fabric_vips(fabric_node, net)
    for h, ch in zip(heads, chassis):
        _check_forwards(h, ch, net, fabric)
    for link in links:
        for end, port in ((link.a, link.a_port), (link.b, link.b_port)):
            if end is not None:
                chassis[seen[end]].chain.append(port)
    return Topology(name, os.path.abspath(path), image, chassis, links,
                    fabric, timing)


class _Head:
    """What is read of a chassis before its blades: who it is, and its
    network as it states it."""

    # from _chassis_head
    node: _Node
    index: int
    name: str
    role: str
    slots: int
    priority: int | None
    chassis_id: int | None
    subnet: ipaddress.IPv4Network | None
    uplink: Uplink | None
    latency_ns: int | None
    backplane: str
    # set later, by _links, _gateway and _chassis_blades
    default_id: bool
    gateway: str | None
    blade_nodes: list[_Node]

    def __init__(self, **kw):
        self.__dict__.update(kw)


class _Net:
    """The network of a topology: one chassis's, or the one shared by
    chassis joined by links (the front chassis's)."""

    def __init__(self, multi, subnet, user, need_ids):
        self.multi = multi
        self.subnet = subnet
        self.user = user                # user networking: VIPs in the subnet
        self.need_ids = need_ids        # a peer link: the peer link's label
        self.reserved = {}              # address -> what it is
        self.by_name, self.by_ip, self.by_mac = {}, {}, {}  # -> (chassis, blade)
        self.vip_owner = {}             # VIP -> chassis name
        self.next_ip = 10               # the next default address (.10 + ...)


def _chassis_head(node: _Node, index, multi, virtual=False):
    name = node.name("name", f"c{index + 1}")
    node.label = f"chassis.{name}"
    node.check_keys({"name", "slots", "subnet", "gateway", "uplink", "switch",
                     "blade", "service", "steering", "impairment", "role",
                     "priority", "id", "latency_ns", "backplane"})
    latency = _virtual_only(node, virtual, "latency_ns", 1, 1000000000)
    if multi and len(name) > CHASSIS_NAME_MAX:
        node.error("name", f"{name!r} has {len(name)} characters: a chassis "
                   f"joined by links has a name of at most "
                   f"{CHASSIS_NAME_MAX} (the switch's chassis property)")
    if not multi:
        for key in ("role", "priority", "id"):
            if node.has(key):
                node.error(key, "for chassis joined by links: this topology "
                           "has one chassis and no [[link]]")
    role = node.str("role", "blades", choices=("blades", "central"))
    central = role == "central"
    slots = node.int("slots", 0 if central else 4, 0, 64)
    if central and slots:
        node.error("slots", f"a central switch (role = \"central\") has no "
                   f"slots, got {slots}")
    backplane = node.str("backplane", "lanes", choices=BACKPLANES)
    if central and backplane != "lanes":
        node.error("backplane", "a central switch has no slots, and so no "
                   "bus for them")
    priority = node.int("priority", CENTRAL_PRIORITY if central else None,
                        0, 65535)
    chassis_id = node.int("id", None, 1, (1 << 64) - 1)
    subnet = None
    if node.has("subnet") or node.has("uplink") or not multi:
        subnet_text = node.str("subnet", "10.0.2.0/24")
        try:
            subnet = ipaddress.IPv4Network(subnet_text)
        except ValueError as e:
            node.error("subnet", f"must be an IPv4 network like 10.0.2.0/24 "
                       f"({e})")
        if subnet.prefixlen > 28:
            node.error("subnet", f"/{subnet.prefixlen} is too small: at most "
                       f"/28")
    uplink = None
    if virtual and node.has("uplink"):
        node.error("uplink", "the uplink is real-time networking (user "
                   "networking, host forwards or a host netdev): a chassis "
                   "in virtual time has none")
    if not virtual and (not multi or node.has("uplink")):
        if central:
            node.error("uplink", "a central switch has no uplink: give it to "
                       "a chassis with blades (the front chassis)")
        uplink = _uplink(node, subnet or ipaddress.IPv4Network("10.0.2.0/24"))
    return _Head(node=node, index=index, name=name, role=role, slots=slots,
                 priority=priority, chassis_id=chassis_id, subnet=subnet,
                 uplink=uplink, latency_ns=latency, backplane=backplane)


def _virtual_only(node, virtual, key, low, high):
    """A key that only means something in virtual time."""
    if not node.has(key):
        return None
    if not virtual:
        node.error(key, 'for timing = "virtual" (docs/virtual-time.md)')
    return node.int(key, None, low, high)


def _fabric(node, base):
    if node is None:
        return Fabric()
    node.check_keys({"interval", "hop-cost", "key-file", "loops", "vips"})
    interval = node.int("interval", None, 10, 60000)
    hop_cost = node.int("hop-cost", None, 0, 100)
    key = _path_value(node, "key-file", base)
    if key is not None:
        try:
            with open(key, "rb") as f:
                size = len(f.read(KEY_MAX + 1))
        except OSError as e:
            node.error("key-file", f"cannot read {key}: {e.strerror}")
        if not 1 <= size <= KEY_MAX:
            node.error("key-file", f"{key} holds "
                       f"{'more than ' + str(KEY_MAX) if size > KEY_MAX else 'no'}"
                       f" bytes: the shared key is 1 to {KEY_MAX} bytes")
    loops = node.str("loops", "refuse", choices=LOOPS)
    items = node.list("vips") or []
    for i, item in enumerate(items):
        if type(item) is not str:
            node.error("vips", f"must be an IPv4 address, got {_show(item)}", i)
    return Fabric(interval, hop_cost, key, loops, [])


def _fabric_vips(node, net):
    """[fabric] vips: addresses of services whose switch is on another
    host (multi-host), held by every blade of this file."""
    vips: list[str] = []
    if node is None:
        return vips
    for i, item in enumerate(node.list("vips") or []):
        vip = _ipv4(node, "vips", item, i)
        if vip not in net.subnet or vip in (net.subnet.network_address,
                                            net.subnet.broadcast_address):
            node.error("vips", f"{vip} is not a host address of the network "
                       f"{net.subnet}", i)
        if str(vip) in net.taken:
            node.error("vips", f"{vip} is {net.taken[str(vip)]}", i)
        vips.append(str(vip))
    return list(dict.fromkeys(vips))


def _links(nodes: list[_Node], heads, fabric, virtual=False):
    """The [[link]] tables: each end's chain port, then loops (refused
    unless loops = "block") and chassis no link reaches."""
    names = {h.name: h for h in heads}
    known = ", ".join(names)
    links, ports = [], {n: 0 for n in names}
    speeds: dict[str, tuple[int, int]] = {}     # chassis -> (speed, link)
    for i, n in enumerate(nodes):
        n.check_keys({"a", "b", "peer", "listen", "speed", "latency_ns"})
        if not n.has("a"):
            n.error(None, "missing key 'a' (the chassis at one end)")
        a = n.str("a", None)
        if a not in names:
            n.error("a", f"no chassis {a!r} (chassis: {known})")
        b = host = port = None
        listen = False
        if n.has("b") and n.has("peer"):
            n.error("peer", "give b (a chassis of this file) or peer (a "
                    "chassis on another host), not both")
        if n.has("b"):
            b = n.str("b", None)
            if b not in names:
                n.error("b", f"no chassis {b!r} (chassis: {known})")
            if b == a:
                n.error("b", f"a link from chassis {a} to itself")
            if n.has("listen"):
                n.error("listen", "only for a peer link: between chassis of "
                        "this file the launcher chooses who listens")
        elif n.has("peer"):
            text = n.str("peer", None)
            m = PEER_RE.match(text)
            if not m:
                n.error("peer", f"must be tcp:HOST:PORT like "
                        f"'tcp:192.0.2.10:7000', got {text!r}")
            host, port = m.group(1).strip("[]"), int(m.group(2))
            if not 1 <= port <= 65535:
                n.error("peer", f"port {port} is not 1..65535")
            listen = n.bool("listen", False)
        else:
            n.error(None, "missing key 'b' (the chassis at the other end; or "
                    "peer, for a chassis on another host)")
        speed = n.int("speed", None, 0, SPEED_MAX)
        latency = _virtual_only(n, virtual, "latency_ns", 1, 1000000000)
        ends = [a] + ([b] if b else [])
        for end in ends:
            if ports[end] >= MAX_CHAIN_PORTS:
                n.error(None, f"chassis {end} has {MAX_CHAIN_PORTS} links "
                        f"already: a switch has at most {MAX_CHAIN_PORTS} "
                        f"chain ports")
            if speed is not None and end in speeds and \
                    speeds[end][0] != speed:
                n.error("speed", f"chassis {end}'s links run at one speed "
                        f"(its switch's chain-speed), and link"
                        f"[{speeds[end][1]}] says {speeds[end][0]}")
        link = Link(i, a, f"chain{ports[a]}", b,
                    f"chain{ports[b]}" if b else None, host, port, listen,
                    speed, latency)
        for end in ends:
            ports[end] += 1
            if speed is not None:
                speeds.setdefault(end, (speed, i))
        links.append(link)

    # Loops: the first link whose ends are joined already closes one.
    group = {n: n for n in names}

    def find(x):
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x
    joined: dict[str, list[str]] = {n: [] for n in names}
    for link, n in zip(links, nodes):
        if link.b is None:
            continue
        if find(link.a) == find(link.b) and fabric.loops == "refuse":
            path = _path(joined, link.a, link.b)
            n.error(None, f"link {link.a}-{link.b} closes a loop: "
                    f"{' -> '.join(path + [link.a])}; set loops = "
                    f"\"block\" in [fabric] to let the switches block a "
                    f"link of it, or remove a link")
        group[find(link.a)] = find(link.b)
        joined[link.a].append(link.b)
        joined[link.b].append(link.a)

    # Every chassis is joined to the others (through another host counts).
    elsewhere = "\0elsewhere"
    group[elsewhere] = elsewhere
    for link in links:
        if link.b is None:
            group[find(link.a)] = find(elsewhere)
    first = heads[0].name
    for h in heads[1:]:
        if find(h.name) != find(first):
            h.node.error(None, f"no link joins chassis {h.name} to chassis "
                         f"{first}: the chassis of a topology are joined by "
                         f"[[link]] tables (chassis on their own belong in "
                         f"topologies of their own)")

    # Chassis ids: unique; with a peer link, set on every chassis.
    peer = next((i for i, link in enumerate(links) if link.b is None), None)
    ids: dict[int, _Head] = {}
    for h in heads:
        if h.chassis_id is None:
            if peer is not None:
                h.node.error(None, f"missing key 'id': with a link to "
                             f"another host (link[{peer}].peer) every "
                             f"chassis sets its id, unique in the whole "
                             f"fabric (this file cannot see the other "
                             f"host's)")
            h.chassis_id = h.index + 1
            h.default_id = True
        else:
            h.default_id = False
        if h.chassis_id in ids:
            other = ids[h.chassis_id]
            if h.default_id:
                h.node.error(None, f"its default id, {h.chassis_id} (its "
                             f"place in the file), is already chassis "
                             f"{other.name}'s: set id")
            h.node.error("id", f"id {h.chassis_id} is already chassis "
                         f"{other.name}'s" + (" (its default, its place in "
                                              "the file: set id on it)"
                                              if other.default_id else ""))
        ids[h.chassis_id] = h
    return links


def _path(joined, a, b):
    """Chassis from a to b over the links seen so far (a tree), breadth
    first."""
    back = {a: None}
    frontier = collections.deque([a])
    while frontier:
        x = frontier.popleft()
        if x == b:
            break
        for y in joined[x]:
            if y not in back:
                back[y] = x
                frontier.append(y)
    path = [b]
    while back[path[-1]] is not None:
        path.append(back[path[-1]])
    return path[::-1]


def _network(heads, multi, links):
    """The network every blade is on, and its reserved addresses."""
    if not multi:
        h = heads[0]
        user = h.uplink is not None and h.uplink.kind == "user"
        net = _Net(False, h.subnet, user, None)
        _gateway(h, net, str(h.subnet.network_address + 2) if user else None)
        return net
    fronts = [h for h in heads if h.uplink is not None]
    if len(fronts) > 1:
        fronts[1].node.error("uplink", f"chassis {fronts[0].name} has the "
                             f"uplink already: chassis joined by links share "
                             f"one network and one way out of it (the front "
                             f"chassis's uplink)")
    front = fronts[0] if fronts else None
    if front is not None:
        subnet = front.subnet
        source = f"the front chassis {front.name}'s"
    else:
        given = [h for h in heads if h.subnet is not None]
        subnet = given[0].subnet if given else \
            ipaddress.IPv4Network("10.0.2.0/24")
        source = f"chassis {given[0].name}'s" if given else "the default"
    peer = next((i for i, link in enumerate(links) if link.b is None), None)
    user = front is not None and front.uplink.kind == "user"
    net = _Net(True, subnet, user, peer)
    for h in heads:
        if h.subnet is not None and h.subnet != subnet:
            h.node.error("subnet", f"{h.subnet}: chassis joined by links "
                         f"share one network, {subnet} ({source})")
        h.subnet = subnet
    gw = None
    if front is not None:
        gw = _gateway(front, net, str(subnet.network_address + 2)
                      if user else None)
    for h in heads:
        if h is not front:
            _gateway(h, net, gw)
    return net


def _gateway(h, net, default):
    node = h.node
    gateway = node.str("gateway", default)
    if gateway is not None:
        gw = _ipv4(node, "gateway", gateway)
        subnet = net.subnet
        if gw not in subnet or gw in (subnet.network_address,
                                      subnet.broadcast_address):
            node.error("gateway", f"{gw} is not a host address of the "
                       f"chassis subnet {subnet}")
        gateway = str(gw)
    h.gateway = gateway
    return gateway


def _chassis_blades(h, net, defaults, virtual=False):
    node = h.node
    switch = dict(SWITCH_DEFAULTS)
    sw = node.table_of("switch")
    if sw is not None:
        sw.check_keys(set(SWITCH_PROPS) | {"bus-weights"},
                      reserved={k: f"set by the topology ({v})" for k, v in {
                          "slots": "chassis slots", "backplane": "the run "
                          "directory", "uplink": "the [chassis.uplink] table",
                          "uplink-speed": "uplink speed", "capture-dir":
                          "use `bladeplane capture`", "chain": "the [[link]] "
                          "tables", "chain-speed": "speed in [[link]]",
                          "chassis": "the chassis's name", "chassis-id":
                          "id in [[chassis]]", "fabric-priority": "priority in "
                          "[[chassis]]", "fabric-interval": "interval in "
                          "[fabric]", "fabric-key-secret": "key-file in "
                          "[fabric]", "hop-cost": "hop-cost in [fabric]"
                          }.items()})
        switch.update(_props(sw, SWITCH_PROPS))
        limit, table = (switch.get(k, SWITCH_CHECKED_DEFAULTS[k])
                        for k in ("mac-limit", "mac-table-size"))
        if isinstance(limit, int) and isinstance(table, int) and \
                limit > table:
            if "mac-limit" in switch:
                sw.error("mac-limit", f"{limit} is above mac-table-size "
                         f"({table}): at most {table}, or 0 (none)")
            sw.error("mac-table-size", f"{table} is below mac-limit "
                     f"({limit} by default): set mac-limit to at most "
                     f"{table}, or 0 (none)")
        if "vtime-snapshot-ns" in switch and not virtual:
            sw.error("vtime-snapshot-ns", 'for timing = "virtual" '
                     '(docs/virtual-time.md)')
        if "tx-fifo" in switch and virtual:
            sw.error("tx-fifo", REAL_ONLY_WHY)
        if "iothreads" in switch and virtual:
            sw.error("iothreads", 'for timing = "real": in virtual time the '
                     "chassis's clock steps the lanes")
        if switch.get("iothreads", 0) > h.slots:
            sw.error("iothreads", f"{switch['iothreads']} threads for "
                     f"{h.slots} slots: a slot's lane runs on one")
    _bus(sw, switch, h)

    blade_nodes = node.tables("blade")
    blades = []
    for i, n in enumerate(blade_nodes):
        b = _blade(n, i, h, net, defaults, virtual)
        blades.append(b)
    net.next_ip += h.slots
    by_slot: dict[int, Blade] = {}
    for n, b in zip(blade_nodes, blades):
        if b.slot in by_slot:
            n.error("slot", f"slot {b.slot} is already blade "
                    f"{by_slot[b.slot].name}'s")
        by_slot[b.slot] = b
        for key, seen, value, what in (
                ("name", net.by_name, b.name, "name {v} is already taken by "
                 "the blade in slot {s}"),
                ("ip", net.by_ip, b.ip.split("/")[0], "address {v} is "
                 "already blade {b}'s"),
                ("mac", net.by_mac, b.mac, "MAC {v} is already blade {b}'s")):
            if value in seen:
                cname, other = seen[value]
                where = "" if cname == h.name else f" of chassis {cname}"
                n.error(key if n.has(key) else None,
                        what.format(v=value, b=other.name, s=other.slot)
                        + where + ("" if n.has(key) else f" (the default "
                                   f"{key}: set {key} on one of them)"))
            seen[value] = (h.name, b)
    h.blade_nodes = blade_nodes
    return Chassis(h.name, h.slots, str(h.subnet), h.gateway, h.uplink,
                   switch, blades, [], [], [], h.role, h.priority,
                   h.chassis_id if net.multi else None, [],
                   latency_ns=h.latency_ns, backplane=h.backplane)


def _bus(sw: "_Node | None", switch: dict, h: _Head) -> None:
    """The bus-* keys of [chassis.switch]: for a chassis whose backplane
    is "tdm-bus", and a schedule the bus can run.  The switch checks the
    same (net/tdm-bus.c) when it starts; here the file is refused before
    anything does.  A bus chassis's NICs are its transceivers: their lanes
    run at the bus's rate unless slot-speed says otherwise."""
    keys = [k for k in (sw.table if sw else {}) if k.startswith("bus-")]
    if h.backplane != "tdm-bus":
        if sw is not None and keys:
            sw.error(keys[0], 'for a chassis with backplane = "tdm-bus" '
                     '(docs/backplane.md)')
        return
    if sw is None or not sw.has("slot-speed"):
        speed = switch.get("bus-speed", BUS_DEFAULT_SPEED)
        switch["slot-speed"] = speed if speed <= NIC_MAX_SPEED else 0
    if sw is None:
        return
    schedule = switch.get("bus-schedule", "equal")
    speed = switch.get("bus-speed", BUS_DEFAULT_SPEED)
    slot = switch.get("bus-slot-bytes", BUS_DEFAULT_SLOT_BYTES)
    if slot * 8000 < BUS_MIN_SLOT_NS * speed:
        key = "bus-slot-bytes" if "bus-slot-bytes" in switch else "bus-speed"
        sw.error(key, f"slots of {slot} octets at {speed} Mb/s last under "
                 f"{BUS_MIN_SLOT_NS} ns, the shortest the bus controller "
                 f"runs: at that rate, slots of at least "
                 f"{-(-BUS_MIN_SLOT_NS * speed // 8000)} octets")
    given = sw.list("bus-weights")
    if given is not None:
        for i, w in enumerate(given):
            if type(w) is not int or not 0 <= w <= BUS_MAX_WEIGHT:
                sw.error("bus-weights", f"must be integers 0..{BUS_MAX_WEIGHT}"
                         f", got {_show(w)}", index=i)
        if len(given) > h.slots:
            sw.error("bus-weights", f"{len(given)} weights for {h.slots} "
                     f"slots")
        if schedule == "equal":
            sw.error("bus-weights", 'for bus-schedule = "weighted" or '
                     '"on-demand" (equal gives every transceiver one slot)')
        switch["bus-weights"] = list(given)
    weights = list(given or []) + [1] * (h.slots - len(given or []))
    weights.append(switch.get("bus-switch-weight", 1))
    asked = h.slots + 1 if schedule == "equal" else sum(weights)
    what = ("one for each transceiver" if schedule == "equal" else
            "the weights' sum")
    if not asked:
        sw.error("bus-weights" if given else "bus-switch-weight",
                 "the weights sum to zero: no transceiver would get a slot")
    if schedule != "equal" and 0 in weights:
        # weighted: what a transceiver without a slot queued would never
        # cross; on demand: a share of nothing
        rule = ("on demand a weight is a share, 1 and up"
                if schedule == "on-demand" else
                "weighted, every transceiver needs a slot (1 and up)")
        i = weights.index(0)
        if i == h.slots:
            sw.error("bus-switch-weight", f"{rule}: the switch's weight is 0")
        sw.error("bus-weights", f"{rule}: slot {i}'s weight is 0", index=i)
    frame = switch.get("bus-frame-slots", BUS_MAX_FRAME_SLOTS)
    if asked > frame:
        key = ("bus-frame-slots" if "bus-frame-slots" in switch else
               "bus-weights" if given else "bus-switch-weight")
        sw.error(key, f"{asked} slots asked for ({what}), more than the "
                 f"frame holds ({frame})")


def _check_addresses(heads, chassis, net):
    """Gateways and blade addresses against each other, and against user
    networking's own addresses."""
    if net.user:
        net.reserved[str(net.subnet.network_address + 3)] = \
            "user networking's DNS server"
    by_ip = {ip: b.name for ip, (_, b) in net.by_ip.items()}
    for h in heads:
        gateway = h.gateway
        # A default gateway is reserved: the blade that has its address is
        # the one to blame.
        if gateway in by_ip and h.node.has("gateway"):
            h.node.error("gateway", f"{gateway} is blade {by_ip[gateway]}'s "
                         f"address")
        if gateway in net.reserved and \
                net.reserved[gateway] != "the gateway":
            h.node.error("gateway", f"{gateway} is {net.reserved[gateway]}")
        if gateway:
            net.reserved[gateway] = "the gateway"
    for h, ch in zip(heads, chassis):
        for n, b in zip(h.blade_nodes, ch.blades):
            addr = b.ip.split("/")[0]
            if addr in net.reserved:
                n.error("ip" if n.has("ip") else None,
                        f"{addr} is {net.reserved[addr]}" +
                        ("" if n.has("ip") else " (the default ip: set ip)"))
    net.taken = {ip: f"blade {name}'s address" for ip, name in by_ip.items()}
    net.taken.update(net.reserved)


def _chassis_rules(h, chassis, net):
    node = h.node
    rules: dict[str, str] = {}      # rule name -> its kind
    for n in node.tables("service"):
        chassis.services.append(_service(n, chassis, net, rules))
    for n in node.tables("steering"):
        chassis.steering.append(_steering(n, chassis, net, rules))
    for n in node.tables("impairment"):
        chassis.impairments.append(_impairment(n, chassis))


def _check_forwards(h, ch, net, fabric):
    if ch.uplink is None:
        return
    vips = set(net.vip_owner) | set(fabric.vips if fabric else [])
    for i, f in enumerate(ch.uplink.forwards):
        guest = f.guest_addr
        if guest not in vips and guest not in net.by_ip:
            what = ", ".join(sorted(vips)) or "none"
            h.node.child("uplink").error(
                "forward", f"{f.rule()}: {guest} is neither a service VIP "
                f"({what}) nor a blade address", i)


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


def _uplink(chassis: _Node, subnet):
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
    forwards: list[Forward] = []
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


def _blade(node, index, h, net, defaults, virtual=False):
    chassis, slots, subnet = h.node, h.slots, net.subnet
    if not node.has("slot"):
        node.error(None, "missing key 'slot'")
    if slots == 0:
        node.error("slot", "the chassis has no slots (slots = 0)")
    slot = node.int("slot", None, 0, slots - 1)
    default = f"{h.name}-b{slot}" if net.multi else f"b{slot}"
    if not node.has("name") and not NAME_RE.match(default):
        node.error(None, f"the default name {default!r} is too long: set name")
    name = node.name("name", default)
    if PORT_NAME_RE.match(name):
        node.error("name", f"{name!r} is a switch port name; choose another")
    node.label = f"{chassis.label}.blade.{name}"
    node.check_keys({"slot", "name", "memory", "cpus", "ip", "mac",
                     "append", "icount_shift", "latency_ns"} |
                    set(NIC_PROPS))
    shift = _virtual_only(node, virtual, "icount_shift", 0, 10) or 0
    latency = _virtual_only(node, virtual, "latency_ns", 1, 1000000000)
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
        if net.need_ids is not None:
            node.error(None, f"missing key 'ip': with a link to another host "
                       f"(link[{net.need_ids}].peer) every blade sets its "
                       f"address, unique in the whole network (this file "
                       f"cannot see the other host's)")
        offset = net.next_ip + slot
        addr = subnet.network_address + offset
        if offset >= subnet.num_addresses - 1:
            node.error(None, f"the default address (.{offset} of "
                       f"{subnet}) does not fit the subnet: set ip")
        iface = ipaddress.IPv4Interface(f"{addr}/{subnet.prefixlen}")
    if iface.ip in (subnet.network_address, subnet.broadcast_address):
        node.error("ip", f"{iface.ip} is not a host address of {subnet}")
    from .blade import blade_mac
    mac = _mac(node, "mac") or blade_mac(name)
    nic = dict(defaults["nic"])
    nic.update(_props(node, NIC_PROPS))
    for key in NIC_VIRTUAL_ONLY:
        if not virtual and key in nic:
            node.error(key if node.has(key) else None,
                       'for timing = "virtual" (docs/virtual-time.md)')
    if virtual and "tx-fifo" in nic:
        node.error("tx-fifo" if node.has("tx-fifo") else None,
                   REAL_ONLY_WHY)
    if virtual and nic.get("util-source") == "host":
        node.error("util-source" if node.has("util-source") else None,
                   "the host's CPU time differs on every run: in virtual "
                   "time utilization comes from the guest (util-source = "
                   "\"guest\")")
    return Blade(name, slot, memory, cpus, str(iface), mac,
                 _append(node, "append"), nic, shift, latency)


def _group(node, chassis, remote=False, key="blades"):
    """A blade group: names or slot numbers; default every blade.  A group
    that other chassis's blades serve too (remote) may be empty."""
    items = node.list(key)
    if items is None:
        if not chassis.blades and not remote:
            node.error(None, "the chassis has no blades to serve this")
        return [b.slot for b in chassis.blades]
    if not items and not remote:
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


def _vip(node, key, chassis, net, required):
    if not node.has(key):
        if required:
            node.error(None, f"missing key '{key}'")
        return None
    subnet = net.subnet
    vip = _ipv4(node, key, node.str(key, None))
    if net.user and vip not in subnet:
        node.error(key, f"{vip} is not in the chassis subnet {subnet} (user "
                   f"networking reaches only its subnet)")
    if vip in (subnet.network_address, subnet.broadcast_address):
        node.error(key, f"{vip} is not a host address of {subnet}")
    if str(vip) in net.taken:
        node.error(key, f"{vip} is {net.taken[str(vip)]}")
    owner = net.vip_owner.setdefault(str(vip), chassis.name)
    if owner != chassis.name:
        node.error(key, f"{vip} is already a VIP of chassis {owner} (one "
                   f"switch answers ARP for a VIP)")
    return str(vip)


def _remote(node, net):
    if node.has("remote") and not net.multi:
        node.error("remote", "for chassis joined by links: this topology "
                   "has one chassis and no [[link]]")
    return node.bool("remote", False)


def _service(node, chassis, net, rules):
    name = _rule_name(node, rules, "service")
    node.check_keys({"name", "vip", "protocol", "port", "blades", "policy",
                     "remote"})
    vip = _vip(node, "vip", chassis, net, True)
    protocol = node.str("protocol", "tcp", choices=PROTOCOLS)
    port = node.int("port", 0, 0, 65535)
    for s in chassis.services:
        if (s.vip, s.protocol, s.port) == (vip, protocol, port):
            node.error("port", f"{protocol} port {port} of {vip} is already "
                       f"service {s.name}")
    remote = _remote(node, net)
    return Service(name, vip, protocol, port, _group(node, chassis, remote),
                   node.str("policy", "util", choices=POLICIES), remote)


def _steering(node, chassis, net, rules):
    name = _rule_name(node, rules, "steering")
    node.check_keys({"name", "vip", "protocol", "port-min", "port-max",
                     "blades", "policy", "remote"})
    vip = _vip(node, "vip", chassis, net, False)
    protocol = node.str("protocol", "tcp", choices=PROTOCOLS)
    if not node.has("port-min"):
        node.error(None, "missing key 'port-min'")
    port_min = node.int("port-min", None, 0, 65535)
    port_max = node.int("port-max", port_min, 0, 65535)
    if port_max < port_min:
        node.error("port-max", f"must be >= port-min ({port_min}), got "
                   f"{port_max}")
    remote = _remote(node, net)
    return Steering(name, protocol, port_min, port_max, vip,
                    _group(node, chassis, remote),
                    node.str("policy", "util", choices=POLICIES), remote)


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
