"""Several chassis brought up by the CLI with booted blades, a blade per
chassis: HTTP from the host through chassis c1's uplink reaches the blade
of chassis c3 and its answer comes back, over a daisy chain (c1 -- c2 --
c3: through c2) and through a central switch (c1 -- core -- c3); the
service's VIP is balanced over the blades of every chassis (remote); and
when the middle chassis of the chain is killed, `restart` brings it back
and the traffic flows again without restarting the others.

These need the switch's chain ports (property `chain`): with a QEMU built
without them every test skips, saying so."""

import os
import signal
import time
import unittest
import urllib.error
import urllib.request

from bptest import TopologyTestCase, free_port, qemu
from bladeplane_cli import chassis, rundir


HAS_CHAIN = "chain" in chassis.switch_properties(qemu.QEMU_BIN)
SKIP = (f"no QEMU at {qemu.QEMU_BIN} (scripts/bladeplane setup)"
        if not os.path.exists(qemu.QEMU_BIN) else
        "this QEMU's blade-switch has no chain ports (no 'chain' in "
        "'-device blade-switch,help'): it predates the fabric device")


# The blades: 10.0.2.10 (c1), .11 (c2), .12 (c3); one slot each.
BLADES = {"c1": "c1b0", "c2": "c2b0", "c3": "c3b0"}
FAR = "10.0.2.12"           # c3's blade


def topology_text(name, vip_port, far_port, central):
    chassis_text = "".join(f"""
[[chassis]]
name = "{c}"
slots = 1
{'[chassis.uplink]' if c == 'c1' else ''}
{f'forward = ["tcp:127.0.0.1:{vip_port}-10.0.2.100:80", '
 f'"tcp:127.0.0.1:{far_port}-{FAR}:80"]' if c == 'c1' else ''}
[[chassis.blade]]
slot = 0
name = "{b}"
{'''[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
policy = "rr"
remote = true''' if c == 'c1' else ''}
""" for c, b in BLADES.items())
    if central:
        chassis_text += '\n[[chassis]]\nname = "core"\nrole = "central"\n'
        links = [("core", c) for c in BLADES]
    else:
        links = [("c1", "c2"), ("c2", "c3")]
    return (f'name = "{name}"\n[fabric]\ninterval = 100\n' + chassis_text +
            "".join(f'\n[[link]]\na = "{a}"\nb = "{b}"\n' for a, b in links))


class FabricTopology:
    """Mixin for bptest.TopologyTestCase (up once for the class), with a
    second forwarded host port, to c3's blade, and the tests both
    topologies pass."""

    CENTRAL = False

    @classmethod
    def setUpClass(cls):
        cls.far_port = free_port()
        cls.TOPOLOGY = topology_text(cls.NAME, "{port}", cls.far_port,
                                     cls.CENTRAL)
        super().setUpClass()
        cls.vip_port = cls.port

    def get(self, port, timeout=30):
        url = f"http://127.0.0.1:{port}/cgi-bin/work?kb=1"
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()

    def state(self, name):
        qmp = self.topo_run.state["chassis"][name]["qmp"]
        return chassis.read_switch(qmp, f"chassis {name}")

    def far_answers(self, deadline_s=60):
        """GET to c3's blade by its address, through c1's uplink and the
        chassis in between, until it answers (it must within the time)."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                return self.get(self.far_port, timeout=10)
            except (OSError, urllib.error.URLError) as e:
                if time.monotonic() > deadline:
                    self.fail(f"no answer from c3's blade through c1's "
                              f"uplink: {e}")

    def vip_reaches_every_chassis(self):
        """Round robin over the blades of the three chassis: a few GETs to
        the VIP are answered by each of them."""
        seen = set()
        for _ in range(12):
            seen.add(self.get(self.vip_port).split()[0])
            if seen == {f"blade={b}" for b in BLADES.values()}:
                break
        self.assertEqual(seen, {f"blade={b}" for b in BLADES.values()})

    def test_1_up_and_converged(self):
        self.assertEqual(self.not_in, {})
        remote = chassis.remote_blades(self.state("c1"))
        self.assertEqual(set(remote), {("c2", 0), ("c3", 0)})
        self.assertEqual(remote[("c3", 0)]["hops"], 2)

    def test_2_a_blade_two_hops_away_answers(self):
        self.assertIn("blade=c3b0", self.far_answers())

    def test_3_the_vip_is_served_by_every_chassis(self):
        self.vip_reaches_every_chassis()


@unittest.skipUnless(HAS_CHAIN, SKIP)
class ChainTest(FabricTopology, TopologyTestCase):
    NAME = "fn-chain"

    def test_4_the_middle_chassis_restarts_and_the_chain_heals(self):
        run = self.topo_run
        procs = {p["name"]: p for p in run.processes()}
        others = {n: p["pid"] for n, p in procs.items() if n != "c2"}
        os.kill(procs["c2"]["pid"], signal.SIGKILL)
        # c1 loses c3's blade when its neighbour stops advertising.
        deadline = time.monotonic() + 30
        while ("c3", 0) in chassis.remote_blades(self.state("c1")):
            self.assertLess(time.monotonic(), deadline,
                            "c1 still sees c3 with c2 dead")
            time.sleep(0.2)
        chassis.restart(run, "c2", qemu_bin=qemu.QEMU_BIN)
        self.assertIn("blade=c3b0", self.far_answers())
        self.vip_reaches_every_chassis()
        now = {p["name"]: p["pid"] for p in rundir.Run(run.path).processes()}
        self.assertEqual({n: now[n] for n in others}, others)
        self.assertTrue(all(rundir.process_alive(p) for p in
                            rundir.Run(run.path).processes()))


@unittest.skipUnless(HAS_CHAIN, SKIP)
class CentralTest(FabricTopology, TopologyTestCase):
    NAME = "fn-central"
    CENTRAL = True

    def test_1_up_and_converged(self):
        super().test_1_up_and_converged()
        core = self.state("core")
        self.assertEqual(core["fabric"]["root_id"],
                         self.topo.by_name("core").chassis_id)
        self.assertEqual(sorted(p["neighbour"] for p in
                                core["fabric"]["ports"]), ["c1", "c2", "c3"])


if __name__ == "__main__":
    unittest.main()
