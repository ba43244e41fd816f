// Builds elements from data without ever parsing markup: every name and value that comes
// from the API reaches the page as a text node or an attribute value, so HTML inside a
// class or feature name is shown as text and never runs. Nothing here uses innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.setAttribute('class', value);
    } else if (key === 'checked' || key === 'selected' || key === 'value') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

// A number as a person reads it: integers whole, others to four significant digits.
export function fmt(x) {
  if (x === null || x === undefined) return '—';
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) return String(x);
    if (Number.isInteger(x)) return String(x);
    const abs = Math.abs(x);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return x.toExponential(3);
    return String(Number(x.toPrecision(4)));
  }
  if (typeof x === 'object') return JSON.stringify(x);
  return String(x);
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').slice(0, 19);
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err?.message ?? String(err));
}

// Stable, distinguishable colours for series (Tableau 10).
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f',
  '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export function colour(i) {
  return PALETTE[i % PALETTE.length];
}

// replaceChildren without the DOM's habit of writing `null` for an absent child.
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}
