// Models at runtime (PUT/DELETE /admin/models/{name}) against the real gateway and ig-sim: a models[]
// entry in JSON and a KubeAI Model manifest in YAML (and in JSON) serve chats as soon as the PUT is
// answered, without a SIGHUP, on every worker; GET /admin/models shows them with source "runtime", their
// fields as written and live state (endpoints, exact token counts); invalid bodies are a 400 naming
// the field and write nothing; a model of the YAML file is a 409 naming the file and line; DELETE
// makes its requests 404; a stream running on a model survives a PUT that replaces that very model;
// concurrent PUTs are applied one at a time, all of them; the models survive a restart, and
// `infergate -t` validates the stored manifests (file:line in them, a name in both places warned
// about and left to the file).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startSim, startGateway, model, http, curl, run, gatewayPath, waitFor, tmpDir, chatBody, parseSSE, assertOpenAIError,
} from './harness.mjs';

const ADMIN = 'ig-runtime-admin-secret';
const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;

describe('runtime models', () => {
  let sim, slow, gw, stateDir, gwOptions;
  const auth = { authorization: `Bearer ${ADMIN}` };
  const admin = (method, p, body, headers = {}) => http(`${gw.url}${p}`, { method, body, headers: { ...auth, ...headers } });
  const put = (name, body, headers) => admin('PUT', `/admin/models/${name}`, body, headers);
  const chat = (m, extra) => http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody(m, extra) });
  const modelsDir = () => path.join(stateDir, 'models');
  const generation = async () => (await admin('GET', '/admin/generation')).json.id;
  const storedFiles = () => (fs.existsSync(modelsDir()) ? fs.readdirSync(modelsDir()).sort() : []);

  before(async () => {
    sim = await startSim({}); // serves any model name
    slow = await startSim({ args: ['--token-rate', '20'], name: 'ig-sim-slow' });
    stateDir = path.join(tmpDir(), 'state-runtime');
    gwOptions = { models: [model('chat', [sim])], server: { stateDir, adminKeys: [sha(ADMIN)], workers: 2 } };
    gw = await startGateway(gwOptions);
  });

  it('PUT of a models[] entry (JSON): 201, serves chats at once on every worker, GET shows it as runtime', async () => {
    const gen0 = await generation();
    const r = await put('rt-json', { engine: 'VLLM', endpoints: [sim.url], features: ['TextGeneration'], pricing: { prompt: '0.000008' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.id, 'rt-json');
    assert.equal(r.json.source, 'runtime');
    assert.equal(r.json.generation, gen0 + 1);
    // at once, over new connections (which land on both workers): no request may miss it
    const results = await Promise.all(Array.from({ length: 16 }, () => curl(`${gw.url}/v1/chat/completions`, { body: chatBody('rt-json', { max_tokens: 3 }) })));
    assert.deepEqual(results.map((x) => x.status), Array(16).fill(200), results.map((x) => x.text).join('\n'));
    const g = await admin('GET', '/admin/models/rt-json');
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.source, 'runtime');
    assert.equal(g.json.file, path.join(modelsDir(), 'rt-json.yaml'));
    assert.deepEqual(g.json.config, { engine: 'VLLM', endpoints: [sim.url], features: ['TextGeneration'], pricing: { prompt: '0.000008' } });
    assert.deepEqual(g.json.state.endpoints.map((e) => e.url), [sim.url]);
    assert.equal(g.json.state.requests, 16);
    assert.equal(g.json.state.completion_tokens, 48, 'exactly the tokens the 16 answers carried');
    assert.equal(g.json.state.in_flight, 0);
    // the stored manifest: a KubeAI Model, private, and no SIGHUP happened
    const file = path.join(modelsDir(), 'rt-json.yaml');
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^apiVersion: kubeai\.org\/v1$/m);
    assert.match(text, /^kind: Model$/m);
    assert.match(text, /^ {2}name: rt-json$/m);
    assert.match(text, /prompt: "0\.000008"/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.doesNotMatch(gw.stderr, /reloaded/);
    const list = await admin('GET', '/admin/models');
    assert.deepEqual(list.json.data.map((m) => [m.id, m.source.replace(/:\d+$/, '')]), [
      ['chat', `file:${gw.configPath}`],
      ['rt-json', 'runtime'],
    ]);
  });

  it('PUT of a KubeAI Model manifest (YAML, then JSON): created, serves, replaced with 200', async () => {
    const yaml = [
      'apiVersion: kubeai.org/v1',
      'kind: Model',
      'metadata:',
      '  name: rt-yaml',
      '  annotations:',
      '    openrouter.ai/json: \'{"context_length": 4096}\'',
      'spec:',
      '  engine: VLLM',
      '  features: [TextGeneration]',
      `  endpoints: ["${sim.url}"]`,
      '',
    ].join('\n');
    let r = await put('rt-yaml', yaml, { 'content-type': 'application/yaml' });
    assert.equal(r.status, 201, r.text);
    assert.equal((await chat('rt-yaml')).status, 200);
    assert.match(fs.readFileSync(path.join(modelsDir(), 'rt-yaml.yaml'), 'utf8'), /openrouter\.ai\/json/);
    // the same as JSON, with the content type sniffed: a replacement
    r = await put('rt-yaml', { apiVersion: 'kubeai.org/v1', kind: 'Model', metadata: { name: 'rt-yaml' },
      spec: { engine: 'VLLM', endpoints: [sim.url], servedModelName: 'other-name' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.config.servedModelName, 'other-name');
    const c = await chat('rt-yaml');
    assert.equal(c.status, 200, c.text);
  });

  it('invalid bodies: 400 naming the field, nothing written, no new generation', async () => {
    const files = storedFiles();
    const gen = await generation();
    const cases = [
      [{ engine: 'VLM', endpoints: [sim.url] }, 'engine', /unknown engine "VLM"/],
      [{ engine: 'VLLM', endpoints: 'http://x' }, 'endpoints', /expected a list/],
      [{ engine: 'VLLM', endpoints: [sim.url], features: ['Painting'] }, 'features[0]', /unknown feature/],
      [{ engine: 'VLLM', endpoints: [sim.url], minReplicas: 3, maxReplicas: 1 }, 'maxReplicas', /less than minReplicas/],
      [{ engine: 'VLLM', endpoints: [sim.url], bogus: 1 }, null, /unknown key "bogus"/],
      [{ name: 'another', engine: 'VLLM', endpoints: [sim.url] }, 'name', /not the model this request changes/],
      [{ engine: 'VLLM' }, null, /no endpoints and no resourceProfile/],
      [{ apiVersion: 'kubeai.org/v1', kind: 'Model', metadata: { name: 'rt-bad' }, spec: { engine: 'VLLM', endpoints: ['ftp://x'] } },
        'spec.endpoints[0]', /http/],
      [{ apiVersion: 'kubeai.org/v1', kind: 'Model', metadata: { name: 'rt-bad' }, spec: { engine: 'VLLM', endpoints: [sim.url], pricing: { prompt: '-1' } } },
        'spec.pricing.prompt', /decimal/],
      ['[1, 2]', null, /expected a map/],
      ['engine: [unclosed', null, /YAML syntax error/],
    ];
    for (const [body, param, re] of cases) {
      const r = await put('rt-bad', body, typeof body === 'string' ? { 'content-type': 'application/yaml' } : {});
      const e = assertOpenAIError(r, 400, { type: 'invalid_request_error' });
      if (param !== null) assert.equal(e.param, param, r.text);
      assert.match(e.message, re, r.text);
      assert.match(e.message, /request body:\d+: /, 'errors say where in the body');
    }
    const empty = await http(`${gw.url}/admin/models/rt-bad`, { method: 'PUT', headers: auth });
    assertOpenAIError(empty, 400, { type: 'invalid_request_error' });
    assertOpenAIError(await put('bad name!', { engine: 'VLLM', endpoints: [sim.url] }), 400, { param: 'name' });
    assert.deepEqual(storedFiles(), files);
    assert.equal(await generation(), gen);
    assert.equal((await admin('GET', '/admin/models/rt-bad')).status, 404);
  });

  it('a model of the YAML file: PUT and DELETE are 409 naming the file and line', async () => {
    for (const method of ['PUT', 'DELETE']) {
      const r = await admin(method, '/admin/models/chat', method === 'PUT' ? { engine: 'VLLM', endpoints: [sim.url] } : undefined);
      const e = assertOpenAIError(r, 409, { code: 'model_in_config_file' });
      assert.ok(e.message.includes(`${gw.configPath}:`), e.message);
      assert.match(e.message, /:\d+: change it there/);
    }
    assert.equal((await chat('chat')).status, 200);
  });

  it('a stream running on a model finishes with [DONE] across a PUT that replaces that model', async () => {
    let r = await put('rt-stream', { engine: 'VLLM', endpoints: [slow.url] });
    assert.equal(r.status, 201, r.text);
    // 20 tokens at 20 tokens/s: about a second, so the PUT lands in the middle of it
    const stream = http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('rt-stream', { max_tokens: 20, stream: true }) });
    await waitFor(async () => (await slow.stats()).active_streams === 1, { what: 'the stream started' });
    r = await put('rt-stream', { engine: 'VLLM', endpoints: [sim.url] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.state.endpoints.map((e) => e.url), [sim.url]);
    const s = await stream;
    assert.equal(s.status, 200, s.text);
    const sse = parseSSE(s.text);
    assert.ok(sse.done, `the stream ends with [DONE]:\n${s.text.slice(-300)}`);
    assert.equal(sse.chunks.filter((c) => c.choices?.[0]?.delta?.content).length, 20);
    // new requests go to the new endpoint
    const before = (await sim.stats()).requests ?? null;
    assert.equal((await chat('rt-stream')).status, 200);
    if (before !== null) assert.equal((await sim.stats()).requests, before + 1);
  });

  it('concurrent PUTs are applied one at a time: every one answered, every model there', async () => {
    const gen = await generation();
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const rs = await Promise.all(names.map((n) => put(n, { engine: 'VLLM', endpoints: [sim.url] })));
    assert.deepEqual(rs.map((r) => r.status), Array(6).fill(201), rs.map((r) => r.text).join('\n'));
    assert.deepEqual(rs.map((r) => r.json.generation).sort((a, b) => a - b), names.map((_, i) => gen + i + 1));
    assert.equal(await generation(), gen + 6);
    const ids = (await admin('GET', '/admin/models')).json.data.map((m) => m.id);
    for (const n of names) assert.ok(ids.includes(n), `${n} listed`);
    const chats = await Promise.all(names.map((n) => chat(n)));
    assert.deepEqual(chats.map((c) => c.status), Array(6).fill(200));
    // and the same names go again, concurrently
    const del = await Promise.all(names.map((n) => admin('DELETE', `/admin/models/${n}`)));
    assert.deepEqual(del.map((r) => r.status), Array(6).fill(200), del.map((r) => r.text).join('\n'));
    assert.equal(await generation(), gen + 12);
  });

  it('DELETE: the model is gone (404 for its requests), its file too; a second DELETE is 404', async () => {
    assert.equal((await put('rt-gone', { engine: 'VLLM', endpoints: [sim.url] })).status, 201);
    assert.equal((await chat('rt-gone')).status, 200);
    const r = await admin('DELETE', '/admin/models/rt-gone');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.deleted, true);
    const results = await Promise.all(Array.from({ length: 8 }, () => curl(`${gw.url}/v1/chat/completions`, { body: chatBody('rt-gone') })));
    for (const x of results) assertOpenAIError({ ...x, status: x.status }, 404, { code: 'model_not_found' });
    assert.ok(!fs.existsSync(path.join(modelsDir(), 'rt-gone.yaml')));
    assertOpenAIError(await admin('DELETE', '/admin/models/rt-gone'), 404, { code: 'model_not_found' });
    assertOpenAIError(await admin('GET', '/admin/models/rt-gone'), 404, {});
  });

  it('-t validates the stored manifests: file:line in them; a name also in the YAML file stays the file\'s', async () => {
    let t = await run(gatewayPath(), ['-t', '-c', gw.configPath]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stderr, /\(4 models, /, 'chat, rt-json, rt-yaml, rt-stream');
    const bad = path.join(modelsDir(), 'rt-broken.yaml');
    fs.writeFileSync(bad, 'apiVersion: kubeai.org/v1\nkind: Model\nmetadata:\n  name: rt-broken\nspec:\n  engine: VLLM\n  endpoints: [nope]\n');
    t = await run(gatewayPath(), ['-t', '-c', gw.configPath]);
    assert.equal(t.code, 1, t.stderr);
    assert.ok(t.stderr.includes(`${bad}:7: spec.endpoints[0]:`), t.stderr);
    // a PUT meanwhile reports that the stored state does not load, and changes nothing
    const r = await put('rt-other', { engine: 'VLLM', endpoints: [sim.url] });
    const e = assertOpenAIError(r, 500, { code: 'configuration_invalid' });
    assert.ok(e.message.includes(bad), e.message);
    fs.rmSync(bad);
    const dup = path.join(modelsDir(), 'chat.yaml');
    fs.writeFileSync(dup, `apiVersion: kubeai.org/v1\nkind: Model\nmetadata:\n  name: chat\nspec:\n  engine: VLLM\n  endpoints: ["${slow.url}"]\n`);
    t = await run(gatewayPath(), ['-t', '-c', gw.configPath]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stderr, /model "chat" is also defined in .*whose definition is used/);
    assert.match(t.stderr, /\(4 models, /);
    fs.rmSync(dup);
  });

  it('runtime models survive a restart on the same stateDir', async () => {
    // (the harness writes the config anew, under another name: the file model's source differs)
    const view = (m) => [m.id, m.source.startsWith('file:') ? 'file' : m.source, m.config];
    const before = (await admin('GET', '/admin/models')).json.data.map(view);
    await gw.stop();
    gw = await startGateway(gwOptions);
    const after = (await admin('GET', '/admin/models')).json.data.map(view);
    assert.deepEqual(after, before);
    for (const m of ['rt-json', 'rt-yaml', 'rt-stream']) assert.equal((await chat(m)).status, 200, m);
  });

  it('the gateway is still running and exits 0 on SIGTERM', async () => {
    await gw.checkAliveAndStop();
  });
});
