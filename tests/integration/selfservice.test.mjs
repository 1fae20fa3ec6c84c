// Customer self-service with the real gateway, ig-sim, the apikey, ratelimit and billing plugins and
// real clients: GET /v1/me (the key's customer, key, models with their prices, limits and what is
// left of them) and GET /v1/me/usage (exact costs, per day and model) for two customers, each seeing
// only its own; the usage equals what ig-sim counted per customer; unknown and forbidden parameters
// are refused; the portal's cookie opens both; HTTP/1.1 and h2c alike.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  PLUGINS_DIR, SLOW, assertOpenAIError, chatBody, curl, http, model, startGateway, startRedis, startSim, waitFor,
} from './harness.mjs';

const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const ADMIN = 'admin-secret-for-selfservice';
const KEYS = { acme: 'sk-acme-selfservice-0123456789', beta: 'sk-beta-selfservice-0123456789' };
const PRICES = {
  'chat-a': { prompt: '0.000001', completion: '0.000002', request: '0.0001' },
  'chat-b': { prompt: '0.0000003', completion: '0.0000011', input_cache_read: '0.00000015' },
  'chat-c': { prompt: '0.000005', completion: '0.000007' },
};
const ACME_RPM = 100;
const BETA_TPM = 100000;
const MODEL_RPM = 1000;

// money as integers of 1e-15, as the ledger keeps it
const units = (s) => {
  const [i, f = ''] = String(s ?? '0').split('.');
  return BigInt(i) * 10n ** 15n + BigInt((f + '0'.repeat(15)).slice(0, 15));
};
const decimal = (u) => {
  const i = u / 10n ** 15n;
  const f = (u % 10n ** 15n).toString().padStart(15, '0').replace(/0+$/, '');
  return f ? `${i}.${f}` : `${i}`;
};

const bearer = (c) => ({ authorization: `Bearer ${KEYS[c]}` });

function parseSetCookie(h) {
  assert.ok(h, 'a Set-Cookie header');
  const [pair] = h.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1) };
}

describe('self-service: /v1/me and /v1/me/usage', () => {
  let sim, gw;
  const sent = { acme: [], beta: [] }; // usage of each answered request, as the client saw it

  before(async () => {
    sim = await startSim({ models: ['chat-a', 'chat-b', 'chat-c'] });
    gw = await startGateway({
      server: { adminKeys: [sha(ADMIN)] },
      plugins: {
        dir: PLUGINS_DIR,
        load: ['vllm', 'leastload', 'apikey', 'ratelimit', 'billing'],
        options: {
          apikey: {
            customers: [
              { id: 'acme', name: 'Acme Inc' },
              { id: 'beta', name: 'Beta Ltd', limits: { tokensPerMinute: BETA_TPM } },
            ],
            keys: [
              { id: 'key-acme', customer: 'acme', name: 'acme ci', hash: sha(KEYS.acme), models: ['chat-a', 'chat-b'],
                limits: { requestsPerMinute: ACME_RPM } },
              { id: 'key-beta', customer: 'beta', hash: sha(KEYS.beta) },
            ],
          },
          billing: { flushInterval: '20ms' },
        },
      },
      models: [
        model('chat-a', [sim], { pricing: PRICES['chat-a'], pathPrefix: '/acme-a', hosts: ['chat-a.example.test'] }),
        model('chat-b', [sim], { pricing: PRICES['chat-b'], limits: { requestsPerMinute: MODEL_RPM } }),
        model('chat-c', [sim], { pricing: PRICES['chat-c'] }),
      ],
    });
    // chat-c is published to beta only: acme may not see it even without its key's list
    const pub = await http(`${gw.url}/admin/models/chat-c/publish`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: { customers: ['beta'] },
    });
    assert.ok(pub.status === 200 || pub.status === 201, pub.text);
  });

  after(async () => {
    await gw?.stop();
    await sim?.stop();
  });

  async function chat(customer, m, maxTokens) {
    const r = await http(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: bearer(customer), body: chatBody(m, { max_tokens: maxTokens, user: customer }),
    });
    assert.equal(r.status, 200, r.text);
    sent[customer].push({ model: m, ...r.json.usage });
    return r;
  }

  const me = (customer, mode = 'h1') => curl(`${gw.url}/v1/me`, { mode: mode === 'h2c' ? 'h2c' : 'h1', headers: bearer(customer) });

  const limitOf = (j, scope, name, m) => j.limits.find((l) => l.scope === scope && l.name === name && (m === undefined || l.model === m));

  it('GET /v1/me: the key, its customer, the models it may use at their prices, limits with what is left', async () => {
    for (const mode of ['h1', 'h2c']) {
      const r = await me('acme', mode);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.httpVersion, mode === 'h1' ? '1.1' : '2');
      const j = r.json;
      assert.equal(j.object, 'me');
      assert.equal(j.customer, 'acme');
      assert.equal(j.customer_name, 'Acme Inc');
      assert.equal(j.key_id, 'key-acme');
      assert.equal(j.key_name, 'acme ci');
      assert.deepEqual(j.models.map((m) => m.id), ['chat-a', 'chat-b']);
      const a = j.models[0].prices;
      assert.equal(a.prompt, '0.000001');
      assert.equal(a.completion, '0.000002');
      assert.equal(a.request, '0.0001');
      assert.equal(a.input_cache_read, '0.000001', 'cached tokens cost what prompt tokens cost when unset');
      assert.equal(j.models[1].prices.input_cache_read, '0.00000015');
      const rpm = limitOf(j, 'key', 'requests_per_minute');
      assert.deepEqual({ limit: rpm.limit, remaining: rpm.remaining }, { limit: ACME_RPM, remaining: ACME_RPM });
      const mrpm = limitOf(j, 'model', 'requests_per_minute', 'chat-b');
      assert.equal(mrpm.limit, MODEL_RPM);
      // nothing of beta's: its customer limit, its model
      assert.equal(j.limits.filter((l) => l.scope === 'customer').length, 0, r.text);
      assert.ok(!r.text.includes('beta') && !r.text.includes('chat-c'), r.text);
    }
    const b = (await me('beta')).json;
    assert.equal(b.customer, 'beta');
    assert.equal(b.key_name, null);
    assert.deepEqual(b.models.map((m) => m.id), ['chat-a', 'chat-b', 'chat-c']);
    const tpm = limitOf(b, 'customer', 'tokens_per_minute');
    assert.deepEqual({ limit: tpm.limit, remaining: tpm.remaining }, { limit: BETA_TPM, remaining: BETA_TPM });
    assert.equal(limitOf(b, 'key', 'requests_per_minute'), undefined);
    assert.ok(!JSON.stringify(b).includes('acme'));
  });

  it('remaining decreases with the requests made (requests and tokens)', async () => {
    for (let i = 0; i < 3; i++) await chat('acme', 'chat-a', 5 + i);
    for (let i = 0; i < 2; i++) await chat('acme', 'chat-b', 4);
    for (let i = 0; i < 4; i++) await chat('beta', i % 2 ? 'chat-c' : 'chat-b', 6);
    const a = (await me('acme')).json;
    assert.equal(limitOf(a, 'key', 'requests_per_minute').remaining, ACME_RPM - 5);
    assert.equal(limitOf(a, 'model', 'requests_per_minute', 'chat-b').remaining, MODEL_RPM - 2 - 2);
    assert.ok(limitOf(a, 'key', 'requests_per_minute').reset_seconds > 0);
    // tokens are charged when a request ends: wait for them, not for time
    const betaTokens = sent.beta.reduce((s, u) => s + u.prompt_tokens + u.completion_tokens, 0);
    await waitFor(async () => limitOf((await me('beta')).json, 'customer', 'tokens_per_minute').remaining === BETA_TPM - betaTokens,
      { timeoutMs: SLOW ? 20000 : 5000, what: "beta's tokens charged" });
  });

  async function usage(customer, q = '', headers = bearer(customer)) {
    return http(`${gw.url}/v1/me/usage${q}`, { headers });
  }

  function expectedCost(list) {
    let total = 0n;
    for (const u of list) {
      const p = PRICES[u.model];
      const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
      total += units(p.prompt) * BigInt(u.prompt_tokens - cached) + units(p.input_cache_read ?? p.prompt) * BigInt(cached)
        + units(p.completion) * BigInt(u.completion_tokens) + units(p.request);
    }
    return total;
  }

  it('GET /v1/me/usage: exact totals of its own customer, equal to what ig-sim counted; per model and day', async () => {
    const simUsers = (await (await fetch(`${sim.url}/sim/usage`)).json()).users;
    for (const c of ['acme', 'beta']) {
      const r = await usage(c);
      assert.equal(r.status, 200, r.text);
      const j = r.json;
      assert.equal(j.object, 'list');
      assert.equal(j.customer, c);
      assert.equal(j.currency, 'USD');
      assert.equal(j.total.requests, sent[c].length);
      assert.equal(j.total.requests, simUsers[c].requests);
      assert.equal(j.total.prompt_tokens, simUsers[c].prompt_tokens);
      assert.equal(j.total.completion_tokens, simUsers[c].completion_tokens);
      assert.equal(j.total.cost, decimal(expectedCost(sent[c])));

      const byModel = (await usage(c, '?group_by=model')).json;
      const models = [...new Set(sent[c].map((u) => u.model))].sort();
      assert.deepEqual(byModel.data.map((d) => d.model), models);
      for (const row of byModel.data) {
        const mine = sent[c].filter((u) => u.model === row.model);
        assert.equal(row.requests, mine.length);
        assert.equal(row.cost, decimal(expectedCost(mine)));
      }
      assert.deepEqual(byModel.total, j.total);
      const today = new Date().toISOString().slice(0, 10);
      const byDay = (await usage(c, `?group_by=day&start=${today}`)).json;
      assert.equal(byDay.data.length, 1, JSON.stringify(byDay));
      assert.equal(byDay.data[0].day, today);
      assert.deepEqual(byDay.total, j.total);
      const future = (await usage(c, '?start=2099-01-01')).json;
      assert.equal(future.total.requests, 0);
      assert.equal(future.data.length, 0);
    }
  });

  it('never another customer: no parameter reaches another customer, unknown parameters are 400', async () => {
    for (const q of ['?customer=beta', '?group_by=model&customer=beta', '?customer_id=beta', '?model=chat-c', '?key=key-beta']) {
      const e = assertOpenAIError(await usage('acme', q), 400, { type: 'invalid_request_error', code: 'unknown_parameter' });
      assert.match(e.message, new RegExp(`\`${q.match(/(customer_id|customer|model|key)=/)[1]}\``));
    }
    assertOpenAIError(await usage('acme', '?group_by=key'), 400, { type: 'invalid_request_error' });
    assertOpenAIError(await usage('acme', '?start=yesterday'), 400, { type: 'invalid_request_error' });
    // no key, a wrong key: 401, nothing of anybody's
    for (const headers of [{}, { authorization: 'Bearer sk-nobody' }]) {
      assertOpenAIError(await usage('acme', '', headers), 401, { code: 'invalid_api_key' });
      assertOpenAIError(await http(`${gw.url}/v1/me`, { headers }), 401, { code: 'invalid_api_key' });
    }
    // the admin key is no customer key
    assertOpenAIError(await usage('acme', '', { authorization: `Bearer ${ADMIN}` }), 401, {});
    assertOpenAIError(await http(`${gw.url}/v1/me`, { method: 'POST', headers: bearer('acme'), body: {} }), 405, {});
    assertOpenAIError(await http(`${gw.url}/v1/me/usage`, { method: 'POST', headers: bearer('acme'), body: {} }), 405, {});
    assertOpenAIError(await http(`${gw.url}/v1/me/usage/x`, { headers: bearer('acme') }), 404, {});
    // the admin's view agrees with each customer's own
    const all = await http(`${gw.url}/admin/usage?group_by=key`, { headers: { authorization: `Bearer ${ADMIN}` } });
    for (const c of ['acme', 'beta']) {
      const row = all.json.data.find((d) => d.customer === c);
      const own = (await usage(c)).json.total;
      assert.equal(row.cost, own.cost);
      assert.equal(row.requests, own.requests);
    }
  });

  it('usage reads off the event loop: concurrent reads agree, clients that leave mid-read harm nothing', async () => {
    const want = (await usage('acme', '?group_by=model')).json;
    const calls = [];
    for (let i = 0; i < 40; i++) {
      const ac = new AbortController();
      const c = usage(i % 2 ? 'acme' : 'beta', '?group_by=model', { ...bearer(i % 2 ? 'acme' : 'beta') });
      if (i % 4 === 0) {
        const left = http(`${gw.url}/v1/me/usage?group_by=day`, { headers: bearer('acme'), signal: ac.signal }).catch((e) => e);
        ac.abort();
        calls.push(left.then(() => null));
      }
      calls.push(c);
    }
    const got = (await Promise.all(calls)).filter(Boolean);
    assert.equal(got.length, 40);
    for (const r of got) {
      assert.equal(r.status, 200, r.text);
      if (r.json.customer === 'acme') assert.deepEqual(r.json, want);
      else assert.equal(r.json.customer, 'beta');
    }
    assert.equal((await http(`${gw.url}/healthz`)).status, 200);
  });

  it("under a model's address: /v1/me and /v1/me/usage as anywhere; a runtime model cannot take its address", async () => {
    const plain = (await usage('acme', '?group_by=model')).json;
    assert.deepEqual((await http(`${gw.url}/acme-a/v1/me/usage?group_by=model`, { headers: bearer('acme') })).json, plain);
    const m = await http(`${gw.url}/acme-a/v1/me`, { headers: bearer('acme') });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.customer, 'acme');
    // PUT /admin/models validates like -t: an address another model has is refused, nothing changes
    const admin = { authorization: `Bearer ${ADMIN}` };
    for (const body of [
      { engine: 'VLLM', features: ['TextGeneration'], endpoints: [sim.url], hosts: ['chat-a.example.test'] },
      { engine: 'VLLM', features: ['TextGeneration'], endpoints: [sim.url], pathPrefix: '/acme-a/x' },
    ]) {
      const r = await http(`${gw.url}/admin/models/chat-d`, { method: 'PUT', headers: admin, body });
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.error.message, /model "chat-a"/);
    }
    assert.equal((await http(`${gw.url}/v1/models/chat-d`, { headers: bearer('beta') })).status, 404);
  });

  it("the portal's cookie opens /v1/me and /v1/me/usage as its key", async () => {
    const s = await http(`${gw.url}/portal/api/session`, { method: 'POST', body: { key: KEYS.beta } });
    assert.equal(s.status, 200, s.text);
    const c = parseSetCookie(s.headers.get('set-cookie'));
    assert.equal(c.name, 'ig_portal');
    const portal = { cookie: `ig_portal=${c.value}` };
    const m = await http(`${gw.url}/v1/me`, { headers: portal });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.customer, 'beta');
    const { limits: viaCookie, ...restCookie } = m.json;
    const { limits: viaKey, ...restKey } = (await me('beta')).json;
    assert.deepEqual(restCookie, restKey);
    assert.deepEqual(viaCookie.map((l) => [l.scope, l.name, l.limit, l.remaining]), viaKey.map((l) => [l.scope, l.name, l.limit, l.remaining]));
    const u = await http(`${gw.url}/v1/me/usage?group_by=model`, { headers: portal });
    assert.equal(u.status, 200, u.text);
    assert.deepEqual(u.json, (await usage('beta', '?group_by=model')).json);
    // a header of its own wins over the cookie: acme's key sees acme
    const both = await http(`${gw.url}/v1/me`, { headers: { ...portal, ...bearer('acme') } });
    assert.equal(both.json.customer, 'acme');
    // after logout the cookie opens nothing
    const out = await http(`${gw.url}/portal/api/session`, { method: 'DELETE', headers: { ...portal, 'x-ig-csrf': s.json.csrf } });
    assert.ok(out.status === 200 || out.status === 204, out.text);
    assertOpenAIError(await http(`${gw.url}/v1/me/usage`, { headers: portal }), 401, {});
  });
});

describe('self-service without the limiter and billing', () => {
  it('/v1/me has limits [] and /v1/me/usage is not there', async () => {
    const sim = await startSim({ models: ['chat'] });
    const gw = await startGateway({
      plugins: {
        dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'apikey'],
        options: { apikey: { customers: [{ id: 'solo' }], keys: [{ id: 'k1', customer: 'solo', hash: sha('sk-solo-0123456789') }] } },
      },
      models: [model('chat', [sim])],
    });
    try {
      const r = await http(`${gw.url}/v1/me`, { headers: { authorization: 'Bearer sk-solo-0123456789' } });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.limits, []);
      assert.equal(r.json.key_name, null);
      assert.deepEqual(r.json.models, [{ id: 'chat', prices: { prompt: '0', completion: '0', request: '0', input_cache_read: '0' } }]);
      assertOpenAIError(await http(`${gw.url}/v1/me/usage`, { headers: { authorization: 'Bearer sk-solo-0123456789' } }), 404, {});
    } finally {
      await gw.stop();
      await sim.stop();
    }
  });
});

describe('self-service with the Redis rate-limit backend', () => {
  it('/v1/me names the limits without waiting on Redis: remaining and reset_seconds are null; the limits still hold', async () => {
    const redis = await startRedis();
    const sim = await startSim({ models: ['chat'] });
    const gw = await startGateway({
      plugins: {
        dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'apikey', 'ratelimit'],
        options: {
          apikey: { customers: [{ id: 'solo' }], keys: [{ id: 'k1', customer: 'solo', hash: sha('sk-solo-0123456789'), limits: { requestsPerMinute: 2 } }] },
          ratelimit: { backend: 'redis', redisUrl: redis.url },
        },
      },
      models: [model('chat', [sim])],
    });
    try {
      const headers = { authorization: 'Bearer sk-solo-0123456789' };
      const me = await http(`${gw.url}/v1/me`, { headers });
      assert.equal(me.status, 200, me.text);
      assert.deepEqual(me.json.limits, [{ scope: 'key', name: 'requests_per_minute', limit: 2, remaining: null, reset_seconds: null }]);
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await http(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body: chatBody('chat') })).status);
      assert.deepEqual(codes, [200, 200, 429]);
    } finally {
      await gw.stop();
      await sim.stop();
      await redis.stop();
    }
  });
});
