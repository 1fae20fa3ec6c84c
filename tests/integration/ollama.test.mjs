// The ollama engine plugin against ig-sim in Ollama mode (--api ollama): the official OpenAI SDK for
// chat (plain, streamed with and without include_usage) and embeddings, usage checked against what
// the engine counted (/sim/stats) and what the gateway logged, curl for a tag that is not pulled
// (503 naming it, the engine never asked to generate), an engine that is down (502) or failing (502).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSim, startGateway, freePort, curl, http, assertOpenAIError, PLUGINS_DIR, waitFor } from './harness.mjs';

const TAG = 'llama3.2:1b';
const EMBED_TAG = 'nomic-embed-text'; // pulled as nomic-embed-text:latest
const EMBED_DIM = 16;

/** Access-log records (JSON lines on the gateway's stdout) for one path. */
function accessLog(gw, path) {
  const out = [];
  for (const line of gw.stdout.split('\n')) {
    try {
      const r = JSON.parse(line);
      if (r.path === path) out.push(r);
    } catch {}
  }
  return out;
}

describe('Ollama engine plugin', () => {
  let sim, gw, client, deadPort;

  before(async () => {
    sim = await startSim({ models: [TAG, EMBED_TAG], args: ['--api', 'ollama', '--embedding-dim', String(EMBED_DIM)] });
    deadPort = await freePort(); // nothing listens there
    const ollama = (name, url, extra = {}) => ({
      name,
      engine: 'OLlama',
      url,
      features: ['TextGeneration'],
      endpoints: [sim.url],
      ...extra,
    });
    gw = await startGateway({
      plugins: { dir: PLUGINS_DIR, load: ['ollama', 'leastload'] },
      models: [
        ollama('llama', `ollama://${TAG}`),
        ollama('embedder', `ollama://${EMBED_TAG}`, { engine: 'Ollama', features: ['TextEmbedding'] }),
        ollama('qwen', 'ollama://qwen2.5:7b'), // not pulled on the engine
        ollama('down', `ollama://${TAG}`, { endpoints: [`http://127.0.0.1:${deadPort}`] }),
      ],
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-anything', maxRetries: 0, timeout: 30000 });
  });

  it('chat: usage is what the engine counted, the model is the client\'s', async () => {
    const before = await sim.stats();
    const r = await client.chat.completions.create({
      model: 'llama',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Name a prime number.' },
      ],
      max_tokens: 5,
    });
    const after = await sim.stats();
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'llama', 'the tag is the engine\'s business');
    assert.equal(r.system_fingerprint, 'fp_ollama');
    assert.equal(r.choices[0].message.content, 'tok1 tok2 tok3 tok4 tok5 ');
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.usage.prompt_tokens, after.prompt_tokens - before.prompt_tokens);
    assert.equal(r.usage.prompt_tokens, 15, '(3 + 4) + (4 + 4) words and template tokens');
    assert.equal(after.requests - before.requests, 1);
  });

  it('streamed chat with include_usage: one delta per token, usage chunk at the end', async () => {
    const MAX = 7;
    const before = await sim.stats();
    const stream = await client.chat.completions.create({
      model: 'llama',
      messages: [{ role: 'user', content: 'Count to seven please.' }],
      max_tokens: MAX,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    let deltas = 0;
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
      assert.equal(chunk.model, 'llama');
      const d = chunk.choices[0]?.delta?.content;
      if (d) {
        content += d;
        deltas++;
      }
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    const after = await sim.stats();
    assert.equal(deltas, MAX);
    assert.equal(content, 'tok1 tok2 tok3 tok4 tok5 tok6 tok7 ');
    assert.equal(finish, 'length');
    assert.ok(usage, 'usage chunk delivered when asked for');
    assert.equal(usage.completion_tokens, MAX);
    assert.equal(usage.prompt_tokens, after.prompt_tokens - before.prompt_tokens);
    assert.equal(after.streams_finished - before.streams_finished, 1);
  });

  it('streamed chat without include_usage: no usage chunk for the client, usage still billed', async () => {
    const MAX = 4;
    const r = await curl(`${gw.url}/v1/chat/completions`, {
      body: { model: 'llama', messages: [{ role: 'user', content: 'one two three' }], max_tokens: MAX, stream: true },
    });
    assert.equal(r.status, 200, r.text);
    const events = r.text.split('\n\n').filter((e) => e.startsWith('data: '));
    assert.equal(events[events.length - 1], 'data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    assert.ok(chunks.length >= MAX);
    for (const c of chunks) {
      assert.ok(!('usage' in c) || c.usage === null, `no usage for a client that did not ask: ${JSON.stringify(c)}`);
      assert.equal(c.model, 'llama');
    }
    // the gateway forced include_usage upstream: its access log has the engine's numbers
    const rec = await waitFor(
      () => accessLog(gw, '/v1/chat/completions').find((x) => x.completion_tokens === MAX && x.prompt_tokens === 7),
      { what: 'an access-log record with the usage of the stream' },
    );
    assert.equal(rec.status, 200);
  });

  it('embeddings (SDK, base64 by default): vectors and usage', async () => {
    const before = await sim.stats();
    const r = await client.embeddings.create({ model: 'embedder', input: ['hello world', 'a b c'] });
    const after = await sim.stats();
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0].embedding.length, EMBED_DIM);
    assert.equal(r.model, 'embedder');
    assert.equal(r.usage.prompt_tokens, 5);
    assert.equal(r.usage.prompt_tokens, after.prompt_tokens - before.prompt_tokens);
    const plain = await client.embeddings.create({ model: 'embedder', input: 'hello world', encoding_format: 'float' });
    for (let i = 0; i < EMBED_DIM; i++) assert.ok(Math.abs(plain.data[0].embedding[i] - r.data[0].embedding[i]) < 1e-6);
  });

  it('a tag that is not pulled: 503 naming it, the engine is not asked to generate', async () => {
    const before = await sim.stats();
    for (const stream of [false, true]) {
      const r = await curl(`${gw.url}/v1/chat/completions`, {
        body: { model: 'qwen', messages: [{ role: 'user', content: 'hi' }], stream },
      });
      const e = assertOpenAIError(r, 503, { code: 'model_unavailable' });
      assert.match(e.message, /ollama tag "qwen2\.5:7b" is not pulled on the engine \(ollama pull qwen2\.5:7b\)/);
      assert.match(e.message, /model `qwen`/);
    }
    assert.equal((await sim.stats()).requests, before.requests, 'known from /api/tags: no inference request');
    // the pulled model on the same endpoint is unaffected
    const ok = await curl(`${gw.url}/v1/chat/completions`, { body: { model: 'llama', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(ok.status, 200, ok.text);
  });

  it('a tag removed after it was checked: Ollama\'s 404 becomes the 503 naming it; pulled again, it serves', async () => {
    const chat = () => curl(`${gw.url}/v1/chat/completions`, { body: { model: 'llama', messages: [{ role: 'user', content: 'hi' }] } });
    const del = await http(`${sim.url}/api/delete`, { method: 'DELETE', body: { model: TAG } });
    assert.equal(del.status, 200, del.text);
    const before = await sim.stats();
    const r = await chat();
    const e = assertOpenAIError(r, 503, { code: 'model_unavailable' });
    assert.match(e.message, /ollama tag "llama3\.2:1b" is not pulled on the engine \(ollama pull llama3\.2:1b\)/);
    assert.equal((await sim.stats()).requests, before.requests + 1, 'the gateway believed it pulled: Ollama answered 404');
    const pull = await http(`${sim.url}/api/pull`, { method: 'POST', body: { model: TAG, stream: false } });
    assert.equal(pull.status, 200, pull.text);
    await waitFor(async () => (await chat()).status === 200, { timeoutMs: 15000, intervalMs: 250, what: 'served again after the pull' });
  });

  it('engine down: 502', async () => {
    const r = await curl(`${gw.url}/v1/chat/completions`, { body: { model: 'down', messages: [{ role: 'user', content: 'hi' }] } });
    const e = assertOpenAIError(r, 502);
    assert.match(e.message, /down/);
  });

  it('engine 500: 502 with Ollama\'s message', async () => {
    await sim.fault('500');
    try {
      const r = await curl(`${gw.url}/v1/chat/completions`, { body: { model: 'llama', messages: [{ role: 'user', content: 'hi' }] } });
      const e = assertOpenAIError(r, 502);
      assert.match(e.message, /injected fault/);
    } finally {
      await sim.fault('none');
    }
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
