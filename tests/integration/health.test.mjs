// Health checks: active probes on /health, passive ejection on failed requests, recovery probes,
// vLLM's /metrics as a load signal, and what a client sees while endpoints come and go.
//
// Every test has its own simulators and gateway (healthCheck.interval 200ms), so the health state of
// one case cannot leak into another. Timings are only ever waited for, never asserted.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startGateway, model, http, chatBody, assertOpenAIError, waitFor, freePort, SLOW,
} from './harness.mjs';
import { parsePrometheus, value } from './prometheus.mjs';
import fs from 'node:fs';
import net from 'node:net';

const HEALTH = { interval: '200ms', timeout: '500ms', healthyThreshold: 1, unhealthyThreshold: 3 };
const WAIT = SLOW ? 30000 : 10000;

function chat(gw, extra = {}) {
  return http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat', { max_tokens: 4, ...extra }) });
}

/** Sends n requests, c at a time, calling onProgress(done) after each; resolves to the responses. */
async function stream(gw, n, c, onProgress = () => {}) {
  const out = new Array(n);
  let next = 0;
  let done = 0;
  async function lane() {
    while (next < n) {
      const i = next++;
      out[i] = await chat(gw);
      await onProgress(++done);
    }
  }
  await Promise.all(Array.from({ length: c }, lane));
  return out;
}

function assertAllOk(responses, what) {
  const bad = responses.filter((r) => r.status !== 200);
  assert.equal(bad.length, 0, `${what}: ${bad.length} of ${responses.length} failed, first: ${bad[0]?.status} ${bad[0]?.text}`);
  for (const r of responses) assert.equal(r.json?.object, 'chat.completion');
}

const count = (text, re) => (text.match(new RegExp(re.source, 'g')) || []).length;
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const unhealthyRe = (url, how = '') => new RegExp(`endpoint ${esc(url)} is unhealthy: ${how}`);
const healthyRe = (url) => new RegExp(`endpoint ${esc(url)} is healthy again`);

/** Waits until gw's stderr holds at least `atLeast` matches of re. */
function waitForLog(gw, re, atLeast = 1, what = re.source) {
  return waitFor(() => count(gw.stderr, re) >= atLeast, { timeoutMs: WAIT, intervalMs: 25, what: `${what}\n${gw.tail()}` });
}

/** Access-log records of chat requests (the gateway writes them as JSON lines on stdout). */
function accessLog(gw) {
  const records = [];
  for (const line of gw.stdout.split('\n')) {
    try {
      const r = JSON.parse(line);
      if (r.path === '/v1/chat/completions') records.push(r);
    } catch {} // not a record, or one still being written
  }
  return records;
}

/** Waits until the gateway's /metrics shows each endpoint's engine load (from its /metrics) as given. */
function waitForLoad(gw, want) {
  return waitFor(async () => {
    const f = parsePrometheus(await (await fetch(`${gw.url}/metrics`)).text());
    return Object.entries(want).every(([endpoint, v]) => value(f, 'infergate_endpoint_engine_load', { endpoint }) === v);
  }, { timeoutMs: WAIT, what: `engine loads ${JSON.stringify(want)} in the gateway's /metrics` });
}

async function stopAll(gw, sims) {
  await gw.checkAliveAndStop();
  for (const s of sims) if (s.alive()) await s.stop({ timeoutMs: 3000 });
}

describe('health checks', () => {
  it('one of three engines killed mid-run: no client-visible failure, then no traffic, and back once restarted', { timeout: 120000 }, async () => {
    const sims = [await startSim(), await startSim(), await startSim()];
    const gw = await startGateway({ models: [model('chat', sims)], server: { healthCheck: HEALTH, connectTimeout: '1s' } });
    const victim = sims[2];
    const { port, url } = victim;

    // a steady stream of non-streamed requests; the third engine dies a third of the way in
    const N = 300;
    const responses = await stream(gw, N, 4, async (done) => {
      if (done === 100) victim.kill('SIGKILL');
    });
    assertAllOk(responses, 'requests while an engine died');
    await victim.exited;

    // ejected (by probes or by failed requests), and from then on never tried again
    await waitForLog(gw, unhealthyRe(url));
    // the access log reaches stdout a little after the answers
    const logged = (n) => waitFor(() => accessLog(gw).length >= n, { timeoutMs: WAIT, what: `${n} access-log records` });
    await logged(N);
    const seen = accessLog(gw).length;
    await Promise.all(sims.slice(0, 2).map((s) => s.resetStats()));
    const after = await stream(gw, 60, 4);
    assertAllOk(after, 'requests after the ejection');
    await logged(seen + 60);
    const records = accessLog(gw).slice(seen);
    assert.equal(records.length, 60);
    assert.ok(records.every((r) => r.attempts === 1 && r.endpoint !== url), 'no attempt went to the dead endpoint');
    const st = await Promise.all(sims.slice(0, 2).map((s) => s.stats()));
    assert.equal(st[0].requests + st[1].requests, 60, 'the two live engines served everything');

    // the same address comes back: probed healthy, then it gets its share again
    const reborn = await startSim({ name: 'ig-sim-reborn', args: ['--listen', `127.0.0.1:${port}`] });
    assert.equal(reborn.port, port);
    await waitForLog(gw, healthyRe(url));
    // back in rotation: it serves again (how soon it gets a third of the traffic depends on the
    // engines' reported loads, i.e. on timing: wait for the condition, do not assert a split)
    // (a plain loop: waitFor would retry past a failed request)
    let sent = 0;
    while ((await reborn.stats()).requests < 10) {
      assert.ok(sent < 600, `the restarted engine served ${(await reborn.stats()).requests} of ${sent} requests`);
      assertAllOk(await stream(gw, 12, 4), 'requests after the restart');
      sent += 12;
    }

    await stopAll(gw, [...sims, reborn]);
  });

  it('500s from one engine eject it passively (its /health still answers); the others take the traffic', { timeout: 120000 }, async () => {
    const sims = [await startSim(), await startSim(), await startSim()];
    const gw = await startGateway({ models: [model('chat', sims)], server: { healthCheck: HEALTH } });
    const bad = sims[2];
    await bad.fault('500');

    const responses = await stream(gw, 150, 2);
    assertAllOk(responses, 'requests while one engine answers 500'); // each 500 was retried elsewhere
    await waitForLog(gw, unhealthyRe(bad.url, '3 requests in a row failed'));
    const [a, b, c] = await Promise.all(sims.map((s) => s.stats()));
    // re-admitted now and then by its successful /health, ever more rarely: far less than its share
    assert.ok(c.requests < a.requests / 2 && c.requests < b.requests / 2,
      `the failing engine got ${c.requests} requests, the others ${a.requests} and ${b.requests}`);
    assert.equal(a.requests + b.requests, 150, 'every request was answered by a healthy engine');

    // fixed: the recovery probes let it back in and it serves again
    await fetch(`${bad.url}/sim/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'none' }) });
    await bad.resetStats();
    const after = []; // judged after the wait: waitFor would retry past a failed request
    await waitFor(async () => {
      after.push(...await stream(gw, 12, 2));
      return (await bad.stats()).requests > 0;
    }, { timeoutMs: WAIT, intervalMs: 100, what: 'the fixed engine to get traffic again' });
    assertAllOk(after, 'requests after the fix');

    await stopAll(gw, sims);
  });

  it('an engine refusing connections is probed unhealthy, requests avoid it, and it recovers', { timeout: 120000 }, async () => {
    const sims = [await startSim(), await startSim()];
    const gw = await startGateway({ models: [model('chat', sims)], server: { healthCheck: HEALTH, accessLog: 'off' } });
    const [good, bad] = sims;
    const r = await fetch(`${bad.url}/sim/fault`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'refuse', duration_ms: SLOW ? 4000 : 2000 }),
    });
    assert.equal(r.status, 200);
    await waitForLog(gw, unhealthyRe(bad.url));
    await good.resetStats();
    assertAllOk(await stream(gw, 20, 2), 'requests while one engine refuses');
    assert.equal((await good.stats()).requests, 20, 'the healthy engine served them all, without retries');
    await waitForLog(gw, healthyRe(bad.url)); // the fault expires by itself
    await bad.resetStats();
    assertAllOk(await stream(gw, 20, 2), 'requests after the recovery');
    assert.ok((await bad.stats()).requests > 0, 'the recovered engine serves again');
    await stopAll(gw, sims);
  });

  it('every endpoint unhealthy: a clean OpenAI-shaped error, no crash', { timeout: 120000 }, async () => {
    const sims = [await startSim(), await startSim()];
    const dead = `http://127.0.0.1:${await freePort()}`;
    const gw = await startGateway({
      models: [model('chat', sims), model('gone', [dead], { servedModelName: 'chat' })],
      server: { healthCheck: HEALTH, connectTimeout: '1s', queue: { timeout: '500ms' } },
    });
    const readyz = () => http(`${gw.url}/readyz`);
    const ok = await readyz();
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.status, 'ready');
    for (const s of sims) {
      const r = await fetch(`${s.url}/sim/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'refuse' }) });
      assert.equal(r.status, 200);
    }
    for (const u of [...sims.map((s) => s.url), dead]) await waitForLog(gw, unhealthyRe(u));
    // not ready to route: 503, naming why for each model
    const nr = await readyz();
    assert.equal(nr.status, 503, nr.text);
    assert.equal(nr.json.status, 'not ready');
    assert.deepEqual(nr.json.models, [
      { model: 'chat', endpoints: 2, healthy: 0, reason: 'every endpoint is unhealthy' },
      { model: 'gone', endpoints: 1, healthy: 0, reason: 'every endpoint is unhealthy' },
    ]);

    for (const name of ['chat', 'gone']) {
      for (let i = 0; i < 3; i++) {
        const res = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody(name) });
        assert.ok([502, 503].includes(res.status), `${name}: status ${res.status} ${res.text}`);
        assertOpenAIError(res, res.status);
      }
    }
    // all answering 500 instead (/health fine, every request failing): still a clean error
    for (const s of sims) s.kill('SIGUSR1'); // clears refuse
    for (const s of sims) {
      await waitFor(async () => (await (await fetch(`${s.url}/sim/fault`)).json()).mode === 'none', { what: 'SIGUSR1 to clear the fault' });
    }
    // probed healthy again: ready again ('gone' still is not)
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: WAIT, what: '/readyz 200 once the engines answer' });
    assert.deepEqual((await readyz()).json, { status: 'ready', models: 2, models_ready: 1 });
    for (const s of sims) await s.fault('500');
    for (let i = 0; i < 8; i++) {
      const res = await chat(gw);
      assert.ok(res.status >= 500, `status ${res.status}`);
      assertOpenAIError(res, res.status);
    }
    assert.ok(count(gw.stderr, /endpoint .* is unhealthy: 3 requests in a row failed/) >= 1);
    await stopAll(gw, sims);
  });

  it('an engine that accepts but never answers fails its probes by timeout; SIGTERM mid-probe is clean', { timeout: 120000 }, async () => {
    const held = new Set();
    const hole = net.createServer((sock) => {
      held.add(sock);
      sock.on('error', () => {});
      sock.on('close', () => held.delete(sock));
    });
    await new Promise((r) => hole.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${hole.address().port}`;
    const sim = await startSim();
    try {
      // timeout 500ms > interval 200ms: a probe is nearly always in flight
      const gw = await startGateway({ models: [model('chat', [sim.url, url])], server: { healthCheck: HEALTH } });
      await waitForLog(gw, unhealthyRe(url, '3 probes failed \\(no answer within 500 ms\\)'));
      assertAllOk(await stream(gw, 10, 2), 'requests beside the black hole');
      await waitFor(() => held.size > 0, { what: 'a probe connection held open' });
      await stopAll(gw, [sim]);
    } finally {
      for (const s of held) s.destroy();
      hole.close();
    }
  });

  it('follows reloads: an endpoint added by SIGHUP is probed', { timeout: 120000 }, async () => {
    const sim = await startSim();
    const gw = await startGateway({ models: [model('chat', [sim])], server: { healthCheck: HEALTH } });
    const dead = `http://127.0.0.1:${await freePort()}`;
    const text = fs.readFileSync(gw.configPath, 'utf8');
    const next = text.replace(`- "${sim.url}"`, `- "${sim.url}"\n      - "${dead}"`);
    assert.notEqual(next, text, `could not edit the config:\n${text}`);
    fs.writeFileSync(gw.configPath, next);
    gw.kill('SIGHUP');
    await waitForLog(gw, /reloaded .*generation 2/);
    await waitForLog(gw, unhealthyRe(dead, '3 probes failed'));
    assertAllOk(await stream(gw, 10, 2), 'requests after the reload');
    await stopAll(gw, [sim]);
  });

  it("uses vLLM's /metrics as load: an engine busy with other clients gets less traffic", { timeout: 120000 }, async () => {
    // other clients hold 6 slow streams open on `busy`, directly: the gateway cannot count them itself
    const busy = await startSim({ args: ['--token-rate', '2'] });
    const idle = await startSim();
    const gw = await startGateway({ models: [model('chat', [busy, idle])], server: { healthCheck: HEALTH } });
    const ac = new AbortController();
    const direct = Array.from({ length: 6 }, () =>
      fetch(`${busy.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chatBody('chat', { max_tokens: 100, stream: true })),
        signal: ac.signal,
      }).then((r) => r.arrayBuffer(), () => {}).catch(() => {})); // read until aborted
    try {
      await waitFor(async () => (await busy.stats()).active_streams === 6, { timeoutMs: WAIT, what: 'the direct streams' });
      // the gateway has read both engines' /metrics since: what it routes on is what it shows
      await waitForLoad(gw, { [busy.url]: 6, [idle.url]: 0 });
      await Promise.all([busy.resetStats(), idle.resetStats()]);
      assertAllOk(await stream(gw, 20, 1), 'requests while the other engine is busy');
      const [b, i] = await Promise.all([busy.stats(), idle.stats()]);
      assert.equal(b.requests, 0, `the busy engine got ${b.requests} of 20 (idle: ${i.requests})`);
      assert.equal(i.requests, 20);
    } finally {
      ac.abort();
      await Promise.allSettled(direct);
    }
    // once the other clients are gone, both engines share the traffic again
    await waitFor(async () => (await busy.stats()).active_streams === 0, { timeoutMs: WAIT, what: 'the direct streams to end' });
    await waitForLoad(gw, { [busy.url]: 0, [idle.url]: 0 });
    await Promise.all([busy.resetStats(), idle.resetStats()]);
    assertAllOk(await stream(gw, 20, 1), 'requests once both are idle');
    const b = await busy.stats();
    assert.ok(b.requests >= 5, `the formerly busy engine got ${b.requests} of 20`);
    await stopAll(gw, [busy, idle]);
  });
});
