"""Virtual time (docs/virtual-time.md): a chassis and its blades on one
virtual clock give the same run on any host and under any load.

The same topology is brought up four times with the CLI, as a user
would: as it is, next to a CPU burner on one host core, pinned to one
host core (taskset -c 0), and with the blades' quiet promises off (an
idle blade then steps one lookahead at a time; the run must not change).  Blade b0 pings b1 at a fixed point of its boot
(blade.run), b1's CPU is half as fast as b0's.  Every run must give
byte-identical consoles on both blades: the ping's round trips to the
microsecond, the boot times the blades print and the NIC counters where
the ping ended.  Each round trip crosses four lanes, so it is at least
four latencies.  Then a chassis under load from a client blade (bench
lb-emu's in virtual time), twice: its per-request log must be identical;
and bench guest's unpaced pair in virtual time, whose TCP bursts fill the
switch's ingress queues."""

import datetime
import os
import re
import socket
import subprocess
import tempfile
import unittest

import bptest
from bladeplane_cli import guestvirtual, lbemu, lbvirtual, vtimebench
from bladeplane_cli.common import Failure

# the chassis bench vtime measures: b0 pings b1 (at half speed) from
# blade.run, every lane 50 us
LATENCY_NS = vtimebench.LATENCY_NS
PINGS = vtimebench.PINGS


@unittest.skipUnless(bptest.has_switch(), "this QEMU has no blade-switch device")
class VirtualTimeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(dir="/tmp")
        cls.runs = {}
        cls.nics = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_once(self, tag, prefix=(), quiet=True):
        """Up (as a user would, with the CLI), wait for b0's end of the
        ping, both consoles, down: the bench's own run of the pair."""
        try:
            consoles, _ = vtimebench.pair_run(
                self.tmp.name, tag, prefix, quiet,
                nic_counters=self.nics.setdefault(tag, {}))
        except Failure as e:
            self.fail(str(e))
        return consoles

    def run_cached(self, tag, prefix=(), quiet=True):
        if tag not in self.runs:
            self.runs[tag] = self.run_once(tag, prefix, quiet)
        return self.runs[tag]

    def test_1_ping_round_trips(self):
        out = self.run_cached("plain")["b0"]
        text = out.decode(errors="replace")
        rtts = [float(m) for m in re.findall(r"seq=\d+ ttl=64 time=([0-9.]+) ms",
                                             text)]
        self.assertEqual(len(rtts), PINGS, text)
        end = re.search(r'BLADEPLANE-RUN-END \{"rc":0,"nic":\{"rx_packets":'
                        r'(\d+),', text)
        self.assertIsNotNone(end, text)
        # four lanes a round trip (b0 -> switch -> b1 and back)
        for rtt in rtts:
            self.assertGreaterEqual(rtt * 1e6, 4 * LATENCY_NS, text)

    def test_2_identical_runs(self):
        a = self.run_cached("plain")
        b = self.run_cached("again")
        self.assertEqual(a, b)

    def test_3_identical_under_load(self):
        burner = subprocess.Popen(["taskset", "-c", "1", "python3", "-c",
                                   "while True: pass"])
        try:
            loaded = self.run_cached("burner")
        finally:
            burner.kill()
            burner.wait()
        self.assertEqual(self.run_cached("plain"), loaded)

    def test_4_identical_on_one_core(self):
        one = self.run_cached("one-core", ("taskset", "-c", "0"))
        self.assertEqual(self.run_cached("plain"), one)

    def test_5_identical_without_quiet_promises(self):
        off = self.run_cached("quiet-off", quiet=False)
        self.assertEqual(self.run_cached("plain"), off)
        # idle, each blade promised quiet, and nothing woke it early but
        # the chassis; off, none did
        self.run_cached("plain")
        for b in ("b0", "b1"):
            on = self.nics["plain"][b]
            self.assertGreater(on["vtime-quiet-sent"], 0, on)
            self.assertEqual(on["vtime-quiet-raised"], 0, on)
            self.assertEqual(on["vtime-cuts"], 0, on)
            self.assertEqual(self.nics["quiet-off"][b]["vtime-quiet-sent"],
                             0)


@unittest.skipUnless(bptest.has_switch(), "this QEMU has no blade-switch device")
class ChainTest(unittest.TestCase):
    """The same two blades in two chassis joined by a link, which in
    virtual time is a lane between the two switches (chain-chardevN):
    b0 in c1 pings b1 in c2.  A run beside a CPU burner on one host core
    gives byte-identical consoles to a plain run, and each round trip
    crosses four slot lanes and the link twice."""

    def test_identical_across_a_chain(self):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            try:
                plain, _ = vtimebench.chain_run(tmp, "plain")
                burner = subprocess.Popen(["taskset", "-c", "1", "python3",
                                           "-c", "while True: pass"])
                try:
                    loaded, _ = vtimebench.chain_run(tmp, "burner")
                finally:
                    burner.kill()
                    burner.wait()
            except Failure as e:
                self.fail(str(e))
        text = plain["b0"].decode(errors="replace")
        rtts = [float(m) for m in re.findall(r"seq=\d+ ttl=64 time=([0-9.]+) "
                                             r"ms", text)]
        self.assertEqual(len(rtts), PINGS, text)
        self.assertIn('BLADEPLANE-RUN-END {"rc":0,', text)
        for rtt in rtts:
            self.assertGreaterEqual(rtt * 1e6, 4 * LATENCY_NS +
                                    2 * vtimebench.CHAIN_LATENCY_NS, text)
        self.assertEqual(plain, loaded)

    def test_same_run_across_hosts(self):
        """The two chassis as two files joined by a TCP link, as on two
        hosts, both brought up at once: b0's round trips and the NIC
        counters at the end of its run are the one-file chain's."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            try:
                split = vtimebench.chain_hosts_run(tmp, "hosts", port)
                one, _ = vtimebench.chain_run(tmp, "one-file")
            except Failure as e:
                self.fail(str(e))

        def run_lines(console):
            return re.findall(rb"(?:seq=\d+ ttl=64 time=[0-9.]+ ms|"
                              rb"BLADEPLANE-RUN-END [^\r\n]*)", console)

        self.assertEqual(len(run_lines(one["b0"])), PINGS + 1, one["b0"])
        self.assertEqual(run_lines(split["b0"]), run_lines(one["b0"]))


# a lane's virtual-time counters that say a record left later than the
# model: 0 in a run that keeps to it
LATE = ("stamps_raised", "quiet_raised", "tx_waits", "late")


def comparable(state):
    """The switch's state tree without what differs by where and how the
    host ran it: the run directory and the switch's MAC, derived from it
    (no blade of one chassis sees it: it is the chain and uplink ports'),
    the shared-memory rings' figures (how often a side was woken is the
    host's scheduling), and the lanes' virtual-time figures (how often
    the two ends synchronised, and whether a record came before its
    time, are the host's too), once those that say a record left late
    are found 0."""
    state["switch"].pop("backplane", None)
    state["switch"].pop("mac", None)
    for port in state["ports"]:
        port.pop("shm", None)
        vtime = port.pop("vtime", None)
        if vtime is not None:
            late = {k: vtime[k] for k in LATE if vtime[k]}
            if late:
                raise AssertionError(f"port {port['name']}: records sent "
                                     f"later than the model: {late}")
    return state


def flat(tree, path=""):
    """{path: value} of a JSON tree's leaves."""
    if isinstance(tree, dict):
        return {k: v for key in tree
                for k, v in flat(tree[key], f"{path}.{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, item in enumerate(tree)
                for k, v in flat(item, f"{path}[{i}]").items()}
    return {path: tree}


@unittest.skipUnless(bptest.has_switch(), "this QEMU has no blade-switch device")
class ClientBladeTest(unittest.TestCase):
    """The client blade of `bench lb-emu --timing virtual`: lb-emu's cell
    b (b1 slowed by a nice -10 hog) with two policies, rr and util, each
    a service of its own.  The client's per-request log (every request's
    blade and its start and end in virtual ns) and its NIC counters, and
    the switch's state tree at a virtual time after the run (every port's
    and blade's counters; vtime-snapshot-ns), are identical in a run
    pinned to one host core, and in that log util sends fewer connections
    to the slow blade than rr does."""

    POLICIES = ["rr", "util"]
    # 300 requests/s for 0.3 virtual s, 8 a connection, once every blade
    # has answered on its own address (-A: no service counts the probes)
    # and is in rotation (-S)
    ARGS = (["blade-loadgen", "-W", "3"] +
            [a for s in range(3) for a in ("-A", lbvirtual.server_ip(s))] +
            ["-S", f"{lbvirtual.SETTLE_S:g}", "-R", "300", "-n", "1",
             "-w", "0", "-m", "0.3"] +
            [lbvirtual.vip(i) for i in range(2)])
    # after the client's run (checked below)
    SNAPSHOT_NS = 8 * 10 ** 9

    def run_once(self, tmp, tag, prefix=()):
        try:
            console, _, snap = lbvirtual.cell_run(
                tmp, tag, lbemu.CELLS["b"], self.POLICIES, self.ARGS, prefix,
                snapshot_ns=self.SNAPSHOT_NS)
        except Failure as e:
            self.fail(str(e))
        end = console.index(b"BLADEPLANE-RUN-END")
        return console[:console.index(b"\n", end)], comparable(snap)

    def test_identical_request_logs_and_the_slow_blade_avoided(self):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            plain, plain_switch = self.run_once(tmp, "plain")
            pinned, pinned_switch = self.run_once(tmp, "one-core",
                                                  ("taskset", "-c", "0"))
        self.assertEqual(plain, pinned)
        a, b = flat(plain_switch), flat(pinned_switch)
        self.assertEqual({k: (a.get(k), b.get(k)) for k in a.keys() | b.keys()
                          if a.get(k) != b.get(k)}, {})
        log = lbvirtual.ClientLog(lbvirtual.run_output(plain), 2)
        self.assertEqual(dict(log.failed), {})
        # the snapshot is after the run: the switch saw every measured
        # request answered
        answered = sum(b.get("requests_answered", 0)
                       for b in plain_switch["blades"])
        measured = sum(len(r) for r in log.requests.values())
        self.assertGreaterEqual(answered, measured)
        self.assertEqual(plain_switch["switch"]["now_ms"],
                         self.SNAPSHOT_NS // 10 ** 6)
        rr, util = log.shares(0), log.shares(1)
        self.assertEqual(sum(rr.values()), sum(util.values()))
        self.assertGreaterEqual(sum(rr.values()), 6, log.done)
        self.assertEqual(set(rr), {"b0", "b1", "b2"})
        self.assertLess(util["b1"], rr["b1"], (rr, util))


@unittest.skipUnless(bptest.has_switch(),
                     "this QEMU has no blade-switch device")
class GuestBenchTest(unittest.TestCase):
    """`bench guest --timing virtual`'s unpaced pair, with short transfers:
    blade-nic-bench (in the image) on both blades from blade.run, TCP over
    lanes at speed 0, so the blades' CPUs set the rate.  A TSO burst is
    more at one virtual time than a slot's ingress queue holds; the run
    must go on through it (the chassis used to wait for ever for the
    promise behind the frames it could not take), every step must give
    its figures, the TCP rate must be past a 1 Gb/s lane's, with the
    offloads faster than without, and no blade was cut.  Booted twice,
    the consoles must be byte-identical: the NICs' lanes fill up (their
    vtime-tx-waits), which used to let the host decide when the frames
    they held went, and the boots parted."""

    LENGTH = "16M"
    PINGS = 3

    def test_unpaced_pair(self):
        text = guestvirtual.topology_text("unpaced", self.LENGTH, self.PINGS)
        boots = []
        try:
            with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
                for run in ("unpaced1", "unpaced2"):
                    nics: dict[str, dict] = {}
                    consoles, _, _ = vtimebench.run_to_end(
                        tmp, run, "guest-vtime-unpaced", text,
                        ("b0", "b1"), ("b0", "b1"), timeout=900,
                        nic_counters=nics)
                    boots.append((consoles, nics))
            f = dict(guestvirtual.figures("unpaced", boots[0][0],
                                          self.PINGS))
        except Failure as e:
            self.fail(str(e))
        # four lanes a round trip (b0 -> switch -> b1 and back)
        self.assertGreaterEqual(float(f["ping_unpaced_median_ms"]) * 1e6,
                                4 * guestvirtual.LATENCY_NS, f)
        self.assertGreater(float(f["iperf_unpaced_Gbps"]), 1.0, f)
        self.assertGreater(float(f["unpaced_offload_ratio"]), 1.0, f)
        self.assertGreater(int(f["unpaced_irq_per_kframe"]), 0, f)
        for consoles, nics in boots:
            for b in ("b0", "b1"):
                self.assertEqual(nics[b]["vtime-cuts"], 0, nics)
        # the lanes did fill: the case the second boot is there for
        self.assertGreater(sum(n["vtime-tx-waits"]
                               for _, nics in boots for n in nics.values()),
                           0, boots[0][1])
        for b in ("b0", "b1"):
            self.assertEqual(boots[0][0][b], boots[1][0][b],
                             f"{b}'s consoles differ between two boots")


def example(name):
    """The text of a topology file in examples/."""
    with open(os.path.join(bptest.REPO, "examples", name)) as f:
        return f.read()


def assert_pings(case, blade, address):
    """blade, at its console, gets 3 answers of 3 from address."""
    con = case.blade_console(blade)
    try:
        status, out = con.run(f"ping -c 3 {address}", timeout=60)
    finally:
        con.close()
    case.assertEqual(status, 0, out)
    case.assertIn("3 packets received", out)


@unittest.skipUnless(bptest.has_switch(), "this QEMU has no blade-switch device")
class RestartTest(bptest.TopologyTestCase):
    """A blade of examples/virtual-pair.toml restarted in the middle of
    its virtual-time run (`bladeplane restart b1`): the new QEMU's clock starts at the
    chassis's time where the old blade left (blade-nic vtime-start-ns,
    the slot's rejoin-ns), so nothing is cut; the blade is back in
    rotation, b0 pings it, and its wall clock goes on from the chassis's
    time.  The chassis restarted (`bladeplane restart c1`): the new
    switch's clock starts where its blades stand (their NICs'
    vtime-rejoin-ns), nothing is cut at either end nor taken late by a
    blade, the blades are back in rotation, and b0 pings b1 through it."""

    # the shipped pair (b0 pings b1 at boot; b1's CPU at half speed)
    NAME = "virtual-pair"
    TOPOLOGY = example("virtual-pair.toml")

    def switch(self):
        from bladeplane_cli import chassis
        return chassis.read_switch(
            self.topo_run.state["chassis"]["c1"]["qmp"], "chassis c1")

    def test_restart_a_blade(self):
        from bladeplane_cli import chassis, qmp
        before = self.switch()["switch"]["now_ms"]
        self.assertEqual(chassis.restart_blade(self.topo_run, "b1"), {})
        proc = next(p for p in self.topo_run.processes()
                    if p["name"] == "b1")
        with qmp.session(proc["qmp"], "blade b1") as q:
            start = q.execute("qom-get", {"path": "/machine/peripheral/nic0",
                                          "property": "vtime-start-ns"})
        self.assertGreaterEqual(start, before * 10 ** 6)
        state = self.switch()
        for port in state["ports"]:
            self.assertEqual(port["vtime"]["cuts"], 0, port)
            self.assertTrue(port["link"], port)
            # b1's slot saw one blade come new to its link
            self.assertEqual(port["vtime"]["new_peers"],
                             int(port["name"] == "slot1"), port)
        assert_pings(self, "b0", "10.0.2.11")
        # b1's wall clock is the chassis's time, less under 3 s: its RTC
        # starts at the start's whole seconds, Linux reads the RTC's whole
        # seconds at boot, and `date` drops the fraction (CI once saw
        # 2.05 s)
        con = self.blade_console("b1")
        try:
            first_ms = self.switch()["switch"]["now_ms"]
            status, out = con.run("date -u +%s", timeout=30)
            last_ms = self.switch()["switch"]["now_ms"]
        finally:
            con.close()
        self.assertEqual(status, 0, out)
        rtc0 = datetime.datetime.fromisoformat(
            chassis.VIRTUAL_RTC).replace(tzinfo=datetime.timezone.utc)
        guest_s = int(out.split()[-1]) - int(rtc0.timestamp())
        self.assertGreaterEqual(guest_s, start // 10 ** 9)
        self.assertGreaterEqual(guest_s, first_ms / 1000 - 3,
                                (first_ms, guest_s, last_ms))
        self.assertLessEqual(guest_s, last_ms / 1000,
                             (first_ms, guest_s, last_ms))

    def nic(self, name, prop):
        from bladeplane_cli import qmp
        proc = next(p for p in self.topo_run.processes()
                    if p["name"] == name)
        with qmp.session(proc["qmp"], f"blade {name}") as q:
            return q.execute("qom-get", {"path": "/machine/peripheral/nic0",
                                         "property": prop})

    def test_restart_the_chassis(self):
        from bladeplane_cli import chassis, qmp
        before = self.switch()["switch"]["now_ms"]
        self.assertEqual(chassis.restart(self.topo_run, "c1"), {})
        with qmp.session(self.topo_run.state["chassis"]["c1"]["qmp"],
                         "chassis c1") as q:
            start = q.execute("qom-get", {"path": chassis.SWITCH_PATH,
                                          "property": "vtime-start-ns"})
        self.assertGreaterEqual(start, before * 10 ** 6)
        # the blades went on where they were: nothing cut, and no blade
        # took anything late (the switch may take late the first records
        # of a blade that stood behind: docs/virtual-time.md, "Restarts")
        state = self.switch()
        self.assertGreaterEqual(state["switch"]["now_ms"], start // 10 ** 6)
        for port in state["ports"]:
            self.assertTrue(port["link"], port)
            for key in ("cuts", "stamps_raised", "quiet_raised", "tx_waits"):
                self.assertEqual(port["vtime"][key], 0, port)
        for b in ("b0", "b1"):
            for prop in ("vtime-cuts", "vtime-late"):
                self.assertEqual(self.nic(b, prop), 0, (b, prop))
        assert_pings(self, "b0", "10.0.2.11")



@unittest.skipUnless(bptest.has_switch(), "this QEMU has no blade-switch device")
class ChainRestartTest(bptest.TopologyTestCase):
    """c2 of the shipped examples/virtual-chain.toml restarted in the
    middle of its virtual-time run (`bladeplane restart c2`): its new
    switch starts where its blade and its link to c1 stand (c1's chain0
    rejoin-ns among them), c1 sees a peer new to the link and cuts
    nothing, and b0 (in c1) pings b1 (in c2) across it."""

    NAME = "virtual-chain"
    TOPOLOGY = example("virtual-chain.toml")

    def test_restart_the_far_chassis(self):
        from bladeplane_cli import chassis
        self.assertEqual(chassis.restart(self.topo_run, "c2"), {})
        for name in ("c1", "c2"):
            state = chassis.read_switch(
                self.topo_run.state["chassis"][name]["qmp"],
                f"chassis {name}")
            for port in state["ports"]:
                self.assertTrue(port["link"], (name, port))
                self.assertEqual(port["vtime"]["cuts"], 0, (name, port))
                self.assertEqual(port["vtime"]["new_peers"],
                                 int((name, port["name"]) ==
                                     ("c1", "chain0")), (name, port))
        assert_pings(self, "b0", "10.0.2.11")


if __name__ == "__main__":
    unittest.main()
