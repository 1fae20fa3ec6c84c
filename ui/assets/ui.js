// ui.js — DOM helpers shared by the console and the portal.
//
// Elements are built with h(), never from HTML strings, so text from the gateway (model names,
// error messages, customer names) is always text. Nothing here sets a style attribute or an on*
// attribute: the gateway's CSP forbids both; look is in style.css, shown/hidden with `hidden`.

/** h('tag.class#id', {attrs, on: {event: fn}}, ...children): an element. */
export function h(spec, attrs = {}, ...children) {
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const m = /^([a-z0-9-]+)((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement(m ? m[1] : spec);
  if (m) {
    for (const part of m[2].match(/[.#][\w-]+/g) || []) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** A labelled form field: h('label') + input, tied by id. opts: type, name, value, required, hint... */
export function field(label, input, hint) {
  const id = input.id || `f${++uid}`;
  input.id = id;
  const hintEl = hint ? h('small.hint', { id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div.field', h('label', { for: id }, label), input, hintEl);
}

/** A table: columns [{label, get(row) → node|text, num?}], rows. Wrapped to scroll on a phone. */
export function table(columns, rows, { caption, empty = 'Nothing yet.' } = {}) {
  if (!rows.length) return h('p.empty', empty);
  return h(
    'div.table-wrap',
    h(
      'table',
      caption ? h('caption', caption) : null,
      h('thead', h('tr', columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : '' }, c.label)))),
      // data-label: on a phone each row becomes a card, every cell under its column's name (style.css)
      h('tbody', rows.map((r) => h('tr', columns.map((c) => h('td', { class: c.num ? 'num' : '', dataset: { label: c.label } }, c.get(r)))))),
    ),
  );
}

/** A message area: shows an error (role=alert) or a note; '' hides it. */
export function notice(el, text, kind = 'error') {
  el.hidden = !text;
  el.className = `notice ${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text || '';
}

/** Runs fn(); a thrown error becomes a notice in el (and is kept for the tests to read). */
export async function guard(el, fn) {
  notice(el, '');
  try {
    return await fn();
  } catch (e) {
    if (e.name === 'AbortError') return undefined;
    notice(el, e.message || String(e));
    return undefined;
  }
}

/**
 * A modal dialog (<dialog>: focus kept inside, Esc closes). Resolves to the value the clicked
 * button returns (or null when dismissed). buttons: [{label, value, primary, danger}].
 */
export function dialog(title, body, buttons = [{ label: 'Close', value: null }]) {
  return new Promise((resolve) => {
    const d = h('dialog.dialog', { 'aria-labelledby': `dlg${++uid}` });
    const form = h('form', { method: 'dialog' });
    form.append(
      h('h2', { id: `dlg${uid}` }, title),
      h('div.dialog-body', body),
      h(
        'div.actions',
        buttons.map((b) =>
          h('button', { type: 'submit', value: String(b.value), class: b.danger ? 'danger' : b.primary ? 'primary' : '' }, b.label),
        ),
      ),
    );
    d.append(form);
    d.addEventListener('close', () => {
      const b = buttons.find((x) => String(x.value) === d.returnValue);
      d.remove();
      resolve(b ? b.value : null);
    });
    document.body.append(d);
    d.showModal();
  });
}

/** Asks before something that cannot be undone. */
export function confirmAction(title, text, label = 'Delete') {
  return dialog(title, h('p', text), [
    { label: 'Cancel', value: false },
    { label, value: true, danger: true },
  ]).then((v) => v === true);
}

/** A button that copies text to the clipboard and says so. */
export function copyButton(text, label = 'Copy') {
  const b = h('button.copy', { type: 'button' }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      // no clipboard permission (plain http on another host): select the text for Ctrl+C instead
      const code = b.parentElement?.querySelector('code, input');
      if (code) window.getSelection().selectAllChildren(code);
      b.textContent = 'Select and copy';
    }
  });
  return b;
}

const nf = new Intl.NumberFormat();
export const num = (n) => (n === undefined || n === null || n === '' ? '—' : nf.format(Number(n)));

/** A decimal money string as the gateway sends it, kept exact (never through a float). */
export function money(s, currency = 'USD') {
  if (s === undefined || s === null || s === '') return '—';
  return `${String(s)} ${currency}`;
}

export const dateTime = (unix) => (unix ? new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—');

export function duration(s) {
  s = Math.floor(Number(s) || 0);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hh} h`;
  if (hh) return `${hh} h ${mm} min`;
  if (mm) return `${mm} min ${s % 60} s`;
  return `${s} s`;
}

/** YYYY-MM-DD of a Date (UTC), and n days before today. */
export const isoDay = (d) => d.toISOString().slice(0, 10);
export const daysAgo = (n) => isoDay(new Date(Date.now() - n * 86400000));

/** Every day from start to end (YYYY-MM-DD, inclusive): a chart's x axis without gaps. */
export function dayRange(start, end) {
  const out = [];
  for (let t = Date.parse(`${start}T00:00:00Z`); t <= Date.parse(`${end}T00:00:00Z`); t += 86400000) out.push(isoDay(new Date(t)));
  return out;
}

/** Tabs: [{id, label, panel}] → a tablist with arrow-key navigation; returns the container. */
export function tabs(items, onChange) {
  const list = h('div.tabs', { role: 'tablist' });
  const panels = h('div');
  const select = (i, focus) => {
    items.forEach((it, j) => {
      it.tab.setAttribute('aria-selected', String(i === j));
      it.tab.tabIndex = i === j ? 0 : -1;
      it.panel.hidden = i !== j;
    });
    if (focus) items[i].tab.focus();
    onChange?.(items[i].id);
  };
  items.forEach((it, i) => {
    it.panel = h('div', it.panel); // the panel's own id stays (a form's, say)
    it.tab = h('button', { type: 'button', role: 'tab', id: `tab-${it.id}`, 'aria-controls': `panel-${it.id}`, on: { click: () => select(i) } }, it.label);
    it.tab.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight') select((i + 1) % items.length, true);
      if (e.key === 'ArrowLeft') select((i + items.length - 1) % items.length, true);
    });
    it.panel.id = `panel-${it.id}`;
    it.panel.setAttribute('role', 'tabpanel');
    it.panel.setAttribute('aria-labelledby', `tab-${it.id}`);
    list.append(it.tab);
    panels.append(it.panel);
  });
  select(0);
  return h('div', list, panels);
}
