// Hot reload under sustained mixed load, counted exactly.
//
// Clients: HTTP/1.1 plain and streamed (fetch), HTTP/2 plain and streamed (node:http2 on one h2c
// session), and h2load over h2c, all on model `chat`, which every config has. Meanwhile 50 SIGHUPs
// alternate between config A (chat + `extra` with the PrefixHash strategy, so prefixhash.so is
// loaded; ratelimit option and chat's limit one way) and config B (chat only, prefixhash no longer
// listed, so it is unloaded once unused; limits and options the other way), each waited for,
// with invalid files sent in between. Then: zero failed chat requests; /admin/generation and
// /metrics report exactly 50 good and N failed reloads and generation 51; /metrics counts every
// chat request the clients made; a limit lowered by a reload applies to the window counted before
// it (windows survive reloads) and shows in the 429 counter. SIGTERM: a stream that outlives
// server.shutdownGracePeriod ends with an SSE error event, and the process exits 0.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import {
  startSim, startGateway, model, http, run, writeTmp, toYaml, waitFor, parseSSE, chatBody, PLUGINS_DIR, SLOW,
} from './harness.mjs';
import { parsePrometheus, value, sum } from './prometheus.mjs';

const RELOADS = 50;
const ADMIN_KEY = 'reload-load-admin-key';
const adminKeys = [`sha256:${crypto.createHash('sha256').update(ADMIN_KEY).digest('hex')}`];

/** One h2c request on session; resolves {status, text}. */
function h2request(session, body) {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' });
    let status = 0, text = '';
    req.setEncoding('utf8');
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (d) => { text += d; });
    req.on('end', () => resolve({ status, text }));
    req.on('error', (e) => resolve({ status: -1, text: String(e) }));
    req.end(JSON.stringify(body));
  });
}

async function scrape(gw) {
  return parsePrometheus(await (await fetch(`${gw.url}/metrics`)).text());
}

async function generation(gw) {
  return (await http(`${gw.url}/admin/generation`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json;
}

describe('reload under sustained mixed load', () => {
  let sim, gw, listen, configA, configB, configTight;

  before(async () => {
    sim = await startSim({ models: ['chat', 'extra'], args: ['--workers', '2'] });
    gw = await startGateway({ models: [model('chat', [sim])], server: { adminKeys } });
    listen = [`127.0.0.1:${gw.port}`];
    const base = (load, options, models, server = {}) => toYaml({
      server: { listen, workers: 2, adminKeys, ...server },
      plugins: { dir: PLUGINS_DIR, load, options },
      models,
    });
    configA = base(['vllm', 'leastload', 'prefixhash', 'ratelimit'], { ratelimit: { concurrencyLease: '10m' } }, [
      model('chat', [sim], { limits: { requestsPerMinute: 1000000 } }),
      model('extra', [sim], { loadBalancing: { strategy: 'PrefixHash' } }),
    ], { retries: 2 });
    configB = base(['vllm', 'leastload', 'ratelimit'], { ratelimit: { concurrencyLease: '5m' } }, [
      model('chat', [sim], { limits: { requestsPerMinute: 2000000, maxConcurrent: 10000 } }),
    ], { retries: 0, logLevel: 'debug' });
    configTight = base(['vllm', 'leastload', 'ratelimit'], {}, [model('chat', [sim], { limits: { requestsPerMinute: 3 } })]);
  });

  const write = (text) => fs.writeFileSync(gw.configPath, text);
  const hup = () => process.kill(gw.child.pid, 'SIGHUP');
  const count = (re) => (gw.stderr.match(re) || []).length;

  it(`${RELOADS} SIGHUPs (and invalid files) under h1 + h2 load: no failed chat request, exact counts`, { timeout: 600000 }, async () => {
    const before = count(/reloaded /g);
    const bodyFile = writeTmp('reload-load-body.json', JSON.stringify(chatBody('chat', { max_tokens: 4 })));
    const H2LOAD_N = SLOW ? 2000 : 10000;
    const h2 = run('h2load', ['-n', String(H2LOAD_N), '-c', '4', '-m', '4', '-d', bodyFile,
      '-H', 'content-type: application/json', `${gw.url}/v1/chat/completions`], { timeoutMs: 400000 });
    let stop = false;
    const failures = [];
    const made = { h1: 0, h1s: 0, h2: 0, h2s: 0 };
    const h1loop = (async () => {
      while (!stop) {
        const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat', { max_tokens: 3 }) });
        made.h1++;
        if (r.status !== 200 || r.json?.model !== 'chat') failures.push(`h1 plain ${r.status} ${r.text.slice(0, 200)}`);
        const s = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat', { max_tokens: 5, stream: true }) });
        made.h1s++;
        const sse = s.status === 200 ? parseSSE(s.text) : null;
        if (!sse?.done || sse.chunks.length < 5) failures.push(`h1 stream ${s.status} ${s.text.slice(-200)}`);
      }
    })();
    const session = http2.connect(gw.url);
    session.on('error', (e) => failures.push(`h2 session: ${e.message}`));
    const h2loop = (async () => {
      while (!stop) {
        const batch = await Promise.all([
          h2request(session, chatBody('chat', { max_tokens: 3 })),
          h2request(session, chatBody('chat', { max_tokens: 6, stream: true })),
          h2request(session, chatBody('chat', { max_tokens: 2 })),
        ]);
        made.h2 += 2;
        made.h2s += 1;
        batch.forEach((r, i) => {
          if (r.status !== 200) failures.push(`h2 ${r.status} ${r.text.slice(0, 200)}`);
          else if (i === 1 && !parseSSE(r.text).done) failures.push(`h2 stream not done: ${r.text.slice(-200)}`);
          else if (i !== 1 && JSON.parse(r.text).model !== 'chat') failures.push(`h2 plain: ${r.text.slice(0, 200)}`);
        });
      }
    })();

    const invalid = [
      'server: [unclosed',
      configB.replace(/engine: "?VLLM"?/, 'engine: VLM'),
      configB.replace('workers: 2', 'workers: 2\n  bogusKey: 1'),
      configA.replace(/strategy: "?PrefixHash"?/, 'strategy: NoSuchStrategy'),
      configB.replace(/"?requestsPerMinute"?: 2000000/, 'requestsPerMinute: -5'),
    ];
    let failedSent = 0;
    try {
      for (let i = 0; i < RELOADS; i++) {
        const seen = count(/reloaded /g);
        write(i % 2 === 0 ? configA : configB);
        hup();
        // each reload is waited for: 50 SIGHUPs are 50 generations, none coalesced
        await waitFor(() => count(/reloaded /g) > seen, { timeoutMs: SLOW ? 30000 : 10000, what: `reload ${i + 1}` });
        if (i % 10 === 5) {
          const bad = count(/reload failed/g);
          write(invalid[failedSent++]);
          hup();
          await waitFor(() => count(/reload failed/g) > bad, { what: 'invalid config refused' });
        }
      }
    } finally {
      stop = true;
      await Promise.all([h1loop, h2loop]);
      session.close();
    }
    const r = await h2;
    const codes = r.stdout.match(/status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/);
    const req = r.stdout.match(/requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/);
    assert.ok(codes && req, `h2load output:\n${r.stdout}\n${r.stderr}`);
    assert.equal(Number(req[4]), H2LOAD_N, `h2load:\n${r.stdout}`);
    assert.equal(Number(codes[1]), H2LOAD_N, `h2load non-2xx:\n${r.stdout}`);
    const total = made.h1 + made.h1s + made.h2 + made.h2s;
    assert.deepEqual(failures, [], `${failures.length} of ${total} client requests failed`);
    assert.ok(made.h1 > 0 && made.h2 > 0 && made.h1s > 0 && made.h2s > 0, JSON.stringify(made));
    assert.equal(count(/reloaded /g) - before, RELOADS);

    // the gateway's own account agrees, exactly
    const g = await generation(gw);
    assert.equal(g.id, 1 + RELOADS);
    assert.deepEqual([g.reloads.ok, g.reloads.failed], [RELOADS, failedSent]);
    assert.match(g.reloads.last_error.message, new RegExp(`^${gw.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
    assert.equal(g.models, 1, 'config B is the last one');
    assert.deepEqual(g.plugins.map((p) => p.name), ['vllm', 'leastload', 'ratelimit']);
    const chatRequests = H2LOAD_N + total;
    const m = await waitFor(async () => {
      const f = await scrape(gw);
      return sum(f, 'infergate_requests_total', { model: 'chat' }) === chatRequests ? f : null;
    }, { what: `${chatRequests} chat requests in /metrics` });
    assert.equal(value(m, 'infergate_requests_total', { model: 'chat', customer: '', status: '200' }), chatRequests);
    assert.equal(value(m, 'infergate_reloads_total', { result: 'ok' }), RELOADS);
    assert.equal(value(m, 'infergate_reloads_total', { result: 'failed' }), failedSent);
    assert.equal(value(m, 'infergate_generation'), 1 + RELOADS);
    assert.equal(value(m, 'infergate_requests_in_flight', { model: 'chat' }), 0);
    // prefixhash, listed by A only, is unloaded once no generation uses it: after the last reload (to B)
    // at the latest (a B → A reload that comes first finds it still loaded and keeps it)
    const unloaded = 'plugin prefixhash: no configuration uses it any more, unloading';
    await waitFor(() => gw.stderr.lastIndexOf(unloaded) > gw.stderr.lastIndexOf('reloaded '),
      { what: 'prefixhash unloaded after the last reload' });
    console.log(`# prefixhash unloaded ${count(new RegExp(unloaded, 'g'))} times over ${RELOADS} reloads`);
  });

  it('a lower limit applies to the window counted before the reload, and shows as 429s in /metrics', async () => {
    const before = count(/reloaded /g);
    write(configTight);
    hup();
    await waitFor(() => count(/reloaded /g) > before, { what: 'tight config' });
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
    assert.equal(r.status, 429, `the minute's window already holds the load phase's requests: ${r.text}`);
    assert.equal(r.json?.error?.code, 'rate_limit_exceeded', r.text);
    assert.ok(Number(r.headers.get('retry-after')) >= 1, `Retry-After on a 429: ${r.headers.get('retry-after')}`);
    const m = await waitFor(async () => {
      const f = await scrape(gw);
      return value(f, 'infergate_ratelimit_rejections_total', { model: 'chat' }) === 1 ? f : null;
    }, { what: 'one 429 counted' });
    assert.equal(value(m, 'infergate_requests_total', { model: 'chat', customer: '', status: '429' }), 1);
    const seen = count(/reloaded /g);
    write(configB);
    hup();
    await waitFor(() => count(/reloaded /g) > seen, { what: 'config B again' });
    const ok = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
    assert.equal(ok.status, 200, ok.text);
  });

  it('SIGTERM: a stream that outlives shutdownGracePeriod ends with an SSE error event; exit 0', { timeout: 60000 }, async () => {
    const slow = await startSim({ models: ['chat'], args: ['--token-rate', '5'] });
    write(toYaml({ server: { listen, workers: 2, adminKeys, shutdownGracePeriod: '1s' },
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] }, models: [model('chat', [slow])] }));
    const seen = count(/reloaded /g);
    hup();
    await waitFor(() => count(/reloaded /g) > seen, { what: 'reloaded onto the slow sim' });
    // 100 tokens at 5 tokens/s: far longer than the 1 s grace
    // one stream over HTTP/1.1, one over HTTP/2
    const body = chatBody('chat', { max_tokens: 100, stream: true });
    const stream = http(`${gw.url}/v1/chat/completions`, { method: 'POST', body });
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    const stream2 = h2request(session, body);
    await waitFor(async () => (await slow.stats()).active_streams === 2, { what: 'streams started' });
    const st = gw.stop({ timeoutMs: SLOW ? 30000 : 15000 });
    for (const s of [await stream, await stream2]) {
      assert.equal(s.status, 200);
      const sse = parseSSE(s.text);
      assert.ok(!sse.done, 'a cut stream does not end with [DONE]');
      const last = JSON.parse(sse.events[sse.events.length - 1]);
      assert.ok(last.error && /shutting down|grace/i.test(last.error.message), `last event: ${sse.events.at(-1)}`);
      assert.equal(last.error.code, 'shutting_down');
      assert.ok(sse.chunks.filter((c) => c.choices?.[0]?.delta?.content).length < 100);
    }
    session.close();
    const exit = await st;
    assert.ok(!exit.forced, gw.tail());
    assert.equal(exit.signal, null, gw.tail());
    assert.equal(exit.code, 0, gw.tail());
    gw.assertNoSanitizerReport();
    await waitFor(async () => (await slow.stats()).active_streams === 0, { what: 'the engine stream was cancelled' });
    await slow.checkAliveAndStop({ cleanExit: false });
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
