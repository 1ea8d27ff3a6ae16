"""`bladeplane lab` (scripts/bladeplane_cli/lab.py) without QEMU: checks
and solution files and their file:line: key errors, paths into the state
tree, each kind of check on recorded state (and, through the CLI's
launcher, on tests/scripts/fake_qemu.py), reports, `lab list`, and every
file shipped in docs/labs/."""

import contextlib
import csv
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest
from typing import Any
from unittest import mock

import cli_path  # noqa: F401
from bladeplane_cli import chassis, lab, rundir, topology
from bladeplane_cli.common import Failure
from test_launch import FAKE_QEMU, MANIFEST

CLI = os.path.join(cli_path.REPO, "scripts", "bladeplane")

TOPO = """\
name = "tl"
[[chassis]]
name = "c1"
slots = 2
[chassis.uplink]
forward = ["tcp:127.0.0.1:18080-10.0.2.100:80"]
[[chassis.blade]]
slot = 0
name = "b0"
[[chassis.blade]]
slot = 1
name = "b1"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
[[chassis.service]]
name = "rr"
vip = "10.0.2.101"
port = 80
policy = "rr"
"""

HEAD = """\
[lab]
number = 1
title = "A test"
minutes = 30
topology = "tl.toml"
"""

CHECK = """\
[[check]]
name = "errs"
kind = "state"
path = "ports[name=slot0].pcs.code_errors"
min = 1
"""


class Files:
    """A directory with the test topology and a checks file."""

    def __init__(self, checks: str, name: str = "01-test.checks.toml"):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        with open(os.path.join(self.dir, "tl.toml"), "w") as f:
            f.write(TOPO)
        self.path = os.path.join(self.dir, name)
        with open(self.path, "w") as f:
            f.write(checks)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def close(self) -> None:
        self.tmp.cleanup()


class ChecksFileCase(unittest.TestCase):
    """Loads a checks file beside a topology file (`topology`, if set)."""

    topology: str | None = None

    def load(self, text: str) -> lab.Lab:
        files = Files(text)
        self.addCleanup(files.close)
        if self.topology is not None:
            files.write("tl.toml", self.topology)
        self.path = files.path
        return lab.load_checks(files.path)

    def error(self, text: str) -> str:
        with self.assertRaises(lab.LabError) as cm:
            self.load(text)
        msg = str(cm.exception)
        self.assertTrue(msg.startswith(self.path), msg)
        return msg[len(self.path):]


class ChecksFileTest(ChecksFileCase):

    def test_good(self) -> None:
        e = self.load(HEAD + CHECK)
        self.assertEqual((e.number, e.title, e.minutes), (1, "A test", 30))
        self.assertTrue(e.topology.endswith("/tl.toml"))
        c = e.checks[0]
        self.assertEqual((c.name, c.kind, c.line), ("errs", "state", 6))
        self.assertEqual(c.params["path"],
                         [("ports", [{"name": "slot0"}]), ("pcs", []),
                          ("code_errors", [])])
        self.assertEqual(c.compare, lab.Compare(low=1))
        self.assertTrue(e.handout.endswith("/01-test.md"))
        self.assertTrue(e.solution.endswith("/01-test.solution.toml"))

    def test_toml_syntax(self) -> None:
        self.assertEqual(self.error(HEAD + "[[check]]\nname = \n"),
                         ":7: TOML syntax: invalid value (column 8)")

    def test_unknown_top_key(self) -> None:
        self.assertEqual(self.error(HEAD + CHECK + "[labs]\n"),
                         ":11: labs: unknown key (did you mean 'lab'?)")

    def test_no_lab_table(self) -> None:
        self.assertEqual(self.error(CHECK),
                         ": lab: missing: a [lab] table with number, title, "
                         "minutes and topology")

    def test_lab_keys(self) -> None:
        self.assertEqual(self.error(HEAD + "tittle = 'x'\n" + CHECK),
                         ":6: lab.tittle: unknown key (did you mean "
                         "'title'?)")
        self.assertEqual(
            self.error(HEAD.replace("number = 1", "number = 2") + CHECK),
            ":2: lab.number: 2 is not the file's number (01)")
        self.assertEqual(
            self.error(HEAD.replace("minutes = 30", "minutes = 90") + CHECK),
            ":4: lab.minutes: must be 30..60, got 90")
        self.assertEqual(
            self.error(HEAD.replace("minutes = 30", "minutes = '30'")
                       + CHECK),
            ":4: lab.minutes: must be an integer, got '30'")
        msg = self.error(HEAD.replace("tl.toml", "nope.toml") + CHECK)
        self.assertRegex(msg, r"^:5: lab.topology: no file /.*/nope.toml$")

    def test_no_checks(self) -> None:
        self.assertEqual(self.error(HEAD),
                         ": check: no [[check]] table: an exercise needs at "
                         "least one check")

    def test_kind(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK.replace('"state"', '"stat"')),
            ":8: check.errs.kind: must be one of state, console, capture, "
            "share, http, latency, got 'stat' (did you mean 'state'?)")

    def test_unknown_key_named_by_the_check(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK.replace("path =", "pth =")),
            ":9: check.errs.pth: unknown key (did you mean 'path'?)")

    def test_unnamed_check_by_index(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK + CHECK.replace('name = "errs"\n', "")),
            ":11: check[1].name: missing")

    def test_bad_name_and_duplicate(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK.replace('"errs"', '"Errs"')),
            ":7: check[0].name: must be 1 to 40 of a-z, 0-9 and '-', "
            "starting with a letter, got 'Errs'")
        self.assertEqual(self.error(HEAD + CHECK + CHECK),
                         ":12: check.errs.name: 'errs' is already the name "
                         "of another check")

    def test_path_syntax(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK.replace("ports[name=slot0]",
                                            "ports[name=slot0")),
            ":9: check.errs.path: 'ports[name=slot0.pcs.code_errors': "
            "'[' at column 6 is not closed")
        self.assertEqual(
            self.error(HEAD + CHECK.replace("ports[name=slot0]", "ports[x]")),
            ":9: check.errs.path: 'ports[x].pcs.code_errors': selector "
            "[x]: each part is KEY=VALUE, or the whole an index")

    def test_comparisons(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK + "equals = 3\n"),
            ":10: check.errs.min: give one of equals, range, or min "
            "and/or max (this check also has equals)")
        self.assertEqual(
            self.error(HEAD + CHECK.replace("min = 1", "range = [5, 1]")),
            ":10: check.errs.range: LOW 5 is above HIGH 1")
        self.assertEqual(
            self.error(HEAD + CHECK.replace("min = 1", "range = [1]")),
            ":10: check.errs.range: must be [LOW, HIGH], two numbers, got "
            "an array")
        self.assertEqual(
            self.error(HEAD + CHECK.replace("min = 1", "min = 5\nmax = 2")),
            ":11: check.errs.max: 2 is below min 5")
        self.assertEqual(
            self.error(HEAD + CHECK.replace("min = 1\n", "")),
            ":6: check.errs: says nothing to compare with: give equals, "
            "min, max or range")
        self.assertEqual(
            self.error(HEAD + CHECK.replace("min = 1",
                                            "since = 'start'\nequals = 'x'")),
            ":11: check.errs.equals: must be a number here, got 'x'")

    def test_since_and_at(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK + "since = 'start'\nat = 'start'\n"),
            ":12: check.errs.at: give since or at, not both")
        self.assertEqual(
            self.error(HEAD + CHECK + "since = 'begin'\n"),
            ":11: check.errs.since: must be one of start, got 'begin'")
        self.assertEqual(
            self.error(HEAD + CHECK + "tree = 'vtime-snapshot'\n"
                       "since = 'start'\n"),
            ":11: check.errs.tree: a vtime-snapshot has no start to compare "
            "with")

    def test_names_in_the_topology(self) -> None:
        self.assertEqual(
            self.error(HEAD + CHECK + "chassis = 'c9'\n"),
            ":11: check.errs.chassis: no chassis 'c9' in topology tl "
            "(chassis: c1)")
        console = ('[[check]]\nname = "c"\nkind = "console"\n'
                   'blade = "b9"\nregex = "x"\n')
        self.assertEqual(
            self.error(HEAD + console),
            ":9: check.c.blade: no blade 'b9' in topology tl (blades: b0, "
            "b1)")
        share = ('[[check]]\nname = "s"\nkind = "share"\nservice = "webb"\n'
                 'blades = ["b0"]\nmin = 0.1\n')
        self.assertEqual(
            self.error(HEAD + share),
            ":9: check.s.service: chassis c1 has no service 'webb' "
            "(services: web, rr)")
        self.assertEqual(
            self.error(HEAD + share.replace('"webb"', '"web"')
                       .replace('["b0"]', '["b0", "bx"]')),
            ":10: check.s.blades[1]: no blade 'bx' in topology tl (blades: "
            "b0, b1)")
        capture = ('[[check]]\nname = "p"\nkind = "capture"\n'
                   'port = "slot7"\nmin = 1\n')
        self.assertEqual(
            self.error(HEAD + capture),
            ":9: check.p.port: chassis c1 has slots 0..1, not 7")
        http = '[[check]]\nname = "h"\nkind = "http"\nforward = 1\n'
        self.assertEqual(
            self.error(HEAD + http),
            ":9: check.h.forward: topology tl forwards 1 host port(s): no "
            "forward 1")

    def test_console(self) -> None:
        console = ('[[check]]\nname = "c"\nkind = "console"\n'
                   'blade = "b0"\nregex = "x("\n')
        self.assertEqual(
            self.error(HEAD + console),
            ":10: check.c.regex: not a regular expression: missing ), "
            "unterminated subpattern at position 1")
        self.assertEqual(
            self.error(HEAD + console.replace('"x("', '"x"') + "min = 1\n"),
            ":10: check.c.regex: a comparison needs a group in the regex: "
            "the number it compares")
        self.assertEqual(
            self.error(HEAD + console.replace('"x("', '"x"')
                       + "status = 0\n"),
            ":11: check.c.status: only with a command (without one the "
            "check reads the console's log)")

    def test_capture(self) -> None:
        capture = ('[[check]]\nname = "p"\nkind = "capture"\n'
                   'port = "slot0"\n')
        self.assertEqual(
            self.error(HEAD + capture + "src = '52:54:00:00:00'\nmin = 1\n"),
            ":10: check.p.src: must be a MAC address (aa:bb:cc:dd:ee:ff) or "
            "'broadcast', got '52:54:00:00:00'")
        self.assertEqual(
            self.error(HEAD + capture + "traffic = { http = '/', blade = "
                       "'b0', command = 'x' }\nmin = 1\n"),
            ":10: check.p.traffic: give http = PATH, or blade and command")
        self.assertEqual(
            self.error(HEAD + capture + "traffic = { blade = 'b5', command "
                       "= 'x' }\nmin = 1\n"),
            ":10: check.p.traffic.blade: no blade 'b5' in topology tl "
            "(blades: b0, b1)")
        self.assertEqual(
            self.error(HEAD + capture + "contains = []\n"),
            ":10: check.p.contains: must be a non-empty array of strings, "
            "got an array")
        self.assertEqual(
            self.error(HEAD + capture + "ethertype = 70000\nmin = 1\n"),
            ":10: check.p.ethertype: must be 0..65535, got 70000")

    def test_http(self) -> None:
        http = '[[check]]\nname = "h"\nkind = "http"\n'
        self.assertEqual(
            self.error(HEAD + http + "path = 'x'\n"),
            ":9: check.h.path: must start with '/', got 'x'")
        self.assertEqual(
            self.error(HEAD + http + "status = '200'\n"),
            ":9: check.h.status: must be an integer, got '200'")
        self.assertEqual(
            self.error(HEAD + http + "require = 'some'\n"),
            ":9: check.h.require: must be one of all, any, got 'some'")
        e = self.load(HEAD + http)
        self.assertEqual(e.checks[0].params["path"], "/")

    def test_share_needs_blades(self) -> None:
        self.assertEqual(
            self.error(HEAD + '[[check]]\nname = "s"\nkind = "share"\n'
                       'service = "web"\nmin = 0.1\n'),
            ":6: check.s.blades: missing: the blades whose share is summed")


# TOPO with a client blade that runs blade-loadgen on web's and rr's VIPs
# (targets 0 and 1 of its log), and a service it does not send to
LOADGEN_TOPO = TOPO.replace("slots = 2", "slots = 3") + """\
[[chassis.service]]
name = "other"
vip = "10.0.2.102"
port = 80
blades = ["b0"]
[[chassis.blade]]
slot = 2
name = "client"
append = "blade.run=blade-loadgen,-n,1,-r,4,10.0.2.100,10.0.2.101:8080"
"""

LATENCY = """\
[[check]]
name = "l"
kind = "latency"
blade = "client"
service = "web"
percentile = 99
"""


class LatencyFileTest(ChecksFileCase):
    """The latency kind's keys, against LOADGEN_TOPO."""

    topology = LOADGEN_TOPO

    def test_good(self) -> None:
        c = self.load(HEAD + LATENCY + "relative_to_service = 'rr'\n"
                      "max = 0.5\n").checks[0]
        self.assertEqual((c.kind, c.params["percentile"], c.params["targets"],
                          c.params["service_target"],
                          c.params["relative_to_service_target"]),
                         ("latency", 99, 2, 0, 1))
        self.assertEqual(c.compare, lab.Compare(high=0.5))

    def test_errors(self) -> None:
        self.assertEqual(
            self.error(HEAD + LATENCY.replace("percentile = 99\n", "") +
                       "max = 1\n"),
            ":6: check.l.percentile: missing: which percentile of the "
            "response times (50: the median, 99: p99)")
        self.assertEqual(
            self.error(HEAD + LATENCY.replace("= 99", "= 0") + "max = 1\n"),
            ":11: check.l.percentile: must be above 0 (50: the median, 99: "
            "p99)")
        self.assertEqual(
            self.error(HEAD + LATENCY.replace("= 99", "= 101") + "max = 1\n"),
            ":11: check.l.percentile: must be 0..100, got 101")
        self.assertEqual(
            self.error(HEAD + LATENCY.replace("= 99", "= '99'") +
                       "max = 1\n"),
            ":11: check.l.percentile: must be a number, got '99'")
        self.assertEqual(
            self.error(HEAD + LATENCY + "percentil = 50\nmax = 1\n"),
            ":12: check.l.percentil: unknown key (did you mean "
            "'percentile'?)")
        self.assertEqual(
            self.error(HEAD + LATENCY),
            ":6: check.l: says nothing to compare with: give equals, min, "
            "max or range")
        self.assertEqual(
            self.error(HEAD + LATENCY + "equals = 'fast'\n"),
            ":12: check.l.equals: must be a number here, got 'fast'")

    def test_names(self) -> None:
        self.assertEqual(
            self.error(HEAD + LATENCY.replace('"client"', '"b9"') +
                       "max = 1\n"),
            ":9: check.l.blade: no blade 'b9' in topology tl (blades: b0, "
            "b1, client)")
        self.assertEqual(
            self.error(HEAD + LATENCY.replace('"client"', '"b0"') +
                       "max = 1\n"),
            ":9: check.l.blade: blade b0 runs no blade-loadgen with targets "
            "from blade.run: it has no log of requests")
        self.assertEqual(
            self.error(HEAD + LATENCY.replace('"web"', '"webb"') +
                       "max = 1\n"),
            ":10: check.l.service: no service 'webb' in topology tl "
            "(services: web, rr, other)")
        self.assertEqual(
            self.error(HEAD + LATENCY + "relative_to_service = 'other'\n"
                       "max = 1\n"),
            ":12: check.l.relative_to_service: service other's VIP "
            "10.0.2.102 is not one of client's blade-loadgen targets "
            "(10.0.2.100, 10.0.2.101)")


SOLUTION = """\
[[step]]
do = "console"
blade = "b0"
command = "ping -c 1 10.0.2.2"

[[step]]
do = "qom-set"
blade = "b0"
property = "inject-code-errors"
value = 10

[[step]]
do = "wait"
timeout = 5
check = { kind = "state", path = "blades[slot=0].in_rotation", equals = true }
"""


class SolutionFileTest(unittest.TestCase):

    def setUp(self) -> None:
        self.files = Files(HEAD + CHECK)
        self.addCleanup(self.files.close)
        self.topo = topology.load(os.path.join(self.files.dir, "tl.toml"))

    def load(self, text: str) -> lab.Solution:
        self.path = self.files.write("01-test.solution.toml", text)
        return lab.load_solution(self.path, self.topo)

    def error(self, text: str) -> str:
        with self.assertRaises(lab.LabError) as cm:
            self.load(text)
        msg = str(cm.exception)
        self.assertTrue(msg.startswith(self.path), msg)
        return msg[len(self.path):]

    def test_good(self) -> None:
        sol = self.load(SOLUTION)
        self.assertIsNone(sol.patch)
        self.assertEqual([s.do for s in sol.steps],
                         ["console", "qom-set", "wait"])
        self.assertEqual(sol.steps[1].params["value"], 10)
        wait = sol.steps[2]
        self.assertEqual((wait.line, wait.check and wait.check.kind),
                         (12, "state"))
        self.assertEqual(lab.step_text(sol.steps[0]),
                         "b0$ ping -c 1 10.0.2.2")
        self.assertEqual(lab.step_text(sol.steps[1]),
                         "qom-set b0 inject-code-errors=10")

    def test_errors(self) -> None:
        self.assertEqual(self.error('[[step]]\ndo = "ssh"\n'),
                         ":2: step[0].do: must be one of console, qom-set, "
                         "qmp, sleep, http, kill, restart, wait, wait-log, "
                         "got 'ssh'")
        self.assertEqual(
            self.error('[[step]]\ndo = "qom-set"\nblade = "b0"\n'
                       'property = "x"\n'),
            ":1: step[0].value: missing")
        self.assertEqual(
            self.error('[[step]]\ndo = "qmp"\ncommand = "stop"\n'),
            ":1: step[0]: give blade or chassis")
        self.assertEqual(
            self.error('[[step]]\ndo = "wait"\n'),
            ":1: step[0].check: missing: the condition, a check table")
        self.assertEqual(
            self.error('[[step]]\ndo = "wait"\ncheck = { kind = "state", '
                       'path = "x[" , equals = 1 }\n'),
            ":3: step[0].check.path: 'x[': '[' at column 2 is not closed")
        self.assertEqual(
            self.error('[[step]]\ndo = "kill"\ntarget = "c5"\n'),
            ":3: step[0].target: no chassis or blade 'c5' in topology tl "
            "(chassis: c1; blades: b0, b1)")
        self.assertEqual(
            self.error('[[step]]\ndo = "sleep"\nseconds = 1\nblade = "b0"\n'),
            ":4: step[0].blade: unknown key (known keys: do, seconds, "
            "what)")
        self.assertEqual(self.error('patch = "none.patch"\n')[:20],
                         ":1: patch: no file /")
        self.assertEqual(self.error(""),
                         ": step: no [[step]] table and no patch: a "
                         "solution does something")


class PathTest(unittest.TestCase):

    TREE = {"ports": [{"name": "slot0", "link": True, "pcs": {"x": 3}},
                      {"name": "slot1", "link": False}],
            "blades": [{"slot": 0, "in_rotation": True},
                       {"slot": 0, "remote": True, "chassis": "c2",
                        "hops": 1}],
            "fabric": {"ports": [{"name": "chain1",
                                  "state": "blocked (loop)"}]},
            "services": [{"name": "web", "vip": "10.0.2.100"}]}

    def get(self, text: str) -> object:
        return lab.resolve(self.TREE, lab.parse_path(text))

    def test_resolve(self) -> None:
        self.assertEqual(self.get("ports[name=slot0].pcs.x"), 3)
        self.assertEqual(self.get("ports[1].link"), False)
        self.assertEqual(self.get("ports[link=false].name"), "slot1")
        self.assertEqual(self.get("blades[chassis=c2,slot=0].hops"), 1)
        self.assertEqual(self.get("blades[slot=0].in_rotation"), True)
        self.assertEqual(self.get("fabric.ports[name=chain1].state"),
                         "blocked (loop)")
        self.assertEqual(self.get("services[vip=10.0.2.100].name"), "web")
        self.assertEqual(self.get("services[0]"), self.TREE["services"][0])

    def test_qapi_dashes(self) -> None:
        self.assertEqual(lab.parse_path("mac-table.learned"),
                         [("mac_table", []), ("learned", [])])

    def test_unresolved(self) -> None:
        cases = {
            "portz": "the tree has no portz (it has: blades, fabric, ports, "
                     "services)",
            "ports[name=slot9].link": "ports has no entry with name=slot9 "
                                      "(name: slot0, slot1)",
            "ports[5]": "ports has 2 entries, no [5]",
            "ports[name=slot0].pcs.x.y": "ports[name=slot0].pcs.x is 3, not "
                                         "an object",
            "fabric[0]": "fabric is an object, not an array",
        }
        for path, why in cases.items():
            with self.subTest(path=path):
                with self.assertRaises(lab.Unresolved) as cm:
                    self.get(path)
                self.assertEqual(str(cm.exception), why)

    def test_syntax(self) -> None:
        for text in ["", "a..b", "a.", "[1]", "a[1]x", "a[b=]"]:
            with self.subTest(text=text):
                with self.assertRaises(lab.PathError):
                    lab.parse_path(text)
        self.assertEqual(lab.path_text(lab.parse_path("a[b=c,d=1][2].e")),
                         "a[b=c,d=1][2].e")


class CompareTest(unittest.TestCase):

    def test_judge(self) -> None:
        c = lab.Compare
        self.assertTrue(c(equals=True).judge(True))
        self.assertFalse(c(equals=True).judge(1))
        self.assertFalse(c(equals=1).judge(True))
        self.assertTrue(c(equals=2).judge(2.0))
        self.assertTrue(c(equals="forwarding").judge("forwarding"))
        self.assertTrue(c(low=1).judge(1))
        self.assertFalse(c(low=1).judge(0))
        self.assertFalse(c(low=1).judge("5"))
        self.assertTrue(c(low=0.3, high=0.4).judge(0.35))
        self.assertFalse(c(high=0).judge(1))
        self.assertEqual(c(low=0.3, high=0.4).text(), "in 0.3..0.4")
        self.assertEqual(c(equals="x").text(), "== 'x'")
        self.assertEqual(c(high=0).text(), "<= 0")


def tree(code_errors: int = 0, new: tuple = (0, 0), rr: tuple = (0, 0),
         now: int = 1000) -> dict:
    """A state tree of the test topology's chassis, as read_switch gives
    it (docs/switch-blade.md)."""
    def service(name: str, flows: tuple) -> dict:
        total = sum(flows)
        return {"name": name, "new_flows": total, "no_blade": 0,
                "share": [{"slot": i, "new_flows": n,
                           "share": n / total if total else 0}
                          for i, n in enumerate(flows)]}
    return {"switch": {"now_ms": now},
            "ports": [{"name": "slot0", "kind": "slot", "slot": 0,
                       "link": True, "sync": True, "rx_frames": 10,
                       "pcs": {"code_errors": code_errors}},
                      {"name": "slot1", "kind": "slot", "slot": 1,
                       "link": True, "sync": True, "rx_frames": 20,
                       "pcs": {"code_errors": 0}}],
            "blades": [{"slot": 0, "in_rotation": True,
                        "requests_answered": 100},
                       {"slot": 1, "in_rotation": False,
                        "requests_answered": 25}],
            "services": [service("web", new), service("rr", rr)],
            "mac_table": {"learned": 4, "aged": 0}}


class FakeEnv(lab.Env):
    """An Env on recorded state: trees per chassis (and a vtime
    snapshot), console answers and logs, HTTP answers."""

    def __init__(self, now: dict, start: dict | None = None,
                 snap: dict | None = None,
                 consoles: dict | None = None, logs: dict | None = None,
                 answers: list | None = None):
        self.spec = topology.loads(TOPO, "/x/tl.toml")
        self.start = ({"trees": start} if start is not None else None)
        self.now = now
        self.snap = snap or {}
        self.consoles = consoles or {}
        self.logs = logs or {}
        self.answers = list(answers or [])
        self.log = print

    def tree(self, chassis: str, which: str = "live") -> dict:
        trees = self.now if which == "live" else self.snap
        if chassis not in trees:
            raise lab.Unresolved(f"chassis {chassis} does not answer")
        return trees[chassis]

    def console(self, blade: str, command: str,
                timeout: float) -> tuple[int, str]:
        return self.consoles[(blade, command)]

    def console_log(self, blade: str) -> str:
        return self.logs[blade]

    def http_get(self, index: int, path: str,
                 timeout: float) -> tuple[int, str]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def check(toml: str) -> lab.Check:
    """One check from its TOML (a [[check]] table's body)."""
    files = Files(HEAD + "[[check]]\n" + textwrap.dedent(toml))
    try:
        return lab.load_checks(files.path).checks[0]
    finally:
        files.close()


class EvaluateTest(unittest.TestCase):

    def result(self, c: lab.Check, env: lab.Env) -> tuple[bool, str]:
        r = lab.evaluate(c, env)
        return r.ok, r.reason

    def test_state(self) -> None:
        c = check("""\
            name = "e"
            kind = "state"
            path = "ports[name=slot0].pcs.code_errors"
            since = "start"
            min = 1
        """)
        env = FakeEnv({"c1": tree(code_errors=7)},
                      start={"c1": tree(code_errors=2)})
        self.assertEqual(self.result(c, env), (
            True, "c1: ports[name=slot0].pcs.code_errors went from 2 to 7: "
                  "5 (want >= 1)"))
        env = FakeEnv({"c1": tree(code_errors=2)},
                      start={"c1": tree(code_errors=2)})
        self.assertFalse(self.result(c, env)[0])
        env = FakeEnv({"c1": tree(code_errors=2)})
        self.assertEqual(self.result(c, env), (
            False, "no state from the start of the lab: start it with "
                   "'bladeplane lab start N', not 'up'"))

    def test_state_at_start_equals_and_present(self) -> None:
        c = check("""\
            name = "e"
            kind = "state"
            path = "blades[slot=1].in_rotation"
            at = "start"
            equals = false
        """)
        env = FakeEnv({"c1": {}}, start={"c1": tree()})
        self.assertEqual(self.result(c, env), (
            True, "c1 at the start: blades[slot=1].in_rotation = false "
                  "(want == false)"))
        c = check("""\
            name = "e"
            kind = "state"
            path = "fabric"
            present = false
        """)
        self.assertEqual(self.result(c, FakeEnv({"c1": tree()})),
                         (True, "c1: fabric is absent (want absent)"))

    def test_state_relative_and_snapshot(self) -> None:
        c = check("""\
            name = "e"
            kind = "state"
            tree = "vtime-snapshot"
            path = "blades[slot=1].requests_answered"
            relative_to = "blades[slot=0].requests_answered"
            max = 0.5
        """)
        env = FakeEnv({}, snap={"c1": tree()})
        self.assertEqual(self.result(c, env), (
            True, "c1's vtime-snapshot: blades[slot=1].requests_answered = "
                  "25, 0.25 times blades[slot=0].requests_answered (want "
                  "<= 0.5)"))
        self.assertEqual(self.result(c, FakeEnv({})), (
            False, "chassis c1 does not answer"))

    def test_state_unresolved_and_wait(self) -> None:
        c = check("""\
            name = "e"
            kind = "state"
            path = "ports[name=slot5].link"
            equals = true
            wait = 0.2
        """)
        ok, why = self.result(c, FakeEnv({"c1": tree()}))
        self.assertFalse(ok)
        self.assertEqual(why, "ports has no entry with name=slot5 (name: "
                              "slot0, slot1) (still so after 0.2 s)")

    def test_console(self) -> None:
        c = check("""\
            name = "c"
            kind = "console"
            blade = "b0"
            command = "ethtool -S eth0"
            regex = '^\\s*hw_tx_cg_injected: (\\d+)$'
            min = 1
        """)
        out = "NIC statistics:\n     hw_tx_cg_injected: 200\n"
        env = FakeEnv({}, consoles={("b0", "ethtool -S eth0"): (0, out)})
        self.assertEqual(self.result(c, env), (
            True, "b0$ ethtool -S eth0: 'hw_tx_cg_injected: 200': 200 (want "
                  ">= 1)"))
        env = FakeEnv({}, consoles={("b0", "ethtool -S eth0"): (
            0, "     hw_tx_cg_injected: 0\n")})
        self.assertFalse(self.result(c, env)[0])
        env = FakeEnv({}, consoles={("b0", "ethtool -S eth0"): (
            1, "ethtool: bad command line\n")})
        self.assertEqual(self.result(c, env), (
            False, "b0$ ethtool -S eth0: exit status 1 (want 0): ethtool: "
                   "bad command line"))
        env = FakeEnv({}, consoles={("b0", "ethtool -S eth0"): (0, "")})
        self.assertEqual(self.result(c, env), (
            False, "b0$ ethtool -S eth0: nothing matches "
                   "/^\\s*hw_tx_cg_injected: (\\d+)$/"))

    def test_console_log(self) -> None:
        c = check("""\
            name = "c"
            kind = "console"
            blade = "b1"
            regex = '^loadgen-done: requests (\\d+) failed 0 '
            min = 100
        """)
        env = FakeEnv({}, logs={"b1": "x\nloadgen-done: requests 3168 "
                                      "failed 0 log_dropped 0\n"})
        self.assertEqual(self.result(c, env), (
            True, "b1's console log: 'loadgen-done: requests 3168 failed "
                  "0': 3168 (want >= 100)"))

    def test_share(self) -> None:
        c = check("""\
            name = "s"
            kind = "share"
            service = "web"
            blades = ["b1"]
            since = "start"
            max = 0.3
        """)
        env = FakeEnv({"c1": tree(new=(30, 12))},
                      start={"c1": tree(new=(10, 10))})
        self.assertEqual(self.result(c, env), (
            True, "b1: 9.1% of web's 22 new flows since the start (want <= "
                  "0.3)"))
        env = FakeEnv({"c1": tree(new=(10, 10))},
                      start={"c1": tree(new=(10, 10))})
        self.assertEqual(self.result(c, env), (
            False, "service web of chassis c1 got no new flows since the "
                   "start"))
        c = check("""\
            name = "s"
            kind = "share"
            tree = "vtime-snapshot"
            service = "web"
            blades = ["b1"]
            relative_to_service = "rr"
            max = 0.33
        """)
        env = FakeEnv({}, snap={"c1": tree(new=(95, 5), rr=(50, 50))})
        self.assertEqual(self.result(c, env), (
            True, "b1: 5.0% of web's 100 new flows, 50.0% of rr's 100: "
                  "0.1 times (want <= 0.33)"))

    # blade-loadgen's log as the client's console shows it: web (target
    # 0) answered in 1, 2, ... 100 ms, rr (target 1) in 4 ms each
    LOADGEN_LOG = "\r\n".join(
        ["BLADEPLANE-READY {}", "BLADEPLANE-RUN-BEGIN", "rate_rps: 50.00",
         "phase 0 0 1000000000", "phase 1 0 5000000000"] +
        [f"req 0 0 {i // 4} {i % 4} b{i % 2} 1000000000 {2000000000 + i} "
         f"{2000000000 + i + (100 - i) * 1000000}" for i in range(100)] +
        [f"req 1 0 {i // 4} {i % 4} b0 5000000000 6000000000 6004000000"
         for i in range(8)] +
        ["loadgen-done: requests 108 failed 0 log_dropped 0",
         "BLADEPLANE-RUN-END {}", ""])

    def latency(self, body: str, percentile: int = 99) -> lab.Check:
        files = Files(HEAD + LATENCY.replace("= 99", f"= {percentile}") +
                      body)
        files.write("tl.toml", LOADGEN_TOPO)
        try:
            return lab.load_checks(files.path).checks[0]
        finally:
            files.close()

    def test_latency(self) -> None:
        log = self.LOADGEN_LOG.replace("\r\n", "\n")
        env = FakeEnv({}, logs={"client": log})
        self.assertEqual(self.result(self.latency("equals = 100\n"), env), (
            True, "client's run: web p99 100.000000 ms of 100 requests (want == "
                  "100)"))
        c = self.latency("max = 50\n")
        self.assertEqual(self.result(c, env), (
            False, "client's run: web p99 100.000000 ms of 100 requests (want <= "
                   "50)"))
        c = self.latency("relative_to_service = 'rr'\nmin = 25\n")
        self.assertEqual(self.result(c, env), (
            True, "client's run: web p99 100.000000 ms of 100 requests, rr p99 "
                  "4.000000 ms of 8: 25 times (want >= 25)"))

    def test_latency_median_and_bad_logs(self) -> None:
        c = self.latency("range = [50, 51]\n", percentile=50)
        # the smallest time with at least half below it: 51 ms
        env = FakeEnv({}, logs={"client": self.LOADGEN_LOG})
        self.assertEqual(self.result(c, env), (
            True, "client's run: web p50 51.000000 ms of 100 requests (want in "
                  "50..51)"))
        cut = self.LOADGEN_LOG[:self.LOADGEN_LOG.index("loadgen-done")]
        self.assertEqual(self.result(c, FakeEnv({}, logs={"client": cut})), (
            False, "client's console log: the client's console has no "
                   "complete run"))
        self.assertEqual(self.result(c, FakeEnv({}, logs={
            "client": cut + "BLADEPLANE-RUN-END\n"})), (
            False, "client's console log: blade-loadgen did not finish: "
                   "req 1 0 1 3 b0 5000000000 6000000000 6004000000"))
        c = self.latency("relative_to_service = 'rr'\nmax = 1\n")
        no_rr = "\n".join(line for line in self.LOADGEN_LOG.split("\r\n")
                          if not line.startswith("req 1 "))
        self.assertEqual(self.result(c, FakeEnv({}, logs={"client": no_rr})),
                         (False, "client's run has no answered request to "
                                 "rr"))

    def test_http(self) -> None:
        c = check("""\
            name = "h"
            kind = "http"
            path = "/cgi-bin/work?kb=1"
            body = 'blade=b1 '
            tries = 3
            require = "any"
        """)
        env = FakeEnv({}, answers=[(200, "blade=b0 kb=1\n"),
                                   (200, "blade=b1 kb=1\n")])
        self.assertEqual(self.result(c, env), (
            True, "GET http://127.0.0.1:18080/cgi-bin/work?kb=1: try 2: "
                  "200 'blade=b1 kb=1'"))
        env = FakeEnv({}, answers=[(200, "blade=b0\n")] * 2 + [
            lab.Unresolved("GET ...: Connection refused")])
        self.assertEqual(self.result(c, env), (
            False, "GET http://127.0.0.1:18080/cgi-bin/work?kb=1: none of 3 "
                   "tries answered 200 with /blade=b1 /; the last: GET ...: "
                   "Connection refused"))
        c = check("""\
            name = "h"
            kind = "http"
            tries = 2
        """)
        env = FakeEnv({}, answers=[(200, "ok\n"), (503, "busy\n")])
        self.assertEqual(self.result(c, env), (
            False, "GET http://127.0.0.1:18080/: try 2 of 2: 503 'busy' "
                   "(want 200)"))

    def test_capture(self) -> None:
        c = check("""\
            name = "p"
            kind = "capture"
            port = "slot0"
            traffic = { blade = "b0", command = "ping -c 2 10.0.2.2" }
            ethertype = 0x0800
            min = 2
            contains = ["D13.4"]
        """)
        with tempfile.TemporaryDirectory() as d:
            pcap = os.path.join(d, "c.pcap")
            ip = b"\x02" * 6 + b"\x52" * 6 + b"\x08\x00" + b"\0" * 46
            arp = b"\xff" * 6 + b"\x52" * 6 + b"\x08\x06" + b"\0" * 46
            write_pcap(pcap, [ip, arp, ip])
            util = os.path.join(d, "c.util.log")
            with open(util, "w") as f:
                f.write("1.0 slot0 cpu=3 ... cg: K28.5 D13.4 K28.5 D3.0\n")
            with mock.patch.object(lab, "capture",
                                   return_value=(pcap, [util], "pinged")):
                self.assertEqual(self.result(c, FakeEnv({})), (
                    True, "slot0 while pinged: 2 of 3 frames match "
                          "(EtherType 0x0800; want >= 2); the utilization "
                          "log has D13.4"))
            c.params["contains"] = ["D13.4", "K27.7"]
            c.params["ethertype"] = 0x0806
            c.params["dst"] = "ff:ff:ff:ff:ff:ff"
            with mock.patch.object(lab, "capture",
                                   return_value=(pcap, [util], "")):
                self.assertEqual(self.result(c, FakeEnv({})), (
                    False, "slot0: 1 of 3 frames match (EtherType 0x0806 "
                           "to ff:ff:ff:ff:ff:ff; want >= 2); the "
                           "utilization log lacks K27.7"))

    def test_symbols_missing(self) -> None:
        c = check("""\
            name = "p"
            kind = "capture"
            port = "slot0"
            symbols = true
            needs = "bladeplane capture --symbols"
            contains = ["K27.7"]
        """)
        with mock.patch.object(lab, "capture",
                               side_effect=lab.Unresolved(
                                   lab.SYMBOLS_MISSING)):
            self.assertEqual(self.result(c, FakeEnv({})), (
                False, lab.SYMBOLS_MISSING + " (the check needs bladeplane "
                       "capture --symbols)"))


def write_pcap(path: str, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 1, 0, len(fr), len(fr)) + fr)


class PcapTest(unittest.TestCase):

    def test_records_and_filters(self) -> None:
        vlan = (b"\x01" * 6 + b"\x02" * 6 + b"\x81\x00\x00\x05\x88\xb5"
                + b"\0" * 44)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.pcap")
            write_pcap(path, [vlan, b"\x00" * 10])
            with open(path, "ab") as f:
                f.write(struct.pack("<IIII", 1, 0, 100, 100) + b"cut")
            frames = lab.pcap_records(path)
        self.assertEqual(len(frames), 2)
        self.assertTrue(lab.frame_matches(frames[0], 0x88b5, None, None))
        self.assertTrue(lab.frame_matches(frames[0], None,
                                          "02:02:02:02:02:02",
                                          "01:01:01:01:01:01"))
        self.assertFalse(lab.frame_matches(frames[0], 0x0800, None, None))
        self.assertFalse(lab.frame_matches(frames[1], None, None, None))


class ReportTest(unittest.TestCase):

    def test_json_and_csv(self) -> None:
        files = Files(HEAD + CHECK + CHECK.replace("errs", "other"))
        self.addCleanup(files.close)
        e = lab.load_checks(files.path)
        results = [lab.Result(e.checks[0], True, "7, fine"),
                   lab.Result(e.checks[1], False, 'none, "quoted"')]
        data = lab.report_data(e, results, "alice", "pc1",
                               "2026-12-04T10:11:12+00:00", False, "tl")
        with tempfile.TemporaryDirectory() as d:
            j, c = lab.write_report(data, os.path.join(d, "reports"))
            self.assertEqual(os.path.basename(j),
                             "lab01-alice-pc1-20261204T101112.json")
            self.assertEqual(os.path.basename(c),
                             "lab01-alice-pc1-20261204T101112.csv")
            with open(j) as f:
                got = json.load(f)
            with open(c, newline="") as f:
                rows = list(csv.DictReader(f))
        self.assertEqual(got["student"], "alice")
        self.assertEqual(got["host"], "pc1")
        self.assertEqual((got["lab"], got["title"], got["topology"]),
                         (1, "A test", "tl"))
        self.assertEqual((got["passed"], got["total"]), (1, 2))
        self.assertEqual(got["items"][1], {"item": "other", "kind": "state",
                                           "what": "", "result": "FAIL",
                                           "reason": 'none, "quoted"'})
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1], {"student": "alice", "host": "pc1",
                                   "time": "2026-12-04T10:11:12+00:00",
                                   "lab": "1", "title": "A test",
                                   "item": "other", "kind": "state",
                                   "what": "", "result": "FAIL",
                                   "reason": 'none, "quoted"'})

    def test_names_in_file_names(self) -> None:
        data = {"lab": 7, "student": "Ann O'Neil / 2b", "host": "h",
                "time": "2026-01-02T03:04:05+01:00", "self_test": True,
                "items": []}
        with tempfile.TemporaryDirectory() as d:
            j, _ = lab.write_report(data, d)
        self.assertEqual(os.path.basename(j),
                         "lab07-Ann_O_Neil_2b-h-20260102T030405-selftest.json")

    def test_student(self) -> None:
        with mock.patch.dict(os.environ, {"BLADEPLANE_STUDENT": "bob"}):
            self.assertEqual(lab.student_name(), "bob")
            self.assertEqual(lab.student_name("carol"), "carol")


class ShippedLabsTest(unittest.TestCase):
    """Every exercise of docs/labs: its files parse and agree."""

    def test_every_file(self) -> None:
        labs = lab.discover()
        self.assertEqual([e.number for e in labs], list(range(1, 8)))
        pattern = os.path.join(lab.LABS_DIR, "[0-9][0-9]-*.checks.toml")
        import glob
        self.assertEqual(len(glob.glob(pattern)), len(labs))
        for e in labs:
            with self.subTest(lab=e.number):
                self.assertTrue(os.path.isfile(e.handout), e.handout)
                topo = topology.load(e.topology)
                sol = lab.load_solution(e.solution, topo)
                self.assertTrue(sol.steps or sol.patch)
                self.assertTrue(30 <= e.minutes <= 60)
                self.assertTrue(all(c.what for c in e.checks))
                with open(e.handout) as f:
                    text = f.read()
                # the handout says what the check verifies, item by item
                for c in e.checks:
                    self.assertIn(f"`{c.name}`", text)

    def test_list(self) -> None:
        out = io.StringIO()
        self.assertEqual(lab.list_labs(out), 0)
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 7)
        self.assertRegex(lines[0], r"^ 1  The lane and its PCS +45 min  "
                                   r"docs/labs/01-lane-pcs\.toml \(1 "
                                   r"chassis, 1 blade\)$")
        self.assertRegex(lines[2], r"virtual time\)$")
        self.assertRegex(lines[3], r"docs/labs/04-daisy-chain\.toml \(3 "
                                   r"chassis, 5 blades, virtual time\)$")

    def test_cli_list_and_usage(self) -> None:
        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, CLI, "lab"] + list(args),
                                  capture_output=True, text=True, timeout=60)
        p = cli("list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 7)
        p = cli("check")
        self.assertEqual((p.returncode, p.stderr),
                         (1, "bladeplane: error: lab check: which exercise? "
                             "(a number; 'bladeplane lab list' lists them)"
                             "\n"))
        p = cli("start", "99")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no exercise 99 (exercises: 1, 2, 3, 4, 5, 6, 7;",
                      p.stderr)
        p = cli("stop", "--report", "x")
        self.assertEqual(p.stderr, "bladeplane: error: --self-test, "
                                   "--report and --student go with 'lab "
                                   "check N'\n")


class FakeQemuTest(unittest.TestCase):
    """Checks on a topology of tests/scripts/fake_qemu.py, brought up by
    the CLI's launcher: the state tree over QMP, the start snapshot, a
    console command and a capture through `bladeplane capture`."""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        self.addCleanup(self.tmp.cleanup)
        env = {"BLADEPLANE_RUN_DIR": os.path.join(self.tmp.name, "run")}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self.stop_all)
        text = TOPO.replace('forward = ["tcp:127.0.0.1:18080-10.0.2.100:80"]',
                            "")
        topo = topology.loads(text, os.path.join(self.tmp.name, "tl.toml"))
        with contextlib.redirect_stdout(io.StringIO()):
            launcher = chassis.Launcher(topo, "tcg", FAKE_QEMU, MANIFEST,
                                        ready_timeout=30,
                                        rotation_timeout=10)
            self.run_, _ = launcher.up()

    def stop_all(self) -> None:
        for run in rundir.runs():
            rundir.stop(run.processes(), quit_timeout=2, term_timeout=2)

    def test_checks(self) -> None:
        start = lab.snapshot(self.run_)
        self.assertEqual(list(start["trees"]), ["c1"])
        self.assertEqual(start["run_started"], self.run_.state["started"])
        env = lab.Env(self.run_, start)
        results: dict[str, Any] = {}
        for toml in ["""\
                name = "flows"
                kind = "state"
                path = "blades[slot=1].new_flows"
                since = "start"
                min = 2
            """, """\
                name = "uname"
                kind = "console"
                blade = "b1"
                command = "uname -n"
                regex = "^b1$"
            """, """\
                name = "cap"
                kind = "capture"
                port = "b1"
                seconds = 0.2
                traffic = { blade = "b0", command = "echo hi" }
                ethertype = 0x0806
                dst = "broadcast"
                equals = 1
                contains = ["K28.5", "D16.2"]
            """]:
            c = check(toml)
            r = lab.evaluate(c, env)
            results[c.name] = (r.ok, r.reason)
        self.assertEqual(results["flows"][0], True, results["flows"])
        self.assertRegex(results["flows"][1],
                         r"^c1: blades\[slot=1\]\.new_flows went from \d+ "
                         r"to \d+: \d+ \(want >= 2\)$")
        self.assertEqual(results["uname"], (True, "b1$ uname -n: 'b1'"))
        self.assertEqual(results["cap"], (
            True, "b1 while b0$ echo hi: exit 0: 1 of 1 frames match "
                  "(EtherType 0x0806 to ff:ff:ff:ff:ff:ff; want == 1); the "
                  "utilization log has K28.5, D16.2"))
        r = lab.evaluate(check("""\
            name = "gone"
            kind = "console"
            blade = "b0"
            command = "no-such-thing"
            regex = "x"
        """), env)
        self.assertEqual((r.ok, r.reason), (
            False, "b0$ no-such-thing: exit status 127 (want 0): sh: "
                   "no-such-thing: not found"))

    def test_steps(self) -> None:
        env = lab.Env(self.run_, lab.snapshot(self.run_))
        topo = topology.from_dict(self.run_.state["spec"])
        files = Files(HEAD + CHECK)
        self.addCleanup(files.close)
        sol = lab.load_solution(files.write("01-x.solution.toml", """\
            [[step]]
            do = "console"
            blade = "b0"
            command = "blade-hog start"

            [[step]]
            do = "qom-set"
            blade = "b1"
            property = "inject-link-down"
            value = true

            [[step]]
            do = "wait"
            timeout = 5
            check = { kind = "state", path = "switch.now_ms", min = 1 }

            [[step]]
            do = "console"
            blade = "b0"
            command = "false-command"
        """.replace("            ", "")), topo)
        for s in sol.steps[:3]:
            lab.apply_step(s, env)
        with self.assertRaises(Failure) as cm:
            lab.apply_step(sol.steps[3], env)
        self.assertEqual(str(cm.exception), "exit status 127: sh: "
                                            "false-command: not found")


if __name__ == "__main__":
    unittest.main()
