"""The TDM bus backplane in the launcher: `backplane = "tdm-bus"` and the
bus-* keys of a topology (checked before anything starts, as the switch
checks them), the switch's -device, and the bus in status, top and the
web view's snapshot."""

import textwrap
import unittest

import cli_path  # noqa: F401
from bladeplane_cli import chassis, topology, views, web
from bladeplane_cli.topology import TopologyError

BUS = """\
name = "t"
[[chassis]]
name = "c1"
slots = 2
backplane = "tdm-bus"
[chassis.switch]
"""


def load(text: str) -> topology.Topology:
    return topology.loads(textwrap.dedent(text), "t.toml")


class TopologyTest(unittest.TestCase):

    def err(self, text: str) -> str:
        with self.assertRaises(TopologyError) as cm:
            load(text)
        return str(cm.exception)

    def test_lanes_by_default(self):
        ch = load('name = "t"\n[[chassis]]\n').chassis[0]
        self.assertEqual(ch.backplane, "lanes")
        self.assertEqual(ch.switch["slot-speed"], 1000)
        self.assertNotIn("backplane-kind",
                         chassis.switch_device(ch, "/bp"))

    def test_bus_chassis(self):
        t = load(BUS + 'bus-schedule = "weighted"\nbus-weights = [3, 1]\n'
                 'bus-switch-weight = 2\nbus-slot-bytes = 256\n')
        ch = t.chassis[0]
        self.assertEqual(ch.backplane, "tdm-bus")
        # the NICs are the transceivers: their lanes at the bus's rate
        self.assertEqual(ch.switch["slot-speed"], 10000)
        dev = chassis.switch_device(ch, "/bp", t)
        self.assertTrue(dev.startswith('{"driver": "blade-switch"'), dev)
        for part in ('"backplane-kind": "tdm-bus"', '"bus-weights": [3, 1]',
                     '"bus-schedule": "weighted"',
                     '"bus-switch-weight": 2', '"slot-speed": 10000'):
            self.assertIn(part, dev)
        # and it goes to the run directory's record and back
        back = topology.from_dict(t.to_dict()).chassis[0]
        self.assertEqual(back.backplane, "tdm-bus")

    def test_slot_speed_from_the_bus(self):
        self.assertEqual(load(BUS + "bus-speed = 2500\n").chassis[0]
                         .switch["slot-speed"], 2500)
        # past what a NIC paces at: unpaced, the bus sets the pace
        self.assertEqual(load(BUS + "bus-speed = 400000\n"
                              "bus-slot-bytes = 16384\n").chassis[0]
                         .switch["slot-speed"], 0)
        self.assertEqual(load(BUS + "slot-speed = 1000\n").chassis[0]
                         .switch["slot-speed"], 1000)
        self.assertEqual(load(BUS.replace("[chassis.switch]\n", ""))
                         .chassis[0].switch["slot-speed"], 10000)

    def test_impossible_schedules(self):
        cases = {
            'bus-schedule = "weighted"\nbus-weights = [0, 0]\n'
            'bus-switch-weight = 0\n':
                "t.toml:8: chassis.c1.switch.bus-weights: the weights sum "
                "to zero",
            'bus-schedule = "weighted"\nbus-weights = [3, 3]\n'
            'bus-frame-slots = 5\n':
                "t.toml:9: chassis.c1.switch.bus-frame-slots: 7 slots asked "
                "for (the weights' sum), more than the frame holds (5)",
            'bus-frame-slots = 2\n':
                "t.toml:7: chassis.c1.switch.bus-frame-slots: 3 slots asked "
                "for (one for each transceiver), more than the frame "
                "holds (2)",
            'bus-weights = [1, 2]\n':
                't.toml:7: chassis.c1.switch.bus-weights: for bus-schedule '
                '= "weighted" or "on-demand"',
            'bus-schedule = "on-demand"\nbus-weights = [1, 0]\n':
                "t.toml:8: chassis.c1.switch.bus-weights[1]: on demand a "
                "weight is a share, 1 and up: slot 1's weight is 0",
            'bus-schedule = "on-demand"\nbus-switch-weight = 0\n':
                "chassis.c1.switch.bus-switch-weight: on demand a weight is "
                "a share, 1 and up: the switch's weight is 0",
            'bus-schedule = "weighted"\nbus-weights = [1, 1, 1]\n':
                "chassis.c1.switch.bus-weights: 3 weights for 2 slots",
            'bus-schedule = "weighted"\nbus-weights = [1, 5000]\n':
                "chassis.c1.switch.bus-weights[1]: must be integers "
                "0..4096, got 5000",
            'bus-schedule = "weighted"\nbus-weights = [1, 0]\n':
                "t.toml:8: chassis.c1.switch.bus-weights[1]: weighted, every "
                "transceiver needs a slot (1 and up): slot 1's weight is 0",
            'bus-schedule = "weighted"\nbus-switch-weight = 0\n':
                "chassis.c1.switch.bus-switch-weight: weighted, every "
                "transceiver needs a slot (1 and up): the switch's weight "
                "is 0",
            'bus-slot-bytes = 64\n':
                "t.toml:7: chassis.c1.switch.bus-slot-bytes: slots of 64 "
                "octets at 10000 Mb/s last under 200 ns, the shortest the "
                "bus controller runs: at that rate, slots of at least 250 "
                "octets",
            'bus-speed = 400000\n':
                "chassis.c1.switch.bus-speed: slots of 512 octets at 400000 "
                "Mb/s last under 200 ns",
            'bus-slot-bytes = 0\n':
                "chassis.c1.switch.bus-slot-bytes: must be 64..16384, got 0",
            'bus-speed = 0\n':
                "chassis.c1.switch.bus-speed: must be 1..400000, got 0",
            'bus-schedule = "round-robin"\n':
                "chassis.c1.switch.bus-schedule: must be one of equal, "
                "weighted, on-demand",
            'bus-wieghts = [1]\n':
                "unknown key (did you mean 'bus-weights'?)",
        }
        for text, want in cases.items():
            with self.subTest(text=text):
                self.assertIn(want, self.err(BUS + text))

    def test_bus_keys_need_a_bus(self):
        self.assertIn('t.toml:5: chassis.c1.switch.bus-speed: for a chassis '
                      'with backplane = "tdm-bus"',
                      self.err('name = "t"\n[[chassis]]\nname = "c1"\n'
                               '[chassis.switch]\nbus-speed = 1000\n'))
        self.assertIn("chassis.c1.backplane: must be one of lanes, tdm-bus",
                      self.err('name = "t"\n[[chassis]]\nname = "c1"\n'
                               'backplane = "ring"\n'))

    def test_a_central_switch_has_no_bus(self):
        text = ('name = "t"\n[[chassis]]\nname = "a"\n[chassis.uplink]\n'
                '[[chassis]]\nname = "core"\nrole = "central"\n'
                'backplane = "tdm-bus"\n[[link]]\na = "a"\nb = "core"\n')
        self.assertIn("chassis.core.backplane: a central switch has no "
                      "slots", self.err(text))

    def test_linked_bus_chassis(self):
        t = load('name = "t"\n[[chassis]]\nname = "a"\nbackplane = '
                 '"tdm-bus"\n[chassis.uplink]\n[[chassis]]\nname = "b"\n'
                 'backplane = "tdm-bus"\n[[link]]\na = "a"\nb = "b"\n')
        for ch in t.chassis:
            dev = chassis.switch_device(ch, "/bp", t)
            self.assertIn('"backplane-kind": "tdm-bus"', dev)
            self.assertIn('"chain": ["chain0"]', dev)


def bus_state(now_ms: int, sent: list[int], frames: list[int],
              delay_ns: list[int], busy_ns: int) -> dict:
    """A bus chassis's state tree with two blades (slots 0 and 1) and the
    switch's transceiver."""
    names = ["slot0", "slot1", "switch"]
    xcvrs = []
    for i, name in enumerate(names):
        t = {"name": name, "weight": 1, "frame_slots": 1,
             "grants": 100 * i * now_ms // 1000, "wasted": now_ms // 1000 + 1,
             "bytes": sent[i], "frames": frames[i],
             "share": sent[i] / sum(sent), "queue": i,
             "delay_ns": delay_ns[i], "delay_max_ns": 2500, "dropped": 0}
        if name != "switch":
            t.update(slot=i, util_carried=7)
        xcvrs.append(t)
    blades = [{"slot": i, "new_flows": 0, "in_rotation": True,
               "reason": "in rotation", "cpu": 10, "irq": 1,
               "active_flows": 0, "moved_flows": 0} for i in range(2)]
    ports = [{"name": f"slot{i}", "kind": "slot", "slot": i, "link": True,
              "errors": 0, "pcs": {}} for i in range(2)]
    return {"switch": {"now_ms": now_ms}, "blades": blades, "ports": ports,
            "bus": {"speed_mbps": 10000, "schedule": "equal",
                    "frame_slots": 3, "slot_bytes": 512, "slot_ns": 409.6,
                    "elapsed_ns": now_ms * 1000000, "busy_ns": busy_ns,
                    "utilization": busy_ns / (now_ms * 1000000),
                    "util_in_gaps": 4, "util_in_idle": 9,
                    "transceivers": xcvrs}}


CH = load(BUS + "[[chassis.blade]]\nslot = 0\nname = \"web0\"\n"
          "[[chassis.blade]]\nslot = 1\n").chassis[0]


class ViewsTest(unittest.TestCase):

    def test_interval(self):
        prev = bus_state(1000, [1000, 1000, 0], [1, 1, 0], [10, 10, 0],
                         100000000)
        cur = bus_state(2000, [4000, 2000, 1000], [4, 2, 2],
                        [3010, 1010, 4000], 700000000)
        got = views.bus_interval(prev, cur)
        assert got is not None
        self.assertAlmostEqual(got["utilization"], 0.6)
        x = got["transceivers"]
        self.assertAlmostEqual(x["slot0"]["share"], 0.6)
        self.assertAlmostEqual(x["slot0"]["wait_us"], 1.0)
        self.assertAlmostEqual(x["switch"]["wait_us"], 2.0)
        self.assertEqual((x["slot1"]["grants"], x["slot1"]["wasted"],
                          x["slot1"]["bytes"]), (100, 1, 1000))
        self.assertIsNone(views.bus_interval(None, cur))
        # counters that went back: a restarted switch
        self.assertIsNone(views.bus_interval(cur, prev))
        self.assertIsNone(views.bus_interval({}, {"switch": {}}))

    def test_status(self):
        st = bus_state(2000, [4000, 2000, 1000], [4, 2, 2],
                       [4000, 1000, 4000], 700000000)
        text = "\n".join(views.render_chassis({"state": st}, CH))
        self.assertIn("bus: TDM, 10000 Mb/s, equal, 3 slots of 512 bytes a "
                      "frame (409.6 ns a slot); utilization 35.0% since "
                      "start, sets in gaps 4, in unused slots 9", text)
        lines = text.splitlines()
        head = next(i for i, line in enumerate(lines)
                    if line.split()[:2] == ["xcvr", "blade"])
        self.assertEqual(lines[head + 1].split(),
                         ["slot0", "web0", "1", "1", "0", "3", "4000",
                          "57.1%", "4", "0", "1.0", "2.5", "7", "0"])
        self.assertEqual(lines[head + 3].split()[:2], ["switch", "(switch)"])

    def test_top(self):
        prev = bus_state(1000, [1000, 1000, 0], [1, 1, 0], [10, 10, 0],
                         100000000)
        cur = bus_state(2000, [4000, 2000, 1000], [4, 2, 2],
                        [3010, 1010, 4000], 700000000)
        lines = views.render_top("t/c1", prev, cur, CH).splitlines()
        self.assertIn("bus: 60.0% busy", lines[0])
        header = lines[1].split()
        self.assertEqual(header[11:16],
                         ["grants", "wasted", "octets", "bus", "wait_us"])
        cpu_bar = 1             # "[#.........]" and "10%" are two words
        row = lines[2].split()
        self.assertEqual(row[1], "web0")
        self.assertEqual(row[11 + cpu_bar:16 + cpu_bar],
                         ["0", "1", "3000", "60.0%", "1.0"])
        row = lines[3].split()
        self.assertEqual(row[11 + cpu_bar:16 + cpu_bar],
                         ["100", "1", "1000", "20.0%", "1.0"])
        # a chassis of lanes has no such columns
        plain = {k: v for k, v in cur.items() if k != "bus"}
        self.assertNotIn("wait_us", views.render_top("t/c1", prev, plain,
                                                     CH))

    def test_web_snapshot(self):
        prev = bus_state(1000, [1000, 1000, 0], [1, 1, 0], [10, 10, 0],
                         100000000)
        cur = bus_state(2000, [4000, 2000, 1000], [4, 2, 2],
                        [3010, 1010, 4000], 700000000)
        spec = load(BUS + "[[chassis.blade]]\nslot = 0\nname = \"web0\"\n")
        snap = web.build_snapshot(web.Reading("t", spec, states={"c1": cur}),
                                  {"c1": prev})
        bus = snap["chassis"][0]["bus"]
        self.assertEqual((bus["schedule"], bus["speed_mbps"]),
                         ("equal", 10000))
        self.assertAlmostEqual(bus["utilization"], 0.6)
        self.assertAlmostEqual(bus["utilization_total"], 0.35)
        x = {t["name"]: t for t in bus["transceivers"]}
        self.assertEqual((x["slot0"]["blade"], x["slot1"]["blade"],
                          x["switch"]["blade"]), ("web0", None, None))
        self.assertAlmostEqual(x["slot0"]["share"], 0.6)
        self.assertAlmostEqual(x["switch"]["wait_us"], 2.0)
        # the interval's, as share and wait are
        self.assertEqual((x["switch"]["grants"], x["switch"]["wasted"],
                          x["switch"]["bytes"]), (200, 1, 1000))
        # a first read: no interval; a chassis of lanes: no bus
        first = web.build_snapshot(web.Reading("t", spec,
                                               states={"c1": cur}), {})
        self.assertIsNone(first["chassis"][0]["bus"]["utilization"])
        plain = {k: v for k, v in cur.items() if k != "bus"}
        snap = web.build_snapshot(web.Reading("t", spec,
                                              states={"c1": plain}), {})
        self.assertIsNone(snap["chassis"][0]["bus"])


if __name__ == "__main__":
    unittest.main()
