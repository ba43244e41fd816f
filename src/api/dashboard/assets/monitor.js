// Online quality and per-feature drift (PSI) over time. The server reports the present
// (GET /monitoring); this page polls it and keeps a ring of snapshots per model, so the
// charts cover the time the page has been open.

import { api, modelPath } from './api.js';
import { h, fmt, colour, errorBox, fill } from './dom.js';
import { lineChart } from './chart.js';

const RING = 240;
const MINUTE = 60000;
const rings = new Map();

function ringOf(model, version) {
  if (!rings.has(model)) rings.set(model, new Map());
  const perVersion = rings.get(model);
  if (!perVersion.has(version)) perVersion.set(version, []);
  return perVersion.get(version);
}

function record(model, report) {
  const t = Date.now();
  for (const v of report.versions) {
    const ring = ringOf(model, v.version);
    // PSI over a handful of rows is noise: the server judges it from min_rows on.
    const judged = v.drift && v.drift.window_rows >= v.drift.min_rows;
    const psi = judged ? Object.fromEntries(v.drift.features.map((f) => [f.feature, f.psi])) : null;
    ring.push({ t, online: v.online ?? null, psi });
    if (ring.length > RING) ring.splice(0, ring.length - RING);
  }
}

const clock = (ms) => new Date(ms).toISOString().slice(11, 19);

function versionSection(model, v) {
  const ring = ringOf(model, v.version);
  const online = v.online ?? {};
  const names = Object.keys(online).filter((k) => typeof online[k] === 'number');
  const quality = lineChart({
    series: names.map((name, i) => ({ name, colour: colour(i), points: ring.filter((p) => p.online).map((p) => [p.t, p.online[name]]) })),
    xLabel: 'time (UTC)', yLabel: 'online quality', xFormat: clock, height: 220, xMinSpan: MINUTE, test: 'quality-chart',
  });
  const drift = v.drift;
  // One series per feature, the most drifted first (at most eight stay readable).
  const judgedPoints = ring.filter((p) => p.psi);
  const latest = judgedPoints.at(-1)?.psi ?? {};
  const features = Object.keys(latest).sort((a, b) => latest[b] - latest[a]).slice(0, 8);
  const psi = lineChart({
    series: [
      ...features.map((f, i) => ({ name: f, colour: colour(i), points: judgedPoints.map((p) => [p.t, p.psi[f]]) })),
      ...(drift && judgedPoints.length ? [{ name: 'threshold', colour: '#999', dashed: true, points: judgedPoints.map((p) => [p.t, drift.threshold]) }] : []),
    ],
    xLabel: 'time (UTC)', yLabel: 'PSI per feature', xFormat: clock, height: 220, xMinSpan: MINUTE, test: 'psi-chart',
  });
  const judged = drift && drift.window_rows >= drift.min_rows;
  const driftRows = (drift?.features ?? []).slice().sort((a, b) => b.psi - a.psi).map((f) => h('tr', {
    'data-test': 'drift-row', class: f.drifted ? 'bad' : null,
  }, h('td', {}, f.feature), h('td', { class: 'num' }, judged ? fmt(f.psi) : '—'),
  h('td', {}, judged ? (f.drifted ? 'drifted' : 'ok') : 'not judged yet')));
  return h('section', { class: 'card', 'data-version': v.version },
    h('h3', {}, `Version ${v.version}`),
    h('p', { class: 'muted' }, `${v.window_rows} labelled rows in the window, ${v.feedback_rows} since start`,
      drift ? ` · drift window ${drift.window_rows} rows (judged from ${drift.min_rows})` : ' · no training profile: drift not tracked'),
    names.length ? h('table', { class: 'kv', 'data-test': 'online-quality' }, h('tbody', {},
      names.map((n) => h('tr', {}, h('th', {}, n), h('td', { class: 'num' }, fmt(online[n])))))) : h('p', { class: 'muted' }, 'No feedback yet: POST /v1/models/{name}/feedback gives online quality.'),
    h('div', { class: 'pair' }, h('div', {}, h('h4', {}, 'Online quality'), quality), h('div', {}, h('h4', {}, 'Drift'), psi)),
    drift ? h('table', { class: 'drift', 'data-test': 'drift-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'feature'), h('th', {}, 'PSI'), h('th', {}, `state (threshold ${fmt(drift.threshold)})`))),
      h('tbody', {}, driftRows)) : null);
}

// Polls until the returned function is called: one request at a time (the next is armed
// when the last has answered), and none after a refused API key the person did not give.
export function renderMonitoring(root, { model, pollMs }) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading monitoring…'));
  const status = h('span', { class: 'muted' });
  fill(root, h('div', { class: 'toolbar' }, h('span', {}, `Polled every ${pollMs / 1000} s; charts cover the time this page has been open.`), status), body);
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      const report = await api('GET', `${modelPath(model)}/monitoring`);
      if (stopped) return;
      record(model, report);
      const log = report.prediction_log;
      status.textContent = ` · prediction log ${log.entries} requests, ${log.rows} rows · updated ${clock(Date.now())}`;
      fill(body, report.versions.length ? report.versions.map((v) => versionSection(model, v))
        : h('p', { class: 'muted' }, 'No loaded version to monitor.'));
    } catch (err) {
      if (stopped) return;
      fill(body, errorBox(err));
      if (err.status === 401) {
        stopped = true;
        status.textContent = ' · stopped: no API key';
        return;
      }
    }
    if (!stopped) timer = setTimeout(tick, pollMs);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
