// Infinity (embeddings, rerank) and vLLM (rerank, score) through the gateway: the official OpenAI
// SDK for embeddings, curl for rerank in Cohere and Jina request styles, and every bad rerank/score
// body answered 400 naming the parameter without reaching the engine.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSim, startGateway, curl, http, assertOpenAIError, PLUGINS_DIR } from './harness.mjs';

const EMBED = 'bge-small';
const EMBED_SERVED = 'BAAI/bge-small-en-v1.5';
const RERANK = 'mxbai-rerank';
const RERANK_SERVED = 'mixedbread-ai/mxbai-rerank-xsmall-v1';
const VRERANK = 'bge-reranker';
const VRERANK_SERVED = 'BAAI/bge-reranker-v2-m3';
const CHAT = 'qwen-chat';
const DIM = 16;

const QUERY = 'capital of France';
const DOCS = ['Berlin is in Germany', 'Paris is the capital of France', 'the capital city', 'France has wine'];
// ig-sim's score: share of the query's words in the document -> Paris (3/3), capital (1/3) and France (1/3) tie, Berlin (0)
const BEST = 1;

const infinityModel = (name, served, features, sim) => ({
  name, engine: 'Infinity', url: `hf://${served}`, servedModelName: served, features, endpoints: [sim.url],
});

describe('rerank, score and Infinity', () => {
  let inf, vsim, infPrefixed, gw, gwPrefixed, client;

  before(async () => {
    inf = await startSim({ models: [EMBED_SERVED, RERANK_SERVED], args: ['--api', 'infinity', '--embedding-dim', String(DIM)] });
    infPrefixed = await startSim({ models: [EMBED_SERVED], args: ['--api', 'infinity', '--url-prefix', '/v1'], name: 'ig-sim-v1' });
    vsim = await startSim({ models: [VRERANK_SERVED, CHAT] });
    gw = await startGateway({
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'infinity', 'leastload'] },
      models: [
        infinityModel(EMBED, EMBED_SERVED, ['TextEmbedding'], inf),
        infinityModel(RERANK, RERANK_SERVED, ['Reranking'], inf),
        // served under a name the engine does not know: the engine's own error comes back
        infinityModel('ghost', 'no/such-model', ['TextEmbedding', 'Reranking'], inf),
        { name: VRERANK, engine: 'VLLM', servedModelName: VRERANK_SERVED, features: ['Reranking'], endpoints: [vsim.url] },
        { name: CHAT, engine: 'VLLM', features: ['TextGeneration'], endpoints: [vsim.url] },
      ],
    });
    gwPrefixed = await startGateway({
      name: 'infergate-prefixed',
      plugins: { dir: PLUGINS_DIR, load: ['infinity', 'leastload'], options: { infinity: { urlPrefix: '/v1' } } },
      models: [infinityModel(EMBED, EMBED_SERVED, ['TextEmbedding'], infPrefixed)],
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-anything', maxRetries: 0, timeout: 30000 });
  });

  // ---- embeddings against Infinity --------------------------------------------------------------

  it('OpenAI SDK embeddings (float) against Infinity: vectors, client model name, usage from the engine', async () => {
    const r = await client.embeddings.create({ model: EMBED, input: ['hello world', 'foo'], encoding_format: 'float' });
    assert.equal(r.object, 'list');
    assert.equal(r.model, EMBED, 'the client gets its own model name back, not the served one');
    assert.equal(r.data.length, 2);
    for (const [i, d] of r.data.entries()) {
      assert.equal(d.index, i);
      assert.equal(d.object, 'embedding');
      assert.equal(d.embedding.length, DIM);
      const norm = Math.hypot(...d.embedding);
      assert.ok(Math.abs(norm - 1) < 1e-5, `unit vector, got norm ${norm}`);
    }
    // Infinity's default usage counts characters: 11 + 3
    assert.equal(r.usage.prompt_tokens, 14);
    assert.equal(r.usage.total_tokens, 14);
  });

  it('OpenAI SDK embeddings (base64, the SDK default) decode to the same vectors', async () => {
    const f = await client.embeddings.create({ model: EMBED, input: 'the same text', encoding_format: 'float' });
    const b = await client.embeddings.create({ model: EMBED, input: 'the same text' }); // SDK asks for base64
    assert.equal(b.model, EMBED);
    assert.equal(b.data[0].embedding.length, DIM);
    for (let i = 0; i < DIM; i++) assert.ok(Math.abs(f.data[0].embedding[i] - b.data[0].embedding[i]) < 1e-6);
    assert.equal(b.usage.prompt_tokens, 'the same text'.length);
  });

  it('urlPrefix: Infinity run with --url-prefix /v1 is reached at /v1/embeddings', async () => {
    const c = new OpenAI({ baseURL: `${gwPrefixed.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const r = await c.embeddings.create({ model: EMBED, input: 'prefixed', encoding_format: 'float' });
    assert.equal(r.model, EMBED);
    assert.equal(r.data[0].embedding.length, 8);
    const st = await infPrefixed.stats();
    assert.equal(st.requests, 1);
  });

  // ---- rerank against Infinity ----------------------------------------------------------------

  it('Cohere-style rerank (strings) on /v1/rerank: ordered, top_n, documents, usage', async () => {
    const r = await curl(`${gw.url}/v1/rerank`, {
      body: { model: RERANK, query: QUERY, documents: DOCS, top_n: 2, return_documents: true },
    });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.object, 'rerank');
    assert.equal(j.model, RERANK);
    assert.equal(j.results.length, 2, 'top_n honoured');
    assert.equal(j.results[0].index, BEST);
    assert.equal(j.results[0].document.text, DOCS[BEST]);
    assert.equal(j.results[1].document.text, DOCS[j.results[1].index]);
    assert.ok(j.results[0].relevance_score > j.results[1].relevance_score);
    assert.ok(j.usage.prompt_tokens > 0 && j.usage.total_tokens === j.usage.prompt_tokens, JSON.stringify(j.usage));
    assert.match(j.id, /^infinity-/);
  });

  it('Jina-style rerank ({"text"} objects) on /rerank, without documents in the answer', async () => {
    const r = await curl(`${gw.url}/rerank`, {
      mode: 'h2c',
      body: { model: RERANK, query: QUERY, documents: DOCS.map((text, i) => ({ text, id: `d${i}` })), return_documents: false },
    });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.results.length, DOCS.length, 'every document ranked without top_n');
    assert.equal(j.results[0].index, BEST);
    for (const res of j.results) assert.ok(!('document' in res), `no document asked for: ${JSON.stringify(res)}`);
    const scores = j.results.map((x) => x.relevance_score);
    assert.deepEqual([...scores].sort((a, b) => b - a), scores, 'best first');
    assert.deepEqual(j.results.map((x) => x.index).sort(), [0, 1, 2, 3]);
    assert.equal(j.results.at(-1).index, 0, 'Berlin shares no word with the query');
  });

  it('Jina-style objects with return_documents: the document text comes back as {"text"}', async () => {
    const r = await http(`${gw.url}/v1/rerank`, {
      method: 'POST',
      body: { model: RERANK, query: 'wine', documents: [{ text: 'water' }, { text: 'France has wine' }], return_documents: true, top_n: 1 },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.results.map((x) => [x.index, x.document]), [[1, { text: 'France has wine' }]]);
  });

  it('the engine\'s own error (a served name Infinity does not know) reaches the client OpenAI-shaped', async () => {
    const r = await http(`${gw.url}/v1/rerank`, { method: 'POST', body: { model: 'ghost', query: 'q', documents: ['d'] } });
    const e = assertOpenAIError(r, 400, { type: 'invalid_request_error' });
    assert.match(e.message, /no\/such-model/);
  });

  it('Infinity\'s own validation (over 2048 documents: FastAPI 422 with a detail list) reaches the client OpenAI-shaped', async () => {
    const documents = Array.from({ length: 2049 }, (_, i) => `doc ${i}`);
    const r = await http(`${gw.url}/v1/rerank`, { method: 'POST', body: { model: RERANK, query: 'doc', documents } });
    const e = assertOpenAIError(r, 422, { type: 'invalid_request_error' });
    assert.match(e.message, /2048/);
  });

  it('"stream": true on a rerank is ignored: one JSON answer', async () => {
    const r = await http(`${gw.url}/v1/rerank`, {
      method: 'POST',
      body: { model: RERANK, query: QUERY, documents: DOCS, stream: true, stream_options: { include_usage: true } },
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.equal(r.json.results[0].index, BEST);
  });

  it('an engine 500 on Infinity becomes a 502 naming the cause', async () => {
    await inf.fault('500');
    try {
      const r = await http(`${gw.url}/v1/rerank`, { method: 'POST', body: { model: RERANK, query: 'q', documents: ['d'] } });
      assertOpenAIError(r, 502);
    } finally {
      await inf.fault('none');
    }
  });

  // ---- vLLM rerank and score ---------------------------------------------------------------------

  it('vLLM rerank: served name upstream, client name back, top_n, documents as vLLM sends them', async () => {
    await vsim.resetStats();
    const r = await curl(`${gw.url}/v1/rerank`, { body: { model: VRERANK, query: QUERY, documents: DOCS, top_n: 1 } });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.model, VRERANK);
    assert.match(j.id, /^rerank-/);
    assert.equal(j.results.length, 1);
    assert.equal(j.results[0].index, BEST);
    assert.deepEqual(j.results[0].document, { text: DOCS[BEST] });
    assert.ok(j.usage.prompt_tokens > 0);
    const st = await vsim.stats();
    assert.equal(st.requests, 1);
    assert.equal(st.prompt_tokens, j.usage.prompt_tokens, 'the usage the client sees is the engine\'s');
  });

  it('vLLM rerank with return_documents: false and Jina-style objects', async () => {
    const r = await curl(`${gw.url}/rerank`, {
      body: { model: VRERANK, query: QUERY, documents: DOCS.map((text) => ({ text })), return_documents: false },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.results.length, DOCS.length);
    assert.equal(r.json.results[0].index, BEST);
    for (const res of r.json.results) assert.ok(!('document' in res));
  });

  it('vLLM score: text_1 against a list of text_2, usage from vLLM', async () => {
    const r = await curl(`${gw.url}/v1/score`, {
      body: { model: VRERANK, text_1: QUERY, text_2: [DOCS[BEST], DOCS[0]] },
    });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.object, 'list');
    assert.equal(j.model, VRERANK);
    assert.deepEqual(j.data.map((d) => [d.index, d.object]), [[0, 'score'], [1, 'score']]);
    assert.ok(j.data[0].score > j.data[1].score);
    assert.equal(j.usage.prompt_tokens, 3 + 6 + 3 + 4);
  });

  // ---- refusals ------------------------------------------------------------------------------------

  const bad = [
    ['/v1/rerank', { query: 'q' }, 'documents'],
    ['/v1/rerank', { query: 'q', documents: [] }, 'documents'],
    ['/v1/rerank', { query: 'q', documents: 'one string' }, 'documents'],
    ['/v1/rerank', { query: 'q', documents: ['ok', 3] }, 'documents'],
    ['/v1/rerank', { query: 'q', documents: [{ title: 'no text' }] }, 'documents'],
    ['/v1/rerank', { documents: ['d'] }, 'query'],
    ['/rerank', { query: 42, documents: ['d'] }, 'query'],
    ['/rerank', { query: ['q'], documents: ['d'] }, 'query'],
    ['/v1/rerank', { query: 'q', documents: ['d'], top_n: 0 }, 'top_n'],
    ['/v1/rerank', { query: 'q', documents: ['d'], top_n: -2 }, 'top_n'],
    ['/v1/rerank', { query: 'q', documents: ['d'], top_n: 1.5 }, 'top_n'],
    ['/v1/rerank', { query: 'q', documents: ['d'], top_n: '3' }, 'top_n'],
    ['/v1/rerank', { query: 'q', documents: ['d'], return_documents: 'yes' }, 'return_documents'],
    ['/v1/score', { text_1: 'a' }, 'text_2'],
    ['/v1/score', { text_2: 'a' }, 'text_1'],
    ['/v1/score', { text_1: 'a', text_2: [] }, 'text_2'],
    ['/v1/score', { text_1: 7, text_2: 'a' }, 'text_1'],
    ['/v1/score', { text_1: ['a', 'b', 'c'], text_2: ['a', 'b'] }, 'text_2'],
  ];

  it('every bad rerank/score body is a 400 naming the parameter, and never reaches an engine', async () => {
    await inf.resetStats();
    await vsim.resetStats();
    for (const [path, body, param] of bad) {
      for (const model of path === '/v1/score' ? [VRERANK] : [RERANK, VRERANK]) {
        const r = await http(`${gw.url}${path}`, { method: 'POST', body: { model, ...body } });
        const e = assertOpenAIError(r, 400, { type: 'invalid_request_error', param });
        assert.match(e.message, new RegExp(param), `${path} ${JSON.stringify(body)}: ${e.message}`);
      }
    }
    assert.equal((await inf.stats()).requests, 0);
    assert.equal((await vsim.stats()).requests, 0);
  });

  it('a model without the Reranking feature is refused with 400 on /v1/rerank and /v1/score', async () => {
    for (const [path, body] of [
      ['/v1/rerank', { model: CHAT, query: 'q', documents: ['d'] }],
      ['/v1/score', { model: CHAT, text_1: 'a', text_2: 'b' }],
      ['/rerank', { model: EMBED, query: 'q', documents: ['d'] }],
    ]) {
      const r = await http(`${gw.url}${path}`, { method: 'POST', body });
      const e = assertOpenAIError(r, 400, { code: 'model_not_supported', param: 'model' });
      assert.match(e.message, /Reranking/);
    }
    // and the other way round: embeddings on a rerank-only model
    const r = await http(`${gw.url}/v1/embeddings`, { method: 'POST', body: { model: RERANK, input: 'x' } });
    assertOpenAIError(r, 400, { code: 'model_not_supported' });
  });

  it('/v1/score on an Infinity model (Infinity has no score API) is a clear 400', async () => {
    const r = await http(`${gw.url}/v1/score`, { method: 'POST', body: { model: RERANK, text_1: 'a', text_2: 'b' } });
    const e = assertOpenAIError(r, 400, { type: 'invalid_request_error' });
    assert.match(e.message, /Infinity/);
  });

  it('GET on /v1/rerank is 405; the gateways are still up and stop cleanly', async () => {
    const r = await http(`${gw.url}/v1/rerank`);
    assertOpenAIError(r, 405);
    await gwPrefixed.checkAliveAndStop();
    await gw.checkAliveAndStop();
  });
});
