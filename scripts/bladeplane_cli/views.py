"""`bladeplane status` and `bladeplane top`: the switch's state tree
(docs/switch-blade.md) read over QMP and shown to people, or as JSON.

Counters in the tree are cumulative since the switch started; rates and
shares come from two reads (interval_shares).

A blade is known by (chassis, slot): the switch of a chassis joined to
others by links lists their blades too ("remote": true, with their
chassis's name and their slot there), so a slot alone is not a blade."""

import json
import re
import sys
import time

from . import rundir, topology
from .chassis import blade_key, read_switch
from .common import Failure
from .qmp import QMPError


# ---- computations ---------------------------------------------------------------


def interval_shares(prev, cur, local=None):
    """Share of the NEW flows of an interval per blade, from two reads of
    the switch's state (the cumulative `new_flows` of each blade).  Blades
    are keyed (chassis, slot): `local` names the switch's own chassis (its
    blades' key), the others' come from the tree.

    Returns {(chassis, slot): (new flows in the interval, share 0..1 or
    None)}; the share is None when no new flow came.  Returns None when
    the interval cannot be measured: no earlier read, or the counters went
    backwards (the switch restarted in between)."""
    if prev is None:
        return None
    if _now(cur) is not None and _now(prev) is not None and \
            _now(cur) < _now(prev):
        return None
    before = {blade_key(b, local): b.get("new_flows", 0)
              for b in prev.get("blades", [])}
    deltas = {}
    for b in cur.get("blades", []):
        key = blade_key(b, local)
        d = b.get("new_flows", 0) - before.get(key, 0)
        if d < 0:
            return None
        deltas[key] = d
    total = sum(deltas.values())
    return {key: (d, d / total if total else None)
            for key, d in deltas.items()}


def share_between(prev, cur, key, local=None):
    """One blade's share of the new flows between two reads (None if no
    new flows, or if the interval cannot be measured); key is (chassis,
    slot), chassis `local` (default None) for the switch's own blades."""
    shares = interval_shares(prev, cur, local)
    if not shares or key not in shares:
        return None
    return shares[key][1]


def _now(state):
    return (state.get("switch") or {}).get("now_ms")


def interval_seconds(prev, cur):
    if prev is None or _now(prev) is None or _now(cur) is None:
        return None
    return (_now(cur) - _now(prev)) / 1000.0


def ports_by_name(state):
    return {p.get("name"): p for p in state.get("ports", [])}


def bus_interval(prev: dict | None, cur: dict) -> dict | None:
    """What the TDM bus did between two reads of the state tree (a bus
    chassis's "bus", docs/backplane.md): its utilization, and per
    transceiver (keyed by name: slot0, ..., switch) its grants, wasted
    slots and octets sent, its share of the octets and the mean wait of
    the frames that crossed, in us.  None without a bus, or when the
    interval cannot be measured (no earlier read, or the switch
    restarted)."""
    bus, before = cur.get("bus"), (prev or {}).get("bus")
    if not bus or not before:
        return None
    elapsed = bus.get("elapsed_ns", 0) - before.get("elapsed_ns", 0)
    if elapsed < 0:
        return None
    old = {t.get("name"): t for t in before.get("transceivers", [])}
    counted = ("bytes", "frames", "delay_ns", "grants", "wasted")
    sent: dict[str, dict[str, int]] = {}
    for t in bus.get("transceivers", []):
        o = old.get(t.get("name"), {})
        d = {k: t.get(k, 0) - o.get(k, 0) for k in counted}
        if min(d.values()) < 0:
            return None
        sent[t.get("name")] = d
    total = sum(d["bytes"] for d in sent.values())
    busy = bus.get("busy_ns", 0) - before.get("busy_ns", 0)
    return {"utilization": busy / elapsed if elapsed else None,
            "transceivers": {
                name: {"grants": d["grants"], "wasted": d["wasted"],
                       "bytes": d["bytes"],
                       "share": d["bytes"] / total if total else None,
                       "wait_us": (d["delay_ns"] / d["frames"] / 1000
                                   if d["frames"] else None)}
                for name, d in sent.items()}}


def port_errors(port):
    """Errors on a port (for a slot its count includes the PCS's code
    errors and bad frames)."""
    if not port:
        return None
    return port.get("errors")


# ---- formatting -----------------------------------------------------------------

# Cells that are right-aligned: numbers, percentages, durations, or none.
NUMERIC_RE = re.compile(r"^(-|-?\d+(\.\d+)?(%|ms|s)?)$")


def table(headers, rows, indent="  "):
    """Left-aligned columns (numbers right-aligned)."""
    cells = [[_cell(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    numeric = [bool(cells) and all(NUMERIC_RE.match(r[i]) for r in cells) and
               any(r[i] != "-" for r in cells) for i in range(len(headers))]

    def line(vals):
        out = []
        for i, v in enumerate(vals):
            out.append(v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]))
        return (indent + "  ".join(out)).rstrip()
    return "\n".join([line(headers)] + [line(r) for r in cells])


def _cell(v):
    if v is None:
        return "-"
    if v is True:
        return "yes"
    if v is False:
        return "no"
    return str(v)


def pct(v):
    return "-" if v is None else f"{v:.0f}%"


def score(v, unit):
    """util's score: the expected wait of a new flow in ms, or a load in
    % (state tree "score_unit")."""
    if v is None:
        return "-"
    return f"{v:.1f} ms" if unit == "ms" else f"{v:.0f}%"


def permille(v):
    """CPU pressure (permille in the state tree) as a percentage; "-" for a
    blade whose latest report had no contention figures."""
    return "-" if v is None else f"{v / 10:.1f}%"


def bar(v, width=10):
    if v is None:
        return "[" + " " * width + "]"
    n = max(0, min(width, round(v * width / 100)))
    return "[" + "#" * n + "." * (width - n) + "]"


def age(ms):
    if ms is None:
        return "-"
    return f"{ms}ms" if ms < 10000 else f"{ms / 1000:.0f}s"


def blade_names(spec_chassis, spec=None):
    """{(chassis, slot): blade name} of the blades a chassis's switch can
    list: its own, and with the topology those of every other chassis."""
    chassis = spec.chassis if spec is not None else [spec_chassis]
    return {(c.name, b.slot): b.name for c in chassis for b in c.blades}


def blade_label(names, key, remote=False):
    """A blade's name; for an empty slot "-", and for a blade the topology
    does not know (a chassis on another host) where it is."""
    if key in names:
        return names[key]
    return f"{key[0]}/slot{key[1]}" if remote else "-"


def blades_in_order(state):
    """The blades of a state tree: the switch's own in its order, then the
    other chassis's, nearest first (hops, chassis, slot)."""
    blades = state.get("blades", [])
    local = [b for b in blades if not b.get("remote")]
    remote = sorted((b for b in blades if b.get("remote")),
                    key=lambda b: (b.get("hops") or 0, str(b.get("chassis")),
                                   b.get("slot") or 0))
    return local + remote


def has_fabric(state):
    return bool(state.get("fabric")) or any(
        b.get("remote") for b in state.get("blades", []))


# ---- status ---------------------------------------------------------------------


def collect(run):
    """Everything `status --json` prints."""
    state = run.state
    spec = topology.from_dict(state["spec"])
    procs = []
    for p in run.processes():
        rec = {k: p.get(k) for k in ("kind", "name", "pid", "chassis", "slot",
                                     "qmp", "console", "console_log", "log")}
        rec["alive"] = rundir.process_alive(p)
        procs.append({k: v for k, v in rec.items() if v is not None})
    chassis = []
    for ch in spec.chassis:
        cs = state["chassis"].get(ch.name, {})
        entry = {"name": ch.name, "qmp": cs.get("qmp"), "state": None,
                 "error": None}
        try:
            entry["state"] = read_switch(cs["qmp"], f"chassis {ch.name}",
                                         timeout=5)
        except (QMPError, KeyError) as e:
            entry["error"] = str(e)
        chassis.append(entry)
    return {"topology": state["name"], "file": state.get("topology"),
            "run_dir": run.path, "phase": state.get("phase"),
            "started": state.get("started"), "accel": state.get("accel"),
            "processes": procs, "chassis": chassis}


def render_status(info, spec):
    lines = [f"topology {info['topology']} ({info['file']}): {info['phase']} "
             f"since {info['started']}, blades under {info['accel']}",
             f"run directory: {info['run_dir']}", "processes:"]
    rows = []
    multi = spec.multi()
    for p in info["processes"]:
        where = (f"slot {p['slot']}" if "slot" in p else "")
        if multi and "slot" in p:
            where = f"{p.get('chassis')} {where}"
        rows.append([p["kind"], p["name"], p["pid"],
                     "alive" if p["alive"] else "DEAD", where,
                     p.get("console_log") or p.get("log") or ""])
    lines.append(table(["kind", "name", "pid", "state", "where", "log"], rows))
    for entry, ch in zip(info["chassis"], spec.chassis):
        lines.append("")
        lines += render_chassis(entry, ch, spec)
    return "\n".join(lines)


def render_chassis(entry, ch, spec=None):
    st = entry["state"]
    if st is None:
        return [f"chassis {ch.name}: no state ({entry['error']})"]
    sw = st.get("switch", {})
    now = sw.get("now_ms")
    out = [f"chassis {ch.name}: switch {sw.get('mac', '?')}, "
           f"{sw.get('slots', ch.slots)} slots, clock "
           f"{now / 1000:.1f} s" if now is not None else
           f"chassis {ch.name}: switch {sw.get('mac', '?')}"]
    names = blade_names(ch, spec)
    multi = has_fabric(st)
    rows = []
    for p in st.get("ports", []):
        pcs = p.get("pcs") or {}
        kind = p.get("kind")
        who = (names.get((ch.name, p.get("slot")), "") if kind == "slot"
               else "")
        link = "up" if p.get("link") else "down"
        if kind == "chain" and p.get("link") and p.get("blocked"):
            link = "up, blocked"
        rows.append([p.get("name"), who, link,
                     p.get("sync") if "pcs" in p else None,   # lanes
                     p.get("speed_mbps"), p.get("rx_frames"), p.get("rx_bytes"),
                     p.get("tx_frames"), p.get("tx_bytes"),
                     (p.get("rx_drops", 0) + p.get("tx_drops", 0)),
                     port_errors(p), pcs.get("sync_losses"),
                     p.get("link_changes"), p.get("queue")])
    out.append("  ports:")
    out.append(table(["port", "blade", "link", "sync", "Mb/s", "rx_frames",
                      "rx_bytes", "tx_frames", "tx_bytes", "drops", "errors",
                      "sync_lost", "changes", "queue"], rows, "    "))
    if st.get("bus"):
        out += render_bus(st["bus"], names, ch.name)
    if st.get("fabric"):
        out += render_fabric(st["fabric"])
    rows = []
    score_unit = st.get("score_unit", "%")
    for b in blades_in_order(st):
        key = blade_key(b, ch.name)
        rot = "yes" if b.get("in_rotation") else f"no: {b.get('reason', '?')}"
        row = [b.get("slot"), blade_label(names, key, b.get("remote")),
               b.get("mac"),
               rot, pct(b.get("cpu")), pct(b.get("irq")),
               permille(b.get("pressure")), b.get("runnable"),
               age(b.get("report_age_ms")), b.get("reports"),
               b.get("active_flows"), b.get("new_flows"),
               b.get("moved_flows"), score(b.get("score"), score_unit)]
        if multi:
            row[1:1] = [key[0], b.get("hops", 0) if b.get("remote") else 0]
        rows.append(row)
    headers = ["slot", "blade", "mac", "rotation", "cpu", "irq", "psi",
               "run", "age", "reports", "flows", "new", "moved", "score"]
    if multi:
        headers[1:1] = ["chassis", "hops"]
    out.append("  blades:" + (" (hops 0: this chassis's; the others are "
                              "remote)" if multi else ""))
    out.append(table(headers, rows, "    "))
    rows = []
    for s in st.get("services", []):
        lo, hi = s.get("port_min"), s.get("port_max")
        ports = "*" if (lo, hi) in ((0, 65535), (0, 0)) else (
            f"{lo}" if lo == hi else f"{lo}-{hi}")
        shares = " ".join(
            f"{_share_label(names, ch, x)}:{x.get('share', 0) * 100:.0f}%"
            for x in s.get("share", []))
        rows.append([s.get("name"), s.get("kind") + (" (remote)" if
                                                     s.get("remote") else ""),
                     s.get("vip") or "any",
                     s.get("protocol"), ports, s.get("policy"),
                     s.get("new_flows"), s.get("no_blade"), shares])
    if rows:
        out.append("  services:")
        out.append(table(["name", "kind", "vip", "proto", "ports", "policy",
                          "new_flows", "no_blade", "share of new flows"],
                         rows, "    "))
    fl = st.get("flows") or {}
    if fl:
        out.append(f"  flows: {fl.get('count')} of {fl.get('capacity')} "
                   f"(created {fl.get('created')}, closed {fl.get('closed')}, "
                   f"expired {fl.get('expired')}, evicted {fl.get('evicted')}, "
                   f"moved {fl.get('moved')})")
    mt = st.get("mac_table") or {}
    if mt:
        out.append(f"  MAC table: {mt.get('count')} of {mt.get('capacity')} "
                   f"(learned {mt.get('learned')}, moved {mt.get('moved')}, "
                   f"aged {mt.get('aged')}, full {mt.get('full')})")
    drops = {k: v for k, v in (st.get("drops") or {}).items() if v}
    out.append("  switch drops: " + (", ".join(f"{k} {v}" for k, v in
                                               sorted(drops.items()))
                                     or "none"))
    return out


def _share_label(names, ch, x):
    """A blade of a service's share list: a remote one has its chassis."""
    remote = bool(x.get("chassis")) and x.get("chassis") != ch.name
    return blade_label(names, (x.get("chassis") or ch.name, x.get("slot")),
                       remote)


def render_bus(bus: dict, names: dict, chassis: str) -> list[str]:
    """The TDM bus of a state tree: its schedule and utilization since
    the switch started, and each transceiver's grants, octets and waits
    (docs/backplane.md)."""
    util = bus.get("utilization")
    out = [f"  bus: TDM, {bus.get('speed_mbps')} Mb/s, "
           f"{bus.get('schedule')}, {bus.get('frame_slots')} slots of "
           f"{bus.get('slot_bytes')} bytes a frame ("
           f"{bus.get('slot_ns', 0):g} ns a slot); utilization "
           f"{'-' if util is None else f'{util * 100:.1f}%'} since start, "
           f"sets in gaps {bus.get('util_in_gaps')}, in unused slots "
           f"{bus.get('util_in_idle')}"]
    rows = []
    for t in bus.get("transceivers", []):
        frames = t.get("frames") or 0
        blade = (names.get((chassis, t.get("slot")), "")
                 if "slot" in t else "(switch)")
        rows.append([t.get("name"), blade, t.get("weight"),
                     t.get("frame_slots"), t.get("grants"), t.get("wasted"),
                     t.get("bytes"), f"{t.get('share', 0) * 100:.1f}%",
                     frames, t.get("queue"),
                     f"{t['delay_ns'] / frames / 1000:.1f}" if frames
                     else None,
                     f"{t.get('delay_max_ns', 0) / 1000:.1f}",
                     t.get("util_carried") if "slot" in t else None,
                     t.get("dropped")])
    out.append(table(["xcvr", "blade", "weight", "slots", "grants", "wasted",
                      "bytes", "share", "frames", "queue", "mean_us",
                      "max_us", "util_sets", "dropped"], rows, "    "))
    return out


# Counters of a fabric's stats that are not trouble; any other that is not
# zero is shown (rx_malformed, rx_bad_auth, rx_unauthenticated, ...).
FABRIC_COUNTS = ("tx_adverts", "rx_adverts", "topology_changes")


def render_fabric(fab):
    """The fabric object of a state tree: identity, the spanning tree's
    root, each chain port's state and neighbour, and what was refused."""
    cid, root = fab.get("chassis_id"), fab.get("root_id")
    stats = fab.get("stats") or {}
    refused = ", ".join(f"{k} {v}" for k, v in stats.items()
                        if k not in FABRIC_COUNTS and v)
    changes = stats.get("topology_changes")
    out = [f"  fabric: chassis {fab.get('chassis')} (id {cid}), root "
           f"{root}" + (" (this chassis)" if root is not None and root == cid
                        else "") +
           f", adverts sent {stats.get('tx_adverts')}, received "
           f"{stats.get('rx_adverts')}"
           + (f", topology changes {changes}" if changes is not None else "")
           + f"; refused or lost: {refused or 'none'}"]
    rows = []
    roles = any(p.get("role") for p in fab.get("ports", []))
    for p in fab.get("ports", []):
        neighbour = p.get("neighbour")
        if neighbour and p.get("neighbour_id") is not None:
            neighbour = f"{neighbour} (id {p['neighbour_id']})"
        state = p.get("state") or ("forwarding" if p.get("forwarding")
                                   else "blocked")
        row = [p.get("name"), "up" if p.get("link") else "down", state,
               neighbour or "-", age(p.get("heard_age_ms")),
               p.get("rx_adverts"), p.get("tx_adverts")]
        if roles:
            row.insert(3, p.get("role"))
        rows.append(row)
    headers = ["port", "link", "state", "neighbour", "heard", "rx_adverts",
               "tx_adverts"]
    if roles:
        headers.insert(3, "role")
    out.append(table(headers, rows, "    "))
    return out


def status(run, as_json=False, out=sys.stdout):
    info = collect(run)
    if as_json:
        json.dump(info, out, indent=1)
        out.write("\n")
    else:
        spec = topology.from_dict(run.state["spec"])
        out.write(render_status(info, spec) + "\n")
    healthy = all(p["alive"] for p in info["processes"]) and \
        all(c["state"] is not None for c in info["chassis"])
    return 0 if healthy else 1


# ---- top ------------------------------------------------------------------------


def top_rows(prev, cur, ch, spec=None):
    """The rows of a top frame: one per blade of the state (the other
    chassis's too, marked remote, with their hops)."""
    shares = interval_shares(prev, cur, ch.name)
    bus = (bus_interval(prev, cur) or {}).get("transceivers", {})
    ports = ports_by_name(cur)
    names = blade_names(ch, spec)
    before = {blade_key(b, ch.name): b for b in (prev or {}).get("blades", [])}
    rows = []
    for b in blades_in_order(cur):
        key = blade_key(b, ch.name)
        remote = bool(b.get("remote"))
        port = None if remote else ports.get(f"slot{key[1]}")
        new, share = (shares or {}).get(key, (None, None))
        moved = None
        if key in before and shares is not None:
            moved = b.get("moved_flows", 0) - before[key].get("moved_flows", 0)
        rows.append({"slot": key[1], "chassis": key[0], "remote": remote,
                     "hops": b.get("hops") if remote else 0,
                     "known": key in names,
                     "blade": blade_label(names, key, remote),
                     "link": (port or {}).get("link"),
                     "in_rotation": b.get("in_rotation"),
                     "reason": b.get("reason"), "cpu": b.get("cpu"),
                     "irq": b.get("irq"), "pressure": b.get("pressure"),
                     "runnable": b.get("runnable"),
                     "age_ms": b.get("report_age_ms"),
                     "new": new, "share": share,
                     "flows": b.get("active_flows"), "moved": moved,
                     "errors": port_errors(port),
                     "bus": None if remote else bus.get(f"slot{key[1]}")})
    return rows


def render_top(title, prev, cur, ch, spec=None):
    rows = top_rows(prev, cur, ch, spec)
    multi = has_fabric(cur)
    seconds = interval_seconds(prev, cur)
    total = sum(r["new"] or 0 for r in rows)
    head = f"{title}  {time.strftime('%H:%M:%S')}"
    if seconds:
        head += f"  new flows: {total} in {seconds:.1f} s ({total / seconds:.1f}/s)"
    has_bus = bool(cur.get("bus"))
    bus = bus_interval(prev, cur) if has_bus else None
    if has_bus:
        util = (bus or {}).get("utilization")
        head += ("  bus: " + ("-" if util is None else f"{util * 100:.1f}%") +
                 " busy")
    table_rows = []
    for r in rows:
        rot = "yes" if r["in_rotation"] else "no"
        row = [
            r["slot"], r["blade"],
            "up" if r["link"] else ("down" if r["link"] is not None else "-"),
            rot, bar(r["cpu"]) + " " + pct(r["cpu"]).rjust(4), pct(r["irq"]),
            permille(r["pressure"]), r["runnable"], age(r["age_ms"]), r["new"],
            "-" if r["share"] is None else f"{r['share'] * 100:.1f}%",
            r["flows"], r["moved"], r["errors"]]
        if has_bus:
            x = r["bus"] or {}
            row[11:11] = [
                x.get("grants", "-"), x.get("wasted", "-"),
                x.get("bytes", "-"),
                "-" if x.get("share") is None else f"{x['share'] * 100:.1f}%",
                "-" if x.get("wait_us") is None else f"{x['wait_us']:.1f}"]
        if multi:
            row[1:1] = [r["chassis"], r["hops"]]
        table_rows.append(row)
    headers = ["slot", "blade", "link", "rot", "cpu", "irq", "psi", "run",
               "age", "new", "share", "flows", "moved", "errors"]
    if has_bus:
        # the interval's slots granted to the blade's transceiver, those
        # it left unused, its octets, its part of the bus's octets and its
        # frames' mean wait (us)
        headers[11:11] = ["grants", "wasted", "octets", "bus", "wait_us"]
    if multi:
        headers[1:1] = ["chassis", "hops"]
    text = head + "\n" + table(headers, table_rows)
    # Why a blade is out of rotation (empty slots need no explanation).
    out = [r for r in rows if not r["in_rotation"] and r["reason"] and
           (r["known"] or r["remote"])]
    for r in out:
        text += f"\n  {r['blade']}: {r['reason']}"
    return text


def top(run, interval=1.0, count=None, out=sys.stdout):
    """Print a frame per interval (after a first read); on a terminal each
    frame replaces the last."""
    spec = topology.from_dict(run.state["spec"])
    tty = out.isatty()
    prev = {}

    def read(ch):
        qmp = run.state["chassis"][ch.name]["qmp"]
        try:
            return read_switch(qmp, f"chassis {ch.name}", timeout=5)
        except QMPError as e:
            proc = next((p for p in run.processes()
                         if p["kind"] == "chassis" and p["name"] == ch.name), None)
            if proc is None or not rundir.process_alive(proc):
                raise Failure(f"chassis {ch.name} is not running") from e
            raise
    for ch in spec.chassis:
        prev[ch.name] = read(ch)
    try:
        return _frames(run, spec, read, prev, interval, count, out, tty)
    except KeyboardInterrupt:          # the way to leave a live view
        out.write("\n")
        return 0


def _frames(run, spec, read, prev, interval, count, out, tty):
    frames = 0
    tick = time.monotonic()
    while count is None or frames < count:
        tick += interval
        time.sleep(max(0.0, tick - time.monotonic()))
        parts = []
        for ch in spec.chassis:
            try:
                cur = read(ch)
            except QMPError as e:
                parts.append(f"{run.name}/{ch.name}: {e}")
                continue
            parts.append(render_top(f"{run.name}/{ch.name}", prev[ch.name],
                                    cur, ch, spec))
            prev[ch.name] = cur
        text = "\n\n".join(parts)
        if tty:
            out.write("\033[H\033[J" + text + "\n")
        else:
            out.write(text + "\n\n")
        out.flush()
        frames += 1
    return 0
