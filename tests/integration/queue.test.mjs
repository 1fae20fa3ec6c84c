// The request queue: a request for a model with no ready endpoint waits (bounded in length and
// time) and is released the moment an endpoint becomes ready; otherwise it gets a 503 naming the
// model, with Retry-After.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Proc, startSim, startGateway, model, http, freePort, waitFor, simPath, assertOpenAIError, chatBody, SLOW,
} from './harness.mjs';

describe('request queue', () => {
  let gw, sim, deadPort, late;

  before(async () => {
    sim = await startSim({ models: ['chat'] });
    deadPort = await freePort(); // nothing listens here until the release test starts a simulator
    gw = await startGateway({
      server: {
        queue: { maxLength: 2, timeout: SLOW ? '1500ms' : '600ms' },
        healthCheck: { interval: '100ms', timeout: '500ms', unhealthyThreshold: 1, healthyThreshold: 1 },
        retries: 0,
      },
      models: [
        model('chat', [sim]),
        // served by replicas the scheduler would run: no static endpoint, so requests can only wait
        { name: 'scaled', engine: 'VLLM', features: ['TextGeneration'], resourceProfile: 'cpu:1' },
        model('late', [`http://127.0.0.1:${deadPort}`], { servedModelName: 'chat' }),
      ],
      extraYaml: 'resourceProfiles:\n  cpu: {}\n',
    });
  });

  after(async () => {
    if (late) await late.stop({ timeoutMs: 2000 });
  });

  const post = (name) => http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody(name) });

  it('a model with no ready endpoint: the request waits, then 503 with Retry-After naming the model', async () => {
    const r = await post('scaled');
    const e = assertOpenAIError(r, 503, { type: 'server_error', code: 'model_unavailable' });
    assert.match(e.message, /`scaled`/);
    assert.match(e.message, /queue\.timeout/);
    assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After header');
  });

  it('a full queue refuses at once, saying so', async () => {
    const rs = await Promise.all([post('scaled'), post('scaled'), post('scaled'), post('scaled')]);
    const full = rs.filter((r) => /already waiting/.test(r.json?.error?.message ?? ''));
    const timedOut = rs.filter((r) => /queue\.timeout/.test(r.json?.error?.message ?? ''));
    for (const r of rs) assertOpenAIError(r, 503, { code: 'model_unavailable' });
    // maxLength 2: exactly two waited, two were refused because the queue was full
    assert.equal(full.length, 2, rs.map((r) => r.text).join('\n'));
    assert.equal(timedOut.length, 2, rs.map((r) => r.text).join('\n'));
  });

  it('other models are served meanwhile', async () => {
    const r = await post('chat');
    assert.equal(r.status, 200, r.text);
  });

  it('a waiting request is released when its endpoint becomes ready', async () => {
    // the probe finds the dead endpoint and marks it unhealthy
    await waitFor(() => new RegExp(`127\\.0\\.0\\.1:${deadPort}.*unhealthy`).test(gw.stderr), {
      timeoutMs: 10000,
      what: 'the dead endpoint marked unhealthy',
    });
    // a request now queues (the endpoint is not ready); start the engine while it waits
    const pending = http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('late') });
    late = new Proc('ig-sim-late', simPath(), ['--listen', `127.0.0.1:${deadPort}`, '--served-model-name', 'chat']);
    await late.waitForOutput(/ig-sim listening/, 10000);
    const r = await pending;
    // released by the health checker's recovery, not refused: a normal answer with the client's model name
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'late');
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
