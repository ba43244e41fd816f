// Learning curves of one or several versions, overlaid: loss and metric per epoch, on
// the training rows (solid) and the validation rows (dashed).

import { api, modelPath } from './api.js';
import { h, colour, errorBox, fill } from './dom.js';
import { lineChart } from './chart.js';

const CLASSIFIERS = /logistic|softmax|classifier/;

function seriesOf(details, field, split) {
  return details.map(({ version, history }, i) => ({
    name: `v${version} ${split}`,
    colour: colour(i),
    dashed: split === 'validation',
    points: history.map((r) => [r.epoch, r[`${split}_${field}`]]),
  })).filter((sr) => sr.points.some(([, y]) => y !== undefined && y !== null));
}

// The versions drawn: the selected ones, else the three newest that have a curve.
function chosen(versions, selected) {
  if (selected.size > 0) return [...selected].sort((a, b) => a - b);
  return versions.filter((v) => v.curve).map((v) => v.version).sort((a, b) => b - a).slice(0, 3).reverse();
}

export async function renderCurves(root, { model, versions, selected, onSelect }) {
  const picks = chosen(versions, selected);
  const picker = h('select', {
    multiple: true, size: Math.min(8, Math.max(3, versions.length)), 'aria-label': 'versions to draw',
    onchange: (e) => {
      selected.clear();
      for (const o of e.target.selectedOptions) selected.add(Number(o.value));
      onSelect?.(selected);
      renderCurves(root, { model, versions, selected, onSelect });
    },
  }, [...versions].sort((a, b) => b.version - a.version).map((v) => h('option', {
    value: v.version, selected: picks.includes(v.version),
  }, `v${v.version} · ${v.family}${v.curve ? '' : ' (no curve)'}`)));
  const charts = h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'Loading curves…'));
  fill(root, h('div', { class: 'toolbar' },
    h('label', { class: 'stack' }, 'Versions (select several to overlay)', picker)), charts);
  if (picks.length === 0) {
    fill(charts, h('p', { class: 'muted' }, 'No version of this model has a learning curve.'));
    return;
  }
  let details;
  try {
    details = await Promise.all(picks.map(async (v) => {
      const d = await api('GET', `${modelPath(model)}/versions/${v}`);
      return { version: v, family: d.family, history: d.training?.history ?? [] };
    }));
  } catch (err) {
    fill(charts, errorBox(err));
    return;
  }
  const withCurves = details.filter((d) => d.history.length > 0);
  const missing = details.filter((d) => d.history.length === 0).map((d) => `v${d.version}`);
  const metricName = withCurves.every((d) => CLASSIFIERS.test(d.family)) ? 'accuracy'
    : withCurves.some((d) => CLASSIFIERS.test(d.family)) ? 'accuracy / R²' : 'R²';
  fill(charts,
    h('section', { 'data-test': 'loss-chart' }, h('h3', {}, 'Loss per epoch'),
      lineChart({ series: [...seriesOf(withCurves, 'loss', 'train'), ...seriesOf(withCurves, 'loss', 'validation')], xLabel: 'epoch', yLabel: 'loss' })),
    h('section', { 'data-test': 'metric-chart' }, h('h3', {}, `${metricName} per epoch`),
      lineChart({ series: [...seriesOf(withCurves, 'metric', 'train'), ...seriesOf(withCurves, 'metric', 'validation')], xLabel: 'epoch', yLabel: metricName })),
    missing.length ? h('p', { class: 'muted' }, `${missing.join(', ')}: no recorded curve (imported, or trained by an older build).`) : null,
  );
}
