// LoRA adapters: a client model "<model>_<adapter>" reaches the engine as the adapter's name.
//
// The simulator serves base model "base-served" with adapter "sql" only. The gateway also lists an
// adapter "notloaded" that the engine does not have. So:
//   qwen_sql       → 200 only if the engine was asked for "sql" (it 404s "qwen_sql"),
//   qwen_notloaded → the engine's own refusal (503 adapter_not_loaded, counted at the engine), which
//                    proves the gateway did not send the base name.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startGateway, model, http, parseSSE, curl, assertOpenAIError, chatBody, waitFor, PLUGINS_DIR,
} from './harness.mjs';

describe('LoRA adapters', () => {
  let sim, gw;

  before(async () => {
    sim = await startSim({ models: ['base-served'], lora: ['sql'] });
    gw = await startGateway({
      models: [
        model('qwen', [sim], {
          servedModelName: 'base-served',
          adapters: [
            { name: 'sql', url: 'hf://example-org/sql-lora' },
            { name: 'notloaded', url: 'hf://example-org/other-lora' },
          ],
        }),
      ],
    });
  });

  const post = (body) => http(`${gw.url}/v1/chat/completions`, { method: 'POST', body });

  it('base model still works', async () => {
    const r = await post(chatBody('qwen'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'qwen');
  });

  it('<model>_<adapter> reaches the engine as the adapter name', async () => {
    const before = (await sim.stats()).requests;
    const r = await post(chatBody('qwen_sql', { max_tokens: 4 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'qwen_sql', 'echoed as the client sent it');
    assert.equal(r.json.usage.completion_tokens, 4);
    assert.equal((await sim.stats()).requests, before + 1);
  });

  it('streamed, over h2c', async () => {
    const r = await curl(`${gw.url}/v1/chat/completions`, { mode: 'h2c', body: chatBody('qwen_sql', { stream: true }) });
    assert.equal(r.status, 200, r.text);
    const sse = parseSSE(r.text);
    assert.ok(sse.done);
    for (const c of sse.chunks) assert.equal(c.model, 'qwen_sql');
  });

  it('an adapter the engine does not have is refused by the engine, not served by the base', async () => {
    // this engine has no runtime loading (no --allow-runtime-lora): the gateway's load request meets
    // a 404 route, so the adapter goes as it is and the engine itself answers "does not exist"
    const noRuntime = /runtime LoRA loading is off .*adapter notloaded /g;
    const before = await sim.stats();
    const r = await post(chatBody('qwen_notloaded'));
    const e = assertOpenAIError(r, 503, { code: 'adapter_not_loaded' });
    assert.equal((await sim.stats()).requests, before.requests + 1, 'the engine was asked, once');
    // the message tells the operator what to do with such an engine, not "loaded again next time"
    assert.match(e.message, /qwen_notloaded/);
    assert.match(e.message, /cannot load adapters at run time/);
    assert.match(e.message, /--lora-modules notloaded=example-org\/other-lora/);
    assert.doesNotMatch(e.message, /loaded again/);
    assert.equal((await http(`${sim.url}/sim/lora`)).json.load_requests, 0, 'nothing was loaded');
    // asked again: the engine is asked again (it may have been restarted with the adapter), the
    // load route is not (remembered: no runtime loading there), and the answer is the same
    const r2 = await post(chatBody('qwen_notloaded'));
    assertOpenAIError(r2, 503, { code: 'adapter_not_loaded' });
    assert.equal((await sim.stats()).requests, before.requests + 2);
    assert.equal((gw.stderr.match(noRuntime) || []).length, 1, `one load attempt on this endpoint:\n${gw.tail()}`);
    // and an adapter the engine has is still served on that endpoint
    assert.equal((await post(chatBody('qwen_sql'))).status, 200);
  });

  it('unknown adapter → 404 model_not_found', async () => {
    const before = (await sim.stats()).requests;
    for (const m of ['qwen_nope', 'qwen_', 'nosuchmodel_sql']) {
      const r = await post(chatBody(m));
      const e = assertOpenAIError(r, 404, { code: 'model_not_found' });
      assert.ok(e.message.includes(m), `message names ${m}: ${e.message}`);
    }
    assert.equal((await sim.stats()).requests, before, 'the engine was not asked');
  });

  it('an adapter counts against its base model\'s limits (requests per minute and concurrency)', { timeout: 60000 }, async () => {
    const simL = await startSim({ name: 'sim-limits', models: ['base-served'], lora: ['sql', 'law'], args: ['--token-rate', '20'] });
    const gwL = await startGateway({
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'ratelimit'] },
      models: [model('qwen', [simL], {
        servedModelName: 'base-served',
        adapters: [{ name: 'sql', url: 'hf://example-org/sql-lora' }, { name: 'law', url: 'hf://example-org/law-lora' }],
        limits: { requestsPerMinute: 5, maxConcurrent: 1 },
      })],
    });
    try {
      const postL = (m, extra) => http(`${gwL.url}/v1/chat/completions`, { method: 'POST', body: chatBody(m, { max_tokens: 2, ...extra }) });
      // concurrency: a stream on an adapter holds the base model's one slot
      const ac = new AbortController();
      const res = await fetch(`${gwL.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac.signal,
        body: JSON.stringify(chatBody('qwen_sql', { max_tokens: 40, stream: true })),
      });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      await reader.read(); // the stream has started
      for (const m of ['qwen', 'qwen_law', 'qwen_sql']) {
        const r = await postL(m);
        assertOpenAIError(r, 429, { code: 'rate_limit_exceeded' });
        assert.match(r.json.error.message, /concurren/i, r.text);
      }
      await reader.cancel();
      ac.abort();
      await waitFor(async () => (await simL.stats()).active_streams === 0, { what: 'the stream cancelled at the engine' });
      // requests per minute: 5 in all, whatever name they used (the stream was the first)
      const before = (await simL.stats()).requests;
      const got = [];
      let slotWaits = 0; // the slot comes back as the cancelled stream ends: a refusal or two meanwhile
      for (const m of ['qwen', 'qwen_sql', 'qwen_law', 'qwen', 'qwen_sql', 'qwen_law']) {
        let r;
        while ((r = await postL(m)).status === 429 && /concurren/i.test(r.text) && slotWaits < 100) {
          slotWaits++;
          await new Promise((ok) => setTimeout(ok, 20));
        }
        got.push([m, r.status]);
      }
      assert.deepEqual(got, [['qwen', 200], ['qwen_sql', 200], ['qwen_law', 200], ['qwen', 200], ['qwen_sql', 429], ['qwen_law', 429]]);
      assert.equal((await simL.stats()).requests, before + 4, 'the refused ones never reached the engine');
      const m = await http(`${gwL.url}/metrics`);
      assert.match(m.text, new RegExp(`^infergate_ratelimit_rejections_total\\{model="qwen"\\} ${3 + slotWaits + 2}$`, 'm'));
      await gwL.checkAliveAndStop();
    } finally {
      await gwL.stop();
      await simL.stop();
    }
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
