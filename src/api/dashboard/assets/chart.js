// Hand-drawn SVG line charts: no library, no canvas, so every point is an element a test
// (or a screen reader, through its <title>) can find.

import { s, h, fmt } from './dom.js';

const MARGIN = { top: 14, right: 16, bottom: 38, left: 62 };

// Round tick values covering [lo, hi], about `count` of them.
function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? raw;
  // An integer count, not `v += step`: a step below half an ulp of v would never move it.
  const first = Math.ceil(lo / step);
  const out = [];
  for (let i = 0; i < 50; i++) {
    const v = (first + i) * step;
    if (v > hi + step * 1e-9) break;
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

function extent(values, minSpan) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // Values a few ulps apart are one value: give the axis room instead of a zero-width range.
  minSpan = Math.max(minSpan, Math.abs(lo) * 1e-9);
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    return [mid - minSpan / 2, mid + minSpan / 2];
  }
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

// series: [{ name, colour, dashed, points: [[x, y], ...] }]; non-finite points are
// dropped (a diverged epoch). xFormat turns an x value into a tick label; xMinSpan keeps
// a lone snapshot from stretching the x axis over nothing.
export function lineChart({ series, xLabel, yLabel, width = 640, height = 260, xFormat = fmt, xMinSpan = 0, test }) {
  const clean = series.map((sr) => ({
    ...sr,
    points: sr.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  }));
  const all = clean.flatMap((sr) => sr.points);
  const figure = h('figure', { class: 'chart', 'data-test': test });
  if (all.length === 0) {
    figure.append(h('p', { class: 'muted' }, 'No data points yet.'));
    return figure;
  }
  const [x0, x1] = extent(all.map((p) => p[0]), xMinSpan);
  const [y0, y1] = extent(all.map((p) => p[1]), 0);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const sx = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * plotH;

  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `${yLabel} by ${xLabel}`, 'data-points': all.length,
  });
  const grid = s('g', { class: 'grid' });
  for (const t of ticks(y0, y1, 5)) {
    grid.append(s('line', { x1: MARGIN.left, x2: width - MARGIN.right, y1: sy(t), y2: sy(t) }));
    grid.append(s('text', { x: MARGIN.left - 6, y: sy(t) + 4, 'text-anchor': 'end' }, fmt(t)));
  }
  for (const t of ticks(x0, x1, 6)) {
    grid.append(s('text', { x: sx(t), y: height - MARGIN.bottom + 16, 'text-anchor': 'middle' }, xFormat(t)));
  }
  grid.append(s('text', { x: MARGIN.left + plotW / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis-label' }, xLabel));
  grid.append(s('text', {
    x: 12, y: MARGIN.top + plotH / 2, 'text-anchor': 'middle', class: 'axis-label',
    transform: `rotate(-90 12 ${MARGIN.top + plotH / 2})`,
  }, yLabel));
  svg.append(grid);
  svg.append(s('rect', { class: 'frame', x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH }));

  for (const sr of clean) {
    if (sr.points.length === 0) continue;
    const d = sr.points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`).join(' ');
    svg.append(s('path', {
      d, fill: 'none', stroke: sr.colour, 'stroke-width': 2,
      'stroke-dasharray': sr.dashed ? '6 4' : null, class: 'series', 'data-series': sr.name,
    }));
    // Markers only where they stay readable; the path carries long curves.
    if (sr.points.length <= 120) {
      const marks = s('g', { class: 'points', fill: sr.colour });
      for (const [x, y] of sr.points) {
        marks.append(s('circle', { cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: 2.6, class: 'point' },
          s('title', {}, `${sr.name}: ${xFormat(x)} → ${fmt(y)}`)));
      }
      svg.append(marks);
    }
  }
  figure.append(svg);
  figure.append(h('figcaption', { class: 'legend' }, clean.map((sr) => h('span', { class: 'key' },
    s('svg', { width: 22, height: 10, 'aria-hidden': 'true' },
      s('line', { x1: 1, x2: 21, y1: 5, y2: 5, stroke: sr.colour, 'stroke-width': 2, 'stroke-dasharray': sr.dashed ? '5 3' : null })),
    ` ${sr.name}`))));
  return figure;
}
