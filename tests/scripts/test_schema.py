"""schema.py: the launcher's policy names and property values come from
hw/blade/blade.json, and the simulator's copy of the policy names (net/
is QEMU-free) matches it."""

import os
import re
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

    def test_simulator_policy_names_match(self):
        with open(os.path.join(REPO, "net", "balance.c"),
                  encoding="utf-8") as f:
            text = f.read()
        table = text[text.index("bal_policy_names[BAL_POLICY__MAX]"):]
        table = table[:table.index("};")]
        names = tuple(re.findall(r'\] = "([a-z0-9-]+)"', table))
        self.assertEqual(names, schema.enum("BladePolicy"))


if __name__ == "__main__":
    unittest.main()
