#!/usr/bin/env python3
"""Runs the balancing simulator (bench-lb) over the grid of
docs/balancing.md and writes its tables (markdown) and plots (gnuplot
PNGs).  Every run is seeded, so the figures are the same on any machine;
only the time it takes changes (about an hour on one core, most of it
wrr-cpu's long warm-up and the 1 s staleness points).

    ninja -C build/host tests/bench/bench-lb
    python3 tests/bench/lb-report.py [--bench build/host/tests/bench/bench-lb]
        [--out build/lb-report] [--img docs/img] [--only NAME]
    python3 tests/bench/lb-report.py --emu LB_EMU_OUTPUT [--emu ...]
        [--emu-name lb-emu-p99]

Results are cached per command line in OUT/runs/, so a second run only
redoes what changed.  The tables go to OUT/tables.md; the plots need
gnuplot (Debian: gnuplot-nox) and are skipped without it.
"""

import argparse
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

BASE_PICKERS = ["jsq", "sed", "sq2", "leastconn", "p2c-conn", "rr",
                "random"]
REPORT_PICKERS = ["util", "wrr-cpu"]
ALL = BASE_PICKERS[:3] + ["util"] + BASE_PICKERS[3:] + ["wrr-cpu"]
STALENESS_US = [0, 10, 100, 1000, 10000, 100000, 1000000]
LOADS = [0.5, 0.8, 0.9, 0.95]


class Runner:
    def __init__(self, bench, out, verbose=True):
        self.bench = bench
        self.cache = os.path.join(out, "runs")
        os.makedirs(self.cache, exist_ok=True)
        self.verbose = verbose
        # results are cached per binary: a rebuilt simulator (another
        # policy, another default) reruns every cell
        with open(bench, "rb") as f:
            self.build = hashlib.sha256(f.read()).hexdigest()[:16]

    def run(self, args):
        """Rows (dicts) of bench-lb --csv with @args; ramp rows apart."""
        cmd = [self.bench, "--csv"] + [str(a) for a in args]
        key = hashlib.sha256((self.build + " " + " ".join(cmd[1:]))
                             .encode()).hexdigest()[:16]
        path = os.path.join(self.cache, key + ".csv")
        if not os.path.exists(path):
            if self.verbose:
                print("run:", " ".join(cmd[1:]), file=sys.stderr, flush=True)
            out = subprocess.run(cmd, check=True, capture_output=True,
                                 text=True).stdout
            with open(path + ".tmp", "w") as f:
                f.write("# " + " ".join(cmd[1:]) + "\n" + out)
            os.rename(path + ".tmp", path)
        with open(path) as f:
            lines = [l for l in f if not l.startswith("#")]
        rows = [l for l in lines if not l.startswith("ramp,")]
        ramp = [l.strip().split(",") for l in lines if l.startswith("ramp,")]
        rows = list(csv.DictReader(io.StringIO("".join(rows))))
        if (rows and "backlog_growth" not in rows[0] and
                float(rows[0]["util_max"]) >= 0.995):
            # from a bench-lb without the backlog figure, and a blade
            # saturated: run again to tell stable from unstable
            os.remove(path)
            return self.run(args)
        return rows, ramp

    def cell(self, args, pickers):
        """{picker: row} for one cell, one bench-lb run per picker."""
        res = {}
        for p in pickers:
            rows, _ = self.run(list(args) + ["--pickers", p])
            res[p] = rows[0]
        return res


def p99(row):
    return float(row["p99_us"])


def fmt(x):
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def unstable(row):
    """A blade whose requests in system grew by more than 1 % of the
    requests a blade serves over the measured span (and at least 100):
    overloaded, its backlog grows for as long as the run lasts.  Rows
    without the figure come from runs where no blade was saturated (busy
    under 99.5 % of the time), which cannot be."""
    g = row.get("backlog_growth")
    if g is None:
        return False
    per_blade = float(row["requests"]) / float(row["blades"])
    return float(g) > max(100.0, 0.01 * per_blade)


def cellfmt(row):
    s = fmt(p99(row))
    return s + " (u)" if unstable(row) else s


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out) + "\n"


def ratio(a, b):
    return f"{a / b:.2f}"


# ---------------------------------------------------------------------------
# the experiments

HEADLINE = ["--het", "speed", "--load", "0.9", "--report-us", "100"]


def headline(r, md):
    res = r.cell(HEADLINE, ALL)
    rows = []
    for p in ALL:
        x = res[p]
        rows.append([p, fmt(float(x["mean_us"])), cellfmt(x),
                     fmt(float(x["p999_us"])),
                     f"{float(x['util_max']) / float(x['util_mean']):.3f}",
                     f"{float(x['fast_share']):.3f}",
                     x["affinity_violations"]])
    md.append("### Headline cell\n\n16 blades x 4 cores, odd blades 2x "
              "faster, exponential service (mean 2.9975 us), one request "
              "per flow, load 0.9, reports every 100 us averaged over "
              "100 us, seed 1 (`bench-lb`, i.e. `scripts/bladeplane bench "
              "lb`). Response times in us; (u): unstable, a blade's "
              "backlog grows for the whole run (by more than 1 % of the "
              "requests it serves), so the figure depends on the run's "
              "length.\n\n")
    md.append(table(["picker", "mean", "p99", "p99.9", "util max/mean",
                     "fast blades' share", "affinity violations"], rows))
    u = p99(res["util"])
    md.append(f"\np99 util / jsq = {ratio(u, p99(res['jsq']))}, util / sed "
              f"= {ratio(u, p99(res['sed']))}, leastconn / util = "
              f"{ratio(p99(res['leastconn']), u)}, rr / util = "
              f"{ratio(p99(res['rr']), u)}, wrr-cpu / util = "
              f"{ratio(p99(res['wrr-cpu']), u)}; reporting: "
              f"{float(res['util']['report_cg_per_s']):,.0f} code groups/s "
              f"per lane in the idle gap, "
              f"{res['util']['report_frame_bytes']} frame bytes.\n\n")
    return res


SEEDS = [1, 2, 3, 4, 5]


def seeds(r, md):
    rows = []
    for s in SEEDS:
        res = r.cell(HEADLINE + ["--seed", s],
                     ["jsq", "util", "leastconn", "sed"])
        u = p99(res["util"])
        rows.append([str(s), fmt(p99(res["jsq"])), fmt(u),
                     fmt(p99(res["leastconn"])),
                     ratio(u, p99(res["jsq"])),
                     ratio(p99(res["leastconn"]), u)])
    md.append("### The headline cell with other seeds\n\n")
    md.append(table(["seed", "jsq p99", "util p99", "leastconn p99",
                     "util / jsq", "leastconn / util"], rows))
    md.append("\n")


STEPS = [
    ("0: first design (REPORTED, 5 % per dispatched flow, 2 choices)",
     ["--estimator", "reported"]),
    ("0a: REPORTED without dispatch counting (flow cost 0)",
     ["--estimator", "reported", "--flow-cost", "0"]),
    ("0b: REPORTED, 0.5 % per flow", ["--estimator", "reported",
                                      "--flow-cost", "50"]),
    ("0c: REPORTED, flow cost 0, 4 choices",
     ["--estimator", "reported", "--flow-cost", "0", "--choices", "4"]),
    ("1: NET (flows dispatched minus ended), 5 % per flow",
     ["--estimator", "net"]),
    ("1a: NET, 2.5 % per flow", ["--estimator", "net", "--flow-cost",
                                 "250"]),
    ("1b: NET, 4 choices", ["--estimator", "net", "--choices", "4"]),
    ("2: BACKLOG (learned cost per flow x open flows, all members)", []),
    ("2a: BACKLOG without interrupt weighting", ["--irq-weight", "0"]),
]
STEP_CELLS = [
    ("speed", ["--het", "speed"]),
    ("both", ["--het", "both"]),
    ("8 req/flow", ["--het", "speed", "--reqs", "8"]),
    ("bimodal", ["--het", "speed", "--dist", "bimodal"]),
]


def steps(r, md):
    base = {}
    for name, args in STEP_CELLS:
        base[name] = r.cell(["--load", "0.9", "--report-us", "100"] + args,
                            ["jsq", "leastconn"])
    rows = [["perfect JSQ (oracle)"] +
            [fmt(p99(base[n]["jsq"])) for n, _ in STEP_CELLS],
            ["leastconn"] + [fmt(p99(base[n]["leastconn"]))
                             for n, _ in STEP_CELLS]]
    for label, sargs in STEPS:
        row = [label]
        for name, args in STEP_CELLS:
            x = r.cell(["--load", "0.9", "--report-us", "100"] + args +
                       sargs, ["util"])["util"]
            row.append(f"{cellfmt(x)} ({ratio(p99(x), p99(base[name]['jsq']))})")
        rows.append(row)
    md.append("### util, step by step\n\np99 in us (and over perfect JSQ) "
              "at load 0.9, reports every 100 us; exponential service "
              "unless said; `--het speed`: odd blades 2x faster; `both`: "
              "also every fourth blade with background load.\n\n")
    md.append(table(["util variant"] + [n for n, _ in STEP_CELLS], rows))
    md.append("\n")


WORKLOADS = [
    ("exp", []),
    ("bimodal", ["--dist", "bimodal"]),
    ("pareto", ["--dist", "pareto"]),
    ("8 req/flow", ["--reqs", "8"]),
]
HETS = ["equal", "speed", "onoff", "both"]
WL_PICKERS = ["jsq", "sed", "util", "leastconn", "p2c-conn", "rr",
              "wrr-cpu"]


def workloads(r, md):
    rows = []
    for wname, wargs in WORKLOADS:
        for het in HETS:
            res = r.cell(["--load", "0.9", "--report-us", "100", "--het",
                          het] + wargs, WL_PICKERS)
            u = p99(res["util"])
            ok = (u <= 1.3 * p99(res["jsq"]) and
                  p99(res["leastconn"]) >= 2 * u and
                  p99(res["rr"]) >= 2 * u)
            rows.append([wname, het] + [cellfmt(res[p]) for p in WL_PICKERS]
                        + [ratio(u, p99(res["jsq"])),
                           ratio(p99(res["leastconn"]), u),
                           ratio(p99(res["rr"]), u),
                           "yes" if ok else "no"])
    md.append("### Every workload and kind of blade, load 0.9, reports "
              "every 100 us\n\np99 in us; (u): unstable. The last "
              "columns are the issue's targets: util / jsq <= 1.3, "
              "leastconn / util >= 2 and rr / util >= 2.\n\n")
    md.append(table(["service", "blades"] + WL_PICKERS +
                    ["util/jsq", "leastconn/util", "rr/util", "targets"],
                    rows))
    md.append("\n")


def blades_n(r, md):
    rows = []
    for n in [8, 16, 64]:
        res = r.cell(HEADLINE + ["--blades", n],
                     ["jsq", "util", "leastconn", "p2c-conn", "rr"])
        u = p99(res["util"])
        rows.append([str(n)] + [cellfmt(res[p]) for p in
                                ["jsq", "util", "leastconn", "p2c-conn",
                                 "rr"]] +
                    [ratio(u, p99(res["jsq"])),
                     ratio(p99(res["leastconn"]), u)])
    md.append("### Number of blades (headline cell otherwise)\n\n")
    md.append(table(["N", "jsq", "util", "leastconn", "p2c-conn", "rr",
                     "util/jsq", "leastconn/util"], rows))
    md.append("\n")


def loads(r, md, img, plots):
    series = {}
    pickers = ["jsq", "sed", "util", "leastconn", "p2c-conn", "rr",
               "random", "wrr-cpu"]
    rows = []
    for load in LOADS:
        res = r.cell(["--het", "speed", "--report-us", "100", "--load",
                      load], pickers)
        rows.append([str(load)] + [cellfmt(res[p]) for p in pickers])
        for p in pickers:
            series.setdefault(p, []).append((load, p99(res[p])))
    md.append("### p99 against load (odd blades 2x faster, reports every "
              "100 us)\n\n")
    md.append(table(["load"] + pickers, rows))
    md.append("\n![p99 against load](img/lb-p99-load.png)\n\n")
    plots.append(("lb-p99-load", "p99 response time against load, "
                  "half the blades 2x faster, reports every 100 us",
                  "offered load", "p99 (us)", False, True, series))


STALE_CELLS = [
    ("speed", "odd blades 2x faster", ["--het", "speed"]),
    ("onoff", "every 4th blade with on/off background load",
     ["--het", "onoff"]),
    ("conn", "odd blades 2x faster, 8 requests per flow",
     ["--het", "speed", "--reqs", "8"]),
]


def staleness(r, md, img, plots):
    for name, what, args in STALE_CELLS:
        series = {}
        base = r.cell(["--load", "0.9"] + args,
                      ["jsq", "leastconn", "p2c-conn"])
        variants = [("util", []),
                    ("util REPORTED (first design)",
                     ["--estimator", "reported"]),
                    ("util NET", ["--estimator", "net"])]
        if name == "speed":
            variants.append(("wrr-cpu", None))
        rows = []
        for st in STALENESS_US:
            row = [("0 (every event)" if st == 0 else f"{st:,}")]
            for label, vargs in variants:
                if vargs is None:
                    x = r.cell(["--load", "0.9", "--report-us", st] + args,
                               ["wrr-cpu"])["wrr-cpu"]
                else:
                    x = r.cell(["--load", "0.9", "--report-us", st] + args +
                               vargs, ["util"])["util"]
                row.append(cellfmt(x))
                series.setdefault(label, []).append((max(st, 1), p99(x)))
            rows.append(row)
        for p in ["jsq", "leastconn", "p2c-conn"]:
            series[p + " (no reports)"] = [(max(st, 1), p99(base[p]))
                                           for st in STALENESS_US]
        md.append(f"### p99 against report staleness: {what}, load 0.9\n\n"
                  f"Report period = averaging window; a report is between "
                  f"0 and one period old. Without reports: jsq "
                  f"{fmt(p99(base['jsq']))}, leastconn "
                  f"{fmt(p99(base['leastconn']))}, p2c-conn "
                  f"{fmt(p99(base['p2c-conn']))} us.\n\n")
        md.append(table(["report period (us)"] + [v[0] for v in variants],
                        rows))
        md.append(f"\n![p99 against staleness, {name}]"
                  f"(img/lb-p99-staleness-{name}.png)\n\n")
        plots.append((f"lb-p99-staleness-{name}",
                      f"p99 against report period (0 plotted at 1 us): "
                      f"{what}, load 0.9", "report period (us)",
                      "p99 (us)", True, True, series))


def window(r, md):
    rows = []
    for w in [0, 10, 100, 1000, 10000]:
        x = r.cell(HEADLINE + ["--window-us", w], ["util"])["util"]
        y = r.cell(["--het", "onoff", "--load", "0.9", "--report-us",
                    "100", "--window-us", w], ["util"])["util"]
        rows.append([("0 (instant)" if w == 0 else f"{w:,}"), cellfmt(x),
                     cellfmt(y)])
    md.append("### CPU averaging window (reports every 100 us), util p99\n"
              "\n")
    md.append(table(["window (us)", "2x faster blades", "background load"],
                    rows))
    md.append("\n")


def delays(r, md):
    rows = []
    for d in [0, 10, 100]:
        res = r.cell(HEADLINE + ["--close-delay-us", d],
                     ["jsq", "util", "leastconn", "p2c-conn"])
        rows.append([f"{d}"] + [cellfmt(res[p]) for p in
                                ["jsq", "util", "leastconn", "p2c-conn"]])
    md.append("### Flow ends seen late by the switch (headline cell)\n\n")
    md.append(table(["close delay (us)", "jsq", "util", "leastconn",
                     "p2c-conn"], rows))
    md.append("\n")
    rows = []
    for d in [0, 100, 1000]:
        x = r.cell(HEADLINE + ["--delay-us", d], ["util"])["util"]
        rows.append([f"{d}", cellfmt(x)])
    md.append("Reports delivered late (period 100 us):\n\n")
    md.append(table(["report delay (us)", "util p99"], rows))
    md.append("\n")


# The emulator's regime: reports every 100 ms (the guest driver's
# default), flows of about 200 ms, a few a second on each blade: most
# report intervals see no flow on a blade.
SLOW = ["--blades", "4", "--cores", "2", "--mean-us", "200000",
        "--report-us", "100000", "--load", "0.7", "--bg-cores", "1",
        "--bg-on-us", "3000000", "--bg-off-us", "3000000", "--flows",
        "30000", "--warmup", "3000"]


def slow(r, md):
    rows = []
    for het in ["equal", "speed", "onoff", "both"]:
        res = r.cell(SLOW + ["--het", het], WL_PICKERS)
        rows.append([het] + [fmt(p99(res[p]) / 1000) +
                             (" (u)" if unstable(res[p]) else "")
                             for p in WL_PICKERS] +
                    [ratio(p99(res["util"]), p99(res["jsq"])),
                     ratio(p99(res["leastconn"]), p99(res["util"]))])
    md.append("### Flows rarer than reports (the emulator's regime)\n\n"
              "4 blades of 2 cores, exponential service of mean 200 ms, "
              "one request per flow, load 0.7, reports every 100 ms; "
              "`onoff`: every fourth blade (one) has background load on "
              "one core, on and off for 3 s on average. p99 in ms.\n\n")
    md.append(table(["blades"] + WL_PICKERS + ["util/jsq", "leastconn/util"],
                    rows))
    md.append("\n")


def ramp(r, md, img, plots):
    pickers = ["jsq", "util", "leastconn", "p2c-conn", "rr", "wrr-cpu"]
    series = {}
    bins = None
    for p in pickers:
        rows, ramp_rows = r.run(["--het", "speed", "--report-us", "100",
                                 "--load", "0.5", "--load-end", "1.2",
                                 "--flows", "4000000", "--warmup", "0",
                                 "--wrr-warmup-periods", "0",
                                 "--pickers", p])
        series[p] = [(float(x[2]), float(x[3])) for x in ramp_rows]
        bins = [float(x[2]) for x in ramp_rows]
    md.append("### Ramp past capacity\n\nLoad rising linearly from 0.5 to "
              "1.2 over 4 million flows (about 0.14 s), odd blades 2x "
              "faster, reports every 100 us, no warm-up (wrr-cpu's first "
              "second, with no weights, covers the whole ramp). p99 in us "
              "of the requests of the flows started in each load band:\n\n")
    rows = []
    for i, b in enumerate(bins):
        rows.append([f"{b:.3f}"] + [fmt(series[p][i][1]) for p in pickers])
    md.append(table(["load"] + pickers, rows))
    md.append("\n![ramp](img/lb-p99-ramp.png)\n\n")
    plots.append(("lb-p99-ramp", "p99 while the load ramps from 0.5 to "
                  "1.2, half the blades 2x faster", "offered load",
                  "p99 (us)", False, True, series))


def erlang_c(k, rho):
    a, term, tot = rho * k, 1.0, 0.0
    for j in range(k):
        tot += term
        term *= a / (j + 1)
    pk = term / (1 - rho)
    return pk / (tot + pk) / (k - a) + 1


def validation(r, md):
    cases = [
        ("random, M/M/1, load 0.8 (N 8, c 1)",
         ["--blades", 8, "--cores", 1, "--het", "equal", "--load", 0.8],
         "random", 1 / (1 - 0.8), "mean"),
        ("random, M/M/1 p99, load 0.8", ["--blades", 8, "--cores", 1,
                                          "--het", "equal", "--load", 0.8],
         "random", 4.605 / (1 - 0.8), "p99"),
        ("random, M/G/1 bimodal, load 0.5",
         ["--blades", 8, "--cores", 1, "--het", "equal", "--load", 0.5,
          "--dist", "bimodal"], "random", None, "mean"),
        ("random, M/G/1 Pareto SCV 50, load 0.5",
         ["--blades", 8, "--cores", 1, "--het", "equal", "--load", 0.5,
          "--dist", "pareto"], "random", 1 + 0.5 * 51 / 1.0, "mean"),
        ("JSQ, N 16, load 0.5 (theory: M/M/16)",
         ["--blades", 16, "--cores", 1, "--het", "equal", "--load", 0.5],
         "jsq", erlang_c(16, 0.5), "mean"),
        ("JSQ, N 16, load 0.9 (theory: M/M/16)",
         ["--blades", 16, "--cores", 1, "--het", "equal", "--load", 0.9],
         "jsq", erlang_c(16, 0.9), "mean"),
        ("SQ(2), N 200, load 0.9 (supermarket)",
         ["--blades", 200, "--cores", 1, "--het", "equal", "--load", 0.9],
         "sq2", sum(0.9 ** (2 ** i - 2) for i in range(1, 40)), "mean"),
    ]
    s_bi = 0.995 * 500 + 0.005 * 500000
    m2 = 0.995 * 500 ** 2 + 0.005 * 500000 ** 2
    bimodal = 1 + 0.5 * (m2 / s_bi ** 2) / (2 * 0.5)
    rows = []
    for label, args, picker, want, what in cases:
        vals = []
        for s in range(1, 9):
            rows_, _ = r.run(args + ["--seed", s, "--flows", 1000000,
                                     "--warmup", 50000, "--pickers",
                                     picker])
            x = rows_[0]
            vals.append(float(x[what + "_us"]) / (s_bi / 1000))
        mean = sum(vals) / len(vals)
        sd = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5
        if "bimodal" in label:
            want = bimodal
        rows.append([label, f"{want:.4f}" if want else "-",
                     f"{mean:.4f}", f"{sd / mean * 100:.2f} %",
                     f"{(mean / want - 1) * 100:+.2f} %" if want else "-",
                     f"{min(vals):.4f} .. {max(vals):.4f}"])
    md.append("### Validation spread over eight seeds\n\nIn mean service "
              "times; one million flows after 50000 of warm-up, seeds "
              "1-8.\n\n")
    md.append(table(["case", "theory", "mean of 8", "sd / mean",
                     "mean vs theory", "range"], rows))
    md.append("\n")


# ---------------------------------------------------------------------------
# plots

def plot(gnuplot, img, datdir, name, title, xlabel, ylabel, logx, logy,
         series):
    os.makedirs(datdir, exist_ok=True)
    cmds = ["set terminal pngcairo size 900,560 font 'sans,10'"
            if _has_cairo(gnuplot) else "set terminal png size 900,560",
            f"set output '{os.path.join(img, name + '.png')}'",
            f"set title \"{title}\"", f"set xlabel '{xlabel}'",
            f"set ylabel '{ylabel}'", "set key outside right",
            "set grid"]
    if logx:
        cmds.append("set logscale x")
    if logy:
        cmds.append("set logscale y")
    parts = []
    with open(os.path.join(datdir, name + ".dat"), "w") as f:
        for i, (label, pts) in enumerate(series.items()):
            f.write(f"# {label}\n")
            for x, y in pts:
                f.write(f"{x} {y}\n")
            f.write("\n\n")
            parts.append(f"'{os.path.join(datdir, name + '.dat')}' index {i}"
                         f" with linespoints title '{label}'")
    cmds.append("plot " + ", ".join(parts))
    subprocess.run([gnuplot], input="\n".join(cmds) + "\n", text=True,
                   check=True)


def _has_cairo(gnuplot):
    out = subprocess.run([gnuplot, "-e", "set terminal"], text=True,
                         capture_output=True)
    return "pngcairo" in out.stdout + out.stderr


def emu_cells(lines):
    """{cell: {policy: (p99, lo, hi)}} from `bench lb-emu` output lines
    (emu_<cell>_<policy>_p99_ms, _p99_ci_lo_ms, _p99_ci_hi_ms)."""
    vals = {}
    for line in lines:
        key, sep, value = line.strip().partition(": ")
        if not sep or not key.startswith("emu_"):
            continue
        try:
            vals[key] = float(value)
        except ValueError:
            pass
    cells = {}
    for key in vals:
        if not key.endswith("_p99_ms"):
            continue
        cell, _, policy = key[len("emu_"):-len("_p99_ms")].partition("_")
        lo = vals.get(f"emu_{cell}_{policy}_p99_ci_lo_ms")
        hi = vals.get(f"emu_{cell}_{policy}_p99_ci_hi_ms")
        if policy and lo is not None and hi is not None:
            cells.setdefault(cell, {})[policy] = (vals[key], lo, hi)
    return cells


def plot_emu(gnuplot, img, datdir, cells, name, what="bench lb-emu"):
    """One panel per cell: each policy's p99 and its 95 % interval."""
    os.makedirs(datdir, exist_ok=True)
    dat = os.path.join(datdir, name + ".dat")
    with open(dat, "w") as f:
        for cell in sorted(cells):
            f.write(f"# cell {cell}: policy p99 lo hi (ms)\n")
            for i, (policy, (p99, lo, hi)) in enumerate(
                    sorted(cells[cell].items(), key=lambda kv: kv[1][0])):
                f.write(f"{i} {policy} {p99} {lo} {hi}\n")
            f.write("\n\n")
    n = len(cells)
    cmds = ["set terminal pngcairo size %d,420 font 'sans,9'" % (360 * n)
            if _has_cairo(gnuplot) else
            "set terminal png size %d,420" % (360 * n),
            f"set output '{os.path.join(img, name + '.png')}'",
            f"set multiplot layout 1,{n} title '{what}: p99 with "
            "95 % bootstrap interval, per policy (lower is better)'",
            "set logscale y", "set grid ytics", "set ylabel 'p99 (ms)'",
            "set xtics rotate by -45", "unset key", "set offsets 0.5,0.5,0,0"]
    for i, cell in enumerate(sorted(cells)):
        cmds += [f"set title 'cell {cell}'",
                 f"plot '{dat}' index {i} using 1:3:4:5:xtic(2) "
                 "with yerrorbars pt 7"]
    cmds.append("unset multiplot")
    subprocess.run([gnuplot], input="\n".join(cmds) + "\n", text=True,
                   check=True)


SECTIONS = ["validation", "headline", "seeds", "steps", "workloads",
            "blades", "loads", "staleness", "window", "delays", "slow",
            "ramp"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default=os.path.join(
        REPO, "build", "host", "tests", "bench", "bench-lb"))
    ap.add_argument("--out", default=os.path.join(REPO, "build",
                                                  "lb-report"))
    ap.add_argument("--img", default=os.path.join(REPO, "docs", "img"))
    ap.add_argument("--only", action="append", choices=SECTIONS)
    ap.add_argument("--emu", metavar="FILE", action="append",
                    help="instead of the simulator's grid, plot the cells of "
                    "saved `bench lb-emu` output (docs/img/lb-emu-p99.png)")
    ap.add_argument("--emu-name", default="lb-emu-p99", metavar="NAME",
                    help="the plot's file name, without .png")
    a = ap.parse_args()
    if a.emu:
        gnuplot = shutil.which("gnuplot")
        if not gnuplot:
            print("gnuplot not found (apt-get install gnuplot-nox)",
                  file=sys.stderr)
            return 1
        lines = []
        for path in a.emu:
            with open(path) as f:
                lines += f.readlines()
        cells = emu_cells(lines)
        if not cells:
            print("no emu_<cell>_<policy>_p99_ms lines with intervals in "
                  + ", ".join(a.emu), file=sys.stderr)
            return 1
        os.makedirs(a.img, exist_ok=True)
        virtual = any(line.strip() == "emu_timing: virtual" for line in lines)
        plot_emu(gnuplot, a.img, os.path.join(a.out, "dat"), cells,
                 a.emu_name, "bench lb-emu --timing virtual" if virtual
                 else "bench lb-emu")
        return 0
    r = Runner(a.bench, a.out)
    md, plots = [], []
    for sec in a.only or SECTIONS:
        f = globals()["blades_n" if sec == "blades" else sec]
        if sec in ("loads", "staleness", "ramp"):
            f(r, md, a.img, plots)
        else:
            f(r, md)
    with open(os.path.join(a.out, "tables.md"), "w") as f:
        f.write("\n".join(md))
    print("".join(md))
    gnuplot = shutil.which("gnuplot")
    if plots and not gnuplot:
        print("gnuplot not found: no plots (apt-get install gnuplot-nox)",
              file=sys.stderr)
        return 0
    os.makedirs(a.img, exist_ok=True)
    for p in plots:
        plot(gnuplot, a.img, os.path.join(a.out, "dat"), *p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
