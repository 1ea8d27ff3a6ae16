"""The launcher checks a topology file's device settings before any QEMU
runs, so that a wrong value gets a file:line:key error; the devices check
them again at realize.  The ranges and defaults topology.py holds must be
the devices' own: every value it takes, QEMU takes, and a value just past
one of its bounds QEMU refuses too (unless the launcher is deliberately
narrower, said below).  The enum values are read from the schema QEMU is
built from, and must be what query-qmp-schema and the properties say."""

import json
import os
import subprocess
import threading
import unittest

from bptest import qemu
from bladeplane_cli import schema, topology

# blade-switch's vtime-* settings exist in virtual time only, where the
# chassis's clock is qtest's.
VIRTUAL = (("timing=virtual",), ("-accel", "qtest"))
# its bus-* settings, on a chassis whose backplane is a bus
BUS = (("backplane-kind=tdm-bus",), ())
NONE = ((), ())
# topology key -> (device, property, (extra properties, QEMU arguments))
SWITCH_KEYS = {
    # a topology's slot speed is also every blade's NIC speed, so the
    # launcher takes the NIC's range (the switch's own reaches 400 Gb/s)
    "slot-speed": ("blade-nic", "speed", NONE),
    "mac-aging": ("blade-switch", "mac-aging", NONE),
    # each at the other's widest (the launcher checks limit <= table)
    "mac-table-size": ("blade-switch", "mac-table-size",
                       (("mac-limit=0",), ())),
    "mac-limit": ("blade-switch", "mac-limit",
                  (("mac-table-size=1048576",), ())),
    "flow-idle": ("blade-switch", "flow-idle", NONE),
    "flow-table-size": ("blade-switch", "flow-table-size", NONE),
    "util-stale": ("blade-switch", "util-stale", NONE),
    "queue-frames": ("blade-switch", "queue-frames", NONE),
    "tx-fifo": ("blade-switch", "tx-fifo", NONE),
    "seed": ("blade-switch", "seed", NONE),
    "vtime-snapshot-ns": ("blade-switch", "vtime-snapshot-ns", VIRTUAL),
    # each at the other's widest: a slot lasts 200 ns or more
    # (docs/backplane.md), so 400 Gb/s needs long slots, 64 octets a slow bus
    "bus-speed": ("blade-switch", "bus-speed",
                  (("backplane-kind=tdm-bus", "bus-slot-bytes=16384"), ())),
    "bus-switch-weight": ("blade-switch", "bus-switch-weight", BUS),
    "bus-slot-bytes": ("blade-switch", "bus-slot-bytes",
                       (("backplane-kind=tdm-bus", "bus-speed=2560"), ())),
    "bus-frame-slots": ("blade-switch", "bus-frame-slots", BUS),
}
NIC_KEYS = {
    "util-interval": ("blade-nic", "util-interval", NONE),
    "vtime-promise-ns": ("blade-nic", "vtime-promise-ns", NONE),
    "tx-fifo": ("blade-nic", "tx-fifo", NONE),
}
# Bounds where the launcher is narrower than the device, on purpose:
# (key, value QEMU takes but a topology may not) -> why.
NARROWER = {
    ("vtime-promise-ns", 0): "0 is the device's 'the lane latency', which "
                             "a topology gets by leaving the key out",
    ("vtime-snapshot-ns", 0): "0 is the device's 'no snapshot': leave the "
                              "key out",
    ("bus-frame-slots", 0): "0 is the device's 'just long enough': leave "
                            "the key out",
}


def qemu_run(args, commands=()):
    """QEMU with -M none (or q35 for a PCI device) stopped before it runs,
    the QMP commands in @commands, then quit: (exit status, stderr,
    the QMP returns in order).  quit goes only once every answer before
    it has been read: QEMU may exit before it has written the rest of a
    long one still queued (the schema's, 128 KiB and more, came cut)."""
    lines = [{"execute": "qmp_capabilities"}]
    lines += [{"execute": c, "arguments": a} for c, a in commands]
    proc = subprocess.Popen(
        [qemu.QEMU_BIN, "-nodefaults", "-display", "none", "-S",
         "-qmp", "stdio"] + args, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        try:
            proc.stdin.write("".join(json.dumps(x) + "\n" for x in lines))
            proc.stdin.flush()
        except BrokenPipeError:
            pass                # QEMU exited already: a device it refused
        answers = []
        while len(answers) < len(lines):
            line = proc.stdout.readline()
            if not line:
                break           # QEMU exited: a device it refused
            if line.startswith(('{"return"', '{"error"')):
                answers.append(line)
        out, err = proc.communicate(json.dumps({"execute": "quit"}) + "\n")
    finally:
        watchdog.cancel()
    returns = [json.loads(line)["return"]
               for line in answers + out.splitlines()
               if line.startswith('{"return"')]
    return proc.returncode, err, returns


def takes(device, prop, value, extra=NONE):
    """Does @device realize with prop=value?"""
    machine = "q35" if device == "blade-nic" else "none"
    opts = ",".join((device, f"{prop}={value}") + extra[0])
    if device == "blade-switch":
        opts += ",slots=0"
    rc, err, _ = qemu_run(["-M", machine, "-device", opts] + list(extra[1]))
    if rc not in (0, 1):
        raise AssertionError(f"-device {opts}: exit {rc}: {err}")
    return rc == 0


@unittest.skipUnless(os.path.exists(qemu.QEMU_BIN), "QEMU is not built")
class DevicePropsTest(unittest.TestCase):

    def check_range(self, key, spec, where):
        device, prop, extra = where
        kind, low, high = spec
        self.assertEqual(kind, "int", key)
        for value, want in ((low, True), (high, True),
                            (low - 1, False), (high + 1, False)):
            if value < 0:
                continue
            with self.subTest(key=key, value=value):
                got = takes(device, prop, value, extra)
                if got and not want and (key, value) in NARROWER:
                    continue
                self.assertEqual(got, want,
                                 f"topology.py takes {key} from {low} to "
                                 f"{high}; {device} {prop}={value} is "
                                 f"{'taken' if got else 'refused'}")

    def test_switch_ranges_are_the_devices(self):
        for key, where in SWITCH_KEYS.items():
            self.check_range(key, topology.SWITCH_PROPS[key], where)

    def test_nic_ranges_are_the_devices(self):
        for key, where in NIC_KEYS.items():
            self.check_range(key, topology.NIC_PROPS[key], where)

    def test_every_numeric_key_is_checked(self):
        numeric = {k for props in (topology.SWITCH_PROPS, topology.NIC_PROPS)
                   for k, v in props.items()
                   if isinstance(v, tuple) and v[:1] == ("int",)}
        # iothreads is a count of objects the launcher creates, not a
        # property value
        self.assertEqual(numeric - {"iothreads"},
                         set(SWITCH_KEYS) | set(NIC_KEYS))

    def test_defaults_and_enums_are_qemus(self):
        rc, err, (_, switch, nic, qmp_schema, _quit) = qemu_run(
            ["-M", "none"],
            [("device-list-properties", {"typename": "blade-switch"}),
             ("device-list-properties", {"typename": "blade-nic"}),
             ("query-qmp-schema", {})])
        self.assertEqual(rc, 0, err)
        switch = {p["name"]: p for p in switch}
        nic = {p["name"]: p for p in nic}
        for key, value in {**topology.SWITCH_DEFAULTS,
                           **topology.SWITCH_CHECKED_DEFAULTS}.items():
            self.assertEqual(switch[key].get("default-value"), value, key)
        self.assertEqual(nic["speed"].get("default-value"),
                         topology.SWITCH_DEFAULTS["slot-speed"])
        # enums: the schema file the launcher reads is what QEMU runs
        enums = {e["name"]: tuple(m["name"] for m in e["members"])
                 for e in qmp_schema if e.get("meta-type") == "enum"}
        types = {**{k: switch[k]["type"] for k in topology.SWITCH_PROPS
                    if k in switch},
                 **{k: nic[k]["type"] for k in topology.NIC_PROPS if k in nic}}
        for key, choices in {**topology.SWITCH_PROPS,
                             **topology.NIC_PROPS}.items():
            if not isinstance(choices, tuple) or choices[:1] == ("int",):
                continue
            if key == "vtime-quiet":        # a bool property
                self.assertEqual(types[key], "bool")
                continue
            self.assertIn(types[key], schema._enums(), key)
            self.assertEqual(choices, schema.enum(types[key]), key)
        # query-qmp-schema names types by number; the policies are the
        # members of blade-switch-set-policy's 'policy'
        want = schema.enum("BladePolicy")
        self.assertIn(want, enums.values())


if __name__ == "__main__":
    unittest.main()
