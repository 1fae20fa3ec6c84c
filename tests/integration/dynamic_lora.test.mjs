// vLLM dynamic LoRA: an adapter a client addresses (<model>_<adapter>) is loaded into each endpoint
// on first use through POST /v1/load_lora_adapter, exactly once per endpoint even when many requests
// arrive together (the others wait for that load), remembered across requests and reloads, and
// loaded again when the engine lost it (it answers 404: the client gets a 503, the next request works).
// Two ig-sim endpoints with --allow-runtime-lora (vLLM's VLLM_ALLOW_RUNTIME_LORA_UPDATING=True);
// /sim/lora counts the load requests each one saw.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startSim, startGateway, model, http, curl, assertOpenAIError, chatBody, waitFor } from './harness.mjs';

const loraStats = async (sim) => (await http(`${sim.url}/sim/lora`)).json;

describe('vLLM dynamic LoRA loading', () => {
  let simA, simB, gw;
  const cfg = (endpoints) => [
    model('qwen', endpoints, {
      servedModelName: 'base',
      adapters: [
        { name: 'sql', url: 'hf://example-org/sql-lora' },
        { name: 'law', url: 'file:///models/law-lora' },
      ],
    }),
  ];

  before(async () => {
    simA = await startSim({ name: 'sim-a', models: ['base'], args: ['--allow-runtime-lora', '--ttft-ms', '50'] });
    simB = await startSim({ name: 'sim-b', models: ['base'], args: ['--allow-runtime-lora'] });
    gw = await startGateway({ models: cfg([simA]) });
  });

  const post = (body) => http(`${gw.url}/v1/chat/completions`, { method: 'POST', body });

  it('the base model needs no load', async () => {
    const r = await post(chatBody('qwen'));
    assert.equal(r.status, 200, r.text);
    assert.equal((await loraStats(simA)).load_requests, 0);
  });

  it('concurrent first requests for an adapter: one load, every request served by the adapter', async () => {
    const N = 24;
    const rs = await Promise.all(
      Array.from({ length: N }, (_, i) => post(chatBody('qwen_sql', { max_tokens: 3, stream: i % 2 === 1 }))),
    );
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const st = await loraStats(simA);
    assert.equal(st.load_requests, 1, `exactly one load request: ${JSON.stringify(st)}`);
    assert.equal(st.loads, 1);
    assert.deepEqual(st.loaded, [{ name: 'sql', path: 'example-org/sql-lora' }], 'hf:// is passed as the repo id');
    const models = (await http(`${simA.url}/v1/models`)).json.data.map((m) => m.id);
    assert.ok(models.includes('sql'), 'the engine lists the adapter it loaded');
  });

  it('later requests are not loaded again; another adapter is loaded on its own, from a file:// path', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await post(chatBody('qwen_sql'))).status, 200);
    const r = await post(chatBody('qwen_law'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'qwen_law');
    const st = await loraStats(simA);
    assert.equal(st.load_requests, 2);
    assert.ok(st.loaded.some((l) => l.name === 'law' && l.path === '/models/law-lora'), JSON.stringify(st.loaded));
  });

  it('a second endpoint loads it on its own, once; the first is not asked again (survives a reload)', async () => {
    fs.writeFileSync(gw.configPath, fs.readFileSync(gw.configPath, 'utf8').replace(`- "${simA.url}"`, `- "${simA.url}"\n      - "${simB.url}"`));
    gw.kill('SIGHUP');
    // send until simB (only in the new generation) has served adapter requests (the balancer spreads them)
    const answers = []; // judged after the wait: waitFor would retry past a failed request
    await waitFor(
      async () => {
        answers.push(...await Promise.all(Array.from({ length: 8 }, () => post(chatBody('qwen_sql', { max_tokens: 2 })))));
        return (await loraStats(simB)).loads === 1 && (await simB.stats()).requests > 0;
      },
      { timeoutMs: 15000, what: 'adapter requests served by the second endpoint' },
    );
    assert.deepEqual(answers.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`), []);
    assert.equal((await loraStats(simB)).load_requests, 1, 'one load on the second endpoint');
    assert.equal((await loraStats(simA)).load_requests, 2, 'the first endpoint still remembered (no new load)');
  });

  it('an engine that lost the adapter: 503 once, then loaded again', async () => {
    // simulate a restart of both engines that kept them healthy: unload behind the gateway's back
    for (const s of [simA, simB]) {
      const u = await http(`${s.url}/v1/unload_lora_adapter`, { method: 'POST', body: { lora_name: 'sql' } });
      assert.equal(u.status, 200, u.text);
    }
    const seen = [];
    for (let i = 0; i < 8 && seen.filter((x) => x === 200).length < 2; i++) seen.push((await post(chatBody('qwen_sql'))).status);
    assert.ok(seen.includes(503), `a 503 for the lost adapter: ${seen}`);
    assert.equal(seen[seen.length - 1], 200, `then served again: ${seen}`);
    const r = await curl(`${gw.url}/v1/chat/completions`, { body: chatBody('qwen_sql') });
    assert.equal(r.status, 200, r.text);
  });

  it('a slow load (400 ms): requests on every worker wait for it, one load, all served', { timeout: 60000 }, async () => {
    const simS = await startSim({ name: 'sim-slow', models: ['base'], args: ['--allow-runtime-lora', '--lora-load-ms', '400'] });
    const gw3 = await startGateway({ models: cfg([simS]) });
    try {
      const rs = await Promise.all(
        Array.from({ length: 16 }, () => http(`${gw3.url}/v1/chat/completions`, { method: 'POST', body: chatBody('qwen_sql', { max_tokens: 2 }) })),
      );
      for (const r of rs) assert.equal(r.status, 200, r.text);
      assert.equal((await loraStats(simS)).load_requests, 1);
      assert.equal((await simS.stats()).requests, 16);
      await gw3.checkAliveAndStop();
    } finally {
      await gw3.stop();
      await simS.stop();
    }
  });

  it('an endpoint without runtime loading: the adapter is sent as it is (its --lora-modules), asked once', async () => {
    const simC = await startSim({ name: 'sim-c', models: ['base'], lora: ['sql'] });
    const gw2 = await startGateway({ models: cfg([simC]) });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await http(`${gw2.url}/v1/chat/completions`, { method: 'POST', body: chatBody('qwen_sql') })).status, 200);
      const st = await loraStats(simC);
      assert.equal(st.load_requests, 0, 'the route does not exist there (404), so nothing was counted');
      const before = (await simC.stats()).requests;
      const r = await http(`${gw2.url}/v1/chat/completions`, { method: 'POST', body: chatBody('qwen_law') });
      const e = assertOpenAIError(r, 503, { code: 'adapter_not_loaded' });
      assert.equal((await simC.stats()).requests, before + 1, 'the engine was asked for it');
      assert.match(e.message, /cannot load adapters at run time.*--lora-modules law=\/models\/law-lora/);
      assert.equal((gw2.stderr.match(/runtime LoRA loading is off/g) || []).length, 2, 'one load attempt per adapter');
      await gw2.checkAliveAndStop();
    } finally {
      await gw2.stop();
      await simC.stop();
    }
  });

  it('adapter urls vLLM cannot load are refused at config time', async () => {
    const { run, gatewayPath, writeTmp, PLUGINS_DIR, toYaml } = await import('./harness.mjs');
    const p = writeTmp('bad-lora.yaml', toYaml({
      server: { listen: ['127.0.0.1:1'] },
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] },
      models: [{ name: 'm', engine: 'VLLM', features: ['TextGeneration'], endpoints: ['http://127.0.0.1:9'], adapters: [{ name: 'x', url: 's3://bucket/x' }] }],
    }));
    const r = await run(gatewayPath(), ['-t', '-c', p]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /s3:\/\/bucket\/x.*load_lora_adapter/);
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await simA.checkAliveAndStop({ cleanExit: false });
    await simB.checkAliveAndStop({ cleanExit: false });
  });
});
