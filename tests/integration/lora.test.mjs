// LoRA adapters: a client model "<model>_<adapter>" reaches the engine as the adapter's name.
//
// The simulator serves base model "base-served" with adapter "sql" only. The gateway also lists an
// adapter "notloaded" that the engine does not have. So:
//   qwen_sql       → 200 only if the engine was asked for "sql" (it 404s "qwen_sql"),
//   qwen_notloaded → the engine's own refusal (503 adapter_not_loaded, counted at the engine), which
//                    proves the gateway did not send the base name.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, startGateway, model, http, parseSSE, curl, assertOpenAIError, chatBody } from './harness.mjs';

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

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
