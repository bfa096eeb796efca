// Small SVG charts of our own: grouped or stacked bars, lines, and horizontal bars. Each chart is
// one <svg> with a value axis (round ticks), category labels, a legend, a hover title on every
// bar or point, and colours from base.css (`--chart-1` …). A bar (or point) may be clicked, or
// focused and activated with Enter, when `onPick(categoryIndex, seriesIndex)` is given. No
// library: the reports need four chart kinds, and these are ~200 lines we can read and test.
import { el } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    else if (k === 'style') for (const [p, x] of Object.entries(v)) e.style.setProperty(p, x);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Round ticks from 0 to at least `max`: [0, step, 2·step, …] (whole steps for counts). */
export function ticks(max, count = 4, integer = false) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  if (integer) step = Math.max(1, Math.ceil(step));
  const out = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const W = 420;
const H = 190;
const PAD = { left: 46, right: 8, top: 10, bottom: 26 };

/** A legend's colour sample. */
function swatch(c) {
  const e = el('span', { class: 'swatch' });
  e.style.setProperty('background', c);
  return e;
}

/** The colour of series `i`. */
const colour = (i, given) => given || `var(--chart-${(i % 6) + 1})`;

function frame(title, { legend, labelledBy }) {
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'group', 'aria-label': title, 'aria-labelledby': labelledBy,
    preserveAspectRatio: 'xMidYMid meet',
  });
  const box = el('figure', { class: 'chart-box' },
    el('figcaption', { class: 'chart-title' }, title),
    root,
    legend && legend.length > 1
      ? el('ul', { class: 'chart-legend' }, legend.map((s, i) => el('li', null,
        swatch(colour(i, s.color)), s.name)))
      : null);
  return { root, box };
}

/** The value axis: grid lines and labels; returns y(value). */
function valueAxis(root, max, format, integer) {
  const t = ticks(max, 4, integer);
  const top = t[t.length - 1];
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH - (plotH * v) / top;
  for (const v of t) {
    root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: v ? 'grid-line' : 'axis-line' }));
    root.append(svg('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, format(v)));
  }
  return y;
}

/** Category labels under the plot, thinned out when they would overlap. */
function categoryAxis(root, labels, x, band) {
  const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor((W - PAD.left - PAD.right) / 40))));
  labels.forEach((l, i) => {
    if (i % every) return;
    root.append(svg('text', { x: x(i) + band / 2, y: H - PAD.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, l));
  });
}

function pickable(node, onPick, i, s, label) {
  if (!onPick) return node;
  node.setAttribute('tabindex', '0');
  node.setAttribute('role', 'button');
  node.setAttribute('aria-label', label);
  node.classList.add('pick');
  node.addEventListener('click', () => onPick(i, s));
  node.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onPick(i, s); }
  });
  return node;
}

/**
 * Bars per category: `series` [{name, values, color?}], side by side, or `stacked`.
 * `format(v)` writes a value (axis and titles); `integer`: counts, whole ticks. Returns a <figure>.
 */
export function barChart({ title, labels, series, stacked = false, format = String, integer = false, onPick }) {
  const { root, box } = frame(title, { legend: series });
  const n = labels.length;
  const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
  const max = stacked ? Math.max(0, ...totals) : Math.max(0, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  const y = valueAxis(root, max, format, integer);
  const band = (W - PAD.left - PAD.right) / Math.max(1, n);
  const x = (i) => PAD.left + i * band;
  const inner = band * 0.8;
  const bw = stacked ? inner : inner / Math.max(1, series.length);
  labels.forEach((label, i) => {
    let base = 0;
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const x0 = x(i) + band * 0.1 + (stacked ? 0 : k * bw);
      const y0 = stacked ? y(base + v) : y(v);
      const h = (stacked ? y(base) : y(0)) - y0;
      base += stacked ? v : 0;
      const text = `${s.name}, ${label}: ${format(v)}`;
      const rect = svg('rect', {
        x: x0, y: y0, width: Math.max(1, bw - 1), height: Math.max(0, h), class: 'bar',
        style: { fill: colour(k, s.color) }, 'data-series': s.name, 'data-label': label, 'data-value': v,
      }, svg('title', null, text));
      root.append(pickable(rect, onPick, i, k, text));
    });
  });
  categoryAxis(root, labels, x, band);
  return box;
}

/** Lines through the categories: `series` [{name, values (null: no point), color?}]. */
export function lineChart({ title, labels, series, format = String, max: fixedMax, onPick }) {
  const { root, box } = frame(title, { legend: series });
  const n = labels.length;
  const max = fixedMax ?? Math.max(0, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  const y = valueAxis(root, max, format);
  const band = (W - PAD.left - PAD.right) / Math.max(1, n);
  const x = (i) => PAD.left + i * band;
  series.forEach((s, k) => {
    const c = colour(k, s.color);
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { d += ' '; return; }
      const cmd = d === '' || d.endsWith(' ') ? 'M' : 'L';
      d += `${cmd}${(x(i) + band / 2).toFixed(1)},${y(v).toFixed(1)}`;
    });
    root.append(svg('path', { d: d.trim().replace(/ +(?=M)/g, ' '), class: 'line', style: { stroke: c } }));
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const text = `${s.name}, ${labels[i]}: ${format(v)}`;
      const dot = svg('circle', {
        cx: x(i) + band / 2, cy: y(v), r: 4, class: 'point', style: { fill: c },
        'data-series': s.name, 'data-label': labels[i], 'data-value': v,
      }, svg('title', null, text));
      root.append(pickable(dot, onPick, i, k, text));
    });
  });
  categoryAxis(root, labels, x, band);
  return box;
}

/** Horizontal bars of counts, one per label, for a few categories (dispositions). */
export function hbarChart({ title, labels, values, format = String, onPick }) {
  const rowH = 26;
  const left = 110;
  const h = Math.max(60, labels.length * rowH + 30);
  const root = svg('svg', { viewBox: `0 0 ${W} ${h}`, class: 'chart', role: 'group', 'aria-label': title });
  const max = Math.max(0, ...values);
  const t = ticks(max, 4, true);
  const top = t[t.length - 1];
  const x = (v) => left + ((W - left - PAD.right) * v) / top;
  for (const v of t) {
    root.append(svg('line', { x1: x(v), x2: x(v), y1: 4, y2: h - 22, class: v ? 'grid-line' : 'axis-line' }));
    root.append(svg('text', { x: x(v), y: h - 6, 'text-anchor': 'middle', class: 'tick' }, format(v)));
  }
  labels.forEach((l, i) => {
    const y0 = 8 + i * rowH;
    root.append(svg('text', { x: left - 6, y: y0 + 14, 'text-anchor': 'end', class: 'tick' }, l));
    const text = `${l}: ${format(values[i])}`;
    const rect = svg('rect', {
      x: left, y: y0, width: Math.max(1, x(values[i]) - left), height: rowH - 8, class: 'bar',
      style: { fill: colour(i) }, 'data-label': l, 'data-value': values[i],
    }, svg('title', null, text));
    root.append(pickable(rect, onPick, i, 0, text));
  });
  return el('figure', { class: 'chart-box' }, el('figcaption', { class: 'chart-title' }, title), root);
}
