// Requests waiting in a model's queue when a reload lands are resolved again against the new
// generation: served by the new config's model of the same name (here with a working endpoint
// instead of a dead one), or answered 404 model_not_found naming the reload when the model is gone.
// Without re-resolution they would wait for the dead endpoint until the queue timeout (503).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startSim, startGateway, model, http, freePort, toYaml, waitFor, assertOpenAIError, chatBody, PLUGINS_DIR,
} from './harness.mjs';
import { parsePrometheus, value } from './prometheus.mjs';

describe('queued requests across a reload', () => {
  let gw, sim, deadPort, server;

  before(async () => {
    sim = await startSim({ models: ['chat'] });
    deadPort = await freePort(); // nothing ever listens here
    server = {
      queue: { maxLength: 10, timeout: '60s' },
      healthCheck: { interval: '100ms', timeout: '500ms', unhealthyThreshold: 1, healthyThreshold: 1 },
      retries: 0,
    };
    const dead = `http://127.0.0.1:${deadPort}`;
    gw = await startGateway({ server, models: [model('chat', [sim]), model('waiting', [dead]), model('doomed', [dead])] });
  });

  it('a reload moves waiting requests to the new model, or answers 404 when the model is gone', async () => {
    await waitFor(() => new RegExp(`127\\.0\\.0\\.1:${deadPort}.*unhealthy`).test(gw.stderr), {
      timeoutMs: 10000, what: 'the dead endpoint marked unhealthy',
    });
    const post = (name) => http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody(name) });
    const waiting = [post('waiting'), post('waiting')];
    const doomed = post('doomed');
    await waitFor(async () => {
      const m = parsePrometheus(await (await fetch(`${gw.url}/metrics`)).text());
      return value(m, 'infergate_requests_queued', { model: 'waiting' }) === 2 &&
        value(m, 'infergate_requests_queued', { model: 'doomed' }) === 1;
    }, { what: 'three requests queued' });

    fs.writeFileSync(gw.configPath, toYaml({
      server: { listen: [`127.0.0.1:${gw.port}`], workers: 2, ...server },
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] },
      models: [model('chat', [sim]), model('waiting', [sim], { servedModelName: 'chat' })],
    }));
    process.kill(gw.child.pid, 'SIGHUP');

    for (const r of await Promise.all(waiting)) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.model, 'waiting');
    }
    const e = assertOpenAIError(await doomed, 404, { code: 'model_not_found', param: 'model' });
    assert.match(e.message, /`doomed` was removed from the configuration \(reload to generation 2\)/);
    const m = parsePrometheus(await (await fetch(`${gw.url}/metrics`)).text());
    assert.equal(value(m, 'infergate_requests_queued', { model: 'waiting' }), 0);
    assert.equal(value(m, 'infergate_requests_queued', { model: 'doomed' }), undefined, 'gone with its generation');
  });

  it('a reload that changes server.listen or workers says they wait for a restart, and keeps serving', async () => {
    const other = await freePort();
    const seen = (gw.stderr.match(/reloaded /g) || []).length;
    fs.writeFileSync(gw.configPath, toYaml({
      server: { listen: [`127.0.0.1:${other}`], workers: 3, ...server },
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] },
      models: [model('chat', [sim])],
    }));
    process.kill(gw.child.pid, 'SIGHUP');
    await waitFor(() => (gw.stderr.match(/reloaded /g) || []).length > seen, { what: 'reloaded' });
    assert.match(gw.stderr, /server\.listen changed: listeners are kept as they were until restart/);
    assert.match(gw.stderr, /server\.workers changed: takes effect on restart/);
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
    assert.equal(r.status, 200, r.text);
    await assert.rejects(fetch(`http://127.0.0.1:${other}/healthz`), 'the new address is not bound before a restart');
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
