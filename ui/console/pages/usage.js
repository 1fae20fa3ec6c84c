// usage.js — usage and cost from the billing plugin's ledger (GET /admin/usage): charts per day (by
// model), per model and per customer, in requests, tokens or cost, with the exact sums in tables.
import { api, optional, qs } from '../assets/api.js';
import { h, fill, field, table, guard } from '../assets/ui.js';
import { chart, destroyCharts } from '../assets/charts.js';
import { sumColumns, totals, usageFilters } from '../assets/usage-view.js';

export async function usagePage(page) {
  const msg = h('p.notice', { hidden: true });
  const customer = h('select', { name: 'customer' }, h('option', { value: '' }, 'every customer'));
  const model = h('select', { name: 'model' }, h('option', { value: '' }, 'every model'));
  const form = usageFilters('usage-form', 'Usage filters', [field('Customer', customer), field('Model', model)]);
  const out = h('div', { id: 'usage-out' });
  page.append(form.form, msg, out);

  const [cs, ms] = await Promise.all([optional('/admin/customers').catch(() => null), api('/admin/models').catch(() => null)]);
  for (const c of cs?.data || []) customer.append(h('option', { value: c.id }, c.id));
  for (const m of ms?.data || []) model.append(h('option', { value: m.id }, m.id));
  const wanted = decodeURIComponent(location.hash.split('/')[1] || '');
  if (wanted) {
    if (![...customer.options].some((o) => o.value === wanted)) customer.append(h('option', { value: wanted }, wanted));
    customer.value = wanted;
  }

  async function show() {
    await guard(msg, async () => {
      const base = { ...form.range(), customer: customer.value, model: model.value };
      const byModel = await optional(`/admin/usage${qs({ ...base, group_by: 'model' })}`);
      destroyCharts(out);
      if (byModel === null) {
        fill(out, h('p.notice.unavailable', 'Usage is not available: it needs the billing plugin (plugins.load: [..., billing]).'));
        return;
      }
      const byKey = await api(`/admin/usage${qs({ ...base, group_by: 'key' })}`);
      // one series a model, per day: a stacked bar a day
      const days = form.days();
      const perDay = await Promise.all(
        byModel.data.map((r) => api(`/admin/usage${qs({ ...base, model: r.model, group_by: 'day' })}`).then((u) => ({ model: r.model, rows: u.data }))),
      );
      const M = form.metric();
      const cur = byModel.currency;
      const fmt = form.format(cur);
      const dayFig = chart(
        'usage-by-day',
        `${M.label} per day, by model`,
        'bar',
        days,
        perDay.map((s) => ({ label: s.model, data: days.map((d) => M.value(s.rows.find((r) => r.day === d) || {})) })),
        { stacked: true, format: fmt },
      );
      const modelFig = chart('usage-by-model', `${M.label} per model`, 'bar', byModel.data.map((r) => r.model), [
        { label: M.label, data: byModel.data.map(M.value) },
      ], { format: fmt });
      const custRows = new Map();
      for (const r of byKey.data) {
        const c = custRows.get(r.customer || '(no customer)') || { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost: 0 };
        c.requests += r.requests;
        c.prompt_tokens += r.prompt_tokens;
        c.completion_tokens += r.completion_tokens;
        c.cost += Number(r.cost);
        custRows.set(r.customer || '(no customer)', c);
      }
      const custFig = chart('usage-by-customer', `${M.label} per customer`, 'bar', [...custRows.keys()], [
        { label: M.label, data: [...custRows.values()].map(M.value) },
      ], { format: fmt });
      fill(
        out,
        totals(byModel.total, cur),
        dayFig,
        h('div.grid', modelFig, custFig),
        h('h2', 'Per model'),
        table([{ label: 'Model', get: (r) => r.model }, ...sumColumns(cur)], byModel.data, { empty: 'No usage in this range.' }),
        h('h2', 'Per customer and key'),
        table([{ label: 'Customer', get: (r) => r.customer || '—' }, { label: 'Key', get: (r) => r.key_id || '—' }, ...sumColumns(cur)], byKey.data, {
          empty: 'No usage in this range.',
        }),
      );
    });
  }
  form.onShow(show);
  await show();
  return () => destroyCharts(out);
}
