// Chat completions through curl over HTTP/1.1, h2c (prior knowledge) and HTTP/2 over TLS (ALPN).
//
// The gateway's model name ("qwen-chat") differs from the name the engine serves
// ("Qwen/Qwen2.5-0.5B-Instruct"): the simulator answers 404 to any other name, so a success proves
// the gateway rewrote the model, and the response must carry the client's name back.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, startGateway, model, curl, parseSSE, makeCert, chatBody, waitFor } from './harness.mjs';

const CLIENT_MODEL = 'qwen-chat';
const SERVED = 'Qwen/Qwen2.5-0.5B-Instruct';
const MAX_TOKENS = 7;

describe('chat completions over HTTP/1.1, h2c and HTTP/2+TLS (curl)', () => {
  let sim, gw, tls;

  before(async () => {
    tls = await makeCert();
    sim = await startSim({ models: [SERVED] });
    gw = await startGateway({
      tls,
      models: [model(CLIENT_MODEL, [sim], { servedModelName: SERVED })],
    });
  });

  const transports = [
    { name: 'HTTP/1.1', mode: 'h1', version: '1.1', url: () => gw.url },
    { name: 'h2c (prior knowledge)', mode: 'h2c', version: '2', url: () => gw.url },
    { name: 'HTTP/2 over TLS', mode: 'h2', version: '2', url: () => gw.tlsUrl, cacert: () => tls.certificate },
  ];

  for (const t of transports) {
    const req = (body) =>
      curl(`${t.url()}/v1/chat/completions`, { mode: t.mode, body, cacert: t.cacert?.() });

    it(`${t.name}: non-streamed chat`, async () => {
      const r = await req(chatBody(CLIENT_MODEL, { max_tokens: MAX_TOKENS }));
      assert.equal(r.exit, 0, `curl failed: ${r.stderr}`);
      assert.equal(r.httpVersion, t.version, 'negotiated HTTP version');
      assert.equal(r.status, 200, r.text);
      assert.match(r.contentType, /^application\/json/);
      const b = r.json;
      assert.ok(b, `not JSON: ${r.text}`);
      assert.equal(b.object, 'chat.completion');
      assert.equal(typeof b.id, 'string');
      assert.equal(b.model, CLIENT_MODEL, 'model is echoed as the client sent it');
      assert.equal(b.choices.length, 1);
      assert.equal(b.choices[0].index, 0);
      assert.equal(b.choices[0].message.role, 'assistant');
      assert.equal(typeof b.choices[0].message.content, 'string');
      assert.ok(b.choices[0].message.content.length > 0, 'content is not empty');
      assert.equal(b.choices[0].finish_reason, 'length', 'stopped by max_tokens');
      assert.ok(b.usage, 'usage present');
      assert.equal(b.usage.completion_tokens, MAX_TOKENS);
      assert.ok(b.usage.prompt_tokens > 0, 'prompt_tokens > 0');
      assert.equal(b.usage.total_tokens, b.usage.prompt_tokens + b.usage.completion_tokens);
    });

    it(`${t.name}: streamed chat without include_usage`, async () => {
      const r = await req(chatBody(CLIENT_MODEL, { max_tokens: MAX_TOKENS, stream: true }));
      assert.equal(r.exit, 0, `curl failed: ${r.stderr}`);
      assert.equal(r.httpVersion, t.version);
      assert.equal(r.status, 200, r.text);
      assert.match(r.contentType, /^text\/event-stream/);
      const sse = parseSSE(r.text);
      assert.ok(sse.done, `stream ends with [DONE]: ${r.text.slice(-300)}`);
      assert.ok(sse.chunks.length >= 2, 'several events');
      for (const c of sse.chunks) {
        assert.equal(c.object, 'chat.completion.chunk');
        assert.equal(c.model, CLIENT_MODEL, 'every chunk names the client model');
        assert.ok(!c.usage, `no usage chunk when the client did not ask for one: ${JSON.stringify(c)}`);
      }
      const content = sse.chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      assert.ok(content.length > 0, 'content assembled from deltas');
      const finish = sse.chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
      assert.deepEqual(finish, ['length'], 'exactly one finish_reason');
    });

    it(`${t.name}: streamed chat with stream_options.include_usage`, async () => {
      const r = await req(
        chatBody(CLIENT_MODEL, { max_tokens: MAX_TOKENS, stream: true, stream_options: { include_usage: true } }),
      );
      assert.equal(r.exit, 0, `curl failed: ${r.stderr}`);
      assert.equal(r.status, 200, r.text);
      const sse = parseSSE(r.text);
      assert.ok(sse.done, 'stream ends with [DONE]');
      const withUsage = sse.chunks.filter((c) => c.usage);
      assert.equal(withUsage.length, 1, 'exactly one usage chunk');
      const last = sse.chunks[sse.chunks.length - 1];
      assert.ok(last.usage, 'the usage chunk is the last one before [DONE]');
      assert.deepEqual(last.choices, []);
      assert.equal(last.model, CLIENT_MODEL);
      assert.equal(last.usage.completion_tokens, MAX_TOKENS);
      assert.ok(last.usage.prompt_tokens > 0);
      assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    });
  }

  it('the engine saw every request under its served name', async () => {
    const s = await sim.stats();
    // 3 transports x 3 requests; nothing was refused by the simulator as an unknown model
    assert.equal(s.requests, 9);
    assert.equal(s.streams_finished, 6);
  });

  it('the access log (stdout) has one line per request', async () => {
    const count = () => gw.stdout.split('\n').filter((l) => l.includes('/v1/chat/completions')).length;
    // a line may be written just after the response went out: wait (bounded) for all of them
    await waitFor(() => count() >= 9, { timeoutMs: 5000, what: '9 access log lines' }).catch(() => {});
    assert.equal(count(), 9, gw.stdout.slice(-2000));
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
