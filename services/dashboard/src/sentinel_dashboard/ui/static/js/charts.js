// Hand-written SVG charts: stacked bars for volume, lines for latency percentiles, both with a hover read-out.
import { clear, h, s, time } from "./format.js";

const PAD = { top: 10, right: 12, bottom: 24, left: 52 };
const TICKS = 5; // with maxima of 1, 2, 2.5 or 5 × 10^n, five steps give round labels

function niceMax(value) {
  if (!value || value <= 0) return 1;
  const exponent = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * exponent) return step * exponent;
  }
  return 10 * exponent;
}

function frame(container) {
  clear(container);
  const width = Math.max(container.clientWidth, 320);
  const height = Math.max(container.clientHeight, 160);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img" });
  container.append(svg);
  return { svg, width, height, innerW: width - PAD.left - PAD.right, innerH: height - PAD.top - PAD.bottom };
}

function yAxis(svg, f, max, formatValue) {
  const axis = s("g", { class: "axis" });
  for (let i = 0; i <= TICKS; i++) {
    const value = (max / TICKS) * i;
    const y = PAD.top + f.innerH - (f.innerH * i) / TICKS;
    axis.append(s("line", { class: i === 0 ? "baseline" : "grid-line", x1: PAD.left, x2: f.width - PAD.right, y1: y, y2: y }));
    axis.append(s("text", { x: PAD.left - 8, y: y + 4, "text-anchor": "end" }, formatValue(value)));
  }
  svg.append(axis);
}

function xAxis(svg, f, times, withDate) {
  const axis = s("g", { class: "axis" });
  const n = times.length;
  const ticks = Math.min(6, n);
  for (let i = 0; i < ticks; i++) {
    const index = Math.round(((n - 1) * i) / Math.max(ticks - 1, 1));
    const x = PAD.left + ((index + 0.5) * f.innerW) / n;
    const label = time(times[index], withDate).replace(/:\d\d$/, "");
    axis.append(s("text", { x, y: f.height - 6, "text-anchor": "middle" }, label));
  }
  svg.append(axis);
}

function empty(container, message) {
  clear(container);
  container.append(h("p", { class: "empty" }, message));
}

function tooltip(container, f, times, rows, render) {
  const tip = h("div", { class: "chart-tip", hidden: true });
  const line = s("line", { class: "hover-line", y1: PAD.top, y2: PAD.top + f.innerH, x1: 0, x2: 0, visibility: "hidden" });
  f.svg.append(line);
  container.append(tip);
  const n = times.length;
  const overlay = s("rect", { x: PAD.left, y: PAD.top, width: f.innerW, height: f.innerH, fill: "transparent" });
  f.svg.append(overlay);
  overlay.addEventListener("mousemove", (event) => {
    const box = f.svg.getBoundingClientRect();
    const scale = f.width / box.width;
    const x = (event.clientX - box.left) * scale;
    const index = Math.min(n - 1, Math.max(0, Math.floor(((x - PAD.left) / f.innerW) * n)));
    const cx = PAD.left + ((index + 0.5) * f.innerW) / n;
    line.setAttribute("x1", cx);
    line.setAttribute("x2", cx);
    line.setAttribute("visibility", "visible");
    clear(tip);
    tip.append(h("div", {}, h("strong", {}, time(times[index], true))), ...render(rows[index]));
    tip.hidden = false;
    const left = cx / scale + 12;
    tip.style.left = `${Math.min(left, box.width - tip.offsetWidth - 4)}px`;
    tip.style.top = `${PAD.top}px`;
  });
  overlay.addEventListener("mouseleave", () => {
    tip.hidden = true;
    line.setAttribute("visibility", "hidden");
  });
}

/** Stacked bars. buckets: [{t, values: {key: number}}]; series: [{key, label, color}]. */
export function stackedBars(container, buckets, series, { formatValue, withDate = false, emptyText }) {
  const total = (bucket) => series.reduce((sum, item) => sum + (bucket.values[item.key] || 0), 0);
  if (!buckets.length || buckets.every((bucket) => total(bucket) === 0)) {
    empty(container, emptyText || "No requests in this window yet.");
    return;
  }
  const f = frame(container);
  const max = niceMax(Math.max(...buckets.map(total)));
  yAxis(f.svg, f, max, formatValue);
  const slot = f.innerW / buckets.length;
  const barW = Math.max(1, Math.min(slot * 0.72, 28));
  const group = s("g", {});
  buckets.forEach((bucket, i) => {
    let y = PAD.top + f.innerH;
    for (const item of series) {
      const value = bucket.values[item.key] || 0;
      if (!value) continue;
      const height = (value / max) * f.innerH;
      y -= height;
      group.append(s("rect", { x: PAD.left + i * slot + (slot - barW) / 2, y, width: barW, height: Math.max(height, 0.5), fill: item.color, rx: Math.min(2, barW / 4) }));
    }
  });
  f.svg.append(group);
  xAxis(f.svg, f, buckets.map((b) => b.t), withDate);
  tooltip(container, f, buckets.map((b) => b.t), buckets, (bucket) =>
    series.map((item) => h("div", { class: "row" }, h("span", { class: `swatch ${item.swatch}` }), `${item.label}: ${formatValue(bucket.values[item.key] || 0)}`)),
  );
}

/** Lines. times: [t]; series: [{key, label, color, swatch, values: [number|null]}]. */
export function lines(container, times, series, { formatValue, formatAxis, withDate = false, emptyText }) {
  const all = series.flatMap((item) => item.values).filter((v) => v !== null && v !== undefined);
  if (!times.length || !all.length) {
    empty(container, emptyText || "No latency data in this window yet.");
    return;
  }
  const f = frame(container);
  const max = niceMax(Math.max(...all));
  yAxis(f.svg, f, max, formatAxis || formatValue);
  const n = times.length;
  const x = (i) => PAD.left + ((i + 0.5) * f.innerW) / n;
  const y = (v) => PAD.top + f.innerH - (v / max) * f.innerH;
  for (const item of series) {
    let d = "";
    let pen = false;
    item.values.forEach((value, i) => {
      if (value === null || value === undefined) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(value).toFixed(1)}`;
      pen = true;
    });
    f.svg.append(s("path", { d, fill: "none", stroke: item.color, "stroke-width": 2, "stroke-linejoin": "round", "stroke-linecap": "round" }));
    const present = (i) => i >= 0 && i < n && item.values[i] !== null && item.values[i] !== undefined;
    item.values.forEach((value, i) => {
      // every point when there are few; otherwise only those no line reaches (alone between empty buckets)
      if (present(i) && (n <= 60 || (!present(i - 1) && !present(i + 1)))) {
        f.svg.append(s("circle", { cx: x(i), cy: y(value), r: n <= 60 ? 2.2 : 2.6, fill: item.color }));
      }
    });
  }
  xAxis(f.svg, f, times, withDate);
  const rows = times.map((_, i) => series.map((item) => item.values[i]));
  tooltip(container, f, times, rows, (row) =>
    series.map((item, k) => h("div", { class: "row" }, h("span", { class: `swatch ${item.swatch}` }), `${item.label}: ${row[k] === null || row[k] === undefined ? "–" : formatValue(row[k])}`)),
  );
}

/** A ring showing a share in [0, 1]. */
export function ring(share, label) {
  const r = 40;
  const circumference = 2 * Math.PI * r;
  const svg = s("svg", { viewBox: "0 0 96 96" });
  svg.append(s("circle", { class: "track", cx: 48, cy: 48, r, fill: "none", "stroke-width": 9 }));
  const value = s("circle", {
    class: "value", cx: 48, cy: 48, r, fill: "none", "stroke-width": 9, "stroke-linecap": "round",
    "stroke-dasharray": circumference.toFixed(2),
    "stroke-dashoffset": (circumference * (1 - (share ?? 0))).toFixed(2),
    transform: "rotate(-90 48 48)",
  });
  svg.append(value);
  svg.append(s("text", { x: 48, y: 54, "text-anchor": "middle" }, label));
  return svg;
}
