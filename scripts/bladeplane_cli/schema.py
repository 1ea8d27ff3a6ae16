"""The blade devices' QAPI schema, hw/blade/blade.json: the one list of
the balancing policies and of the values the devices' enum properties
take (pcs, util-source, util-form, util-estimator, timing).  QEMU is built
from this file, so the launcher checks a topology against the values the
devices accept without keeping a copy, and before any QEMU is built (a
topology is checked before setup has run, and the unit tests need no
QEMU).  What QEMU cannot tell (the ranges of numeric properties, which a
device checks in code) stays in topology.py."""

import functools
import json
import os

from .common import REPO

SCHEMA = os.path.join(REPO, "hw", "blade", "blade.json")


def _expressions(text: str) -> list[dict]:
    """QAPI's syntax is JSON with single-quoted strings and # comments
    (QEMU's scripts/qapi/parser.py); blade.json's strings hold neither a
    quote nor a #."""
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    body = body.replace("'", '"')
    decoder = json.JSONDecoder()
    pos = 0
    out: list[dict] = []
    while True:
        while pos < len(body) and body[pos].isspace():
            pos += 1
        if pos == len(body):
            return out
        expr, pos = decoder.raw_decode(body, pos)
        out.append(expr)


@functools.cache
def _enums() -> dict[str, tuple[str, ...]]:
    with open(SCHEMA, encoding="utf-8") as f:
        exprs = _expressions(f.read())
    return {e["enum"]: tuple(m["name"] if isinstance(m, dict) else m
                             for m in e["data"])
            for e in exprs if "enum" in e}


def enum(name: str) -> tuple[str, ...]:
    """The values of the QAPI enum `name`, in the schema's order."""
    try:
        return _enums()[name]
    except KeyError:
        raise KeyError(f"{SCHEMA} has no enum {name}") from None
