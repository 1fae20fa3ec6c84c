// usage-view.js — how usage sums look, in the console and the portal alike: the metrics a chart
// can show, the sums' table columns and the totals boxes. Sums come as the billing plugin writes
// them: integer counts, audio seconds and cost as decimal strings (shown as sent, never rounded).
import { h, field, num, daysAgo, dayRange, isoDay } from './ui.js';

export const METRICS = {
  tokens: { label: 'Tokens', value: (r) => (r.prompt_tokens || 0) + (r.completion_tokens || 0) },
  cost: { label: 'Cost', value: (r) => Number(r.cost || 0) }, // plotted as a float; tables keep the exact string
  requests: { label: 'Requests', value: (r) => r.requests || 0 },
};

/** The sum rows' columns, shared with the portal. */
export function sumColumns(currency) {
  return [
    { label: 'Requests', num: true, get: (r) => num(r.requests) },
    { label: 'Prompt tokens', num: true, get: (r) => num(r.prompt_tokens) },
    { label: 'Cached', num: true, get: (r) => num(r.cached_tokens) },
    { label: 'Completion tokens', num: true, get: (r) => num(r.completion_tokens) },
    { label: 'Audio s', num: true, get: (r) => r.audio_seconds ?? '—' },
    { label: `Cost (${currency})`, num: true, get: (r) => r.cost ?? '—' },
  ];
}

/** The four totals as stat boxes. */
export function totals(t, currency) {
  const stat = (label, value) => h('div.stat', h('span.label', label), h('span.value', value));
  return h(
    'div.stats',
    stat('Requests', num(t.requests)),
    stat('Prompt tokens', num(t.prompt_tokens)),
    stat('Completion tokens', num(t.completion_tokens)),
    stat(`Cost (${currency})`, t.cost ?? '—'),
  );
}


/**
 * The filters of a usage page: From, To (inclusive), the given extra fields, Show (the metric) and
 * a submit button, in f.form. f.range() is {start, end} for the API (end exclusive: the next day);
 * f.days() every day shown; f.metric() the chosen metric; f.format(currency) how it is written.
 */
export function usageFilters(id, label, extra = []) {
  const start = h('input', { type: 'date', name: 'start', value: daysAgo(13) });
  const end = h('input', { type: 'date', name: 'end', value: isoDay(new Date()) });
  const metric = h('select', { name: 'metric' }, Object.entries(METRICS).map(([k, m]) => h('option', { value: k }, m.label)));
  const form = h(
    'form.toolbar',
    { id, 'aria-label': label },
    field('From', start),
    field('To (inclusive)', end),
    extra,
    field('Show', metric),
    h('button.primary', { type: 'submit' }, 'Show'),
  );
  return {
    form,
    range: () => ({ start: start.value, end: isoDay(new Date(Date.parse(`${end.value}T00:00:00Z`) + 86400000)) }),
    days: () => dayRange(start.value, end.value),
    metric: () => METRICS[metric.value],
    format: (cur) => (metric.value === 'cost' ? (v) => (v ? `${v} ${cur}` : '0') : num),
    describe: () => `${start.value} to ${end.value}`,
    onShow(fn) {
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        fn();
      });
      metric.addEventListener('change', fn);
    },
  };
}
