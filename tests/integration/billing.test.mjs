// Billing (plugins/billing) with the real gateway, two ig-sim engines, the apikey plugin and real
// clients: every request that reaches an engine leaves exactly one usage record whose tokens equal
// what the simulator sent, per customer, under random client disconnects, engines dying mid-stream
// and 500s; invoices (JSON and CSV) equal the sum of the records and are byte-identical when asked
// twice; usage grouped by day, model and key; nothing lost across SIGHUP and SIGTERM mid-load; the
// webhook receives every record (after a 500, retried); the public OpenRouter listing's shape.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  PLUGINS_DIR, SLOW, http as httpReq, model, parseSSE, startGateway, startSim, tmpDir, waitFor,
} from './harness.mjs';

const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const ADMIN = 'admin-secret-for-billing-tests';
const CUSTOMERS = ['acme', 'beta', 'gamma'];
const keyOf = (c) => `sk-${c}-0123456789`;
const BOUND = SLOW ? 60000 : 20000;

// a deterministic pseudo-random sequence, so a failure can be replayed (seed in the test name)
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** A webhook receiver: answers 500 to the first POST, then 200; keeps every body and key. */
async function startWebhook() {
  const got = { posts: [], records: new Map(), keys: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.posts.push({ key: req.headers['idempotency-key'], body });
      got.keys.push(req.headers['idempotency-key']);
      if (got.posts.length === 1) {
        res.writeHead(500).end('not yet');
        return;
      }
      for (const r of JSON.parse(body).records) got.records.set(r.id, r);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  got.url = `http://127.0.0.1:${server.address().port}/hook`;
  got.close = () => new Promise((r) => server.close(r));
  return got;
}

function gatewayConfig(sims, stateDir, { webhookUrl = '', exportDir = '' } = {}) {
  const pricingA = { prompt: '0.000001', completion: '0.000002', request: '0.0001' };
  const pricingB = { prompt: '0.0000003', completion: '0.0000011', input_cache_read: '0.00000015' };
  return {
    server: { stateDir, adminKeys: [sha(ADMIN)], retries: 1 },
    plugins: {
      dir: PLUGINS_DIR,
      load: ['vllm', 'leastload', 'apikey', 'billing'],
      options: {
        apikey: {
          customers: CUSTOMERS.map((id) => ({ id, name: id.toUpperCase() })),
          keys: CUSTOMERS.map((c) => ({ id: `key-${c}`, customer: c, hash: sha(keyOf(c)) })),
        },
        billing: { flushInterval: '50ms', webhookUrl, webhookBackoff: '100ms', exportDir },
      },
    },
    models: [
      model('chat-a', sims, {
        url: 'hf://Org/Chat-A', args: ['--max-model-len=4096'], pricing: pricingA,
        openrouter: { quantization: 'bf16', datacenters: [{ country_code: 'DE' }], supported_features: ['tools'], description: 'A' },
      }),
      model('chat-b', sims, { pricing: pricingB }),
    ],
  };
}

const admin = (gw, p) => httpReq(`${gw.url}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } });

async function usageTotal(gw, q = '') {
  const r = await admin(gw, `/admin/usage${q}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Sum of both sims' /sim/usage per user. */
async function simUsage(sims) {
  const out = {};
  for (const s of sims) {
    const u = (await (await fetch(`${s.url}/sim/usage`)).json()).users;
    for (const [user, v] of Object.entries(u)) {
      const o = (out[user] ??= { prompt_tokens: 0, completion_tokens: 0, requests: 0 });
      o.prompt_tokens += v.prompt_tokens;
      o.completion_tokens += v.completion_tokens;
      o.requests += v.requests;
    }
  }
  return out;
}

async function simsIdle(sims) {
  await waitFor(async () => {
    for (const s of sims) {
      const st = await s.stats();
      if (st.active_streams !== 0 || st.active_requests !== 0) return false;
    }
    return true;
  }, { timeoutMs: BOUND, what: 'the simulators to have no request in flight' });
}

/** Token-carrying chunks in SSE text (role chunks and usage-only chunks do not count). */
function tokenChunks(text) {
  let n = 0;
  for (const c of parseSSE(text.slice(0, text.lastIndexOf('\n\n') + 2)).chunks) {
    const ch = c.choices?.[0];
    if (ch && ((ch.delta && ch.delta.content) || ch.text)) n++;
  }
  return n;
}

/**
 * One request of the mix. kind: plain | stream | stream-usage | disconnect | die.
 * Resolves {status, completed, left, errorEvent, error}: completed = the client got the whole answer
 * ([DONE], or a JSON body with usage); left = the client left mid-stream on purpose; errorEvent = the
 * stream's last complete event was an OpenAI error; error = anything that went wrong on the client's
 * side (a refused connection gives status 0). Nothing is swallowed: assertOutcomes() judges them.
 */
async function oneRequest(gw, { customer, modelName, api, kind, maxTokens, k }) {
  const body = api === 'chat'
    ? { model: modelName, messages: [{ role: 'user', content: `hello from ${customer} ${maxTokens}` }], max_tokens: maxTokens }
    : { model: modelName, prompt: `once upon a time ${customer}`, max_tokens: maxTokens };
  body.user = customer; // the simulator counts what it sends per user
  if (kind !== 'plain') body.stream = true;
  if (kind === 'stream-usage') body.stream_options = { include_usage: true };
  if (kind === 'die') body.sim_fault = 'die-mid-stream';
  if (kind === 'disconnect') {
    body.sim_drip_after = k; // after k tokens the engine sends one token per 400 ms
    body.sim_drip_ms = 400;
  }
  const ac = new AbortController();
  let res;
  try {
    res = await fetch(`${gw.url}/v1/${api === 'chat' ? 'chat/completions' : 'completions'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyOf(customer)}` },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
  } catch (e) {
    return { status: 0, completed: false, left: false, errorEvent: false, error: `${e.message}: ${e.cause?.code ?? e.cause}` };
  }
  if (kind === 'plain' || res.status !== 200) {
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, completed: res.status === 200 && !!json?.usage, left: false, errorEvent: !!json?.error,
      error: json ? null : `not JSON: ${text.slice(0, 200)}` };
  }
  let text = '';
  let left = false;
  let error = null;
  const dec = new TextDecoder();
  try {
    for await (const chunk of res.body) {
      text += dec.decode(chunk, { stream: true });
      if (kind === 'disconnect' && tokenChunks(text) >= k) {
        left = true;
        ac.abort(); // leaves while the engine drips: the gateway must bill what it got
        break;
      }
    }
  } catch (e) {
    // our own abort is how a client leaves; anything else is a failure: the gateway ends every
    // stream cleanly, even one the engine cut
    if (!(left && e.name === 'AbortError')) error = `stream: ${e.name}: ${e.message}`;
  }
  const sse = parseSSE(text.slice(0, text.lastIndexOf('\n\n') + 2)); // complete events only
  const last = sse.events.at(-1);
  let errorEvent = false;
  try {
    errorEvent = last !== undefined && last !== '[DONE]' && 'error' in JSON.parse(last);
  } catch {}
  return { status: res.status, completed: sse.done, left, errorEvent, error };
}

/** What each kind must have looked like to its client (refused: a request may fail to connect). */
function assertOutcomes(results, { refused = false } = {}) {
  for (const r of results) {
    const what = JSON.stringify(r);
    if (refused && r.status === 0 && /ECONNREFUSED|ECONNRESET|other side closed|SocketError/.test(r.error)) continue;
    assert.equal(r.error, null, what);
    assert.equal(r.status, 200, what);
    // a client that was slow to read may find the whole stream buffered when it leaves: it left all
    // the same (the aggregate check in the test wants some that left before the end)
    if (r.kind === 'disconnect') assert.ok(r.left && !r.errorEvent, `left after k tokens: ${what}`);
    else if (r.kind === 'die') assert.ok(r.errorEvent && !r.completed, `cut by the engine: an error event, no [DONE]: ${what}`);
    else assert.ok(r.completed && !r.errorEvent, `answered in full: ${what}`);
  }
}

async function runMix(gw, n, seed, { concurrency = 12, kinds = ['plain', 'stream', 'stream-usage', 'disconnect', 'die'] } = {}) {
  const rand = rng(seed);
  const jobs = Array.from({ length: n }, () => {
    const kind = kinds[Math.floor(rand() * kinds.length)];
    const maxTokens = 2 + Math.floor(rand() * 14);
    return {
      customer: CUSTOMERS[Math.floor(rand() * CUSTOMERS.length)],
      modelName: rand() < 0.5 ? 'chat-a' : 'chat-b',
      api: rand() < 0.7 ? 'chat' : 'completions',
      kind,
      maxTokens,
      k: 1 + Math.floor(rand() * (maxTokens - 1)),
    };
  });
  const results = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < jobs.length) {
      const j = jobs[next++];
      results.push({ ...j, ...(await oneRequest(gw, j)) });
    }
  }));
  return results;
}

/** Exact decimal strings → BigInt units of 1e-15. */
const units = (s) => {
  const [w, f = ''] = s.split('.');
  return BigInt(w) * 10n ** 15n + BigInt((f + '0'.repeat(15)).slice(0, 15));
};

describe('billing', () => {
  let sims, gw, hook, stateDir, exportDir, N = 0;

  /** The JSONL export's records, once it holds n of them (the writer appends after each commit). */
  async function exportedRecords(n) {
    const read = () => fs.readdirSync(exportDir).filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => fs.readFileSync(path.join(exportDir, f), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)));
    await waitFor(() => fs.existsSync(exportDir) && read().length >= n, { timeoutMs: BOUND, what: `${n} exported records` });
    return read().sort((x, y) => x.id - y.id);
  }

  before(async () => {
    sims = [await startSim({ models: ['chat-a', 'chat-b'] }), await startSim({ models: ['chat-a', 'chat-b'] })];
    hook = await startWebhook();
    stateDir = path.join(tmpDir(), 'state-main');
    exportDir = path.join(tmpDir(), 'exports');
    fs.mkdirSync(stateDir, { recursive: true });
    gw = await startGateway(gatewayConfig(sims, stateDir, { webhookUrl: hook.url, exportDir }));
  });

  it('ledger tokens equal what the engines sent, per customer, under disconnects, deaths and 500s (seed 7)', async () => {
    await sims[0].fault('500', 5); // every 5th request on one engine fails before its answer
    const results = await runMix(gw, 150, 7);
    await sims[0].fault('none');
    N += results.length;
    assertOutcomes(results);
    const kinds = new Set(results.map((r) => r.kind));
    assert.equal(kinds.size, 5, 'the mix has every kind of request');
    assert.ok((await sims[0].stats()).faults > 0, 'an engine answered 500s (the gateway retried them on the other)');
    assert.ok(results.some((r) => r.kind === 'disconnect' && !r.completed), 'some clients left mid-stream');
    await simsIdle(sims);

    // one record per request (each reached an engine)
    const total = await waitFor(async () => {
      const t = await usageTotal(gw);
      return t.total.requests === N && t;
    }, { timeoutMs: BOUND, what: `${N} usage records` });
    assert.equal(total.total.requests, N);

    const sent = await simUsage(sims);
    const byKey = await usageTotal(gw, '?group_by=key');
    let sumCompletion = 0;
    for (const c of CUSTOMERS) {
      const row = byKey.data.find((d) => d.customer === c);
      assert.ok(row, `usage of ${c}`);
      assert.equal(row.key_id, `key-${c}`);
      assert.equal(row.requests, results.filter((r) => r.customer === c).length, `${c}: one record per request`);
      assert.equal(row.completion_tokens, sent[c].completion_tokens, `${c}: completion tokens billed = sent by the engines`);
      assert.equal(row.prompt_tokens, sent[c].prompt_tokens, `${c}: prompt tokens billed = accepted by the engines`);
      sumCompletion += row.completion_tokens;
    }
    assert.ok(sumCompletion > 0);
  });

  it('invoices equal the sum of the records, per customer and model; JSON and CSV; idempotent', async () => {
    // the records, independently: the JSONL export (every record, exact cost strings)
    const recs = await exportedRecords(N);
    // the month the records arrived in (a run may cross midnight: the month is theirs, not the clock's)
    const m = recs[0].time.slice(0, 7);
    const inMonth = recs.filter((r) => r.time.startsWith(m));
    const a = await admin(gw, `/admin/invoices?month=${m}`);
    const b = await admin(gw, `/admin/invoices?month=${m}`);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.text, b.text, 'same ledger, same bytes');
    const csv1 = await admin(gw, `/admin/invoices?month=${m}&format=csv`);
    const csv2 = await admin(gw, `/admin/invoices?month=${m}&format=csv`);
    assert.equal(csv1.status, 200);
    assert.match(csv1.headers.get('content-type'), /text\/csv/);
    assert.equal(csv1.text, csv2.text);

    assert.equal(recs.length, N, 'one exported line per record');
    assert.ok(recs.some((r) => r.attempts === 2 && r.status === 200), 'a 500 retried on the other engine is one record');
    assert.ok(recs.some((r) => r.status === 499 && r.completion_tokens > 0), 'clients that left are billed');
    assert.equal(new Set(recs.map((r) => r.id)).size, N, 'ids unique');
    const csvFiles = fs.readdirSync(exportDir).filter((f) => f.endsWith('.csv'));
    assert.equal(csvFiles.map((f) => fs.readFileSync(path.join(exportDir, f), 'utf8').trim().split('\n').length - 1)
      .reduce((x, y) => x + y, 0), N, 'one CSV row per record');

    const csvRows = csv1.text.trim().split('\n').slice(1).map((l) => l.split(','));
    for (const inv of a.json.data) {
      assert.equal(inv.object, 'invoice');
      assert.equal(inv.id, `inv-${inv.customer}-${m}`);
      const mine = inMonth.filter((r) => r.customer === inv.customer);
      let cost = 0n, tokens = 0;
      for (const line of inv.lines) {
        const lr = mine.filter((r) => r.model === line.model);
        assert.equal(line.requests, lr.length, `${inv.customer}/${line.model}: requests`);
        assert.equal(line.completion_tokens, lr.reduce((s, r) => s + r.completion_tokens, 0));
        assert.equal(line.prompt_tokens, lr.reduce((s, r) => s + r.prompt_tokens, 0));
        assert.equal(units(line.cost), lr.reduce((s, r) => s + units(r.cost), 0n), `${inv.customer}/${line.model}: cost = sum of records`);
        cost += units(line.cost);
        tokens += line.completion_tokens;
        // the same line in CSV
        const row = csvRows.find((r) => r[1] === inv.customer && r[4] === line.model);
        assert.ok(row, `CSV line ${inv.customer}/${line.model}`);
        assert.deepEqual(row.slice(5), [line.requests, line.prompt_tokens, line.cached_tokens, line.completion_tokens,
          line.audio_seconds, line.cost].map(String));
      }
      assert.equal(units(inv.total.cost), cost, 'invoice total = sum of its lines');
      assert.equal(units(inv.total.cost), mine.reduce((s, r) => s + units(r.cost), 0n), 'invoice total = sum of the records');
      assert.equal(inv.total.completion_tokens, tokens);
      const totalRow = csvRows.find((r) => r[1] === inv.customer && r[4] === 'TOTAL');
      assert.equal(totalRow[10], inv.total.cost);
    }
    // a record's cost is the model's pricing applied exactly
    const ra = recs.find((r) => r.model === 'chat-a' && r.status === 200 && r.completion_tokens > 0);
    assert.equal(units(ra.cost), BigInt(ra.prompt_tokens) * 1000000000n + BigInt(ra.completion_tokens) * 2000000000n + 100000000000n);

    // one customer; a month without usage
    const one = await admin(gw, `/admin/invoices?month=${m}&customer=beta`);
    assert.equal(one.json.customer, 'beta');
    assert.deepEqual(one.json, a.json.data.find((i) => i.customer === 'beta'));
    const empty = await admin(gw, '/admin/invoices?month=1999-01&customer=beta');
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json.lines, []);
    assert.equal(empty.json.total.cost, '0');
    assert.equal((await admin(gw, '/admin/invoices?month=2026-13')).status, 400);
    assert.equal((await admin(gw, '/admin/invoices')).status, 400);
  });

  it('usage grouped by day, model and key sums to the total; filters by customer, model and period', async () => {
    const total = await usageTotal(gw);
    for (const g of ['day', 'model', 'key']) {
      const u = await usageTotal(gw, `?group_by=${g}`);
      assert.equal(u.group_by, g);
      assert.equal(u.data.reduce((s, d) => s + d.requests, 0), total.total.requests, `group_by=${g}: requests`);
      assert.equal(u.data.reduce((s, d) => s + units(d.cost), 0n), units(total.total.cost), `group_by=${g}: cost`);
      assert.deepEqual(u.total, total.total);
    }
    const byDay = await usageTotal(gw, '?group_by=day');
    assert.ok(byDay.data.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d.day)));
    const byModel = await usageTotal(gw, '?group_by=model');
    assert.deepEqual(byModel.data.map((d) => d.model).sort(), ['chat-a', 'chat-b']);
    const acmeA = await usageTotal(gw, '?customer=acme&model=chat-a');
    const acmeAll = await usageTotal(gw, '?customer=acme&group_by=model');
    assert.deepEqual(acmeA.total, Object.fromEntries(Object.entries(acmeAll.data.find((d) => d.model === 'chat-a')).filter(([k]) => k !== 'model')));
    // the UTC days the records arrived on, from the export (not the clock: a run may cross midnight)
    const recs = await exportedRecords(total.total.requests);
    const perDay = {};
    for (const r of recs) perDay[r.time.slice(0, 10)] = (perDay[r.time.slice(0, 10)] ?? 0) + 1;
    assert.deepEqual(Object.fromEntries(byDay.data.map((d) => [d.day, d.requests])), perDay, 'per UTC day of arrival');
    const days = Object.keys(perDay).sort();
    const first = days[0];
    const dayAfterLast = new Date(Date.parse(`${days.at(-1)}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);
    assert.equal((await usageTotal(gw, `?start=${first}&end=${dayAfterLast}`)).total.requests, total.total.requests);
    assert.equal((await usageTotal(gw, `?end=${first}`)).total.requests, 0, 'nothing before the first record\'s day');
    assert.equal((await usageTotal(gw, `?start=${dayAfterLast}`)).total.requests, 0, 'nothing after the last record\'s day');
    assert.equal((await admin(gw, '/admin/usage?group_by=week')).status, 400);
    assert.equal((await admin(gw, '/admin/usage?start=yesterday')).status, 400);
  });

  it('streams: the client sees usage only as it asked, whatever the gateway asked the engine for', async () => {
    const ask = async (extra) => {
      const r = await httpReq(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keyOf('acme')}` },
        body: { model: 'chat-a', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true, ...extra },
      });
      assert.equal(r.status, 200, r.text);
      const sse = parseSSE(r.text);
      assert.ok(sse.done);
      return sse.chunks;
    };
    const none = await ask({});
    assert.ok(none.every((c) => c.usage == null && c.choices.length === 1), 'no usage at all');
    assert.equal(none.at(-1).model, 'chat-a');
    const final = await ask({ stream_options: { include_usage: true } });
    assert.ok(final.slice(0, -1).every((c) => c.usage === null), 'usage only in the last chunk');
    assert.deepEqual(final.at(-1).choices, []);
    assert.equal(final.at(-1).usage.completion_tokens, 3);
    const every = await ask({ stream_options: { include_usage: true, continuous_usage_stats: true } });
    N += 3;
    assert.deepEqual(every.map((c) => c.usage.completion_tokens), [0, 1, 2, 3, 3], 'usage so far on every chunk, as asked');
  });

  it('the admin routes need an admin key', async () => {
    const month = () => new Date().toISOString().slice(0, 7); // any month: the answer is 401 before it matters
    const r = await httpReq(`${gw.url}/admin/usage`);
    assert.equal(r.status, 401);
    const r2 = await httpReq(`${gw.url}/admin/invoices?month=${month()}`, { headers: { authorization: `Bearer ${keyOf('acme')}` } });
    assert.ok(r2.status === 401 || r2.status === 403, `a customer key is not an admin key: ${r2.status}`);
  });

  it('SIGHUP mid-load loses no record (seed 11)', async () => {
    const before = (await usageTotal(gw)).total.requests;
    const load = runMix(gw, 80, 11, { kinds: ['plain', 'stream', 'disconnect'] });
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 150));
      gw.kill('SIGHUP');
    }
    const results = await load;
    N += results.length;
    assertOutcomes(results);
    await simsIdle(sims);
    let seen;
    await waitFor(async () => (seen = (await usageTotal(gw)).total.requests) === before + 80,
      { timeoutMs: BOUND, what: `80 more records than ${before} (now ${seen})` });
    assert.match(gw.stderr, /reloaded .* generation [2-9]/);
    assert.doesNotMatch(gw.stderr, /take effect on restart/, 'the same options: the writer and its ledger carry on');
  });

  it('the webhook got every record, retrying the batch that met a 500', async () => {
    await waitFor(() => hook.records.size === N, { timeoutMs: BOUND, what: `${N} records at the webhook (has ${hook.records.size})` });
    assert.equal(hook.posts.length >= 2, true);
    assert.equal(hook.keys[0], hook.keys[1], 'the failed batch was sent again with the same Idempotency-Key');
    const ids = [...hook.records.keys()].sort((x, y) => x - y);
    assert.equal(ids[0], 1);
    assert.equal(ids[ids.length - 1], N);
  });

  it('public listing in OpenRouter provider format, no auth', async () => {
    for (const p of ['/public/api/models', '/openrouter/models']) {
      const r = await httpReq(`${gw.url}${p}`);
      assert.equal(r.status, 200, r.text);
      const [a, b] = r.json.data;
      for (const m of [a, b]) {
        for (const k of ['id', 'hugging_face_id', 'name', 'created', 'input_modalities', 'output_modalities', 'quantization',
          'context_length', 'max_output_length', 'pricing', 'supported_sampling_parameters', 'supported_features', 'datacenters']) {
          assert.ok(k in m, `${p}: ${m.id}.${k}`);
        }
        for (const k of ['prompt', 'completion', 'request', 'image', 'input_cache_read', 'input_cache_write']) {
          assert.equal(typeof m.pricing[k], 'string', `${m.id}.pricing.${k}`);
        }
      }
      assert.equal(a.id, 'chat-a');
      assert.equal(a.hugging_face_id, 'Org/Chat-A');
      assert.equal(a.quantization, 'bf16');
      assert.equal(a.context_length, 4096);
      assert.deepEqual(a.datacenters, [{ country_code: 'DE' }]);
      assert.deepEqual(a.supported_features, ['tools']);
      assert.equal(a.description, 'A');
      assert.deepEqual(a.input_modalities, ['text']);
      assert.equal(a.pricing.prompt, '0.000001');
      assert.equal(a.pricing.request, '0.0001');
      assert.equal(b.pricing.input_cache_read, '0.00000015');
      assert.equal(a.pricing.input_cache_read, '0.000001', 'no cache price: cached tokens are billed (and listed) at the prompt price');
      assert.equal(a.pricing.input_cache_write, '0');
      assert.equal(b.context_length, null);
      assert.ok(a.supported_sampling_parameters.includes('temperature'));
    }
  });

  it('SIGTERM mid-load: every request that reached an engine has its record after a restart (seed 13)', async () => {
    const dir = path.join(tmpDir(), 'state-term');
    fs.mkdirSync(dir, { recursive: true });
    const slow = [await startSim({ models: ['chat-a', 'chat-b'], args: ['--token-rate', '50'] })];
    const cfg = gatewayConfig(slow, dir);
    const g = await startGateway(cfg);
    const load = runMix(g, 60, 13, { concurrency: 16, kinds: ['plain', 'stream', 'stream-usage'] });
    await waitFor(async () => (await slow[0].stats()).streams_finished >= 10, { timeoutMs: BOUND, what: 'load under way' });
    g.kill('SIGTERM');
    const exit = await g.exited;
    assert.equal(exit.code, 0, g.tail());
    // requests after the listener closed fail to connect: they never reached an engine; every one
    // that did was answered in full within the grace period
    const results = await load;
    assertOutcomes(results, { refused: true });
    await simsIdle(slow);
    const reached = (await slow[0].stats()).requests;
    assert.ok(reached > 10 && reached <= 60, `${reached} requests reached the engine`);
    assert.equal(results.filter((r) => r.completed).length, reached, 'each request that reached the engine was answered');
    assert.match(g.stderr, new RegExp(`billing: ledger .*: ${reached} usage records committed, 0 dropped`));

    const g2 = await startGateway(cfg);
    const t = await usageTotal(g2);
    assert.equal(t.total.requests, reached, 'one record per request that reached the engine, none lost');
    const sent = await simUsage(slow);
    assert.equal(t.total.completion_tokens, Object.values(sent).reduce((s, v) => s + v.completion_tokens, 0));
    await g2.checkAliveAndStop();
    await slow[0].checkAliveAndStop();
  });

  it('the gateway and simulators are still running and stop cleanly', async () => {
    await gw.checkAliveAndStop();
    assert.match(gw.stderr, new RegExp(`billing: ledger .*: ${N} usage records committed, 0 dropped`));
    for (const s of sims) await s.checkAliveAndStop();
    await hook.close();
  });
});
