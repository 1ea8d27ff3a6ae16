"""bench lb-emu's statistics and output lines: the block bootstrap of a
p99, util's rank, best-or-tied and the slow-cell factor; the keep-alive
open-loop load generator against a local server."""

import http.server
import os
import random
import subprocess
import sys
import threading
import unittest

import cli_path  # noqa: F401
from bladeplane_cli import lbemu, lbvirtual, topology
from bladeplane_cli.common import Failure
from bladeplane_cli.lbemu import PolicyResult
from bladeplane_cli.loadgen import OpenLoop


def p99(values):
    return lbemu.percentile(values, 0.99)


class PercentileTest(unittest.TestCase):

    def test_definition(self):
        v = list(range(1, 101))          # 1..100
        self.assertEqual(lbemu.percentile(v, 0.5), 51)
        self.assertEqual(lbemu.percentile(v, 0.99), 100)
        self.assertEqual(lbemu.percentile([7], 0.99), 7)
        with self.assertRaises(ValueError):
            lbemu.percentile([], 0.5)


class BlocksTest(unittest.TestCase):

    def test_grouped_by_arrival(self):
        reqs = [(0.1, 1.0, "b0"), (2.4, 2.0, "b1"), (2.6, 3.0, "b0"),
                (7.6, 4.0, "b2"), (0.2, 5.0, "b0")]
        self.assertEqual(lbemu.blocks(reqs, 2.5),
                         [[1.0, 2.0, 5.0], [3.0], [4.0]])


class BootstrapTest(unittest.TestCase):

    def test_interval_holds_the_estimate_and_narrows(self):
        rng = random.Random(3)
        few = [[rng.expovariate(1) for _ in range(50)] for _ in range(6)]
        many = [[rng.expovariate(1) for _ in range(50)] for _ in range(60)]
        lo1, hi1 = lbemu.bootstrap_ci(few, p99, reps=400)
        lo2, hi2 = lbemu.bootstrap_ci(many, p99, reps=400)
        pooled = [v for g in many for v in g]
        self.assertLessEqual(lo2, p99(pooled))
        self.assertGreaterEqual(hi2, p99(pooled))
        self.assertLess(hi2 - lo2, hi1 - lo1)
        # The exponential's p99 is ln(100) = 4.6: 3000 samples cover it.
        self.assertLess(lo2, 4.61)
        self.assertGreater(hi2, 4.6)

    def test_same_seed_same_interval(self):
        g = [[1.0, 2.0], [3.0], [10.0, 0.5]]
        self.assertEqual(lbemu.bootstrap_ci(g, p99, reps=200, seed=5),
                         lbemu.bootstrap_ci(g, p99, reps=200, seed=5))

    def test_constant_blocks(self):
        self.assertEqual(lbemu.bootstrap_ci([[2.0]] * 5, p99, reps=50),
                         (2.0, 2.0))

    def test_block_resampling_widens_for_correlated_blocks(self):
        """Blocks whose requests wait alike (one slow block) give a wide
        interval: the slow block is in some resamples and not in others."""
        groups = [[0.1] * 100 for _ in range(9)] + [[5.0] * 100]
        lo, hi = lbemu.bootstrap_ci(groups, p99, reps=500)
        self.assertEqual(lo, 0.1)
        self.assertEqual(hi, 5.0)

    def test_empty(self):
        with self.assertRaises(ValueError):
            lbemu.bootstrap_ci([[], []], p99)


def res(p99_ms, lo_ms, hi_ms):
    return PolicyResult(p50=p99_ms / 4e3, p99=p99_ms / 1e3, lo=lo_ms / 1e3,
                        hi=hi_ms / 1e3, requests=100)


class LinesTest(unittest.TestCase):

    def results(self):
        return {"util": res(300, 250, 360), "rr": res(900, 700, 1200),
                "leastconn": res(280, 240, 330),
                "p2c-conn": res(600, 500, 800)}

    def test_cell_lines(self):
        lines = lbemu.cell_lines("b", self.results())
        self.assertIn("emu_b_util_p99_ms: 300", lines)
        self.assertIn("emu_b_util_p99_ci_lo_ms: 250", lines)
        self.assertIn("emu_b_util_p99_ci_hi_ms: 360", lines)
        self.assertIn("emu_b_p2c-conn_p99_ms: 600", lines)
        self.assertIn("emu_b_p2c-conn_p99_ci_lo_ms: 500", lines)
        self.assertIn("emu_b_util_rank: 2", lines)
        self.assertIn("emu_b_best_baseline: leastconn", lines)
        self.assertIn("emu_b_best_baseline_over_util: 0.93", lines)
        for line in lines:
            name, value = line.split(": ")
            self.assertRegex(name, r"^emu_b_[a-z0-9_-]+$")

    def test_rank(self):
        r = self.results()
        self.assertEqual(lbemu.util_rank(r), 2)
        r["util"] = res(100, 90, 110)
        self.assertEqual(lbemu.util_rank(r), 1)
        r["util"] = res(2000, 1900, 2100)
        self.assertEqual(lbemu.util_rank(r), 4)

    def test_best_or_tied(self):
        r = self.results()
        self.assertTrue(lbemu.util_best_or_tied(r))     # overlaps leastconn
        r["util"] = res(400, 340, 450)                  # 340 > 330
        self.assertFalse(lbemu.util_best_or_tied(r))
        r["util"] = res(200, 190, 210)                  # the lowest
        self.assertTrue(lbemu.util_best_or_tied(r))

    def test_summary(self):
        b = self.results()                      # util 300, best other 280
        c = {"util": res(100, 90, 110), "rr": res(500, 400, 600),
             "leastconn": res(300, 250, 350)}   # factor 3.0
        a = {"util": res(900, 800, 1000), "rr": res(100, 90, 110)}
        lines = lbemu.summary_lines({"a": a, "b": b, "c": c})
        self.assertEqual(lines, [
            "emu_cells_util_best_or_tied: 2 of 3",
            "emu_slow_cells_util_over_best_baseline: 0.93"])
        # Cells b and c not run: no slow-cell line.
        self.assertEqual(lbemu.summary_lines({"a": a}),
                         ["emu_cells_util_best_or_tied: 0 of 1"])


class TopologyTextTest(unittest.TestCase):

    def test_services_and_forwards(self):
        text = lbemu.topology_text("x", [2, 1], {8080: 9000, 80: 9001})
        self.assertIn('"tcp:127.0.0.1:9000-10.0.2.100:8080"', text)
        self.assertIn('"tcp:127.0.0.1:9001-10.0.2.100:80"', text)
        self.assertIn("cpus = 2", text)
        from bladeplane_cli import topology
        topo = topology.loads(text)
        ch = topo.chassis[0]
        self.assertEqual([b.cpus for b in ch.blades], [2, 1])
        self.assertEqual({s.name: s.port for s in ch.services},
                         {"web": 8080, "cgi": 80})

    def test_cells(self):
        for name, cell in lbemu.CELLS.items():
            self.assertEqual(cell.name, name)
            self.assertGreater(len(cell.cpus), 1)
        self.assertEqual(lbemu.CELLS["e"].reqs, 1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        # Counted before the answer goes: once the client has it, the test
        # may count the connections at once.
        self.server.conns.add(self.client_address)
        body = f"blade=h{self.server.server_port % 2} path={self.path}\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


class OpenLoopTest(unittest.TestCase):

    def setUp(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.conns = set()
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def tearDown(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def test_keep_alive(self):
        port = self.server.server_port
        ol = OpenLoop("127.0.0.1", port, "/w", rate=40, seconds=0.5,
                      reqs=4, seed=2).run()
        self.assertEqual(ol.failed, 0, ol.last_error)
        self.assertEqual(ol.split, 0)
        self.assertGreater(len(ol.requests), 0)
        self.assertEqual(len(ol.requests) % 4, 0)
        # Four requests a connection: a quarter as many client ports.
        self.assertEqual(len(self.server.conns), len(ol.requests) // 4)
        for offset, rt, blade in ol.requests:
            self.assertTrue(0 < offset <= 0.5)
            self.assertGreater(rt, 0)
            self.assertEqual(blade, f"h{port % 2}")

    def test_one_request_per_connection(self):
        ol = OpenLoop("127.0.0.1", self.server.server_port, "/w", rate=40,
                      seconds=0.3, reqs=1, seed=2).run()
        self.assertEqual(ol.failed, 0, ol.last_error)
        self.assertEqual(len(self.server.conns), len(ol.requests))

    def test_same_seed_same_arrivals(self):
        a = OpenLoop("127.0.0.1", self.server.server_port, "/w", rate=50,
                     seconds=0.3, reqs=1, seed=9).run()
        b = OpenLoop("127.0.0.1", self.server.server_port, "/w", rate=50,
                     seconds=0.3, reqs=1, seed=9).run()
        self.assertEqual(sorted(r[0] for r in a.requests),
                         sorted(r[0] for r in b.requests))

    def test_refused(self):
        port = self.server.server_port
        self.server.shutdown()
        self.server.server_close()
        self.server = None
        ol = OpenLoop("127.0.0.1", port, "/w", rate=40, seconds=0.2,
                      reqs=2, seed=1).run()
        self.assertEqual(ol.requests, [])
        self.assertGreater(ol.failed, 0)
        self.assertIsNotNone(ol.last_error)


if __name__ == "__main__":
    unittest.main()


class EmuPlotInputTest(unittest.TestCase):
    """tests/bench/lb-report.py --emu reads the cells back from the bench's
    own output lines, as cell_lines() writes them."""

    def test_cells_from_output(self):
        import importlib.util
        import os
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "bench", "lb-report.py")
        spec = importlib.util.spec_from_file_location("lb_report", path)
        report = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(report)
        results = {"util": PolicyResult(0.1, 0.2, 0.15, 0.3, 10),
                   "p2c-conn": PolicyResult(0.1, 0.9, 0.5, 1.2, 10)}
        lines = ["# comment", "emu_b_capacity_rps: 76.70"]
        lines += lbemu.cell_lines("b", results)
        cells = report.emu_cells(lines)
        self.assertEqual(set(cells), {"b"})
        self.assertEqual(cells["b"]["util"], (200, 150, 300))
        self.assertEqual(cells["b"]["p2c-conn"], (900, 500, 1200))


class VirtualCellTest(unittest.TestCase):
    """bench lb-emu --timing virtual: the chassis it boots and the client
    blade's log it reads (scripts/bladeplane_cli/lbvirtual.py)."""

    def topo(self, cell):
        pols = lbvirtual.policies()
        args = lbvirtual.loadgen_args(lbemu.CELLS[cell], pols, 2, 1.0, 0.5, 8)
        text = lbvirtual.topology_text("t", lbemu.CELLS[cell], pols, args,
                                       1.0)
        return topology.loads(text, "t.toml"), pols

    def test_one_service_per_policy_on_the_servers_only(self):
        topo, pols = self.topo("b")
        ch = topo.chassis[0]
        self.assertTrue(topo.virtual())
        self.assertEqual(sorted(s.policy for s in ch.services),
                         sorted(topology.POLICIES))
        self.assertEqual(len({s.vip for s in ch.services}), len(pols))
        for s in ch.services:
            self.assertEqual(s.blades, [0, 1, 2])
        client = ch.blade(lbvirtual.CLIENT)
        self.assertEqual(topo.blade_vips(ch, client), [])
        run = [w for w in client.append.split() if w.startswith("blade.run=")]
        args = run[0][len("blade.run="):].split(",")
        # the targets are the VIPs, rr's first
        self.assertEqual(args[-len(pols):],
                         [lbvirtual.vip(i) for i in range(len(pols))])
        self.assertEqual(pols[0], "rr")
        self.assertEqual(lbvirtual.loadgen_targets(client.append),
                         [lbvirtual.vip(i) for i in range(len(pols))])
        # -W waits on the servers' own addresses (-A), no VIP: its probes
        # count among no service's flows
        wait = args.index("-W")
        self.assertEqual(args[wait:wait + 10],
                         ["-W", "3", "-A", "10.0.2.10", "-A", "10.0.2.11",
                          "-A", "10.0.2.12", "-S", "0.5"])
        self.assertEqual([b.ip.split("/")[0] for b in ch.blades
                          if b.name != lbvirtual.CLIENT],
                         ["10.0.2.10", "10.0.2.11", "10.0.2.12"])
        self.assertIn("blade-hog,start,-n,-10,1", ch.blade("b1").append)

    def test_slow_cpu_and_hog_that_comes_and_goes(self):
        topo, _ = self.topo("c")
        shifts = [b.icount_shift for b in topo.chassis[0].blades]
        self.assertEqual(shifts, [0, 1, 0, 0])
        topo, _ = self.topo("d")
        # the hog's period is the measured phase's length (1.0 s here)
        self.assertIn("blade.run=blade-hog,start,-n,-10,-p,0.5:0.5,1",
                      topo.chassis[0].blade("b1").append)

    def test_calibration_blade(self):
        """lb-calib --timing virtual: one server, unequal as its condition
        says, and a client in a closed loop on the server's own address."""
        args = lbvirtual.calib_args(5.0, 8)
        for cond, hog, shift in (("none", None, 0), ("nice0", "-n,0,1", 0),
                                 ("nice-10", "-n,-10,1", 0),
                                 ("half-speed", None, 1)):
            text = lbvirtual.topology_text(
                "t", lbvirtual.CALIB[cond], [], args,
                servers=(lbvirtual.CALIB_SERVER,),
                slow=lbvirtual.CALIB_SERVER)
            ch = topology.loads(text, "t.toml").chassis[0]
            self.assertEqual([b.name for b in ch.blades],
                             [lbvirtual.CALIB_SERVER, lbvirtual.CLIENT])
            self.assertEqual(ch.services, [])
            server = ch.blade(lbvirtual.CALIB_SERVER)
            self.assertEqual(server.icount_shift, shift)
            if hog:
                self.assertIn(f"blade.run=blade-hog,start,{hog}",
                              server.append)
            else:
                self.assertNotIn("blade.run", server.append)
            self.assertEqual(
                lbvirtual.loadgen_targets(ch.blade(lbvirtual.CLIENT).append),
                [server.ip.split("/")[0]])
        self.assertEqual(args[args.index("-c"):args.index("-c") + 4],
                         ["-c", "5", "-C", str(lbvirtual.CALIB_CONNS)])
        self.assertEqual(args[args.index("-n") + 1], "0")

    def test_calibration_refuses_rounds(self):
        # one run per condition: a repeat would give the same figures
        with self.assertRaisesRegex(Failure, "--rounds: every run gives "
                                    "the same figures"):
            lbvirtual.run_calib(rounds=2)

    def test_timing_only_for_the_benches_that_boot_blades(self):
        cli = os.path.join(cli_path.REPO, "scripts", "bladeplane")
        for name, why in (
                ("pcs", "--timing is an option of lb-emu, lb-calib and "
                        "guest, not of pcs"),
                ("chaos", "in virtual time the others wait for a process "
                          "that goes")):
            proc = subprocess.run([sys.executable, cli, "bench", name,
                                   "--timing", "virtual"],
                                  capture_output=True, text=True)
            self.assertEqual(proc.returncode, 1)
            self.assertIn(why, proc.stderr)

    LOG = """\
capacity_rps: 100.00
rate_rps: 70.00
phase 0 0 1000000000
req 0 0 0 0 b0 1000000000 1000000000 1010000000
req 0 0 0 1 b0 1000000000 1010000000 1030000000
req 0 0 1 0 b1 1700000000 1700000000 1800000000
phase 1 0 3000000000
req 1 0 0 0 b2 3000000000 3000000000 3005000000
req 1 0 0 1 b1 3000000000 3005000000 3006000000
fail 1 0 1 timeout
loadgen-done: requests 5 failed 1 log_dropped 0
"""

    def test_client_log(self):
        log = lbvirtual.ClientLog(self.LOG.splitlines(), 2)
        self.assertEqual((log.capacity, log.rate), (100.0, 70.0))
        self.assertEqual(log.failed, {1: 1})
        # blocks of 0.5 s of arrivals: the first two requests, then the
        # third (0.7 s into its phase)
        groups = log.groups(0)
        self.assertEqual([[round(v, 3) for v in g] for g in groups],
                         [[0.01, 0.02], [0.1]])
        self.assertEqual(log.shares(0), {"b0": 1, "b1": 1})
        self.assertEqual((log.split(0), log.split(1)), (0, 1))

    def test_client_log_refused(self):
        for bad, why in (("req 0 0 0 0 b0 1 1 2", "line 1"),
                         ("phase 0 0 0\nreq 7 0 0 0 b0 1 1 2", "target 7"),
                         ("phase 0 0 0\nreq 0 0 x 0 b0 1 1 2", "line 2"),
                         ("capacity_rps: 1", "did not finish")):
            with self.assertRaises(Failure) as cm:
                lbvirtual.ClientLog(bad.splitlines(), 2)
            self.assertIn(why, str(cm.exception))

    def test_run_output_between_the_markers(self):
        console = (b"boot\r\nBLADEPLANE-RUN-BEGIN\r\nreq 1\r\nx\r\n"
                   b"BLADEPLANE-RUN-END {}\r\n$ ")
        self.assertEqual(lbvirtual.run_output(console), ["req 1", "x"])
        with self.assertRaises(Failure):
            lbvirtual.run_output(b"BLADEPLANE-RUN-BEGIN\r\nreq 1\r\n")
