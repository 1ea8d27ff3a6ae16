"""schema.py: the launcher's policy names and property values come from
hw/blade/blade.json, and so do the simulator's (net/ is QEMU-free: it
keeps the enums in the schema's order, and the names come from a header
generated from the schema)."""

import os
import re
import tempfile
import unittest

import cli_path  # noqa: F401
from bladeplane_cli import schema, topology
from bladeplane_cli.common import REPO


class SchemaTest(unittest.TestCase):
    def test_expressions(self):
        text = ("# a comment\n{ 'enum': 'E',\n  'data': [ 'a', { 'name': "
                "'b', 'if': 'X' } ] }\n\n# between\n{ 'struct': 'S', "
                "'data': { '*m': 'str' } }\n")
        self.assertEqual(schema._expressions(text),
                         [{"enum": "E", "data": ["a", {"name": "b",
                                                        "if": "X"}]},
                          {"struct": "S", "data": {"*m": "str"}}])

    def test_enums_the_devices_take(self):
        self.assertEqual(schema.enum("BladeLanePcs"), ("8b10b", "raw"))
        self.assertEqual(schema.enum("BladeTiming"), ("real", "virtual"))
        self.assertIn("util", schema.enum("BladePolicy"))
        with self.assertRaisesRegex(KeyError, "no enum Nothing"):
            schema.enum("Nothing")

    def test_topology_takes_the_schema_values(self):
        self.assertEqual(topology.POLICIES, schema.enum("BladePolicy"))
        self.assertEqual(topology.SWITCH_PROPS["util-estimator"],
                         schema.enum("BladeUtilEstimator"))
        self.assertEqual(topology.NIC_PROPS["util-source"],
                         schema.enum("BladeUtilSource"))

    def _c_enum(self, header, name):
        with open(os.path.join(REPO, "net", header), encoding="utf-8") as f:
            text = f.read()
        body = text[text.index(f"typedef enum {name} {{"):]
        body = body[body.index("{") + 1:body.index("}")]
        return tuple(m for m in re.findall(r"\b([A-Z0-9_]+)\b", body)
                     if not m.endswith("__MAX"))

    def test_net_enums_in_the_schema_order(self):
        """net/ is QEMU-free: its enums are indexed by the schema's order,
        and the simulator takes the names from the schema by index."""
        for header, c_name, prefix, qapi in (
                ("balance.h", "BalPolicy", "BAL_POLICY_", "BladePolicy"),
                ("balance.h", "BalUtilEstimator", "BAL_UTIL_",
                 "BladeUtilEstimator")):
            want = tuple(prefix + v.upper().replace("-", "_")
                         for v in schema.enum(qapi))
            self.assertEqual(self._c_enum(header, c_name), want)

    def test_c_header(self):
        text = schema.c_header(schema.SCHEMA)
        policies = ", ".join(f'"{p}"' for p in schema.enum("BladePolicy"))
        self.assertIn(f"#define BLADE_POLICY_NAMES {policies}\n", text)
        self.assertIn('#define BLADE_LANE_PCS_NAMES_CSV "8b10b,raw"\n', text)
        self.assertIn("#define BLADE_UTIL_ESTIMATOR_NAMES ", text)
        self.assertEqual(schema.c_macro("BladeSwitchPortKind"),
                         "BLADE_SWITCH_PORT_KIND")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "names.h")
            self.assertEqual(schema.main(["schema", schema.SCHEMA, out]), 0)
            with open(out, encoding="utf-8") as f:
                self.assertEqual(f.read(), text)
            self.assertEqual(schema.main(["schema"]), 2)

    def test_policy_names_in_one_source_file(self):
        """Outside the docs and the tests, only blade.json spells the
        list of policies: no other source file has more than three of
        their names in its string literals (code may name the policy it
        means, as the demo does util and rr)."""
        names = set(schema.enum("BladePolicy"))
        literal = re.compile(r"\"([^\"\n]*)\"|'([^'\n]*)'")
        found = []
        for top in ("net", "hw", "scripts", "images", "guest-driver"):
            for root, _, files in os.walk(os.path.join(REPO, top)):
                for fn in files:
                    path = os.path.join(root, fn)
                    if (not fn.endswith((".c", ".h", ".py", ".json"))
                            or path == schema.SCHEMA):
                        continue
                    with open(path, encoding="utf-8",
                              errors="replace") as f:
                        words = {w for m in literal.finditer(f.read())
                                 for w in re.split(r"[\s,]+",
                                                   m.group(1) or m.group(2)
                                                   or "")}
                    if len(words & names) > 3:
                        found.append(os.path.relpath(path, REPO))
        self.assertEqual(found, [])

if __name__ == "__main__":
    unittest.main()
