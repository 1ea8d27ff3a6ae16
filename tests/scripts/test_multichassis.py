"""Topologies of several chassis: links and their chain ports, the one
network the chassis share (addresses, VIPs), loops, central switches,
chassis on other hosts, and every error with its file, line and key."""

import json
import os
import tempfile
import unittest

import cli_path  # noqa: F401
from bladeplane_cli import topology
from bladeplane_cli.topology import TopologyError

REPO = cli_path.REPO
EXAMPLES = os.path.join(REPO, "examples")

# A chain c1 -- c2 -- c3; line numbers matter to the tests below.
CHAIN = """\
name = "ch"
[fabric]
interval = 200
[[chassis]]
name = "c1"
slots = 2
[chassis.uplink]
forward = ["tcp:127.0.0.1:8080-10.0.2.100:80"]
[[chassis.blade]]
slot = 0
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
remote = true
[[chassis]]
name = "c2"
slots = 3
[[chassis.blade]]
slot = 1
[[chassis]]
name = "c3"
[[chassis.blade]]
slot = 0
[[link]]
a = "c1"
b = "c2"
[[link]]
a = "c2"
b = "c3"
"""


def load(text, path="topo.toml"):
    return topology.loads(text, path)


def err(text, path="topo.toml"):
    try:
        load(text, path)
    except TopologyError as e:
        return str(e)
    raise AssertionError("no error")


def change(old, new, text=CHAIN):
    assert old in text, old
    return err(text.replace(old, new, 1))


class ChainTest(unittest.TestCase):

    def test_ports_ids_and_the_front_chassis(self):
        topo = load(CHAIN)
        self.assertTrue(topo.multi())
        c1, c2, c3 = topo.chassis
        self.assertEqual([(c.name, c.chassis_id, c.chain) for c in topo.chassis],
                         [("c1", 1, ["chain0"]), ("c2", 2, ["chain0", "chain1"]),
                          ("c3", 3, ["chain0"])])
        self.assertEqual([(l.a, l.a_port, l.b, l.b_port) for l in topo.links],
                         [("c1", "chain0", "c2", "chain0"),
                          ("c2", "chain1", "c3", "chain0")])
        self.assertIs(topo.front(), c1)
        self.assertEqual((c2.uplink, c3.uplink), (None, None))
        self.assertEqual(topo.fabric.interval, 200)
        self.assertEqual(topo.fabric.loops, "refuse")

    def test_one_network_with_addresses_in_file_order(self):
        topo = load(CHAIN)
        # .10 + slot in c1 (2 slots), then c2 from .12, c3 (4 slots by
        # default) from .15.
        self.assertEqual([(b.name, b.ip) for _, b in topo.blades()],
                         [("c1-b0", "10.0.2.10/24"), ("c2-b1", "10.0.2.13/24"),
                          ("c3-b0", "10.0.2.15/24")])
        self.assertEqual({(c.subnet, c.gateway) for c in topo.chassis},
                         {("10.0.2.0/24", "10.0.2.2")})
        self.assertEqual(topo.blade_at("c2", 1).name, "c2-b1")
        self.assertIsNone(topo.blade_at("c2", 0))

    def test_every_blade_holds_the_remote_vips(self):
        text = CHAIN.replace('[[chassis]]\nname = "c3"', '[[chassis.service]]\n'
                             'name = "own"\nvip = "10.0.2.101"\n[[chassis]]\n'
                             'name = "c3"')
        topo = load(text)
        c1, c2, c3 = topo.chassis
        self.assertEqual(topo.blade_vips(c1, c1.blades[0]), ["10.0.2.100"])
        self.assertEqual(topo.blade_vips(c2, c2.blades[0]),
                         ["10.0.2.101", "10.0.2.100"])
        # c2's own service is not remote: c3's blades do not serve it.
        self.assertEqual(topo.blade_vips(c3, c3.blades[0]), ["10.0.2.100"])
        self.assertEqual(c1.services[0].remote, True)
        self.assertEqual(c2.services[0].remote, False)

    def test_remote_service_on_a_chassis_without_blades(self):
        text = CHAIN.replace("[[chassis.blade]]\nslot = 0\n[[chassis.service]]",
                             "[[chassis.service]]", 1)
        topo = load(text)
        self.assertEqual(topo.chassis[0].services[0].blades, [])
        self.assertEqual(err(text.replace("remote = true", "remote = false")),
                         "topo.toml:9: chassis.c1.service.web: the chassis "
                         "has no blades to serve this")

    def test_forward_to_a_blade_of_another_chassis(self):
        topo = load(CHAIN.replace("10.0.2.100:80\"]",
                                  "10.0.2.100:80\", \"tcp::2222-10.0.2.15:22\"]"))
        self.assertEqual(topo.front().uplink.forwards[1].guest_addr, "10.0.2.15")

    def test_round_trip_through_the_run_record(self):
        topo = load(CHAIN)
        again = topology.from_dict(json.loads(json.dumps(topo.to_dict())))
        self.assertEqual(again, topo)

    def test_a_run_record_of_one_chassis_from_before_links(self):
        d = load('[[chassis]]\n[[chassis.blade]]\nslot = 0\n').to_dict()
        del d["links"], d["fabric"]
        for key in ("role", "priority", "chassis_id", "chain"):
            del d["chassis"][0][key]
        topo = topology.from_dict(d)
        self.assertFalse(topo.multi())
        self.assertEqual(topo.chassis[0].chain, [])

    def test_links_of(self):
        topo = load(CHAIN)
        self.assertEqual([(l.index, p) for l, p in topo.links_of("c2")],
                         [(0, "chain0"), (1, "chain1")])


class ExamplesTest(unittest.TestCase):

    def example(self, name):
        return topology.load(os.path.join(EXAMPLES, name))

    def test_chain3(self):
        topo = self.example("chain3.toml")
        self.assertEqual([(c.name, c.chain) for c in topo.chassis],
                         [("c1", ["chain0"]), ("c2", ["chain0", "chain1"]),
                          ("c3", ["chain0"])])
        self.assertEqual(topo.front().name, "c1")
        self.assertTrue(all(b for c in topo.chassis for b in c.blades))
        web = topo.front().services[0]
        self.assertTrue(web.remote)

    def test_central3(self):
        topo = self.example("central3.toml")
        core = topo.by_name("core")
        self.assertEqual((core.role, core.slots, core.priority, core.blades,
                          core.uplink, core.chain),
                         ("central", 0, 4096, [], None,
                          ["chain0", "chain1", "chain2"]))
        self.assertEqual({l.a for l in topo.links}, {"core"})

    def test_ring3_runs_with_loops_block_and_is_refused_without(self):
        path = os.path.join(EXAMPLES, "ring3.toml")
        topo = topology.load(path)
        self.assertEqual(topo.fabric.loops, "block")
        self.assertEqual(len(topo.links), 3)
        with open(path) as f:
            lines = f.read().splitlines(keepends=True)
        text = "".join(l for l in lines if not l.startswith("loops ="))
        closing = len(text[:text.rindex("[[link]]")].splitlines()) + 1
        self.assertEqual(err(text, "ring3.toml"),
                         f"ring3.toml:{closing}: link[2]: link c3-c1 closes a "
                         f"loop: c3 -> c2 -> c1 -> c3; set loops = \"block\" in "
                         f"[fabric] to let the switches block a link of it, or "
                         f"remove a link")

    def test_multihost_pair(self):
        a = self.example("multihost-a.toml")
        b = self.example("multihost-b.toml")
        la, lb = a.links[0], b.links[0]
        self.assertEqual((la.peer_host, la.peer_port, la.listen),
                         ("127.0.0.1", 7093, True))
        self.assertEqual((lb.peer_host, lb.peer_port, lb.listen),
                         ("127.0.0.1", 7093, False))
        # What the two files must agree on.
        ids = [c.chassis_id for t in (a, b) for c in t.chassis]
        self.assertEqual(len(set(ids)), len(ids))
        blades = [bl for t in (a, b) for _, bl in t.blades()]
        for attr in ("name", "ip", "mac"):
            values = [getattr(bl, attr) for bl in blades]
            self.assertEqual(len(set(values)), len(values), attr)
        self.assertEqual({c.subnet for t in (a, b) for c in t.chassis},
                         {"10.0.2.0/24"})
        remote_vips = [s.vip for c in a.chassis for s in c.services if s.remote]
        self.assertEqual(b.fabric.vips, remote_vips)
        with open(a.fabric.key_file, "rb") as fa, \
                open(b.fabric.key_file, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())
        self.assertEqual(b.blade_vips(b.chassis[0], b.chassis[0].blades[0]), ["10.0.2.100"])


class LoopTest(unittest.TestCase):

    def test_ring_is_refused_naming_the_loop(self):
        ring = CHAIN + '[[link]]\na = "c3"\nb = "c1"\n'
        self.assertEqual(err(ring),
                         "topo.toml:31: link[2]: link c3-c1 closes a loop: "
                         "c3 -> c2 -> c1 -> c3; set loops = \"block\" in "
                         "[fabric] to let the switches block a link of it, or "
                         "remove a link")
        topo = load(ring.replace("interval = 200", "loops = \"block\""))
        self.assertEqual([c.chain for c in topo.chassis],
                         [["chain0", "chain1"]] * 3)

    def test_two_links_between_the_same_chassis_are_a_loop(self):
        self.assertEqual(err(CHAIN + '[[link]]\na = "c2"\nb = "c1"\n'),
                         "topo.toml:31: link[2]: link c2-c1 closes a loop: "
                         "c2 -> c1 -> c2; set loops = \"block\" in [fabric] "
                         "to let the switches block a link of it, or remove "
                         "a link")

    def test_a_loop_through_a_central_switch(self):
        text = CHAIN + ('[[chassis]]\nname = "core"\nrole = "central"\n'
                        '[[link]]\na = "core"\nb = "c1"\n'
                        '[[link]]\na = "core"\nb = "c3"\n')
        self.assertEqual(err(text),
                         "topo.toml:37: link[3]: link core-c3 closes a loop: "
                         "core -> c1 -> c2 -> c3 -> core; set loops = "
                         "\"block\" in [fabric] to let the switches block a "
                         "link of it, or remove a link")

    def test_a_tree_is_no_loop(self):
        text = CHAIN + '[[chassis]]\nname = "c4"\n[[link]]\na = "c4"\nb = "c2"\n'
        self.assertEqual(load(text).by_name("c2").chain,
                         ["chain0", "chain1", "chain2"])


class ErrorTest(unittest.TestCase):

    def test_links(self):
        self.assertEqual(change('a = "c1"\n', ''),
                         "topo.toml:25: link[0]: missing key 'a' (the chassis "
                         "at one end)")
        self.assertEqual(change('a = "c1"', 'a = "c9"'),
                         "topo.toml:26: link[0].a: no chassis 'c9' (chassis: "
                         "c1, c2, c3)")
        self.assertEqual(change('b = "c2"', 'b = "c1"'),
                         "topo.toml:27: link[0].b: a link from chassis c1 to "
                         "itself")
        self.assertEqual(change('b = "c2"\n', ''),
                         "topo.toml:25: link[0]: missing key 'b' (the chassis "
                         "at the other end; or peer, for a chassis on another "
                         "host)")
        self.assertEqual(change('b = "c2"', 'b = "c2"\nspede = 1'),
                         "topo.toml:28: link[0].spede: unknown key (did you "
                         "mean 'speed'?)")
        self.assertEqual(change('b = "c2"', 'b = "c2"\npeer = "tcp:h:1"'),
                         "topo.toml:28: link[0].peer: give b (a chassis of "
                         "this file) or peer (a chassis on another host), not "
                         "both")
        self.assertEqual(change('b = "c2"', 'b = "c2"\nlisten = true'),
                         "topo.toml:28: link[0].listen: only for a peer link: "
                         "between chassis of this file the launcher chooses "
                         "who listens")
        self.assertEqual(change('b = "c2"', 'b = 2'),
                         "topo.toml:27: link[0].b: must be a string, got 2")
        self.assertEqual(err(CHAIN + "[[link]]\n"),
                         "topo.toml:31: link[2]: missing key 'a' (the chassis "
                         "at one end)")
        self.assertEqual(err(CHAIN.replace("[[link]]", "[link]", 1)
                             .split("[[link]]")[0]),
                         "topo.toml:25: link: must be an array of tables "
                         "([[...link]]), got a table")

    def test_speeds(self):
        self.assertEqual(change('b = "c3"', 'b = "c3"\nspeed = 400001'),
                         "topo.toml:31: link[1].speed: must be 0..400000, got "
                         "400001")
        text = CHAIN.replace('b = "c2"', 'b = "c2"\nspeed = 1000')
        self.assertEqual(load(text).links[0].speed, 1000)
        self.assertEqual(change('b = "c3"', 'b = "c3"\nspeed = 2500', text),
                         "topo.toml:32: link[1].speed: chassis c2's links run "
                         "at one speed (its switch's chain-speed), and link[0] "
                         "says 1000")
        self.assertEqual(load(text.replace('b = "c3"', 'b = "c3"\nspeed = '
                                           '1000')).links[1].speed, 1000)

    def test_at_most_16_chain_ports(self):
        text = CHAIN + "".join(f'[[chassis]]\nname = "x{i}"\n[[link]]\na = '
                               f'"c2"\nb = "x{i}"\n' for i in range(15))
        self.assertEqual(err(text),
                         "topo.toml:103: link[16]: chassis c2 has 16 links "
                         "already: a switch has at most 16 chain ports")

    def test_every_chassis_is_linked(self):
        self.assertEqual(err(CHAIN.replace('[[link]]\na = "c2"\nb = "c3"\n', '')),
                         "topo.toml:21: chassis.c3: no link joins chassis c3 "
                         "to chassis c1: the chassis of a topology are joined "
                         "by [[link]] tables (chassis on their own belong in "
                         "topologies of their own)")

    def test_one_front_chassis_one_network(self):
        self.assertEqual(change('name = "c3"', 'name = "c3"\n[chassis.uplink]'),
                         "topo.toml:23: chassis.c3.uplink: chassis c1 has the "
                         "uplink already: chassis joined by links share one "
                         "network and one way out of it (the front chassis's "
                         "uplink)")
        self.assertEqual(change('name = "c2"', 'name = "c2"\nsubnet = '
                                '"10.0.3.0/24"'),
                         "topo.toml:18: chassis.c2.subnet: 10.0.3.0/24: chassis "
                         "joined by links share one network, 10.0.2.0/24 (the "
                         "front chassis c1's)")
        topo = load(CHAIN.replace('name = "c2"', 'name = "c2"\nsubnet = '
                                  '"10.0.2.0/24"\ngateway = "10.0.2.1"'))
        self.assertEqual([c.gateway for c in topo.chassis],
                         ["10.0.2.2", "10.0.2.1", "10.0.2.2"])
        self.assertEqual(change('name = "c2"', 'name = "c2"\ngateway = '
                                '"10.0.2.3"'),
                         "topo.toml:18: chassis.c2.gateway: 10.0.2.3 is user "
                         "networking's DNS server")

    def test_unique_names_addresses_and_vips_across_chassis(self):
        self.assertEqual(change("slot = 1", 'slot = 1\nname = "c1-b0"'),
                         "topo.toml:21: chassis.c2.blade.c1-b0.name: name "
                         "c1-b0 is already taken by the blade in slot 0 of "
                         "chassis c1")
        self.assertEqual(change("slot = 1", 'slot = 1\nip = "10.0.2.10"'),
                         "topo.toml:21: chassis.c2.blade.c2-b1.ip: address "
                         "10.0.2.10 is already blade c1-b0's of chassis c1")
        self.assertEqual(change("slot = 1", 'slot = 1\nip = "10.0.2.2"'),
                         "topo.toml:21: chassis.c2.blade.c2-b1.ip: 10.0.2.2 is "
                         "the gateway")
        self.assertEqual(change('name = "c3"', 'name = "c3"\n[[chassis.service]]'
                                '\nname = "w3"\nvip = "10.0.2.100"'),
                         "topo.toml:25: chassis.c3.service.w3.vip: 10.0.2.100 "
                         "is already a VIP of chassis c1 (one switch answers "
                         "ARP for a VIP)")
        self.assertEqual(change('vip = "10.0.2.100"', 'vip = "10.0.2.15"'),
                         "topo.toml:13: chassis.c1.service.web.vip: 10.0.2.15 "
                         "is blade c3-b0's address")
        self.assertEqual(change('name = "c3"', 'name = "c1"'),
                         "topo.toml:22: chassis.c1.name: name c1 is already "
                         "taken by chassis[0]")

    def test_default_blade_names_and_addresses_that_do_not_fit(self):
        long = "c" * 30
        self.assertEqual(err(CHAIN.replace('"c3"', f'"{long}"')),
                         f"topo.toml:23: chassis.{long}.blade[0]: the default "
                         f"name '{long}-b0' is too long: set name")
        text = CHAIN.replace('slots = 3', 'slots = 64').replace(
            'name = "c3"\n[[chassis.blade]]\nslot = 0',
            'name = "c3"\nslots = 64\n[[chassis.blade]]\nslot = 63')
        # c3 starts at .10 + 2 + 64 = .76; slot 63 would be .139, still in
        # the /24; with a /25 it is not.
        self.assertEqual(load(text).by_name("c3").blades[0].ip, "10.0.2.139/24")
        self.assertEqual(err(text.replace('slots = 2', 'slots = 2\nsubnet = '
                                          '"10.0.2.0/25"')),
                         "topo.toml:25: chassis.c3.blade.c3-b63: the default "
                         "address (.139 of 10.0.2.0/25) does not fit the "
                         "subnet: set ip")

    def test_chassis_names_fit_the_switch(self):
        name = "c" * 32
        self.assertEqual(change('name = "c3"', f'name = "{name}"'),
                         f"topo.toml:22: chassis.{name}.name: '{name}' has 32 "
                         f"characters: a chassis joined by links has a name of "
                         f"at most 31 (the switch's chassis property)")

    def test_ids_and_priorities(self):
        self.assertEqual(change('name = "c2"', 'name = "c2"\nid = 0'),
                         "topo.toml:18: chassis.c2.id: must be "
                         "1..18446744073709551615, got 0")
        self.assertEqual(change('name = "c2"', 'name = "c2"\nid = 3'),
                         "topo.toml:22: chassis.c3: its default id, 3 (its "
                         "place in the file), is already chassis c2's: set "
                         "id")
        self.assertEqual(change('name = "c3"', 'name = "c3"\nid = 1'),
                         "topo.toml:23: chassis.c3.id: id 1 is already chassis "
                         "c1's (its default, its place in the file: set id on "
                         "it)")
        self.assertEqual(err(CHAIN.replace('name = "c2"', 'name = "c2"\nid = '
                                           '9').replace('name = "c3"',
                                                        'name = "c3"\nid = 9')),
                         "topo.toml:24: chassis.c3.id: id 9 is already chassis "
                         "c2's")
        topo = load(CHAIN.replace('name = "c2"', 'name = "c2"\nid = 20\n'
                                  'priority = 100'))
        c2 = topo.by_name("c2")
        self.assertEqual((c2.chassis_id, c2.priority), (20, 100))
        self.assertEqual(change('name = "c2"', 'name = "c2"\npriority = 65536'),
                         "topo.toml:18: chassis.c2.priority: must be "
                         "0..65535, got 65536")

    def test_central_switch(self):
        core = '[[chassis]]\nname = "core"\nrole = "central"\n'
        link = '[[link]]\na = "core"\nb = "c3"\n'
        topo = load(CHAIN + core + link)
        self.assertEqual(topo.by_name("core").priority, 4096)
        self.assertEqual(err(CHAIN + core + "slots = 2\n" + link),
                         "topo.toml:34: chassis.core.slots: a central switch "
                         "(role = \"central\") has no slots, got 2")
        self.assertEqual(err(CHAIN + core + "[[chassis.blade]]\nslot = 0\n"
                             + link),
                         "topo.toml:35: chassis.core.blade[0].slot: the "
                         "chassis has no slots (slots = 0)")
        self.assertEqual(err(CHAIN + core + "[chassis.uplink]\n" + link),
                         "topo.toml:34: chassis.core.uplink: a central switch "
                         "has no uplink: give it to a chassis with blades (the "
                         "front chassis)")
        self.assertEqual(err(CHAIN + core.replace("central", "hub") + link),
                         "topo.toml:33: chassis.core.role: must be one of "
                         "blades, central, got 'hub'")

    def test_fabric(self):
        self.assertEqual(change("interval = 200", "interval = 5"),
                         "topo.toml:3: fabric.interval: must be 10..60000, "
                         "got 5")
        self.assertEqual(change("interval = 200", "hop-cost = 101"),
                         "topo.toml:3: fabric.hop-cost: must be 0..100, got "
                         "101")
        self.assertEqual(change("interval = 200", "loops = \"ignore\""),
                         "topo.toml:3: fabric.loops: must be one of refuse, "
                         "block, got 'ignore'")
        self.assertEqual(change("interval = 200", "intreval = 200"),
                         "topo.toml:3: fabric.intreval: unknown key (did you "
                         "mean 'interval'?)")
        self.assertEqual(change("interval = 200", 'vips = ["10.0.3.1"]'),
                         "topo.toml:3: fabric.vips[0]: 10.0.3.1 is not a host "
                         "address of the network 10.0.2.0/24")
        self.assertEqual(change("interval = 200", 'vips = ["10.0.2.10"]'),
                         "topo.toml:3: fabric.vips[0]: 10.0.2.10 is blade "
                         "c1-b0's address")
        self.assertEqual(change("interval = 200", 'vips = [1]'),
                         "topo.toml:3: fabric.vips[0]: must be an IPv4 "
                         "address, got 1")
        topo = load(CHAIN.replace("interval = 200", 'vips = ["10.0.2.200"]'))
        self.assertEqual(topo.blade_vips(topo.chassis[0],
                                         topo.chassis[0].blades[0]),
                         ["10.0.2.100", "10.0.2.200"])

    def test_key_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "topo.toml")
            key = os.path.join(d, "k")
            for data, ok in ((b"", False), (b"x", True), (b"k" * 64, True),
                             (b"k" * 65, False)):
                with open(key, "wb") as f:
                    f.write(data)
                text = CHAIN.replace("interval = 200", 'key-file = "k"')
                if ok:
                    self.assertEqual(load(text, path).fabric.key_file, key)
                    continue
                how = "no" if not data else "more than 64"
                self.assertEqual(err(text, path),
                                 f"{path}:3: fabric.key-file: {key} holds "
                                 f"{how} bytes: the shared key is 1 to 64 "
                                 f"bytes")
            self.assertEqual(err(CHAIN.replace("interval = 200",
                                               'key-file = "nokey"'), path),
                             f"{path}:3: fabric.key-file: no such file: "
                             f"{d}/nokey")


PEER = """\
name = "b"
[[chassis]]
name = "c2"
id = 2
slots = 1
[[chassis.blade]]
slot = 0
ip = "10.0.2.20"
[[link]]
a = "c2"
peer = "tcp:hosta.example:7000"
"""


class PeerTest(unittest.TestCase):

    def test_a_peer_link(self):
        topo = load(PEER)
        link = topo.links[0]
        self.assertEqual((link.a, link.a_port, link.b, link.peer_host,
                          link.peer_port, link.listen),
                         ("c2", "chain0", None, "hosta.example", 7000, False))
        self.assertEqual(link.label(), "c2-tcp:hosta.example:7000")
        self.assertIsNone(topo.front())
        self.assertEqual(topo.chassis[0].gateway, None)
        topo = load(PEER.replace("hosta.example", "[fd00::1]") +
                    "listen = true\n")
        self.assertEqual((topo.links[0].peer_host, topo.links[0].listen),
                         ("fd00::1", True))

    def test_peer_syntax(self):
        self.assertEqual(change("tcp:hosta.example:7000", "hosta:7000", PEER),
                         "topo.toml:11: link[0].peer: must be tcp:HOST:PORT "
                         "like 'tcp:192.0.2.10:7000', got 'hosta:7000'")
        self.assertEqual(change("7000", "70000", PEER),
                         "topo.toml:11: link[0].peer: port 70000 is not "
                         "1..65535")
        self.assertEqual(err(PEER + "listen = 1\n"),
                         "topo.toml:12: link[0].listen: must be true or false, "
                         "got 1")

    def test_a_peer_link_needs_ids_and_addresses(self):
        self.assertEqual(change("id = 2\n", "", PEER),
                         "topo.toml:2: chassis.c2: missing key 'id': with a "
                         "link to another host (link[0].peer) every chassis "
                         "sets its id, unique in the whole fabric (this file "
                         "cannot see the other host's)")
        self.assertEqual(change('ip = "10.0.2.20"\n', "", PEER),
                         "topo.toml:6: chassis.c2.blade.c2-b0: missing key "
                         "'ip': with a link to another host (link[0].peer) "
                         "every blade sets its address, unique in the whole "
                         "network (this file cannot see the other host's)")

    def test_chassis_joined_through_another_host(self):
        text = PEER + ('[[chassis]]\nname = "c3"\nid = 3\n[[link]]\na = "c3"\n'
                       'peer = "tcp:hosta.example:7001"\n')
        self.assertEqual([c.chain for c in load(text).chassis],
                         [["chain0"], ["chain0"]])


if __name__ == "__main__":
    unittest.main()
