// bladeplane web view: renders the snapshots the server pushes as
// server-sent events (scripts/bladeplane_cli/web.py builds them).
//
// Machine-readable state, for tests and scripts: <body data-connected
// data-seq>, #conn[data-state] ("live", "disconnected", "connecting"),
// and one <article class="blade"> per blade with data-id, data-blade,
// data-chassis, data-slot, data-alive, data-in-rotation, data-reason,
// data-cpu, data-irq, data-pressure, data-share (the latest snapshot's
// figures) and data-plotted-cpu, data-points (what its chart holds).
"use strict";

const WINDOW_S = 180;           // seconds of history in the plots
const STALE_MS = 5000;          // no snapshot for that long: disconnected
const DECISIONS_KEPT = 100;
const SVGNS = "http://www.w3.org/2000/svg";

// What a blade's chart plots, from a snapshot's blade (and the history's
// samples): pressure is permille in the state tree, share a fraction.
const SERIES = [
  {key: "cpu", label: "CPU %", color: "#1f77b4", scale: 1},
  {key: "irq", label: "IRQ %", color: "#ff7f0e", scale: 1},
  {key: "pressure", label: "CPU pressure %", color: "#9467bd", scale: 0.1},
  {key: "share", label: "share of new flows %", color: "#2ca02c",
   scale: 100, dash: [6, 4]},
];

const cards = new Map();        // blade id -> {el, chart, lastT}
let pendingHistory = [];
let lastSnapshotAt = 0;
let source = null;

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    e.setAttribute(k, v);
  }
  if (text !== undefined && text !== null) {
    e.textContent = String(text);
  }
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    e.setAttribute(k, String(v));
  }
  if (text !== undefined && text !== null) {
    e.textContent = String(text);
  }
  return e;
}

function clock(t) {
  return new Date(t * 1000).toLocaleTimeString([], {hour12: false});
}

function pct(v, scale) {
  return v === null || v === undefined ? "-" :
    `${(v * (scale || 1)).toFixed(0)}%`;
}

function dataValue(v) {
  return v === null || v === undefined ? "" : String(v);
}

function setConn(state, text) {
  const conn = $("conn");
  conn.dataset.state = state;
  conn.textContent = text;
  document.body.dataset.connected = state === "live" ? "true" : "false";
}

const NO_CHART = window.Chart ? "" :
  "Chart.js did not load (Debian package libjs-chart.js): figures only, " +
  "no plots";

function showProblem(text) {
  const all = [text, NO_CHART].filter((t) => t).join("; ");
  const p = $("problem");
  p.hidden = !all;
  p.textContent = all;
}

// ---- blades and their charts ---------------------------------------------

function newChart(canvas) {
  if (!window.Chart) {
    return null;                // the page still shows the figures
  }
  return new window.Chart(canvas, {
    type: "line",
    data: {
      datasets: SERIES.map((s) => ({
        label: s.label, data: [], borderColor: s.color,
        backgroundColor: s.color, borderWidth: 2, pointRadius: 0,
        borderDash: s.dash || [], spanGaps: false,
      })),
    },
    options: {
      animation: false, parsing: false, normalized: true,
      responsive: true, maintainAspectRatio: false,
      scales: {
        x: {type: "linear",
            ticks: {callback: (v) => clock(v), maxTicksLimit: 5,
                    maxRotation: 0}},
        y: {min: 0, max: 100, ticks: {stepSize: 25}},
      },
      plugins: {legend: {labels: {boxWidth: 12, font: {size: 11}}}},
    },
  });
}

function bladeCard(b) {
  const card = el("article", {"class": "blade", "data-id": b.id,
                              "data-blade": b.name,
                              "data-chassis": b.chassis,
                              "data-slot": b.slot});
  card.append(el("h3", {}, `${b.name}`),
              el("p", {"class": "rotation"}),
              el("p", {"class": "figures"}));
  const plot = el("div", {"class": "plot"});
  const canvas = el("canvas", {"aria-label": `load of ${b.name}`});
  plot.append(canvas);
  card.append(plot);
  $("blades").append(card);
  const entry = {el: card, chart: newChart(canvas), lastT: -Infinity,
                 points: 0};
  cards.set(b.id, entry);
  return entry;
}

function pushPoint(entry, t, figures) {
  if (t <= entry.lastT) {
    return;
  }
  entry.lastT = t;
  entry.points += 1;
  if (!entry.chart) {
    return;
  }
  // A blade whose lane is down reports nothing: a gap, not its last
  // figures.
  const silent = !figures || figures.link === false;
  entry.chart.data.datasets.forEach((ds, i) => {
    const s = SERIES[i];
    const v = silent && s.key !== "share" ? null : figures[s.key];
    ds.data.push({x: t, y: v === null || v === undefined ? null :
                  v * s.scale});
    while (ds.data.length && ds.data[0].x < t - WINDOW_S) {
      ds.data.shift();
    }
  });
}

function redraw(entry, t) {
  if (!entry.chart) {
    return;
  }
  const first = entry.chart.data.datasets[0].data[0];
  entry.chart.options.scales.x.min = Math.max(t - WINDOW_S,
                                              first ? first.x : t);
  entry.chart.options.scales.x.max = t;
  entry.chart.update("none");
  const cpu = entry.chart.data.datasets[0].data;
  const last = cpu.length ? cpu[cpu.length - 1].y : null;
  entry.el.dataset.plottedCpu = dataValue(last);
}

function applyHistory(samples) {
  for (const s of samples) {
    for (const [id, figures] of Object.entries(s.blades || {})) {
      const entry = cards.get(id);
      if (entry) {
        pushPoint(entry, s.time, figures);
      }
    }
  }
}

function updateBlades(snap) {
  const seen = new Set();
  for (const b of snap.blades) {
    if (!cards.has(b.id)) {
      bladeCard(b);
    }
  }
  applyHistory(pendingHistory.filter((s) => s.time < snap.time));
  pendingHistory = [];
  for (const b of snap.blades) {
    seen.add(b.id);
    const entry = cards.get(b.id);
    pushPoint(entry, snap.time, b);
    const d = entry.el.dataset;
    d.alive = dataValue(b.alive);
    d.inRotation = b.in_rotation ? "true" : "false";
    d.reason = dataValue(b.reason);
    d.cpu = dataValue(b.cpu);
    d.irq = dataValue(b.irq);
    d.pressure = dataValue(b.pressure);
    d.reports = dataValue(b.reports);
    d.share = dataValue(b.share);
    d.points = String(entry.points);
    let rotation = b.in_rotation ? "in rotation" :
      `out of rotation: ${b.reason}`;
    if (b.alive === false) {
      rotation += " (its QEMU process is not running)";
    }
    entry.el.querySelector(".rotation").textContent = rotation;
    const sync = b.sync === null ? "-" : (b.sync ? "yes" : "no");
    entry.el.querySelector(".figures").textContent =
      `${b.chassis} slot ${b.slot} · link ` +
      `${b.link === null ? "-" : (b.link ? "up" : "down")} · sync ${sync}` +
      ` · cpu ${pct(b.cpu)} · irq ${pct(b.irq)} · pressure ` +
      `${pct(b.pressure, 0.1)} · new flows ` +
      `${b.new === null ? "-" : b.new} (${pct(b.share, 100)})` +
      ` · open flows ${b.flows === null ? "-" : b.flows}` +
      ` · report age ${b.age_ms === null ? "-" : b.age_ms + " ms"}`;
    redraw(entry, snap.time);
  }
  if (snap.blades.length) {
    for (const [id, entry] of cards) {
      if (!seen.has(id)) {
        if (entry.chart) {
          entry.chart.destroy();
        }
        entry.el.remove();
        cards.delete(id);
      }
    }
  }
}

// ---- the graph -----------------------------------------------------------

const SLOT_W = 74;
const SLOT_H = 42;
const SLOT_GAP = 6;
const PAD = 12;
const HEAD = 22;
const GAP = 90;
const BOX_H = HEAD + SLOT_H + 2 * PAD;

function boxWidth(c) {
  const slots = Math.max(c.slots, 0);
  return Math.max(150, slots * (SLOT_W + SLOT_GAP) - SLOT_GAP + 2 * PAD);
}

function layout(snap) {
  const central = snap.chassis.filter((c) => c.role === "central");
  const row = snap.chassis.filter((c) => c.role !== "central");
  const hasUplink = snap.chassis.some((c) => c.uplink);
  const pos = new Map();
  let y = hasUplink ? 70 : 20;
  const widthOf = (list) => list.reduce((w, c) => w + boxWidth(c), 0) +
        GAP * Math.max(list.length - 1, 0);
  const width = Math.max(widthOf(central), widthOf(row)) + 40;
  for (const list of [central, row]) {
    if (!list.length) {
      continue;
    }
    let x = (width - widthOf(list)) / 2;
    list.forEach((c, i) => {
      pos.set(c.name, {x, y, w: boxWidth(c), h: BOX_H, row: list, i});
      x += boxWidth(c) + GAP;
    });
    y += BOX_H + 110;
  }
  const peers = snap.links.filter((l) => l.peer).length;
  const height = y - 110 + (peers ? 90 : 0) +
        (row.length > 2 ? 60 : 20);
  return {pos, width, height};
}

function drawLink(g, a, b, link, rowIndexGap) {
  let d;
  let mid;
  if (a.y !== b.y) {                 // central above, chassis below
    const [up, down] = a.y < b.y ? [a, b] : [b, a];
    const x1 = up.x + up.w / 2;
    const y1 = up.y + up.h;
    const x2 = down.x + down.w / 2;
    const y2 = down.y;
    d = `M ${x1} ${y1} L ${x2} ${y2}`;
    mid = {x: (x1 + x2) / 2, y: (y1 + y2) / 2};
  } else if (rowIndexGap === 1) {    // neighbours in the row
    const [l, r] = a.x < b.x ? [a, b] : [b, a];
    const y1 = l.y + l.h / 2;
    d = `M ${l.x + l.w} ${y1} L ${r.x} ${y1}`;
    mid = {x: (l.x + l.w + r.x) / 2, y: y1 - 8};
  } else {                           // further apart: an arc below
    const x1 = a.x + a.w / 2;
    const x2 = b.x + b.w / 2;
    const y1 = a.y + a.h;
    const dip = 40 + 15 * rowIndexGap;
    d = `M ${x1} ${y1} C ${x1} ${y1 + dip} ${x2} ${y1 + dip} ${x2} ${y1}`;
    mid = {x: (x1 + x2) / 2, y: y1 + dip * 0.75 + 14};
  }
  const path = svg("path", {"class": `link ${link.state}`, d,
                            "data-a": link.a, "data-b": link.far,
                            "data-state": link.state});
  path.append(svg("title", {}, `${link.a}.${link.a_port} - ${link.far}` +
                  `${link.b_port ? "." + link.b_port : ""}: ${link.state}`));
  g.append(path);
  if (link.state !== "forwarding") {
    g.append(svg("text", {x: mid.x, y: mid.y, "text-anchor": "middle",
                          "class": "port"}, link.state));
  }
}

function drawGraph(snap) {
  const graph = $("graph");
  graph.replaceChildren();
  if (!snap.chassis.length) {
    return;
  }
  const {pos, width, height} = layout(snap);
  graph.setAttribute("viewBox", `0 0 ${width} ${height}`);
  graph.style.maxWidth = `${width}px`;
  const links = svg("g", {"class": "links"});
  graph.append(links);
  const bladeAt = new Map(snap.blades.map((b) => [`${b.chassis}/${b.slot}`,
                                                  b]));
  for (const c of snap.chassis) {
    const p = pos.get(c.name);
    const silent = !c.answered;
    const g = svg("g", {"class": `chassis${silent ? " silent" : ""}`,
                        "data-chassis": c.name,
                        "data-answered": c.answered ? "true" : "false"});
    g.append(svg("rect", {"class": "box", x: p.x, y: p.y, width: p.w,
                          height: p.h, rx: 6}));
    let title = c.name + (c.role === "central" ? " (central switch)" : "");
    if (c.fabric && c.fabric.root) {
      title += " · root";
    }
    if (silent) {
      title += " · no answer";
    }
    g.append(svg("text", {x: p.x + PAD, y: p.y + 16}, title));
    for (let s = 0; s < c.slots; s++) {
      const name = c.blades[String(s)];
      const b = bladeAt.get(`${c.name}/${s}`);
      let state = "empty";
      if (name && b) {
        state = b.alive === false ? "dead" : (b.in_rotation ? "in" : "out");
      }
      const x = p.x + PAD + s * (SLOT_W + SLOT_GAP);
      const y = p.y + HEAD + PAD;
      const sg = svg("g", {"class": `slot ${state}`, "data-chassis": c.name,
                           "data-slot": s, "data-blade": name || "",
                           "data-state": state});
      sg.append(svg("rect", {x, y, width: SLOT_W, height: SLOT_H, rx: 3}));
      sg.append(svg("text", {x: x + 5, y: y + 16},
                    name ? name.slice(0, 10) : "empty"));
      sg.append(svg("text", {x: x + 5, y: y + 32}, `slot ${s}`));
      sg.append(svg("title", {}, name ? `${name}: ${b ? b.reason : "?"}` :
                    `slot ${s}: empty`));
      g.append(sg);
    }
    if (c.uplink) {
      const cx = p.x + p.w / 2;
      const up = svg("g", {"class": "uplink"});
      const state = c.uplink_link === null ? "unknown" :
        (c.uplink_link ? "forwarding" : "down");
      links.append(svg("path", {"class": `link ${state}`,
                                d: `M ${cx} ${p.y} L ${cx} ${p.y - 34}`}));
      up.append(svg("ellipse", {cx, cy: p.y - 48, rx: 38, ry: 14}));
      up.append(svg("text", {x: cx, y: p.y - 44, "text-anchor": "middle"},
                    "uplink"));
      graph.append(up);
    }
    graph.append(g);
  }
  let peerX = 0;
  for (const link of snap.links) {
    const a = pos.get(link.a);
    if (!a) {
      continue;
    }
    let b = link.b ? pos.get(link.b) : null;
    if (!b) {                        // a chassis on another host
      b = {x: 20 + peerX, y: height - 50, w: 180, h: 28};
      peerX += 200;
      links.append(svg("rect", {x: b.x, y: b.y, width: b.w, height: b.h,
                                rx: 12, fill: "#fff", stroke: "#555"}));
      links.append(svg("text", {x: b.x + b.w / 2, y: b.y + 18,
                                "text-anchor": "middle"}, link.far));
    }
    const gap = a.row && b.row === a.row ? Math.abs(a.i - b.i) : 0;
    drawLink(links, a, b, link, gap);
  }
}

// ---- services, decisions, ports ------------------------------------------

function cell(row, text, numeric) {
  row.append(el("td", numeric ? {"class": "num"} : {}, text));
}

function plus(d) {
  return d ? ` (+${d})` : "";
}

function updateServices(snap) {
  const table = el("table", {"id": "services-table"});
  const head = el("tr");
  for (const h of ["chassis", "rule", "kind", "policy", "address",
                   "new flows", "went to", "no blade"]) {
    head.append(el("th", {}, h));
  }
  table.append(head);
  for (const c of snap.chassis) {
    for (const s of c.services) {
      const row = el("tr", {"data-service": s.name, "data-chassis": c.name});
      cell(row, c.name);
      cell(row, s.name);
      cell(row, s.kind + (s.remote ? " (remote)" : ""));
      cell(row, s.policy);
      cell(row, `${s.vip || "any"} ${s.protocol}/${s.ports}`);
      cell(row, s.new === null ? "-" : s.new, true);
      cell(row, s.to.filter((t) => t.new).map((t) => `${t.blade} +${t.new}`)
           .join(", ") || "-");
      cell(row, s.no_blade === null ? "-" : s.no_blade, true);
      table.append(row);
    }
  }
  $("services").replaceChildren(table);
  const log = $("decisions");
  for (const d of snap.decisions) {
    const to = d.to.map((t) => `${t.blade} +${t.new}`).join(", ");
    const li = el("li", {"data-service": d.service,
                         "data-chassis": d.chassis},
                  `${clock(snap.time)}  ${d.chassis}/${d.service} ` +
                  `(${d.policy}): ${d.new} new flow${d.new > 1 ? "s" : ""}` +
                  ` -> ${to}`);
    log.prepend(li);
  }
  while (log.children.length > DECISIONS_KEPT) {
    log.lastElementChild.remove();
  }
}

function yesNo(v) {
  return v === null || v === undefined ? "-" : (v ? "yes" : "no");
}

// A bus chassis's TDM bus (docs/backplane.md): the interval's figures.
function busTable(c) {
  const bus = c.bus;
  const box = el("div", {"class": "bus", "data-chassis": c.name});
  box.append(el("p", {},
                `TDM bus: ${bus.speed_mbps} Mb/s, ${bus.schedule}, ` +
                `${bus.frame_slots} slots a frame; ` +
                `${pct(bus.utilization, 100)} busy`));
  const table = el("table", {"class": "ports"});
  const head = el("tr");
  for (const h of ["transceiver", "blade", "weight", "grants", "wasted",
                   "octets", "share", "wait us", "queue"]) {
    head.append(el("th", {}, h));
  }
  table.append(head);
  for (const t of bus.transceivers) {
    const row = el("tr", {"data-transceiver": t.name});
    cell(row, t.name);
    cell(row, t.blade || (t.name === "switch" ? "(switch)" : ""));
    cell(row, t.weight, true);
    cell(row, t.grants === null ? "-" : t.grants, true);
    cell(row, t.wasted === null ? "-" : t.wasted, true);
    cell(row, t.bytes === null ? "-" : t.bytes, true);
    cell(row, pct(t.share, 100), true);
    cell(row, t.wait_us === null ? "-" : t.wait_us.toFixed(1), true);
    cell(row, t.queue, true);
    table.append(row);
  }
  box.append(table);
  return box;
}

function updatePorts(snap) {
  const parts = [];
  for (const c of snap.chassis) {
    let title = `chassis ${c.name}`;
    if (c.answered) {
      title += `: switch ${c.mac}, clock ` +
        `${(c.clock_ms / 1000).toFixed(1)} s`;
    } else {
      title += ": no answer" + (c.error ? ` (${c.error})` : "");
    }
    parts.push(el("h3", {}, title));
    if (!c.answered) {
      continue;
    }
    const table = el("table", {"class": "ports",
                               "data-chassis": c.name});
    const head = el("tr");
    for (const h of ["port", "blade", "link", "sync", "rx drops",
                     "tx drops", "errors", "code errors", "sync losses",
                     "link changes", "queue"]) {
      head.append(el("th", {}, h));
    }
    table.append(head);
    for (const p of c.ports) {
      const state = !p.link ? "down" : (p.blocked ? "blocked" : "up");
      const row = el("tr", {"class": state, "data-port": p.name,
                            "data-link": state});
      cell(row, p.name);
      cell(row, p.blade || "");
      cell(row, state === "blocked" ? "up, blocked" : state);
      cell(row, yesNo(p.sync));
      cell(row, p.rx_drops, true);
      cell(row, p.tx_drops, true);
      cell(row, p.errors, true);
      cell(row, p.code_errors === null ? "-" : p.code_errors, true);
      cell(row, p.sync_losses === null ? "-" : p.sync_losses, true);
      cell(row, p.link_changes, true);
      cell(row, p.queue, true);
      table.append(row);
    }
    parts.push(table);
    const drops = Object.entries(c.drops)
      .map(([k, v]) => `${k} ${v}${plus(c.drops_new[k])}`).join(", ");
    parts.push(el("p", {"class": "drops"},
                  `switch drops: ${drops || "none"}`));
    if (c.fabric) {
      const ports = c.fabric.ports.map((p) =>
        `${p.name} ${p.link ? p.state : "down"}` +
        (p.neighbour ? ` (to ${p.neighbour})` : "")).join(", ");
      parts.push(el("p", {"class": "fabric"},
                    `fabric: chassis id ${c.fabric.chassis_id}, root ` +
                    `${c.fabric.root_id}; ${ports || "no chain ports"}`));
    }
    if (c.bus) {
      parts.push(busTable(c));
    }
  }
  $("ports").replaceChildren(...parts);
}

// ---- the stream ----------------------------------------------------------

function render(snap) {
  lastSnapshotAt = Date.now();
  document.body.dataset.seq = String(snap.seq);
  $("topology").textContent = snap.topology;
  $("updated").textContent = `updated ${clock(snap.time)}`;
  if (snap.connected) {
    setConn("live", "live");
  } else {
    setConn("disconnected", "disconnected");
  }
  showProblem(snap.error);
  drawGraph(snap);
  updateBlades(snap);
  updateServices(snap);
  updatePorts(snap);
}

function connect() {
  source = new EventSource("/api/events");
  source.addEventListener("history", (ev) => {
    pendingHistory = JSON.parse(ev.data);
    if (cards.size) {
      applyHistory(pendingHistory);
      pendingHistory = [];
    }
  });
  source.addEventListener("snapshot", (ev) => render(JSON.parse(ev.data)));
  source.addEventListener("error", () => {
    setConn("disconnected", "disconnected: the web view's server does " +
            "not answer");
    if (source.readyState === EventSource.CLOSED) {
      // refused (too many pages) or gone: try again later
      source.close();
      setTimeout(connect, 3000);
    }
  });
}

setInterval(() => {
  if (lastSnapshotAt && Date.now() - lastSnapshotAt > STALE_MS) {
    setConn("disconnected", "disconnected: no update for " +
            `${Math.round((Date.now() - lastSnapshotAt) / 1000)} s`);
  }
}, 1000);

showProblem(null);
connect();
