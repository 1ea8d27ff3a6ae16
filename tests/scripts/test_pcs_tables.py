"""net/pcs-tables.c is what net/gen-pcs-tables.py writes: the generator
checks the AVX2 kernels' arithmetic on its tables (check_simd_model), so
the committed tables must be the ones it checked."""

import os
import subprocess
import sys
import unittest

from cli_path import REPO


class PcsTablesTest(unittest.TestCase):

    def test_generated_tables_are_current(self):
        generated = subprocess.run(
            [sys.executable, os.path.join(REPO, "net", "gen-pcs-tables.py")],
            check=True, capture_output=True, text=True).stdout
        with open(os.path.join(REPO, "net", "pcs-tables.c")) as f:
            committed = f.read()
        self.assertEqual(generated, committed,
                         "net/pcs-tables.c is stale: run python3 "
                         "net/gen-pcs-tables.py > net/pcs-tables.c")


if __name__ == "__main__":
    unittest.main()
