// A model's runs table, the view MLflow users live in: sortable, columns chosen and
// remembered (localStorage), each curve shown by its last or its best value, and the
// params that differ between the selected runs.

import { h, fmt, when, fill } from './dom.js';

const CURVE_FIELDS = ['validation_loss', 'validation_metric', 'train_loss', 'train_metric'];
const SPLIT_ORDER = ['validation', 'online', 'train'];

const RUN_COLUMNS = [
  { id: 'version', label: 'version', get: (v) => v.version },
  { id: 'status', label: 'status', get: (v) => v.status },
  { id: 'family', label: 'family', get: (v) => v.family },
  { id: 'created_at', label: 'created', get: (v) => v.created_at, show: when },
  { id: 'aliases', label: 'aliases', get: (v) => v.aliases.join(', ') },
  { id: 'n_parameters', label: 'parameters', get: (v) => v.n_parameters },
  { id: 'target', label: 'target', get: (v) => v.schema?.target },
  { id: 'features', label: 'features', get: (v) => v.schema?.feature_names?.join(', ') },
  { id: 'classes', label: 'classes', get: (v) => v.schema?.classes?.join(', ') },
];
// Hidden until the person chooses otherwise: the rest of the table says more per pixel.
const HIDDEN_AT_FIRST = ['target', 'features', 'curve.train_loss', 'curve.train_metric'];

const flatCache = new WeakMap();
function flatParams(v) {
  let flat = flatCache.get(v);
  if (!flat) {
    flat = {};
    const walk = (obj, prefix) => {
      for (const [k, val] of Object.entries(obj ?? {})) {
        if (val && typeof val === 'object' && !Array.isArray(val)) walk(val, `${prefix}${k}.`);
        else flat[prefix + k] = val;
      }
    };
    walk(v.params, '');
    flatCache.set(v, flat);
  }
  return flat;
}

export function columnsFor(versions) {
  const params = new Set();
  const metrics = new Set();
  for (const v of versions) {
    for (const k of Object.keys(flatParams(v))) params.add(k);
    for (const [split, values] of Object.entries(v.metrics ?? {})) {
      for (const name of Object.keys(values)) metrics.add(`${split}.${name}`);
    }
  }
  const splitRank = (id) => {
    const i = SPLIT_ORDER.indexOf(id.split('.')[0]);
    return i < 0 ? SPLIT_ORDER.length : i;
  };
  const metricIds = [...metrics].sort((a, b) => splitRank(a) - splitRank(b) || a.localeCompare(b));
  const hasCurves = versions.some((v) => v.curve);
  return [
    ...RUN_COLUMNS.map((c) => ({ ...c, group: 'run' })),
    ...[...params].sort().map((k) => ({ id: `params.${k}`, label: k, group: 'param', get: (v) => flatParams(v)[k] })),
    ...metricIds.map((id) => {
      const [split, name] = [id.slice(0, id.indexOf('.')), id.slice(id.indexOf('.') + 1)];
      return { id: `metrics.${id}`, label: `${split} ${name}`, group: 'metric', get: (v) => v.metrics?.[split]?.[name] };
    }),
    ...(hasCurves ? CURVE_FIELDS : []).map((f) => ({
      id: `curve.${f}`, label: `curve ${f.replace('_', ' ')}`, group: 'curve', get: (v, mode) => v.curve?.[mode]?.[f],
    })),
  ];
}

const GROUPS = { run: 'Run', param: 'Params', metric: 'Metrics', curve: 'Learning curve' };

function prefsKey(model) {
  return `modeld.runs.${model}`;
}

function loadPrefs(model) {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(prefsKey(model)) ?? '{}') ?? {};
  } catch {
    saved = {};
  }
  return {
    hidden: new Set(Array.isArray(saved.hidden) ? saved.hidden : HIDDEN_AT_FIRST),
    sort: saved.sort ?? { id: 'version', desc: true },
    mode: saved.mode === 'best' ? 'best' : 'last',
    differ: Boolean(saved.differ),
  };
}

function savePrefs(model, prefs) {
  localStorage.setItem(prefsKey(model), JSON.stringify({
    hidden: [...prefs.hidden], sort: prefs.sort, mode: prefs.mode, differ: prefs.differ,
  }));
}

const isMissing = (v) => v === undefined || v === null || v === '';

// Lower is better for losses and errors; higher for accuracy, R², F1 and the like.
const LOWER_IS_BETTER = /loss|mse|mae|rmse|error/;

// The direction of a first click: metrics best first, the rest newest or largest first
// only where that reads naturally (the version).
function firstClickDescending(col) {
  if (col.group === 'metric' || col.group === 'curve') return !LOWER_IS_BETTER.test(col.id);
  return col.id === 'version' || col.id === 'created_at';
}

function compare(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(fmt(a)).localeCompare(String(fmt(b)), undefined, { numeric: true });
}

// Param columns whose value is the same in every basis row say nothing about the runs.
function differing(cols, rows) {
  return new Set(cols.filter((c) => c.group === 'param').filter((c) => {
    const seen = new Set(rows.map((v) => JSON.stringify(c.get(v) ?? null)));
    return seen.size > 1;
  }).map((c) => c.id));
}

// Renders into `root`; `selected` is the Set of selected versions shared with the other
// views, `onSelect` is told when it changes.
export function renderRuns(root, { model, versions, selected, onSelect }) {
  const prefs = loadPrefs(model);
  const cols = columnsFor(versions);
  const table = h('table', { class: 'runs', 'data-test': 'runs-table' });
  const count = h('span', { class: 'muted' });
  const chooser = h('div', { class: 'chooser' });

  const visible = () => {
    const basis = selected.size >= 2 ? versions.filter((v) => selected.has(v.version)) : versions;
    const keep = prefs.differ ? differing(cols, basis) : null;
    return cols.filter((c) => !prefs.hidden.has(c.id) && (c.group !== 'param' || !keep || keep.has(c.id)));
  };

  const draw = () => {
    const started = performance.now();
    const shown = visible();
    const sortCol = cols.find((c) => c.id === prefs.sort.id) ?? cols[0];
    const rows = [...versions].sort((a, b) => {
      const [x, y] = [sortCol.get(a, prefs.mode), sortCol.get(b, prefs.mode)];
      const missing = isMissing(x) - isMissing(y);
      if (missing !== 0) return missing; // empty cells last, whichever the direction
      const order = compare(x, y);
      return prefs.sort.desc ? -order : order;
    });
    const head = h('tr', {}, h('th', { class: 'pick' }, h('span', { class: 'sr' }, 'select')),
      shown.map((c) => {
        const sorted = c.id === sortCol.id;
        return h('th', {
          class: `sortable ${c.group}`, 'data-col': c.id, title: `Sort by ${c.label}`,
          'aria-sort': sorted ? (prefs.sort.desc ? 'descending' : 'ascending') : 'none',
          onclick: () => {
            prefs.sort = { id: c.id, desc: sorted ? !prefs.sort.desc : firstClickDescending(c) };
            savePrefs(model, prefs);
            draw();
          },
        }, c.label, sorted ? (prefs.sort.desc ? ' ▾' : ' ▴') : '');
      }));
    // 200 runs × 30 columns is 6,000 cells: built with bare DOM calls, one listener for
    // every checkbox (below), so a re-sort stays well under a frame budget per row.
    const body = document.createDocumentFragment();
    for (const v of rows) {
      const tr = document.createElement('tr');
      tr.dataset.version = v.version;
      if (selected.has(v.version)) tr.className = 'selected';
      const pick = document.createElement('td');
      pick.className = 'pick';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = selected.has(v.version);
      box.dataset.version = v.version;
      box.setAttribute('aria-label', `select version ${v.version}`);
      pick.append(box);
      tr.append(pick);
      for (const c of shown) {
        const value = c.get(v, prefs.mode);
        const td = document.createElement('td');
        td.dataset.col = c.id;
        if (c.id === 'status' && value !== 'ready') {
          td.className = 'bad';
          if (v.error) td.title = v.error;
        } else if (typeof value === 'number') {
          td.className = 'num';
        }
        td.textContent = c.show ? c.show(value) : fmt(value);
        tr.append(td);
      }
      body.append(tr);
    }
    fill(table, h('thead', {}, head), h('tbody', {}, body));
    count.textContent = `${versions.length} runs · ${selected.size} selected · ${shown.length} of ${cols.length} columns`;
    const built = performance.now();
    // Forces style and layout so the time covers what the person waits for.
    void table.offsetHeight;
    const ms = performance.now() - started;
    const runsRender = { rows: rows.length, columns: shown.length, ms, build_ms: built - started, layout_ms: ms - (built - started) };
    window.modeldDashboard = { ...(window.modeldDashboard ?? {}), runsRender };
    table.dataset.renderMs = ms.toFixed(1);
  };

  table.addEventListener('change', (e) => {
    const version = Number(e.target.dataset?.version);
    if (e.target.type !== 'checkbox' || !Number.isInteger(version)) return;
    if (e.target.checked) selected.add(version);
    else selected.delete(version);
    onSelect?.(selected);
    draw();
  });

  const drawChooser = () => {
    fill(chooser, ...Object.entries(GROUPS).map(([group, title]) => {
      const members = cols.filter((c) => c.group === group);
      if (members.length === 0) return null;
      return h('fieldset', {}, h('legend', {}, title), members.map((c) => h('label', {},
        h('input', {
          type: 'checkbox', checked: !prefs.hidden.has(c.id), 'data-col': c.id,
          onchange: (e) => {
            if (e.target.checked) prefs.hidden.delete(c.id);
            else prefs.hidden.add(c.id);
            savePrefs(model, prefs);
            draw();
          },
        }), ` ${c.label}`)));
    }).filter(Boolean));
  };

  const modeSelect = h('select', {
    'data-test': 'curve-mode', 'aria-label': 'curve value',
    onchange: (e) => { prefs.mode = e.target.value; savePrefs(model, prefs); draw(); },
  }, h('option', { value: 'last', selected: prefs.mode === 'last' }, 'last value'),
  h('option', { value: 'best', selected: prefs.mode === 'best' }, 'best value'));

  const toolbar = h('div', { class: 'toolbar' },
    h('details', { class: 'columns' }, h('summary', {}, 'Columns'), chooser),
    h('label', {}, 'Curves show the ', modeSelect),
    h('label', {}, h('input', {
      type: 'checkbox', checked: prefs.differ, 'data-test': 'only-differ',
      onchange: (e) => { prefs.differ = e.target.checked; savePrefs(model, prefs); draw(); },
    }), ' only params that differ between the selected runs'),
    h('button', {
      type: 'button', class: 'quiet',
      onclick: () => { selected.clear(); onSelect?.(selected); draw(); },
    }, 'Clear selection'),
    count);

  drawChooser();
  fill(root, toolbar, h('div', { class: 'scroll' }, table));
  draw();
}
