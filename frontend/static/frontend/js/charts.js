// Hand-written SVG charts: the valence-arousal plane, time lines, sparklines. No library.

import { fmtNum } from "./api.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function root(width, height, label) {
  const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  s.append(svg("title", {}, label));
  return s;
}

export const COLORS = { valence: "#1d5fbf", arousal: "#b34700", self: "#1f6b35", other: "#6b3fa0" };

// The circumplex: x = valence (unpleasant..pleasant), y = arousal (calm..energetic).
// points: [{v, a}] oldest first (drawn as a fading trail); current: {v, a} or null.
// target: {v, a} where the session's goal leads (drawn as a ring), or null.
export function vaPlane(container, { points = [], current = null, target = null,
  label = "Mood" } = {}) {
  const size = 240, pad = 22, half = (size - 2 * pad) / 2, c = size / 2;
  const X = (v) => c + v * half, Y = (a) => c - a * half;
  const s = root(size, size, current
    ? `${label}: valence ${current.v.toFixed(2)}, arousal ${current.a.toFixed(2)}`
    : `${label}: no reading yet`);
  s.append(svg("rect", { x: pad, y: pad, width: 2 * half, height: 2 * half, fill: "#f7f9fb",
    stroke: "#8a94a3" }));
  s.append(svg("line", { x1: pad, y1: c, x2: size - pad, y2: c, stroke: "#c2c9d2" }));
  s.append(svg("line", { x1: c, y1: pad, x2: c, y2: size - pad, stroke: "#c2c9d2" }));
  s.append(svg("text", { x: pad, y: c - 4 }, "unpleasant"));
  s.append(svg("text", { x: size - pad, y: c - 4, "text-anchor": "end" }, "pleasant"));
  s.append(svg("text", { x: c + 4, y: pad + 12 }, "energetic"));
  s.append(svg("text", { x: c + 4, y: size - pad - 4 }, "calm"));
  points.forEach((p, i) => {
    const opacity = 0.15 + 0.5 * ((i + 1) / points.length);
    s.append(svg("circle", { cx: X(p.v), cy: Y(p.a), r: 3, fill: COLORS.valence,
      "fill-opacity": opacity.toFixed(2) }));
  });
  if (target) {
    s.append(svg("circle", { cx: X(target.v), cy: Y(target.a), r: 8, fill: "none",
      stroke: COLORS.self, "stroke-width": 3, "stroke-dasharray": "4 3", class: "goal-ring" }));
    s.append(svg("text", { x: X(target.v), y: Y(target.a) - 12, "text-anchor": "middle" }, "goal"));
  }
  if (current) {
    s.append(svg("circle", { cx: X(current.v), cy: Y(current.a), r: 9, fill: COLORS.arousal,
      stroke: "#fff", "stroke-width": 2, class: "mood-dot" }));
  }
  container.replaceChildren(s);
  return s;
}

// Time lines. series: [{label, color, points: [{t: Date|string, y: number}], dots?: bool}]
export function lineChart(container, { series, yMin = -1, yMax = 1, label = "Chart",
  height = 220 } = {}) {
  // The drawing is as wide as its box (so text stays legible on a phone), 320-900 units.
  const width = Math.max(320, Math.min(900, Math.round(container.clientWidth || 640)));
  const padL = 36, padR = 10, padT = 10;
  const legend = [];
  let lx = padL, rows = 1;
  for (const ser of series) {
    const w = 30 + ser.label.length * 6.5;
    if (lx + w > width && lx > padL) { lx = padL; rows += 1; }
    legend.push({ ser, x: lx, row: rows });
    lx += w;
  }
  const padB = 26 + 18 * rows;
  const total = height + 18 * (rows - 1);
  const all = series.flatMap((s) => s.points.map((p) => new Date(p.t).getTime()));
  const s = root(width, total, label);
  if (!all.length) {
    s.append(svg("text", { x: width / 2, y: total / 2, "text-anchor": "middle" }, "No data yet"));
    container.replaceChildren(s);
    return s;
  }
  let t0 = Math.min(...all), t1 = Math.max(...all);
  if (t1 === t0) { t0 -= 60000; t1 += 60000; }
  const X = (t) => padL + ((new Date(t).getTime() - t0) / (t1 - t0)) * (width - padL - padR);
  const Y = (y) => padT + ((yMax - y) / (yMax - yMin)) * (total - padT - padB);
  for (const tick of [yMin, (yMin + yMax) / 2, yMax]) {
    s.append(svg("line", { x1: padL, x2: width - padR, y1: Y(tick), y2: Y(tick),
      stroke: tick === 0 ? "#8a94a3" : "#e1e5ea" }));
    s.append(svg("text", { x: padL - 4, y: Y(tick) + 4, "text-anchor": "end" }, String(tick)));
  }
  const spanDays = (t1 - t0) / 86400000;
  const fmt = (t) => new Date(t).toLocaleString(undefined, spanDays > 2
    ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  s.append(svg("text", { x: padL, y: total - padB + 14 }, fmt(t0)));
  s.append(svg("text", { x: width - padR, y: total - padB + 14, "text-anchor": "end" }, fmt(t1)));
  for (const { ser, x, row } of legend) {
    const pts = ser.points.filter((p) => p.y !== null && p.y !== undefined);
    if (pts.length > 1 && !ser.dotsOnly) {
      const d = pts.map((p, i) => `${i ? "L" : "M"}${X(p.t).toFixed(1)},${Y(p.y).toFixed(1)}`);
      s.append(svg("path", { d: d.join(""), fill: "none", stroke: ser.color, "stroke-width": 2 }));
    }
    if (ser.dots || ser.dotsOnly || pts.length === 1) {
      for (const p of pts) {
        s.append(svg("circle", { cx: X(p.t), cy: Y(p.y), r: 4, fill: ser.color }));
      }
    }
    const ly = total - padB + 22 + 18 * (row - 1);
    s.append(svg("rect", { x, y: ly, width: 12, height: 12, fill: ser.color }));
    s.append(svg("text", { x: x + 16, y: ly + 10 }, ser.label));
  }
  container.replaceChildren(s);
  return s;
}

// A tiny trend line for tables (values oldest first, in [-1, 1]).
export function sparkline(values, label = "trend") {
  const w = 90, h = 24;
  const s = root(w, h, label);
  s.setAttribute("width", w);
  s.setAttribute("height", h);
  const pts = values.filter((v) => v !== null && v !== undefined);
  if (pts.length < 2) {
    s.append(svg("text", { x: 0, y: 16 }, pts.length ? "1 point" : "no data"));
    return s;
  }
  const X = (i) => 2 + (i / (pts.length - 1)) * (w - 4);
  const Y = (v) => h / 2 - v * (h / 2 - 2);
  s.append(svg("line", { x1: 0, x2: w, y1: h / 2, y2: h / 2, stroke: "#e1e5ea" }));
  const d = pts.map((v, i) => `${i ? "L" : "M"}${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join("");
  s.append(svg("path", { d, fill: "none", stroke: COLORS.valence, "stroke-width": 2 }));
  return s;
}

// A reports-API trend ({per, valence: {slope, ci95, n}}) in words: the direction counts only
// when the 95% interval excludes zero.
export function trendText(trend) {
  const v = trend && trend.valence;
  if (!v || v.slope === null) return "not enough sessions";
  const [lo, hi] = v.ci95 || [v.slope, v.slope];
  const word = lo > 0 ? "rising" : hi < 0 ? "falling" : "no clear change";
  return `${word} (${v.slope >= 0 ? "+" : ""}${fmtNum(v.slope)} per ${trend.per}, ${v.n} sessions)`;
}

