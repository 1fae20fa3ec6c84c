// limits.js — the six rate limits as form fields (the apikey plugin's limits object), and as text.
import { h, field, num } from '../assets/ui.js';

export const LIMITS = [
  ['requestsPerMinute', 'Requests / minute'],
  ['requestsPerHour', 'Requests / hour'],
  ['tokensPerMinute', 'Tokens / minute'],
  ['tokensPerHour', 'Tokens / hour'],
  ['burst', 'Burst'],
  ['maxConcurrent', 'Concurrent requests'],
];

/** A fieldset of the six limits (empty = no limit); .read() gives the limits object. */
export function limitsFieldset(current = {}, legend = 'Limits (empty: no limit)') {
  const inputs = {};
  const fs = h(
    'fieldset',
    h('legend', legend),
    h(
      'div.form-grid',
      LIMITS.map(([k, label]) => {
        inputs[k] = h('input', { type: 'number', min: '1', step: '1', name: k, value: current?.[k] ?? '', inputmode: 'numeric' });
        return field(label, inputs[k]);
      }),
    ),
  );
  fs.read = () => {
    const out = {};
    for (const [k] of LIMITS) out[k] = inputs[k].value === '' ? null : Number(inputs[k].value);
    return out;
  };
  return fs;
}

/** "60 requests / minute, 10 concurrent requests", or "no limits". */
export function limitsText(l) {
  const parts = LIMITS.filter(([k]) => l && l[k] !== null && l[k] !== undefined).map(([k, label]) => `${label}: ${num(l[k])}`);
  return parts.length ? parts.join(', ') : 'no limits';
}
