// Hostile HTTP/1.1 clients against the real binary, in raw bytes over node's net (issue 14): request
// smuggling framings refused with an OpenAI-shaped 400 and the connection closed (the smuggled
// request never reaches the engine: ig-sim's request counter stays); more than 100 headers; a body
// over maxBodySize refused from its Content-Length, and a keyless one refused at the head, before
// the body is sent; the budget for bodies being received (503); a slow but steady upload served
// whole (200, the engine sees the same SHA-256) although it takes longer than the head timeout; a
// stalled one answered 408 and closed; slowloris connections closed while a bystander is served;
// RSS bounded under concurrent keyless 30 MB uploads; a second instance on the same port exits with
// "address in use"; admin paths decoded once; control characters in a model name shown escaped;
// files holding keys or money 0600. Every assertion is on counts and states, never on durations.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  startSim, startGateway, model, http, run, gatewayPath, assertOpenAIError, waitFor, sleep, PLUGINS_DIR, SLOW, tmpDir,
  noiseWav,
} from './harness.mjs';

const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const ADMIN = 'hostile-h1-admin-secret-0123456789';
const KEY = 'sk-hostile-h1-acme-0123456789abcdef';
const CHAT = 'chat-model';
const SLASHED = 'org/m1'; // a publication's model name with a '/' (prepared before such a model exists): %2F
const VL = 'whisper-vllm';
const VL_SERVED = 'openai/whisper-small';
const MAX_BODY = 16 * 1024 * 1024;
const BUDGET = 24 * 1024 * 1024;
const HEADER_TIMEOUT_MS = 2000;
const BODY_IDLE_MS = 1000;
const BOUND = SLOW ? 30000 : 15000; // waits for a state; never an assertion on time

/** A raw connection: what arrived, whether it closed. */
function connect(port) {
  const c = { data: Buffer.alloc(0), closed: false, error: null };
  c.sock = net.connect(port, '127.0.0.1');
  c.sock.on('data', (d) => (c.data = Buffer.concat([c.data, d])));
  c.sock.on('close', () => (c.closed = true));
  c.sock.on('error', (e) => (c.error = e));
  c.text = () => c.data.toString('latin1');
  c.write = (b) =>
    new Promise((resolve) => {
      if (c.closed || c.sock.destroyed) return resolve(false);
      c.sock.write(b, (err) => resolve(!err));
    });
  c.closedNow = () => waitFor(() => c.closed, { timeoutMs: BOUND, what: 'the server to close the connection' });
  c.waitText = (re, what) => waitFor(() => re.test(c.text()), { timeoutMs: BOUND, what: what || `${re}` });
  c.statuses = () => [...c.text().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s !== 100);
  c.ready = new Promise((r) => c.sock.once('connect', r));
  return c;
}

/** The first response in c's bytes as {status, headers, text, json} (the body runs to the close). */
function firstResponse(c) {
  let t = c.text();
  while (t.startsWith('HTTP/1.1 100')) t = t.slice(t.indexOf('\r\n\r\n') + 4);
  const end = t.indexOf('\r\n\r\n');
  const head = t.slice(0, end);
  const status = Number(head.slice(9, 12));
  const headers = {};
  for (const l of head.split('\r\n').slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  let text = t.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let out = '';
    for (let rest = text; ;) {
      const nl = rest.indexOf('\r\n');
      const n = parseInt(rest.slice(0, nl), 16);
      if (!n) break;
      out += rest.slice(nl + 2, nl + 2 + n);
      rest = rest.slice(nl + 2 + n + 2);
    }
    text = out;
  } else if (headers['content-length']) text = text.slice(0, Number(headers['content-length']));
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status, headers, text, json };
}

/** Sends bytes on a new connection and waits until the server closes it. */
async function exchangeUntilClosed(port, bytes) {
  const c = connect(port);
  await c.ready;
  await c.write(Buffer.from(bytes, 'latin1'));
  await c.closedNow();
  return c;
}

const chatJson = (extra = '') => `{"model":"${CHAT}","messages":[{"role":"user","content":"hi${extra}"}],"max_tokens":2}`;

describe('hostile HTTP/1.1 clients', () => {
  let sim, gw;
  const simRequests = async () => (await sim.stats()).requests;

  before(async () => {
    sim = await startSim({ models: [CHAT, VL_SERVED] });
    gw = await startGateway({
      server: {
        adminKeys: [sha(ADMIN)],
        maxBodySize: MAX_BODY,
        clientTimeouts: { requestHeader: `${HEADER_TIMEOUT_MS}ms`, bodyIdle: `${BODY_IDLE_MS}ms` },
        clientLimits: { bodyBudgetBytes: BUDGET },
      },
      plugins: {
        dir: PLUGINS_DIR,
        load: ['vllm', 'leastload', 'apikey', 'billing'],
        options: {
          apikey: { customers: [{ id: 'acme', name: 'Acme' }], keys: [{ id: 'k1', customer: 'acme', hash: sha(KEY) }] },
          billing: { flushInterval: '50ms', exportDir: path.join(tmpDir(), 'h1-exports') },
        },
      },
      models: [
        model(CHAT, [sim]),
        { name: VL, engine: 'VLLM', servedModelName: VL_SERVED, features: ['SpeechToText'], endpoints: [sim.url] },
      ],
    });
  });

  it('Content-Length with Transfer-Encoding: 400 in OpenAI shape, closed, the smuggled request never served', async () => {
    const before = await simRequests();
    const first = chatJson(' first');
    const smuggled = chatJson(' smuggled');
    const c = await exchangeUntilClosed(gw.port,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n` +
      // chunked, the first request is whole and valid; framed by its Content-Length (as a front proxy
      // might), the second is the body's tail: served, it would be a request smuggled past the proxy
      `Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${first.length.toString(16)}\r\n${first}\r\n0\r\n\r\n` +
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
    assert.deepEqual(c.statuses(), [400], c.text());
    const r = firstResponse(c);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.match(assertOpenAIError(r, 400, { type: 'invalid_request_error' }).message, /Content-Length and Transfer-Encoding/);
    assert.equal(await simRequests(), before, 'nothing reached the engine');
  });

  it('other ambiguous framings: 400, closed, nothing served', async () => {
    const before = await simRequests();
    const body = chatJson();
    const heads = [
      [`Content-Length: ${body.length}\r\nContent-Length: ${body.length + 1}\r\n`, /two different Content-Length/],
      ['Content-Length: 1e3\r\n', /Content-Length is not/],
      ['Content-Length: -1\r\n', /Content-Length is not/],
      ['Transfer-Encoding: gzip, chunked\r\n', /Transfer-Encoding other than/],
      ['Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', /Transfer-Encoding other than/],
      ['Transfer-Encoding: identity\r\n', /Transfer-Encoding other than/],
      ['Transfer-Encoding : chunked\r\n', /./],
      ['X-Folded: a\r\n b\r\nTransfer-Encoding: chunked\r\n', /./],
    ];
    for (const [h, re] of heads) {
      const c = await exchangeUntilClosed(gw.port,
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n${h}\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      assert.deepEqual(c.statuses(), [400], `${JSON.stringify(h)}: ${c.text()}`);
      const r = firstResponse(c);
      assert.match(assertOpenAIError(r, 400).message, re, JSON.stringify(h));
    }
    const c10 = await exchangeUntilClosed(gw.port,
      `POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    assert.match(assertOpenAIError(firstResponse(c10), 400).message, /HTTP\/1\.0/);
    assert.equal(await simRequests(), before, 'nothing reached the engine');
  });

  it('a chunked request and a pipelined one after it: both served on the one connection', async () => {
    const before = await simRequests();
    const a = chatJson(' a');
    const b = chatJson(' b');
    const c = connect(gw.port);
    await c.ready;
    await c.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n${(10).toString(16)}\r\n${a.slice(0, 10)}\r\n${(a.length - 10).toString(16)}\r\n${a.slice(10)}\r\n0\r\n\r\n` +
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${b.length}\r\n\r\n${b}`);
    await waitFor(() => c.statuses().length === 2, { timeoutMs: BOUND, what: 'two responses' });
    assert.deepEqual(c.statuses(), [200, 200], c.text());
    assert.equal(c.closed, false, 'kept alive');
    assert.equal(await simRequests(), before + 2);
    c.sock.destroy();
  });

  it('more than 100 header fields: 400 in OpenAI shape (application/json), closed', async () => {
    let h = '';
    for (let i = 0; i < 120; i++) h += `X-Many-${i}: v\r\n`;
    const c = await exchangeUntilClosed(gw.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${h}\r\n`);
    const r = firstResponse(c);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.match(assertOpenAIError(r, 400).message, /more than 100 header fields/);
    const g = await exchangeUntilClosed(gw.port, 'GARBAGE\x01 / HTTP/1.1\r\n\r\n');
    assertOpenAIError(firstResponse(g), 400);
  });

  it('a Content-Length over maxBodySize: 413 before a byte of the body is sent', async () => {
    const c = connect(gw.port);
    await c.ready;
    await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`);
    await c.closedNow();
    assertOpenAIError(firstResponse(c), 413, { code: 'request_too_large' });
  });

  it('a chunked body is cut with 413 as soon as it passes maxBodySize', async () => {
    const c = connect(gw.port);
    await c.ready;
    await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const piece = Buffer.alloc(1024 * 1024, 0x20);
    for (let sent = 0; sent < MAX_BODY; sent += piece.length) {
      assert.ok(await c.write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])));
    }
    assert.equal(c.statuses().length, 0, 'not refused at the limit itself');
    await c.write('1\r\n '); // one byte past the limit, and the body never ends
    await c.closedNow();
    assertOpenAIError(firstResponse(c), 413, { code: 'request_too_large' });
  });

  it('no key: 401 at the head of a large body, before a byte of it is sent (Content-Length and chunked)', async () => {
    for (const framing of ['Content-Length: 100000', 'Transfer-Encoding: chunked']) {
      const c = connect(gw.port);
      await c.ready;
      await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`);
      await c.closedNow();
      assertOpenAIError(firstResponse(c), 401);
    }
    // refused before the router ran, still in the access log
    await waitFor(() => gw.stdout.split('\n').filter((l) => l.includes('"path":"/v1/chat/completions"') && l.includes('"status":401')).length >= 2,
      { timeoutMs: BOUND, what: 'the two 401s in the access log' });
  });

  it('Expect: 100-continue: a keyless large body gets 401 instead of 100; with a key, 100, then the body', async () => {
    const k = connect(gw.port);
    await k.ready;
    await k.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n');
    await k.closedNow();
    assert.ok(!/^HTTP\/1\.1 100 /.test(k.text()), 'no 100 Continue for a keyless body');
    assertOpenAIError(firstResponse(k), 401);

    const body = chatJson();
    const c = connect(gw.port);
    await c.ready;
    await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n` +
      `Expect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    await c.waitText(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '100 Continue');
    await c.write(body);
    await waitFor(() => c.statuses().length === 1, { timeoutMs: BOUND, what: 'the answer' });
    assert.deepEqual(c.statuses(), [200]);
    c.sock.destroy();
  });

  it('the budget for bodies being received: 503 with Retry-After when spent, given back when a body ends', async () => {
    const n = 13 * 1024 * 1024; // under maxBodySize; two of these do not fit in the 24 MiB budget
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nExpect: 100-continue\r\nContent-Length: ${n}\r\n\r\n`;
    const a = connect(gw.port);
    await a.ready;
    await a.write(head);
    await a.waitText(/^HTTP\/1\.1 100 /, 'the first upload to be admitted');
    const b = connect(gw.port);
    await b.ready;
    await b.write(head);
    await b.closedNow();
    const rb = firstResponse(b);
    assertOpenAIError(rb, 503);
    assert.equal(rb.headers['retry-after'], '1');
    a.sock.destroy(); // the first client leaves: its share comes back
    await waitFor(async () => {
      const c = connect(gw.port);
      await c.ready;
      await c.write(head);
      await waitFor(() => c.closed || /^HTTP\/1\.1 100 /.test(c.text()), { timeoutMs: BOUND, what: 'an answer' });
      const admitted = /^HTTP\/1\.1 100 /.test(c.text());
      c.sock.destroy();
      return admitted;
    }, { timeoutMs: BOUND, what: 'the budget to come back' });
  });

  it('a slow, steady upload outlives the head timeout and is served whole; a stalled one gets 408', async () => {
    const wavBytes = noiseWav(24); // 24 s of noise at 16 kHz, about 768 KB

    const boundary = 'hostileH1Boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${VL}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
      wavBytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const c = connect(gw.port);
    await c.ready;
    await c.write(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`);
    // pieces far apart enough that the whole upload lasts longer than clientTimeouts.requestHeader,
    // each well inside bodyIdle: it keeps moving, so it is never cut
    const pieces = 30;
    const gap = (HEADER_TIMEOUT_MS * 1.5) / pieces;
    const step = Math.ceil(body.length / pieces);
    const started = Date.now();
    for (let off = 0; off < body.length; off += step) {
      assert.ok(await c.write(body.subarray(off, off + step)), 'the server took the piece');
      await sleep(gap);
    }
    assert.ok(Date.now() - started > HEADER_TIMEOUT_MS, 'the pacing itself: the upload outlasted the head timeout');
    await waitFor(() => c.statuses().length === 1, { timeoutMs: BOUND, what: 'the transcription' });
    const r = firstResponse(c);
    assert.equal(r.status, 200, r.text);
    assert.equal(typeof r.json.text, 'string');
    const audio = await (await fetch(`${sim.url}/sim/audio`)).json();
    assert.equal(audio.last.sha256, sha256(wavBytes), 'the engine received the exact bytes');
    c.sock.destroy();

    const s = connect(gw.port);
    await s.ready;
    await s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: 1000\r\n\r\n{"model":`);
    await s.closedNow(); // it stopped sending: bodyIdle ends it
    assertOpenAIError(firstResponse(s), 408, { code: 'request_timeout' });
  });

  it('slowloris: 500 connections dribbling a head are closed, a bystander is served meanwhile', async () => {
    const conns = [];
    for (let i = 0; i < 500; i++) conns.push(connect(gw.port));
    await Promise.all(conns.map((c) => c.ready));
    await Promise.all(conns.map((c) => c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')));
    const bystander = await http(`${gw.url}/healthz`);
    assert.equal(bystander.status, 200);
    // a byte now and then: the head timeout counts the whole head, so dribbling does not extend it
    const dribble = (async () => {
      for (let i = 0; i < 40 && conns.some((c) => !c.closed); i++) {
        await Promise.all(conns.filter((c) => !c.closed).map((c) => c.write('X')));
        await sleep(HEADER_TIMEOUT_MS / 8);
      }
    })();
    await waitFor(() => conns.every((c) => c.closed), { timeoutMs: BOUND, what: 'every slowloris connection to be closed' });
    await dribble;
    assert.equal(conns.filter((c) => c.statuses().includes(200)).length, 0, 'none of them got an answer');
    assert.equal((await http(`${gw.url}/healthz`)).status, 200);
  });

  it('10 concurrent keyless 30 MB uploads: refused at the head, RSS bounded', async () => {
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${gw.child.pid}/status`, 'utf8'))[1]) * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const size = 30 * 1024 * 1024;
    const before = rss();
    for (const framing of [`Content-Length: ${size}`, 'Transfer-Encoding: chunked']) {
      await Promise.all(Array.from({ length: 10 }, async () => {
        const c = connect(gw.port);
        await c.ready;
        await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`);
        const chunked = framing.startsWith('Transfer');
        for (let sent = 0; sent < size && !c.closed; sent += chunk.length) {
          if (!(await c.write(chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk))) break;
        }
        await c.closedNow();
        const st = c.statuses();
        assert.ok(st.length === 0 || st[0] === 401 || st[0] === 413, c.text().slice(0, 300));
        c.sock.destroy();
      }));
    }
    const grown = rss() - before;
    // (a client still writing when the refusal comes may see a reset rather than the answer: the
    // tests above, which send the head alone, see the 401 and the 413 themselves)
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${grown} bytes for 20 refused uploads`);
  });

  it('a second instance on the same address exits non-zero with "address in use"', async () => {
    const r = await run(gatewayPath(), ['-c', gw.configPath], { timeoutMs: BOUND });
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${gw.port}: address in use`));
    assert.equal((await http(`${gw.url}/healthz`)).status, 200, 'the first one still serves');
  });

  it('admin paths are decoded once: %2561cme is not acme, %2F is a model name\'s slash', async () => {
    const admin = { authorization: `Bearer ${ADMIN}` };
    assert.equal((await http(`${gw.url}/admin/customers/acme`, { headers: admin })).status, 200);
    assert.equal((await http(`${gw.url}/admin/customers/ac%6De`, { headers: admin })).status, 200, 'one decoding');
    assert.equal((await http(`${gw.url}/admin/customers/%2561cme`, { headers: admin })).status, 404, 'never two');
    const pub = await http(`${gw.url}/admin/models/org%2Fm1/publish`, { method: 'POST', headers: admin, body: { customers: ['acme'] } });
    assert.equal(pub.status, 200, pub.text);
    assert.ok(pub.text.includes(`"${SLASHED}"`), pub.text);
    const del = await http(`${gw.url}/admin/models/org%2Fm1/publish`, { method: 'DELETE', headers: admin });
    assert.equal(del.status, 200, del.text);
  });

  it('a model name with a control character: 400 naming the whole name, escaped', async () => {
    const r = await http(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}` },
      body: '{"model":"m1\\u0000x","messages":[{"role":"user","content":"hi"}]}',
    });
    const e = assertOpenAIError(r, 400, { param: 'model' });
    assert.ok(e.message.includes('"m1\\u0000x"'), e.message);
  });

  it('files holding keys or money are 0600', async () => {
    const state = /stateDir: "([^"]+)"/.exec(fs.readFileSync(gw.configPath, 'utf8'))[1];
    const exports = path.join(tmpDir(), 'h1-exports');
    await waitFor(() => fs.existsSync(exports) && fs.readdirSync(exports).length > 0, { timeoutMs: BOUND, what: 'a usage export' });
    const files = [
      ...fs.readdirSync(state).filter((f) => /^(keys|ledger)\.db(-wal|-shm)?$|admin|unsaved/.test(f)).map((f) => path.join(state, f)),
      ...fs.readdirSync(exports).map((f) => path.join(exports, f)),
    ];
    for (const f of ['keys.db', 'ledger.db']) assert.ok(files.includes(path.join(state, f)), `${f} in ${state}`);
    for (const f of files) {
      if (fs.statSync(f).isFile()) assert.equal((fs.statSync(f).mode & 0o777).toString(8), '600', f);
    }
  });

  it('the gateway is still alive and stops cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop();
  });
});
