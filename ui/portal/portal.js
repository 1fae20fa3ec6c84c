// portal.js — the customer portal at /portal/, signed in with an API key: the models the key may
// use and their prices, the customer's usage and cost, its rate limits and what is left of them.
// Every call is made as that key (the ig_portal cookie on /v1/me and /v1/me/usage): the
// gateway answers for the key's customer only, so nothing of another customer can reach this page.
import { startApp } from './assets/app.js';
import { api, optional, qs } from './assets/api.js';
import { h, fill, table, guard, num, duration } from './assets/ui.js';
import { chart, destroyCharts } from './assets/charts.js';
import { sumColumns, totals, usageFilters } from './assets/usage-view.js';

/** "0.0000002" per token → "0.2" per million tokens, by moving the decimal point (exact). */
export function perMillion(s) {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(String(s ?? ''));
  if (!m) return String(s);
  const frac = (m[2] || '').padEnd(6, '0');
  const int = `${m[1]}${frac.slice(0, 6)}`.replace(/^0+(?=\d)/, '');
  const rest = frac.slice(6).replace(/0+$/, '');
  return rest ? `${int}.${rest}` : int;
}

const PRICE_NAMES = { prompt: 'prompt', completion: 'completion', input_cache_read: 'cached prompt', request: 'request', audio: 'audio' };

function priceText(p) {
  if (!p) return 'not available';
  const parts = [];
  for (const [k, label] of Object.entries(PRICE_NAMES)) {
    const v = p[k];
    if (v === undefined || v === null || Number(v) === 0) continue;
    if (k === 'request') parts.push(`${v} per request`);
    else if (k === 'audio') parts.push(`${v} per audio second`);
    else parts.push(`${perMillion(v)} per 1M ${label} tokens`);
  }
  return parts.length ? parts.join(', ') : 'free';
}

async function modelsPage(page) {
  const msg = h('p.notice', { hidden: true });
  const out = h('div', { id: 'portal-models' });
  page.append(msg, out);
  await guard(msg, async () => {
    // /v1/me is the core's: every gateway with an auth plugin (the only kind the portal signs in to) has it
    const me = await api('/v1/me');
    const models = me.models || [];
    out.append(
      table(
        [
          { label: 'Model', get: (m) => h('code', m.id) },
          { label: 'Price (per 1M tokens)', get: (m) => priceText(m.prices) },
        ],
        models,
        { empty: 'This key may use no model.' },
      ),
      h('p.hint', 'Call them with this key at ', h('code', `${location.origin}/v1`), ' (the OpenAI API).'),
    );
  });
}

async function limitsPage(page) {
  const msg = h('p.notice', { hidden: true });
  const out = h('div', { id: 'portal-limits' });
  const refreshBtn = h('button', { type: 'button' }, 'Refresh');
  page.append(h('div.actions.toolbar', refreshBtn), msg, out);
  async function refresh() {
    await guard(msg, async () => {
      const me = await api('/v1/me');
      const scope = (l) => ({ key: 'this key', customer: 'your account', model: `model ${l.model}`, key_model: `this key on ${l.model}` })[l.scope] || l.scope;
      const pretty = (n) => n.replace(/_/g, ' ');
      fill(
        out,
        table(
          [
            { label: 'Applies to', get: scope },
            { label: 'Limit', get: (l) => `${num(l.limit)} ${pretty(l.name)}` },
            {
              label: 'Left now',
              // null with the ratelimit plugin's Redis backend: the counters are in Redis, which /v1/me
              // does not wait for (plugins/ratelimit/README.md); each answer's headers say what is left
              get: (l) =>
                l.remaining === null || l.remaining === undefined
                  ? h('small.unknown', 'not known here: see the x-ratelimit-remaining-* headers of each answer')
                  : h(
                      'div',
                      h('meter', { min: '0', max: String(l.limit), value: String(l.remaining), low: String(l.limit * 0.2), high: String(l.limit * 0.5), optimum: String(l.limit), 'aria-label': `${l.remaining} of ${l.limit} left` }),
                      h('small', `${num(l.remaining)} of ${num(l.limit)}`),
                    ),
            },
            { label: 'Resets in', num: true, get: (l) => (l.reset_seconds === null || l.reset_seconds === undefined ? '—' : duration(l.reset_seconds)) },
          ],
          me.limits || [],
          { empty: 'No rate limit applies to this key.' },
        ),
      );
    });
  }
  refreshBtn.addEventListener('click', refresh);
  await refresh();
}

async function usagePage(page) {
  const msg = h('p.notice', { hidden: true });
  const form = usageFilters('portal-usage-form', 'Usage range');
  const out = h('div', { id: 'portal-usage' });
  page.append(form.form, msg, out);
  async function show() {
    await guard(msg, async () => {
      const base = form.range();
      const byDay = await optional(`/v1/me/usage${qs({ ...base, group_by: 'day' })}`);
      destroyCharts(out);
      if (byDay === null) {
        // /v1/me/usage is the billing plugin's route
        fill(out, h('p.notice.unavailable', 'Usage is not available: this gateway does not load the billing plugin.'));
        return;
      }
      const byModel = await api(`/v1/me/usage${qs({ ...base, group_by: 'model' })}`);
      const M = form.metric();
      const cur = byDay.currency;
      const fmt = form.format(cur);
      const days = form.days();
      fill(
        out,
        h('p', `Usage of ${byDay.customer}, ${form.describe()} (UTC).`),
        totals(byDay.total || {}, cur),
        h(
          'div.grid',
          chart('portal-by-day', `${M.label} per day`, 'bar', days, [{ label: M.label, data: days.map((d) => M.value(byDay.data.find((r) => r.day === d) || {})) }], { format: fmt }),
          chart('portal-by-model', `${M.label} per model`, 'bar', byModel.data.map((r) => r.model), [{ label: M.label, data: byModel.data.map(M.value) }], { format: fmt }),
        ),
        h('h2', 'Per day'),
        table([{ label: 'Day', get: (r) => r.day }, ...sumColumns(cur)], byDay.data, { empty: 'No usage in this range.' }),
        h('h2', 'Per model'),
        table([{ label: 'Model', get: (r) => r.model }, ...sumColumns(cur)], byModel.data, { empty: 'No usage in this range.' }),
      );
    });
  }
  form.onShow(show);
  await show();
  return () => destroyCharts(out);
}

startApp({
  kind: 'portal',
  title: 'infergate portal',
  keyLabel: 'API key',
  keyHint: 'The key you call the API with. It is checked by the gateway and kept only in its memory for this session.',
  pages: [
    { id: 'models', label: 'Models & prices', render: modelsPage },
    { id: 'usage', label: 'Usage', render: usagePage },
    { id: 'limits', label: 'Rate limits', render: limitsPage },
  ],
  whoami: (s) => `${s.customer}${s.key_id ? ` · key ${s.key_id}` : ''}`,
});
