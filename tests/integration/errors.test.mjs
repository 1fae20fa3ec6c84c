// Every error a client can provoke, and every upstream failure: each must come back OpenAI-shaped
// ({"error":{"message","type","param","code"}}) with the right status, and the gateway stays up.
//
// Each upstream failure mode has its own model and simulator, so passive health marking of one
// endpoint cannot leak into another case.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startGateway, model, http, curl, parseSSE, assertOpenAIError, freePort, chatBody, waitFor,
} from './harness.mjs';

const MAX_BODY = 64 * 1024;

describe('errors', () => {
  let sim, sim500, simHang, simDie, simClose, gw, deadPort;

  before(async () => {
    sim = await startSim({ models: ['chat', 'embed'] });
    // no --served-model-name: these accept any model name
    sim500 = await startSim({ name: 'ig-sim-500', args: ['--fault', '500'] });
    simHang = await startSim({ name: 'ig-sim-hang', args: ['--fault', 'hang'] });
    simDie = await startSim({ name: 'ig-sim-die', args: ['--fault', 'die-mid-stream', '--default-tokens', '40'] });
    simClose = await startSim({ name: 'ig-sim-close', args: ['--fault', 'close'] });
    deadPort = await freePort(); // nothing listens here
    const dead = `http://127.0.0.1:${deadPort}`;
    gw = await startGateway({
      // 100 failures to eject: the refused endpoint stays a candidate for the retry test (at 5 s a
      // probe, 500 s), and the failing engines keep answering their own errors instead of a 503
      server: { maxBodySize: '64KiB', connectTimeout: '1s', firstByteTimeout: '1s', idleTimeout: '5s', healthCheck: { unhealthyThreshold: 100 } },
      models: [
        model('chat', [sim]),
        model('embed', [sim], { features: ['TextEmbedding'] }),
        model('m-refused', [dead]),
        model('m-retry', [dead, sim.url], { servedModelName: 'chat' }),
        model('m-500', [sim500]),
        model('m-hang', [simHang]),
        model('m-die', [simDie]),
        model('m-close', [simClose]),
      ],
    });
  });

  const post = (path, body, headers) => http(`${gw.url}${path}`, { method: 'POST', body, headers });
  const postRaw = (path, text) => post(path, text, { 'content-type': 'application/json' });

  describe('client errors', () => {
    it('malformed JSON → 400 invalid_request_error', async () => {
      for (const text of ['{"model": "chat", ', '{model: chat}', '', 'null x', '{"model":"chat"}}']) {
        const r = await postRaw('/v1/chat/completions', text);
        assertOpenAIError(r, 400, { type: 'invalid_request_error' });
      }
    });

    it('body that is JSON but not an object → 400', async () => {
      for (const text of ['[1,2,3]', '"chat"', '42', 'null', 'true']) {
        const r = await postRaw('/v1/chat/completions', text);
        assertOpenAIError(r, 400, { type: 'invalid_request_error' });
      }
    });

    it('missing model → 400 with param "model"', async () => {
      const r = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
      const e = assertOpenAIError(r, 400, { type: 'invalid_request_error', param: 'model' });
      assert.match(e.message, /model/);
    });

    it('model that is not a string → 400 with param "model"', async () => {
      for (const m of [42, null, ['chat'], { name: 'chat' }]) {
        const r = await post('/v1/chat/completions', { model: m, messages: [] });
        assertOpenAIError(r, 400, { type: 'invalid_request_error', param: 'model' });
      }
    });

    it('unknown model → 404 model_not_found naming the model', async () => {
      for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
        const r = await post(path, { model: 'gpt-17-ultra', messages: [], prompt: 'x', input: 'x' });
        const e = assertOpenAIError(r, 404, { code: 'model_not_found' });
        assert.match(e.message, /gpt-17-ultra/);
      }
      const r = await http(`${gw.url}/v1/models/gpt-17-ultra`);
      assertOpenAIError(r, 404, { code: 'model_not_found' });
    });

    it('embeddings on a TextGeneration-only model → 400 naming the feature', async () => {
      const r = await post('/v1/embeddings', { model: 'chat', input: 'hello' });
      const e = assertOpenAIError(r, 400, { type: 'invalid_request_error' });
      assert.match(e.message, /TextEmbedding|embedding/i);
      assert.match(e.message, /chat/, 'names the model');
    });

    it('chat on a TextEmbedding-only model → 400 naming the feature', async () => {
      const r = await post('/v1/chat/completions', chatBody('embed'));
      const e = assertOpenAIError(r, 400, { type: 'invalid_request_error' });
      assert.match(e.message, /TextGeneration|chat|generation/i);
    });

    it('unknown route → 404, OpenAI-shaped', async () => {
      assertOpenAIError(await http(`${gw.url}/v1/no/such/route`), 404);
      assertOpenAIError(await post('/v1/chat/completion', chatBody('chat')), 404);
      assertOpenAIError(await http(`${gw.url}/no-such-page`), 404); // "/" itself redirects to the console
    });

    it('wrong method → 405, OpenAI-shaped', async () => {
      assertOpenAIError(await http(`${gw.url}/v1/chat/completions`), 405);
      assertOpenAIError(await http(`${gw.url}/v1/embeddings`, { method: 'PUT', body: '{}' }), 405);
      assertOpenAIError(await post('/v1/models', {}), 405);
    });
  });

  describe('body over server.maxBodySize → 413', () => {
    // valid JSON, a real chat request, just too big
    const big = JSON.stringify(chatBody('chat', { messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY + 1024) }] }));
    const small = JSON.stringify(chatBody('chat', { messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY - 1024) }] }));

    it('just under the limit is accepted', async () => {
      const r = await curl(`${gw.url}/v1/chat/completions`, { body: small });
      assert.equal(r.status, 200, r.text.slice(0, 300));
    });

    it('HTTP/1.1 with Content-Length', async () => {
      const before = (await sim.stats()).requests;
      const r = await curl(`${gw.url}/v1/chat/completions`, { body: big });
      assertOpenAIError(r, 413);
      assert.equal((await sim.stats()).requests, before, 'nothing reached the engine');
    });

    it('HTTP/1.1 chunked upload', async () => {
      const before = (await sim.stats()).requests;
      const r = await curl(`${gw.url}/v1/chat/completions`, { body: big, chunked: true });
      assertOpenAIError(r, 413);
      assert.equal((await sim.stats()).requests, before, 'nothing reached the engine');
    });

    it('h2c with content-length', async () => {
      const r = await curl(`${gw.url}/v1/chat/completions`, { mode: 'h2c', body: big });
      assert.equal(r.httpVersion, '2');
      assertOpenAIError(r, 413);
    });

    it('h2c upload of unknown length (DATA frames only)', async () => {
      const before = (await sim.stats()).requests;
      const r = await curl(`${gw.url}/v1/chat/completions`, { mode: 'h2c', body: big, chunked: true });
      assert.equal(r.httpVersion, '2');
      assertOpenAIError(r, 413);
      assert.equal((await sim.stats()).requests, before, 'nothing reached the engine');
    });

    it('fetch (undici) with Content-Length', async () => {
      assertOpenAIError(await postRaw('/v1/chat/completions', big), 413);
    });
  });

  describe('upstream failures', () => {
    it('connection refused → 502 naming the model, not the endpoint', async () => {
      const r = await post('/v1/chat/completions', chatBody('m-refused'));
      const e = assertOpenAIError(r, 502);
      assert.match(e.message, /m-refused/, 'names the model');
      assert.doesNotMatch(r.text, new RegExp(`127\\.0\\.0\\.1|:${deadPort}\\b|${deadPort}`), 'does not leak the endpoint');
      // streamed requests fail the same way (nothing was sent yet)
      const s = await post('/v1/chat/completions', chatBody('m-refused', { stream: true }));
      assertOpenAIError(s, 502);
    });

    it('a refused endpoint is retried on another one', async () => {
      // the balancer rotates ties, so some request is first sent to the dead endpoint; each must
      // still succeed, and the access log must show that one took two attempts (refused, then sim)
      const before = (await sim.stats()).requests;
      const records = () => gw.stdout.split('\n').filter((l) => l.includes('"model":"m-retry"')).map((l) => JSON.parse(l));
      let sent = 0;
      while (sent < 4 && !records().some((x) => x.attempts === 2)) {
        const r = await post('/v1/chat/completions', chatBody('m-retry'));
        sent++;
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.model, 'm-retry');
        // the access-log line is written as the answer ends: wait for this request's line
        await waitFor(() => records().length === sent, { what: `${sent} m-retry access-log lines` });
      }
      const recs = records();
      assert.ok(recs.some((x) => x.attempts === 2), `two endpoints, ties rotated: a retry within 4 requests:\n${JSON.stringify(recs)}`);
      for (const x of recs) {
        assert.equal(x.status, 200);
        assert.equal(x.endpoint, sim.url, 'every answer came from the live engine');
        assert.ok(x.attempts === 1 || x.attempts === 2, JSON.stringify(x));
      }
      assert.equal((await sim.stats()).requests, before + sent, 'the live engine served each request exactly once');
    });

    it('engine answers 500 → 502 carrying the engine\'s message, OpenAI-shaped', async () => {
      // the core maps an engine 5xx (after retries) to 502 server_error and passes the engine's
      // own error message through; ig-sim's 500 says "ig-sim: injected fault (500)"
      const r = await post('/v1/chat/completions', chatBody('m-500'));
      const e = assertOpenAIError(r, 502, { type: 'server_error' });
      assert.match(e.message, /injected fault/);
      const s = await post('/v1/chat/completions', chatBody('m-500', { stream: true }));
      assertOpenAIError(s, 502, { type: 'server_error' });
    });

    it('engine closes the connection without answering → 502', async () => {
      const r = await post('/v1/chat/completions', chatBody('m-close'));
      assertOpenAIError(r, 502);
    });

    it('engine hangs past firstByteTimeout → 504', async () => {
      const r = await post('/v1/chat/completions', chatBody('m-hang'));
      const e = assertOpenAIError(r, 504);
      assert.match(e.message, /m-hang/, 'names the model');
      const s = await post('/v1/chat/completions', chatBody('m-hang', { stream: true }));
      assertOpenAIError(s, 504);
    });

    it('engine dies mid-stream → the client sees the stream end without [DONE] or with an error', async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chatBody('m-die', { stream: true, max_tokens: 40 })),
      });
      assert.equal(res.status, 200, 'the stream had started');
      let text = '';
      let aborted = null;
      try {
        const dec = new TextDecoder();
        for await (const chunk of res.body) text += dec.decode(chunk, { stream: true });
      } catch (e) {
        aborted = e; // the gateway reset the stream: also a correct signal
      }
      // complete events only: the last one may have been cut in the middle
      const events = text.split(/\n\n/).slice(0, -1).filter((b) => b.startsWith('data:')).map((b) => b.slice(5).trim());
      const sawDone = events.includes('[DONE]');
      const sawError = events.some((e) => {
        try {
          return e !== '[DONE]' && 'error' in (JSON.parse(e) ?? {});
        } catch {
          return false;
        }
      });
      assert.ok(events.length >= 2, 'some tokens arrived before the engine died');
      // the gateway ends a cut stream cleanly with an OpenAI error event and no [DONE]
      assert.equal(aborted, null, `the stream should end cleanly, not be reset: ${aborted}`);
      assert.ok(sawError && !sawDone, `a cut stream must end with an error event and no [DONE]: ${text.slice(-400)}`);
    });

    it('engine dies mid-stream over h2c → same', async () => {
      const r = await curl(`${gw.url}/v1/chat/completions`, {
        mode: 'h2c',
        body: chatBody('m-die', { stream: true, max_tokens: 40 }),
      });
      // same over HTTP/2: the error event arrives and the stream ends without a reset
      assert.equal(r.exit, 0, `curl exit ${r.exit}: ${r.text.slice(-400)}`);
      const sse = parseSSE(r.text);
      const sawError = sse.chunks.some((c) => c.error);
      assert.ok(sawError && !sse.done, `cut stream must end with an error event and no [DONE]: ${r.text.slice(-400)}`);
    });

    for (const mode of ['h1', 'h2c']) {
      it(`engine dies mid-body on a non-streamed request (${mode}) → never a complete-looking 200`, async () => {
        const r = await curl(`${gw.url}/v1/chat/completions`, { mode, body: chatBody('m-die', { max_tokens: 40 }) });
        // nothing had reached the client, so it gets a clean 502 naming the model
        assert.equal(r.exit, 0, `curl exit ${r.exit}: ${r.text.slice(0, 300)}`);
        assertOpenAIError(r, 502);
        assert.match(r.json.error.message, /m-die/);
      });
    }

    it('the gateway still serves after all upstream failures', async () => {
      const h = await http(`${gw.url}/healthz`);
      assert.equal(h.status, 200);
      const r = await post('/v1/chat/completions', chatBody('chat'));
      assert.equal(r.status, 200, r.text);
    });
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    for (const s of [sim, sim500, simHang, simDie, simClose]) await s.checkAliveAndStop({ cleanExit: false });
  });
});

