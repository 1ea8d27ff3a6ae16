"""Topology files: parsing, defaults, and every error with its file, line
and key."""

import json
import os
import tempfile
import textwrap
import unittest

import cli_path  # noqa: F401
from bladeplane_cli import blade, chassis, topology, tomlpos
from bladeplane_cli.topology import TopologyError

REPO = cli_path.REPO

# A complete file; line numbers matter to the tests below.
BASE = """\
name = "t"
[[chassis]]
name = "c1"
slots = 4
[chassis.uplink]
forward = ["tcp:127.0.0.1:8080-10.0.2.100:80"]
[chassis.switch]
util-stale = 500
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
name = "web1"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
"""


def load(text, path="topo.toml"):
    return topology.loads(textwrap.dedent(text), path)


class LocatorTest(unittest.TestCase):

    def test_tables_arrays_and_keys(self):
        pos = tomlpos.locate(BASE)
        self.assertEqual(pos.line(("name",)), 1)
        self.assertEqual(pos.line(("chassis", 0)), 2)
        self.assertEqual(pos.line(("chassis", 0, "slots")), 4)
        self.assertEqual(pos.line(("chassis", 0, "uplink", "forward", 0)), 6)
        self.assertEqual(pos.line(("chassis", 0, "switch", "util-stale")), 8)
        self.assertEqual(pos.line(("chassis", 0, "blade", 1)), 11)
        self.assertEqual(pos.line(("chassis", 0, "blade", 1, "name")), 13)
        self.assertEqual(pos.line(("chassis", 0, "service", 0, "port")), 17)

    def test_unknown_path_falls_back_to_its_table(self):
        pos = tomlpos.locate(BASE)
        self.assertEqual(pos.line(("chassis", 0, "blade", 1, "memory")), 11)
        self.assertIsNone(pos.line(("nothing",)))

    def test_multiline_strings_arrays_inline_tables_quoted_keys(self):
        text = textwrap.dedent('''\
            a = """
            [not.a.table]
            x = 1
            """
            b = [
              1,   # one
              "two, ]",
            ]
            c = { d = 1, "e.f" = [2,
              3] }
            [t]
            'g h'.i = 4
            ''')
        pos = tomlpos.locate(text)
        self.assertIsNone(pos.line(("not",)))
        self.assertEqual(pos.line(("b", 1)), 7)
        self.assertEqual(pos.line(("c", "e.f", 1)), 10)
        self.assertEqual(pos.line(("t", "g h", "i")), 12)

    def test_array_tables_count_per_parent(self):
        text = ("[[c]]\n[[c.b]]\n[[c.b]]\n[[c]]\n[[c.b]]\nx = 1\n")
        pos = tomlpos.locate(text)
        self.assertEqual(pos.line(("c", 0, "b", 1)), 3)
        self.assertEqual(pos.line(("c", 1, "b", 0, "x")), 6)


class DefaultsTest(unittest.TestCase):

    def test_minimal_file(self):
        topo = load("""\
            [[chassis]]
            [[chassis.blade]]
            slot = 2
            """, "/x/mini.toml")
        self.assertEqual(topo.name, "mini")          # from the file name
        ch = topo.chassis[0]
        self.assertEqual((ch.name, ch.slots, ch.subnet, ch.gateway),
                         ("c1", 4, "10.0.2.0/24", "10.0.2.2"))
        self.assertEqual(ch.uplink.kind, "user")
        self.assertEqual(ch.uplink.forwards, [])
        self.assertEqual(ch.switch, {"slot-speed": 1000, "pcs": "8b10b"})
        b = ch.blades[0]
        self.assertEqual((b.name, b.slot, b.memory, b.cpus, b.ip),
                         ("b2", 2, 256, 1, "10.0.2.12/24"))
        self.assertEqual(b.mac, blade.blade_mac("b2"))
        self.assertEqual((topo.image.kernel, topo.image.initrd), (None, None))

    def test_base(self):
        topo = load(BASE)
        ch = topo.chassis[0]
        self.assertEqual([b.name for b in ch.blades], ["b0", "web1"])
        self.assertEqual(ch.switch["util-stale"], 500)
        s = ch.services[0]
        self.assertEqual((s.name, s.vip, s.protocol, s.port, s.blades, s.policy),
                         ("web", "10.0.2.100", "tcp", 80, [0, 1], "util"))
        f = ch.uplink.forwards[0]
        self.assertEqual(f.rule(), "tcp:127.0.0.1:8080-10.0.2.100:80")
        self.assertEqual(ch.vips(), ["10.0.2.100"])

    def test_a_blade_holds_only_the_vips_it_serves(self):
        # A client blade (slot 2, in no service) must reach the VIP
        # through the switch, not answer it on its own loopback.
        topo = load(BASE.replace('name = "web1"\n', 'name = "web1"\n'
                                 '[[chassis.blade]]\nslot = 2\n'
                                 'name = "client"\n')
                    .replace("port = 80\n", "port = 80\nblades = [0, 1]\n"
                             "[[chassis.service]]\nname = \"b\"\n"
                             "vip = \"10.0.2.101\"\nblades = [1]\n"))
        ch = topo.chassis[0]
        self.assertEqual([topo.blade_vips(ch, b) for b in ch.blades],
                         [["10.0.2.100"], ["10.0.2.100", "10.0.2.101"], []])
        self.assertEqual(ch.vips(), ["10.0.2.100", "10.0.2.101"])
        text = chassis.blade_append(topo, ch, ch.blade("client"))
        self.assertNotIn("blade.vip", text)

    def test_defaults_table_and_blade_overrides(self):
        topo = load(BASE.replace('name = "t"\n', 'name = "t"\n[defaults]\n'
                                 'memory = 512\ncpus = 2\nutil-interval = 50\n')
                    .replace('name = "web1"', 'name = "web1"\nmemory = 128\n'
                             'ip = "10.0.2.50"\nutil-source = "guest"'))
        b0, b1 = topo.chassis[0].blades
        self.assertEqual((b0.memory, b0.cpus, b0.nic), (512, 2, {"util-interval": 50}))
        self.assertEqual((b1.memory, b1.ip), (128, "10.0.2.50/24"))
        self.assertEqual(b1.nic, {"util-interval": 50, "util-source": "guest"})

    def test_steering_and_impairments(self):
        topo = load(BASE + textwrap.dedent("""\
            [[chassis.steering]]
            name = "admin"
            port-min = 8000
            port-max = 8099
            blades = [1]
            policy = "rr"
            [[chassis.impairment]]
            blade = "web1"
            ber = 1e-9
            link-down = true
            """))
        ch = topo.chassis[0]
        r = ch.steering[0]
        self.assertEqual((r.name, r.protocol, r.port_min, r.port_max, r.vip,
                          r.blades, r.policy),
                         ("admin", "tcp", 8000, 8099, None, [1], "rr"))
        i = ch.impairments[0]
        self.assertEqual((i.blade, i.slot, i.ber, i.link_down, i.sync_loss),
                         ("web1", 1, 1e-9, True, False))

    def test_netdev_uplink_has_no_default_gateway(self):
        topo = load(BASE.replace(
            'forward = ["tcp:127.0.0.1:8080-10.0.2.100:80"]',
            'netdev = "tap,ifname=bp0,script=no,downscript=no"\nspeed = 1000'))
        ch = topo.chassis[0]
        self.assertEqual((ch.uplink.kind, ch.uplink.netdev, ch.uplink.speed,
                          ch.gateway),
                         ("netdev", "tap,ifname=bp0,script=no,downscript=no",
                          1000, None))

    def test_round_trip_through_the_run_record(self):
        topo = load(BASE + '[[chassis.impairment]]\nblade = 0\nsync-loss = true\n')
        self.assertEqual(topology.from_dict(topo.to_dict()), topo)

    def test_example_files_load(self):
        examples = os.path.join(REPO, "examples")
        names = sorted(n for n in os.listdir(examples) if n.endswith(".toml"))
        self.assertIn("one-chassis.toml", names)
        for n in names:
            with self.subTest(n):
                topology.load(os.path.join(examples, n))


VIRTUAL = """\
name = "v"
timing = "virtual"
[[chassis]]
name = "c1"
slots = 2
latency_ns = 50000
[[chassis.blade]]
slot = 0
[[chassis.blade]]
slot = 1
icount_shift = 1
"""


class VirtualTimeTest(unittest.TestCase):
    """timing = "virtual" (docs/virtual-time.md): what it takes, and the
    real-time parts it refuses, each with one line."""

    def err(self, text):
        with self.assertRaises(TopologyError) as cm:
            load(text)
        return str(cm.exception)

    def test_read(self):
        topo = load(VIRTUAL)
        self.assertTrue(topo.virtual())
        ch = topo.chassis[0]
        self.assertIsNone(ch.uplink)
        self.assertEqual(ch.latency_ns, 50000)
        self.assertEqual([b.icount_shift for b in ch.blades], [0, 1])
        # the run directory's record keeps it
        again = topology.from_dict(topo.to_dict())
        self.assertTrue(again.virtual())
        self.assertEqual(again.chassis[0].blades[1].icount_shift, 1)

    def test_override(self):
        plain = (VIRTUAL.replace('timing = "virtual"\n', "")
                 .replace("latency_ns = 50000\n", "")
                 .replace("icount_shift = 1\n", ""))
        self.assertFalse(load(plain).virtual())
        # up --timing virtual
        self.assertTrue(topology.loads(plain, "topo.toml", "virtual")
                        .virtual())

    def test_only_in_virtual_time(self):
        real = VIRTUAL.replace('timing = "virtual"\n', "")
        self.assertEqual(self.err(real),
                         'topo.toml:5: chassis.c1.latency_ns: for timing = '
                         '"virtual" (docs/virtual-time.md)')

    def test_per_blade_latency(self):
        # b1's lane has its own latency; b0's is the chassis's
        topo = load(VIRTUAL.replace("icount_shift = 1\n",
                                    "latency_ns = 20000\n"))
        ch = topo.chassis[0]
        self.assertEqual([b.latency_ns for b in ch.blades], [None, 20000])
        self.assertEqual(topology.from_dict(topo.to_dict())
                         .chassis[0].blades[1].latency_ns, 20000)
        # both ends of a lane add the same latency: the NIC into the
        # blade, the switch's slot into the chassis
        nics = [chassis.nic_args(ch, b, "/bp", virtual=True)
                for b in ch.blades]
        self.assertIn(",vtime-latency-ns=50000", nics[0])
        self.assertIn(",vtime-latency-ns=20000", nics[1])
        dev = json.loads(chassis.switch_device(ch, "/bp", topo))
        self.assertEqual(dev["driver"], "blade-switch")
        self.assertEqual(dev["vtime-latency-ns"], 50000)
        self.assertEqual(dev["vtime-slot-latency-ns"], [0, 20000])
        # without one the switch keeps its option string
        self.assertTrue(chassis.switch_device(load(VIRTUAL).chassis[0],
                                              "/bp", load(VIRTUAL))
                        .startswith("blade-switch,"))
        real = VIRTUAL.replace('timing = "virtual"\n', "").replace(
            "latency_ns = 50000\n", "").replace("icount_shift = 1\n",
                                                 "latency_ns = 20000\n")
        self.assertEqual(self.err(real),
                         'topo.toml:9: chassis.c1.blade.b1.latency_ns: for '
                         'timing = "virtual" (docs/virtual-time.md)')
        self.assertIn("must be 1..1000000000",
                      self.err(VIRTUAL.replace("icount_shift = 1\n",
                                               "latency_ns = 0\n")))

    def check_virtual_nic_key(self, key, line, arg, bad_line, bad_error):
        """A blade-nic key of virtual time only: set on b1, it reaches
        b1's NIC and not b0's; in real time it is refused, naming it;
        bad_line gets bad_error."""
        topo = load(VIRTUAL.replace("icount_shift = 1\n", line))
        ch = topo.chassis[0]
        nics = [chassis.nic_args(ch, b, "/bp", virtual=True)
                for b in ch.blades]
        self.assertNotIn(key, nics[0])
        self.assertIn(f",{arg}", nics[1])
        real = (VIRTUAL.replace('timing = "virtual"\n', "")
                .replace("latency_ns = 50000\n", "")
                .replace("icount_shift = 1\n", line))
        self.assertEqual(self.err(real),
                         f'topo.toml:9: chassis.c1.blade.b1.{key}: for '
                         f'timing = "virtual" (docs/virtual-time.md)')
        self.assertIn(bad_error,
                      self.err(VIRTUAL.replace("icount_shift = 1\n",
                                               bad_line)))

    def test_quiet_off(self):
        # an idle blade's quiet promises, off for comparison
        self.check_virtual_nic_key("vtime-quiet", 'vtime-quiet = "off"\n',
                                   "vtime-quiet=off", 'vtime-quiet = "no"\n',
                                   "must be one of on, off, got 'no'")

    def test_promise_period(self):
        # how often a computing blade promises its clock
        self.check_virtual_nic_key("vtime-promise-ns",
                                   "vtime-promise-ns = 50000\n",
                                   "vtime-promise-ns=50000",
                                   "vtime-promise-ns = 0\n",
                                   "must be 1..4294967295")

    def test_snapshot_time(self):
        snap = "[chassis.switch]\nvtime-snapshot-ns = 5000000000\n"
        topo = load(VIRTUAL.replace("[[chassis.blade]]\nslot = 0",
                                    snap + "[[chassis.blade]]\nslot = 0"))
        self.assertIn("vtime-snapshot-ns=5000000000",
                      chassis.switch_device(topo.chassis[0], "/bp", topo))
        real = (VIRTUAL.replace('timing = "virtual"\n', "")
                .replace("latency_ns = 50000\n", "")
                .replace("icount_shift = 1\n", "")
                .replace("[[chassis.blade]]\nslot = 0",
                         snap + "[[chassis.blade]]\nslot = 0"))
        self.assertEqual(self.err(real),
                         'topo.toml:6: chassis.c1.switch.vtime-snapshot-ns: '
                         'for timing = "virtual" (docs/virtual-time.md)')

    def test_tx_fifo(self):
        # the lanes' transmit FIFOs: the switch's for every paced lane, a
        # blade's NIC's (or every blade's from [defaults]); real time only
        topo = load(BASE.replace('name = "t"\n',
                                 'name = "t"\n[defaults]\ntx-fifo = 65536\n')
                    .replace("util-stale = 500\n",
                             "util-stale = 500\ntx-fifo = 0\n")
                    .replace('name = "web1"\n',
                             'name = "web1"\ntx-fifo = 131072\n'))
        ch = topo.chassis[0]
        self.assertIn(",tx-fifo=0", chassis.switch_device(ch, "/bp", topo))
        nics = [chassis.nic_args(ch, b, "/bp") for b in ch.blades]
        self.assertIn(",tx-fifo=65536", nics[0])
        self.assertIn(",tx-fifo=131072", nics[1])
        self.assertNotIn("tx-fifo", chassis.nic_args(
            load(BASE).chassis[0], load(BASE).chassis[0].blades[0], "/bp"))
        self.assertIn("must be 0..1048576",
                      self.err(BASE.replace("util-stale = 500\n",
                                            "tx-fifo = 1048577\n")))
        why = ('for timing = "real": in virtual time a lane runs 20 us '
               'ahead of its line, since a record takes effect at its send '
               'time')
        self.assertEqual(
            self.err(VIRTUAL.replace("[[chassis.blade]]\nslot = 0",
                                     "[chassis.switch]\ntx-fifo = 0\n"
                                     "[[chassis.blade]]\nslot = 0")),
            f"topo.toml:8: chassis.c1.switch.tx-fifo: {why}")
        self.assertEqual(
            self.err(VIRTUAL.replace("icount_shift = 1\n",
                                     "tx-fifo = 4096\n")),
            f"topo.toml:11: chassis.c1.blade.b1.tx-fifo: {why}")

    def test_switch_iothreads(self):
        # a count in the file; the launcher makes and names the threads
        topo = load(BASE.replace("util-stale = 500\n",
                                 "util-stale = 500\niothreads = 2\n"))
        ch = topo.chassis[0]
        dev = json.loads(chassis.switch_device(ch, "/bp", topo))
        self.assertEqual(dev["iothreads"], ["switch-io0", "switch-io1"])
        argv = chassis.chassis_argv("qemu", ch, {"backplane": "/bp",
                                                 "qmp": "/q"}, topo, "/r")
        self.assertEqual([argv[i + 1] for i, a in enumerate(argv)
                          if a == "-object"],
                         ["iothread,id=switch-io0", "iothread,id=switch-io1"])
        self.assertIn("5 threads for 4 slots",
                      self.err(BASE.replace("util-stale = 500\n",
                                            "iothreads = 5\n")))
        self.assertEqual(
            self.err(VIRTUAL.replace("[[chassis.blade]]\nslot = 0",
                                     "[chassis.switch]\niothreads = 1\n"
                                     "[[chassis.blade]]\nslot = 0")),
            'topo.toml:8: chassis.c1.switch.iothreads: for timing = "real": '
            "in virtual time the chassis's clock steps the lanes")

    def test_chain_links(self):
        # a link is a lane between the two switches, over a socket chardev
        # each (end a listens); its latency is the link's, both ways
        text = (VIRTUAL + '[[chassis]]\nname = "c2"\nslots = 1\n'
                '[[chassis.blade]]\nslot = 0\n'
                '[[link]]\na = "c1"\nb = "c2"\nlatency_ns = 100000\n')
        topo = load(text)
        c1, c2 = topo.chassis
        dev = json.loads(chassis.switch_device(c1, "/bp", topo))
        self.assertEqual(dev["chain-chardev0"], "chain0")
        self.assertEqual(dev["vtime-chain-latency-ns"], [100000])
        self.assertNotIn("chain", dev)
        argv = chassis.chassis_argv("qemu", c2, {"backplane": "/bp",
                                                 "qmp": "/q"}, topo, "/r")
        self.assertNotIn("-netdev", argv)
        self.assertIn("socket,id=chain0,path=/r/link0.sock,reconnect-ms=200",
                      argv)
        argv = chassis.chassis_argv("qemu", c1, {"backplane": "/bp",
                                                 "qmp": "/q"}, topo, "/r")
        self.assertIn("socket,id=chain0,path=/r/link0.sock,server=on,"
                      "wait=off", argv)
        # to another host: TCP, without Nagle (promises are small writes)
        peer = load(VIRTUAL.replace('name = "c1"\n', 'name = "c1"\nid = 1\n')
                    .replace("slot = 0\n", 'slot = 0\nip = "10.0.2.10"\n')
                    .replace("slot = 1\n", 'slot = 1\nip = "10.0.2.11"\n')
                    + '[[link]]\na = "c1"\npeer = "tcp:192.0.2.10:7000"\n'
                    'listen = true\n')
        argv = chassis.chassis_argv("qemu", peer.chassis[0],
                                    {"backplane": "/bp", "qmp": "/q"}, peer,
                                    "/r")
        self.assertIn("socket,id=chain0,host=192.0.2.10,port=7000,"
                      "nodelay=on,server=on,wait=off", argv)
        # no latency of its own: each end's chassis's (the switch's)
        topo = load(text.replace("latency_ns = 100000\n", ""))
        dev = json.loads(chassis.switch_device(topo.chassis[1], "/bp", topo))
        self.assertNotIn("vtime-chain-latency-ns", dev)
        # in real time a link has no latency of its own
        real = (text.replace('timing = "virtual"\n', "")
                .replace("latency_ns = 50000\n", "")
                .replace("icount_shift = 1\n", ""))
        self.assertEqual(self.err(real), 'topo.toml:17: link[0].latency_ns: '
                         'for timing = "virtual" (docs/virtual-time.md)')

    def test_real_time_parts_refused(self):
        self.assertEqual(
            self.err(VIRTUAL.replace("latency_ns = 50000\n",
                                     "[chassis.uplink]\n")),
            "topo.toml:6: chassis.c1.uplink: the uplink is real-time "
            "networking (user networking, host forwards or a host netdev): "
            "a chassis in virtual time has none")
        self.assertIn("the host's CPU time differs on every run",
                      self.err(VIRTUAL.replace("icount_shift = 1",
                                               'util-source = "host"')))


class ErrorTest(unittest.TestCase):
    """Each message is checked whole: file, line, key and what is wrong."""

    def err(self, text, path="topo.toml"):
        with self.assertRaises(TopologyError) as cm:
            load(text, path)
        return str(cm.exception)

    def change(self, old, new):
        self.assertIn(old, BASE)
        return self.err(BASE.replace(old, new, 1))

    def test_out_of_range(self):
        self.assertEqual(self.change("slots = 4", "slots = 99"),
                         "topo.toml:4: chassis.c1.slots: must be 0..64, got 99")

    def test_mac_limit_within_the_table(self):
        # the switch refuses a per-slot limit above its table (at realize,
        # where a user would see QEMU's message, not the file's line)
        self.assertEqual(
            self.change("util-stale = 500", "mac-table-size = 32"),
            "topo.toml:8: chassis.c1.switch.mac-table-size: 32 is below "
            "mac-limit (64 by default): set mac-limit to at most 32, or 0 "
            "(none)")
        self.assertEqual(
            self.change("util-stale = 500",
                        "mac-table-size = 32\nmac-limit = 33"),
            "topo.toml:9: chassis.c1.switch.mac-limit: 33 is above "
            "mac-table-size (32): at most 32, or 0 (none)")
        topo = load(BASE.replace("util-stale = 500",
                                 "mac-table-size = 32\nmac-limit = 0"))
        dev = chassis.switch_device(topo.chassis[0], "/bp", topo)
        self.assertIn(",mac-table-size=32,mac-limit=0", dev)

    def test_wrong_types(self):
        self.assertEqual(self.change("slots = 4", 'slots = "4"'),
                         "topo.toml:4: chassis.c1.slots: must be an integer, "
                         "got '4'")
        self.assertEqual(self.change("slots = 4", "slots = true"),
                         "topo.toml:4: chassis.c1.slots: must be an integer, "
                         "got true")
        self.assertEqual(self.change('vip = "10.0.2.100"', "vip = 7"),
                         "topo.toml:16: chassis.c1.service.web.vip: must be a "
                         "string, got 7")
        self.assertEqual(self.err(BASE.replace("[chassis.switch]\nutil-stale = "
                                               "500\n", "").replace(
                                  "slots = 4", "slots = 4\nswitch = 3")),
                         "topo.toml:5: chassis.c1.switch: must be a table, "
                         "got 3")

    def test_unknown_keys(self):
        self.assertEqual(self.change("util-stale", "util-stael"),
                         "topo.toml:8: chassis.c1.switch.util-stael: unknown "
                         "key (did you mean 'util-stale'?)")
        self.assertEqual(self.change('name = "t"', 'name = "t"\nzzz = 1'),
                         "topo.toml:2: zzz: unknown key (known keys: chassis, "
                         "defaults, fabric, format, image, link, name, "
                         "timing)")
        self.assertEqual(self.change('name = "web1"', 'name = "web1"\nmemroy = 1'),
                         "topo.toml:14: chassis.c1.blade.web1.memroy: unknown "
                         "key (did you mean 'memory'?)")

    def test_reserved_keys_say_why(self):
        self.assertEqual(self.change("util-stale = 500", "uplink-speed = 1"),
                         "topo.toml:8: chassis.c1.switch.uplink-speed: set by "
                         "the topology (uplink speed)")
        self.assertEqual(self.change("util-stale = 500", "chain = 1"),
                         "topo.toml:8: chassis.c1.switch.chain: set by the "
                         "topology (the [[link]] tables)")
        self.assertEqual(self.change("util-stale = 500",
                                     "fabric-priority = 1"),
                         "topo.toml:8: chassis.c1.switch.fabric-priority: set "
                         "by the topology (priority in [[chassis]])")

    def test_one_chassis_needs_no_fabric(self):
        self.assertEqual(self.err(BASE + '[[chassis]]\nname = "c2"\n'),
                         "topo.toml:18: chassis.c2: no link joins chassis c2 "
                         "to chassis c1: the chassis of a topology are joined "
                         "by [[link]] tables (chassis on their own belong in "
                         "topologies of their own)")
        self.assertEqual(self.err(BASE + "[fabric]\nloops = \"block\"\n"),
                         "topo.toml:18: fabric: for chassis joined by links: "
                         "this topology has one chassis and no [[link]]")
        self.assertEqual(self.change("slots = 4", "slots = 4\npriority = 1"),
                         "topo.toml:5: chassis.c1.priority: for chassis joined "
                         "by links: this topology has one chassis and no "
                         "[[link]]")
        self.assertEqual(self.change("port = 80", "port = 80\nremote = true"),
                         "topo.toml:18: chassis.c1.service.web.remote: for "
                         "chassis joined by links: this topology has one "
                         "chassis and no [[link]]")
        self.assertEqual(self.err('name = "t"\n'),
                         "topo.toml: chassis: no [[chassis]] table: a "
                         "topology needs one chassis")

    def test_syntax_error_keeps_tomllib_position(self):
        self.assertEqual(self.change("slots = 4", "slots = = 4"),
                         "topo.toml:4: TOML syntax: invalid value (column 9)")

    def test_format(self):
        self.assertEqual(self.err("format = 2\n" + BASE),
                         "topo.toml:1: format: this file is format 2; this "
                         "bladeplane reads format 1")

    def test_names(self):
        self.assertEqual(self.change('name = "t"', 'name = "T t"'),
                         "topo.toml:1: name: must be 1 to 32 of a-z, 0-9, '_' "
                         "and '-', starting with a letter, got 'T t'")
        self.assertEqual(self.err(BASE.replace('name = "t"\n', ''), "9lives.toml"),
                         "9lives.toml: name: missing, and the file name "
                         "'9lives' is not a valid name (1 to 32 of a-z, 0-9, "
                         "'_' and '-', starting with a letter): set name")
        self.assertEqual(self.change('name = "web1"', 'name = "uplink"'),
                         "topo.toml:13: chassis.c1.blade[1].name: 'uplink' is "
                         "a switch port name; choose another")

    def test_blades(self):
        self.assertEqual(self.change("slot = 1", "slot = 4"),
                         "topo.toml:12: chassis.c1.blade[1].slot: must be "
                         "0..3, got 4")
        self.assertEqual(self.change("slot = 1\n", ""),
                         "topo.toml:11: chassis.c1.blade[1]: missing key 'slot'")
        self.assertEqual(self.change("slot = 1", "slot = 0"),
                         "topo.toml:12: chassis.c1.blade.web1.slot: slot 0 is "
                         "already blade b0's")
        self.assertEqual(self.change('name = "web1"', 'name = "b0"'),
                         "topo.toml:13: chassis.c1.blade.b0.name: name b0 is "
                         "already taken by the blade in slot 0")
        self.assertEqual(self.change('name = "web1"', 'ip = "10.0.2.10"'),
                         "topo.toml:13: chassis.c1.blade.b1.ip: address "
                         "10.0.2.10 is already blade b0's")
        self.assertEqual(self.change('name = "web1"', 'ip = "10.0.3.1"'),
                         "topo.toml:13: chassis.c1.blade.b1.ip: 10.0.3.1/24 is "
                         "not in the chassis subnet 10.0.2.0/24")
        self.assertEqual(self.change('name = "web1"', 'ip = "10.0.2.3"'),
                         "topo.toml:13: chassis.c1.blade.b1.ip: 10.0.2.3 is "
                         "user networking's DNS server")
        self.assertEqual(self.change('name = "web1"', 'ip = "banana"'),
                         "topo.toml:13: chassis.c1.blade.b1.ip: must be an "
                         "IPv4 address (ADDR or ADDR/PREFIX), got 'banana'")
        self.assertEqual(self.change('name = "web1"', 'mac = "01:00:00:00:00:01"'),
                         "topo.toml:13: chassis.c1.blade.b1.mac: must be a "
                         "unicast MAC (first octet even), got 01:00:00:00:00:01")
        self.assertEqual(self.change('name = "web1"', 'memory = 32'),
                         "topo.toml:13: chassis.c1.blade.b1.memory: must be "
                         "64..65536, got 32")
        self.assertEqual(self.change('name = "web1"', 'util-form = "fancy"'),
                         "topo.toml:13: chassis.c1.blade.b1.util-form: must be "
                         "one of idle, expanded, got 'fancy'")

    def test_default_address_that_does_not_fit(self):
        self.assertEqual(self.change("slots = 4", 'slots = 8\nsubnet = '
                                     '"10.0.2.0/28"'),
                         "topo.toml:7: chassis.c1.uplink.forward[0]: tcp:"
                         "127.0.0.1:8080-10.0.2.100:80: 10.0.2.100 is not in "
                         "the chassis subnet 10.0.2.0/28")
        text = ('[[chassis]]\nslots = 8\nsubnet = "10.0.2.0/28"\n'
                '[[chassis.blade]]\nslot = 5\n')
        self.assertEqual(self.err(text),
                         "topo.toml:4: chassis.c1.blade.b5: the default address "
                         "(.15 of 10.0.2.0/28) does not fit the subnet: set ip")

    def test_append(self):
        self.assertEqual(self.change('name = "web1"', 'append = "blade.ip=1.2.3.4"'),
                         "topo.toml:13: chassis.c1.blade.b1.append: blade.ip is "
                         "set by the topology (from ip); do not put it in append")
        self.assertEqual(self.change('name = "web1"', 'append = "a\\"b"'),
                         "topo.toml:13: chassis.c1.blade.b1.append: must be "
                         "printable ASCII without quotes (kernel command line "
                         "words)")

    def test_image(self):
        self.assertEqual(self.err(BASE + '[image]\nkernel = "no-such-vmlinuz"\n',
                                  "/tmp/topo.toml"),
                         "/tmp/topo.toml:19: image.kernel: no such file: "
                         "/tmp/no-such-vmlinuz")
        with tempfile.NamedTemporaryFile(dir="/tmp") as k:
            self.assertEqual(
                self.err(BASE + f'[image]\nkernel = "{k.name}"\n'),
                "topo.toml:18: image.initrd: missing: give both kernel and "
                "initrd, or neither (the image `bladeplane image` builds)")
            self.assertEqual(
                self.err(BASE + f'[image]\nkernel = "{k.name}"\ninitrd = '
                         f'"{k.name}"\nappend = "blade.vip=1.1.1.1"\n'),
                "topo.toml:21: image.append: blade.vip is set by the topology "
                "(from the services' vip); do not put it in append")

    def test_uplink(self):
        self.assertEqual(
            self.change("tcp:127.0.0.1:8080", "tcpx:127.0.0.1:8080"),
            "topo.toml:6: chassis.c1.uplink.forward[0]: must be PROTO:"
            "[HOSTADDR]:HOSTPORT-GUESTADDR:GUESTPORT like 'tcp:127.0.0.1:8080-"
            "10.0.2.100:80', got 'tcpx:127.0.0.1:8080-10.0.2.100:80'")
        self.assertEqual(
            self.change('forward = ["tcp:127.0.0.1:8080-10.0.2.100:80"]',
                        'forward = [\n "tcp::8080-10.0.2.100:80",\n'
                        ' "tcp::8080-10.0.2.100:80"]'),
            "topo.toml:8: chassis.c1.uplink.forward[1]: host port tcp::8080 is "
            "already forwarded by forward[0]")
        self.assertEqual(
            self.change("10.0.2.100:80\"]", "10.0.2.99:80\"]"),
            "topo.toml:6: chassis.c1.uplink.forward[0]: tcp:127.0.0.1:8080-"
            "10.0.2.99:80: 10.0.2.99 is neither a service VIP (10.0.2.100) nor "
            "a blade address")
        self.assertEqual(
            self.change("127.0.0.1:8080", "127.0.0.1:80800"),
            "topo.toml:6: chassis.c1.uplink.forward[0]: tcp:127.0.0.1:80800-"
            "10.0.2.100:80: port 80800 is not 1..65535")
        self.assertEqual(
            self.change('forward', 'netdev = "tap,id=x"\nforward'),
            "topo.toml:7: chassis.c1.uplink.forward: forward is for user "
            "networking; with netdev, set hostfwd in the netdev options "
            "yourself")
        self.assertEqual(
            self.change('forward = ["tcp:127.0.0.1:8080-10.0.2.100:80"]',
                        'netdev = "tap,id=x"'),
            "topo.toml:6: chassis.c1.uplink.netdev: must not set id: the "
            "launcher names the uplink netdev")
        self.assertEqual(
            self.change('forward = ["tcp:127.0.0.1:8080-10.0.2.100:80"]',
                        'netdev = "carrier-pigeon,x=1"'),
            "topo.toml:6: chassis.c1.uplink.netdev: unknown netdev type "
            "'carrier-pigeon' (one of user, tap, socket, stream, dgram, vde, "
            "l2tpv3, bridge, vhost-user, af-xdp)")
        self.assertEqual(
            self.change('forward = ["tcp:127.0.0.1:8080-10.0.2.100:80"]',
                        'netdev = "tap, ifname=x"'),
            "topo.toml:6: chassis.c1.uplink.netdev: must be a -netdev option "
            "string without spaces, like 'tap,ifname=bp0,script=no,"
            "downscript=no'")

    def test_switch(self):
        self.assertEqual(self.change("util-stale = 500", 'pcs = "10b12b"'),
                         "topo.toml:8: chassis.c1.switch.pcs: must be one of "
                         "8b10b, raw, got '10b12b'")
        self.assertEqual(self.change("util-stale = 500", 'slot-speed = -1'),
                         "topo.toml:8: chassis.c1.switch.slot-speed: must be "
                         "0..100000, got -1")
        self.assertEqual(self.change("util-stale = 500", 'mac = "52:54:00"'),
                         "topo.toml:8: chassis.c1.switch.mac: must be a MAC "
                         "address like 52:54:00:12:34:56, got '52:54:00'")

    def test_gateway(self):
        self.assertEqual(self.change("slots = 4", 'slots = 4\ngateway = "10.0.2.10"'),
                         "topo.toml:5: chassis.c1.gateway: 10.0.2.10 is blade "
                         "b0's address")
        self.assertEqual(self.change("slots = 4", 'slots = 4\ngateway = "10.9.2.1"'),
                         "topo.toml:5: chassis.c1.gateway: 10.9.2.1 is not a "
                         "host address of the chassis subnet 10.0.2.0/24")

    def test_services(self):
        self.assertEqual(self.change('name = "web"\n', ''),
                         "topo.toml:14: chassis.c1.service[0]: missing key "
                         "'name' (every service is named)")
        self.assertEqual(self.change('vip = "10.0.2.100"\n', ''),
                         "topo.toml:14: chassis.c1.service.web: missing key "
                         "'vip'")
        self.assertEqual(self.change('vip = "10.0.2.100"', 'vip = "10.0.2.2"'),
                         "topo.toml:16: chassis.c1.service.web.vip: 10.0.2.2 "
                         "is the gateway")
        self.assertEqual(self.change("port = 80", "port = 80\nprotocol = \"sctp\""),
                         "topo.toml:18: chassis.c1.service.web.protocol: must "
                         "be one of tcp, udp, got 'sctp'")
        self.assertEqual(self.change("port = 80", 'blades = ["b0",\n  "b9"]'),
                         "topo.toml:18: chassis.c1.service.web.blades[1]: no "
                         "blade named 'b9' (blades: b0, web1)")
        self.assertEqual(self.change("port = 80", 'blades = [0, "b0"]'),
                         "topo.toml:17: chassis.c1.service.web.blades[1]: "
                         "blade b0 is listed twice")
        self.assertEqual(self.change("port = 80", 'blades = []'),
                         "topo.toml:17: chassis.c1.service.web.blades: must "
                         "name at least one blade")
        self.assertEqual(self.change("port = 80", 'blades = [7]'),
                         "topo.toml:17: chassis.c1.service.web.blades[0]: no "
                         "blade in slot 7")
        self.assertEqual(self.change("port = 80", 'policy = "fastest"'),
                         "topo.toml:17: chassis.c1.service.web.policy: must be "
                         "one of util, random, rr, leastconn, p2c-conn, "
                         "wrr-cpu, prequal, got 'fastest'")
        self.assertEqual(self.err(BASE + '[[chassis.service]]\nname = "web"\n'),
                         "topo.toml:19: chassis.c1.service.web.name: 'web' is "
                         "already the name of a service")
        self.assertEqual(self.err(BASE + '[[chassis.service]]\nname = "w2"\n'
                                  'vip = "10.0.2.100"\nport = 80\n'),
                         "topo.toml:21: chassis.c1.service.w2.port: tcp port 80 "
                         "of 10.0.2.100 is already service web")

    def test_steering(self):
        rule = '[[chassis.steering]]\nname = "s"\n'
        self.assertEqual(self.err(BASE + rule),
                         "topo.toml:18: chassis.c1.steering.s: missing key "
                         "'port-min'")
        self.assertEqual(self.err(BASE + rule + "port-min = 9\nport-max = 8\n"),
                         "topo.toml:21: chassis.c1.steering.s.port-max: must "
                         "be >= port-min (9), got 8")
        self.assertEqual(self.err(BASE + '[[chassis.steering]]\nname = "web"\n'),
                         "topo.toml:19: chassis.c1.steering.web.name: 'web' is "
                         "already the name of a service")

    def test_impairments(self):
        imp = "[[chassis.impairment]]\n"
        self.assertEqual(self.err(BASE + imp + 'link-down = true\n'),
                         "topo.toml:18: chassis.c1.impairment[0]: missing key "
                         "'blade' (the lane is the blade's)")
        self.assertEqual(self.err(BASE + imp + 'blade = "b7"\n'),
                         "topo.toml:19: chassis.c1.impairment[0].blade: no "
                         "blade 'b7' (blades: b0, web1)")
        self.assertEqual(self.err(BASE + imp + 'blade = "b0"\n'),
                         "topo.toml:18: chassis.c1.impairment[0]: no effect: "
                         "set link-down, sync-loss, code-errors or ber")
        self.assertEqual(self.err(BASE + imp + 'blade = 0\nber = 0.5\n'),
                         "topo.toml:20: chassis.c1.impairment[0].ber: must be "
                         "0..0.001, got 0.5")
        self.assertEqual(self.err(BASE + imp + 'blade = 0\nlink-down = 1\n'),
                         "topo.toml:20: chassis.c1.impairment[0].link-down: "
                         "must be true or false, got 1")
        self.assertEqual(
            self.err(BASE.replace("util-stale = 500", 'pcs = "raw"') + imp +
                     'blade = 0\ncode-errors = 10\n'),
            "topo.toml:20: chassis.c1.impairment[0].code-errors: code-group "
            "errors need pcs = \"8b10b\" (the switch runs pcs = \"raw\")")

    def test_file_problems(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertRaisesRegex(TopologyError, r"^/nonexistent\.toml: no such "
                                   r"file$", topology.load, "/nonexistent.toml")
            self.assertRaisesRegex(TopologyError, r": is a directory",
                                   topology.load, d)
            bad = os.path.join(d, "bad.toml")
            with open(bad, "wb") as f:
                f.write(b'name = "x"\n\xff\n')
            self.assertRaisesRegex(TopologyError, r"bad\.toml:2: not UTF-8 text$",
                                   topology.load, bad)


if __name__ == "__main__":
    unittest.main()
