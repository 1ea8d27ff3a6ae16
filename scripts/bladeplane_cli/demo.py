"""The main job.  At this stage: boot one blade with a blade-nic, show the
NIC from inside the guest, shut the blade down."""

import time

from . import blade, image, qemu
from .common import Failure, step

NIC_ID = "1af4:10f0"


def run(accel="auto"):
    qemu.build()
    image.build()
    chosen, reason = blade.choose_accel(accel)
    print(f"accelerator: {chosen} ({reason})", flush=True)

    step(f"booting blade 'demo0' (q35, 256 MiB, blade-nic) under {chosen}")
    start = time.monotonic()
    with blade.Blade("demo0", accel=chosen) as b:
        info = b.wait_ready(timeout=180)
        print(f"    ready in {time.monotonic() - start:.1f} s: "
              f"kernel {info['kernel']}, guest uptime {info['uptime_s']} s",
              flush=True)

        step("lspci -nn inside the blade")
        status, out = b.run("lspci -nn")
        print("".join(f"    {line}\n" for line in out.strip().splitlines()), end="")
        if status != 0 or f"[{NIC_ID}]" not in out:
            raise Failure(f"the blade does not see its blade-nic ({NIC_ID}) "
                          f"in lspci (console log: {b.serial_log_path})")

        step(f"lspci -v -d {NIC_ID}: the blade-nic in detail")
        # No kernel modules in the image yet: lspci -v would complain that
        # it cannot look up drivers.
        status, out = b.run(f"lspci -v -d {NIC_ID} 2>/dev/null")
        print("".join(f"    {line}\n" for line in out.strip().splitlines()),
              end="", flush=True)

        step("shutting the blade down")
        b.poweroff()
    print("demo done: the blade booted Linux and saw its blade-nic on the PCI bus.")
    return 0
