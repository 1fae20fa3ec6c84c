// API keys (plugins/apikey) with the real gateway, ig-sim and real clients (the official OpenAI SDK,
// curl over HTTP/1.1 and h2c): missing, wrong, revoked and expired keys are 401 (the SDK raises
// AuthenticationError), a model the key may not use is OpenAI's 404 model_not_found, /v1/models
// lists only what the caller may use, the admin API (customers, keys, rotation, revocation, limits,
// publication) takes effect at once, bad admin input is a 400 naming the field and writes nothing,
// YAML keys change on SIGHUP while stored keys and their limits stay, and stored keys survive a
// restart on the same stateDir. With the ratelimit plugin: limits set through the admin API (key,
// customer, publication) are enforced at once and still after a SIGHUP.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startSim, startGateway, model, curl, http, assertOpenAIError, waitFor, tmpDir, chatBody, PLUGINS_DIR } from './harness.mjs';

const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const ADMIN = 'ig-admin-test-secret-0123456789';
const OPEN = 'open-model'; // never published: every key may use it unless its own list says otherwise
const PUB = 'pub-model'; // published during the tests
const YAML_KEYS = {
  alpha: 'sk-yaml-alpha-secret',
  m1only: 'sk-yaml-openonly-secret',
  expired: 'sk-yaml-expired-secret',
  alpha2: 'sk-yaml-alpha-second-secret',
};

function apikeyOptions({ alphaSecret = YAML_KEYS.alpha } = {}) {
  return {
    customers: [{ id: 'acme', name: 'Acme Inc', limits: { requestsPerMinute: 1000 } }],
    keys: [
      { id: 'y-alpha', customer: 'acme', hash: sha(alphaSecret) },
      { id: 'y-open', customer: 'acme', hash: sha(YAML_KEYS.m1only), models: [OPEN] },
      { id: 'y-expired', customer: 'acme', hash: sha(YAML_KEYS.expired), expires: '2001-01-01T00:00:00Z' },
    ],
  };
}

function gatewayConfig(sim, stateDir, opts) {
  return {
    server: { stateDir, adminKeys: [sha(ADMIN)] },
    plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'apikey'], options: { apikey: opts } },
    models: [model(OPEN, [sim]), model(PUB, [sim])],
  };
}

const sdk = (gw, key) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 20000 });
const admin = (gw, method, p, body) =>
  http(`${gw.url}${p}`, { method, body, headers: { authorization: `Bearer ${ADMIN}` } });
const chat = (gw, key, m = OPEN, mode = 'h1') =>
  curl(`${gw.url}/v1/chat/completions`, { mode, body: chatBody(m), headers: key ? { authorization: `Bearer ${key}` } : {} });
const modelIds = async (gw, key) => {
  const r = await http(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(r.status, 200, r.text);
  return r.json.data.map((m) => m.id).sort();
};

async function reload(gw) {
  const seen = (gw.stderr.match(/reloaded/g) || []).length;
  process.kill(gw.child.pid, 'SIGHUP');
  await waitFor(() => (gw.stderr.match(/reloaded/g) || []).length > seen, { what: 'reload logged', timeoutMs: 10000 });
}

describe('apikey', () => {
  let sim, gw, stateDir;
  let betaKey, betaKeyId; // made through the admin API
  before(async () => {
    sim = await startSim({ models: [OPEN, PUB] });
    stateDir = path.join(tmpDir(), 'state-apikey');
    const cfg = gatewayConfig(sim, stateDir, apikeyOptions());
    gw = await startGateway(cfg);
  });

  it('no key, a wrong key, an expired key: 401 invalid_api_key (SDK: AuthenticationError; curl over HTTP/1.1 and h2c)', async () => {
    for (const key of [undefined, 'sk-wrong', YAML_KEYS.expired]) {
      for (const mode of ['h1', 'h2c']) {
        const r = await chat(gw, key, OPEN, mode);
        const e = assertOpenAIError(r, 401, { type: 'invalid_request_error', code: 'invalid_api_key' });
        if (key === YAML_KEYS.expired) assert.match(e.message, /expired/);
        if (key === undefined) assert.match(e.message, /didn't provide an API key/);
        if (mode === 'h2c') assert.equal(r.httpVersion, '2');
      }
      await assert.rejects(sdk(gw, key ?? '').chat.completions.create(chatBody(OPEN)), (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `${err.constructor.name}: ${err.message}`);
        assert.equal(err.status, 401);
        return true;
      });
    }
    // /v1/models needs a key as well
    assertOpenAIError(await http(`${gw.url}/v1/models`), 401, { code: 'invalid_api_key' });
  });

  it('a YAML key works with Bearer and with X-API-Key; the SDK chats', async () => {
    const c = await sdk(gw, YAML_KEYS.alpha).chat.completions.create(chatBody(OPEN));
    assert.equal(c.object, 'chat.completion');
    const r = await curl(`${gw.url}/v1/chat/completions`, { mode: 'h2c', body: chatBody(PUB), headers: { 'x-api-key': YAML_KEYS.alpha } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await modelIds(gw, YAML_KEYS.alpha), [OPEN, PUB].sort());
  });

  it('a key limited to some models: others are 404 model_not_found and missing from /v1/models', async () => {
    assert.equal((await chat(gw, YAML_KEYS.m1only, OPEN)).status, 200);
    for (const mode of ['h1', 'h2c']) {
      const e = assertOpenAIError(await chat(gw, YAML_KEYS.m1only, PUB, mode), 404, { code: 'model_not_found' });
      assert.match(e.message, /does not exist or you do not have access to it/);
    }
    await assert.rejects(sdk(gw, YAML_KEYS.m1only).chat.completions.create(chatBody(PUB)), OpenAI.NotFoundError);
    assert.deepEqual(await modelIds(gw, YAML_KEYS.m1only), [OPEN]);
    const one = await http(`${gw.url}/v1/models/${PUB}`, { headers: { authorization: `Bearer ${YAML_KEYS.m1only}` } });
    assertOpenAIError(one, 404, { code: 'model_not_found' });
    const listed = await sdk(gw, YAML_KEYS.m1only).models.list();
    assert.deepEqual(listed.data.map((m) => m.id), [OPEN]);
  });

  it('the admin API needs an admin key', async () => {
    assertOpenAIError(await http(`${gw.url}/admin/keys`), 401);
    assertOpenAIError(await http(`${gw.url}/admin/keys`, { headers: { authorization: `Bearer ${YAML_KEYS.alpha}` } }), 401);
    assert.equal((await admin(gw, 'GET', '/admin/keys')).status, 200);
  });

  it('admin: a new customer and key work at once; the secret is shown only at creation', async () => {
    let r = await admin(gw, 'POST', '/admin/customers', { id: 'beta', name: 'Beta Ltd' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.id, 'beta');
    r = await admin(gw, 'POST', '/admin/keys', { customer: 'beta', name: 'ci', limits: { requestsPerMinute: 100 } });
    assert.equal(r.status, 201, r.text);
    betaKey = r.json.key;
    betaKeyId = r.json.id;
    assert.match(betaKey, new RegExp(`^ig-${betaKeyId}-[A-Za-z0-9_-]{43}$`));
    const c = await sdk(gw, betaKey).chat.completions.create(chatBody(OPEN));
    assert.equal(c.object, 'chat.completion');
    r = await admin(gw, 'GET', `/admin/keys/${betaKeyId}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.key, undefined);
    assert.ok(!r.text.includes(betaKey.slice(-43)), 'the secret is not shown again');
    assert.equal(r.json.limits.requestsPerMinute, 100);
    r = await admin(gw, 'GET', '/admin/keys?customer=beta');
    assert.deepEqual(r.json.data.map((k) => k.id), [betaKeyId]);
    r = await admin(gw, 'GET', '/admin/customers');
    assert.deepEqual(r.json.data.map((c) => c.id).sort(), ['acme', 'beta']);
  });

  it('admin: rotate → the old secret is 401 and the new one works; revoke → 401', async () => {
    const r = await admin(gw, 'POST', '/admin/keys', { customer: 'beta', id: 'rot-1' });
    assert.equal(r.status, 201, r.text);
    const old = r.json.key;
    assert.equal((await chat(gw, old)).status, 200);
    const rot = await admin(gw, 'POST', '/admin/keys/rot-1/rotate');
    assert.equal(rot.status, 200, rot.text);
    const fresh = rot.json.key;
    assert.notEqual(fresh, old);
    assertOpenAIError(await chat(gw, old, OPEN, 'h2c'), 401, { code: 'invalid_api_key' });
    assert.equal((await chat(gw, fresh, OPEN, 'h2c')).status, 200);
    const rev = await admin(gw, 'POST', '/admin/keys/rot-1/revoke');
    assert.equal(rev.status, 200, rev.text);
    assert.equal(rev.json.status, 'revoked');
    const e = assertOpenAIError(await chat(gw, fresh), 401, { code: 'invalid_api_key' });
    assert.match(e.message, /revoked/);
    await assert.rejects(sdk(gw, fresh).chat.completions.create(chatBody(OPEN)), OpenAI.AuthenticationError);
    // YAML keys are changed in YAML
    assert.equal((await admin(gw, 'POST', '/admin/keys/y-alpha/revoke')).status, 409);
  });

  it('admin: publishing a model shows it only to its customers, with its limits', async () => {
    let r = await admin(gw, 'POST', `/admin/models/${PUB}/publish`, { customers: ['beta'], limits: { tokensPerMinute: 5000 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.published, true);
    assert.deepEqual(r.json.customers.map((c) => c.customer), ['beta']);
    assert.equal(r.json.customers[0].limits.tokensPerMinute, 5000);
    assert.deepEqual(await modelIds(gw, betaKey), [OPEN, PUB].sort());
    assert.deepEqual(await modelIds(gw, YAML_KEYS.alpha), [OPEN]);
    assert.equal((await chat(gw, betaKey, PUB, 'h2c')).status, 200);
    assertOpenAIError(await chat(gw, YAML_KEYS.alpha, PUB, 'h2c'), 404, { code: 'model_not_found' });
    r = await admin(gw, 'GET', '/admin/models');
    const pub = r.json.data.find((m) => m.id === PUB);
    const open = r.json.data.find((m) => m.id === OPEN);
    assert.equal(pub.published, true);
    assert.equal(open.published, false);
    // unpublished: open to every key again
    assert.equal((await admin(gw, 'DELETE', `/admin/models/${PUB}/publish`)).status, 200);
    assert.deepEqual(await modelIds(gw, YAML_KEYS.alpha), [OPEN, PUB].sort());
    r = await admin(gw, 'POST', `/admin/models/${PUB}/publish`, { customers: ['beta'] });
    assert.equal(r.status, 200);
  });

  it('admin: bad input is a 400 naming the field, and nothing is written', async () => {
    const before = {
      keys: (await admin(gw, 'GET', '/admin/keys')).text,
      customers: (await admin(gw, 'GET', '/admin/customers')).text,
      models: (await admin(gw, 'GET', '/admin/models')).text,
    };
    const huge = 'x'.repeat(10000);
    const cases = [
      ['POST', '/admin/customers', { id: 'gamma', name: huge }, 'name'],
      ['POST', '/admin/customers', { id: huge }, 'id'],
      ['POST', '/admin/customers', { id: 'gamma', plan: 'gold' }, 'plan'],
      ['POST', '/admin/customers', { id: 42 }, 'id'],
      ['POST', '/admin/customers', { id: 'gamma', limits: { requestsPerMinute: '60' } }, 'limits.requestsPerMinute'],
      ['POST', '/admin/customers', { id: 'gamma', limits: { requestsPerMinute: -1 } }, 'limits.requestsPerMinute'],
      ['POST', '/admin/keys', { customer: 'beta', models: 'all' }, 'models'],
      ['POST', '/admin/keys', { customer: 'beta', models: [OPEN, 7] }, 'models[1]'],
      ['POST', '/admin/keys', { customer: 'beta', expires: 'tomorrow' }, 'expires'],
      ['POST', '/admin/keys', { customer: 'beta', hash: sha('x') }, 'hash'],
      ['POST', '/admin/keys', { customer: 'nobody' }, 'customer'],
      ['POST', '/admin/keys', { customer: 'beta', limits: { rpm: 5 } }, 'limits.rpm'],
      ['PUT', `/admin/keys/${betaKeyId}/limits`, { burst: 1.5 }, 'burst'],
      ['PUT', '/admin/customers/beta/limits', { maxConcurrent: true }, 'maxConcurrent'],
      ['POST', `/admin/models/${OPEN}/publish`, { customers: ['beta', 'nobody'] }, 'customers[1]'],
      ['POST', `/admin/models/${OPEN}/publish`, { customers: 'beta' }, 'customers'],
      ['POST', `/admin/models/${OPEN}/publish`, { customers: ['beta'], limits: { tokensPerHour: 1e30 } }, 'limits.tokensPerHour'],
    ];
    for (const [method, p, body, param] of cases) {
      const r = await admin(gw, method, p, body);
      assertOpenAIError(r, 400, { type: 'invalid_request_error', param });
    }
    // not JSON, not an object, empty
    for (const body of ['{"customer":', '[1,2]', '"beta"', '']) {
      const r = await curl(`${gw.url}/admin/keys`, { mode: 'h2c', body, headers: { authorization: `Bearer ${ADMIN}` } });
      assertOpenAIError(r, 400, { type: 'invalid_request_error' });
    }
    assert.equal((await admin(gw, 'GET', '/admin/keys')).text, before.keys);
    assert.equal((await admin(gw, 'GET', '/admin/customers')).text, before.customers);
    assert.equal((await admin(gw, 'GET', '/admin/models')).text, before.models);
    assert.deepEqual(await modelIds(gw, YAML_KEYS.alpha), [OPEN], 'the failed publish of open-model changed nothing');
  });

  it('SIGHUP: YAML keys change, stored keys and the limits set through the admin API stay', async () => {
    let r = await admin(gw, 'PUT', `/admin/keys/${betaKeyId}/limits`, { requestsPerMinute: 42, maxConcurrent: 3 });
    assert.equal(r.status, 200, r.text);
    r = await admin(gw, 'PUT', '/admin/customers/beta/limits', { tokensPerHour: 123456 });
    assert.equal(r.status, 200, r.text);
    const yaml = fs.readFileSync(gw.configPath, 'utf8');
    const next = yaml.replace(sha(YAML_KEYS.alpha).split(':')[1], sha(YAML_KEYS.alpha2).split(':')[1]);
    assert.notEqual(next, yaml);
    fs.writeFileSync(gw.configPath, next);
    await reload(gw);
    assertOpenAIError(await chat(gw, YAML_KEYS.alpha), 401, { code: 'invalid_api_key' });
    assert.equal((await chat(gw, YAML_KEYS.alpha2, OPEN, 'h2c')).status, 200);
    assert.equal((await chat(gw, betaKey, PUB)).status, 200);
    r = await admin(gw, 'GET', `/admin/keys/${betaKeyId}`);
    assert.equal(r.json.limits.requestsPerMinute, 42);
    assert.equal(r.json.limits.maxConcurrent, 3);
    r = await admin(gw, 'GET', '/admin/customers/beta');
    assert.equal(r.json.limits.tokensPerHour, 123456);
    // a reload that breaks the key list is refused and changes nothing
    fs.writeFileSync(gw.configPath, next.replace(/hash: "sha256:[0-9a-f]+"/, 'hash: "sha256:nothex"'));
    process.kill(gw.child.pid, 'SIGHUP');
    await waitFor(() => /plugins\.options\.apikey\.keys\[0\]\.hash/.test(gw.stderr), { what: 'refused reload logged', timeoutMs: 10000 });
    assert.equal((await chat(gw, YAML_KEYS.alpha2)).status, 200);
  });

  it('stored keys, limits and publications survive a restart on the same stateDir', async () => {
    await gw.checkAliveAndStop();
    gw = await startGateway(gatewayConfig(sim, stateDir, apikeyOptions()));
    assert.equal((await chat(gw, betaKey, PUB, 'h2c')).status, 200);
    assertOpenAIError(await chat(gw, YAML_KEYS.alpha, PUB), 404, { code: 'model_not_found' });
    const r = await admin(gw, 'GET', `/admin/keys/${betaKeyId}`);
    assert.equal(r.json.limits.requestsPerMinute, 42);
    const rev = await admin(gw, 'GET', '/admin/keys/rot-1');
    assert.equal(rev.json.status, 'revoked');
    assert.ok(fs.existsSync(path.join(stateDir, 'keys.db')));
    await gw.checkAliveAndStop();
    await sim.stop();
  });
});

describe('apikey + ratelimit: limits from the admin API are enforced and survive SIGHUP', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({ models: [OPEN, PUB] });
    const cfg = gatewayConfig(sim, path.join(tmpDir(), 'state-rl'), apikeyOptions());
    cfg.plugins.load.push('ratelimit');
    gw = await startGateway(cfg);
  });

  const statuses = async (key, m, n) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push((await chat(gw, key, m, i % 2 ? 'h2c' : 'h1')).status);
    return out;
  };

  it('a key limit set through the admin API, then a SIGHUP, then a raised limit', async () => {
    assert.equal((await admin(gw, 'POST', '/admin/customers', { id: 'rl-cust' })).status, 201);
    const k = await admin(gw, 'POST', '/admin/keys', { customer: 'rl-cust', limits: { requestsPerMinute: 2 } });
    assert.equal(k.status, 201, k.text);
    assert.deepEqual(await statuses(k.json.key, OPEN, 3), [200, 200, 429]);
    const r = await chat(gw, k.json.key);
    const e = assertOpenAIError(r, 429, { type: 'rate_limit_exceeded' });
    assert.match(e.message, new RegExp(k.json.id));
    await reload(gw);
    assert.deepEqual(await statuses(k.json.key, OPEN, 1), [429], 'the stored limit is still there after SIGHUP');
    assert.equal((await admin(gw, 'PUT', `/admin/keys/${k.json.id}/limits`, { requestsPerMinute: 4 })).status, 200);
    assert.deepEqual(await statuses(k.json.key, OPEN, 3), [200, 200, 429]);
    // the customer's limit is shared by its keys
    assert.equal((await admin(gw, 'PUT', '/admin/customers/rl-cust/limits', { requestsPerMinute: 1 })).status, 200);
    const k2 = await admin(gw, 'POST', '/admin/keys', { customer: 'rl-cust' });
    assert.deepEqual(await statuses(k2.json.key, OPEN, 2), [200, 429], 'one request per minute for all of rl-cust');
    const e2 = assertOpenAIError(await chat(gw, k2.json.key), 429, { type: 'rate_limit_exceeded' });
    assert.match(e2.message, /rl-cust/);
  });

  it('a publication\'s limits apply to the model for that customer only', async () => {
    assert.equal((await admin(gw, 'POST', '/admin/customers', { id: 'pub-cust' })).status, 201);
    const k = await admin(gw, 'POST', '/admin/keys', { customer: 'pub-cust' });
    const p = await admin(gw, 'POST', `/admin/models/${PUB}/publish`, { customers: ['pub-cust'], limits: { requestsPerMinute: 1 } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(await statuses(k.json.key, PUB, 2), [200, 429]);
    assert.deepEqual(await statuses(k.json.key, OPEN, 2), [200, 200], 'other models are not limited by it');
    await reload(gw);
    assert.deepEqual(await statuses(k.json.key, PUB, 1), [429]);
    await gw.checkAliveAndStop();
    await sim.stop();
  });
});
