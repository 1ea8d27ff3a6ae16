"""`bench guest --timing virtual` (scripts/bladeplane_cli/guestvirtual.py):
its topology, and the figures it reads from the blades' consoles."""

import unittest

import cli_path  # noqa: F401
from bladeplane_cli import guestvirtual, topology
from bladeplane_cli.common import Failure


def iperf(receiver_mbits, reverse=False):
    """iperf3 -c -f m's output, as the image's iperf3 prints it."""
    rev = ["Reverse mode, remote host 10.0.2.11 is sending"] if reverse else []
    return ["Connecting to host 10.0.2.11, port 5201"] + rev + [
        "[  5] local 10.0.2.10 port 33590 connected to 10.0.2.11 port 5201",
        "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd",
        "[  5]   0.00-1.00   sec   113 MBytes   950 Mbits/sec    0    369 "
        "KBytes",
        "- - - - - - - - - - - - - - - - - - - - - - - - -",
        "[ ID] Interval           Transfer     Bitrate         Retr",
        "[  5]   0.00-1.00   sec   113 MBytes   950 Mbits/sec    0         "
        "    sender",
        f"[  5]   0.00-1.00   sec   112 MBytes   {receiver_mbits} Mbits/sec  "
        f"                receiver", "", "iperf Done."]


def console(lines):
    """A blade's serial console: boot lines, then blade.run's output
    between its markers, with the serial port's carriage returns."""
    text = ["[    0.000000] Linux version 6.1.0", "BLADEPLANE-READY {}",
            "BLADEPLANE-RUN-BEGIN"] + lines + ['BLADEPLANE-RUN-END {"rc":0}']
    return "\r\n".join(text).encode()


PINGS = 3
SENDER = (["step ping", "PING 10.0.2.11 (10.0.2.11): 56 data bytes"] +
          [f"64 bytes from 10.0.2.11: seq={i} ttl=64 time={t} ms"
           for i, t in enumerate(("0.234", "0.246", "0.245"))] +
          ["step send"] + iperf("941") +
          ["step recv"] + iperf("939", reverse=True) +
          ["step send_nooffload"] + iperf("600") +
          ["step recv_nooffload"] + iperf("400", reverse=True) +
          ["counts before 100 5000", "step count"] + iperf("941") +
          ["counts after 300 5500", "missed 0"])
SERVER = ["counts before 1000 20000", "counts after 1600 100000",
          "missed 7"]


class TopologyTest(unittest.TestCase):

    def test_both_kinds_load_as_virtual_two_slot_chassis(self):
        for kind in guestvirtual.KINDS:
            topo = topology.loads(guestvirtual.topology_text(kind, "8M", 3),
                                  f"{kind}.toml")
            self.assertEqual(topo.timing, "virtual")
            [ch] = topo.chassis
            self.assertEqual([b.name for b in ch.blades], ["b0", "b1"])
            self.assertEqual(ch.latency_ns, guestvirtual.LATENCY_NS)
            self.assertIn("blade.run=blade-nic-bench,send,10.0.2.11,8M,3",
                          ch.blades[0].append)
            self.assertIn("blade.run=blade-nic-bench,serve",
                          ch.blades[1].append)
            speed = ch.switch.get("slot-speed", 1000)
            self.assertEqual(speed, 0 if kind == "unpaced" else 1000)


class FiguresTest(unittest.TestCase):

    def figures(self, sender=SENDER, server=SERVER):
        return dict(guestvirtual.figures(
            "unpaced", {"b0": console(sender), "b1": console(server)}, PINGS))

    def test_the_lines_from_both_consoles(self):
        f = self.figures()
        self.assertEqual(f["ping_unpaced_median_ms"], "0.245")
        self.assertEqual(f["ping_unpaced_p99_ms"], "0.246")
        self.assertEqual(f["iperf_unpaced_send_Gbps"], "0.9410")
        self.assertEqual(f["iperf_unpaced_recv_Gbps"], "0.9390")
        self.assertEqual(f["iperf_unpaced_Gbps"], "0.9400")
        self.assertEqual(f["iperf_unpaced_nooffload_Gbps"], "0.5000")
        self.assertEqual(f["unpaced_offload_ratio"], "1.880")
        # (600 on the server + 200 on the sender) per 80 000 frames
        self.assertEqual(f["unpaced_irq_per_kframe"], "10")
        # both blades' NICs, the whole run
        self.assertEqual(f["unpaced_rx_missed"], "7")

    def test_a_missing_step_is_named(self):
        cut = SENDER[:SENDER.index("step recv_nooffload")]
        with self.assertRaisesRegex(Failure, "no step recv_nooffload, count"):
            self.figures(sender=cut)

    def test_unanswered_pings(self):
        lost = [line for line in SENDER if "seq=1 " not in line]
        with self.assertRaisesRegex(Failure, "only 2 of 3 pings"):
            self.figures(sender=lost)

    def test_no_counts_on_the_server(self):
        with self.assertRaisesRegex(Failure, "b1 printed no counts"):
            self.figures(server=["counts before 1 2", "missed 0"])

    def test_no_missed_count(self):
        with self.assertRaisesRegex(Failure, "b0 printed no missed count"):
            self.figures(sender=SENDER[:-1])

    def test_an_iperf_run_without_its_summary(self):
        broken = list(SENDER)
        at = broken.index("step send") + 1
        broken[at:at + len(iperf("941"))] = [
            "iperf3: error - unable to connect to server"]
        with self.assertRaisesRegex(Failure, "no iperf3 summary in step send"):
            self.figures(sender=broken)


if __name__ == "__main__":
    unittest.main()
