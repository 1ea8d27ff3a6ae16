"""The blade devices' QAPI schema, hw/blade/blade.json: the one list of
the balancing policies and of the values the devices' enum properties
take (pcs, util-source, util-form, util-estimator, timing).  QEMU is built
from this file, so the launcher checks a topology against the values the
devices accept without keeping a copy, and before any QEMU is built (a
topology is checked before setup has run, and the unit tests need no
QEMU).  What QEMU cannot tell (the ranges of numeric properties, which a
device checks in code) stays in topology.py, and the functional test
test_device_props checks it against the devices: each bound taken, the
value past it refused, and the defaults the launcher relies on.

Run as a program (`python3 -m bladeplane_cli.schema BLADE_JSON OUT`), it
writes a C header of every enum's names for the QEMU-free build: the
balancing simulator (tests/bench/bench-lb) takes policies and estimators
by the names QEMU uses, without a copy of them in net/."""

import functools
import json
import os
import re
import sys

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


def _enums_in(path: str) -> dict[str, tuple[str, ...]]:
    with open(path, encoding="utf-8") as f:
        exprs = _expressions(f.read())
    return {e["enum"]: tuple(m["name"] if isinstance(m, dict) else m
                             for m in e["data"])
            for e in exprs if "enum" in e}


@functools.cache
def _enums() -> dict[str, tuple[str, ...]]:
    return _enums_in(SCHEMA)


def enum(name: str) -> tuple[str, ...]:
    """The values of the QAPI enum `name`, in the schema's order."""
    try:
        return _enums()[name]
    except KeyError:
        raise KeyError(f"{SCHEMA} has no enum {name}") from None


def c_macro(enum_name: str) -> str:
    """BladeUtilEstimator -> BLADE_UTIL_ESTIMATOR, as QAPI names the C
    enum's members."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", enum_name).upper()


def c_header(path: str) -> str:
    """For each enum E of the schema at @path: E_NAMES, its names as
    initializers of a string array, and E_NAMES_CSV, one string."""
    out = ["/* Generated from hw/blade/blade.json by "
           "scripts/bladeplane_cli/schema.py. */",
           "#ifndef BLADE_ENUM_NAMES_H", "#define BLADE_ENUM_NAMES_H", ""]
    for name, values in _enums_in(path).items():
        macro = c_macro(name)
        out.append(f"#define {macro}_NAMES "
                   + ", ".join(f'"{v}"' for v in values))
        out.append(f'#define {macro}_NAMES_CSV "{",".join(values)}"')
    out += ["", "#endif", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python3 -m bladeplane_cli.schema BLADE_JSON OUT",
              file=sys.stderr)
        return 2
    text = c_header(argv[1])
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
