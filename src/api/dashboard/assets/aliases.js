// Promote and roll back: moves an alias with PUT /v1/models/{name}/aliases/{alias}. When
// the server has an API key, api.js asks for it on the first 401.

import { api, modelPath } from './api.js';
import { h, errorBox, fill } from './dom.js';

// Where an alias pointed before each move made from this tab. The server keeps no alias
// history, so a rollback to "where it was" is only known for moves made here.
const historyKey = (model, alias) => `modeld.aliasHistory.${model}.${alias}`;
function history(model, alias) {
  try {
    const h = JSON.parse(sessionStorage.getItem(historyKey(model, alias)) ?? '[]');
    return Array.isArray(h) ? h.filter(Number.isInteger) : [];
  } catch {
    return [];
  }
}

// The rollback: the alias's previous version when this tab moved it (and it is still
// ready), else the newest ready version older than the current one.
export function rollbackTarget(model, alias, versions, current) {
  const ready = new Set(versions.filter((v) => v.status === 'ready').map((v) => v.version));
  const previous = history(model, alias).filter((v) => v !== current && ready.has(v)).at(-1);
  if (previous !== undefined) return { version: previous, previous: true };
  const older = [...ready].filter((v) => v < current);
  return older.length ? { version: Math.max(...older), previous: false } : null;
}

function versionSelect(versions, current, label) {
  return h('select', { 'aria-label': label },
    [...versions].filter((v) => v.status === 'ready').sort((a, b) => b.version - a.version)
      .map((v) => h('option', { value: v.version, selected: v.version === current }, `v${v.version}`)));
}

// The outcome of the last move, shown again by the render the move itself triggers.
const notices = new Map();

export function renderAliases(root, { model, detail, onMoved }) {
  const message = h('div', { class: 'message', role: 'status' });
  const notice = notices.get(model);
  notices.delete(model);
  if (notice) fill(message, h('span', { class: 'ok' }, notice));
  const move = async (alias, version, verb, rollingBack = false) => {
    fill(message, h('span', { class: 'muted' }, `${verb} ${alias} → v${version}…`));
    try {
      await api('PUT', `${modelPath(model)}/aliases/${encodeURIComponent(alias)}`, { version });
      const was = detail.aliases[alias];
      const past = history(model, alias);
      if (rollingBack) past.pop();
      else if (was !== undefined && was !== version) past.push(was);
      sessionStorage.setItem(historyKey(model, alias), JSON.stringify(past.slice(-20)));
      notices.set(model, `${alias} now points to v${version}`);
      fill(message, h('span', { class: 'ok' }, notices.get(model)));
      await onMoved?.();
    } catch (err) {
      fill(message, errorBox(err));
    }
  };
  const rows = Object.entries(detail.aliases).sort(([a], [b]) => a.localeCompare(b)).map(([alias, current]) => {
    const pick = versionSelect(detail.versions, current, `version for ${alias}`);
    const back = rollbackTarget(model, alias, detail.versions, current);
    return h('tr', { 'data-alias': alias },
      h('th', {}, alias), h('td', { class: 'num', 'data-test': 'alias-version' }, `v${current}`),
      h('td', {}, pick, ' ', h('button', {
        type: 'button', 'data-test': 'promote',
        onclick: () => move(alias, Number(pick.value), 'Promoting'),
      }, 'Promote')),
      h('td', {}, h('button', {
        type: 'button', class: 'quiet', 'data-test': 'rollback', disabled: back === null,
        title: back === null ? 'no older ready version'
          : back.previous ? `${alias} pointed at v${back.version} before it was moved here`
            : `the newest ready version older than v${current}`,
        onclick: () => move(alias, back.version, 'Rolling back', back.previous),
      }, back === null ? 'Roll back' : back.previous ? `Roll back to v${back.version}` : `Point to older v${back.version}`)));
  });
  const suggested = ['production', 'staging', 'canary'].find((a) => !(a in detail.aliases)) ?? '';
  const newName = h('input', { type: 'text', value: suggested, placeholder: 'alias', 'aria-label': 'alias name', size: 12 });
  const newPick = versionSelect(detail.versions, detail.default_version, 'version for the new alias');
  fill(root, h('section', { class: 'card aliases' },
    h('h3', {}, 'Aliases'),
    h('table', { class: 'kv' }, h('tbody', {}, rows,
      h('tr', {}, h('th', {}, newName), h('td', {}, ''), h('td', {}, newPick, ' ', h('button', {
        type: 'button', 'data-test': 'set-alias',
        onclick: () => move(newName.value.trim(), Number(newPick.value), 'Setting'),
      }, 'Set alias')), h('td', {})))),
    message));
}
