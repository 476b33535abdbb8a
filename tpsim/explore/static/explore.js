// tpsim explorer: sliders -> POST /api/update -> figures drawn as SVG. No library: the charts
// are a bar chart and line charts with an optional band, drawn by the functions below.
"use strict";

const state = {
  schema: null, session: null, option: null, controls: {}, settings: {},
  seq: 0, inFlight: false, pending: {}, pendingExtra: {}, view: null, band: null, version: 0, poll: null,
};

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f"];

function el(tag, attrs = {}, parent = null, text = null) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4))
                                   : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function money(v) {
  const s = v < 0 ? "-" : "", a = Math.abs(v);
  if (a >= 1e9) return `${s}£${(a / 1e9).toFixed(2)}bn`;
  if (a >= 1e6) return `${s}£${(a / 1e6).toFixed(1)}m`;
  if (a >= 1e3) return `${s}£${(a / 1e3).toFixed(0)}k`;
  return `${s}£${a.toFixed(0)}`;
}

function shown(c, v) {
  const x = v * c.scale;
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return `${x.toLocaleString("en-GB", {maximumFractionDigits: digits})} ${c.unit}`;
}

function message(text) {
  const m = $("message");
  m.hidden = !text;
  m.textContent = text || "";
}

async function api(path, body) {
  const opts = body === undefined ? {} : {method: "POST", body: JSON.stringify(body),
                                         headers: {"Content-Type": "application/json"}};
  const r = await fetch(path, opts);
  let data;
  try { data = await r.json(); } catch (e) { data = {error: `the server answered ${r.status}`}; }
  if (!r.ok && r.status !== 202) {
    const err = new Error(data.error || `the server answered ${r.status}`);
    err.control = data.control;
    throw err;
  }
  return data;
}

// -- sliders ---------------------------------------------------------------------------------

function snap(c, raw) {
  // the slider's value on its step grid, or the file's default when within half a step of it
  if (Math.abs(raw - c.default) < c.step / 2) return c.default;
  const v = Math.min(c.high, Math.max(c.low, Math.round(raw / c.step) * c.step));
  return parseFloat(v.toPrecision(12));
}

function buildControls() {
  const box = $("controls");
  box.textContent = "";
  const option = state.schema.options.find((o) => o.name === state.option);
  state.controls = {};
  let section = null, group = null, details = null;
  for (const c of option.controls) {
    state.controls[c.id] = c;
    if (c.section !== section) {
      section = c.section;
      el("h2", {}, box, section === "lever" ? "Levers" : "Assumptions");
    }
    if (c.group !== group) {
      group = c.group;
      details = el("details", {}, box);
      if (section === "lever" && !group.startsWith("Pool share")) details.open = true;
      el("summary", {}, details, group);
    }
    const row = el("div", {class: "control", id: `control-${c.id}`}, details);
    const label = el("label", {for: `slider-${c.id}`}, row);
    el("span", {class: "name"}, label, c.label);
    el("output", {id: `value-${c.id}`}, label, shown(c, c.default));
    const input = el("input", {type: "range", id: `slider-${c.id}`, name: c.id, min: c.low,
                               max: c.high, step: "any", value: c.default,
                               "aria-describedby": `source-${c.id}`}, row);
    input.addEventListener("input", () => change(c, snap(c, parseFloat(input.value))));
    el("small", {class: "source", id: `source-${c.id}`}, row,
       `default ${shown(c, c.default)}; source: ${c.source}`);
    el("small", {class: "error", id: `error-${c.id}`, hidden: ""}, row);
  }
}

function showSettings(settings) {
  for (const c of Object.values(state.controls)) {
    const v = c.id in settings ? settings[c.id] : c.default;
    $(`value-${c.id}`).textContent = shown(c, v);
    const input = $(`slider-${c.id}`);
    if (document.activeElement !== input) input.value = v;
    $(`control-${c.id}`).classList.toggle("changed", v !== c.default);
  }
}

function change(c, value) {
  $(`value-${c.id}`).textContent = shown(c, value);
  state.pending[c.id] = value;
  send();
}

async function send(extra = {}) {
  // one request in flight per page; moves made meanwhile go together in the next one
  if (state.inFlight) { Object.assign(state.pendingExtra, extra); return; }
  const changes = state.pending;
  extra = {...state.pendingExtra, ...extra};
  state.pending = {};
  state.pendingExtra = {};
  if (!Object.keys(changes).length && !Object.keys(extra).length) return;
  state.inFlight = true;
  const seq = ++state.seq;
  const started = performance.now();
  try {
    const data = await api("/api/update", {session: state.session, changes, seq, ...extra});
    state.settings = data.settings;
    state.version = data.version;
    clearErrors();
    message("");
    render(data.view, performance.now() - started);
    if (!Object.keys(state.pending).length) showSettings(state.settings);
  } catch (err) {
    clearErrors();
    message(err.message);
    if (err.control && $(`error-${err.control}`)) {
      const e = $(`error-${err.control}`);
      e.hidden = false;
      e.textContent = err.message;
    }
    showSettings(state.settings);  // the sliders go back to the last accepted settings
  } finally {
    state.inFlight = false;
    if (Object.keys(state.pending).length || Object.keys(state.pendingExtra).length) send();
  }
}

function clearErrors() {
  for (const e of document.querySelectorAll(".control .error")) { e.hidden = true; e.textContent = ""; }
}

// -- charts ----------------------------------------------------------------------------------

function scale(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

function ticks(lo, hi, n = 5) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / n, e = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * e).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);  // no '-0' label
  }
  return out;
}

function frame(box, width, height) {
  box.textContent = "";
  return el("svg:svg", {viewBox: `0 0 ${width} ${height}`, role: "img", width: "100%"}, box);
}

function barChart(box, rows) {
  const W = 760, rowH = 26, left = 320, right = 90, H = rows.length * rowH + 30;
  const svg = frame(box, W, H);
  const values = rows.map((r) => r.value);
  const lo = Math.min(0, ...values), hi = Math.max(0, ...values);
  const x = scale(lo, hi, left, W - right);
  for (const t of ticks(lo, hi, 4)) {
    el("svg:line", {x1: x(t), x2: x(t), y1: 4, y2: H - 22, class: "grid"}, svg);
    el("svg:text", {x: x(t), y: H - 6, class: "tick", "text-anchor": "middle"}, svg, money(t));
  }
  rows.forEach((r, i) => {
    const y = 6 + i * rowH;
    el("svg:text", {x: left - 8, y: y + 15, class: "label", "text-anchor": "end"}, svg, r.label);
    const x0 = x(Math.min(0, r.value)), w = Math.abs(x(r.value) - x(0));
    el("svg:rect", {x: x0, y: y + 2, width: Math.max(w, 0.5), height: rowH - 8,
                    class: r.value >= 0 ? "gain" : "loss"}, svg);
    el("svg:text", {x: r.value >= 0 ? x(r.value) + 4 : x(0) + 4, y: y + 15, class: "value"},
       svg, r.text);
  });
  el("svg:line", {x1: x(0), x2: x(0), y1: 2, y2: H - 22, class: "axis"}, svg);
}

function lineChart(box, series, opts = {}) {
  // series: [{label, values, colour, band?: {lo, hi}}]; months 1..n on x
  const W = opts.width || 720, H = opts.height || 260, L = 62, R = opts.width ? 110 : 80, T = 12, B = 28;
  const svg = frame(box, W, H);
  const n = Math.max(...series.map((s) => s.values.length));
  let all = [0];
  for (const s of series) {
    all = all.concat(s.values);
    if (s.band) all = all.concat(s.band.lo, s.band.hi);
  }
  const lo = Math.min(...all), hi = Math.max(...all);
  const x = scale(1, n, L, W - R), y = scale(lo, hi === lo ? lo + 1 : hi, H - B, T);
  const fmt = opts.format || ((v) => v.toLocaleString("en-GB", {maximumFractionDigits: 0}));
  for (const t of ticks(lo, hi, 4)) {
    el("svg:line", {x1: L, x2: W - R, y1: y(t), y2: y(t), class: "grid"}, svg);
    el("svg:text", {x: L - 6, y: y(t) + 4, class: "tick", "text-anchor": "end"}, svg, fmt(t));
  }
  for (let m = 12; m <= n; m += 12) {
    el("svg:text", {x: x(m), y: H - 8, class: "tick", "text-anchor": "middle"}, svg, `${m / 12}y`);
  }
  el("svg:line", {x1: L, x2: W - R, y1: y(0), y2: y(0), class: "axis"}, svg);
  if (opts.marker) {
    el("svg:line", {x1: x(opts.marker), x2: x(opts.marker), y1: T, y2: H - B, class: "marker"}, svg);
    el("svg:text", {x: x(opts.marker) + 4, y: T + 10, class: "tick"}, svg, "Parliament");
  }
  const path = (vals) => vals.map((v, i) => `${i ? "L" : "M"}${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const labels = [];
  for (const s of series) {
    if (s.band) {
      const upper = s.band.hi.map((v, i) => `${i ? "L" : "M"}${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join("");
      const lower = s.band.lo.map((v, i) => [i, v]).reverse()
        .map(([i, v]) => `L${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join("");
      el("svg:path", {d: `${upper}${lower}Z`, fill: s.colour, class: "band"}, svg);
    }
    el("svg:path", {d: path(s.values), stroke: s.colour, class: "line"}, svg);
    labels.push({y: y(s.values[s.values.length - 1]), s});
  }
  labels.sort((a, b) => a.y - b.y);
  let last = -1e9;
  for (const l of labels) {  // end labels, nudged apart
    const ly = Math.max(l.y, last + 12);
    last = ly;
    el("svg:text", {x: W - R + 6, y: ly + 4, class: "label", fill: l.s.colour}, svg, l.s.label);
  }
}

function monthText(m) {
  if (m === null || m === undefined) return "not within the horizon";
  const [y0, m0] = state.schema.start.split("-").map(Number);
  const d = new Date(Date.UTC(y0, m0 - 1 + m - 1, 1));
  return `month ${m} (${d.toLocaleString("en-GB", {month: "short", year: "numeric", timeZone: "UTC"})})`;
}

function render(view, ms) {
  state.view = view;
  const h = view.headline, t = view.text;
  const npsv = $("npsv");
  npsv.textContent = t.npsv;
  npsv.dataset.value = String(h.npsv);
  $("npsv-parliament").textContent = `${t.npsv_parliament} within the Parliament`;
  $("economic-npv").textContent = t.economic_npv;
  $("fiscal-npv").textContent = t.fiscal_npv;
  $("fiscal-npv").dataset.value = String(h.fiscal_npv);
  $("payback").textContent = t.payback;
  $("social-bcr").textContent = `social BCR ${t.social_bcr}`;
  barChart($("agencies-chart"), view.agencies.map((a) => ({label: a.label, value: a.fiscal_npv, text: a.text})));
  lineChart($("jcurve-chart"), [
    {label: "NPSV", values: view.jcurve.npsv, colour: COLOURS[0]},
    {label: "fiscal", values: view.jcurve.fiscal, colour: COLOURS[1]},
  ], {marker: view.jcurve.parliament, format: money});
  renderStates(view);
  const body = $("s114").querySelector("tbody");
  body.textContent = "";
  for (const s of view.section_114) {
    const tr = el("tr", {}, body);
    el("td", {}, tr, s.label);
    el("td", {}, tr, monthText(s.month));
    el("td", {}, tr, monthText(s.counterfactual_month));
  }
  const band = state.band && state.band.version === state.version ? state.band : null;
  $("fiscal-range").textContent = band ? `90% range ${band.text.p5} to ${band.text.p95}` : "";
  $("status").textContent = `updated in ${Math.round(ms)} ms (server ${Math.round(view.elapsed_ms)} ms)`;
  document.body.dataset.version = String(state.version);
}

function renderStates(view) {
  const box = $("states-chart");
  box.textContent = "";
  const band = state.band && state.band.version === state.version ? state.band : null;
  $("band-note").textContent = band ? `(shaded: 5th-95th percentile of ${band.runs.toLocaleString("en-GB")} Monte Carlo runs)` : "";
  const cohorts = [...new Set(view.states.map((s) => s.cohort))];
  for (const c of cohorts) {
    const rows = view.states.filter((s) => s.cohort === c);
    const div = el("div", {class: "chart small"}, box);
    el("h3", {}, div, rows[0].cohort_label);
    const holder = el("div", {}, div);
    lineChart(holder, rows.map((r, i) => ({
      label: r.state.replace(/_/g, " "), values: r.delta, colour: COLOURS[i % COLOURS.length],
      band: band && band.bands[r.series] ? {lo: band.bands[r.series].p5, hi: band.bands[r.series].p95} : null,
    })), {width: 420, height: 230, format: (v) => v.toLocaleString("en-GB", {maximumFractionDigits: 0})});
  }
}

// -- uncertainty, saving, the report -----------------------------------------------------------

async function uncertainty() {
  const button = $("uncertainty");
  button.disabled = true;
  try {
    await api("/api/uncertainty", {session: state.session, runs: 2000});
    $("status").textContent = "uncertainty: 2,000 Monte Carlo runs in the background ...";
    clearInterval(state.poll);
    state.poll = setInterval(async () => {
      const u = await api(`/api/uncertainty?session=${state.session}`);
      if (u.status === "running") return;
      clearInterval(state.poll);
      button.disabled = false;
      if (u.status === "error") { message(u.error); return; }
      if (u.status === "done") {
        state.band = u;
        if (u.version !== state.version) message("the uncertainty band is for earlier settings: ask for it again");
        else render(state.view, 0);
      }
    }, 500);
  } catch (err) {
    button.disabled = false;
    message(err.message);
  }
}

function links() {
  const s = encodeURIComponent(state.session);
  $("save-option").href = `/api/save?session=${s}&arm=option`;
  $("save-counterfactual").href = `/api/save?session=${s}&arm=counterfactual`;
  $("report").href = `/api/report?session=${s}`;
}

async function start() {
  try {
    state.schema = await api("/api/schema");
    const select = $("option");
    for (const o of state.schema.options) el("option", {value: o.name}, select, o.title);
    $("against").textContent = `against ${state.schema.counterfactual.title}`;
    const opened = await api("/api/session", {});
    state.session = opened.session;
    state.option = opened.option;
    state.settings = opened.settings;
    state.version = opened.version;
    select.value = state.option;
    buildControls();
    showSettings(state.settings);
    links();
    render(opened.view, 0);
    select.addEventListener("change", () => {
      state.option = select.value;
      state.band = null;
      buildControls();
      send({option: select.value, reset: true});
    });
    $("reset").addEventListener("click", () => { state.pending = {}; send({reset: true}); });
    $("uncertainty").addEventListener("click", uncertainty);
    document.body.dataset.ready = "1";
  } catch (err) {
    message(err.message);
  }
}

start();
