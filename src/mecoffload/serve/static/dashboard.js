// Live dashboard of the decision service: polls /metrics (Prometheus text format) every 2 s.
"use strict";
const POLL_MS = 2000, KEEP = 90;
const series = { t: [], rate: [], p50: [], p99: [] };
let last = null, polls = 0;

function parse(text) {  // -> [{name, labels, value}]
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    (m[3] || "").replace(/(\w+)="((?:[^"\\]|\\.)*)"/g, (_, k, v) => { labels[k] = v; return ""; });
    out.push({ name: m[1], labels, value: parseFloat(m[4]) });
  }
  return out;
}
const sum = (rows, name, f) => rows.filter(r => r.name === name && (!f || f(r.labels))).reduce((a, r) => a + r.value, 0);
const isDecide = l => l.path === "/v1/decide" || l.path === "/v1/decide/batch";

function buckets(rows) {  // cumulative latency buckets of the decision routes: {le: count}
  const b = {};
  for (const r of rows) if (r.name === "mecoffload_request_seconds_bucket" && isDecide(r.labels))
    b[r.labels.le] = (b[r.labels.le] || 0) + r.value;
  return b;
}
function quantile(b, q) {  // from cumulative buckets {le label: count} (as histogram_quantile), seconds
  const total = b["+Inf"] || 0;
  if (!total) return null;
  const les = Object.keys(b).filter(k => k !== "+Inf").map(k => [Number(k), b[k]]).sort((x, y) => x[0] - y[0]);
  let prevLe = 0, prevC = 0;
  for (const [le, c] of les) {
    if (c >= q * total) return prevLe + (le - prevLe) * (q * total - prevC) / Math.max(c - prevC, 1e-12);
    prevLe = le; prevC = c;
  }
  return les.length ? les[les.length - 1][0] : null;
}
function diff(a, b) { const d = {}; for (const k in a) d[k] = a[k] - ((b && b[k]) || 0); return d; }

function line(id, ys, colors, fmt) {
  const c = document.getElementById(id), g = c.getContext("2d"), W = c.width, H = c.height, P = 34;
  g.clearRect(0, 0, W, H);
  const all = ys.flat().filter(v => v !== null && isFinite(v));
  const max = Math.max(1e-9, ...all) * 1.1;
  g.strokeStyle = "#ccd"; g.fillStyle = "#556"; g.font = "11px sans-serif";
  for (let i = 0; i <= 4; i++) { const y = H - P + (P - H) * i / 4 + 10 * 0; g.beginPath(); g.moveTo(P, y); g.lineTo(W - 4, y); g.stroke(); g.fillText(fmt(max * i / 4), 2, y - 2); }
  ys.forEach((s, j) => {
    g.strokeStyle = colors[j]; g.lineWidth = 2; g.beginPath();
    s.forEach((v, i) => { if (v === null) return; const x = P + (W - P - 4) * i / Math.max(KEEP - 1, 1), y = H - P + (P - H) * v / max; i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  });
}
function bars(id, labels, values, colors) {
  const c = document.getElementById(id), g = c.getContext("2d"), W = c.width, H = c.height, P = 30;
  g.clearRect(0, 0, W, H); g.font = "11px sans-serif";
  const max = Math.max(1e-9, ...values) * 1.1, w = (W - P) / Math.max(values.length, 1);
  values.forEach((v, i) => {
    const h = (H - P) * v / max, x = P + i * w;
    g.fillStyle = colors[i % colors.length]; g.fillRect(x + 3, H - 16 - h, w - 6, h);
    g.fillStyle = "#334"; g.fillText(labels[i], x + 3, H - 4); g.fillText(v.toFixed(v < 1 ? 3 : 1), x + 3, H - 20 - h);
  });
}

function render(rows) {
  const now = Date.now() / 1000, total = sum(rows, "mecoffload_decisions_total");
  const b = buckets(rows);
  let rate = null, win = b;
  if (last) { rate = Math.max(0, (total - last.total) / (now - last.now)); win = diff(b, last.b); if (!win["+Inf"]) win = b; }
  last = { now, total, b };
  const p50 = quantile(win, 0.5), p90 = quantile(win, 0.9), p99 = quantile(win, 0.99);
  for (const [k, v] of [["t", now], ["rate", rate], ["p50", p50 === null ? null : p50 * 1e3], ["p99", p99 === null ? null : p99 * 1e3]]) {
    series[k].push(v); if (series[k].length > KEEP) series[k].shift();
  }
  const ms = v => v === null ? "–" : (v * 1e3).toFixed(2);
  document.getElementById("rate").textContent = rate === null ? "–" : rate.toFixed(1);
  document.getElementById("total").textContent = total.toFixed(0);
  document.getElementById("pct").textContent = `${ms(p50)} / ${ms(p90)} / ${ms(p99)}`;
  document.getElementById("invalid").textContent = sum(rows, "mecoffload_validation_errors_total").toFixed(0);
  const pol = rows.find(r => r.name === "mecoffload_policy_info" && r.value === 1);
  if (pol) document.getElementById("policy").textContent = "policy: " + pol.labels.policy;
  line("c-rate", [series.rate], ["#2a6fdb"], v => v.toFixed(0));
  line("c-lat", [series.p50, series.p99], ["#2a9d5c", "#d9534f"], v => v.toFixed(1));
  const loc = {};
  for (const r of rows) if (r.name === "mecoffload_decisions_total") loc[r.labels.location] = r.value;
  const names = Object.keys(loc).sort((a, c) => a === "local" ? -1 : c === "local" ? 1 : a.localeCompare(c, undefined, { numeric: true }));
  bars("c-mix", names.map(n => n.replace("server_", "s")), names.map(n => total ? loc[n] / total : 0), ["#7a5195", "#2a6fdb"]);
  const pols = [...new Set(rows.filter(r => r.name === "mecoffload_outcomes_total").map(r => r.labels.policy))];
  const labels = [], vals = [], tbody = document.querySelector("#t-real tbody");
  tbody.innerHTML = "";
  for (const p of pols) {
    const f = l => l.policy === p, n = sum(rows, "mecoffload_realized_latency_seconds_count", f);
    const est = n ? sum(rows, "mecoffload_estimated_latency_seconds_sum", f) / n : 0, real = n ? sum(rows, "mecoffload_realized_latency_seconds_sum", f) / n : 0;
    const outs = sum(rows, "mecoffload_outcomes_total", f), drop = sum(rows, "mecoffload_outcomes_total", l => f(l) && l.result === "dropped");
    labels.push("est. " + p.slice(0, 14), "real. " + p.slice(0, 14)); vals.push(est, real);
    const tr = document.createElement("tr");
    for (const v of [p, outs.toFixed(0), outs ? (100 * drop / outs).toFixed(2) : "–", est.toFixed(3), real.toFixed(3)]) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
    tbody.appendChild(tr);
  }
  bars("c-real", labels, vals, ["#f0a202", "#2a9d5c"]);
  return total;
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const r = await fetch("/metrics", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const total = render(parse(await r.text()));
    polls += 1;
    document.body.dataset.polls = String(polls);
    document.body.dataset.decisions = String(total);
    document.body.dataset.state = total > 0 ? "ok" : "no-data";
    status.className = total > 0 ? "ok" : "waiting";
    status.textContent = total > 0 ? `live · ${new Date().toLocaleTimeString()}` : "no decisions yet";
  } catch (e) {
    document.body.dataset.state = "error";
    status.className = "error"; status.textContent = "error: " + e.message;
  }
}
poll();
setInterval(poll, POLL_MS);
