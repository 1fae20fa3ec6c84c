// The gateway against the engines as they are today (issue 16, engine fidelity), each behaviour
// selected on ig-sim's command line:
//   - every engine's error envelope (vLLM >= 0.10.1 and 0.6, Ollama's OpenAI layer, Infinity,
//     faster-whisper-server's FastAPI) reaches the client as OpenAI's type and code for its status,
//     with the engine's message (the official SDK's exception class and .code for one of them);
//   - vLLM's error event inside a stream: the client gets it OpenAI-shaped and the stream ends (no
//     [DONE]); the access log, /metrics and the ledger record a failed request with the error's
//     status, not a complete 200;
//   - merged deltas: billed exactly with continuous_usage_stats; without it a client that leaves is
//     billed the chunks that reached the gateway, the documented lower bound (tested against the
//     simulator's own chunk and token counters);
//   - vLLM's bounded running queue seen through the gateway (engine load from vLLM's /metrics);
//   - a stream that stalls past server.idleTimeout;
//   - Ollama before 0.5.2 (no usage in streams) and before ollama/ollama#5371 (cached prompt tokens
//     not counted), billed as documented.
// Every assertion compares exact counts with the simulator's own counters; timing is never asserted.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  PLUGINS_DIR, SLOW, assertOpenAIError, curl, http, model, parseSSE, startGateway, startSim, tmpDir, waitFor,
} from './harness.mjs';
import { parsePrometheus, sum } from './prometheus.mjs';

const WAIT = SLOW ? 30000 : 10000;

/** Access-log records (JSON lines on the gateway's stdout). */
function accessLog(gw) {
  const out = [];
  for (const line of gw.stdout.split('\n')) {
    try {
      const r = JSON.parse(line);
      if (r && r.path) out.push(r);
    } catch {}
  }
  return out;
}

/** A gateway with the billing plugin, its JSONL export read back as the ledger's records. */
async function startBilledGateway(name, models, { load = ['vllm', 'leastload'], server = {} } = {}) {
  const stateDir = path.join(tmpDir(), `state-${name}`);
  const exportDir = path.join(tmpDir(), `export-${name}`);
  fs.mkdirSync(stateDir, { recursive: true });
  const gw = await startGateway({
    server: { stateDir, ...server },
    plugins: { dir: PLUGINS_DIR, load: [...load, 'billing'], options: { billing: { flushInterval: '20ms', exportDir } } },
    models,
  });
  gw.records = () => {
    if (!fs.existsSync(exportDir)) return [];
    return fs.readdirSync(exportDir).filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => fs.readFileSync(path.join(exportDir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  };
  gw.waitRecords = (n) => waitFor(() => gw.records().length === n && gw.records(), { timeoutMs: WAIT, what: `${n} usage records` });
  return gw;
}

async function metrics(gw) {
  const r = await fetch(`${gw.url}/metrics`);
  assert.equal(r.status, 200);
  return parsePrometheus(await r.text());
}

/** Reads a streamed answer to its end; {status, text, aborted}. */
async function readStream(url, body, { signal, until } = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  let text = '';
  let aborted = null;
  try {
    const dec = new TextDecoder();
    for await (const chunk of res.body) {
      text += dec.decode(chunk, { stream: true });
      if (until && until(text)) break;
    }
  } catch (e) {
    aborted = e;
  }
  return { status: res.status, text, aborted };
}

/** Chunks that carried generated text, in the complete events of an SSE text. */
function textChunks(text) {
  return parseSSE(text.slice(0, text.lastIndexOf('\n\n') + 2)).chunks
    .filter((c) => c.choices?.[0] && (c.choices[0].delta?.content || c.choices[0].text)).length;
}

const sdk = (gw) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0, timeout: 30000 });

describe('error envelopes: OpenAI type and code by status, the engine\'s message', () => {
  let cur, old, ollama, infinity, whisper, failing, gw;

  before(async () => {
    cur = await startSim({ models: ['chat'] }); // vLLM >= 0.10.1: {"error":{...,"type":"BadRequestError","code":400}}
    old = await startSim({ models: ['chat'], args: ['--error-format', 'vllm-0.6'], name: 'ig-sim-vllm06' });
    failing = await startSim({ args: ['--fault', '500'], name: 'ig-sim-500' });
    ollama = await startSim({ models: ['llama3.2:1b'], args: ['--api', 'ollama'], name: 'ig-sim-ollama' });
    infinity = await startSim({ models: ['bge'], args: ['--api', 'infinity'], name: 'ig-sim-infinity' });
    whisper = await startSim({ models: ['Systran/faster-whisper-small'], args: ['--api', 'fasterwhisper'], name: 'ig-sim-fw' });
    gw = await startGateway({
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'ollama', 'infinity', 'fasterwhisper', 'leastload'] },
      models: [
        model('cur', [cur], { servedModelName: 'chat' }),
        model('cur-ghost', [cur], { servedModelName: 'not-served' }), // the engine's own 404
        model('old', [old], { servedModelName: 'chat' }),
        model('old-ghost', [old], { servedModelName: 'not-served' }),
        model('failing', [failing]),
        { name: 'ol', engine: 'OLlama', url: 'ollama://llama3.2:1b', features: ['TextGeneration'], endpoints: [ollama.url] },
        { name: 'inf', engine: 'Infinity', features: ['TextEmbedding'], endpoints: [infinity.url], servedModelName: 'bge' },
        { name: 'inf-ghost', engine: 'Infinity', features: ['TextEmbedding'], endpoints: [infinity.url], servedModelName: 'nope' },
        { name: 'fw-ghost', engine: 'FasterWhisper', url: 'hf://nope/x', features: ['SpeechToText'], endpoints: [whisper.url] },
      ],
    });
  });

  const post = (p, body) => http(`${gw.url}${p}`, { method: 'POST', body });
  const chat = (m, extra = {}) => ({ model: m, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra });

  for (const [name, ghost, engine] of [['cur', 'cur-ghost', 'vLLM >= 0.10.1'], ['old', 'old-ghost', 'vLLM 0.6']]) {
    it(`${engine}: 400 BadRequestError → invalid_request_error, 404 NotFoundError → model_not_found`, async () => {
      for (const stream of [false, true]) {
        const r = await post('/v1/chat/completions', chat(name, { max_tokens: 0, stream }));
        const e = assertOpenAIError(r, 400, { type: 'invalid_request_error', code: null, param: null });
        assert.equal(e.message, 'max_tokens must be at least 1, got 0.', 'the engine\'s message');
        const n = await post('/v1/chat/completions', chat(ghost, { stream }));
        const ne = assertOpenAIError(n, 404, { type: 'invalid_request_error', code: 'model_not_found' });
        assert.equal(ne.message, 'The model `not-served` does not exist.');
      }
      const long = await post('/v1/completions', { model: name, prompt: 'w '.repeat(5000), max_tokens: 1 });
      assert.match(assertOpenAIError(long, 400, { type: 'invalid_request_error', code: null }).message, /maximum context length is 4096/);
    });
  }

  it('the official SDK: NotFoundError with code model_not_found, BadRequestError with the engine\'s message', async () => {
    const client = sdk(gw);
    await assert.rejects(client.chat.completions.create(chat('cur-ghost')), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.type, 'invalid_request_error');
      return true;
    });
    await assert.rejects(client.completions.create({ model: 'old', prompt: 'x', max_tokens: 0 }), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.code, null, 'no class name or number where OpenAI has its codes');
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.message, /max_tokens must be at least 1/);
      return true;
    });
  });

  it('vLLM 500 InternalServerError → 502 server_error carrying the engine\'s message', async () => {
    const e = assertOpenAIError(await post('/v1/chat/completions', chat('failing')), 502, { type: 'server_error', code: null });
    assert.equal(e.message, 'ig-sim: injected fault (500)');
  });

  it('Ollama\'s OpenAI layer (its own types) → invalid_request_error', async () => {
    const r = await post('/v1/chat/completions', chat('ol', { max_tokens: 'many' }));
    const e = assertOpenAIError(r, 400, { type: 'invalid_request_error', code: null });
    assert.match(e.message, /cannot unmarshal string into Go struct field max_tokens/);
  });

  it('Infinity ({"error":{...,"type":null}}) and its FastAPI 422 ({"detail":[...]}) → invalid_request_error', async () => {
    const r = await post('/v1/embeddings', { model: 'inf-ghost', input: 'x' });
    assert.match(assertOpenAIError(r, 400, { type: 'invalid_request_error', code: null }).message, /Invalid model/);
    const v = await post('/v1/embeddings', { model: 'inf', input: [] });
    assert.match(assertOpenAIError(v, 422, { type: 'invalid_request_error', code: null }).message, /too_short/);
  });

  it('faster-whisper-server ({"detail":...}) 404 → model_not_found', async () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('RIFF')]), 'a.wav');
    form.append('model', 'fw-ghost');
    const res = await fetch(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    const text = await res.text();
    assertOpenAIError({ status: res.status, text, json: JSON.parse(text) }, 404, { type: 'invalid_request_error', code: 'model_not_found' });
  });

  it('gateway and simulators stop cleanly', async () => {
    await gw.checkAliveAndStop();
    for (const s of [cur, old, failing, ollama, infinity, whisper]) await s.checkAliveAndStop({ cleanExit: false });
  });
});

describe('vLLM\'s error event inside a stream: the client sees it, the request is recorded as failed', () => {
  let cur, old, gw;
  const EVENT = (type) => ({ error: { message: 'ig-sim: injected fault (error-mid-stream)', type, param: null, code: null } });

  before(async () => {
    cur = await startSim({ models: ['chat'] });
    old = await startSim({ models: ['chat'], args: ['--error-format', 'vllm-0.6'], name: 'ig-sim-vllm06' });
    gw = await startBilledGateway('stream-errors', [
      model('cur', [cur], { servedModelName: 'chat' }),
      model('old', [old], { servedModelName: 'chat' }),
    ]);
  });

  // vLLM >= 0.10.1 reports an engine failure as InternalServerError 500; vLLM 0.6 reported every
  // exception in a stream with its defaults, BadRequestError 400
  const cases = [['cur', () => cur, 500, 'server_error'], ['old', () => old, 400, 'invalid_request_error']];
  let records = 0;

  for (const [name, sim, status, type] of cases) {
    it(`${name}: tokens, then one OpenAI-shaped error event and the end; logged, counted and billed as ${status}`, async () => {
      const before = await sim().stats();
      const r = await readStream(`${gw.url}/v1/chat/completions`,
        { model: name, messages: [{ role: 'user', content: 'go' }], max_tokens: 8, stream: true, sim_fault: 'error-mid-stream' });
      assert.equal(r.status, 200, 'the stream had begun');
      assert.equal(r.aborted, null, 'the stream ends cleanly');
      const sse = parseSSE(r.text);
      assert.equal(sse.done, false, 'no [DONE] after an error');
      assert.deepEqual(sse.chunks.at(-1), EVENT(type));
      assert.equal(sse.events.at(-1), JSON.stringify(EVENT(type)), 'the error event is the last one');
      assert.deepEqual(sse.chunks.slice(0, -1).map((c) => c.choices[0].delta.content), ['', 'tok1 ', 'tok2 ', 'tok3 ', 'tok4 ']);
      const after = await sim().stats();
      assert.equal(after.streams_failed - before.streams_failed, 1);
      const sent = after.completion_tokens - before.completion_tokens;
      assert.equal(sent, 4);

      const log = await waitFor(() => accessLog(gw).filter((x) => x.model === name).at(-1), { what: 'the access log line' });
      assert.equal(log.status, status);
      assert.equal(log.outcome, 'the engine reported an error mid-stream');
      assert.equal(log.completion_tokens, sent);
      const m = await metrics(gw);
      assert.equal(sum(m, 'infergate_requests_total', { model: name, status: String(status) }), 1);
      assert.equal(sum(m, 'infergate_requests_total', { model: name, status: '200' }), 0, 'not a 200');
      const rec = (await gw.waitRecords(++records)).filter((x) => x.model === name).at(-1);
      assert.equal(rec.status, status);
      assert.equal(rec.complete, false);
      assert.equal(rec.stream, true);
      assert.equal(rec.completion_tokens, sent, 'billed the tokens that reached the client');
    });
  }

  it('the official SDK raises APIError with OpenAI\'s type at the error event; over h2c the same events', async () => {
    const got = [];
    await assert.rejects(async () => {
      const stream = await sdk(gw).chat.completions.create({
        model: 'cur', messages: [{ role: 'user', content: 'go' }], max_tokens: 6, stream: true, sim_fault: 'error-mid-stream',
      });
      for await (const c of stream) got.push(c.choices[0].delta.content);
    }, (err) => {
      assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}`);
      assert.equal(err.type, 'server_error');
      assert.equal(err.code, null);
      assert.match(err.message, /injected fault \(error-mid-stream\)/);
      return true;
    });
    assert.deepEqual(got, ['', 'tok1 ', 'tok2 ', 'tok3 ']);
    const r = await curl(`${gw.url}/v1/chat/completions`, {
      mode: 'h2c', body: { model: 'cur', messages: [{ role: 'user', content: 'go' }], max_tokens: 4, stream: true, sim_fault: 'error-mid-stream' },
    });
    assert.equal(r.exit, 0, r.stderr);
    const sse = parseSSE(r.text);
    assert.ok(!sse.done);
    assert.deepEqual(sse.chunks.at(-1), EVENT('server_error'));
    records += 2;
    const recs = await gw.waitRecords(records);
    assert.equal(recs.filter((x) => x.status === 500 && !x.complete).length, 3);
  });

  it('gateway and simulators stop cleanly', async () => {
    await gw.checkAliveAndStop();
    for (const s of [cur, old]) await s.checkAliveAndStop({ cleanExit: false });
  });
});

describe('merged deltas: exact with usage so far, a tested lower bound without it', () => {
  const PER_CHUNK = 3;
  let exact, bound, v1, gw;

  before(async () => {
    exact = await startSim({ models: ['chat'], args: ['--tokens-per-chunk', String(PER_CHUNK)], name: 'ig-sim-merged' });
    bound = await startSim({ models: ['chat'], args: ['--tokens-per-chunk', String(PER_CHUNK), '--ignore-continuous-usage'], name: 'ig-sim-nocont' });
    v1 = await startSim({ models: ['chat'], args: ['--merge-deltas'], name: 'ig-sim-v1' });
    gw = await startBilledGateway('merged', [
      model('exact', [exact], { servedModelName: 'chat' }),
      model('bound', [bound], { servedModelName: 'chat' }),
      model('v1', [v1], { servedModelName: 'chat' }),
    ]);
  });

  let records = 0;
  /** A client that leaves after `chunks` chunks with text, while the engine drips (one chunk a second). */
  async function leaveAfter(name, sim, chunks) {
    const before = await sim.stats();
    const ac = new AbortController();
    await readStream(`${gw.url}/v1/chat/completions`, {
      model: name, messages: [{ role: 'user', content: 'count' }], max_tokens: 30, stream: true,
      sim_drip_after: chunks * PER_CHUNK, sim_drip_ms: 1000,
    }, { signal: ac.signal, until: (t) => textChunks(t) >= chunks && (ac.abort(), true) });
    await waitFor(async () => (await sim.stats()).streams_cancelled === before.streams_cancelled + 1, { timeoutMs: WAIT, what: 'the cancel' });
    const after = await sim.stats();
    const rec = (await gw.waitRecords(++records)).at(-1);
    return { rec, sent: after.completion_tokens - before.completion_tokens, chunks: after.chunks - before.chunks };
  }

  // (the gateway bills what reached it: a chunk or two that came after its client left, before it
  // saw so at its next write, count on both sides)
  it('continuous_usage_stats honoured (vLLM): a client that leaves is billed exactly what was sent', async () => {
    const { rec, sent, chunks } = await leaveAfter('exact', exact, 2);
    assert.ok(chunks >= 2);
    assert.equal(sent, PER_CHUNK * chunks, 'the deltas merged');
    assert.equal(rec.status, 499);
    assert.equal(rec.completion_tokens, sent, 'exact, however many tokens a chunk holds');
  });

  it('continuous_usage_stats ignored: billed the chunks that arrived, a lower bound within a factor of the merge', async () => {
    const { rec, sent, chunks } = await leaveAfter('bound', bound, 3);
    assert.ok(chunks >= 3);
    assert.equal(sent, PER_CHUNK * chunks);
    // the documented bound: billed = chunks that carried text <= sent <= tokens-per-chunk x billed
    assert.equal(rec.completion_tokens, chunks, 'billed one token per chunk that reached the gateway');
    assert.ok(rec.completion_tokens <= sent && sent <= PER_CHUNK * rec.completion_tokens,
      `bound: ${rec.completion_tokens} <= ${sent} <= ${PER_CHUNK} x ${rec.completion_tokens}`);
    assert.equal(sent - rec.completion_tokens, (PER_CHUNK - 1) * chunks, 'under-billed by the merged tokens only');
  });

  it('continuous_usage_stats ignored, the stream read to its end: exact from the final usage chunk', async () => {
    const before = await bound.stats();
    const r = await readStream(`${gw.url}/v1/chat/completions`, { model: 'bound', messages: [{ role: 'user', content: 'x' }], max_tokens: 10, stream: true });
    assert.ok(parseSSE(r.text).done);
    assert.equal(textChunks(r.text), 4);
    const rec = (await gw.waitRecords(++records)).at(-1);
    assert.equal(rec.completion_tokens, (await bound.stats()).completion_tokens - before.completion_tokens);
    assert.equal(rec.completion_tokens, 10);
    assert.equal(rec.complete, true);
  });

  it('vLLM V1 merging whatever is due (unpaced: one delta): exact', async () => {
    const r = await readStream(`${gw.url}/v1/chat/completions`, { model: 'v1', messages: [{ role: 'user', content: 'x' }], max_tokens: 12, stream: true });
    assert.equal(textChunks(r.text), 1, 'one delta holds the 12 tokens');
    const rec = (await gw.waitRecords(++records)).at(-1);
    assert.equal(rec.completion_tokens, 12);
    assert.equal((await v1.stats()).chunks, 1);
  });

  it('gateway and simulators stop cleanly', async () => {
    await gw.checkAliveAndStop();
    for (const s of [exact, bound, v1]) await s.checkAliveAndStop({ cleanExit: false });
  });
});

describe('vLLM\'s running queue (--max-num-seqs) seen through the gateway', () => {
  it('waiting requests show in the engine load read from /metrics; they start only once a slot frees', { timeout: 120000 }, async () => {
    const sim = await startSim({ models: ['chat'], args: ['--max-num-seqs', '1'] });
    const gw = await startGateway({
      models: [model('chat', [sim])],
      server: {
        firstByteTimeout: '120s', // over HTTP/1.1 a waiting stream's headers come with its first token
        healthCheck: { interval: '100ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 3 },
      },
    });
    const url = `${gw.url}/v1/chat/completions`;
    const order = []; // what happened, in order: the first client leaving, each waiter's answer starting
    const ac = new AbortController();
    // the first holds the only slot: one token, then one every 300 ms (so the gateway, writing, sees
    // its client leave)
    const first = readStream(url, { model: 'chat', messages: [{ role: 'user', content: 'a' }], max_tokens: 1000, stream: true,
      sim_drip_after: 1, sim_drip_ms: 300 }, { signal: ac.signal });
    await waitFor(async () => (await sim.stats()).completion_tokens >= 1, { timeoutMs: WAIT, what: 'the first stream to run' });
    const waiters = [0, 1].map(async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'b' }], max_tokens: 2, stream: true }) });
      order.push('waiter answered'); // the gateway answers with the engine's first bytes: after prefill
      return { status: res.status, text: await res.text() };
    });
    await waitFor(async () => (await sim.stats()).waiting === 2, { timeoutMs: WAIT, what: 'two requests waiting in the engine' });
    const load = () => metrics(gw).then((m) => sum(m, 'infergate_endpoint_engine_load', { endpoint: sim.url }));
    await waitFor(async () => (await load()) === 3, { timeoutMs: WAIT, what: 'engine load 3 (1 running + 2 waiting) at the gateway' });
    const st = await sim.stats();
    assert.equal(st.waiting, 2);
    assert.equal(st.queued, 2);
    assert.equal(st.streams_finished + st.streams_cancelled, 0, 'the first still runs');
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    assert.match(text, /^vllm:num_requests_waiting\{model_name="chat"\} 2\.0$/m);
    assert.match(text, /^vllm:num_requests_running\{model_name="chat"\} 1\.0$/m);

    order.push('first left');
    ac.abort(); // the first leaves: the waiters run, one after the other
    const done = await Promise.all(waiters);
    for (const w of done) {
      assert.equal(w.status, 200);
      assert.ok(parseSSE(w.text).done, 'the waiter ran to its end');
    }
    await first;
    assert.deepEqual(order, ['first left', 'waiter answered', 'waiter answered'], 'no waiter started while the slot was held');
    const end = await sim.stats();
    assert.equal(end.streams_cancelled, 1);
    assert.equal(end.streams_finished, 2);
    assert.equal(end.queued, 2);
    await waitFor(async () => (await load()) === 0, { timeoutMs: WAIT, what: 'the engine load back to 0' });
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop();
  });
});

describe('a stream that stalls past server.idleTimeout', () => {
  it('the client gets the tokens, an error event and the end; the engine request is cancelled; billed what was sent', async () => {
    const sim = await startSim({ models: ['chat'] });
    const gw = await startBilledGateway('stall', [model('chat', [sim])], { server: { idleTimeout: '1s' } });
    const r = await readStream(`${gw.url}/v1/chat/completions`,
      { model: 'chat', messages: [{ role: 'user', content: 'x' }], max_tokens: 8, stream: true, sim_fault: 'stall-mid-stream' });
    assert.equal(r.status, 200);
    assert.equal(r.aborted, null);
    const sse = parseSSE(r.text);
    assert.equal(sse.done, false);
    assert.deepEqual(sse.chunks.slice(0, -1).map((c) => c.choices[0].delta.content), ['', 'tok1 ', 'tok2 ', 'tok3 ', 'tok4 ']);
    assert.deepEqual(sse.chunks.at(-1).error,
      { message: 'the engine\'s stream ended before it was complete', type: 'server_error', param: null, code: 'upstream_error' });
    await waitFor(async () => (await sim.stats()).streams_cancelled === 1, { timeoutMs: WAIT, what: 'the engine to see the gateway leave' });
    const st = await sim.stats();
    assert.equal(st.completion_tokens, 4);
    const log = await waitFor(() => accessLog(gw).find((x) => x.model === 'chat'), { what: 'the access log line' });
    assert.equal(log.outcome, 'the engine stopped sending mid-response');
    const [rec] = await gw.waitRecords(1);
    assert.equal(rec.complete, false);
    assert.equal(rec.completion_tokens, st.completion_tokens);
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop();
  });
});

describe('older Ollama: no usage in streams (< 0.5.2), cached prompt tokens not counted (before #5371)', () => {
  let sim, gw;
  const TAG = 'llama3.2:1b';

  before(async () => {
    sim = await startSim({ models: [TAG], args: ['--api', 'ollama', '--ignore-stream-options', '--cached-prompt-uncounted'] });
    gw = await startBilledGateway('ollama', [
      { name: 'llama', engine: 'OLlama', url: `ollama://${TAG}`, features: ['TextGeneration'], endpoints: [sim.url] },
    ], { load: ['ollama', 'leastload'] });
  });

  it('a stream without usage: completion billed exactly (one token per chunk), the prompt unknown', async () => {
    const before = await sim.stats();
    const r = await readStream(`${gw.url}/v1/chat/completions`, {
      model: 'llama', messages: [{ role: 'user', content: 'one two three' }], max_tokens: 5, stream: true,
      stream_options: { include_usage: true },
    });
    const sse = parseSSE(r.text);
    assert.ok(sse.done);
    assert.ok(sse.chunks.every((c) => !('usage' in c)), 'the engine sent no usage, and the gateway invents none');
    const after = await sim.stats();
    const [rec] = await gw.waitRecords(1);
    assert.equal(rec.completion_tokens, after.completion_tokens - before.completion_tokens);
    assert.equal(rec.completion_tokens, 5);
    assert.equal(rec.prompt_tokens, 0, 'not reported: not billed');
    const log = await waitFor(() => accessLog(gw).find((x) => x.model === 'llama'), { what: 'the access log line' });
    assert.equal(log.prompt_tokens, -1, 'unknown, not 0');
    assert.equal(log.completion_tokens, 5);
  });

  it('a repeated prompt is billed the tokens Ollama counted: the cached ones are the documented shortfall', async () => {
    const before = await sim.stats();
    const body = { model: 'llama', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'name a river' }], max_tokens: 3 };
    for (let i = 0; i < 2; i++) assert.equal((await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body })).status, 200);
    const recs = (await gw.waitRecords(3)).slice(1);
    const after = await sim.stats();
    const prompt = after.prompt_tokens - before.prompt_tokens;
    const uncounted = after.prefix_cache_hits - before.prefix_cache_hits;
    assert.deepEqual(recs.map((x) => x.prompt_tokens), [13, 0], 'the second time Ollama reported 0');
    assert.equal(prompt, 26, 'the engine saw the whole prompt twice');
    assert.equal(recs.reduce((s, x) => s + x.prompt_tokens, 0), prompt - uncounted, 'billed = prompt - cached, exactly');
    assert.deepEqual(recs.map((x) => x.completion_tokens), [3, 3]);
  });

  it('gateway and simulator stop cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
