// Hostile HTTP/2 clients (issue 14): raw frames over node's net (h2raw.mjs) against the real
// gateway and ig-sim. Each probe asserts its bound with counts: the connection ended with GOAWAY
// ENHANCE_YOUR_CALM, the engine requests the simulator saw start, the gateway's RSS growth, and
// bystanders still served. The bounds are infergate's own (core/http/h2_guard.c), Debian's
// h2o 2.2.5 has none of them.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { startSim, startGateway, model, waitFor, curl, chatBody, makeCert, SLOW, PLUGINS_DIR, noiseWav } from './harness.mjs';
import { RawH2, requestBlock, headers, data, dataFrames, rst, literal, literalIndexed, indexed, frame, ENHANCE_YOUR_CALM, CANCEL, REFUSED_STREAM, T } from './h2raw.mjs';

const BOUND_MS = SLOW ? 30000 : 10000;
const BUDGET = 100;
const CHAT = '/v1/chat/completions';
const body = (extra = {}) => JSON.stringify(chatBody('chat', { max_tokens: 1, ...extra }));

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

async function bystanderServed(gw) {
  const r = await curl(`${gw.url}${CHAT}`, { mode: 'h2c', body: chatBody('chat', { max_tokens: 2 }) });
  assert.equal(r.status, 200, `a bystander connection is served: ${r.text}`);
}

/** A counter of the gateway's /metrics (the one line with that name and labels). */
async function metric(gw, line) {
  const t = await (await fetch(`${gw.url}/metrics`)).text();
  const l = t.split('\n').find((x) => x.startsWith(`${line} `));
  assert.ok(l, `/metrics has ${line}`);
  return Number(l.split(' ').pop());
}

async function endedWithCalm(c, what) {
  await waitFor(() => c.closed, { timeoutMs: BOUND_MS, what: `${what}: the gateway to close the connection` });
  assert.ok(c.goaway, `${what}: a GOAWAY before the close`);
  assert.equal(c.goaway.code, ENHANCE_YOUR_CALM, `${what}: GOAWAY ENHANCE_YOUR_CALM (${c.goaway.debug})`);
}

describe('HTTP/2 rapid reset: a per-connection reset budget', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({ models: ['chat'], args: ['--token-rate', '50'] });
    gw = await startGateway({
      tls: await makeCert(),
      models: [model('chat', [sim])],
      server: { clientLimits: { h2ResetBudget: BUDGET } },
    });
  });

  it('HEADERS+DATA+RST_STREAM in one write: GOAWAY after the budget, no engine request started', async () => {
    const before = await sim.stats();
    const c = await new RawH2(gw.port).connect();
    // one write of 1.5 budgets: the gateway reads it all before it closes, so its GOAWAY is not lost
    // to a TCP reset (a flood keeps going until the write fails; the bench does that)
    const frames = [];
    let sent = 0;
    for (; sent < BUDGET * 1.5; sent++) {
      const id = 1 + 2 * sent;
      frames.push(headers(id, requestBlock(CHAT)), data(id, body()), rst(id));
    }
    await c.write(Buffer.concat(frames));
    await endedWithCalm(c, 'rapid reset');
    const opened = (c.goaway.lastStreamId + 1) / 2;
    assert.ok(opened <= BUDGET + 1, `streams processed before GOAWAY: ${opened} (budget ${BUDGET})`);
    assert.ok(sent > BUDGET + 1, 'the client did send more than the budget');
    const after = await sim.stats();
    assert.equal(after.requests - before.requests, 0, 'no engine request started for a stream reset with its request');
    assert.equal(await metric(gw, 'infergate_h2_connections_ended_total{bound="h2ResetBudget"}'), 1);
    await bystanderServed(gw);
  });

  it('the same over TLS (ALPN h2): GOAWAY after the budget, no engine request started', async () => {
    const before = await sim.stats();
    const c = await new RawH2(gw.tlsPort, { tls: true }).connect();
    const frames = [];
    for (let sent = 0; sent < BUDGET * 1.5; sent++) {
      const id = 1 + 2 * sent;
      frames.push(headers(id, requestBlock(CHAT)), data(id, body()), rst(id));
    }
    await c.write(Buffer.concat(frames));
    await endedWithCalm(c, 'rapid reset over TLS');
    assert.ok((c.goaway.lastStreamId + 1) / 2 <= BUDGET + 1, `streams processed before GOAWAY: ${(c.goaway.lastStreamId + 1) / 2}`);
    assert.equal((await sim.stats()).requests - before.requests, 0, 'no engine request started');
  });

  it('resets the client makes the gateway do (a zero WINDOW_UPDATE, "MadeYouReset") count the same', async () => {
    const c = await new RawH2(gw.port).connect();
    const frames = [];
    for (let sent = 0; sent < BUDGET * 1.5; sent++) {
      const id = 1 + 2 * sent; // a request whose body never comes, then a stream-level protocol error
      frames.push(headers(id, requestBlock(CHAT)), frame(T.WINDOW_UPDATE, 0, id, Buffer.alloc(4)));
    }
    await c.write(Buffer.concat(frames));
    await endedWithCalm(c, 'MadeYouReset');
    const resetByGateway = [...c.streams.values()].filter((s) => s.rst !== null).length;
    assert.ok(resetByGateway >= BUDGET, `the gateway reset the streams itself (${resetByGateway})`);
    assert.ok((c.goaway.lastStreamId + 1) / 2 <= BUDGET + 2, `streams before GOAWAY: ${(c.goaway.lastStreamId + 1) / 2}`);
  });

  it('resets after the gateway dispatched: each engine request cancelled, GOAWAY after the budget', async () => {
    const before = await sim.stats();
    const c = await new RawH2(gw.port).connect();
    let n = 0;
    for (; n < BUDGET + 20 && !c.closed; n++) {
      const id = 1 + 2 * n;
      await c.write(Buffer.concat([headers(id, requestBlock(CHAT)), data(id, body({ stream: true, max_tokens: 500 }))]));
      // reset only once the engine runs the request: the expensive case
      await waitFor(async () => c.closed || (await sim.stats()).streams_started >= before.streams_started + n + 1,
        { timeoutMs: BOUND_MS, intervalMs: 5, what: `stream ${id} to reach the engine` });
      await c.write(rst(id));
    }
    await endedWithCalm(c, 'reset after dispatch');
    const s = await waitFor(async () => { const s = await sim.stats(); return s.active_streams === 0 && s; },
      { timeoutMs: BOUND_MS, what: 'every engine stream to end' });
    const started = s.streams_started - before.streams_started;
    assert.ok(started <= BUDGET + 1, `engine streams started: ${started} (budget ${BUDGET})`);
    assert.equal(s.streams_cancelled - before.streams_cancelled, started, 'every reset stream was cancelled at the engine');
    assert.equal(s.streams_finished - before.streams_finished, 0, 'none ran to its end');
    await bystanderServed(gw);
  });

  it('an HTTP/1.1 Upgrade to h2c is answered in HTTP/1.1: every HTTP/2 connection is a guarded one', async () => {
    const r = await curl(`${gw.url}${CHAT}`, { mode: 'h2', body: chatBody('chat', { max_tokens: 2 }) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.httpVersion, '1.1');
  });

  it('a client whose streams finish may reset more than the budget over time (refunds)', async () => {
    const c = await new RawH2(gw.port).connect();
    let id = 1;
    for (let i = 0; i < BUDGET * 2; i++, id += 4) {
      await c.write(Buffer.concat([headers(id, requestBlock(CHAT)), data(id, body())]));
      await waitFor(() => c.closed || c.stream(id).end, { timeoutMs: BOUND_MS, intervalMs: 1, what: `stream ${id} answered` });
      await c.write(Buffer.concat([headers(id + 2, requestBlock(CHAT)), data(id + 2, body()), rst(id + 2)]));
    }
    await c.write(Buffer.concat([headers(id, requestBlock(CHAT)), data(id, body())]));
    await waitFor(() => c.closed || c.stream(id).end, { timeoutMs: BOUND_MS, what: 'the last stream answered' });
    assert.equal(c.goaway, null, 'no GOAWAY for an honest client');
    assert.equal(c.closed, false, 'the connection stays open');
    assert.ok(c.stream(id).data > 0, 'the last request was answered');
    c.close();
  });

  after(async () => {
    await gw?.stop();
    await sim?.stop();
  });
});

describe('HPACK amplification: a bound on the decoded header list', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({ models: ['chat'] });
    gw = await startGateway({ models: [model('chat', [sim])], server: { clientLimits: { maxHeaderListBytes: '32KiB' } } });
  });

  it('a 4 KB header referenced 100,000 times on 30 streams: GOAWAY, RSS growth below a few MB', async () => {
    const pid = gw.child.pid;
    await bystanderServed(gw); // warm: the first requests allocate what every later one reuses
    const rss0 = rssKb(pid);
    for (let conn = 0; conn < 5; conn++) {
      const c = await new RawH2(gw.port).connect();
      const refs = Buffer.alloc(100000, indexed(62)); // index 62: the newest dynamic entry, one byte each
      // one stream at a time, each written once the previous was taken: the gateway's GOAWAY is
      // then not lost to a TCP reset of unread bytes
      for (let s = 0; s < 30 && !c.closed; s++) {
        const id = 1 + 2 * s;
        const first = s === 0 ? [literalIndexed('x-bomb', 'a'.repeat(4000))] : [];
        await c.write(headers(id, requestBlock(CHAT, { extra: [...first, refs] })));
        if (s === 0) {
          // the first block is over the bound: nothing more is written until the gateway has had
          // its say, since bytes it never reads would turn its close into a TCP reset that can
          // drop the GOAWAY in flight (if it does not close, the loop goes on and the assertions
          // below fail)
          await waitFor(() => c.closed, { timeoutMs: BOUND_MS, what: 'the close after the first block' }).catch(() => {});
          continue;
        }
        await c.ping(); // answered once the gateway parsed the block, unless it ended the connection
      }
      await endedWithCalm(c, `HPACK bomb ${conn}`);
      assert.ok(c.goaway.lastStreamId <= 1, `refused at the first block (last stream ${c.goaway.lastStreamId})`);
    }
    const grown = rssKb(pid) - rss0;
    assert.ok(grown < 8 * 1024, `gateway RSS grew by ${grown} KB over 5 connections`);
    assert.equal(await metric(gw, 'infergate_h2_connections_ended_total{bound="maxHeaderListBytes"}'), 5);
    await bystanderServed(gw);
  });

  it('a request with an 8 KB header is served', async () => {
    const c = await new RawH2(gw.port).connect();
    await c.write(Buffer.concat([headers(1, requestBlock(CHAT, { extra: [literal('x-pad', 'p'.repeat(8000))] })), data(1, body())]));
    await waitFor(() => c.closed || c.stream(1).end, { timeoutMs: BOUND_MS, what: 'the answer' });
    assert.equal(c.goaway, null);
    assert.ok(c.stream(1).data > 0, 'answered');
    c.close();
  });

  after(async () => {
    await gw?.stop();
    await sim?.stop();
  });
});

describe('send stall: a client that never opens its window', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({ models: ['chat'], args: ['--token-rate', '200'] });
    gw = await startGateway({ models: [model('chat', [sim])], server: { clientTimeouts: { sendStall: '1s' } } });
  });

  it('the engine request is cancelled, the connection closed, the log shows 499 and the partial tokens', async () => {
    const before = await sim.stats();
    // SETTINGS_INITIAL_WINDOW_SIZE 0: the gateway may send headers, never a byte of data
    const c = await new RawH2(gw.port, { settings: [[4, 0]] }).connect();
    await c.write(Buffer.concat([headers(1, requestBlock(CHAT)), data(1, body({ stream: true, max_tokens: 3000 }))]));
    const s = await waitFor(async () => { const s = await sim.stats(); return s.streams_cancelled > before.streams_cancelled && s; },
      { timeoutMs: BOUND_MS, what: 'the engine stream to be cancelled' });
    assert.equal(s.streams_started - before.streams_started, 1);
    assert.equal(s.streams_finished - before.streams_finished, 0, 'the engine did not run to its end');
    await waitFor(() => c.closed, { timeoutMs: BOUND_MS, what: 'the gateway to close the stalled connection' });
    assert.equal(c.stream(1).data, 0, 'no data could go out');
    const line = await waitFor(() => gw.stdout.split('\n').find((l) => l.includes('sendStall')),
      { timeoutMs: BOUND_MS, what: 'the access log line' });
    const rec = JSON.parse(line);
    assert.equal(rec.status, 499, line);
    assert.ok(rec.completion_tokens > 0, `partial tokens billed: ${line}`);
    assert.ok(rec.completion_tokens < 3000, line);
    await bystanderServed(gw);
  });

  after(async () => {
    await gw?.stop();
    await sim?.stop();
  });
});

describe('send stall over HTTP/1.1: a client that stops reading a stream', () => {
  let sim, gw;
  before(async () => {
    // tokens as fast as the gateway reads them: the client's TCP window closes within megabytes
    sim = await startSim({ models: ['chat'], args: ['--token-rate', '0', '--max-model-len', '10000000'] });
    gw = await startGateway({ models: [model('chat', [sim])], server: { clientTimeouts: { sendStall: '1s' } } });
  });

  it('the engine request is cancelled once the TCP window stays closed, logged 499', async () => {
    const before = await sim.stats();
    const payload = JSON.stringify(chatBody('chat', { stream: true, max_tokens: 2000000 }));
    const sock = net.connect(gw.port, '127.0.0.1');
    let got = 0, closed = false, reading = false;
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; });
    sock.on('data', (d) => { got += d.length; if (!reading) sock.pause(); }); // the first bytes, then no read
    sock.write(`POST ${CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    const s = await waitFor(async () => { const s = await sim.stats(); return s.streams_cancelled > before.streams_cancelled && s; },
      { timeoutMs: BOUND_MS * 2, what: 'the engine stream to be cancelled' });
    assert.equal(s.streams_finished - before.streams_finished, 0, 'the engine did not run to its end');
    assert.ok(got > 0, 'the answer had started');
    const line = await waitFor(() => gw.stdout.split('\n').find((l) => l.includes('sendStall')),
      { timeoutMs: BOUND_MS, what: 'the access log line' });
    const rec = JSON.parse(line);
    assert.equal(rec.status, 499, line);
    assert.equal(rec.proto, 'HTTP/1.1', line);
    assert.ok(rec.completion_tokens > 0 && rec.completion_tokens < 2000000, `partial tokens billed: ${line}`);
    reading = true;
    sock.resume(); // the gateway shut the connection down: what is left drains, then the end
    await waitFor(() => closed, { timeoutMs: BOUND_MS, what: 'the connection to end' });
    await bystanderServed(gw);
  });

  after(async () => {
    await gw?.stop();
    await sim?.stop();
  });
});

describe('HTTP/2 request bodies: maxBodySize, the key and the body budget before h2o buffers them', () => {
  const MAX = 8 * 1024 * 1024;
  const BODY_BUDGET = 12 * 1024 * 1024;
  const KEY = 'sk-hostile-h2-body-0123456789abcdef';
  const VL = 'whisper-vllm';
  const VL_SERVED = 'openai/whisper-small';
  const sha = (v) => crypto.createHash('sha256').update(v).digest('hex');
  let sim, gw;

  before(async () => {
    sim = await startSim({ models: ['chat', VL_SERVED] });
    gw = await startGateway({
      server: { maxBodySize: MAX, clientLimits: { bodyBudgetBytes: BODY_BUDGET } },
      plugins: {
        dir: PLUGINS_DIR,
        load: ['vllm', 'leastload', 'apikey'],
        options: { apikey: { customers: [{ id: 'acme', name: 'Acme' }], keys: [{ id: 'k1', customer: 'acme', hash: `sha256:${sha(KEY)}` }] } },
      },
      models: [
        model('chat', [sim]),
        { name: VL, engine: 'VLLM', servedModelName: VL_SERVED, features: ['SpeechToText'], endpoints: [sim.url] },
      ],
    });
  });

  const head = (path, { key = true, length, contentType = 'application/json' } = {}) => Buffer.concat([
    literal(':method', 'POST'), literal(':scheme', 'http'), literal(':path', path), literal(':authority', 'localhost'),
    literal('content-type', contentType),
    ...(key ? [literal('authorization', `Bearer ${KEY}`)] : []),
    ...(length !== undefined ? [literal('content-length', String(length))] : []),
  ]);

  /** DATA for stream id in writes of 1 MiB; stops once the stream was reset. Returns the payload bytes written. */
  async function send(c, id, body, { end = true } = {}) {
    const frames = dataFrames(id, body, { endStream: end });
    let sent = 0;
    for (let i = 0; i < frames.length; i += 64) {
      if (c.stream(id).rsts.length || c.stream(id).end || c.closed) break;
      const batch = frames.slice(i, i + 64);
      if (!(await c.write(Buffer.concat(batch)))) break;
      sent += batch.reduce((a, f) => a + f.length - 9, 0);
    }
    return sent;
  }
  const answered = (c, id, what) => waitFor(() => c.stream(id).end || c.stream(id).rsts.length > 0 || c.closed,
    { timeoutMs: BOUND_MS * 3, what });
  const refusals = (bound) => metric(gw, `infergate_h2_bodies_refused_total{bound="${bound}"}`);
  const hwmKb = (pid) => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

  it('10 concurrent keyless uploads of maxBodySize: each refused (CANCEL) after 64 KiB, the peak RSS grows far less than their size', async () => {
    const before = await refusals('key');
    const hwm0 = hwmKb(gw.pid);
    const body = crypto.randomBytes(MAX);
    const conns = await Promise.all(Array.from({ length: 10 }, () => new RawH2(gw.port).connect()));
    await Promise.all(conns.map(async (c) => {
      await c.write(headers(1, head(CHAT, { key: false })));
      await send(c, 1, body);
      await answered(c, 1, 'the keyless upload to be refused');
    }));
    for (const c of conns) {
      assert.equal(c.stream(1).rsts[0], CANCEL, 'RST_STREAM CANCEL (h2o alone would buffer it all, then answer 401)');
      assert.equal(c.stream(1).headers, 0, 'no answer was started');
      assert.ok(!c.closed, 'only the stream is refused, not the connection');
      c.close();
    }
    assert.equal(await refusals('key') - before, 10);
    const growthMb = (hwmKb(gw.pid) - hwm0) / 1024;
    // unbounded, h2o holds all ten bodies at once (80 MiB); refused at 64 KiB each, what remains is
    // socket buffers and the allocator's slack
    assert.ok(growthMb < 32, `peak RSS grew by ${growthMb.toFixed(1)} MB for 10 x ${MAX >> 20} MiB keyless uploads`);
    const r = await curl(`${gw.url}${CHAT}`, { mode: 'h2c', body: chatBody('chat', { max_tokens: 2 }), headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(r.status, 200, `a bystander with a key is served: ${r.text}`);
  });

  it('a keyless API call with a small body is still answered 401 in OpenAI shape', async () => {
    const c = await new RawH2(gw.port).connect();
    await c.write(Buffer.concat([headers(1, head(CHAT, { key: false })), data(1, body())]));
    await answered(c, 1, 'the answer');
    assert.equal(c.stream(1).rsts.length, 0);
    const e = JSON.parse(Buffer.concat(c.stream(1).body).toString()).error;
    assert.equal(e.code, 'invalid_api_key', JSON.stringify(e));
    c.close();
  });

  it('a body over maxBodySize is answered 413 (OpenAI-shaped), by its content-length or without one, counted in the body budget; the connection serves on', async () => {
    const before = await refusals('maxBodySize');
    const c = await new RawH2(gw.port).connect();
    const tooLarge = async (id, what) => {
      await answered(c, id, what);
      assert.equal(c.stream(id).rsts.length, 0, `${what}: an answer, not a reset`);
      const e = JSON.parse(Buffer.concat(c.stream(id).body).toString()).error;
      assert.equal(e.code, 'request_too_large', `${what}: ${JSON.stringify(e)}`);
    };
    // h2o 2.2 dispatches a stream only with its whole body: the 413 comes then (bodies up to
    // twice maxBodySize; past that h2o resets the stream), and every byte counts in the budget
    await c.write(headers(1, head(CHAT, { length: MAX + 16384 })));
    await send(c, 1, Buffer.alloc(MAX + 16384));
    await tooLarge(1, 'a content-length over maxBodySize');
    await c.write(headers(3, head(CHAT)));
    await send(c, 3, Buffer.alloc(MAX + 16384));
    await tooLarge(3, 'DATA over maxBodySize');
    assert.equal(await refusals('maxBodySize') - before, 2);
    // the connection is not the stream: the next request on it is served
    await c.write(Buffer.concat([headers(5, head(CHAT)), data(5, body())]));
    await answered(c, 5, 'a request after the refusals');
    assert.equal(c.stream(5).rsts.length, 0);
    assert.ok(JSON.parse(Buffer.concat(c.stream(5).body).toString()).choices, 'a chat completion');
    assert.ok(!c.closed);
    c.close();
  });

  it('bodies being received share server.clientLimits.bodyBudgetBytes: over it REFUSED_STREAM, given back when the stream ends', async () => {
    const before = await refusals('bodyBudgetBytes');
    const part = crypto.randomBytes(7 * 1024 * 1024);
    const a = await new RawH2(gw.port).connect();
    await a.write(headers(1, head(CHAT)));
    await send(a, 1, part, { end: false });
    assert.ok(await a.ping(), 'the gateway took the first body in');
    const b = await new RawH2(gw.port).connect();
    await b.write(headers(1, head(CHAT)));
    await send(b, 1, part, { end: false });
    await answered(b, 1, 'the second body to be refused');
    assert.equal(b.stream(1).rsts[0], REFUSED_STREAM, '7 + 7 MiB over a 12 MiB budget: refused, and safe to retry');
    assert.equal(a.stream(1).rsts.length, 0, 'the first body is untouched');
    assert.equal(await refusals('bodyBudgetBytes') - before, 1);
    a.close(); // its stream ends: its 7 MiB go back to the budget
    b.close();
    await waitFor(async () => {
      const c = await new RawH2(gw.port).connect();
      await c.write(headers(1, head(CHAT)));
      await send(c, 1, part, { end: false });
      const ok = await c.ping() && c.stream(1).rsts.length === 0;
      c.close();
      return ok;
    }, { timeoutMs: BOUND_MS, what: 'the budget to be given back' });
  });

  it('honest uploads below the limit still work, byte-identical (with and without content-length)', async () => {
    const wavBytes = noiseWav(120); // 2 minutes of noise, about 3.8 MB

    const boundary = 'hostileH2Boundary';
    const form = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${VL}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
      wavBytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const c = await new RawH2(gw.port).connect();
    let id = 1;
    for (const length of [form.length, undefined]) {
      await c.write(headers(id, head('/v1/audio/transcriptions', { length, contentType: `multipart/form-data; boundary=${boundary}` })));
      assert.equal(await send(c, id, form), form.length);
      await answered(c, id, 'the transcription');
      assert.equal(c.stream(id).rsts.length, 0, `not refused (content-length ${length})`);
      const r = JSON.parse(Buffer.concat(c.stream(id).body).toString());
      assert.equal(typeof r.text, 'string', JSON.stringify(r).slice(0, 300));
      const audio = await (await fetch(`${sim.url}/sim/audio`)).json();
      assert.equal(audio.last.sha256, sha(wavBytes), 'the engine received the exact bytes');
      id += 2;
    }
    c.close();
    await gw.checkAliveAndStop();
  });

  after(async () => {
    await gw?.stop();
    await sim?.stop();
  });
});
