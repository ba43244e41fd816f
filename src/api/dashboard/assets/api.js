// The page's only way to the server: the public JSON API, with the API key (when one is
// set) as a Bearer token. The key lives in sessionStorage, so it leaves with the tab.

const KEY = 'modeld.apiKey';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function hasKey() {
  return Boolean(sessionStorage.getItem(KEY));
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

// One dialog for however many requests were refused at once.
let asking = null;
export function askForKey(reason) {
  if (asking) return asking;
  const dialog = document.getElementById('key-dialog');
  const form = document.getElementById('key-form');
  const input = document.getElementById('key-input');
  const cancel = document.getElementById('key-cancel');
  document.getElementById('key-reason').textContent = reason;
  input.value = '';
  asking = new Promise((resolve) => {
    let settled = false;
    // Submit, Cancel and Escape (which closes a modal dialog by itself) all end here once.
    const done = (given) => {
      if (settled) return;
      settled = true;
      form.removeEventListener('submit', submit);
      cancel.removeEventListener('click', dismiss);
      dialog.removeEventListener('close', dismiss);
      if (dialog.open) dialog.close();
      asking = null;
      resolve(given);
    };
    const submit = (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value);
      done(true);
    };
    const dismiss = () => done(false);
    form.addEventListener('submit', submit);
    cancel.addEventListener('click', dismiss);
    dialog.addEventListener('close', dismiss);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

async function send(method, path, body) {
  const headers = { accept: 'application/json' };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.authorization = `Bearer ${key}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

// `method path` with an optional JSON body; resolves to the parsed answer or throws an
// ApiError carrying the server's `error` text.
export async function api(method, path, body) {
  let res = await send(method, path, body);
  while (res.status === 401) {
    const reason = hasKey() ? 'That API key was refused. Enter the right one.'
      : 'This server needs an API key.';
    if (!(await askForKey(reason))) break;
    res = await send(method, path, body);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = data?.error ?? `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, data?.code ?? 'http', `${method} ${path}: ${message}`);
  }
  return data;
}

export const modelPath = (name) => `/v1/models/${encodeURIComponent(name)}`;
