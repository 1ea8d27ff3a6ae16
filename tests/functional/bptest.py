"""Shared set-up for the functional tests: import the CLI's modules and
read the accelerator that 'scripts/bladeplane test' chose."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))

from bladeplane_cli import blade, qemu, testing  # noqa: E402,F401
from bladeplane_cli.lanepatch import PatchLog  # noqa: E402,F401


def accel():
    """The accelerator chosen by the runner, or the auto choice when a test
    module is run on its own (python3 -m unittest)."""
    chosen = os.environ.get("BLADEPLANE_ACCEL")
    if not chosen:
        chosen, _ = blade.choose_accel("auto")
        os.environ["BLADEPLANE_ACCEL"] = chosen
    return chosen
