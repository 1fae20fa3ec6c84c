// The official OpenAI Node SDK against the gateway: chat (plain and streamed), embeddings, models,
// and the SDK's typed errors.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSim, startGateway, model } from './harness.mjs';

const CHAT = 'qwen25-05b-instruct';
const EMBED = 'bge-small-en-v1.5';
const EMBED_DIM = 24;

describe('OpenAI Node SDK', () => {
  let sim, gw, client;

  before(async () => {
    sim = await startSim({ models: [CHAT, EMBED], args: ['--embedding-dim', String(EMBED_DIM)] });
    gw = await startGateway({
      models: [
        model(CHAT, [sim], { url: 'hf://Qwen/Qwen2.5-0.5B-Instruct' }),
        model(EMBED, [sim], { features: ['TextEmbedding'] }),
      ],
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-anything', maxRetries: 0, timeout: 30000 });
  });

  it('chat.completions.create', async () => {
    const r = await client.chat.completions.create({
      model: CHAT,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Name a prime number.' },
      ],
      max_tokens: 5,
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, CHAT);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.ok(r.choices[0].message.content.length > 0);
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  });

  it('chat.completions.create with stream: true', async () => {
    const MAX = 12;
    const stream = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'Count to twelve.' }],
      max_tokens: MAX,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    let contentChunks = 0;
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
      assert.equal(chunk.model, CHAT);
      const d = chunk.choices[0]?.delta?.content;
      if (d) {
        content += d;
        contentChunks++;
      }
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(content.length > 0, 'assembled content');
    assert.equal(contentChunks, MAX, 'one content delta per token, max_tokens of them');
    assert.equal(finish, 'length');
    assert.ok(usage, 'usage chunk delivered when asked for');
    assert.equal(usage.completion_tokens, MAX);
  });

  it('completions.create (legacy completions)', async () => {
    const r = await client.completions.create({ model: CHAT, prompt: 'Once upon a time', max_tokens: 4 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.model, CHAT);
    assert.equal(typeof r.choices[0].text, 'string');
    assert.ok(r.choices[0].text.length > 0);
    assert.equal(r.usage.completion_tokens, 4);
  });

  it('embeddings.create (SDK default encoding, base64)', async () => {
    const input = ['first text', 'second, longer text', 'third'];
    const r = await client.embeddings.create({ model: EMBED, input });
    assert.equal(r.object, 'list');
    assert.equal(r.model, EMBED);
    assert.equal(r.data.length, input.length);
    r.data.forEach((d, i) => {
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, EMBED_DIM);
      assert.ok(d.embedding.every((x) => Number.isFinite(x)), 'finite floats');
    });
    assert.ok(r.usage.prompt_tokens > 0);
  });

  it('embeddings.create with encoding_format float agrees with base64', async () => {
    const a = await client.embeddings.create({ model: EMBED, input: 'same text', encoding_format: 'float' });
    const b = await client.embeddings.create({ model: EMBED, input: 'same text' });
    assert.equal(a.data.length, 1);
    assert.equal(a.data[0].embedding.length, EMBED_DIM);
    // base64 carries float32: compare at float32 precision
    const f32 = (v) => Array.from(new Float32Array(v));
    assert.deepEqual(f32(b.data[0].embedding), f32(a.data[0].embedding));
  });

  it('models.list lists both models', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    assert.ok(ids.includes(CHAT), `${CHAT} in ${ids}`);
    assert.ok(ids.includes(EMBED), `${EMBED} in ${ids}`);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  });

  it('models.retrieve', async () => {
    const m = await client.models.retrieve(EMBED);
    assert.equal(m.id, EMBED);
    assert.equal(m.object, 'model');
  });

  it('unknown model: NotFoundError, 404, code model_not_found', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 404);
        assert.equal(err.code, 'model_not_found');
        assert.match(err.message, /no-such-model/);
        return true;
      },
    );
    await assert.rejects(client.models.retrieve('no-such-model'), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}`);
      assert.equal(err.code, 'model_not_found');
      return true;
    });
  });

  it('embeddings on a chat-only model: BadRequestError', async () => {
    await assert.rejects(client.embeddings.create({ model: CHAT, input: 'x' }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 400);
      assert.equal(err.type, 'invalid_request_error');
      return true;
    });
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
