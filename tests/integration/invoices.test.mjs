// Invoice runs (plugins/billing) with the real gateway, ig-sim, the apikey plugin and real clients:
// POST /admin/invoices/generate in its three modes; issued invoices numbered INV-YYYY-000001, 2, ...
// whose totals are exactly the sum of their lines and of the engine's token counts at the listed
// prices; a second run (and a run after a restart) answers the same invoices; a request served
// after the issue (arrived in the issued month, committed late) leaves the issued invoice as it
// was and lands on the next month's; validate reports records of a model without prices; one
// invoice as JSON, CSV and HTML (?format= and Accept); the webhook receives each issued invoice
// once, keyed by its number, and the export folder holds it; the tables refuse changes; unknown
// query parameters are refused on every money route (and /admin/usage honours start_date/end_date);
// a 201 says "201 Created" on the wire; admin calls answered from the writer thread whose clients
// left first do no harm, and under load they answer with every record answered before them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {
  PLUGINS_DIR, SLOW, assertOpenAIError, http as httpReq, model, run, startGateway, startSim, tmpDir, waitFor,
} from './harness.mjs';

const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const ADMIN = 'admin-secret-for-invoice-tests';
const CUSTOMERS = ['acme', 'beta'];
const keyOf = (c) => `sk-${c}-invoices-0123456789`;
const BOUND = SLOW ? 60000 : 20000;
const PRICES = { prompt: '0.000001', completion: '0.000002', request: '0.0001' };

// exact decimal money: strings <-> BigInt of 1e-15 units, as the ledger counts
const SCALE = 15;
function units(s) {
  const [w, f = ''] = s.split('.');
  return BigInt(w) * 10n ** 15n + BigInt((f + '0'.repeat(SCALE)).slice(0, SCALE));
}
function money(u) {
  const w = u / 10n ** 15n;
  const f = (u % 10n ** 15n).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return f ? `${w}.${f}` : `${w}`;
}

/** Keeps every POST (key, parsed body); answers 200. */
async function startWebhook() {
  const got = { posts: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.posts.push({ key: req.headers['idempotency-key'], body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  got.url = `http://127.0.0.1:${server.address().port}/hook`;
  got.invoices = () => got.posts.filter((p) => p.body.object === 'invoice');
  got.close = () => new Promise((r) => server.close(r));
  return got;
}

/** One raw HTTP/1.1 request; resolves the whole answer's text (status line included). */
function rawHttp(port, text) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(text));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('invoice runs', () => {
  let sim;
  let gw;
  let hook;
  const state = path.join(tmpDir(), `invoices-${process.pid}`);
  const exportDir = path.join(state, 'export');
  const sent = { acme: 0, beta: 0 };

  const config = () => ({
    server: { stateDir: state, adminKeys: [sha(ADMIN)] },
    plugins: {
      dir: PLUGINS_DIR,
      load: ['vllm', 'leastload', 'apikey', 'billing'],
      options: {
        apikey: {
          customers: CUSTOMERS.map((id) => ({ id })),
          keys: CUSTOMERS.map((c) => ({ id: `key-${c}`, customer: c, hash: sha(keyOf(c)) })),
        },
        billing: { flushInterval: '20ms', webhookUrl: hook.url, webhookBackoff: '50ms', exportDir },
      },
    },
    models: [model('chat-a', [sim], { pricing: PRICES }), model('chat-free', [sim])],
  });
  const admin = (p, opts = {}) =>
    httpReq(`${gw.url}${p}`, { ...opts, headers: { authorization: `Bearer ${ADMIN}`, ...(opts.headers || {}) } });
  const generate = (body) => admin('/admin/invoices/generate', { method: 'POST', body });
  async function chat(customer, modelName = 'chat-a', maxTokens = 5) {
    const r = await httpReq(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keyOf(customer)}` },
      body: { model: modelName, messages: [{ role: 'user', content: `hi from ${customer}` }], max_tokens: maxTokens, user: customer },
    });
    assert.equal(r.status, 200, r.text);
    sent[customer]++;
    return r.json;
  }
  let month;
  let issued;

  before(async () => {
    sim = await startSim({ models: ['chat-a', 'chat-free'] });
    hook = await startWebhook();
    gw = await startGateway(config());
    for (let i = 0; i < 3; i++) await chat('acme', 'chat-a', 3 + i);
    for (let i = 0; i < 2; i++) await chat('beta', 'chat-a', 4);
    await chat('beta', 'chat-free', 2);
    const days = await admin('/admin/usage?group_by=day');
    assert.equal(days.status, 200, days.text);
    month = days.json.data.at(-1).day.slice(0, 7);
  });

  after(async () => {
    await gw?.checkAliveAndStop();
    await sim?.stop();
    await hook?.close();
  });

  it('unknown query parameters are refused on every money route, start_date/end_date honoured', async () => {
    for (const [p, param] of [
      ['/admin/usage?customer=acme&from=2026-01-01', 'from'],
      ['/admin/usage?start_date=2026-01-01&start=2026-01-01', 'start_date'],
      ['/admin/invoices?month=2026-11&bogus=1', 'bogus'],
      ['/admin/invoices/INV-2026-000001?format=json&x=1', 'x'],
      ['/admin/keys?customer=acme&limit=10', 'limit'],
      ['/admin/customers?x=1', 'x'],
    ]) {
      const r = await admin(p);
      assertOpenAIError(r, 400, { type: 'invalid_request_error', param });
      if (!/start=/.test(p)) assert.equal(r.json.error.code, 'unknown_parameter', p);
    }
    assertOpenAIError(await admin('/admin/usage?customer=a&customer=b'), 400, { param: 'customer', code: 'invalid_value' });
    assertOpenAIError(await admin('/admin/invoices/generate?dry_run=none', { method: 'POST', body: { month } }), 400,
      { param: 'dry_run', code: 'unknown_parameter' });
    assertOpenAIError(await generate({ month, dryRun: 'none' }), 400, { param: 'dryRun', code: 'unknown_parameter' });
    const day = (await admin('/admin/usage?group_by=day')).json.data.at(-1).day;
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);
    const all = (await admin('/admin/usage')).json.total.requests;
    assert.equal(all, 6);
    const within = await admin(`/admin/usage?start_date=${day}&end_date=${next}`);
    assert.equal(within.status, 200, within.text);
    assert.equal(within.json.total.requests, 6);
    assert.equal(within.json.start, day);
    const before = await admin(`/admin/usage?end_date=${day}`);
    assert.equal(before.json.total.requests, 0);
    assertOpenAIError(await admin('/admin/usage?start_date=yesterday'), 400, { param: 'start_date', code: 'invalid_value' });
  });

  it('dry_run all computes the invoices and stores nothing; validate reports a model without prices', async () => {
    const r = await generate({ month, dry_run: 'all' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'invoice.run');
    assert.equal(r.json.dry_run, 'all');
    assert.deepEqual(r.json.invoices.map((i) => [i.customer, i.number, i.status, i.issued_at]),
      [['acme', null, 'draft', null], ['beta', null, 'draft', null]]);
    const sims = (await (await fetch(`${sim.url}/sim/usage`)).json()).users;
    for (const inv of r.json.invoices) {
      // the lines add up to the total; the tokens are the engine's; the cost is the listed prices' exactly
      assert.equal(money(inv.lines.reduce((s, l) => s + units(l.cost), 0n)), inv.total);
      const a = inv.lines.find((l) => l.model === 'chat-a');
      const eng = sims[inv.customer];
      const prompt = inv.lines.reduce((s, l) => s + l.prompt_tokens, 0);
      const completion = inv.lines.reduce((s, l) => s + l.completion_tokens, 0);
      assert.equal(prompt, eng.prompt_tokens, inv.customer);
      assert.equal(completion, eng.completion_tokens, inv.customer);
      assert.equal(inv.lines.reduce((s, l) => s + l.requests, 0), sent[inv.customer]);
      const want = BigInt(a.prompt_tokens) * units(PRICES.prompt) + BigInt(a.completion_tokens) * units(PRICES.completion)
        + BigInt(a.requests) * units(PRICES.request);
      assert.equal(a.cost, money(want));
      assert.notEqual(inv.total, '0');
    }
    assert.deepEqual(r.json.invoices.find((i) => i.customer === 'beta').lines.map((l) => [l.model, l.cost]).find((l) => l[0] === 'chat-free'),
      ['chat-free', '0']);
    assert.deepEqual(r.json.problems, []);
    const listed = await admin(`/admin/invoices?status=issued&month=${month}`);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.data, []);

    const v = await generate({ month, dry_run: 'validate' });
    assert.equal(v.status, 200, v.text);
    const p = v.json.problems.filter((x) => x.model === 'chat-free');
    assert.equal(p.length, 1, JSON.stringify(v.json.problems));
    assert.equal(p[0].customer, 'beta');
    assert.match(p[0].message, /no prices/);
    assert.deepEqual((await admin(`/admin/invoices?status=issued`)).json.data, []);
  });

  it('dry_run none issues numbered invoices: 201 Created on the wire, to the webhook and the export folder', async () => {
    const draft = (await generate({ month, dry_run: 'all' })).json.invoices;
    const body = JSON.stringify({ month, dry_run: 'none' });
    const raw = await rawHttp(gw.port, `POST /admin/invoices/generate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    assert.match(raw, /^HTTP\/1\.1 201 Created\r\n/, raw.slice(0, 200));
    const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    const run1 = JSON.parse(/transfer-encoding: chunked/i.test(raw) ? text.replace(/^[0-9a-f]+\r\n|\r\n[0-9a-f]+\r\n/gi, '') : text);
    issued = run1.invoices;
    const year = new Date().getUTCFullYear();
    assert.deepEqual(issued.map((i) => [i.customer, i.number, i.status]),
      [['acme', `INV-${year}-000001`, 'issued'], ['beta', `INV-${year}-000002`, 'issued']]);
    for (const [i, inv] of issued.entries()) {
      assert.equal(typeof inv.issued_at, 'number');
      assert.deepEqual({ ...inv, number: null, status: 'draft', issued_at: null }, draft[i], 'issued = the draft');
    }
    // the webhook gets each once, keyed by its number, the same JSON
    await waitFor(() => hook.invoices().length >= 2, { timeoutMs: BOUND, what: 'the invoices at the webhook' });
    assert.deepEqual(hook.invoices().map((p) => p.key), issued.map((i) => i.number));
    assert.deepEqual(hook.invoices().map((p) => p.body), issued);
    for (const inv of issued) {
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(exportDir, `invoice-${inv.number}.json`), 'utf8')), inv);
      assert.match(fs.readFileSync(path.join(exportDir, `invoice-${inv.number}.csv`), 'utf8'), new RegExp(`^invoice,customer,month,.*\\n${inv.number},`));
    }
    const listed = await admin(`/admin/invoices?status=issued&month=${month}`);
    assert.deepEqual(listed.json.data, issued);
  });

  it('one invoice as JSON, CSV and printable HTML; unknown numbers 404; the tables refuse changes', async () => {
    const inv = issued[0];
    const j = await admin(`/admin/invoices/${inv.number}`);
    assert.equal(j.status, 200, j.text);
    assert.deepEqual(j.json, inv);
    for (const how of [`/admin/invoices/${inv.number}?format=csv`, [`/admin/invoices/${inv.number}`, { accept: 'text/csv' }]]) {
      const [p, headers] = Array.isArray(how) ? how : [how, {}];
      const c = await admin(p, { headers });
      assert.equal(c.status, 200, c.text);
      assert.match(c.headers.get('content-type'), /^text\/csv/);
      const rows = c.text.trim().split('\n').map((l) => l.split(','));
      assert.deepEqual(rows[0], ['invoice', 'customer', 'month', 'currency', 'model', 'requests', 'prompt_tokens',
        'cached_tokens', 'completion_tokens', 'audio_seconds', 'cost']);
      assert.equal(rows.length, inv.lines.length + 2);
      assert.deepEqual(rows.at(-1).slice(0, 5), [inv.number, 'acme', month, 'USD', 'TOTAL']);
      assert.equal(rows.at(-1)[10], inv.total);
      assert.equal(Number(rows.at(-1)[5]), sent.acme);
    }
    for (const [p, headers] of [[`/admin/invoices/${inv.number}?format=html`, {}], [`/admin/invoices/${inv.number}`, { accept: 'text/html,application/xhtml+xml' }]]) {
      const h = await admin(p, { headers });
      assert.equal(h.status, 200, h.text);
      assert.match(h.headers.get('content-type'), /^text\/html/);
      assert.match(h.headers.get('content-security-policy'), /default-src 'none'/);
      assert.match(h.text, /^<!DOCTYPE html>/);
      assert.ok(h.text.includes(`<h1>Invoice ${inv.number}</h1>`));
      assert.ok(h.text.includes(`${inv.total} USD`));
      assert.doesNotMatch(h.text, /<script|<style|style=|\son\w+=/i);
    }
    assertOpenAIError(await admin(`/admin/invoices/${inv.number}?format=pdf`), 400, { param: 'format' });
    assertOpenAIError(await admin('/admin/invoices/INV-2026-999999'), 404, { code: 'invoice_not_found' });
    assertOpenAIError(await admin('/admin/invoices/INV-2026-000001', { method: 'DELETE' }), 405);
    const db = path.join(state, 'ledger.db');
    for (const sql of ["UPDATE invoice SET total = '0'", 'DELETE FROM invoice_line', 'DELETE FROM usage']) {
      const r = await run('sqlite3', [db, sql]);
      assert.notEqual(r.code, 0, sql);
      assert.match(r.stderr, /immutable|append-only/, sql);
    }
  });

  it('a second run answers the same invoices; a late record lands on the next month, also after a restart', async () => {
    const again = await generate({ month, dry_run: 'none' });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json.invoices, issued);
    // served after the issue: arrived in the issued month, committed late
    await chat('acme', 'chat-a', 7);
    const late = await generate({ month, dry_run: 'none' });
    assert.equal(late.status, 200, late.text);
    assert.deepEqual(late.json.invoices, issued);
    assert.deepEqual((await admin(`/admin/invoices/${issued[0].number}`)).json, issued[0]);
    const [y, m] = month.split('-').map(Number);
    const nextMonth = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
    const next = await generate({ month: nextMonth, dry_run: 'all' });
    assert.equal(next.status, 200, next.text);
    assert.equal(next.json.invoices.length, 1);
    assert.equal(next.json.invoices[0].customer, 'acme');
    assert.equal(next.json.invoices[0].lines[0].requests, 1, 'only the late request');
    // a month that has not begun is not issued
    assertOpenAIError(await generate({ month: nextMonth, dry_run: 'none' }), 400, { param: 'month' });
    // the invoices are stored: a restarted gateway answers the same
    await gw.checkAliveAndStop();
    gw = await startGateway(config());
    const after = await generate({ month, dry_run: 'none' });
    assert.equal(after.status, 200, after.text);
    assert.deepEqual(after.json.invoices, issued);
    assert.equal((await generate({ month: nextMonth, dry_run: 'all' })).json.invoices[0].lines[0].requests, 1);
    assert.equal(hook.invoices().length, 2, 'nothing issued twice');
  });

  it('admin calls whose clients leave before the answer (it comes from the writer thread) do no harm', async () => {
    const left = [];
    for (let i = 0; i < 8; i++) {
      const s = net.connect(gw.port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      const p = i % 2 ? '/admin/usage?group_by=model' : `/admin/invoices/${issued[0].number}?format=html`;
      s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\n\r\n`);
      left.push(new Promise((r) => s.once('close', r)));
      s.destroy();
    }
    await Promise.all(left);
    const answers = await Promise.all(Array.from({ length: 6 }, () => admin('/admin/usage')));
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.total.requests, 7);
    }
  });

  it('under load an admin query answers between two commits, counting every request answered before it', async () => {
    const base = 7;
    let done = 0;
    let stop = false;
    const load = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await chat('beta', 'chat-a', 2);
        done++;
      }
    });
    for (let i = 0; i < 6; i++) {
      const answered = base + done;
      const r = await admin('/admin/usage');
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.total.requests >= answered, `${r.json.total.requests} records, ${answered} answered before the query`);
    }
    stop = true;
    await Promise.all(load);
    await waitFor(async () => (await admin('/admin/usage')).json.total.requests === base + done,
      { timeoutMs: BOUND, what: 'every request of the load recorded' });
  });
});
