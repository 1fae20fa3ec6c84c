// Auth and rate-limit plugins that answer later (IG_PENDING, then host->auth_done / admit_done from a
// uv timer on the worker's loop): the test plugins asyncauth and asynclimit (tests/integration/plugins)
// next to the real vllm, leastload and ratelimit. Requests are admitted or refused after the wait; the
// worker serves other requests meanwhile (one worker thread); a client that leaves while a plugin
// decides makes the core cancel that call exactly once; a reload during waits loses nothing;
// /v1/models waits for a late authenticate too; a plugin that answers later without a cancel function
// gets a 500 naming it; at shutdown waiting requests are cut and the plugins' on_worker_exit hooks run,
// also those of a plugin a reload dropped (it stays loaded until then).
// Only counts are asserted, never timings.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import {
  BUILD_DIR, PLUGINS_DIR, SLOW, assertOpenAIError, chatBody, http, model, startGateway, startSim, tmpDir, toYaml, waitFor,
} from './harness.mjs';

const WAIT = { timeoutMs: SLOW ? 20000 : 10000 };
const TEST_PLUGINS = path.join(BUILD_DIR, 'tests/integration/test-plugins');

/** One plugins.dir holding the real plugins and the test ones (symbolic links). */
function pluginDir() {
  const dir = path.join(tmpDir(), 'plugins');
  fs.mkdirSync(dir, { recursive: true });
  for (const p of ['vllm', 'leastload', 'ratelimit']) fs.symlinkSync(path.join(PLUGINS_DIR, `${p}.so`), path.join(dir, `${p}.so`));
  for (const p of ['asyncauth', 'asynclimit', 'asynclimit_nocancel']) {
    fs.symlinkSync(path.join(TEST_PLUGINS, `${p}.so`), path.join(dir, `${p}.so`));
  }
  return dir;
}

/** An h2c session whose requests are started now and read later. */
function h2Session(url) {
  const session = http2.connect(url);
  session.on('error', () => {});
  const start = (reqPath, { method = 'POST', body, key } = {}) => {
    const headers = { ':method': method, ':path': reqPath };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (key) headers.authorization = `Bearer ${key}`;
    const req = session.request(headers);
    req.on('error', () => {});
    const done = new Promise((resolve) => {
      let h;
      let text = '';
      req.setEncoding('utf8');
      req.on('response', (x) => (h = x));
      req.on('data', (d) => (text += d));
      req.on('close', () => {
        let json;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: h?.[':status'] ?? 0, headers: h || {}, text, json });
      });
    });
    if (body !== undefined) req.end(JSON.stringify(body));
    else req.end();
    return { req, done };
  };
  return { session, start };
}

describe('plugins that answer later (IG_PENDING)', () => {
  let sim, gw, dir;
  const stats = async (p) => (await http(`${gw.url}/test/${p}/stats`)).json;
  const release = async (p) => assert.equal((await http(`${gw.url}/test/${p}/release`, { method: 'POST' })).status, 200);
  const chat = (m, key, extra) => http(`${gw.url}/v1/chat/completions`, {
    method: 'POST', body: chatBody(m, extra), headers: key ? { authorization: `Bearer ${key}` } : {},
  });

  before(async () => {
    dir = pluginDir();
    sim = await startSim({});
    gw = await startGateway({
      server: { workers: 1, shutdownGracePeriod: '2s' }, // one worker: everything below shares its loop
      plugins: {
        dir,
        load: ['vllm', 'leastload', 'asyncauth', 'asynclimit', 'ratelimit'],
        options: { asyncauth: { delay: '20ms' }, asynclimit: { delay: '20ms' } },
      },
      models: [
        model('chat', [sim]),
        model('sync-chat', [sim]),
        model('limited-chat', [sim]),
        model('held-chat', [sim]),
        model('two-limits', [sim], { limits: { requestsPerMinute: 2 } }),
      ],
    });
  });

  it('admits and refuses correctly once the plugins answer', async () => {
    const a0 = await stats('asyncauth');
    const l0 = await stats('asynclimit');
    const ok = await chat('chat', 'ok-alice');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('x-asynclimit'), 'admitted');
    assert.ok(ok.json.choices.length > 0);

    const badKey = await chat('chat', 'bad-bob');
    assertOpenAIError(badKey, 401, { code: 'invalid_api_key' });
    assert.match(badKey.json.error.message, /refused after a while/);

    const limited = await chat('limited-chat', 'ok-carol');
    assertOpenAIError(limited, 429, { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' });
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal(limited.headers.get('x-asynclimit'), 'refused');
    assert.match(limited.json.error.message, /limited-chat refused after a while/);

    const sync = await chat('sync-chat', 'sync-dave');
    assert.equal(sync.status, 200, sync.text);
    assertOpenAIError(await chat('chat', 'nonsense'), 401, { code: 'invalid_api_key' });

    // 20 at once on one connection, each waiting for both plugins
    const { session, start } = h2Session(gw.url);
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => start('/v1/chat/completions', {
        body: chatBody('chat'), key: `ok-c${i}`,
      }).done));
      assert.deepEqual(rs.map((r) => r.status), Array(20).fill(200));
    } finally {
      session.close();
    }
    const a1 = await stats('asyncauth');
    const l1 = await stats('asynclimit');
    assert.equal(a1.calls - a0.calls, 25);
    assert.equal(a1.later - a0.later, 23, 'ok-alice, bad-bob, ok-carol and 20 ok-c*');
    assert.equal(a1.refused - a0.refused, 1);
    assert.equal(a1.sync - a0.sync, 2, 'sync-dave and nonsense');
    assert.equal(l1.calls - l0.calls, 23, 'the refused keys never reached the limiter');
    assert.equal(l1.refused - l0.refused, 1);
    assert.equal(l1.ok - l0.ok, 21);
    assert.equal(l1.sync - l0.sync, 1);
    // every admission is completed once, when its request is disposed of
    await waitFor(async () => (await stats('asynclimit')).completed - l0.completed === 22, { ...WAIT, what: '22 complete() calls' });
    assert.equal(a1.pending, 0);
    assert.equal(l1.pending, 0);
  });

  it('while admissions wait, the same worker serves /healthz, other models and /v1/models', async () => {
    const l0 = await stats('asynclimit');
    const simBefore = (await sim.stats()).requests;
    const { session, start } = h2Session(gw.url);
    try {
      const held = Array.from({ length: 5 }, () => start('/v1/chat/completions', { body: chatBody('held-chat'), key: 'sync-h' }));
      await waitFor(async () => (await stats('asynclimit')).pending === 5, { ...WAIT, what: '5 admissions waiting' });
      assert.equal((await http(`${gw.url}/healthz`)).status, 200);
      const other = await chat('sync-chat', 'sync-e');
      assert.equal(other.status, 200, other.text);
      const later = await chat('chat', 'ok-f');
      assert.equal(later.status, 200, later.text);
      const models = await http(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer ok-g' } });
      assert.equal(models.status, 200, models.text);
      assert.equal((await sim.stats()).requests - simBefore, 2, 'only the two admitted requests reached the engine');
      assert.equal((await stats('asynclimit')).pending, 5, 'the held ones still wait');
      await release('asynclimit');
      const rs = await Promise.all(held.map((h) => h.done));
      assert.deepEqual(rs.map((r) => r.status), Array(5).fill(200));
      assert.equal((await sim.stats()).requests - simBefore, 7);
    } finally {
      session.close();
    }
    await waitFor(async () => (await stats('asynclimit')).completed - l0.completed === 7, { ...WAIT, what: '7 complete() calls' });
  });

  it('a client that leaves while a plugin decides: cancel exactly once, nothing answered or sent later', async () => {
    const a0 = await stats('asyncauth');
    const l0 = await stats('asynclimit');
    const simBefore = (await sim.stats()).requests;
    const { session, start } = h2Session(gw.url);
    try {
      const admits = Array.from({ length: 3 }, () => start('/v1/chat/completions', { body: chatBody('held-chat'), key: 'sync-x' }));
      const auths = Array.from({ length: 2 }, () => start('/v1/chat/completions', { body: chatBody('chat'), key: 'hold-y' }));
      const listing = start('/v1/models', { method: 'GET', key: 'hold-z' });
      await waitFor(async () => (await stats('asynclimit')).pending === 3 && (await stats('asyncauth')).pending === 3,
        { ...WAIT, what: '3 admissions and 3 authentications waiting' });
      for (const r of [...admits, ...auths, listing]) r.req.close(http2.constants.NGHTTP2_CANCEL);
      await waitFor(async () => (await stats('asynclimit')).pending === 0 && (await stats('asyncauth')).pending === 0,
        { ...WAIT, what: 'the waits cancelled' });
      // a later release finds nothing to answer
      await release('asynclimit');
      await release('asyncauth');
      const rs = await Promise.all([...admits, ...auths, listing].map((r) => r.done));
      assert.ok(rs.every((r) => r.status === 0), 'no answer reached the clients');
    } finally {
      session.close();
    }
    const a1 = await stats('asyncauth');
    const l1 = await stats('asynclimit');
    assert.equal(l1.cancelled - l0.cancelled, 3);
    assert.equal(a1.cancelled - a0.cancelled, 3);
    assert.equal(l1.later - l0.later, 0);
    assert.equal(a1.later - a0.later, 0);
    assert.equal(l1.completed - l0.completed, 0, 'a cancelled admission is never completed');
    assert.equal((await sim.stats()).requests, simBefore, 'nothing reached the engine');
    // and the gateway still answers on the same worker
    assert.equal((await chat('chat', 'ok-w')).status, 200);
  });

  it('/v1/models waits for a late authenticate', async () => {
    const ok = await http(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer ok-m' } });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.data.map((m) => m.id).sort(), ['chat', 'held-chat', 'limited-chat', 'sync-chat', 'two-limits']);
    const one = await http(`${gw.url}/v1/models/chat`, { headers: { 'x-api-key': 'ok-m' } });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.id, 'chat');
    assertOpenAIError(await http(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer bad-m' } }), 401);
    const a0 = await stats('asyncauth');
    const { session, start } = h2Session(gw.url);
    try {
      const held = [start('/v1/models', { method: 'GET', key: 'hold-m' }), start('/v1/models/sync-chat', { method: 'GET', key: 'hold-m' })];
      await waitFor(async () => (await stats('asyncauth')).pending === 2, { ...WAIT, what: '2 listings waiting' });
      await release('asyncauth');
      const [list, get] = await Promise.all(held.map((h) => h.done));
      assert.equal(list.status, 200, list.text);
      assert.equal(list.json.data.length, 5);
      assert.equal(get.status, 200, get.text);
      assert.equal(get.json.id, 'sync-chat');
    } finally {
      session.close();
    }
    assert.equal((await stats('asyncauth')).later - a0.later, 2);
  });

  it('two limiters in order: the late one admits, the second refuses; both admissions completed', async () => {
    const l0 = await stats('asynclimit');
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await chat('two-limits', 'sync-t');
      statuses.push(r.status);
      assert.equal(r.headers.get('x-asynclimit'), 'admitted', 'the first limiter answered every time');
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '2', 'the second limiter\'s headers too');
      if (r.status === 429) assertOpenAIError(r, 429, { code: 'rate_limit_exceeded' });
    }
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    await waitFor(async () => (await stats('asynclimit')).completed - l0.completed === 4,
      { ...WAIT, what: 'complete() for all 4 admissions of the first limiter' });
  });

  it('a reload while requests wait for plugins loses none of them', async () => {
    const l0 = await stats('asynclimit');
    const a0 = await stats('asyncauth');
    const { session, start } = h2Session(gw.url);
    try {
      const waiting = [
        ...Array.from({ length: 4 }, () => start('/v1/chat/completions', { body: chatBody('held-chat'), key: 'sync-r' })),
        ...Array.from({ length: 2 }, () => start('/v1/chat/completions', { body: chatBody('chat'), key: 'hold-r' })),
        start('/v1/models', { method: 'GET', key: 'hold-r' }),
      ];
      await waitFor(async () => (await stats('asynclimit')).pending === 4 && (await stats('asyncauth')).pending === 3,
        { ...WAIT, what: '4 admissions and 3 authentications waiting' });
      const reloads = (gw.stderr.match(/reloaded /g) || []).length;
      process.kill(gw.child.pid, 'SIGHUP');
      await waitFor(() => (gw.stderr.match(/reloaded /g) || []).length === reloads + 1, { ...WAIT, what: 'the reload' });
      // new requests run on the new generation meanwhile
      assert.equal((await chat('chat', 'ok-n')).status, 200);
      await release('asyncauth');
      // the authenticated two now wait for admission (chat is admitted after the delay) as well
      await waitFor(async () => (await stats('asyncauth')).pending === 0, { ...WAIT, what: 'authentications answered' });
      await release('asynclimit');
      const rs = await Promise.all(waiting.map((w) => w.done));
      assert.deepEqual(rs.map((r) => r.status), Array(7).fill(200), rs.map((r) => r.text.slice(0, 200)).join('\n'));
    } finally {
      session.close();
    }
    const a1 = await stats('asyncauth');
    assert.equal(a1.later - a0.later, 4, '3 held + ok-n');
    await waitFor(async () => (await stats('asynclimit')).completed - l0.completed === 7, { ...WAIT, what: '7 complete() calls' });
    const l1 = await stats('asynclimit');
    assert.equal(l1.cancelled - l0.cancelled, 0);
    assert.equal(l1.fini_with_pending + a1.fini_with_pending, 0, 'no generation was freed while its plugin had requests waiting');
  });

  it('SIGTERM: requests still waiting at the end of the grace period get a 503; the plugins\' worker-exit hooks run', async () => {
    const { session, start } = h2Session(gw.url);
    const waiting = [
      start('/v1/chat/completions', { body: chatBody('held-chat'), key: 'sync-s' }),
      start('/v1/chat/completions', { body: chatBody('chat'), key: 'hold-s' }),
      start('/v1/models', { method: 'GET', key: 'hold-s' }),
    ];
    await waitFor(async () => (await stats('asynclimit')).pending === 1 && (await stats('asyncauth')).pending === 2,
      { ...WAIT, what: 'one admission and two authentications waiting' });
    const stopped = gw.checkAliveAndStop();
    const rs = await Promise.all(waiting.map((w) => w.done));
    session.close();
    for (const r of rs) assertOpenAIError(r, 503, { code: 'shutting_down' });
    await stopped;
    assert.match(gw.stderr, /asynclimit.*worker 0 exit hook: timer closed/);
    assert.match(gw.stderr, /asyncauth.*worker 0 exit hook: timer closed/);
    assert.doesNotMatch(gw.stderr, /cancel for a request that does not wait here|complete\(\) for a request it did not admit/);
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});

describe('a rate limiter that answers later without a cancel function', () => {
  it('is a plugin bug: 500 naming the plugin, logged', async () => {
    const dir = path.join(tmpDir(), 'plugins'); // made by the first describe
    const sim = await startSim({});
    const gw = await startGateway({
      plugins: { dir, load: ['vllm', 'leastload', 'asynclimit_nocancel'] },
      models: [model('chat', [sim])],
    });
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
    assertOpenAIError(r, 500, { type: 'server_error' });
    assert.match(r.json.error.message, /asynclimit_nocancel/);
    assert.match(gw.stderr, /rate limiter `asynclimit_nocancel` answered IG_PENDING but has no cancel function/);
    assert.equal((await sim.stats()).requests, 0);
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});

describe('a plugin with worker-exit hooks that a reload drops', () => {
  it('stays loaded until exit, where its hooks still run', async () => {
    const dir = path.join(tmpDir(), 'plugins');
    const sim = await startSim({});
    const cfg = (load) => ({
      server: { workers: 1, logLevel: 'info' },
      plugins: { dir, load },
      models: [model('chat', [sim])],
    });
    const gw = await startGateway({ ...cfg(['vllm', 'leastload', 'asynclimit']), server: { workers: 1 } });
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-asynclimit'), 'admitted', 'the limiter answered, from its timer on worker 0');
    const listen = fs.readFileSync(gw.configPath, 'utf8').match(/listen:\n(\s+- .*\n)/)[1];
    const next = cfg(['vllm', 'leastload']);
    fs.writeFileSync(gw.configPath, toYaml(next).replace(/server:\n/, `server:\n  listen:\n${listen}`));
    process.kill(gw.child.pid, 'SIGHUP');
    await waitFor(() => /plugin asynclimit: no configuration uses it any more; kept loaded until exit/.test(gw.stderr),
      { ...WAIT, what: 'the dropped plugin kept loaded' });
    const after = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
    assert.equal(after.status, 200, after.text);
    assert.equal(after.headers.get('x-asynclimit'), null, 'the reload dropped the limiter');
    await gw.checkAliveAndStop();
    assert.match(gw.stderr, /asynclimit.*worker 0 exit hook: timer closed/);
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
