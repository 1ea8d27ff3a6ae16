"""`bladeplane lab`: the exercises of docs/labs/ and their checks.

Each exercise is a handout (NN-NAME.md), the topology it starts (a file
of docs/labs/ or examples/), a checks file (NN-NAME.checks.toml) and a
reference solution (NN-NAME.solution.toml).  Checks are data: every
item of a checks file is one of a few kinds, evaluated against the
running topology by the code below, never code of its own:

    state    a value of a switch's state tree (query-blade-switch, or in
             virtual time its vtime-snapshot), compared with equals, min,
             max or range; as it is now, at the start of the lab, its
             change since the start, or relative to another value
    console  a command's output on a blade's console (or the console's
             log), matched by a regex; optionally a number it holds
    capture  a port captured while something runs: frames matching an
             EtherType and addresses, counted; the text the capture
             writes beside them (utilization sets, code groups) searched
    share    a blade's share of a service's new flows (the state tree's
             counters), now, since the start, or against another service
    http     a GET through the front chassis's forwarded host port:
             status and a regex on the body
    latency  a percentile of a service's response times in a client
             blade's blade-loadgen log (virtual ns, so exact in virtual
             time), or its ratio to another service's

`lab start N` brings the exercise's topology up and keeps the switches'
state trees as they were then (the "start" the checks compare with);
`lab check N` evaluates the checks, prints each as PASS or FAIL with its
reason and writes a report (JSON and CSV) a teacher can collect;
`lab check N --self-test` brings the topology up in a run directory of
its own, applies the reference solution, runs the checks, prints
`lab_N_checks_passed: K of M` and takes it down again.  Mistakes in a
checks or solution file are `file:line: key: message` errors, as in
topology files (tomlpos).  docs/labs/README.md documents the format.
"""

import csv
import dataclasses
import difflib
import getpass
import glob
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from typing import Any, Callable, Literal, NoReturn

from . import rundir, tomlpos, topology
from .common import BUILD, REPO, Failure

# a value as an error names it
_show = tomlpos.show_value

LABS_DIR = os.path.join(REPO, "docs", "labs")
REPORT_DIR = os.path.join(BUILD, "labs")
CLI = os.path.join(REPO, "scripts", "bladeplane")
NIC_PATH = "/machine/peripheral/nic0"
SWITCH_PATH = "/machine/peripheral/switch"
CHECKS_SUFFIX = ".checks.toml"
SOLUTION_SUFFIX = ".solution.toml"
FILE_RE = re.compile(r"^(\d\d)-[a-z0-9-]+\.checks\.toml$")
ITEM_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
CHECK_KINDS = ("state", "console", "capture", "share", "http", "latency")
STEP_KINDS = ("console", "qom-set", "qmp", "sleep", "http", "kill",
              "restart", "wait", "wait-log")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class LabError(Failure):
    """A mistake in a checks or solution file: file:line: key: message."""


# ---- reading checks and solution files -----------------------------------


class _Doc:
    """A TOML document and where its keys are."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.positions = tomlpos.locate(text)

    def fail(self, path: tuple, label: str, msg: str) -> NoReturn:
        line = self.positions.line(path)
        where = f"{self.path}:{line}" if line else self.path
        raise LabError(f"{where}: {label}: {msg}")


class _Table:
    """A table of a document with its concrete path (for the line) and
    its label (for the message)."""

    def __init__(self, doc: _Doc, table: dict, path: tuple, label: str):
        self.doc = doc
        self.table = table
        self.path = path
        self.label = label

    def key_label(self, key: str) -> str:
        return f"{self.label}.{key}" if self.label else key

    def error(self, key: str | None, msg: str) -> NoReturn:
        if key is None:
            self.doc.fail(self.path, self.label, msg)
        self.doc.fail(self.path + (key,), self.key_label(key), msg)

    def check_keys(self, allowed: set[str] | tuple[str, ...]) -> None:
        for key in self.table:
            if key in allowed:
                continue
            near = difflib.get_close_matches(key, list(allowed), n=1)
            hint = (f" (did you mean '{near[0]}'?)" if near else
                    f" (known keys: {', '.join(sorted(allowed))})")
            self.error(key, f"unknown key{hint}")

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, default: str | None = None,
            required: bool = False, choices: tuple[str, ...] = (),
            pattern: re.Pattern | None = None,
            rule: str = "") -> str | None:
        if key not in self.table:
            if required:
                self.error(key, "missing")
            return default
        v = self.table[key]
        if type(v) is not str:
            self.error(key, f"must be a string, got {_show(v)}")
        if choices and v not in choices:
            near = difflib.get_close_matches(v, list(choices), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            self.error(key, f"must be one of {', '.join(choices)}, got "
                       f"{v!r}{hint}")
        if pattern is not None and not pattern.match(v):
            self.error(key, f"{rule}, got {v!r}")
        return v

    def need_str(self, key: str, **kw: Any) -> str:
        v = self.string(key, required=True, **kw)
        assert v is not None
        return v

    def integer(self, key: str, default: int | None, low: int,
            high: int) -> int | None:
        if key not in self.table:
            return default
        v = self.table[key]
        if type(v) is not int:
            self.error(key, f"must be an integer, got {_show(v)}")
        if not low <= v <= high:
            self.error(key, f"must be {low}..{high}, got {v}")
        return v

    def number(self, key: str, default: float | None = None,
               low: float = float("-inf"),
               high: float = float("inf")) -> float | None:
        if key not in self.table:
            return default
        v = self.table[key]
        if type(v) not in (int, float) or v != v:
            self.error(key, f"must be a number, got {_show(v)}")
        if not low <= v <= high:
            self.error(key, f"must be {low:g}..{high:g}, got {v:g}")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self.table:
            return default
        v = self.table[key]
        if type(v) is not bool:
            self.error(key, f"must be true or false, got {_show(v)}")
        return v

    def scalar(self, key: str) -> Any:
        v = self.table[key]
        if isinstance(v, (dict, list)) or type(v) not in (str, int, float,
                                                          bool):
            self.error(key, f"must be a string, a number or true/false, "
                       f"got {_show(v)}")
        return v

    def strings(self, key: str) -> list[str] | None:
        if key not in self.table:
            return None
        v = self.table[key]
        if not isinstance(v, list) or not v:
            self.error(key, f"must be a non-empty array of strings, got "
                       f"{_show(v)}")
        for i, s in enumerate(v):
            if type(s) is not str or not s:
                self.doc.fail(self.path + (key, i),
                              f"{self.key_label(key)}[{i}]",
                              f"must be a non-empty string, got {_show(s)}")
        return list(v)

    def sub(self, key: str) -> "_Table | None":
        if key not in self.table:
            return None
        v = self.table[key]
        if not isinstance(v, dict):
            self.error(key, f"must be a table, got {_show(v)}")
        return _Table(self.doc, v, self.path + (key,), self.key_label(key))

    def tables(self, key: str, label: str) -> list["_Table"]:
        if key not in self.table:
            return []
        v = self.table[key]
        if not isinstance(v, list) or not all(isinstance(t, dict)
                                              for t in v):
            self.error(key, f"must be an array of tables ([[{key}]]), got "
                       f"{_show(v)}")
        return [_Table(self.doc, t, self.path + (key, i), f"{label}[{i}]")
                for i, t in enumerate(v)]


def _read_doc(path: str, what: str) -> tuple[_Doc, dict]:
    text, err = tomlpos.read_text(path, what)
    if text is None:
        raise LabError(err)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LabError(tomlpos.syntax_message(path, e)) from None
    return _Doc(path, text), doc


# ---- paths into the state tree -------------------------------------------

Segment = tuple[str, list]        # (key, [index | {key: text}])
PATH_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
SEL_ITEM_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)=([^,=\]]+)$")


class PathError(ValueError):
    pass


def parse_path(text: str) -> list[Segment]:
    """'ports[name=slot0].pcs.code_errors' -> [('ports', [{'name':
    'slot0'}]), ('pcs', []), ('code_errors', [])].  A selector is an
    index ([2]) or conditions on an array's objects ([chassis=c2,slot=0]:
    the first object with those values).  Dashes in keys are the QAPI
    spelling of the tree's underscores."""
    segs: list[Segment] = []
    i = 0
    n = len(text)
    if not text:
        raise PathError("an empty path")
    while True:
        m = PATH_KEY_RE.match(text, i)
        if not m:
            raise PathError(f"a key expected at column {i + 1}")
        key = m.group(0).replace("-", "_")
        i = m.end()
        sels: list = []
        while i < n and text[i] == "[":
            end = text.find("]", i)
            if end < 0:
                raise PathError(f"'[' at column {i + 1} is not closed")
            inner = text[i + 1:end].strip()
            if inner.isdigit():
                sels.append(int(inner))
            else:
                cond = {}
                for part in inner.split(","):
                    sm = SEL_ITEM_RE.match(part.strip())
                    if not sm:
                        raise PathError(f"selector [{inner}]: each part is "
                                        f"KEY=VALUE, or the whole an index")
                    cond[sm.group(1).replace("-", "_")] = sm.group(2).strip()
                sels.append(cond)
            i = end + 1
        segs.append((key, sels))
        if i == n:
            return segs
        if text[i] != ".":
            raise PathError(f"'.' or '[' expected at column {i + 1}, got "
                            f"{text[i]!r}")
        i += 1


def path_text(segs: list[Segment]) -> str:
    out = []
    for key, sels in segs:
        s = key
        for sel in sels:
            s += (f"[{sel}]" if isinstance(sel, int) else
                  "[" + ",".join(f"{k}={v}" for k, v in sel.items()) + "]")
        out.append(s)
    return ".".join(out)


def _matches(value: object, text: str) -> bool:
    if isinstance(value, bool):
        return text.lower() == ("true" if value else "false")
    if isinstance(value, (int, float)):
        try:
            return float(text) == value
        except ValueError:
            return False
    if value is None:
        return text.lower() in ("null", "none")
    return str(value) == text


class Unresolved(Exception):
    """A path that leads nowhere in a tree: the reason."""


def resolve(tree: object, segs: list[Segment]) -> object:
    """The value at a path; Unresolved says where it stopped."""
    cur = tree
    done: list[Segment] = []
    for key, sels in segs:
        where = path_text(done) or "the tree"
        if not isinstance(cur, dict):
            raise Unresolved(f"{where} is {_brief(cur)}, not an object")
        if key not in cur:
            keys = ", ".join(sorted(cur)) or "none"
            raise Unresolved(f"{where} has no {key} (it has: {keys})")
        cur = cur[key]
        done.append((key, []))
        for sel in sels:
            here = path_text(done)
            if not isinstance(cur, list):
                raise Unresolved(f"{here} is {_brief(cur)}, not an array")
            if isinstance(sel, int):
                if sel >= len(cur):
                    raise Unresolved(f"{here} has {len(cur)} entries, no "
                                     f"[{sel}]")
                cur = cur[sel]
            else:
                found = next((x for x in cur if isinstance(x, dict) and
                              all(k in x and _matches(x[k], v)
                                  for k, v in sel.items())), None)
                if found is None:
                    raise Unresolved(f"{here} has no entry with "
                                     + ", ".join(f"{k}={v}" for k, v in
                                                 sel.items())
                                     + _entries_hint(cur, sel))
                cur = found
            done[-1] = (done[-1][0], done[-1][1] + [sel])
    return cur


def _brief(v: object) -> str:
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    return json.dumps(v)


def _entries_hint(items: list, sel: dict) -> str:
    key = next(iter(sel))
    seen = [str(x.get(key)) for x in items if isinstance(x, dict)
            and key in x]
    return f" ({key}: {', '.join(seen)})" if seen else \
        f" ({len(items)} entries)"


# ---- the checks ----------------------------------------------------------


@dataclasses.dataclass
class Compare:
    """What a measured value must be: equals, or within min/max."""
    equals: Any = None
    low: float | None = None
    high: float | None = None

    def text(self) -> str:
        # bounds as the file gives them: a tight one has more than the
        # four digits a measured value is shown with
        def bound(v: object) -> str:
            return repr(v) if isinstance(v, float) else _fmt(v)
        if self.equals is not None:
            return f"== {bound(self.equals)}"
        if self.low is not None and self.high is not None:
            return f"in {bound(self.low)}..{bound(self.high)}"
        if self.low is not None:
            return f">= {bound(self.low)}"
        return f"<= {bound(self.high)}"

    def judge(self, value: object) -> bool:
        if self.equals is not None:
            if isinstance(self.equals, bool) or isinstance(value, bool):
                return value is self.equals
            if isinstance(self.equals, (int, float)) and \
                    isinstance(value, (int, float)):
                return float(value) == float(self.equals)
            return value == self.equals
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and value > self.high:
            return False
        return True


def _fmt(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, str):
        return repr(v)
    return str(v)


@dataclasses.dataclass
class Check:
    name: str
    kind: str
    what: str
    line: int
    params: dict
    compare: Compare | None = None
    wait: float = 0.0
    needs: str | None = None


@dataclasses.dataclass
class Step:
    do: str
    line: int
    params: dict
    check: Check | None = None      # do = "wait": the condition


@dataclasses.dataclass
class Lab:
    number: int
    title: str
    minutes: int
    topology: str                   # path
    path: str                       # the checks file
    handout: str                    # the .md file
    summary: str
    checks: list[Check]

    @property
    def solution(self) -> str:
        return self.path[:-len(CHECKS_SUFFIX)] + SOLUTION_SUFFIX

    @property
    def stem(self) -> str:
        return os.path.basename(self.path)[:-len(CHECKS_SUFFIX)]


@dataclasses.dataclass
class Solution:
    patch: str | None               # a patch to guest-driver/, applied first
    steps: list[Step]


COMMON_KEYS = {"kind", "name", "what", "wait", "needs"}
COMPARE_KEYS = {"equals", "min", "max", "range"}
CHECK_KEYS = {
    "state": {"chassis", "path", "since", "at", "relative_to", "tree",
              "present"} | COMPARE_KEYS,
    "console": {"blade", "command", "regex", "status", "timeout"}
    | COMPARE_KEYS,
    "capture": {"port", "seconds", "traffic", "symbols", "ethertype", "src",
                "dst", "contains"} | COMPARE_KEYS,
    "share": {"chassis", "service", "blades", "since", "tree",
              "relative_to_service"} | COMPARE_KEYS,
    "http": {"path", "forward", "status", "body", "tries", "require",
             "timeout"},
    "latency": {"blade", "service", "percentile", "relative_to_service"}
    | COMPARE_KEYS,
}
TREES = ("live", "vtime-snapshot")


def _compare(t: _Table, numeric_only: bool = False,
             required: bool = True) -> Compare | None:
    given = [k for k in ("equals", "range") if t.has(k)]
    bounds = [k for k in ("min", "max") if t.has(k)]
    if len(given) > 1 or (given and bounds):
        both = (given + bounds)[:2]
        t.error(both[1], f"give one of equals, range, or min and/or max "
                f"(this check also has {both[0]})")
    if not given and not bounds:
        if required:
            t.error(None, "says nothing to compare with: give equals, "
                    "min, max or range")
        return None
    if "equals" in given:
        v = t.scalar("equals")
        if numeric_only and not isinstance(v, (int, float)):
            t.error("equals", f"must be a number here, got {_show(v)}")
        return Compare(equals=v)
    if "range" in given:
        r = t.table["range"]
        if not (isinstance(r, list) and len(r) == 2 and
                all(type(x) in (int, float) for x in r)):
            t.error("range", f"must be [LOW, HIGH], two numbers, got "
                    f"{_show(r)}")
        if r[0] > r[1]:
            t.error("range", f"LOW {r[0]:g} is above HIGH {r[1]:g}")
        return Compare(low=r[0], high=r[1])
    low = t.number("min")
    high = t.number("max")
    if low is not None and high is not None and low > high:
        t.error("max", f"{high:g} is below min {low:g}")
    return Compare(low=low, high=high)


def _path(t: _Table, key: str) -> list[Segment]:
    text = t.need_str(key)
    try:
        return parse_path(text)
    except PathError as e:
        t.error(key, f"{text!r}: {e}")


def _regex(t: _Table, key: str, required: bool = True) -> str | None:
    text = t.string(key, required=required)
    if text is None:
        return None
    try:
        re.compile(text)
    except re.error as e:
        t.error(key, f"not a regular expression: {e}")
    return text


def _mac(t: _Table, key: str) -> str | None:
    v = t.string(key)
    if v is None:
        return None
    v = v.lower()
    if v == "broadcast":
        return "ff:ff:ff:ff:ff:ff"
    if not MAC_RE.match(v):
        t.error(key, f"must be a MAC address (aa:bb:cc:dd:ee:ff) or "
                f"'broadcast', got {t.table[key]!r}")
    return v


def _traffic(t: _Table) -> dict | None:
    tr = t.sub("traffic")
    if tr is None:
        return None
    tr.check_keys({"blade", "command", "http", "count", "forward"})
    if tr.has("http") == tr.has("command"):
        tr.error(None, "give http = PATH, or blade and command")
    if tr.has("http"):
        path = tr.need_str("http")
        if not path.startswith("/"):
            tr.error("http", f"must start with '/', got {path!r}")
        return {"http": path, "count": tr.integer("count", 1, 1, 1000),
                "forward": tr.integer("forward", 0, 0, 63)}
    if tr.has("count") or tr.has("forward"):
        tr.error("count" if tr.has("count") else "forward",
                 "only with http")
    return {"blade": tr.need_str("blade"), "command": tr.need_str("command")}


def _named(t: _Table, kind: str) -> _Table:
    """A check's label by its name where it has a good one
    (check.code-errors.min), else by its place (check[2].min)."""
    name = t.table.get("name")
    if isinstance(name, str) and ITEM_RE.match(name):
        t.label = f"{kind}.{name}"
    return t


def _check(t: _Table, names: set[str], topo: topology.Topology,
           nested: bool = False) -> Check:
    kind = t.need_str("kind", choices=CHECK_KINDS)
    t.check_keys(COMMON_KEYS | CHECK_KEYS[kind])
    if nested:
        name = t.string("name", "condition", pattern=ITEM_RE,
                     rule="must be 1 to 40 of a-z, 0-9 and '-', starting "
                     "with a letter")
    else:
        name = t.need_str("name", pattern=ITEM_RE,
                          rule="must be 1 to 40 of a-z, 0-9 and '-', "
                          "starting with a letter")
    assert name is not None
    if name in names:
        t.error("name", f"{name!r} is already the name of another check")
    names.add(name)
    what = t.string("what", "") or ""
    line = t.doc.positions.line(t.path) or 0
    p: dict[str, Any] = {}
    cmp: Compare | None = None
    if kind == "state":
        p["chassis"] = t.string("chassis")
        p["path"] = _path(t, "path")
        p["tree"] = t.string("tree", "live", choices=TREES)
        p["since"] = t.string("since", choices=("start",))
        p["at"] = t.string("at", choices=("start",))
        if p["since"] and p["at"]:
            t.error("at", "give since or at, not both")
        if p["tree"] != "live" and (p["since"] or p["at"]):
            t.error("tree", "a vtime-snapshot has no start to compare with")
        p["relative_to"] = (_path(t, "relative_to")
                            if t.has("relative_to") else None)
        if t.has("present"):
            p["present"] = t.boolean("present", True)
            if [k for k in COMPARE_KEYS if t.has(k)]:
                t.error("present", "give present, or a comparison, not "
                        "both")
        else:
            cmp = _compare(t, numeric_only=bool(p["since"] or
                                                p["relative_to"]))
    elif kind == "console":
        p["blade"] = t.need_str("blade")
        p["command"] = t.string("command")
        p["regex"] = _regex(t, "regex")
        p["status"] = t.integer("status", 0 if p["command"] else None, 0, 255)
        if t.has("status") and not p["command"]:
            t.error("status", "only with a command (without one the check "
                    "reads the console's log)")
        p["timeout"] = t.number("timeout", 60, 1, 3600)
        cmp = _compare(t, numeric_only=True, required=False)
        if cmp is not None and re.compile(p["regex"]).groups < 1:
            t.error("regex", "a comparison needs a group in the regex: the "
                    "number it compares")
    elif kind == "capture":
        p["port"] = t.need_str("port")
        p["seconds"] = t.number("seconds", 1.0, 0.1, 600)
        p["traffic"] = _traffic(t)
        p["symbols"] = t.boolean("symbols", False)
        p["ethertype"] = t.integer("ethertype", None, 0, 0xffff)
        p["src"] = _mac(t, "src")
        p["dst"] = _mac(t, "dst")
        p["contains"] = t.strings("contains")
        cmp = _compare(t, numeric_only=True,
                       required=p["contains"] is None)
    elif kind == "share":
        p["chassis"] = t.string("chassis")
        p["service"] = t.need_str("service")
        p["blades"] = t.strings("blades")
        if p["blades"] is None:
            t.error("blades", "missing: the blades whose share is summed")
        p["since"] = t.string("since", choices=("start",))
        p["tree"] = t.string("tree", "live", choices=TREES)
        if p["tree"] != "live" and p["since"]:
            t.error("since", "a vtime-snapshot has no start to compare "
                    "with")
        p["relative_to_service"] = t.string("relative_to_service")
        cmp = _compare(t, numeric_only=True)
    elif kind == "http":
        p["path"] = t.string("path", "/")
        if not p["path"].startswith("/"):
            t.error("path", f"must start with '/', got {p['path']!r}")
        p["forward"] = t.integer("forward", 0, 0, 63)
        p["status"] = t.integer("status", 200, 100, 599)
        p["body"] = _regex(t, "body", required=False)
        p["tries"] = t.integer("tries", 1, 1, 1000)
        p["require"] = t.string("require", "all", choices=("all", "any"))
        p["timeout"] = t.number("timeout", 30, 1, 600)
    elif kind == "latency":
        p["blade"] = t.need_str("blade")
        p["service"] = t.need_str("service")
        p["percentile"] = t.number("percentile", None, 0, 100)
        if p["percentile"] is None:
            t.error("percentile", "missing: which percentile of the "
                    "response times (50: the median, 99: p99)")
        if p["percentile"] == 0:
            t.error("percentile", "must be above 0 (50: the median, 99: "
                    "p99)")
        p["relative_to_service"] = t.string("relative_to_service")
        cmp = _compare(t, numeric_only=True)
    wait = t.number("wait", 0.0, 0, 3600) or 0.0
    _against(t, kind, p, topo)
    return Check(name, kind, what, line, p, cmp, float(wait),
                 t.string("needs"))


def _names(items: list) -> str:
    return ", ".join(x.name for x in items) or "none"


def _chassis_of(t: _Table, topo: topology.Topology, key: str,
                name: str | None) -> topology.Chassis:
    if name is None:
        return topo.front() or topo.chassis[0]
    ch = topo.by_name(name)
    if ch is None:
        t.error(key, f"no chassis {name!r} in topology {topo.name} "
                f"(chassis: {_names(topo.chassis)})")
    return ch


def _blade_name(t: _Table, topo: topology.Topology, key: str, name: str,
                index: int | None = None) -> None:
    if any(b.name == name for _, b in topo.blades()):
        return
    msg = (f"no blade {name!r} in topology {topo.name} (blades: "
           f"{_names([b for _, b in topo.blades()])})")
    if index is None:
        t.error(key, msg)
    t.doc.fail(t.path + (key, index), f"{t.key_label(key)}[{index}]", msg)


def _forward(t: _Table, topo: topology.Topology, key: str,
             index: int) -> None:
    front = topo.front()
    n = len(front.uplink.forwards) if front and front.uplink else 0
    if index >= n:
        t.error(key, f"topology {topo.name} forwards {n} host port(s): no "
                f"forward {index}")


def _against(t: _Table, kind: str, p: dict,
             topo: topology.Topology) -> None:
    """What a check names must be in its topology: chassis, blades,
    ports, services, forwarded host ports."""
    if kind in ("state", "share"):
        ch = _chassis_of(t, topo, "chassis", p["chassis"])
        if kind == "share":
            for key in ("service", "relative_to_service"):
                name = p[key]
                if name is not None and not any(
                        s.name == name for s in ch.services + ch.steering):
                    t.error(key, f"chassis {ch.name} has no service "
                            f"{name!r} (services: "
                            f"{_names(ch.services + ch.steering)})")
            for i, b in enumerate(p["blades"]):
                _blade_name(t, topo, "blades", b, i)
    elif kind == "console":
        _blade_name(t, topo, "blade", p["blade"])
    elif kind == "capture":
        from .chassis import find_port
        try:
            find_port(topo, p["port"])
        except Failure as e:
            t.error("port", str(e))
        tr = p["traffic"]
        sub = t.sub("traffic")
        if tr and sub and "blade" in tr:
            _blade_name(sub, topo, "blade", tr["blade"])
        if tr and sub and "http" in tr:
            _forward(sub, topo, "forward", tr["forward"])
    elif kind == "http":
        _forward(t, topo, "forward", p["forward"])
    elif kind == "latency":
        _loadgen_targets(t, topo, p)


def _loadgen_targets(t: _Table, topo: topology.Topology, p: dict) -> None:
    """A latency check's blade runs blade-loadgen, and its services'
    VIPs are among its targets: p gets the number of targets and the
    target of each service (the log numbers them in the order of
    blade.run)."""
    from .lbvirtual import loadgen_targets
    _blade_name(t, topo, "blade", p["blade"])
    blade = next(b for _, b in topo.blades() if b.name == p["blade"])
    targets = loadgen_targets(blade.append)
    if not targets:
        t.error("blade", f"blade {blade.name} runs no blade-loadgen with "
                f"targets from blade.run: it has no log of requests")
    p["targets"] = len(targets)
    services = [s for ch in topo.chassis for s in ch.services]
    for key in ("service", "relative_to_service"):
        name = p[key]
        if name is None:
            continue
        svc = next((s for s in services if s.name == name), None)
        if svc is None:
            t.error(key, f"no service {name!r} in topology {topo.name} "
                    f"(services: {_names(services)})")
        if svc.vip not in targets:
            t.error(key, f"service {name}'s VIP {svc.vip} is not one of "
                    f"{blade.name}'s blade-loadgen targets "
                    f"({', '.join(targets)})")
        p[f"{key}_target"] = targets.index(svc.vip)


def load_checks(path: str) -> Lab:
    """Read and check a checks file; its [lab] table names the exercise
    and its topology (relative to the file)."""
    doc, data = _read_doc(path, "checks file")
    top = _Table(doc, data, (), "")
    top.check_keys({"lab", "check"})
    head = top.sub("lab")
    if head is None:
        doc.fail(("lab",), "lab", "missing: a [lab] table with number, "
                 "title, minutes and topology")
    head.check_keys({"number", "title", "minutes", "topology", "summary"})
    number = head.integer("number", None, 1, 99)
    if number is None:
        head.error("number", "missing")
    m = FILE_RE.match(os.path.basename(path))
    if m and int(m.group(1)) != number:
        head.error("number", f"{number} is not the file's number "
                   f"({m.group(1)})")
    title = head.need_str("title")
    minutes = head.integer("minutes", None, 30, 60)
    if minutes is None:
        head.error("minutes", "missing (an exercise takes 30 to 60)")
    topo_rel = head.need_str("topology")
    base = os.path.dirname(os.path.abspath(path))
    topo_path = os.path.normpath(os.path.join(base, topo_rel))
    if not os.path.isfile(topo_path):
        head.error("topology", f"no file {topo_path}")
    checks_t = top.tables("check", "check")
    if not checks_t:
        doc.fail(("check",), "check", "no [[check]] table: an exercise "
                 "needs at least one check")
    try:
        topo = topology.load(topo_path)
    except Failure as e:
        head.error("topology", str(e))
    names: set[str] = set()
    checks = [_check(_named(t, "check"), names, topo) for t in checks_t]
    handout = path[:-len(CHECKS_SUFFIX)] + ".md"
    return Lab(number, title, minutes, topo_path, os.path.abspath(path),
               handout, head.string("summary", "") or "", checks)


STEP_KEYS = {
    "console": {"blade", "command", "timeout", "status"},
    "qom-set": {"blade", "chassis", "path", "property", "value"},
    "qmp": {"blade", "chassis", "command", "arguments"},
    "sleep": {"seconds"},
    "http": {"path", "forward", "count"},
    "kill": {"target"},
    "restart": {"target"},
    "wait": {"timeout", "check"},
    "wait-log": {"blade", "regex", "timeout"},
}


def _step(t: _Table, topo: topology.Topology) -> Step:
    do = t.need_str("do", choices=STEP_KINDS)
    t.check_keys({"do", "what"} | STEP_KEYS[do])
    p: dict[str, Any] = {"what": t.string("what", "")}
    check = None
    if do in ("console", "wait-log"):
        p["blade"] = t.need_str("blade")
        if do == "console":
            p["command"] = t.need_str("command")
            p["status"] = t.integer("status", 0, -1, 255)
        else:
            p["regex"] = _regex(t, "regex")
        p["timeout"] = t.number("timeout", 60, 1, 7200)
    elif do in ("qom-set", "qmp"):
        if t.has("blade") == t.has("chassis"):
            t.error(None, "give blade or chassis")
        p["blade"] = t.string("blade")
        p["chassis"] = t.string("chassis")
        if do == "qom-set":
            p["path"] = t.string("path")
            p["property"] = t.need_str("property")
            if not t.has("value"):
                t.error("value", "missing")
            p["value"] = t.scalar("value")
        else:
            p["command"] = t.need_str("command")
            args = t.sub("arguments")
            p["arguments"] = dict(args.table) if args else {}
    elif do == "sleep":
        p["seconds"] = t.number("seconds", None, 0, 3600)
        if p["seconds"] is None:
            t.error("seconds", "missing")
    elif do == "http":
        p["path"] = t.need_str("path")
        p["forward"] = t.integer("forward", 0, 0, 63)
        p["count"] = t.integer("count", 1, 1, 10000)
    elif do in ("kill", "restart"):
        p["target"] = t.need_str("target")
    elif do == "wait":
        p["timeout"] = t.number("timeout", 60, 1, 7200)
        inner = t.sub("check")
        if inner is None:
            t.error("check", "missing: the condition, a check table")
        check = _check(inner, set(), topo, nested=True)
        if check.needs:
            inner.error("needs", "not in a step")
    if p.get("blade") is not None:
        _blade_name(t, topo, "blade", p["blade"])
    if p.get("chassis") is not None:
        _chassis_of(t, topo, "chassis", p["chassis"])
    if do == "http":
        _forward(t, topo, "forward", p["forward"])
    if do in ("kill", "restart") and topo.by_name(p["target"]) is None \
            and not any(b.name == p["target"] for _, b in topo.blades()):
        t.error("target", f"no chassis or blade {p['target']!r} in "
                f"topology {topo.name} (chassis: {_names(topo.chassis)}; "
                f"blades: {_names([b for _, b in topo.blades()])})")
    line = t.doc.positions.line(t.path) or 0
    return Step(do, line, p, check)


def load_solution(path: str, topo: topology.Topology) -> Solution:
    """Read and check a solution file, against the exercise's
    topology."""
    doc, data = _read_doc(path, "solution file")
    top = _Table(doc, data, (), "")
    top.check_keys({"patch", "step"})
    patch = None
    if top.has("patch"):
        rel = top.need_str("patch")
        patch = os.path.normpath(os.path.join(
            os.path.dirname(os.path.abspath(path)), rel))
        if not os.path.isfile(patch):
            top.error("patch", f"no file {patch}")
    steps = [_step(t, topo) for t in top.tables("step", "step")]
    if not steps and patch is None:
        doc.fail(("step",), "step", "no [[step]] table and no patch: a "
                 "solution does something")
    return Solution(patch, steps)


def discover(labs_dir: str = LABS_DIR) -> list[Lab]:
    """Every exercise of labs_dir, by number."""
    labs = []
    for path in sorted(glob.glob(os.path.join(labs_dir,
                                              "[0-9][0-9]-*" +
                                              CHECKS_SUFFIX))):
        labs.append(load_checks(path))
    seen: dict[int, str] = {}
    for lab in labs:
        if lab.number in seen:
            raise LabError(f"{lab.path}: lab.number: {lab.number} is also "
                           f"{seen[lab.number]}'s")
        seen[lab.number] = lab.path
    return labs


def find(number: int, labs_dir: str = LABS_DIR) -> Lab:
    labs = discover(labs_dir)
    for lab in labs:
        if lab.number == number:
            return lab
    raise Failure(f"no exercise {number} (exercises: "
                  f"{', '.join(str(lab.number) for lab in labs) or 'none'};"
                  f" 'bladeplane lab list')")


# ---- list ----------------------------------------------------------------


def topology_summary(topo: topology.Topology) -> str:
    blades = len(topo.blades())
    n = len(topo.chassis)
    words = [f"{n} chassis", f"{blades} blade{'s' if blades != 1 else ''}"]
    if topo.virtual():
        words.append("virtual time")
    return ", ".join(words)


def list_lines(labs: list[Lab]) -> list[str]:
    out = []
    width = max((len(lab.title) for lab in labs), default=0)
    for lab in labs:
        topo = topology.load(lab.topology)
        rel = os.path.relpath(lab.topology, REPO)
        out.append(f"{lab.number:2d}  {lab.title:<{width}}  "
                   f"{lab.minutes} min  {rel} ({topology_summary(topo)})")
    return out


# ---- the running topology ------------------------------------------------


class Env:
    """What checks and steps act on: the topology that is up, and the
    switches' state trees when the lab started (None: unknown)."""

    def __init__(self, run: rundir.Run, start: dict | None,
                 log: Callable[[str], None] = print):
        self.run = run
        self.spec = topology.from_dict(run.state["spec"])
        self.start = start
        self.log = log

    def chassis_name(self, name: str | None) -> str:
        if name is None:
            front = self.spec.front() or self.spec.chassis[0]
            return front.name
        if self.spec.by_name(name) is None:
            names = ", ".join(c.name for c in self.spec.chassis)
            raise Unresolved(f"no chassis {name!r} in topology "
                             f"{self.spec.name} (chassis: {names})")
        return name

    def qmp_path(self, chassis: str) -> str:
        return self.run.state["chassis"][chassis]["qmp"]

    def tree(self, chassis: str, which: str = "live") -> dict:
        from .chassis import python_names, read_switch
        from .qmp import QMP, CommandError, QMPError
        try:
            if which == "live":
                return read_switch(self.qmp_path(chassis),
                                   f"chassis {chassis}", timeout=10)
            with QMP.connect(self.qmp_path(chassis),
                             f"chassis {chassis}") as q:
                value = q.execute("qom-get", {"path": SWITCH_PATH,
                                              "property": "vtime-snapshot"})
            if not isinstance(value, dict):
                raise Unresolved(f"chassis {chassis}: its vtime-snapshot is "
                                 f"not an object")
            return python_names(value)
        except CommandError as e:
            if e.desc.startswith("no snapshot"):
                raise Unresolved(f"chassis {chassis} has no vtime-snapshot "
                                 f"yet: its clock has not reached the "
                                 f"topology's vtime-snapshot-ns (wait until "
                                 f"the run has ended)")
            raise Unresolved(str(e))
        except QMPError as e:
            raise Unresolved(f"chassis {chassis} does not answer: {e}")

    def start_tree(self, chassis: str) -> dict:
        if self.start is None:
            raise Unresolved("no state from the start of the lab: start it "
                             "with 'bladeplane lab start N', not 'up'")
        tree = self.start.get("trees", {}).get(chassis)
        if tree is None:
            raise Unresolved(f"no state of chassis {chassis} from the start "
                             f"of the lab")
        return tree

    def blade(self, name: str) -> dict:
        for p in self.run.processes():
            if p["kind"] == "blade" and p["name"] == name:
                return p
        names = [p["name"] for p in self.run.processes()
                 if p["kind"] == "blade"]
        raise Unresolved(f"no blade {name!r} in topology {self.spec.name} "
                         f"(blades: {', '.join(names) or 'none'})")

    def blade_key(self, name: str) -> tuple[str, int]:
        for ch, b in self.spec.blades():
            if b.name == name:
                return ch.name, b.slot
        raise Unresolved(f"no blade {name!r} in topology {self.spec.name}")

    def forward(self, index: int) -> tuple[str, int]:
        front = self.spec.front()
        forwards = front.uplink.forwards if front and front.uplink else []
        if index >= len(forwards):
            raise Unresolved(f"topology {self.spec.name} has "
                             f"{len(forwards)} forwarded host port(s), no "
                             f"forward {index}")
        f = forwards[index]
        return f.host_addr or "127.0.0.1", f.host_port

    def console(self, blade: str, command: str,
                timeout: float) -> tuple[int, str]:
        from .console import ConsoleError, ConsoleSession
        proc = self.blade(blade)
        try:
            session = ConsoleSession(proc["console"], f"blade {blade}")
        except ConsoleError as e:
            raise Unresolved(str(e))
        try:
            return session.run(command, timeout=timeout)
        except ConsoleError as e:
            raise Unresolved(f"{e} (is 'bladeplane console {blade}' "
                             f"attached? a console serves one client: "
                             f"leave it with Ctrl-] and check again)")
        finally:
            session.close()

    def console_log(self, blade: str) -> str:
        path = self.blade(blade).get("console_log")
        try:
            with open(path or "", "rb") as f:
                data = f.read()
        except OSError as e:
            raise Unresolved(f"blade {blade}: cannot read its console log: "
                             f"{e.strerror or e}")
        return data.decode(errors="replace").replace("\r\n", "\n")

    def http_get(self, index: int, path: str,
                 timeout: float) -> tuple[int, str]:
        host, port = self.forward(index)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read(65536).decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            raise Unresolved(f"GET http://{host}:{port}{path}: "
                             f"{getattr(e, 'strerror', None) or e}")
        finally:
            conn.close()

    def qmp(self, target: str, command: str, args: dict) -> object:
        from .qmp import QMP, QMPError
        if self.spec.by_name(target) is not None:
            path, what = self.qmp_path(target), f"chassis {target}"
        else:
            path, what = self.blade(target)["qmp"], f"blade {target}"
        try:
            with QMP.connect(path, what) as q:
                return q.execute(command, args)
        except QMPError as e:
            raise Unresolved(str(e))


def snapshot(run: rundir.Run) -> dict:
    """The switches' state trees now: what 'start' means to the checks."""
    spec = topology.from_dict(run.state["spec"])
    env = Env(run, None)
    trees = {}
    for ch in spec.chassis:
        try:
            trees[ch.name] = env.tree(ch.name)
        except Unresolved:
            pass
    return {"format": 1, "topology": spec.name,
            "run_started": run.state.get("started"),
            "time": rundir.now_iso(), "trees": trees}


# ---- evaluating checks ---------------------------------------------------


@dataclasses.dataclass
class Result:
    check: Check
    ok: bool
    reason: str


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unresolved(f"{what} is {_brief(value)}, not a number")
    return value


def eval_state(c: Check, env: Env) -> tuple[bool, str]:
    p = c.params
    ch = env.chassis_name(p["chassis"])
    path = path_text(p["path"])
    if p["at"] == "start":
        tree = env.start_tree(ch)
        where = f"{ch} at the start"
    else:
        tree = env.tree(ch, p["tree"])
        where = ch if p["tree"] == "live" else f"{ch}'s vtime-snapshot"
    if "present" in p:
        try:
            resolve(tree, p["path"])
            found = True
        except Unresolved:
            found = False
        want = p["present"]
        return found == want, (f"{where}: {path} is "
                               f"{'present' if found else 'absent'}"
                               f" (want {'present' if want else 'absent'})")
    value = resolve(tree, p["path"])
    text = f"{where}: {path} = {_fmt(value)}"
    if p["since"]:
        before = resolve(env.start_tree(ch), p["path"])
        now = value
        value = _number(now, path) - _number(before, path + " at the "
                                             "start")
        text = (f"{where}: {path} went from {_fmt(before)} to "
                f"{_fmt(now)}: {_fmt(value)}")
    if p["relative_to"] is not None:
        other_path = path_text(p["relative_to"])
        other = _number(resolve(tree, p["relative_to"]), other_path)
        if p["since"]:
            other -= _number(resolve(env.start_tree(ch), p["relative_to"]),
                             other_path)
        if other == 0:
            raise Unresolved(f"{text}; {other_path} is 0: no ratio")
        value = _number(value, path) / other
        text += f", {_fmt(value)} times {other_path}"
    assert c.compare is not None
    return c.compare.judge(value), f"{text} (want {c.compare.text()})"


def eval_console(c: Check, env: Env) -> tuple[bool, str]:
    p = c.params
    if p["command"]:
        status, out = env.console(p["blade"], p["command"], p["timeout"])
        where = f"{p['blade']}$ {p['command']}"
        if p["status"] is not None and status != p["status"]:
            tail = out.strip().splitlines()[-1:] or ["no output"]
            return False, (f"{where}: exit status {status} (want "
                           f"{p['status']}): {tail[0][:160]}")
    else:
        out = env.console_log(p["blade"])
        where = f"{p['blade']}'s console log"
    m = re.search(p["regex"], out, re.M)
    if not m:
        return False, f"{where}: nothing matches /{p['regex']}/"
    shown = m.group(0).strip()[:120]
    if c.compare is None:
        return True, f"{where}: {shown!r}"
    try:
        value = float(m.group(1))
    except (TypeError, ValueError):
        return False, f"{where}: {m.group(1)!r} is not a number"
    if value.is_integer():
        value = int(value)
    return c.compare.judge(value), (f"{where}: {shown!r}: {_fmt(value)} "
                                    f"(want {c.compare.text()})")


def pcap_records(path: str) -> list[bytes]:
    """The frames of a pcap file (Ethernet link type); [] if it is
    empty."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    order: Literal["little", "big"]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "little"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = "big"
    else:
        raise Unresolved(f"{path} is not a pcap file")
    frames = []
    i = 24
    while i + 16 <= len(data):
        incl = int.from_bytes(data[i + 8:i + 12], order)
        frame = data[i + 16:i + 16 + incl]
        if len(frame) < incl:
            break
        frames.append(frame)
        i += 16 + incl
    return frames


def _mac_text(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def frame_matches(frame: bytes, ethertype: int | None, src: str | None,
                  dst: str | None) -> bool:
    if len(frame) < 14:
        return False
    if dst is not None and _mac_text(frame[0:6]) != dst:
        return False
    if src is not None and _mac_text(frame[6:12]) != src:
        return False
    if ethertype is not None:
        etype = int.from_bytes(frame[12:14], "big")
        if etype == 0x8100 and len(frame) >= 18:        # a VLAN tag
            etype = int.from_bytes(frame[16:18], "big")
        if etype != ethertype:
            return False
    return True


def run_traffic(env: Env, traffic: dict | None) -> str:
    """What a capture check does while it captures; a few words."""
    if traffic is None:
        return ""
    if "http" in traffic:
        codes = []
        for _ in range(traffic["count"]):
            try:
                status, _ = env.http_get(traffic["forward"],
                                         traffic["http"], 30)
                codes.append(str(status))
            except Unresolved:
                codes.append("failed")
        return f"{traffic['count']} GET {traffic['http']}: " \
               f"{', '.join(sorted(set(codes)))}"
    status, _ = env.console(traffic["blade"], traffic["command"], 120)
    return f"{traffic['blade']}$ {traffic['command']}: exit {status}"


SYMBOLS_MISSING = ("needs 'bladeplane capture --symbols', which this "
                   "checkout does not have yet")


def capture(env: Env, port: str, seconds: float, traffic: dict | None,
            symbols: bool, workdir: str) -> tuple[str, list[str], str]:
    """Capture a port with the CLI's `capture` while the traffic runs and
    `seconds` after it: the pcap file, the other files the capture wrote
    (utilization log, code groups), and what the traffic did."""
    pcap = os.path.join(workdir, "capture.pcap")
    argv = [sys.executable, CLI, "capture", port, "-t", env.run.name,
            "-w", pcap] + (["--symbols"] if symbols else [])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    if not first.startswith("capturing"):
        _, err = proc.communicate(timeout=60)
        if symbols and "--symbols" in err:
            raise Unresolved(SYMBOLS_MISSING)
        raise Unresolved(f"capture {port}: "
                         f"{(first + err).strip()[-300:] or 'failed'}")
    try:
        done = run_traffic(env, traffic)
        time.sleep(seconds)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    if proc.returncode not in (0, 1, 130):
        raise Unresolved(f"capture {port}: {err.strip()[-300:]}")
    others = sorted(os.path.join(workdir, n) for n in os.listdir(workdir)
                    if os.path.join(workdir, n) != pcap)
    if not os.path.exists(pcap):
        raise Unresolved(f"capture {port} wrote no {pcap}: "
                         f"{(out + err).strip()[-300:]}")
    return pcap, others, done


def eval_capture(c: Check, env: Env) -> tuple[bool, str]:
    p = c.params
    with tempfile.TemporaryDirectory(prefix="bplab-cap") as work:
        pcap, others, done = capture(env, p["port"], p["seconds"],
                                     p["traffic"], p["symbols"], work)
        frames = pcap_records(pcap)
        texts = []
        suffix = ".sym" if p["symbols"] else ".util.log"
        for path in others:
            if not path.endswith(suffix):
                continue
            with open(path, "rb") as f:
                texts.append(f.read().decode(errors="replace"))
    during = f" while {done}" if done else ""
    words = []
    ok = True
    if c.compare is not None:
        n = sum(frame_matches(f, p["ethertype"], p["src"], p["dst"])
                for f in frames)
        flt = [f"EtherType 0x{p['ethertype']:04x}"
               if p["ethertype"] is not None else "",
               f"from {p['src']}" if p["src"] else "",
               f"to {p['dst']}" if p["dst"] else ""]
        which = " ".join(w for w in flt if w) or "any"
        ok = c.compare.judge(n)
        words.append(f"{n} of {len(frames)} frames match ({which}; want "
                     f"{c.compare.text()})")
    if p["contains"]:
        text = "\n".join(texts)
        missing = [s for s in p["contains"]
                   if not re.search(rf"(?<![\w.]){re.escape(s)}(?![\w.])",
                                    text)]
        what = ("the symbol capture" if p["symbols"] else
                "the utilization log")
        if not texts:
            ok = False
            words.append(f"{what} was not written")
        elif missing:
            ok = False
            words.append(f"{what} lacks {', '.join(missing)}")
        else:
            words.append(f"{what} has {', '.join(p['contains'])}")
    return ok, f"{p['port']}{during}: " + "; ".join(words)


def _share_entry(service: dict, key: tuple[str, int], local: str) -> dict:
    for x in service.get("share", []):
        chassis = x.get("chassis") or local
        if (chassis, x.get("slot")) == key:
            return x
    return {}


def _service(tree: dict, name: str, where: str) -> dict:
    for s in tree.get("services", []):
        if s.get("name") == name:
            return s
    names = [s.get("name") for s in tree.get("services", [])]
    raise Unresolved(f"{where} has no service {name!r} (services: "
                     f"{', '.join(str(n) for n in names) or 'none'})")


def service_share(env: Env, chassis: str, tree: dict, service: str,
                  blades: list[str], before: dict | None) -> tuple[float,
                                                                  int]:
    """The blades' share of a service's new flows (since `before`), and
    the new flows it counts."""
    svc = _service(tree, service, f"chassis {chassis}")
    old = _service(before, service, f"chassis {chassis} at the start") \
        if before is not None else {}
    total = svc.get("new_flows", 0) - old.get("new_flows", 0)
    mine = 0
    for name in blades:
        key = env.blade_key(name)
        mine += (_share_entry(svc, key, chassis).get("new_flows", 0) -
                 _share_entry(old, key, chassis).get("new_flows", 0))
    if total <= 0:
        raise Unresolved(f"service {service} of chassis {chassis} got no "
                         f"new flows" + (" since the start" if before
                                         is not None else ""))
    return mine / total, total


def eval_share(c: Check, env: Env) -> tuple[bool, str]:
    p = c.params
    ch = env.chassis_name(p["chassis"])
    tree = env.tree(ch, p["tree"])
    before = env.start_tree(ch) if p["since"] else None
    share, total = service_share(env, ch, tree, p["service"], p["blades"],
                                 before)
    who = "+".join(p["blades"])
    text = (f"{who}: {share:.1%} of {p['service']}'s {total} new flows"
            + (" since the start" if before is not None else ""))
    value = share
    if p["relative_to_service"]:
        other, n = service_share(env, ch, tree, p["relative_to_service"],
                                 p["blades"], before)
        if other == 0:
            raise Unresolved(f"{text}; {who} got none of "
                             f"{p['relative_to_service']}'s {n}: no ratio")
        value = share / other
        text += (f", {other:.1%} of {p['relative_to_service']}'s {n}: "
                 f"{value:.3g} times")
    assert c.compare is not None
    return c.compare.judge(value), f"{text} (want {c.compare.text()})"


def eval_http(c: Check, env: Env) -> tuple[bool, str]:
    p = c.params
    host, port = env.forward(p["forward"])
    url = f"http://{host}:{port}{p['path']}"
    good = 0
    last = ""
    for i in range(p["tries"]):
        try:
            status, body = env.http_get(p["forward"], p["path"],
                                        p["timeout"])
        except Unresolved as e:
            ok, last = False, str(e)
        else:
            first = body.strip().splitlines()[:1] or [""]
            last = f"{status} {first[0][:100]!r}"
            ok = status == p["status"] and (
                p["body"] is None or re.search(p["body"], body, re.M)
                is not None)
        good += ok
        if ok and p["require"] == "any":
            return True, f"GET {url}: try {i + 1}: {last}"
        if not ok and p["require"] == "all":
            want = f"{p['status']}" + (f" and /{p['body']}/" if p["body"]
                                       else "")
            return False, (f"GET {url}: try {i + 1} of {p['tries']}: "
                           f"{last} (want {want})")
    if p["require"] == "all":
        return True, f"GET {url}: {good} of {p['tries']} answered: {last}"
    return False, (f"GET {url}: none of {p['tries']} tries answered "
                   f"{p['status']}" + (f" with /{p['body']}/" if p["body"]
                                       else "") + f"; the last: {last}")


def eval_latency(c: Check, env: Env) -> tuple[bool, str]:
    from .lbemu import percentile
    from .lbvirtual import ClientLog, run_output
    p = c.params
    blade = p["blade"]
    try:
        log = ClientLog(run_output(env.console_log(blade)), p["targets"])
    except Failure as e:
        raise Unresolved(f"{blade}'s console log: {e}")
    name = f"p{p['percentile']:g}"

    def quantile_ms(key: str) -> tuple[float, int]:
        times = [rt for _, _, _, rt, _ in log.requests[p[key + "_target"]]]
        if not times:
            raise Unresolved(f"{blade}'s run has no answered request to "
                             f"{p[key]}")
        # the log's times are integer ns: round away the seconds' float
        ns = round(percentile(times, p["percentile"] / 100) * 1e9)
        return ns / 1e6, len(times)

    value, n = quantile_ms("service")
    text = (f"{blade}'s run: {p['service']} {name} {value:.6f} ms of {n} "
            f"requests")
    if p["relative_to_service"]:
        other, m = quantile_ms("relative_to_service")
        if other == 0:
            raise Unresolved(f"{text}; {p['relative_to_service']}'s {name} "
                             f"is 0: no ratio")
        value /= other
        text += (f", {p['relative_to_service']} {name} {other:.6f} ms of "
                 f"{m}: {value:.4g} times")
    assert c.compare is not None
    return c.compare.judge(value), f"{text} (want {c.compare.text()})"


EVALUATORS: dict[str, Callable[[Check, Env], tuple[bool, str]]] = {
    "state": eval_state, "console": eval_console, "capture": eval_capture,
    "share": eval_share, "http": eval_http, "latency": eval_latency}


def evaluate(c: Check, env: Env) -> Result:
    """One check, retried until it passes or its `wait` is over."""
    deadline = time.monotonic() + c.wait
    while True:
        try:
            ok, reason = EVALUATORS[c.kind](c, env)
        except Unresolved as e:
            ok, reason = False, str(e)
        if ok or time.monotonic() >= deadline:
            if not ok and c.wait:
                reason += f" (still so after {c.wait:g} s)"
            if not ok and c.needs and reason == SYMBOLS_MISSING:
                reason = f"{SYMBOLS_MISSING} (the check needs {c.needs})"
            return Result(c, ok, reason)
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


# ---- the reference solution ----------------------------------------------


def step_text(s: Step) -> str:
    p = s.params
    if p.get("what"):
        return str(p["what"])
    if s.do == "console":
        return f"{p['blade']}$ {p['command']}"
    if s.do == "qom-set":
        return (f"qom-set {p['blade'] or p['chassis']} {p['property']}="
                f"{_fmt(p['value'])}")
    if s.do == "qmp":
        return (f"qmp {p['blade'] or p['chassis']} {p['command']} "
                f"{json.dumps(p['arguments'])}")
    if s.do == "sleep":
        return f"sleep {p['seconds']:g} s"
    if s.do == "http":
        return f"{p['count']} x GET {p['path']}"
    if s.do in ("kill", "restart"):
        return f"{s.do} {p['target']}"
    if s.do == "wait":
        return f"wait up to {p['timeout']:g} s: {s.check and s.check.what}"
    return f"wait up to {p['timeout']:g} s for /{p['regex']}/ in " \
           f"{p['blade']}'s console log"


def apply_step(s: Step, env: Env) -> None:
    """Do one step of a solution; Failure if it did not work."""
    p = s.params
    try:
        if s.do == "console":
            status, out = env.console(p["blade"], p["command"], p["timeout"])
            if p["status"] >= 0 and status != p["status"]:
                raise Failure(f"exit status {status}: {out.strip()[-200:]}")
        elif s.do == "qom-set":
            target = p["blade"] or p["chassis"]
            path = p["path"] or (NIC_PATH if p["blade"] else SWITCH_PATH)
            env.qmp(target, "qom-set", {"path": path,
                                        "property": p["property"],
                                        "value": p["value"]})
        elif s.do == "qmp":
            env.qmp(p["blade"] or p["chassis"], p["command"],
                    p["arguments"])
        elif s.do == "sleep":
            time.sleep(p["seconds"])
        elif s.do == "http":
            for _ in range(p["count"]):
                env.http_get(p["forward"], p["path"], 30)
        elif s.do == "kill":
            _kill(env, p["target"])
        elif s.do == "restart":
            from . import chassis
            chassis.restart_named(env.run, p["target"])
        elif s.do == "wait":
            assert s.check is not None
            c = dataclasses.replace(s.check, wait=p["timeout"])
            r = evaluate(c, env)
            if not r.ok:
                raise Failure(r.reason)
        elif s.do == "wait-log":
            deadline = time.monotonic() + p["timeout"]
            while not re.search(p["regex"], env.console_log(p["blade"]),
                                re.M):
                if time.monotonic() > deadline:
                    raise Failure(f"nothing matched /{p['regex']}/ within "
                                  f"{p['timeout']:g} s")
                time.sleep(1)
    except Unresolved as e:
        raise Failure(str(e))


def _kill(env: Env, target: str) -> None:
    rec = next((p for p in env.run.processes() if p["name"] == target and
                p["kind"] in ("chassis", "blade")), None)
    if rec is None:
        raise Failure(f"no chassis or blade {target!r} in topology "
                      f"{env.spec.name}")
    try:
        os.kill(rec["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while rundir.process_alive(rec):
        if time.monotonic() > deadline:
            raise Failure(f"{target} (pid {rec['pid']}) did not die")
        time.sleep(0.05)


# ---- reports -------------------------------------------------------------


def student_name(given: str | None = None) -> str:
    name = given or os.environ.get("BLADEPLANE_STUDENT")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return name


REPORT_FIELDS = ["student", "host", "time", "lab", "title", "item", "kind",
                 "what", "result", "reason"]


def report_data(lab: Lab, results: list[Result], student: str, host: str,
                when: str, self_test: bool, topo_name: str) -> dict:
    return {"format": 1, "student": student, "host": host, "time": when,
            "lab": lab.number, "title": lab.title, "topology": topo_name,
            "self_test": self_test,
            "passed": sum(r.ok for r in results), "total": len(results),
            "items": [{"item": r.check.name, "kind": r.check.kind,
                       "what": r.check.what,
                       "result": "PASS" if r.ok else "FAIL",
                       "reason": r.reason} for r in results]}


def report_csv(data: dict) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, REPORT_FIELDS, lineterminator="\n")
    w.writeheader()
    for item in data["items"]:
        w.writerow({"student": data["student"], "host": data["host"],
                    "time": data["time"], "lab": data["lab"],
                    "title": data["title"], **item})
    return out.getvalue()


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40] or "x"


def write_report(data: dict, directory: str) -> tuple[str, str]:
    """JSON and CSV of a report in directory; their paths."""
    os.makedirs(directory, exist_ok=True)
    stamp = re.sub(r"[^0-9T]", "", data["time"][:19])
    base = os.path.join(directory, f"lab{data['lab']:02d}-"
                        f"{_file_part(data['student'])}-"
                        f"{_file_part(data['host'])}-{stamp}"
                        + ("-selftest" if data["self_test"] else ""))
    with open(base + ".json", "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    with open(base + ".csv", "w", newline="") as f:
        f.write(report_csv(data))
    return base + ".json", base + ".csv"


# ---- commands ------------------------------------------------------------


def state_file(number: int) -> str:
    return os.path.join(REPORT_DIR, "state", f"lab{number:02d}.json")


def list_labs(out: Any = None) -> int:
    out = out or sys.stdout
    labs = discover()
    if not labs:
        raise Failure(f"no exercises in {LABS_DIR}")
    for line in list_lines(labs):
        out.write(line + "\n")
    return 0


def bring_up(lab: Lab, accel: str, manifest: dict | None = None,
             build: bool = True) -> rundir.Run:
    """Up the exercise's topology as `bladeplane up` does; its Run."""
    from . import blade, chassis, qemu
    topo = topology.load(lab.topology)
    rundir.check_not_up(topo.name)
    qemu_bin = qemu.build() if build else qemu.QEMU_BIN
    chassis.check_device(qemu_bin, topo)
    if manifest is None:
        manifest = chassis.image_manifest(topo)
    if topo.virtual():
        accel, why = "tcg", "virtual time: TCG counting instructions"
    else:
        accel, why = blade.choose_accel(accel)
    print(f"accelerator: {accel} ({why})", flush=True)
    return chassis.up(topo, accel, qemu_bin, manifest)


def start(number: int, accel: str = "auto", build: bool = True) -> int:
    lab = find(number)
    print(f"lab {lab.number}: {lab.title} ({lab.minutes} min); handout "
          f"{os.path.relpath(lab.handout, REPO)}", flush=True)
    run = bring_up(lab, accel, build=build)
    snap = snapshot(run)
    snap["lab"] = lab.number
    path = state_file(lab.number)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(snap, f)
    os.replace(path + ".tmp", path)
    print(f"lab {lab.number} started: 'bladeplane lab check {lab.number}' "
          f"checks your work, 'bladeplane lab stop' ends it")
    return 0


def load_start(lab: Lab, run: rundir.Run) -> dict | None:
    """The start snapshot `lab start` kept, if it is of this run."""
    try:
        with open(state_file(lab.number)) as f:
            snap = json.load(f)
    except (OSError, ValueError):
        return None
    if snap.get("run_started") != run.state.get("started"):
        return None
    return snap


def run_checks(lab: Lab, env: Env, out: Any) -> list[Result]:
    results = []
    for c in lab.checks:
        r = evaluate(c, env)
        results.append(r)
        out.write(f"  {'PASS' if r.ok else 'FAIL'}  {c.name}: {c.what}\n"
                  f"        {r.reason}\n")
        out.flush()
    return results


def finish(lab: Lab, results: list[Result], env: Env, report_dir: str,
           student: str | None, self_test: bool, out: Any) -> int:
    passed = sum(r.ok for r in results)
    data = report_data(lab, results, student_name(student),
                       socket.gethostname(), rundir.now_iso(), self_test,
                       env.spec.name)
    json_path, csv_path = write_report(data, report_dir)
    shown = os.path.relpath(json_path)
    if shown.startswith(".."):
        shown = json_path
    out.write(f"lab {lab.number}: {passed} of {len(results)} checks "
              f"passed; report {shown} and {os.path.basename(csv_path)}\n")
    if self_test:
        out.write(f"lab_{lab.number}_checks_passed: {passed} of "
                  f"{len(results)}\n")
    out.flush()
    return 0 if passed == len(results) else 1


def check(number: int, report_dir: str | None = None,
          student: str | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    lab = find(number)
    name = topology.load(lab.topology).name
    try:
        run = rundir.find(name)
    except Failure:
        raise Failure(f"lab {number}'s topology {name} is not up: 'bladeplane"
                      f" lab start {number}' starts it")
    env = Env(run, load_start(lab, run))
    out.write(f"lab {lab.number}: {lab.title}: {len(lab.checks)} checks on "
              f"topology {name}\n")
    out.flush()
    results = run_checks(lab, env, out)
    return finish(lab, results, env, report_dir or REPORT_DIR, student,
                  False, out)


def patched_image(patch: str, workdir: str) -> dict:
    """The blade image with guest-driver/ as the patch makes it: the
    module built from a patched copy, appended to the image's initramfs
    as a second cpio archive (the kernel unpacks both, the later file
    wins), so guest-driver/ and build/images/ stay as they are."""
    from . import driver, image
    from .common import run
    manifest = image.build()
    abi = manifest["abi"]
    src = os.path.join(workdir, "src")
    os.makedirs(os.path.join(src, "guest-driver"))
    for name in os.listdir(driver.SOURCE):
        if name == "Kbuild" or (name.endswith((".c", ".h")) and
                                not name.endswith(".mod.c")):
            shutil.copy(os.path.join(driver.SOURCE, name),
                        os.path.join(src, "guest-driver", name))
    log = os.path.join(workdir, "driver.log")
    run(["patch", "-p1", "-d", src, "-i", patch], log=log)
    run(["make", "-C", driver.headers_dir(abi),
         f"M={os.path.join(src, 'guest-driver')}", "W=1", "modules"],
        log=log)
    ko = os.path.join(src, "guest-driver", driver.MODULE)
    with open(ko, "rb") as f:
        module = f.read()
    with open(manifest["initramfs"], "rb") as f:
        base = f.read()
    extra = io.BytesIO()
    cpio = image.Cpio(extra)
    cpio.file(f"lib/modules/{abi}/extra/{driver.MODULE}", module)
    cpio.close()
    initrd = os.path.join(workdir, "initramfs.cpio.gz")
    with open(initrd, "wb") as f:
        f.write(base + b"\0" * (-len(base) % 4) + extra.getvalue())
    return {"kernel": manifest["kernel"], "initramfs": initrd, "abi": abi}


def self_test(number: int, accel: str = "auto",
              report_dir: str | None = None, build: bool = True,
              out: Any = None) -> int:
    """Up the exercise's topology in a run directory of its own, apply
    the reference solution, run the checks, take it down."""
    out = out or sys.stdout
    lab = find(number)
    sol = load_solution(lab.solution, topology.load(lab.topology))
    saved = os.environ.get("BLADEPLANE_RUN_DIR")
    work = tempfile.mkdtemp(prefix="bplab", dir="/tmp")
    os.environ["BLADEPLANE_RUN_DIR"] = os.path.join(work, "run")
    run = None
    start_time = time.monotonic()
    try:
        manifest = None
        if sol.patch:
            out.write(f"lab {number}: the driver with "
                      f"{os.path.relpath(sol.patch, REPO)}\n")
            out.flush()
            manifest = patched_image(sol.patch, os.path.join(work, "image"))
        run = bring_up(lab, accel, manifest, build=build)
        env = Env(run, snapshot(run))
        for i, s in enumerate(sol.steps, 1):
            out.write(f"step {i}/{len(sol.steps)}: {step_text(s)}\n")
            out.flush()
            try:
                apply_step(s, env)
            except Failure as e:
                out.write(f"  step {i} failed: {e}\n")
        out.write(f"lab {lab.number}: {lab.title}: {len(lab.checks)} checks"
                  f"\n")
        results = run_checks(lab, env, out)
        rc = finish(lab, results, env, report_dir or REPORT_DIR, "self-test",
                    True, out)
        out.write(f"lab_{lab.number}_wall_s: "
                  f"{time.monotonic() - start_time:.0f}\n")
        return rc
    finally:
        from . import chassis
        if run is not None:
            try:
                chassis.down(run)
            except Failure as e:
                out.write(f"bladeplane: warning: {e}\n")
        for r in rundir.runs():
            rundir.stop_topology(r.processes())
        if saved is None:
            os.environ.pop("BLADEPLANE_RUN_DIR", None)
        else:
            os.environ["BLADEPLANE_RUN_DIR"] = saved
        shutil.rmtree(work, ignore_errors=True)


def stop(number: int | None = None) -> int:
    """Take the lab's topology down (without a number: the lab that is
    up)."""
    from . import chassis
    labs = [find(number)] if number is not None else discover()
    up = {r.name: r for r in rundir.runs()}
    found = []
    for lab in labs:
        name = topology.load(lab.topology).name
        if name in up:
            found.append((lab, up[name]))
    if not found:
        what = f"lab {number}'s topology" if number is not None else \
            "no lab's topology"
        raise Failure(f"{what} is not up" if number is not None else
                      f"{what} is up (up: {', '.join(up) or 'none'})")
    if len(found) > 1 and number is None:
        raise Failure("several labs are up (" + ", ".join(
            str(lab.number) for lab, _ in found) + "): name one")
    for lab, run in found:
        chassis.down(run)
        try:
            os.unlink(state_file(lab.number))
        except FileNotFoundError:
            pass
        print(f"lab {lab.number} stopped")
    return 0
