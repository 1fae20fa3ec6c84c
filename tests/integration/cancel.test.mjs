// A client that goes away mid-stream cancels the upstream request: the simulator counts the stream
// as cancelled (its connection was closed before the end). Waits are bounded; nothing is timed.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import OpenAI from 'openai';
import { startSim, startGateway, model, waitFor, chatBody, SLOW } from './harness.mjs';

const BOUND_MS = SLOW ? 10000 : 5000;
const longStream = chatBody('chat', { stream: true, max_tokens: 200 }); // ~10 s at 20 tokens/s

describe('client disconnect cancels the upstream stream', () => {
  let sim, gw;

  before(async () => {
    sim = await startSim({ models: ['chat'], args: ['--token-rate', '20'] });
    gw = await startGateway({ models: [model('chat', [sim])] });
  });

  async function expectCancelled(before) {
    const s = await waitFor(
      async () => {
        const s = await sim.stats();
        return s.streams_cancelled >= before.streams_cancelled + 1 && s.active_streams === 0 && s;
      },
      { timeoutMs: BOUND_MS, what: 'the simulator to see the stream cancelled' },
    );
    assert.equal(s.streams_finished, before.streams_finished, 'the stream did not run to its end');
    assert.ok(s.completion_tokens - before.completion_tokens < 200, 'generation stopped early');
  }

  it('HTTP/1.1: fetch aborted after a few chunks', async () => {
    const before = await sim.stats();
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(longStream),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    let n = 0;
    await assert.rejects(async () => {
      for await (const chunk of res.body) {
        if (new TextDecoder().decode(chunk).includes('data:') && ++n === 3) ac.abort();
      }
    }, /abort/i);
    assert.equal(n, 3);
    await expectCancelled(before);
  });

  it('h2c: RST_STREAM after a few chunks, the connection stays usable', async () => {
    const before = await sim.stats();
    const session = http2.connect(gw.url);
    session.on('error', () => {});
    try {
      const req = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' });
      req.end(JSON.stringify(longStream));
      const status = await new Promise((resolve, reject) => {
        req.on('response', (h) => resolve(h[':status']));
        req.on('error', reject);
      });
      assert.equal(status, 200);
      await new Promise((resolve) => {
        let n = 0;
        req.on('data', (d) => {
          if (String(d).includes('data:') && ++n === 3) {
            req.close(http2.constants.NGHTTP2_CANCEL);
            resolve();
          }
        });
      });
      await expectCancelled(before);

      // same connection, next stream
      const req2 = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' });
      req2.end(JSON.stringify(chatBody('chat', { max_tokens: 3 })));
      let body = '';
      const st2 = await new Promise((resolve, reject) => {
        let st;
        req2.on('response', (h) => (st = h[':status']));
        req2.setEncoding('utf8');
        req2.on('data', (d) => (body += d));
        req2.on('end', () => resolve(st));
        req2.on('error', reject);
      });
      assert.equal(st2, 200, body);
      assert.equal(JSON.parse(body).usage.completion_tokens, 3);
    } finally {
      session.destroy();
    }
  });

  it('OpenAI SDK: stream.controller.abort()', async () => {
    const before = await sim.stats();
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create(longStream);
    let n = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content && ++n === 3) stream.controller.abort();
      }
    } catch (e) {
      assert.match(String(e?.name) + String(e?.message), /abort/i);
    }
    assert.equal(n, 3);
    await expectCancelled(before);
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
