// models.js — the models page: live state (polled), create from a form or a pasted KubeAI manifest,
// edit, delete, publish to customers with limits. docs/console-api.md, "Models".
import { api, optional, enc } from '../assets/api.js';
import { h, fill, field, table, notice, guard, dialog, confirmAction, tabs, num } from '../assets/ui.js';
import { chart } from '../assets/charts.js';
import { limitsFieldset, limitsText } from './limits.js';

const POLL_MS = 3000;
const HISTORY = 40; // polls kept for the tokens/s chart
const FEATURES = ['TextGeneration', 'TextEmbedding', 'Reranking', 'SpeechToText'];
const ENGINES = ['VLLM', 'OLlama', 'Infinity', 'FasterWhisper'];

export async function modelsPage(page) {
  const msg = h('p.notice', { hidden: true });
  const listBox = h('div', h('p.empty', 'Loading…'));
  const rateFig = h('div');
  const createBox = h('div.card', h('h2', 'Add a model'), createForms(() => refresh()));
  page.append(msg, listBox, rateFig, createBox);

  // tokens/s: the difference of completion_tokens between two polls over the time between them
  let prev = null;
  const history = { labels: [], series: new Map() };
  let fig = null;

  async function refresh() {
    await guard(msg, async () => {
      const list = await api('/admin/models');
      const now = Date.now();
      const rates = new Map();
      for (const m of list.data) {
        const p = prev?.tokens.get(m.id);
        const t = m.state?.completion_tokens ?? 0;
        rates.set(m.id, p !== undefined && now > prev.at ? Math.max(0, ((t - p) * 1000) / (now - prev.at)) : null);
      }
      prev = { at: now, tokens: new Map(list.data.map((m) => [m.id, m.state?.completion_tokens ?? 0])) };
      // the table is rebuilt on every poll: a keyboard user's focus goes back to the same control
      const focused = listBox.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
      fill(listBox, modelsTable(list, rates, refresh));
      if (focused) [...listBox.querySelectorAll('[aria-label]')].find((e) => e.getAttribute('aria-label') === focused)?.focus();
      if (list.publications?.length) {
        listBox.append(
          h('h2', 'Prepared publications (models not configured yet)'),
          table(
            [
              { label: 'Model', get: (p) => p.id },
              { label: 'Customers', get: (p) => (p.customers || []).map((c) => c.customer).join(', ') || 'nobody (hidden)' },
            ],
            list.publications,
          ),
        );
      }
      // the chart of tokens/s over the last polls
      history.labels.push(new Date(now).toISOString().slice(11, 19));
      for (const m of list.data) {
        if (!history.series.has(m.id)) history.series.set(m.id, new Array(history.labels.length - 1).fill(null));
      }
      for (const [id, arr] of history.series) arr.push(rates.has(id) ? rates.get(id) : null);
      if (history.labels.length > HISTORY) {
        history.labels.shift();
        for (const arr of history.series.values()) arr.shift();
      }
      const series = [...history.series].map(([label, data]) => ({ label, data }));
      if (fig?.chart && fig.chart.data.datasets.length === series.length) {
        fig.chart.data.labels = history.labels;
        series.forEach((s, i) => (fig.chart.data.datasets[i].data = s.data));
        fig.chart.update('none');
      } else {
        fig?.chart?.destroy();
        fig = chart('models-rate', 'Completion tokens per second (since this page opened)', 'line', history.labels, series, {
          yLabel: 'tokens/s',
          format: (v) => (v === null || v === undefined ? '—' : v.toFixed(1)),
        });
        fill(rateFig, fig);
      }
    });
  }

  await refresh();
  const timer = setInterval(() => {
    // no refresh under an open dialog: the table would be rebuilt under the person's eyes
    if (!document.querySelector('dialog[open]')) refresh();
  }, POLL_MS);
  return () => {
    clearInterval(timer);
    fig?.chart?.destroy();
  };
}

function health(ok) {
  return h('span', { class: `dot ${ok === true ? 'up' : ok === false ? 'down' : 'unknown'}`, 'aria-hidden': 'true' });
}

function modelsTable(list, rates, refresh) {
  return h(
    'div',
    h('p.hint', `Generation ${list.generation}: ${list.data.length} model${list.data.length === 1 ? '' : 's'}. Refreshed every ${POLL_MS / 1000} s.`),
    table(
      [
        {
          label: 'Model',
          get: (m) =>
            h(
              'div',
              h('strong', m.id),
              h('br'),
              m.source === 'runtime' ? h('span.badge.runtime', 'runtime') : h('span.badge', { title: m.source }, `file ${String(m.file).split('/').pop()}:${m.line}`),
              ' ',
              h('small', `${m.engine} · ${(m.features || []).join(', ')}`),
            ),
        },
        {
          label: 'Endpoints',
          get: (m) =>
            (m.state?.endpoints || []).length
              ? h(
                  'ul.list',
                  m.state.endpoints.map((e) =>
                    h('li', health(e.healthy), `${e.url} `, h('small', `${e.healthy ? 'healthy' : 'unhealthy'}, ${num(e.in_flight)} in flight`)),
                  ),
                )
              : h('span.empty', 'none'),
        },
        {
          label: 'Replicas',
          get: (m) =>
            (m.state?.replicas || []).length
              ? h(
                  'ul.list',
                  m.state.replicas.map((r) =>
                    h(
                      'li',
                      health(r.healthy),
                      `#${r.id} `,
                      h('span', { class: `badge ${r.state}` }, r.state),
                      ` devices ${(r.devices || []).join(',') || '—'} · ${num(r.in_flight)} in flight`,
                    ),
                  ),
                )
              : h('span.empty', 'static'),
        },
        { label: 'In flight', num: true, get: (m) => `${num(m.state?.in_flight)}${m.state?.queued ? ` (+${num(m.state.queued)} queued)` : ''}` },
        { label: 'Requests', num: true, get: (m) => num(m.state?.requests) },
        { label: 'Tokens/s', num: true, get: (m) => (rates.get(m.id) === null ? '…' : rates.get(m.id).toFixed(1)) },
        {
          label: 'Customers',
          get: (m) =>
            m.published === undefined
              ? h('span.empty', 'no auth plugin')
              : m.published
                ? (m.customers || []).length
                  ? (m.customers || []).map((c) => c.customer).join(', ')
                  : 'hidden from every key'
                : 'every key',
        },
        { label: 'Actions', get: (m) => modelActions(m, refresh) },
      ],
      list.data,
      { empty: 'No model yet: add one below.' },
    ),
  );
}

function modelActions(m, refresh) {
  const runtime = m.source === 'runtime';
  const why = runtime ? null : `Defined in ${m.file}:${m.line}: change it there (then SIGHUP).`;
  return h(
    'div.actions',
    h('button.small', { type: 'button', disabled: !runtime, title: why, 'aria-label': `Edit ${m.id}`, on: { click: () => editModel(m, refresh) } }, 'Edit'),
    h('button.small', { type: 'button', 'aria-label': `Publish ${m.id}`, on: { click: () => publishModel(m, refresh) } }, 'Publish'),
    h('a.button.small', { href: `#playground/${enc(m.id)}`, 'aria-label': `Try ${m.id} in the playground` }, 'Try'),
    h(
      'button.small.danger',
      {
        type: 'button',
        disabled: !runtime,
        title: why,
        'aria-label': `Delete ${m.id}`,
        on: {
          click: async () => {
            if (!(await confirmAction(`Delete ${m.id}?`, `Requests for ${m.id} will be refused once the new generation is active; those in flight finish.`))) return;
            const out = h('p.notice', { hidden: true });
            document.querySelector('#page-models')?.prepend(out);
            await guard(out, () => api(`/admin/models/${enc(m.id)}`, { method: 'DELETE' }));
            refresh();
          },
        },
      },
      'Delete',
    ),
  );
}

/** The two ways to add a model: a form, or a pasted KubeAI manifest (YAML or JSON). */
function createForms(refresh) {
  return tabs([
    { id: 'create-form', label: 'Form', panel: modelForm(refresh) },
    { id: 'create-manifest', label: 'KubeAI manifest', panel: manifestForm(refresh) },
  ]);
}

function modelForm(refresh) {
  const name = h('input', { type: 'text', name: 'name', required: true, pattern: '[A-Za-z0-9_\\-][A-Za-z0-9._\\-]{0,127}', autocomplete: 'off' });
  const engine = h('input', { type: 'text', name: 'engine', value: 'VLLM', list: 'engines', required: true });
  const engines = h('datalist', { id: 'engines' }, ENGINES.map((e) => h('option', { value: e })));
  const features = FEATURES.map((f) => h('input', { type: 'checkbox', name: 'features', value: f, checked: f === 'TextGeneration' ? 'checked' : false }));
  const endpoints = h('textarea', { name: 'endpoints', rows: '3', placeholder: 'http://127.0.0.1:8000' });
  const url = h('input', { type: 'text', name: 'url', placeholder: 'hf://Qwen/Qwen2.5-7B-Instruct' });
  const prompt = h('input', { type: 'text', name: 'prompt_price', inputmode: 'decimal', placeholder: '0.0000002' });
  const completion = h('input', { type: 'text', name: 'completion_price', inputmode: 'decimal', placeholder: '0.0000006' });
  const extra = h('textarea.code', { name: 'extra', rows: '4', placeholder: '{"args": ["--max-model-len=8192"]}' });
  const out = h('p.notice', { hidden: true });
  const form = h(
    'form',
    { id: 'model-form', 'aria-label': 'Add a model from a form' },
    h(
      'div.form-grid',
      field('Name', name, 'What clients send as "model".'),
      field('Engine', engine, 'VLLM, OLlama, Infinity, FasterWhisper (its plugin must be loaded).'),
      engines,
    ),
    h('fieldset', h('legend', 'Features'), h('div.checks', features.map((c) => h('label', c, c.value)))),
    field('Endpoints', endpoints, 'Engines already running, one URL a line. Leave empty when the scheduler starts replicas (give the URL and the scheduler fields).'),
    h(
      'div.form-grid',
      field('Model URL (optional)', url),
      field('Price per prompt token (optional)', prompt, 'A decimal string, in the ledger currency.'),
      field('Price per completion token (optional)', completion),
    ),
    h('details', h('summary', 'More fields (JSON)'), field('Other models[] fields, merged in', extra)),
    out,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Add model')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await guard(out, async () => {
      const body = {
        engine: engine.value.trim(),
        features: features.filter((c) => c.checked).map((c) => c.value),
      };
      const eps = endpoints.value.split(/\s+/).filter(Boolean);
      if (eps.length) body.endpoints = eps;
      if (url.value.trim()) body.url = url.value.trim();
      const pricing = {};
      if (prompt.value.trim()) pricing.prompt = prompt.value.trim();
      if (completion.value.trim()) pricing.completion = completion.value.trim();
      if (Object.keys(pricing).length) body.pricing = pricing;
      if (extra.value.trim()) {
        let more;
        try {
          more = JSON.parse(extra.value);
        } catch (ex) {
          throw new Error(`More fields: not JSON (${ex.message})`);
        }
        Object.assign(body, more);
      }
      const m = await api(`/admin/models/${enc(name.value.trim())}`, { method: 'PUT', body });
      notice(out, `Model ${m.id} is served (generation ${m.generation}).`, 'ok');
      form.reset();
      refresh();
    });
  });
  return form;
}

function manifestForm(refresh) {
  const text = h('textarea.code', {
    name: 'manifest',
    spellcheck: 'false',
    placeholder: 'apiVersion: kubeai.org/v1\nkind: Model\nmetadata:\n  name: qwen\nspec:\n  url: hf://Qwen/Qwen2.5-7B-Instruct\n  engine: VLLM\n  features: [TextGeneration]',
  });
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' });
  // the name is the manifest's metadata.name: filled in while the manifest is pasted
  text.addEventListener('input', () => {
    const m = /^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+name:\s*["']?([A-Za-z0-9._-]+)/m.exec(text.value) || /"metadata"\s*:\s*\{[^}]*"name"\s*:\s*"([^"]+)"/.exec(text.value);
    if (m) name.value = m[1];
  });
  const out = h('p.notice', { hidden: true });
  const form = h(
    'form',
    { id: 'manifest-form', 'aria-label': 'Add a model from a KubeAI manifest' },
    field('KubeAI Model manifest (YAML or JSON)', text, 'As kubectl get model -o yaml prints it; the openrouter.ai/json annotation gives the prices.'),
    field('Name', name, 'metadata.name: read from the manifest.'),
    out,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Apply manifest')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await guard(out, async () => {
      const type = /^\s*[{[]/.test(text.value) ? 'application/json' : 'application/yaml';
      const m = await api(`/admin/models/${enc(name.value.trim())}`, { method: 'PUT', body: text.value, type });
      notice(out, `Model ${m.id} is served (generation ${m.generation}).`, 'ok');
      form.reset();
      refresh();
    });
  });
  return form;
}

/** Edit: the model's config as JSON (what GET shows can be sent back as the PUT body). */
async function editModel(m, refresh) {
  const text = h('textarea.code', { spellcheck: 'false' });
  text.value = JSON.stringify(m.config, null, 2);
  const out = h('p.notice', { hidden: true });
  const body = h('div', field(`${m.id}: the models[] fields, as JSON`, text), out);
  // the dialog stays open until the change is accepted or cancelled
  for (;;) {
    const v = await dialog(`Edit ${m.id}`, body, [
      { label: 'Cancel', value: false },
      { label: 'Save', value: true, primary: true },
    ]);
    if (v !== true) return;
    let cfg;
    try {
      cfg = JSON.parse(text.value);
    } catch (ex) {
      notice(out, `Not JSON: ${ex.message}`);
      continue;
    }
    const ok = await guard(out, () => api(`/admin/models/${enc(m.id)}`, { method: 'PUT', body: cfg }));
    if (ok) break;
  }
  refresh();
}

/** Publish: which customers may use the model, with their limits for it. */
async function publishModel(m, refresh) {
  const out = h('p.notice', { hidden: true });
  const customers = await optional('/admin/customers').catch(() => null);
  if (!customers) {
    await dialog(`Publish ${m.id}`, h('p.notice.unavailable', 'Publishing needs the apikey plugin (plugins.load: [..., apikey]), which this gateway has not loaded.'));
    return;
  }
  const current = new Set((m.customers || []).map((c) => c.customer));
  const boxes = customers.data.map((c) => h('input', { type: 'checkbox', value: c.id, checked: current.has(c.id) }));
  const limits = limitsFieldset({}, 'Limits for this model, per listed customer (empty: none)');
  const body = h(
    'div',
    h('p', m.published ? `Published to: ${[...current].join(', ') || 'nobody (hidden)'}.` : 'Not published: every key may use it.'),
    customers.data.length
      ? h('fieldset', h('legend', 'Customers'), h('div.checks', boxes.map((b) => h('label', b, b.value))))
      : h('p.empty', 'No customer yet: add one under Customers & keys.'),
    limits,
    (m.customers || []).length
      ? h('p.hint', 'Current limits: ', (m.customers || []).map((c) => `${c.customer}: ${limitsText(c.limits)}`).join('; '))
      : null,
    out,
  );
  for (;;) {
    const v = await dialog(`Publish ${m.id}`, body, [
      { label: 'Cancel', value: 'cancel' },
      { label: 'Open to every key', value: 'open' },
      { label: 'Publish to the checked customers', value: 'publish', primary: true },
    ]);
    if (v === 'cancel' || v === null) return;
    const ok = await guard(out, async () => {
      if (v === 'open') return api(`/admin/models/${enc(m.id)}/publish`, { method: 'DELETE' });
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      // customers unchecked now leave the publication; the checked ones get these limits
      for (const c of current) if (!chosen.includes(c)) await api(`/admin/models/${enc(m.id)}/publish/${enc(c)}`, { method: 'DELETE' });
      return api(`/admin/models/${enc(m.id)}/publish`, { method: 'POST', body: { customers: chosen, limits: limits.read() } });
    });
    if (ok) break;
  }
  refresh();
}
