// Promote and roll back: moves an alias with PUT /v1/models/{name}/aliases/{alias}. When
// the server has an API key, api.js asks for it on the first 401.

import { api, modelPath } from './api.js';
import { h, errorBox, fill } from './dom.js';

// The version a rollback goes to: the newest ready version older than the current one.
export function rollbackTarget(versions, current) {
  const older = versions.filter((v) => v.status === 'ready' && v.version < current).map((v) => v.version);
  return older.length ? Math.max(...older) : null;
}

function versionSelect(versions, current, label) {
  return h('select', { 'aria-label': label },
    [...versions].filter((v) => v.status === 'ready').sort((a, b) => b.version - a.version)
      .map((v) => h('option', { value: v.version, selected: v.version === current }, `v${v.version}`)));
}

export function renderAliases(root, { model, detail, onMoved }) {
  const message = h('div', { class: 'message', role: 'status' });
  const move = async (alias, version, verb) => {
    fill(message, h('span', { class: 'muted' }, `${verb} ${alias} → v${version}…`));
    try {
      await api('PUT', `${modelPath(model)}/aliases/${encodeURIComponent(alias)}`, { version });
      fill(message, h('span', { class: 'ok' }, `${alias} now points to v${version}`));
      await onMoved?.();
    } catch (err) {
      fill(message, errorBox(err));
    }
  };
  const rows = Object.entries(detail.aliases).sort(([a], [b]) => a.localeCompare(b)).map(([alias, current]) => {
    const pick = versionSelect(detail.versions, current, `version for ${alias}`);
    const back = rollbackTarget(detail.versions, current);
    return h('tr', { 'data-alias': alias },
      h('th', {}, alias), h('td', { class: 'num', 'data-test': 'alias-version' }, `v${current}`),
      h('td', {}, pick, ' ', h('button', {
        type: 'button', 'data-test': 'promote',
        onclick: () => move(alias, Number(pick.value), 'Promoting'),
      }, 'Promote')),
      h('td', {}, h('button', {
        type: 'button', class: 'quiet', 'data-test': 'rollback', disabled: back === null,
        title: back === null ? 'no older ready version' : `point ${alias} at v${back}`,
        onclick: () => move(alias, back, 'Rolling back'),
      }, back === null ? 'Roll back' : `Roll back to v${back}`)));
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
