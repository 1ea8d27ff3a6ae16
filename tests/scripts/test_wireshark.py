"""The Wireshark dissector of the fabric control protocol
(scripts/wireshark/bladeplane-fabric.lua), run by tshark on a capture of
net/fabric.c's own frames and of hostile variants of them, which
tests/tools/fabric-pcap writes (the unit tier builds it in build/host
first).  The tool prints each frame's fields as it wrote them; tshark's
decoding must say the same, flag every hostile frame as malformed, and
never fail in Lua."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from cli_path import REPO
from bladeplane_cli import testing

TOOL = os.path.join(testing.HOST_BUILD, "tests", "tools", "fabric-pcap")
SCRIPT = os.path.join(REPO, "scripts", "wireshark", "bladeplane-fabric.lua")
MALFORMED = 0x07000000      # expert.group.MALFORMED (PI_MALFORMED)

# The expert infos (bpfabric.expert.*) each hostile frame must raise, and
# no others.
EXPECTED_EXPERTS = {
    "empty": {"short"},
    "truncated-magic": {"short"},
    "truncated-length": {"short"},
    "truncated-header": {"short"},
    "truncated-echo": {"truncated", "bad_length"},
    "truncated-chassis": {"truncated", "bad_length"},
    "truncated-blade": {"truncated", "bad_length"},
    "truncated-hmac": {"truncated", "bad_length"},
    "length-long": {"bad_length", "truncated"},
    "length-short": {"bad_length"},
    "length-inside": {"bad_length", "counts"},
    "auth-no-trailer": {"bad_length", "truncated"},
    "type-unknown": {"type"},
    "version-unknown": {"version"},
    "version-1": {"version"},
    "flags-unknown": {"flags"},
    "magic-bad": {"magic"},
    "destination": {"destination"},
    "count-overrun": {"counts"},
    "name-overrun": {"range", "counts"},
    "fields-range": {"range"},
    "oversize": {"oversize"},
}


class Obj(list):
    """A JSON object as its (key, value) pairs: tshark repeats keys."""


def walk(node):
    """Every (key, value) under node, depth first, in document order."""
    if isinstance(node, Obj):
        for key, value in node:
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def values(node, key):
    return [v for k, v in walk(node) if k == key]


def first(node, key):
    for k, v in walk(node):
        if k == key:
            return v
    raise AssertionError(f"{key} not in the decoded frame")


class WiresharkDissectorTest(unittest.TestCase):

    problem = None

    @classmethod
    def setUpClass(cls):
        if not shutil.which("tshark"):
            cls.problem = ("tshark is not installed: scripts/bladeplane "
                           "setup installs it (Debian package tshark)")
            return
        if not os.access(TOOL, os.X_OK):
            cls.problem = (f"{TOOL} is missing: the unit tier builds it "
                           "(scripts/bladeplane test unit), or run "
                           "ninja -C build/host")
            return
        cls.tmp = tempfile.mkdtemp(prefix="bladeplane-wireshark-")
        # A home of its own: no personal plugins or preferences.
        cls.env = dict(os.environ, HOME=os.path.join(cls.tmp, "home"),
                       XDG_CONFIG_HOME=os.path.join(cls.tmp, "config"))
        cls.pcap = os.path.join(cls.tmp, "fabric.pcap")
        out = subprocess.run([TOOL, cls.pcap], check=True,
                             capture_output=True, text=True).stdout
        cls.frames = [json.loads(line) for line in out.splitlines()]
        cls.runs = {
            "json": cls.tshark(["-T", "json"]),
            "verbose": cls.tshark(["-V"]),
            "columns": cls.tshark(["-T", "fields", "-E", "separator=/t",
                                   "-e", "frame.number",
                                   "-e", "_ws.col.Protocol",
                                   "-e", "_ws.col.Info"]),
        }
        packets = json.loads(cls.runs["json"].stdout, object_pairs_hook=Obj)
        cls.decoded = [first(p, "layers") for p in packets]
        cls.text = re.split(r"^Frame \d+:", cls.runs["verbose"].stdout,
                            flags=re.M)[1:]
        cls.columns = [line.split("\t")
                       for line in cls.runs["columns"].stdout.splitlines()]

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "tmp", None):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tshark(cls, args):
        return subprocess.run(
            ["tshark", "-r", cls.pcap, "-X", "lua_script:" + SCRIPT,
             *args], capture_output=True, text=True, env=cls.env,
            timeout=120)

    def setUp(self):
        if self.problem:
            self.fail(self.problem)

    def layer(self, number):
        """The bpfabric layer of frame number (from 1)."""
        layers = self.decoded[number - 1]
        self.assertEqual(first(layers, "frame.number"), str(number))
        bp = values(layers, "bpfabric")
        self.assertEqual(len(bp), 1, f"frame {number}: not dissected")
        return bp[0]

    def experts(self, bp):
        names = [k.split(".")[-1] for k, _ in walk(bp)
                 if k.startswith("bpfabric.expert.")]
        groups = [int(g) for g in values(bp, "_ws.expert.group")]
        return names, groups

    def assert_clean(self, run):
        self.assertEqual(run.returncode, 0, run.stderr)
        for stream in (run.stdout, run.stderr):
            self.assertNotIn("Lua: Error", stream)
            self.assertNotIn("Lua Error", stream)

    def test_tshark_runs_without_lua_errors(self):
        for run in self.runs.values():
            self.assert_clean(run)
        self.assertEqual(len(self.decoded), len(self.frames))
        self.assertEqual(len(self.text), len(self.frames))
        kinds = {f["kind"] for f in self.frames if not f["valid"]}
        self.assertEqual(kinds, set(EXPECTED_EXPERTS))

    def test_speaker_frames_decode_as_written(self):
        valid = [f for f in self.frames if f["valid"]]
        self.assertEqual(sorted({f["kind"] for f in valid}),
                         ["blades", "first", "relay", "relay-round",
                          "round"])
        self.assertEqual({f["key"] for f in valid}, {None, "secret"})
        for f in valid:
            with self.subTest(frame=f["frame"], kind=f["kind"]):
                self.check_frame(f, self.layer(f["frame"]))

    def check_frame(self, f, bp):
        def num(key):
            return int(first(bp, "bpfabric." + key), 0)

        self.assertEqual(self.experts(bp), ([], []))
        for key in ("version", "type", "flags", "ttl", "length", "part",
                    "parts", "chassis_id", "nonce", "seq", "priority",
                    "root_priority", "root_id", "root_cost", "root_seq",
                    "interval", "chassis_count", "blade_count",
                    "root_nonce", "challenge", "echo_count", "name_len"):
            self.assertEqual(num(key), f[key], key)
        self.assertEqual(num("port"), f["sender_port"])
        self.assertEqual(num("flags.auth"), f["flags"] & 1)
        self.assertEqual(num("flags.auth"), 1 if f["key"] else 0)
        self.assertEqual(num("flags.designated"), f["flags"] >> 1 & 1)
        self.assertEqual(num("flags.reserved"), 0)
        self.assertEqual(first(bp, "bpfabric.name"), f["name"])
        self.assertEqual(f["len"], 14 + f["length"] + (32 if f["key"] else 0))

        echoes = [[int(first(e, "bpfabric.echo.chassis_id")),
                   int(first(e, "bpfabric.echo.challenge"), 0)]
                  for e in values(bp, "bpfabric.echo")]
        self.assertEqual(echoes, f["echoes"])
        chassis = [[int(first(c, "bpfabric.chassis.id")),
                    first(c, "bpfabric.chassis.name")]
                   for c in values(bp, "bpfabric.chassis")]
        self.assertEqual(chassis, f["chassis"])
        self.assertEqual([int(v) for v in
                          values(bp, "bpfabric.chassis.name_len")],
                         [len(name) for _, name in f["chassis"]])

        blades = values(bp, "bpfabric.blade")
        self.assertEqual(len(blades), len(f["blades"]))
        for b, want in zip(blades, f["blades"]):
            got = {key: int(first(b, "bpfabric.blade." + key), 0)
                   for key in ("slot", "flags", "cpu", "irq", "hops",
                               "chassis", "age")}
            got["mac"] = first(b, "bpfabric.blade.mac")
            self.assertEqual(got, want)
            self.assertEqual(int(first(b, "bpfabric.blade.in_rotation")),
                             want["flags"] & 1)
            holder = (f["chassis_id"] if want["chassis"] == 0 else
                      f["chassis"][want["chassis"] - 1][0])
            self.assertEqual(int(first(b, "bpfabric.blade.chassis_id")),
                             holder)

        hmac = values(bp, "bpfabric.hmac")
        if f["key"]:
            self.assertEqual([h.replace(":", "") for h in hmac], [f["hmac"]])
        else:
            self.assertEqual(hmac, [])
            self.assertIsNone(f["hmac"])

    def test_worked_example(self):
        """c1's first frame, as docs/fabric-protocol.md tells it."""
        f = self.frames[0]
        self.assertEqual((f["kind"], f["key"]), ("first", None))
        bp = self.layer(1)
        want = {"version": "2", "type": "1", "flags": "0x02", "ttl": "1",
                "length": "79", "part": "0", "parts": "1",
                "chassis_id": "1", "nonce": "0x0000000000001001",
                "seq": "1", "priority": "32768", "port": "0",
                "name_len": "2", "root_priority": "32768", "root_id": "1",
                "root_cost": "0", "root_seq": "1", "interval": "100",
                "chassis_count": "0", "blade_count": "0",
                "root_nonce": "0x0000000000001001",
                "challenge": "0xc0ffee0000010002", "echo_count": "0",
                "name": "c1"}
        for key, value in want.items():
            self.assertEqual(first(bp, "bpfabric." + key), value, key)
        self.assertEqual(self.columns[0][1], "BPFABRIC")
        self.assertTrue(self.columns[0][2].startswith(
            "Advertisement c1 (id 1) seq=1 part=0/1 blades=0"),
            self.columns[0][2])

    def test_hmac_shown_and_said_unverified(self):
        keyed = [f for f in self.frames if f["valid"] and f["key"]]
        self.assertGreaterEqual(len(keyed), 5)
        for f in keyed:
            text = self.text[f["frame"] - 1]
            self.assertRegex(text, r"HMAC-SHA256: " + f["hmac"] +
                             r" \(not verified: that needs the shared key\)")
        for f in self.frames:
            if f["valid"] and not f["key"]:
                self.assertNotIn("HMAC-SHA256:", self.text[f["frame"] - 1])

    def test_columns(self):
        self.assertEqual([int(c[0]) for c in self.columns],
                         [f["frame"] for f in self.frames])
        for c, f in zip(self.columns, self.frames):
            with self.subTest(frame=f["frame"], kind=f["kind"]):
                self.assertEqual(c[1], "BPFABRIC")
                if f["valid"]:
                    self.assertTrue(c[2].startswith(
                        f"Advertisement {f['name']} (id {f['chassis_id']}) "
                        f"seq={f['seq']} part={f['part']}/{f['parts']} "
                        f"blades={f['blade_count']}"), c[2])
                    self.assertNotIn("Malformed", c[2])
                else:
                    self.assertIn("[Malformed: ", c[2])

    def test_hostile_frames_are_malformed(self):
        for f in self.frames:
            if f["valid"]:
                continue
            with self.subTest(frame=f["frame"], kind=f["kind"]):
                names, groups = self.experts(self.layer(f["frame"]))
                self.assertEqual(set(names), EXPECTED_EXPERTS[f["kind"]])
                self.assertEqual(set(groups), {MALFORMED})
                self.assertEqual(len(groups), len(names))
                if f["kind"] == "fields-range":
                    # ttl, part, a blade's cpu and hops
                    self.assertEqual(names.count("range"), 4)

    def test_loaded_twice(self):
        """From the personal plugins folder and -X lua_script at once."""
        plugins = os.path.join(self.env["HOME"], ".local", "lib",
                               "wireshark", "plugins")
        os.makedirs(plugins, exist_ok=True)
        shutil.copy(SCRIPT, plugins)
        try:
            run = self.tshark([])
        finally:
            os.remove(os.path.join(plugins, os.path.basename(SCRIPT)))
        self.assert_clean(run)
        self.assertEqual(run.stdout.count("BPFABRIC"), len(self.frames))


if __name__ == "__main__":
    unittest.main()
