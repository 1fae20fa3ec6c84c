// customers.js — customers and their API keys (the apikey plugin's admin API): create, limits,
// keys created/rotated with the secret shown once (copy button), revoked.
import { api, optional, enc } from '../assets/api.js';
import { h, fill, field, table, notice, guard, dialog, confirmAction, copyButton, dateTime } from '../assets/ui.js';
import { limitsFieldset, limitsText } from './limits.js';
import { playground } from './playground.js';

export async function customersPage(page) {
  const msg = h('p.notice', { hidden: true });
  const secretBox = h('div', { id: 'secret-box', 'aria-live': 'polite' });
  const custBox = h('div');
  const keyBox = h('div');
  page.append(msg, secretBox);

  const first = await guard(msg, () => optional('/admin/customers'));
  if (first === null) {
    page.append(
      h('p.notice.unavailable', 'Customers and keys need the apikey plugin: add apikey to plugins.load in the configuration (then SIGHUP).'),
    );
    return undefined;
  }
  if (first === undefined) return undefined;

  const custForm = customerForm(() => refresh());
  const keyForm = keyFormEl(() => refresh(), showSecret);
  page.append(
    h('div.grid', h('div.card', h('h2', 'New customer'), custForm), h('div.card', h('h2', 'New API key'), keyForm)),
    h('h2', 'Customers'),
    custBox,
    h('h2', 'API keys'),
    keyBox,
  );

  /** The secret, shown once: this box is the only place it ever is, until it is closed. */
  function showSecret(k, verb) {
    const close = h('button', { type: 'button' }, 'I have copied it: hide');
    const code = h('code', { id: 'secret-value' }, k.key);
    fill(
      secretBox,
      h(
        'div.card',
        h('h2', `${verb} key ${k.id} for ${k.customer}`),
        h('p', 'This is the only time the secret is shown: the gateway keeps only its SHA-256. Copy it now.'),
        h('div.secret', code, copyButton(k.key)),
        h(
          'div.actions',
          h(
            'button',
            {
              type: 'button',
              on: {
                click: () => {
                  playground.key = k.key;
                  location.hash = '#playground';
                },
              },
            },
            'Use it in the playground',
          ),
          close,
        ),
      ),
    );
    close.addEventListener('click', () => secretBox.replaceChildren());
    secretBox.querySelector('button.copy').focus();
  }

  async function refresh() {
    await guard(msg, async () => {
      const [cs, ks] = await Promise.all([api('/admin/customers'), api('/admin/keys')]);
      keyForm.setCustomers(cs.data);
      fill(
        custBox,
        table(
          [
            { label: 'Id', get: (c) => h('strong', c.id) },
            { label: 'Name', get: (c) => c.name },
            { label: 'Limits', get: (c) => limitsText(c.limits) },
            { label: 'Keys', num: true, get: (c) => String(ks.data.filter((k) => k.customer === c.id && k.status === 'active').length) },
            { label: 'Since', get: (c) => (c.source === 'config' ? 'configuration file' : dateTime(c.created)) },
            {
              label: 'Actions',
              get: (c) =>
                h(
                  'div.actions',
                  h('button.small', { type: 'button', disabled: c.source === 'config', 'aria-label': `Limits of ${c.id}`, on: { click: () => editLimits(`/admin/customers/${enc(c.id)}/limits`, `Limits of customer ${c.id}`, c.limits, refresh) } }, 'Limits'),
                  h('a.button.small', { href: `#usage/${enc(c.id)}`, 'aria-label': `Usage of ${c.id}` }, 'Usage'),
                ),
            },
          ],
          cs.data,
          { empty: 'No customer yet.' },
        ),
      );
      fill(
        keyBox,
        table(
          [
            { label: 'Key id', get: (k) => h('code', k.id) },
            { label: 'Customer', get: (k) => k.customer },
            { label: 'Name', get: (k) => k.name || '—' },
            { label: 'Status', get: (k) => h('span', { class: `badge ${k.status}` }, k.status) },
            { label: 'Models', get: (k) => (k.models ? k.models.join(', ') : 'any') },
            { label: 'Limits', get: (k) => limitsText(k.limits) },
            { label: 'Created', get: (k) => (k.source === 'config' ? 'configuration file' : dateTime(k.created)) },
            { label: 'Actions', get: (k) => keyActions(k, refresh, showSecret) },
          ],
          ks.data,
          { empty: 'No key yet.' },
        ),
      );
    });
  }
  await refresh();
  return undefined;
}

function keyActions(k, refresh, showSecret) {
  const stored = k.source !== 'config';
  const active = k.status === 'active';
  return h(
    'div.actions',
    h(
      'button.small',
      {
        type: 'button',
        disabled: !stored || k.status === 'revoked',
        'aria-label': `Rotate ${k.id}`,
        on: {
          click: async () => {
            if (!(await confirmAction(`Rotate ${k.id}?`, 'A new secret is made and shown once; the old one stops working at once.', 'Rotate'))) return;
            const msg = document.querySelector('#page-customers > .notice');
            const nk = await guard(msg, () => api(`/admin/keys/${enc(k.id)}/rotate`, { method: 'POST', body: {} }));
            if (nk) showSecret(nk, 'Rotated');
            refresh();
          },
        },
      },
      'Rotate',
    ),
    h('button.small', { type: 'button', disabled: !stored, 'aria-label': `Limits of ${k.id}`, on: { click: () => editLimits(`/admin/keys/${enc(k.id)}/limits`, `Limits of key ${k.id}`, k.limits, refresh) } }, 'Limits'),
    h(
      'button.small.danger',
      {
        type: 'button',
        disabled: !stored || !active,
        'aria-label': `Revoke ${k.id}`,
        on: {
          click: async () => {
            if (!(await confirmAction(`Revoke ${k.id}?`, `Requests with this key of ${k.customer} are refused from now on. This cannot be undone.`, 'Revoke'))) return;
            const msg = document.querySelector('#page-customers > .notice');
            await guard(msg, () => api(`/admin/keys/${enc(k.id)}/revoke`, { method: 'POST', body: {} }));
            refresh();
          },
        },
      },
      'Revoke',
    ),
  );
}

async function editLimits(path, title, current, refresh) {
  const fs = limitsFieldset(current);
  const out = h('p.notice', { hidden: true });
  for (;;) {
    const v = await dialog(title, h('div', fs, out), [
      { label: 'Cancel', value: false },
      { label: 'Save limits', value: true, primary: true },
    ]);
    if (v !== true) return;
    if (await guard(out, () => api(path, { method: 'PUT', body: fs.read() }))) break;
  }
  refresh();
}

function customerForm(refresh) {
  const id = h('input', { type: 'text', name: 'id', pattern: '[A-Za-z0-9._\\-]{1,64}', autocomplete: 'off' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const limits = limitsFieldset({});
  const out = h('p.notice', { hidden: true });
  const form = h(
    'form',
    { id: 'customer-form', 'aria-label': 'New customer' },
    h('div.form-grid', field('Id', id, 'Letters, digits, . _ - (made for you if empty).'), field('Name', name)),
    h('details', h('summary', 'Limits'), limits),
    out,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Create customer')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await guard(out, async () => {
      const body = { limits: limits.read() };
      if (id.value.trim()) body.id = id.value.trim();
      if (name.value.trim()) body.name = name.value.trim();
      const c = await api('/admin/customers', { method: 'POST', body });
      notice(out, `Customer ${c.id} created.`, 'ok');
      form.reset();
      refresh();
    });
  });
  return form;
}

function keyFormEl(refresh, showSecret) {
  const customer = h('select', { name: 'customer', required: true });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const models = h('input', { type: 'text', name: 'models', placeholder: 'empty: every model the customer may use' });
  const expires = h('input', { type: 'date', name: 'expires' });
  const limits = limitsFieldset({});
  const out = h('p.notice', { hidden: true });
  const form = h(
    'form',
    { id: 'key-form', 'aria-label': 'New API key' },
    h('div.form-grid', field('Customer', customer), field('Name', name, 'What the key is for (e.g. ci, production).')),
    h('div.form-grid', field('Only these models (optional)', models, 'Comma-separated model names.'), field('Expires (optional)', expires)),
    h('details', h('summary', 'Limits'), limits),
    out,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Create key')),
  );
  form.setCustomers = (list) => {
    const keep = customer.value;
    fill(customer, list.map((c) => h('option', { value: c.id }, c.name && c.name !== c.id ? `${c.id} (${c.name})` : c.id)));
    if (list.some((c) => c.id === keep)) customer.value = keep;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await guard(out, async () => {
      if (!customer.value) throw new Error('Create a customer first: a key belongs to one.');
      const body = { customer: customer.value, limits: limits.read() };
      if (name.value.trim()) body.name = name.value.trim();
      const ms = models.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (ms.length) body.models = ms;
      if (expires.value) body.expires = `${expires.value}T00:00:00Z`;
      const k = await api('/admin/keys', { method: 'POST', body });
      form.reset();
      showSecret(k, 'New');
      refresh();
    });
  });
  return form;
}
