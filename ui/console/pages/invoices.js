// invoices.js — invoices per month and customer from the billing plugin: computed from the ledger
// (GET /admin/invoices?month=), issued ones (?status=issued, issued by POST /admin/invoices/generate,
// each as CSV and as the gateway's printable HTML page), a CSV download and print of the month's view.
import { api, optional, qs, enc } from '../assets/api.js';
import { h, fill, field, table, notice, guard, confirmAction, num, dateTime } from '../assets/ui.js';

const thisMonth = () => new Date().toISOString().slice(0, 7);

export async function invoicesPage(page) {
  const msg = h('p.notice', { hidden: true });
  const month = h('input', { type: 'month', name: 'month', value: thisMonth(), required: true });
  const customer = h('select', { name: 'customer' }, h('option', { value: '' }, 'every customer'));
  const csv = h('button', { type: 'button', id: 'invoice-csv' }, 'Download CSV');
  const print = h('button', { type: 'button' }, 'Print');
  const issue = h('button', { type: 'button', id: 'invoice-issue' }, 'Issue invoices for this month');
  const form = h(
    'form.toolbar',
    { id: 'invoice-form', 'aria-label': 'Invoice month and customer' },
    field('Month', month),
    field('Customer', customer),
    h('button.primary', { type: 'submit' }, 'Show'),
    csv,
    print,
    issue,
  );
  const out = h('div', { id: 'invoices-out' });
  const issued = h('div', { id: 'invoices-issued' });
  page.append(form, msg, out, issued);

  const cs = await optional('/admin/customers').catch(() => null);
  for (const c of cs?.data || []) customer.append(h('option', { value: c.id }, c.id));

  const params = () => ({ month: month.value, customer: customer.value });

  async function show() {
    await guard(msg, async () => {
      const inv = await optional(`/admin/invoices${qs(params())}`);
      if (inv === null) {
        fill(out, h('p.notice.unavailable', 'Invoices are not available: they need the billing plugin (plugins.load: [..., billing]).'));
        csv.disabled = print.disabled = issue.disabled = true;
        return;
      }
      const list = inv.object === 'list' ? inv.data : [inv];
      fill(out, list.length ? list.map(invoiceCard) : h('p.empty', 'No invoice for this month.'));
      // the billing plugin that answered above lists issued invoices too (bl_invoice_route.c)
      const iss = await api(`/admin/invoices${qs({ ...params(), status: 'issued' })}`);
      fill(
        issued,
        h('h2', 'Issued invoices'),
        table(
          [
            { label: 'Number', get: (i) => i.number },
            { label: 'Customer', get: (i) => i.customer },
            { label: 'Month', get: (i) => i.month },
            { label: 'Issued', get: (i) => dateTime(i.issued_at) },
            { label: 'Total', num: true, get: (i) => `${i.total} ${i.currency}` },
            {
              label: 'Files',
              get: (i) =>
                h(
                  'div.actions',
                  h('button.small', { type: 'button', 'aria-label': `CSV of ${i.number}`, on: { click: () => download(`/admin/invoices/${enc(i.number)}?format=csv`, `${i.number}.csv`, msg) } }, 'CSV'),
                  // markup only, sent with its own CSP (default-src 'none'): opened as it is, printed from there
                  h('a.button.small', { href: `/admin/invoices/${enc(i.number)}?format=html`, target: '_blank', rel: 'noopener', 'aria-label': `Printable page of ${i.number}` }, 'Printable page'),
                ),
            },
          ],
          iss.data,
          { empty: 'None issued for this month.' },
        ),
      );
    });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    show();
  });
  csv.addEventListener('click', () => download(`/admin/invoices${qs({ ...params(), format: 'csv' })}`, `invoices-${month.value}${customer.value ? `-${customer.value}` : ''}.csv`, msg));
  print.addEventListener('click', () => window.print());
  issue.addEventListener('click', async () => {
    const who = customer.value || 'every customer';
    if (!(await confirmAction(`Issue invoices for ${month.value}?`, `Numbered invoices are issued for ${who}; an issued invoice does not change afterwards.`, 'Issue'))) return;
    await guard(msg, async () => {
      const body = { month: month.value, dry_run: 'none' };
      if (customer.value) body.customer = customer.value;
      const r = await api('/admin/invoices/generate', { method: 'POST', body });
      const probs = (r.problems || []).map((p) => p.message).join('; ');
      await show(); // first: it clears the notice
      notice(msg, `${(r.invoices || []).length} invoice(s) issued for ${r.month}.${probs ? ` Problems: ${probs}` : ''}`, probs ? 'error' : 'ok');
    });
  });
  await show();
  return undefined;
}

/** An invoice's total: a decimal string, or the computed invoice's sums object. */
const totalOf = (i) => (i.total && typeof i.total === 'object' ? i.total.cost : i.total);

function invoiceCard(i) {
  const cur = i.currency;
  return h(
    'article.card.invoice',
    { dataset: { customer: i.customer } },
    h(
      'div.invoice-head',
      h('h2', `${i.number || i.id || 'Invoice'} · ${i.customer}`),
      h('p', `${i.month} · ${cur}${i.status ? ` · ${i.status}` : ''}`),
    ),
    table(
      [
        { label: 'Model', get: (l) => l.model },
        { label: 'Requests', num: true, get: (l) => num(l.requests) },
        { label: 'Prompt tokens', num: true, get: (l) => num(l.prompt_tokens) },
        { label: 'Cached', num: true, get: (l) => num(l.cached_tokens) },
        { label: 'Completion tokens', num: true, get: (l) => num(l.completion_tokens) },
        { label: 'Audio s', num: true, get: (l) => l.audio_seconds ?? '—' },
        { label: `Cost (${cur})`, num: true, get: (l) => l.cost },
      ],
      i.lines || [],
      { empty: 'No usage this month.' },
    ),
    h('p.total', h('strong', `Total: ${totalOf(i)} ${cur}`)),
  );
}

/** Fetches a file with the session (no key in any URL) and saves it. */
async function download(path, filename, msg) {
  await guard(msg, async () => {
    const r = await api(path, { raw: true });
    const url = URL.createObjectURL(await r.blob());
    const a = h('a', { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}
