// Hot reload under load: SIGHUPs alternate between two configs (one adds a model and changes
// limits, the other removes it) while plain and streamed requests run over HTTP/1.1 and h2c.
// Requests for the model present in both configs never fail; invalid configs change nothing;
// SIGTERM drains a stream in flight.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startSim, startGateway, model, http, run, writeTmp, toYaml, waitFor, parseSSE, chatBody, PLUGINS_DIR, SLOW,
} from './harness.mjs';

const RELOADS = 50;

describe('reload under load', () => {
  let sim, gw, configA, configB, listen;

  before(async () => {
    sim = await startSim({ models: ['chat', 'extra'], args: ['--workers', '2'] });
    gw = await startGateway({ models: [model('chat', [sim])] });
    listen = [`127.0.0.1:${gw.port}`];
    const base = (models, server) =>
      toYaml({ server: { listen, workers: 2, ...server }, plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] }, models });
    // A: chat + extra, 2 retries, 1 MiB bodies; B: chat only, no retries, debug log, 2 MiB bodies
    configA = base([model('chat', [sim]), model('extra', [sim])], { retries: 2, logLevel: 'info', maxBodySize: '1MiB' });
    configB = base([model('chat', [sim])], { retries: 0, logLevel: 'debug', maxBodySize: '2MiB' });
  });

  const write = (text) => fs.writeFileSync(gw.configPath, text);
  const hup = () => process.kill(gw.child.pid, 'SIGHUP');

  it(`${RELOADS} SIGHUPs during mixed HTTP/1.1 + h2c load: no failed request for a model in both configs`, async () => {
    const bodyFile = writeTmp('reload-body.json', JSON.stringify(chatBody('chat', { max_tokens: 8 })));
    let stop = false;
    const h2 = run('h2load', ['-n', SLOW ? '3000' : '20000', '-c', '8', '-m', '4', '-d', bodyFile,
      '-H', 'content-type: application/json', `${gw.url}/v1/chat/completions`], { timeoutMs: 120000 });
    const failures = [];
    let plain = 0, streamed = 0;
    const h1loop = (async () => {
      while (!stop) {
        const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat', { max_tokens: 3 }) });
        if (r.status !== 200 || r.json?.model !== 'chat') failures.push(`plain ${r.status} ${r.text.slice(0, 200)}`);
        plain++;
        const s = await http(`${gw.url}/v1/chat/completions`, {
          method: 'POST', body: chatBody('chat', { max_tokens: 5, stream: true }),
        });
        const sse = s.status === 200 ? parseSSE(s.text) : null;
        if (!sse || !sse.done || sse.chunks.length < 5) failures.push(`stream ${s.status} ${s.text.slice(-200)}`);
        streamed++;
      }
    })();
    for (let i = 0; i < RELOADS; i++) {
      write(i % 2 === 0 ? configA : configB);
      hup();
      await new Promise((r) => setTimeout(r, 40));
    }
    // signals sent close together may coalesce into fewer reloads: wait until the gateway took the last one
    try {
      await waitFor(() => /reloaded .*generation/.test(gw.stderr.slice(-2000)) && (gw.stderr.match(/reloaded/g) || []).length >= RELOADS / 2, {
        timeoutMs: 20000, what: 'reloads logged',
      });
    } finally {
      stop = true;
      await h1loop;
    }
    const r = await h2;
    const codes = r.stdout.match(/status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/);
    const req = r.stdout.match(/requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/);
    assert.ok(codes && req, `h2load output:\n${r.stdout}\n${r.stderr}`);
    assert.equal(Number(req[5]) + Number(req[6]), 0, `h2load failed/errored requests:\n${r.stdout}`);
    assert.equal(Number(codes[2]) + Number(codes[3]) + Number(codes[4]), 0, `h2load non-2xx:\n${r.stdout}`);
    assert.deepEqual(failures, [], `${failures.length} of ${plain + streamed} HTTP/1.1 requests failed`);
    assert.ok(plain > 0 && streamed > 0);
  });

  it('the model only in config A comes and goes with it', async () => {
    write(configA);
    hup();
    await waitFor(async () => (await http(`${gw.url}/v1/models/extra`)).status === 200, { what: 'extra listed' });
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('extra') });
    assert.equal(r.status, 200, r.text);
    write(configB);
    hup();
    await waitFor(async () => (await http(`${gw.url}/v1/models/extra`)).status === 404, { what: 'extra removed' });
    const gone = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('extra') });
    assert.equal(gone.status, 404, gone.text);
  });

  it('invalid configs mid-load change nothing and are reported with file:line', async () => {
    const before = (await http(`${gw.url}/v1/models`)).json.data.map((m) => m.id).sort();
    const bad = [
      'server: [unclosed',
      configB.replace(/engine: "?VLLM"?/, 'engine: VLM'),
      configB.replace('workers: 2', 'workers: 2\n  bogusKey: 1'),
    ];
    for (const text of bad) {
      const seen = (gw.stderr.match(/reload failed/g) || []).length;
      write(text);
      hup();
      await waitFor(() => (gw.stderr.match(/reload failed/g) || []).length > seen, { what: 'reload failure logged' });
      const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
      assert.equal(r.status, 200, r.text);
      const after = (await http(`${gw.url}/v1/models`)).json.data.map((m) => m.id).sort();
      assert.deepEqual(after, before);
    }
    assert.match(gw.stderr, new RegExp(`${gw.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
    assert.match(gw.stderr, /unknown engine "VLM"/);
    write(configB);
  });

  it('SIGTERM lets a stream in flight finish, then exits 0', async () => {
    const slow = await startSim({ models: ['chat'], args: ['--token-rate', '20'] });
    write(toYaml({ server: { listen, workers: 2 }, plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] },
      models: [model('chat', [slow])] }));
    const seen = (gw.stderr.match(/reloaded/g) || []).length;
    hup();
    await waitFor(() => (gw.stderr.match(/reloaded/g) || []).length > seen, { what: 'reloaded onto the slow sim' });
    // 20 tokens at 20 tokens/s: the stream is still running when SIGTERM arrives
    const stream = http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat', { max_tokens: 20, stream: true }) });
    await waitFor(async () => (await slow.stats()).active_streams === 1, { what: 'stream started' });
    const st = gw.stop({ timeoutMs: 15000 });
    const s = await stream;
    assert.equal(s.status, 200);
    const sse = parseSSE(s.text);
    assert.ok(sse.done, `the stream finished: ${s.text.slice(-300)}`);
    assert.equal(sse.chunks.filter((c) => c.choices?.[0]?.delta?.content).length, 20);
    const exit = await st;
    assert.equal(exit.code, 0, gw.tail());
    gw.assertNoSanitizerReport();
    await slow.checkAliveAndStop({ cleanExit: false });
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
