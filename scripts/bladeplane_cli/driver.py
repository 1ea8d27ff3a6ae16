"""The guest driver, built against the blade image's kernel.

kbuild writes its outputs next to the sources, so the module is built in
build/driver/<abi>/, a directory of symlinks to guest-driver/: the
repository stays clean and, as with the QEMU overlay, nothing can be built
from a stale copy.
"""

import os
import re
import shutil

from . import packages
from .common import BUILD, LOGS, REPO, Failure, ensure_dir, output, run

SOURCE = os.path.join(REPO, "guest-driver")
MODULE = "blade_nic.ko"


def headers_package(abi):
    return f"linux-headers-{abi}"


def headers_dir(abi):
    return f"/usr/src/linux-headers-{abi}"


def present():
    """The driver exists once guest-driver/ has a Kbuild file."""
    return os.path.exists(os.path.join(SOURCE, "Kbuild"))


def build(abi):
    """Build blade_nic.ko for kernel abi (e.g. 6.1.0-56-cloud-amd64);
    returns its path."""
    packages.ensure_packages(extra=[headers_package(abi)])
    kdir = headers_dir(abi)
    if not os.path.isdir(kdir):
        raise Failure(f"kernel headers for {abi} are not in {kdir}")
    out = ensure_dir(os.path.join(BUILD, "driver", abi))
    # Sources only: not what an in-tree 'make' may have left (*.mod.c).
    wanted = {n for n in os.listdir(SOURCE)
              if (n.endswith((".c", ".h")) and not n.endswith(".mod.c")) or
              n == "Kbuild"}
    for name in os.listdir(out):
        path = os.path.join(out, name)
        if os.path.islink(path) and name not in wanted:
            os.unlink(path)
    for name in wanted:
        link = os.path.join(out, name)
        target = os.path.relpath(os.path.join(SOURCE, name), out)
        if not (os.path.islink(link) and os.readlink(link) == target):
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)
    log = os.path.join(LOGS, f"driver-{abi}.log")
    # W=1: the extra warnings too; Kbuild makes every warning an error.
    run(["make", "-C", kdir, f"M={out}", "W=1", "modules"], log=log)
    ko = os.path.join(out, MODULE)
    if not os.path.exists(ko):
        raise Failure(f"the driver build left no {MODULE} (see {log})")
    return ko


def clean(abi):
    shutil.rmtree(os.path.join(BUILD, "driver", abi), ignore_errors=True)


def backports_abi():
    """The newest cloud kernel in bookworm-backports (6.12 at the time of
    writing), e.g. '6.12.95+deb12-cloud-amd64': the driver is built against
    it too, to catch kernel API drift before it reaches the blades."""
    meta = "linux-headers-cloud-amd64"
    policy = output(["apt-cache", "policy", meta]) or ""
    m = re.search(r"^\s+(?:\*\*\* )?(\S+) \d+\n(?:\s+\d+ .*\n)*?"
                  r"\s+\d+ \S+ bookworm-backports/", policy, re.M)
    if not m:
        raise Failure(f"no {meta} in bookworm-backports (apt-cache policy "
                      f"{meta}); setup adds bookworm-backports to apt")
    deps = output(["apt-cache", "depends", f"{meta}={m.group(1)}"]) or ""
    d = re.search(r"Depends:\s*linux-headers-(\S+-cloud-amd64)", deps)
    if not d:
        raise Failure(f"cannot read the kernel ABI of {meta} {m.group(1)}")
    return d.group(1)
