// Rate limiting (plugins/ratelimit) with the real gateway, ig-sim and real clients: limits exact
// under concurrent HTTP/2 streams of one connection, OpenAI's 429 shape and x-ratelimit-* headers,
// tokens charged with the engine's real usage, maxConcurrent with slow streams, windows kept across
// SIGHUP, one limit shared by two gateway processes through a real redis-server (the Redis backend
// answering later and failing: ratelimit_redis.test.mjs), and the official SDK's RateLimitError.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import crypto from 'node:crypto';
import http2 from 'node:http2';
import path from 'node:path';
import OpenAI from 'openai';
import {
  PLUGINS_DIR, gatewayPath, toYaml, writeTmp, Proc, SLOW, assertOpenAIError, chatBody, curl, freePort, http, model, parseSSE, run,
  startGateway, startSim, tmpDir, waitFor,
} from './harness.mjs';

const RESET_RE = /^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$/;

const rlPlugins = (options) => ({
  dir: PLUGINS_DIR,
  load: ['vllm', 'leastload', 'ratelimit'],
  ...(options ? { options: { ratelimit: options } } : {}),
});

/**
 * n requests as concurrent streams of ONE HTTP/2 connection (prior knowledge, h2c; `shared`: that
 * session, left open), all written before any answer is read. Resolves [{status, headers, text,
 * json}] in request order.
 */
async function h2Batch(baseUrl, n, body, path = '/v1/chat/completions', reqHeaders = {}, shared = null) {
  const session = shared || http2.connect(baseUrl);
  session.on('error', () => {});
  try {
    const payload = JSON.stringify(body);
    return await Promise.all(
      Array.from({ length: n }, () => new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json', ...reqHeaders });
        let headers;
        let text = '';
        req.setEncoding('utf8');
        req.on('response', (h) => (headers = h));
        req.on('data', (d) => (text += d));
        req.on('error', reject);
        req.on('end', () => {
          let json;
          try { json = JSON.parse(text); } catch {}
          resolve({ status: headers[':status'], headers, text, json });
        });
        req.end(payload);
      })),
    );
  } finally {
    if (!shared) session.close();
  }
}

function assertRateHeaders(h, { limit, remaining } = {}, kind = 'requests') {
  const get = (k) => (typeof h.get === 'function' ? h.get(k) : h[k]);
  const l = get(`x-ratelimit-limit-${kind}`);
  const r = get(`x-ratelimit-remaining-${kind}`);
  const reset = get(`x-ratelimit-reset-${kind}`);
  assert.ok(l !== undefined && l !== null, `x-ratelimit-limit-${kind} missing`);
  assert.match(String(l), /^\d+$/);
  assert.match(String(r), /^\d+$/);
  assert.match(String(reset), RESET_RE, `x-ratelimit-reset-${kind}: ${reset}`);
  if (limit !== undefined) assert.equal(Number(l), limit, `x-ratelimit-limit-${kind}`);
  if (remaining !== undefined) assert.equal(Number(r), remaining, `x-ratelimit-remaining-${kind}`);
  return { limit: Number(l), remaining: Number(r), reset };
}

describe('ratelimit, in-process counters', () => {
  let sim, slowSim, gw;
  const RPM = 20;
  const CONC = 2;
  let usagePerRequest; // tokens the sim reports for chatBody('tok-model'), learned from the sim itself
  let TPM;

  before(async () => {
    sim = await startSim({});
    slowSim = await startSim({ args: ['--token-rate', '20'], name: 'ig-sim-slow' });
    // what one request costs, straight from the engine: the limit is set from it
    const direct = await http(`${sim.url}/v1/chat/completions`, { method: 'POST', body: chatBody('tok-model') });
    assert.equal(direct.status, 200, direct.text);
    usagePerRequest = direct.json.usage.prompt_tokens + direct.json.usage.completion_tokens;
    assert.ok(usagePerRequest > 0);
    TPM = 2 * usagePerRequest + 1; // the third request is admitted (2u < TPM), the fourth refused (3u >= TPM)
    gw = await startGateway({
      plugins: rlPlugins(),
      models: [
        model('rpm-model', [sim], { limits: { requestsPerMinute: RPM } }),
        model('tok-model', [sim], { limits: { tokensPerMinute: TPM } }),
        model('conc-model', [slowSim], { limits: { maxConcurrent: CONC } }),
        model('sdk-model', [sim], { limits: { requestsPerMinute: 1 } }),
        model('free-model', [sim]),
        model('multi-model', [sim], { limits: { requestsPerMinute: 30 } }),
        model('burst-model', [sim], { limits: { requestsPerMinute: 6, burst: 3 } }),
      ],
    });
  });

  it(`requestsPerMinute ${RPM}: exactly ${RPM} of 50 concurrent streams on one HTTP/2 connection are admitted`, async () => {
    const seen = (await sim.stats()).requests;
    const res = await h2Batch(gw.url, 50, chatBody('rpm-model'));
    const ok = res.filter((r) => r.status === 200);
    assert.equal((await sim.stats()).requests - seen, RPM, 'requests the engine saw');
    const refused = res.filter((r) => r.status === 429);
    assert.equal(ok.length, RPM, `statuses: ${res.map((r) => r.status).join(',')}`);
    assert.equal(refused.length, 50 - RPM);
    // admitted responses carry the headers too, and each admission took one unit: remaining RPM-1 .. 0
    const remaining = ok.map((r) => assertRateHeaders(r.headers, { limit: RPM }).remaining).sort((a, b) => a - b);
    assert.deepEqual(remaining, Array.from({ length: RPM }, (_, i) => i));
    for (const r of ok) assert.ok(r.json?.choices?.length, r.text);
    for (const r of refused) {
      assertOpenAIError({ status: r.status, json: r.json, text: r.text }, 429, {
        type: 'rate_limit_exceeded', code: 'rate_limit_exceeded',
      });
      assertRateHeaders(r.headers, { limit: RPM, remaining: 0 });
    }
  });

  it('requestsPerMinute 30: 4 HTTP/2 connections (both worker threads) x 20 streams, exactly 30 admitted', async () => {
    const batches = await Promise.all([0, 1, 2, 3].map(() => h2Batch(gw.url, 20, chatBody('multi-model'))));
    const all = batches.flat();
    assert.equal(all.filter((r) => r.status === 200).length, 30, batches.map((b) => b.map((r) => r.status).join(',')).join('\n'));
    assert.equal(all.filter((r) => r.status === 429).length, 50);
    const remaining = all.filter((r) => r.status === 200).map((r) => Number(r.headers['x-ratelimit-remaining-requests']));
    assert.deepEqual(remaining.sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
  });

  it('burst 3 at 6/min: 3 of 10 simultaneous streams, the rest told to come back when the bucket refills (10 s)', async () => {
    const res = await h2Batch(gw.url, 10, chatBody('burst-model'));
    const ok = res.filter((r) => r.status === 200);
    assert.equal(ok.length, 3, res.map((r) => r.status).join(','));
    // the bucket is the tightest limit: the headers describe it
    assert.deepEqual(ok.map((r) => assertRateHeaders(r.headers, { limit: 3 }).remaining).sort(), [0, 1, 2]);
    for (const r of res.filter((x) => x.status === 429)) {
      assert.match(r.json.error.message, /burst requests on model "burst-model": limit 3, used 3/);
      const ra = Number(r.headers['retry-after']);
      assert.ok(ra >= 1 && ra <= 10, `retry-after ${ra}`);
    }
  });

  it('a 429 names the limit and the model, with Retry-After and the x-ratelimit-* headers (curl, HTTP/1.1)', async () => {
    const r = await run('curl', ['-sS', '-i', '--http1.1', '-H', 'content-type: application/json',
      '--data-binary', JSON.stringify(chatBody('rpm-model')), `${gw.url}/v1/chat/completions`]);
    assert.equal(r.code, 0, r.stderr);
    const [head, body] = r.stdout.split(/\r\n\r\n/);
    assert.match(head, /^HTTP\/1\.1 429/);
    const h = Object.fromEntries(head.split('\r\n').slice(1).map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
    }));
    const json = JSON.parse(body);
    const e = assertOpenAIError({ status: 429, json, text: body }, 429, { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' });
    assert.match(e.message, /requests per minute \(RPM\) on model "rpm-model": limit 20, used 20/);
    assert.equal(e.param, null);
    const retry = Number(h['retry-after']);
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 61, `Retry-After: ${h['retry-after']}`);
    assertRateHeaders(h, { limit: RPM, remaining: 0 });
    assert.match(h['content-type'], /application\/json/);
  });

  it('a model without limits gets no x-ratelimit-* headers', async () => {
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('free-model') });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), null);
    assert.equal(r.headers.get('x-ratelimit-limit-tokens'), null);
  });

  // A request is charged when h2o disposes of it, which can come after the client read its whole
  // answer: wait until none of the model's requests is in flight before the next one is admitted.
  async function settled(model) {
    await waitFor(async () => {
      const r = await http(`${gw.url}/metrics`);
      return r.status === 200 && !r.text.split('\n').some((l) => l.startsWith('infergate_requests_in_flight{') &&
        l.includes(`model="${model}"`) && Number(l.split(' ').pop()) !== 0);
    }, { what: `no ${model} request in flight` });
  }

  it('tokensPerMinute: charged with the engine\'s real usage (plain and streamed), then refusing', async () => {
    const u = usagePerRequest;
    const start = (await sim.stats()).requests;
    const t0 = Date.now();
    const r1 = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('tok-model') });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.json.usage.prompt_tokens + r1.json.usage.completion_tokens, u);
    assertRateHeaders(r1.headers, { limit: TPM, remaining: TPM }, 'tokens');
    await settled('tok-model');
    // a stream: the gateway asks the engine for usage, so it is charged too
    const r2 = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('tok-model', { stream: true }) });
    assert.equal(r2.status, 200, r2.text);
    assert.ok(parseSSE(r2.text).done);
    assertRateHeaders(r2.headers, { limit: TPM, remaining: TPM - u }, 'tokens');
    await settled('tok-model');
    const r3 = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('tok-model') });
    assert.equal(r3.status, 200, r3.text);
    assertRateHeaders(r3.headers, { limit: TPM, remaining: TPM - 2 * u }, 'tokens');
    await settled('tok-model');
    // 3u >= TPM now: refused before reaching the engine
    const before = (await sim.stats()).requests;
    assert.equal(before - start, 3, 'the engine saw the three admitted requests');
    const r4 = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('tok-model') });
    const e = assertOpenAIError(r4, 429, { type: 'rate_limit_exceeded' });
    assert.match(e.message, new RegExp(`tokens per minute \\(TPM\\) on model "tok-model": limit ${TPM}, used ${3 * u}`));
    assertRateHeaders(r4.headers, { limit: TPM, remaining: 0 }, 'tokens');
    // room again once r1's charge leaves the minute (r2's and r3's alone are 2u < TPM): 60-61 s
    // after it was made, of which the test itself has used `elapsed`
    const elapsed = Math.ceil((Date.now() - t0) / 1000);
    const ra = Number(r4.headers.get('retry-after'));
    assert.ok(ra <= 61 && ra >= 60 - elapsed, `Retry-After ${ra} with ${elapsed} s gone since the first charge`);
    assert.equal((await sim.stats()).requests, before, 'the refused request reached the engine');
  });

  it(`maxConcurrent ${CONC}: a third stream is refused while two are open, admitted once they end`, async () => {
    const open = [];
    const ctrl = new AbortController();
    // two long streams (60 tokens at 20 tokens/s): wait for their response headers
    const starts = [];
    for (let i = 0; i < CONC; i++) {
      starts.push(new Promise((resolve, reject) => {
        fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(chatBody('conc-model', { stream: true, max_tokens: 60 })),
          signal: ctrl.signal,
        }).then((res) => {
          open.push(res.text().catch(() => ''));
          resolve(res.status);
        }, reject);
      }));
    }
    assert.deepEqual(await Promise.all(starts), [200, 200]);
    const third = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('conc-model', { max_tokens: 1 }) });
    const e = assertOpenAIError(third, 429, { type: 'rate_limit_exceeded' });
    assert.match(e.message, /concurrent requests on model "conc-model": limit 2, in flight 2/);
    assert.equal(third.headers.get('retry-after'), '1');
    // the streams end (read to their end): their slots come back
    const texts = await Promise.all(open);
    for (const t of texts) assert.ok(parseSSE(t).done);
    const fourth = await waitFor(async () => {
      const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('conc-model', { max_tokens: 1 }) });
      return r.status === 200 ? r : null;
    }, { timeoutMs: SLOW ? 20000 : 10000, what: 'a slot given back' });
    assert.equal(fourth.status, 200);
    // a client that leaves mid-stream gives its slot back too
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('conc-model', { stream: true, max_tokens: 200 })), signal: ac.signal,
    });
    assert.equal(res.status, 200);
    ac.abort();
    await res.text().catch(() => {});
    await waitFor(async () => {
      const rs = await Promise.all([0, 1].map(() => new Promise((resolve) => {
        fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify(chatBody('conc-model', { max_tokens: 1 })),
        }).then(async (r) => { await r.text(); resolve(r.status); }, () => resolve(0));
      })));
      return rs.every((s) => s === 200);
    }, { timeoutMs: SLOW ? 20000 : 10000, what: 'the cancelled stream\'s slot given back' });
    // HTTP/2: two streams reset by the client (RST_STREAM CANCEL) once they are answered
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      // (the slots of the requests above come back when the gateway disposes of them, a moment
      // after their clients saw the end: retry until both streams are admitted together)
      await waitFor(async () => {
        const st = await Promise.all([0, 1].map(() => new Promise((resolve) => {
          const req = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' });
          req.on('error', () => resolve(0));
          req.on('response', (h) => {
            req.close(http2.constants.NGHTTP2_CANCEL);
            resolve(h[':status']);
          });
          req.end(JSON.stringify(chatBody('conc-model', { stream: true, max_tokens: 200 })));
        })));
        return st.every((x) => x === 200);
      }, { timeoutMs: SLOW ? 20000 : 10000, what: 'two streams admitted at once' });
      await waitFor(async () => {
        const rs = await h2Batch(gw.url, 2, chatBody('conc-model', { max_tokens: 1 }));
        return rs.every((r) => r.status === 200);
      }, { timeoutMs: SLOW ? 20000 : 10000, what: 'the reset streams\' slots given back' });
    } finally {
      session.close();
    }
  });

  it('the official SDK raises RateLimitError (maxRetries: 0)', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const first = await client.chat.completions.create(chatBody('sdk-model'));
    assert.ok(first.choices.length);
    await assert.rejects(client.chat.completions.create(chatBody('sdk-model')), (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 429);
      assert.equal(err.type, 'rate_limit_exceeded');
      assert.equal(err.code, 'rate_limit_exceeded');
      const h = (k) => (typeof err.headers?.get === 'function' ? err.headers.get(k) : err.headers?.[k]);
      assert.ok(Number(h('retry-after')) >= 1, `retry-after: ${h('retry-after')}`);
      assert.equal(h('x-ratelimit-remaining-requests'), '0');
      return true;
    });
  });

  it('the gateway is still running and exits cleanly', async () => {
    await gw.checkAliveAndStop();
  });
});

describe('ratelimit: windows survive SIGHUP', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({});
  });

  it('a used-up window stays used up across a reload; a raised limit applies to the counts already made', async () => {
    const models = (rpm) => [model('hup-model', [sim], { limits: { requestsPerMinute: rpm } })];
    gw = await startGateway({ plugins: rlPlugins(), models: models(5) });
    const statuses = async (n) => (await h2Batch(gw.url, n, chatBody('hup-model'))).map((r) => r.status);
    assert.deepEqual((await statuses(5)).sort(), [200, 200, 200, 200, 200]);
    assert.deepEqual(await statuses(1), [429]);
    const reload = async () => {
      const seen = (gw.stderr.match(/reloaded/g) || []).length;
      process.kill(gw.child.pid, 'SIGHUP');
      await waitFor(() => (gw.stderr.match(/reloaded/g) || []).length > seen, { what: 'reload logged', timeoutMs: 10000 });
    };
    // same limits: the new generation's plugin instance finds the old window
    await reload();
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('hup-model') });
    assertOpenAIError(r, 429, { type: 'rate_limit_exceeded' });
    assertRateHeaders(r.headers, { limit: 5, remaining: 0 });
    // raise the limit to 8: exactly 3 more this minute
    const cfg = fs.readFileSync(gw.configPath, 'utf8').replace('requestsPerMinute: 5', 'requestsPerMinute: 8');
    assert.match(cfg, /requestsPerMinute: 8/);
    fs.writeFileSync(gw.configPath, cfg);
    await reload();
    const after8 = await statuses(6);
    assert.equal(after8.filter((s) => s === 200).length, 3, after8.join(','));
    assert.equal(after8.filter((s) => s === 429).length, 3);
    await gw.checkAliveAndStop();
  });
});

// ---------------------------------------------------------------------------------------------
// Per key, per customer, per key+model: limits from the apikey plugin

const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;

describe('ratelimit with apikey: per key, per customer, per key+model, the strictest applies', () => {
  const ADMIN = 'ig-admin-ratelimit-secret-0123456789';
  const K = { a1: 'sk-rl-acme-one', a2: 'sk-rl-acme-two', solo: 'sk-rl-solo' };
  let sim, gw;
  const auth = (k) => ({ authorization: `Bearer ${k}` });
  const count = (res, st) => res.filter((r) => r.status === st).length;

  before(async () => {
    sim = await startSim({});
    gw = await startGateway({
      server: { stateDir: path.join(tmpDir(), 'state-rl-apikey'), adminKeys: [sha(ADMIN)] },
      plugins: {
        dir: PLUGINS_DIR,
        load: ['vllm', 'leastload', 'apikey', 'ratelimit'],
        options: {
          apikey: {
            customers: [{ id: 'acme', name: 'Acme', limits: { requestsPerMinute: 6 } }, { id: 'solo', name: 'Solo' }],
            keys: [
              { id: 'acme-1', customer: 'acme', hash: sha(K.a1), limits: { requestsPerMinute: 4 } },
              { id: 'acme-2', customer: 'acme', hash: sha(K.a2) },
              { id: 'solo-1', customer: 'solo', hash: sha(K.solo) },
            ],
          },
        },
      },
      models: [
        model('keyed', [sim], { limits: { requestsPerMinute: 100 } }),
        model('granted', [sim]),
      ],
    });
  });

  it('a key\'s own limit (4/min) binds before its customer\'s (6/min): exactly 4 of 8 concurrent streams', async () => {
    const res = await h2Batch(gw.url, 8, chatBody('keyed'), '/v1/chat/completions', auth(K.a1));
    assert.equal(count(res, 200), 4, res.map((r) => r.status).join(','));
    assert.equal(count(res, 429), 4);
    for (const r of res.filter((x) => x.status === 200)) assertRateHeaders(r.headers, { limit: 4 });
    const refused = res.find((r) => r.status === 429);
    assert.match(refused.json.error.message, /requests per minute \(RPM\) on key "acme-1": limit 4, used 4/);
  });

  it('the customer\'s limit is shared by its keys: the second key gets the 2 left of 6', async () => {
    const res = await h2Batch(gw.url, 8, chatBody('keyed'), '/v1/chat/completions', auth(K.a2));
    assert.equal(count(res, 200), 2, res.map((r) => r.status).join(','));
    const refused = res.find((r) => r.status === 429);
    assertOpenAIError({ status: 429, json: refused.json, text: refused.text }, 429, { type: 'rate_limit_exceeded' });
    assert.match(refused.json.error.message, /on customer "acme": limit 6, used 6/);
    assertRateHeaders(refused.headers, { limit: 6, remaining: 0 });
  });

  it('another customer is untouched; the model\'s own 100/min counted every admitted request', async () => {
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('keyed'), headers: auth(K.solo) });
    assert.equal(r.status, 200, r.text);
    assertRateHeaders(r.headers, { limit: 100, remaining: 100 - 6 - 1 });
  });

  it('key+model: a model published to a customer with limits counts them per key on that model', async () => {
    const pub = await http(`${gw.url}/admin/models/granted/publish`, {
      method: 'POST', headers: auth(ADMIN), body: { customers: ['solo'], limits: { requestsPerMinute: 3 } },
    });
    assert.equal(pub.status, 200, pub.text);
    const res = await h2Batch(gw.url, 6, chatBody('granted'), '/v1/chat/completions', auth(K.solo));
    assert.equal(count(res, 200), 3, res.map((r) => r.status).join(','));
    const refused = res.find((r) => r.status === 429);
    assert.match(refused.json.error.message, /on key "solo-1" on model "granted": limit 3, used 3/);
    // the same key on another model is not limited by that grant
    const other = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('keyed'), headers: auth(K.solo) });
    assert.equal(other.status, 200, other.text);
  });

  it('the gateway is still running and exits cleanly', async () => {
    await gw.checkAliveAndStop();
  });
});

// ---------------------------------------------------------------------------------------------
// Redis: two gateway processes, one limit

// Never skipped: without redis-server these tests fail, naming it (scripts/setup.sh installs it).
function redisServerPath() {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (fs.existsSync(p)) return p;
  throw new Error('redis-server is not installed (bash scripts/setup.sh installs it): the shared-limit tests need a real one');
}

async function startRedis() {
  const port = await freePort();
  const p = new Proc(`redis:${port}`, redisServerPath(), [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes',
    '--dir', fs.mkdtempSync(path.join(tmpDir(), 'redis-')),
  ]);
  await p.waitForOutput(/Ready to accept connections/, SLOW ? 20000 : 10000);
  p.port = port;
  p.url = `redis://127.0.0.1:${port}`;
  return p;
}

describe('ratelimit, Redis backend shared by two gateways', () => {
  let redis, sim, gwA, gwB;
  const RPM = 30;
  before(async () => {
    redis = await startRedis();
    sim = await startSim({});
    const opts = { backend: 'redis', redisUrl: redis.url, keyPrefix: `ig-test-${process.pid}:` };
    const models = [
      model('shared-model', [sim], { limits: { requestsPerMinute: RPM } }),
      model('shared-tok', [sim], { limits: { tokensPerMinute: 1 } }),
      model('shared-conc', [sim], { limits: { maxConcurrent: 1 } }),
      model('flush-model', [sim], { limits: { requestsPerMinute: 6 } }),
    ];
    [gwA, gwB] = await Promise.all([
      startGateway({ plugins: rlPlugins(opts), models, name: 'gw-a' }),
      startGateway({ plugins: rlPlugins(opts), models, name: 'gw-b' }),
    ]);
  });

  it(`requestsPerMinute ${RPM}: 2 x 40 concurrent HTTP/2 streams on two gateways, exactly ${RPM} admitted`, async () => {
    const [a, b] = await Promise.all([h2Batch(gwA.url, 40, chatBody('shared-model')), h2Batch(gwB.url, 40, chatBody('shared-model'))]);
    const all = [...a, ...b];
    const ok = all.filter((r) => r.status === 200);
    assert.equal(ok.length, RPM, `A: ${a.map((r) => r.status).join(',')}\nB: ${b.map((r) => r.status).join(',')}`);
    assert.equal(all.filter((r) => r.status === 429).length, 80 - RPM);
    // both gateways took part, and the remaining counts are one shared sequence
    const remaining = ok.map((r) => assertRateHeaders(r.headers, { limit: RPM }).remaining).sort((x, y) => x - y);
    assert.deepEqual(remaining, Array.from({ length: RPM }, (_, i) => i));
    for (const r of all.filter((x) => x.status === 429)) {
      assertOpenAIError({ status: 429, json: r.json, text: r.text }, 429, { type: 'rate_limit_exceeded' });
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
  });

  it('tokens charged through one gateway refuse on the other', async () => {
    const r1 = await http(`${gwA.url}/v1/chat/completions`, { method: 'POST', body: chatBody('shared-tok') });
    assert.equal(r1.status, 200, r1.text);
    const r2 = await waitFor(async () => {
      const r = await http(`${gwB.url}/v1/chat/completions`, { method: 'POST', body: chatBody('shared-tok') });
      return r.status === 429 ? r : null;
    }, { what: 'the charge to reach Redis', timeoutMs: 5000 });
    const e = assertOpenAIError(r2, 429, { type: 'rate_limit_exceeded' });
    assert.match(e.message, /tokens per minute \(TPM\) on model "shared-tok": limit 1/);
  });

  it('Redis forgot the script (SCRIPT FLUSH): EVAL runs the same calls, each counted once', async () => {
    const evalCalls = async () => {
      const r = await run('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats']);
      return Number(/cmdstat_eval:calls=(\d+)/.exec(r.stdout)?.[1] ?? 0);
    };
    // one HTTP/2 connection is one worker: its Redis connection is made (and has loaded the
    // script) before the flush, so the next call on it gets NOSCRIPT
    const session = http2.connect(gwA.url);
    session.on('error', () => {});
    try {
      const first = await h2Batch(gwA.url, 1, chatBody('flush-model', { max_tokens: 1 }), undefined, {}, session);
      assert.equal(first[0].status, 200, first[0].text);
      const evals = await evalCalls();
      const flush = await run('redis-cli', ['-p', String(redis.port), 'SCRIPT', 'FLUSH']);
      assert.equal(flush.code, 0, flush.stderr);
      // exact counts: a broken fallback fails them (onRedisError allow would admit all 8 uncounted)
      const res = await h2Batch(gwA.url, 8, chatBody('flush-model', { max_tokens: 1 }), undefined, {}, session);
      const ok = res.filter((r) => r.status === 200);
      assert.equal(ok.length, 5, res.map((r) => r.status).join(','));
      assert.equal(res.filter((r) => r.status === 429).length, 3);
      assert.deepEqual(ok.map((r) => assertRateHeaders(r.headers, { limit: 6 }).remaining).sort(), [0, 1, 2, 3, 4]);
      assert.ok(await evalCalls() > evals, 'EVAL was not used after SCRIPT FLUSH');
      // and after another flush a completion still gives its concurrency slot back
      await run('redis-cli', ['-p', String(redis.port), 'SCRIPT', 'FLUSH']);
      const r1 = await h2Batch(gwA.url, 1, chatBody('shared-conc', { max_tokens: 1 }), undefined, {}, session);
      assert.equal(r1[0].status, 200, r1[0].text);
      await waitFor(async () => (await http(`${gwB.url}/v1/chat/completions`, { method: 'POST', body: chatBody('shared-conc', { max_tokens: 1 }) })).status === 200,
        { what: 'the slot given back', timeoutMs: 5000 });
    } finally {
      session.close();
    }
  });

  it('onRedisError allow (the default): with Redis gone, requests are admitted uncounted', async () => {
    await redis.stop();
    const r = await http(`${gwA.url}/v1/chat/completions`, { method: 'POST', body: chatBody('shared-model') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), null);
    await waitFor(() => /ratelimit.*redis.*admitting unlimited/i.test(gwA.stderr), { what: 'the failure logged', timeoutMs: 5000 });
  });

  it('both gateways are still running and exit cleanly', async () => {
    await gwA.checkAliveAndStop();
    await gwB.checkAliveAndStop();
  });
});

describe('ratelimit, Redis backend with onRedisError: deny', () => {
  it('Redis unreachable: 503 rate_limiter_unavailable naming Redis, Retry-After 1; unlimited models still served', async () => {
    const sim = await startSim({});
    const deadPort = await freePort(); // nothing listens there
    const gw = await startGateway({
      plugins: rlPlugins({ backend: 'redis', redisUrl: `redis://127.0.0.1:${deadPort}`, onRedisError: 'deny', redisTimeout: '200ms' }),
      models: [model('deny-model', [sim], { limits: { requestsPerMinute: 5 } }), model('open-model', [sim])],
    });
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('deny-model') });
    const e = assertOpenAIError(r, 503, { type: 'server_error', code: 'rate_limiter_unavailable' });
    assert.match(e.message, new RegExp(`rate limiter unavailable: redis 127\\.0\\.0\\.1:${deadPort}`));
    assert.equal(r.headers.get('retry-after'), '1');
    // again over h2c, within the reconnect backoff: refused at once, same answer
    const r2 = await curl(`${gw.url}/v1/chat/completions`, { mode: 'h2c', body: chatBody('deny-model') });
    assertOpenAIError(r2, 503, { type: 'server_error', code: 'rate_limiter_unavailable' });
    const open = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('open-model') });
    assert.equal(open.status, 200, open.text);
    assert.match(gw.stderr, /ratelimit.*refusing/);
    await gw.checkAliveAndStop();
  });
});

describe('ratelimit: bad options are refused by infergate -t, naming the file, line and option', () => {
  for (const [opts, want] of [
    [{ backend: 'memcached' }, /plugin "ratelimit" failed to start: backend: "memcached" is not memory or redis/],
    [{ backend: 'redis', redisUrl: 'http://x' }, /plugin "ratelimit" failed to start: redisUrl "http:\/\/x": expected redis:\/\//],
    [{ onRedisError: 'maybe' }, /onRedisError: "maybe" is not allow or deny/],
    [{ redisTimeout: 'soon' }, /plugins\.options\.ratelimit\.redisTimeout/],
  ]) {
    it(JSON.stringify(opts), async () => {
      const cfg = writeTmp(`rl-bad-${Math.random().toString(36).slice(2)}.yaml`, toYaml({
        plugins: rlPlugins(opts),
        models: [model('m', ['http://127.0.0.1:1'], { limits: { requestsPerMinute: 5 } })],
      }));
      const r = await run(gatewayPath(), ['-t', '-c', cfg]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.match(r.stderr, new RegExp(`${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: plugins`));
    });
  }
});
