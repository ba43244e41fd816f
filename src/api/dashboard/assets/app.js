// The dashboard: a hash router over three views of a model (runs, curves, monitoring)
// and the list of models. It reads only the public JSON API.

import { api, askForKey, forgetKey, hasKey, modelPath } from './api.js';
import { h, errorBox, fill } from './dom.js';
import { renderRuns } from './runs.js';
import { renderCurves } from './curves.js';
import { renderMonitoring } from './monitor.js';
import { renderAliases } from './aliases.js';

const view = document.getElementById('view');
const crumbs = document.getElementById('crumbs');
const TABS = [['runs', 'Runs'], ['curves', 'Learning curves'], ['monitoring', 'Monitoring & drift']];
// Selected versions per model, shared by the runs table and the curves.
const selections = new Map();
let stopView = () => {};

function selectionOf(model) {
  if (!selections.has(model)) selections.set(model, new Set());
  return selections.get(model);
}

const link = (hash, text, attrs = {}) => h('a', { href: `#${hash}`, ...attrs }, text);
const modelHash = (name, tab) => `/models/${encodeURIComponent(name)}${tab ? `/${tab}` : ''}`;

async function modelsView(gen) {
  const { models } = await api('GET', '/v1/models');
  if (!current(gen)) return;
  fill(crumbs, h('span', {}, 'Models'));
  if (models.length === 0) {
    fill(view, h('p', { class: 'muted' }, 'No models yet. Train one with POST /v1/models/{name}/train or modelctl train.'));
    return;
  }
  fill(view, h('section', { class: 'card' }, h('h2', {}, 'Models'),
    h('table', { class: 'models', 'data-test': 'models-table' },
      h('thead', {}, h('tr', {}, ['model', 'versions', 'latest', 'served by default', 'aliases'].map((t) => h('th', {}, t)))),
      h('tbody', {}, models.map((m) => h('tr', { 'data-model': m.name },
        h('td', {}, link(modelHash(m.name), m.name, { 'data-test': 'model-link' })),
        h('td', { class: 'num' }, m.versions.length),
        h('td', { class: 'num' }, m.versions.length ? `v${Math.max(...m.versions)}` : '—'),
        h('td', { class: 'num' }, m.default_version ? `v${m.default_version}` : '—'),
        h('td', {}, Object.entries(m.aliases).map(([a, v]) => h('span', { class: 'chip' }, `${a} → v${v}`)))))))));
}

async function modelView(name, tab, query, gen) {
  const detail = await api('GET', modelPath(name));
  if (!current(gen)) return undefined;
  fill(crumbs, link('/', 'Models'), ' / ', h('span', {}, name));
  const selected = selectionOf(name);
  const aliasPane = h('div');
  const pane = h('div', { class: 'pane' });
  const reload = async () => {
    const fresh = await api('GET', modelPath(name));
    renderAliases(aliasPane, { model: name, detail: fresh, onMoved: reload });
    if (tab === 'runs') renderRuns(pane, { model: name, versions: fresh.versions, selected });
  };
  fill(view,
    h('div', { class: 'title' }, h('h2', {}, name),
      h('span', { class: 'muted' }, `${detail.versions.length} versions · served by default: ${detail.default_version ? `v${detail.default_version}` : 'none'}`)),
    detail.problems.length ? h('div', { class: 'error' }, detail.problems.join('; ')) : null,
    aliasPane,
    h('nav', { class: 'tabs' }, TABS.map(([id, label]) => link(modelHash(name, id), label, { class: id === tab ? 'active' : null, 'data-tab': id }))),
    pane);
  renderAliases(aliasPane, { model: name, detail, onMoved: reload });
  if (tab === 'curves') {
    await renderCurves(pane, { model: name, versions: detail.versions, selected });
  } else if (tab === 'monitoring') {
    const pollMs = Math.max(500, Number(query.get('poll')) || 5000);
    return renderMonitoring(pane, { model: name, pollMs });
  } else {
    renderRuns(pane, { model: name, versions: detail.versions, selected });
  }
  return () => {};
}

// Each navigation gets a number; a view that finishes after a newer navigation began is
// stale, and neither fills the page nor keeps polling.
let generation = 0;
const current = (gen) => gen === generation;

async function route() {
  const gen = ++generation;
  stopView();
  stopView = () => {};
  delete document.body.dataset.ready;
  try {
    const [path, search] = (location.hash.slice(1) || '/').split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const query = new URLSearchParams(search ?? '');
    if (parts[0] === 'models' && parts[1]) {
      const stop = await modelView(parts[1], parts[2] ?? 'runs', query, gen);
      if (!current(gen)) {
        stop?.();
        return;
      }
      stopView = stop ?? stopView;
    } else {
      await modelsView(gen);
    }
  } catch (err) {
    if (current(gen)) fill(view, errorBox(err));
  }
  if (!current(gen)) return;
  document.body.dataset.route = location.hash || '#/';
  document.body.dataset.ready = 'true';
}

async function header() {
  try {
    const v = await api('GET', '/version');
    document.getElementById('server').textContent = `${v.name} ${v.version}`;
  } catch {
    // The version is decoration; the views report their own errors.
  }
}

const keyButton = document.getElementById('key-button');
function showKeyState() {
  keyButton.textContent = hasKey() ? 'Forget API key' : 'API key';
}
keyButton.addEventListener('click', async () => {
  if (hasKey()) forgetKey();
  else await askForKey('Enter the API key for this server.');
  showKeyState();
  route();
});

// /ui/models/NAME/... deep links land on the same views as #/models/NAME/...
if (!location.hash && location.pathname.startsWith('/ui/models/')) {
  location.replace(`/#${location.pathname.slice(3)}`);
}
window.addEventListener('hashchange', route);
showKeyState();
header().then(showKeyState);
route();
