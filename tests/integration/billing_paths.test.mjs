// Billing paths billing.test.mjs does not take: cached prompt tokens billed at input_cache_read end
// to end (ig-sim's prefix cache reports them as vLLM does), exportFormats, a webhook that gives up,
// maxQueued dropping records, and a ledger that refuses commits until exit (.unsaved.jsonl).
// Each case has its own gateway and state directory.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import {
  PLUGINS_DIR, SLOW, http, model, parseSSE, startGateway, startSim, tmpDir, waitFor,
} from './harness.mjs';

const ADMIN = 'admin-secret-for-billing-paths';
const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const BOUND = SLOW ? 60000 : 20000;
/** Exact decimal strings → BigInt units of 1e-15. */
const units = (s) => {
  const [w, f = ''] = s.split('.');
  return BigInt(w) * 10n ** 15n + BigInt((f + '0'.repeat(15)).slice(0, 15));
};

function stateDir(name) {
  const d = path.join(tmpDir(), `${name}-${Math.random().toString(36).slice(2)}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function config(sims, dir, billing = {}, pricing = { prompt: '0.000001', completion: '0.000002' }) {
  return {
    server: { stateDir: dir, adminKeys: [sha(ADMIN)] },
    plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'billing'], options: { billing: { flushInterval: '20ms', ...billing } } },
    models: [model('chat', sims, { pricing })],
  };
}

const admin = (gw, p) => http(`${gw.url}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } });
const chat = (gw, extra = {}) => http(`${gw.url}/v1/chat/completions`, {
  method: 'POST',
  body: { model: 'chat', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 3, ...extra },
});
const readLines = (f) => fs.readFileSync(f, 'utf8').trim().split('\n').filter(Boolean);

describe('billing: cached prompt tokens', () => {
  it('are billed at input_cache_read, plain and streamed, in the record, usage, invoice and /metrics', async () => {
    const sim = await startSim({ models: ['chat'], args: ['--prefix-cache-blocks', '256', '--block-size', '4'] });
    const dir = stateDir('cache');
    const exportDir = path.join(dir, 'exports');
    const pricing = { prompt: '0.000001', completion: '0.000002', input_cache_read: '0.0000001', request: '0.00001' };
    const gw = await startGateway(config([sim], dir, { exportDir, exportFormats: ['jsonl'] }, pricing));
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const messages = [{ role: 'user', content: `Please summarise: ${words}` }];
    const seen = [];
    // plain: first a miss (the cache is empty), then a hit
    for (let i = 0; i < 2; i++) {
      const r = await chat(gw, { messages, max_tokens: 4 });
      assert.equal(r.status, 200, r.text);
      seen.push(r.json.usage);
    }
    // streamed with usage asked: the final chunk carries the cached tokens
    const s = await http(`${gw.url}/v1/chat/completions`, {
      method: 'POST', body: { model: 'chat', messages, max_tokens: 4, stream: true, stream_options: { include_usage: true } },
    });
    assert.equal(s.status, 200, s.text);
    const sse = parseSSE(s.text);
    assert.ok(sse.done);
    seen.push(sse.chunks.at(-1).usage);
    const cached = seen.map((u) => u.prompt_tokens_details?.cached_tokens ?? 0);
    assert.equal(cached[0], 0, 'the first request misses the cache');
    assert.ok(cached[1] > 0 && cached[1] < seen[1].prompt_tokens, `the second hits it: ${JSON.stringify(seen[1])}`);
    assert.equal(cached[2], cached[1]);
    // the engine's own count of cached tokens agrees with what the client saw
    assert.equal((await sim.stats()).prefix_cache_hits, cached[1] + cached[2]);

    // the records: exact cost, computed here from the engine's numbers and the model's prices
    const u = await admin(gw, '/admin/usage');
    assert.equal(u.status, 200, u.text);
    await waitFor(() => fs.existsSync(exportDir) && fs.readdirSync(exportDir).length > 0, { what: 'the export' });
    const recs = fs.readdirSync(exportDir).flatMap((f) => readLines(path.join(exportDir, f)).map((l) => JSON.parse(l)))
      .sort((a, b) => a.id - b.id);
    assert.equal(recs.length, 3);
    let total = 0n;
    recs.forEach((r, i) => {
      const p = BigInt(seen[i].prompt_tokens), c = BigInt(cached[i]), o = BigInt(seen[i].completion_tokens);
      assert.equal(r.cached_tokens, cached[i], `record ${i + 1}: cached tokens`);
      const want = (p - c) * units(pricing.prompt) + c * units(pricing.input_cache_read) + o * units(pricing.completion)
        + units(pricing.request);
      assert.equal(units(r.cost), want, `record ${i + 1}: ${r.cost}`);
      total += want;
    });
    assert.equal(u.json.total.cached_tokens, cached[1] + cached[2]);
    assert.equal(units(u.json.total.cost), total);
    const month = recs[0].time.slice(0, 7);
    const inv = await admin(gw, `/admin/invoices?month=${month}`);
    assert.equal(inv.status, 200, inv.text);
    assert.equal(inv.json.data.length, 1, inv.text); // anonymous: one invoice, customer ""
    const line = inv.json.data[0].lines.find((l) => l.model === 'chat');
    assert.equal(line.cached_tokens, cached[1] + cached[2]);
    assert.equal(units(line.cost), total);
    const metrics = await http(`${gw.url}/metrics`);
    assert.match(metrics.text, new RegExp(`^infergate_tokens_total\\{model="chat",customer="",kind="cached"\\} ${cached[1] + cached[2]}$`, 'm'));
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop();
  });
});

describe('billing: failure paths', () => {
  it('exportFormats [csv] writes CSV files only', async () => {
    const sim = await startSim({ models: ['chat'] });
    const dir = stateDir('csv');
    const exportDir = path.join(dir, 'exports');
    const gw = await startGateway(config([sim], dir, { exportDir, exportFormats: ['csv'] }));
    for (let i = 0; i < 3; i++) assert.equal((await chat(gw)).status, 200);
    assert.equal((await admin(gw, '/admin/usage')).json.total.requests, 3);
    await waitFor(() => fs.existsSync(exportDir) && fs.readdirSync(exportDir).some((f) => f.endsWith('.csv')), { what: 'the CSV export' });
    await gw.checkAliveAndStop();
    const files = fs.readdirSync(exportDir);
    assert.deepEqual(files.map((f) => path.extname(f)), files.map(() => '.csv'), files.join(' '));
    const rows = files.flatMap((f) => readLines(path.join(exportDir, f)).slice(1));
    assert.equal(rows.length, 3, 'a row per record after each file\'s header');
    await sim.checkAliveAndStop();
  });

  it('a webhook that always fails: each batch is tried webhookMaxAttempts times, then given up; the ledger keeps it', async () => {
    const posts = [];
    const server = nodeHttp.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        posts.push(req.headers['idempotency-key']);
        res.writeHead(500).end('no');
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const sim = await startSim({ models: ['chat'] });
    const dir = stateDir('hook');
    const gw = await startGateway(config([sim], dir, {
      webhookUrl: `http://127.0.0.1:${server.address().port}/hook`, webhookMaxAttempts: 3, webhookBackoff: '20ms',
    }));
    try {
      for (let i = 0; i < 4; i++) assert.equal((await chat(gw)).status, 200);
      const given = /webhook batch (usage-\d+-\d+) dropped after its attempts \(.*answered 500\); the ledger has it/g;
      // every record's batch given up on (the batches together hold records 1..4)
      await waitFor(() => {
        const keys = [...gw.stderr.matchAll(given)].map((m) => m[1]);
        const ids = keys.flatMap((k) => { const [, a, b] = k.split('-').map(Number); return Array.from({ length: b - a + 1 }, (_, j) => a + j); });
        return ids.length === 4;
      }, { timeoutMs: BOUND, what: `every batch given up on:\n${gw.tail()}` });
      const keys = [...gw.stderr.matchAll(given)].map((m) => m[1]);
      for (const k of keys) assert.equal(posts.filter((p) => p === k).length, 3, `batch ${k}: tried exactly 3 times`);
      assert.equal(posts.length, 3 * keys.length, 'no other posts');
      assert.equal((await admin(gw, '/admin/usage')).json.total.requests, 4, 'the ledger has every record');
      await gw.checkAliveAndStop();
    } finally {
      await gw.stop();
      server.close();
      await sim.stop();
    }
  });

  it('maxQueued: records beyond it are dropped and counted, the rest committed', { timeout: 180000 }, async () => {
    const sim = await startSim({ models: ['chat'] });
    const dir = stateDir('full');
    // the writer commits only at 60 s or at exit: 1100 records meet a queue of 1000
    const gw = await startGateway(config([sim], dir, { maxQueued: 1000, flushInterval: '60s', flushRecords: 1000000 }));
    const N = 1100;
    let next = 0;
    const statuses = [];
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < N) {
        next++;
        statuses.push((await chat(gw, { max_tokens: 1 })).status);
      }
    }));
    assert.equal(statuses.filter((s) => s === 200).length, N, 'every request answered');
    assert.equal((await sim.stats()).requests, N);
    await waitFor(() => /ledger queue full \(maxQueued 1000\): 1 usage records dropped/.test(gw.stderr), { what: 'the first drop logged' });
    await gw.checkAliveAndStop();
    assert.match(gw.stderr, /billing: ledger .*: 1000 usage records committed, 100 dropped, 0 in \.unsaved\.jsonl/);
    await sim.checkAliveAndStop();
  });

  it('a ledger that refuses every commit: at exit the records go to <ledger>.unsaved.jsonl, and the log says so', { timeout: 180000 }, async () => {
    const sim = await startSim({ models: ['chat'] });
    const dir = stateDir('locked');
    // one batch: nothing is committed before exit
    const gw = await startGateway(config([sim], dir, { flushInterval: '60s' }));
    const ledger = path.join(dir, 'ledger.db');
    assert.ok(fs.existsSync(ledger));
    // another process holds the database's write lock (as a backup tool or a stuck writer would)
    const lock = spawn('sqlite3', [ledger], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    lock.stdout.on('data', (d) => (out += d));
    lock.stdin.write("BEGIN EXCLUSIVE;\nSELECT 'locked';\n");
    try {
      await waitFor(() => out.includes('locked'), { what: 'sqlite3 holding the lock' });
      const r = [];
      for (let i = 0; i < 3; i++) r.push(await chat(gw, { max_tokens: 2 + i }));
      for (const x of r) assert.equal(x.status, 200, x.text);
      // SIGTERM: the writer tries 4 times (5 s busy timeout each), then writes the batch aside
      const st = await gw.stop({ timeoutMs: 90000 });
      assert.equal((gw.stderr.match(/billing: .*\(batch of 3 records, retrying\)/g) || []).length, 4, gw.tail());
      assert.equal(st.code, 0, gw.tail());
      gw.assertNoSanitizerReport();
    } finally {
      lock.stdin.end('ROLLBACK;\n');
      await new Promise((res) => (lock.exitCode !== null ? res() : lock.on('exit', res)));
    }
    const unsaved = `${ledger}.unsaved.jsonl`;
    assert.ok(fs.existsSync(unsaved), gw.tail());
    const recs = readLines(unsaved).map((l) => JSON.parse(l));
    assert.deepEqual(recs.map((x) => x.completion_tokens).sort(), [2, 3, 4], JSON.stringify(recs));
    assert.ok(recs.every((x) => x.model === 'chat' && x.status === 200 && x.usage_known === true));
    assert.match(gw.stderr, new RegExp(`billing: 3 usage records could not be committed; written to ${unsaved.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(gw.stderr, /billing: ledger .*: 0 usage records committed, 0 dropped, 3 in \.unsaved\.jsonl/);
    await sim.checkAliveAndStop();
  });
});
