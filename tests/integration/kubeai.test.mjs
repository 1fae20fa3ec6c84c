// A KubeAI user moving to infergate: `models:` points at a folder of KubeAI Model manifests written
// as KubeAI users write them (fixtures/kubeai/: hand-written ones and a `kubectl get models -o yaml`
// export, prices only in OpenRouter's openrouter.ai/json annotation), the replicas run ig-sim
// through the resource profiles' command:, and real clients check that
//   - what /openrouter/models lists is what the ledger bills, to the last 1e-15: listed price ×
//     the engine's token counts (cached ones included) = the ledger's cost, for every record;
//   - the public listings show only what any key may use (or what is marked listed), and drop a
//     model once it is published to chosen customers or hidden;
//   - a transcription the engine refuses bills no audio seconds;
//   - a stream the client abandons is 499 in the access log, /metrics and the ledger alike;
//   - KubeAI's fields mean what they mean there: owner, maxReplicas omitted, autoscalingDisabled,
//     replicas, envFrom; a kubectl export loads; s3:// gs:// oss:// pvc:// on a model the gateway
//     runs are refused by -t with file:line and what to do;
//   - conf/examples/kubeai/ validates, serves and bills.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  PLUGINS_DIR, Proc, ROOT, SLOW, freePort, gatewayPath, http, parseSSE, run, simPath, startGateway, tmpDir, toYaml,
  waitFor, wav, writeTmp,
} from './harness.mjs';

const FIXTURES = path.join(ROOT, 'tests/integration/fixtures/kubeai');
const WAIT = SLOW ? 60000 : 30000;
const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const ADMIN = 'kubeai-admin-key';
const KEYS = { acme: 'sk-kubeai-acme-0123456789', beta: 'sk-kubeai-beta-0123456789' };

// ---- exact decimals: strings <-> BigInt units of 1e-15, as the ledger counts ---------------------
const units = (s) => {
  assert.match(s, /^\d+(\.\d{1,15})?$/, `a decimal price: ${s}`);
  const [w, f = ''] = s.split('.');
  return BigInt(w) * 10n ** 15n + BigInt((f + '0'.repeat(15)).slice(0, 15));
};
const decimal = (u) => {
  const w = u / 10n ** 15n;
  const f = (u % 10n ** 15n).toString().padStart(15, '0').replace(/0+$/, '');
  return f ? `${w}.${f}` : `${w}`;
};


function audioForm(model, data) {
  const b = 'kubeaiBoundary9x';
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${model}\r\n`),
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${b}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${b}` };
}

/** The profiles a KubeAI cluster would map to hardware, mapped here to the engine simulator. */
function profiles() {
  return toYaml({
    resourceProfiles: {
      cpu: { command: [simPath(), '--listen', '{host}:{port}', '--served-model-name', '{served_name}', '--prefix-cache-blocks', '256'] },
      // faster-whisper-server with only the small model installed: others are answered 404
      'cpu-whisper': {
        devices: [0, 1],
        command: [simPath(), '--api', 'fasterwhisper', '--listen', '{host}:{port}', '--served-model-name', 'Systran/faster-whisper-small'],
      },
    },
    scheduler: { interval: '100ms', timeWindow: '1s', stopGracePeriod: '3s' },
  });
}

function gatewayConfig(stateDir, modelsDir = FIXTURES) {
  return {
    server: {
      stateDir,
      adminKeys: [sha(ADMIN)],
      healthCheck: { interval: '100ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 2 },
      queue: { maxLength: 100, timeout: SLOW ? '60s' : '30s' },
    },
    plugins: {
      dir: PLUGINS_DIR,
      load: ['vllm', 'fasterwhisper', 'leastload', 'apikey', 'billing'],
      options: {
        apikey: {
          customers: [{ id: 'acme' }, { id: 'beta' }],
          keys: Object.entries(KEYS).map(([c, k]) => ({ id: `key-${c}`, customer: c, hash: sha(k) })),
        },
        billing: { flushInterval: '20ms', exportDir: path.join(stateDir, 'usage') },
      },
    },
    models: modelsDir,
    extraYaml: `${profiles()}\n`,
  };
}

const check = (file) => run(gatewayPath(), ['-t', '-c', file], { timeoutMs: 30000 });

/** Every record the billing plugin exported so far (JSONL files under dir), by id. */
function ledger(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) if (line) out.push(JSON.parse(line));
  }
  return out.sort((a, b) => a.id - b.id);
}

/** The cost of one record from the listed prices: what the listing promises for those counts. */
function listedCost(pricing, rec) {
  const uncached = BigInt(rec.prompt_tokens - rec.cached_tokens);
  let u = uncached * units(pricing.prompt) + BigInt(rec.cached_tokens) * units(pricing.input_cache_read) +
    BigInt(rec.completion_tokens) * units(pricing.completion);
  if (rec.status < 400 || rec.completion_tokens > 0) u += units(pricing.request);
  if (pricing.audio) {
    const ms = BigInt(Math.round(Number(rec.audio_seconds) * 1000));
    u += (units(pricing.audio) * ms + 500n) / 1000n; // the ledger's one rounding: half up
  }
  return decimal(u);
}

describe('KubeAI manifests: listing, billing and the Model fields', () => {
  let gw, stateDir, listing;
  const auth = (c) => ({ authorization: `Bearer ${KEYS[c]}` });
  const admin = (p, opts = {}) => http(`${gw.url}${p}`, { ...opts, headers: { authorization: `Bearer ${ADMIN}`, ...(opts.headers || {}) } });
  const chat = (model, content, extra = {}, who = 'acme') =>
    http(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth(who),
      body: { model, messages: [{ role: 'user', content }], max_tokens: 6, ...extra },
    });
  const replicas = async (name) => (await admin('/admin/replicas')).json.models.find((m) => m.name === name);

  before(async () => {
    stateDir = path.join(tmpDir(), 'state');
    fs.mkdirSync(stateDir, { recursive: true });
    gw = await startGateway(gatewayConfig(stateDir));
  });

  it('-t accepts the manifests and the kubectl export as they are, and says what envFrom cannot do', async () => {
    const r = await check(gw.configPath);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /export\.yaml:\d+: items\[0\]\.spec\.envFrom: model export-chat: envFrom \(Secret hf-token\) names Kubernetes objects, which cannot be read outside Kubernetes: ignored/);
    assert.doesNotMatch(r.stderr, /\[error\]/);
  });

  it('/openrouter/models lists the annotation\'s prices under OpenRouter\'s names; only what every key may use', async () => {
    const a = await http(`${gw.url}/openrouter/models`);
    const b = await http(`${gw.url}/public/api/models`);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json, b.json);
    listing = Object.fromEntries(a.json.data.map((m) => [m.id, m]));
    // fixed-pair is marked infergate/listed: "false"; nothing is published yet
    assert.deepEqual(Object.keys(listing).sort(),
      ['export-chat', 'hidden-chat', 'partner-chat', 'private-chat', 'qwen-chat', 'whisper-large', 'whisper-small']);
    const q = listing['qwen-chat'];
    assert.deepEqual(q.pricing, {
      prompt: '0.00000021', completion: '0.00000063', image: '0', request: '0.0000125',
      input_cache_read: '0.000000105', input_cache_write: '0',
    });
    assert.equal(q.name, 'Qwen2.5 0.5B Instruct');
    assert.equal(q.hugging_face_id, 'Qwen/Qwen2.5-0.5B-Instruct');
    assert.equal(q.quantization, 'bf16');
    assert.equal(q.context_length, 4096);
    assert.deepEqual(q.datacenters, [{ country_code: 'FR' }]);
    // no cache price written: cached tokens are billed, and listed, at the prompt price
    assert.equal(listing['export-chat'].pricing.input_cache_read, '0.0000001');
    assert.equal(listing['whisper-small'].pricing.audio, '0.00011');
    assert.deepEqual(listing['whisper-small'].input_modalities, ['audio']);
  });

  it('the ledger bills exactly what is listed: listed price × the engine\'s token counts, cached tokens included', async () => {
    const before = ledger(path.join(stateDir, 'usage')).length;
    const prompt = 'Tell me about the history of the city of Lyon and its silk weavers, the canuts, in some detail please';
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const r = await chat('qwen-chat', `${prompt} ${i % 2 ? 'and its food' : ''}`, { max_tokens: 5 + i });
      assert.equal(r.status, 200, r.text);
      seen.push(r.json.usage);
    }
    for (let i = 0; i < 2; i++) {
      const r = await http(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: auth('beta'),
        body: { model: 'qwen-chat', messages: [{ role: 'user', content: prompt }], max_tokens: 7, stream: true, stream_options: { include_usage: true } },
      });
      assert.equal(r.status, 200, r.text);
      const s = parseSSE(r.text);
      assert.ok(s.done);
      seen.push(s.chunks.at(-1).usage);
    }
    const cachedSeen = seen.reduce((n, u) => n + (u.prompt_tokens_details?.cached_tokens ?? 0), 0);
    assert.ok(cachedSeen > 0, 'the prefix cache answered some prompt tokens (so the cache price is exercised)');
    const recs = await waitFor(() => {
      const l = ledger(path.join(stateDir, 'usage')).slice(before);
      return l.length >= seen.length && l;
    }, { timeoutMs: WAIT, what: `${seen.length} ledger records` });
    assert.equal(recs.length, seen.length);
    for (const rec of recs) {
      assert.equal(rec.model, 'qwen-chat');
      assert.equal(rec.cost, listedCost(listing['qwen-chat'].pricing, rec), `record ${rec.id}: ${JSON.stringify(rec)}`);
    }
    const sum = (k, f) => [recs, seen].map((xs) => xs.reduce((n, x) => n + f(x, k), 0));
    for (const [k, f] of [
      ['prompt_tokens', (x, k2) => x[k2]],
      ['completion_tokens', (x, k2) => x[k2]],
      ['cached_tokens', (x) => x.cached_tokens ?? x.prompt_tokens_details?.cached_tokens ?? 0],
    ]) {
      const [billed, engine] = sum(k, f);
      assert.equal(billed, engine, `${k}: billed ${billed}, the engine reported ${engine}`);
    }
    // and the admin API's total is the sum of those exact costs
    const total = recs.reduce((u, r) => u + units(r.cost), 0n);
    assert.ok(total > 0n);
  });

  it('a transcription is billed its seconds at the listed price; one the engine refuses (404) bills none', async () => {
    const dir = path.join(stateDir, 'usage');
    const before = ledger(dir).length;
    let f = audioForm('whisper-small', wav(2));
    let r = await http(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', body: f.body, headers: { 'content-type': f.contentType, ...auth('acme') } });
    assert.equal(r.status, 200, r.text);
    f = audioForm('whisper-large', wav(3));
    r = await http(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', body: f.body, headers: { 'content-type': f.contentType, ...auth('acme') } });
    assert.equal(r.status, 404, r.text);
    const recs = await waitFor(() => {
      const l = ledger(dir).slice(before);
      return l.length >= 2 && l;
    }, { timeoutMs: WAIT, what: 'two audio records' });
    const small = recs.find((x) => x.model === 'whisper-small');
    const large = recs.find((x) => x.model === 'whisper-large');
    assert.equal(small.audio_seconds, '2.000');
    assert.equal(small.cost, listedCost(listing['whisper-small'].pricing, small));
    assert.equal(small.cost, '0.00052'); // 2 s × 0.00011 + 0.0003
    assert.equal(large.status, 404);
    assert.equal(large.audio_seconds, '0.000', 'the refused upload is not usage');
    assert.equal(large.cost, '0');
    const m = await http(`${gw.url}/metrics`);
    assert.doesNotMatch(m.text, /infergate_audio_seconds_total\{model="whisper-large"[^\n]* [1-9]/);
    assert.match(m.text, /infergate_audio_seconds_total\{model="whisper-small",customer="acme"\} 2(\.0+)?\n/);
  });

  it('published to chosen customers, or hidden: gone from the public listing (unless marked listed), kept for its customers', async () => {
    for (const [name, customers] of [['private-chat', ['acme']], ['hidden-chat', []], ['partner-chat', ['acme']]]) {
      const r = await admin(`/admin/models/${name}/publish`, { method: 'POST', body: { customers } });
      assert.equal(r.status, 200, r.text);
    }
    for (const p of ['/openrouter/models', '/public/api/models']) {
      const ids = (await http(`${gw.url}${p}`)).json.data.map((m) => m.id).sort();
      assert.deepEqual(ids, ['export-chat', 'partner-chat', 'qwen-chat', 'whisper-large', 'whisper-small'], p);
    }
    const acme = (await http(`${gw.url}/v1/models`, { headers: auth('acme') })).json.data.map((m) => m.id);
    const beta = (await http(`${gw.url}/v1/models`, { headers: auth('beta') })).json.data.map((m) => m.id);
    assert.ok(acme.includes('private-chat') && acme.includes('partner-chat') && !acme.includes('hidden-chat'));
    assert.ok(!beta.includes('private-chat') && !beta.includes('partner-chat') && !beta.includes('hidden-chat'));
    // unpublished: listed again
    assert.equal((await admin('/admin/models/private-chat/publish', { method: 'DELETE' })).status, 200);
    const ids = (await http(`${gw.url}/openrouter/models`)).json.data.map((m) => m.id);
    assert.ok(ids.includes('private-chat'));
  });

  it('owner is owned_by in /v1/models (owner: "" in an export is KubeAI\'s unset)', async () => {
    const list = (await http(`${gw.url}/v1/models`, { headers: auth('acme') })).json.data;
    const by = Object.fromEntries(list.map((m) => [m.id, m.owned_by]));
    assert.equal(by['qwen-chat'], 'qwen');
    assert.equal(by['export-chat'], 'infergate');
    const one = await http(`${gw.url}/v1/models/qwen-chat`, { headers: auth('acme') });
    assert.equal(one.json.owned_by, 'qwen');
  });

  it('autoscalingDisabled: replicas is the fixed count; replicas otherwise is where the autoscaler starts', async () => {
    // no request has gone to either: fixed-pair runs its 2, export-chat the 1 its export says
    await waitFor(async () => {
      const m = await replicas('fixed-pair');
      return m && m.replicas.filter((r) => r.state === 'serving').length === 2;
    }, { timeoutMs: WAIT, what: 'fixed-pair: 2 serving replicas' });
    const f = await replicas('fixed-pair');
    assert.equal(f.minReplicas, 2);
    assert.equal(f.maxReplicas, 2);
    assert.equal(f.desiredReplicas, 2);
    await waitFor(async () => {
      const m = await replicas('export-chat');
      return m && m.replicas.filter((r) => r.state === 'serving').length === 1;
    }, { timeoutMs: WAIT, what: 'export-chat: 1 serving replica' });
    const r = await chat('fixed-pair', 'hello');
    assert.equal(r.status, 200, r.text);
  });

  it('maxReplicas omitted means no limit: three slow streams on targetRequests 1 get three replicas', async () => {
    const m0 = await replicas('qwen-chat');
    assert.equal(m0.maxReplicas, 32, 'a profile without devices: what one machine runs (IG_REPLICA_MAX)');
    // on a profile with devices, no limit is what the devices allow: 2 devices, 1 a replica
    assert.equal((await replicas('whisper-small')).maxReplicas, 2);
    const acs = [];
    const streams = [0, 1, 2].map(async (i) => {
      const ac = new AbortController();
      acs.push(ac);
      try {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth('acme') },
          body: JSON.stringify({ model: 'qwen-chat', messages: [{ role: 'user', content: `slow ${i}` }], max_tokens: 200, stream: true, sim_drip_after: 1, sim_drip_ms: 200 }),
          signal: ac.signal,
        });
        for await (const _ of res.body) { /* read until aborted */ }
      } catch {}
    });
    try {
      await waitFor(async () => {
        const m = await replicas('qwen-chat');
        return m.desiredReplicas === 3 && m.replicas.filter((r) => r.state === 'serving').length === 3;
      }, { timeoutMs: WAIT, intervalMs: 100, what: 'qwen-chat at 3 serving replicas' });
    } finally {
      for (const ac of acs) ac.abort();
      await Promise.all(streams);
    }
  });

  it('a stream the client abandons is 499 everywhere: the access log, /metrics and the ledger', async () => {
    const dir = path.join(stateDir, 'usage');
    const mine = (l) => l.model === 'export-chat' && l.customer === 'beta';
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth('beta') },
      body: JSON.stringify({ model: 'export-chat', messages: [{ role: 'user', content: 'a long story' }], max_tokens: 60, stream: true, sim_drip_after: 2, sim_drip_ms: 300 }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    let text = '';
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        text += dec.decode(chunk, { stream: true });
        if (parseSSE(text.slice(0, text.lastIndexOf('\n\n') + 2)).chunks.filter((c) => c.choices?.[0]?.delta?.content).length >= 2) {
          ac.abort(); // the 200 and two tokens went out; the client leaves mid-stream
          break;
        }
      }
    } catch {}
    const rec = await waitFor(() => ledger(dir).find(mine), { timeoutMs: WAIT, what: 'the abandoned stream\'s record' });
    assert.equal(rec.status, 499);
    assert.equal(rec.complete, false);
    assert.ok(rec.completion_tokens >= 2, `billed ${rec.completion_tokens} tokens`);
    const lines = await waitFor(() => {
      const l = gw.stdout.split('\n').filter((x) => x.startsWith('{')).map((x) => JSON.parse(x)).filter(mine);
      return l.length && l;
    }, { timeoutMs: WAIT, what: 'its access log line' });
    assert.equal(lines.length, 1);
    assert.equal(lines[0].status, 499, JSON.stringify(lines[0]));
    assert.equal(lines[0].outcome, 'client closed');
    assert.equal(lines[0].completion_tokens, rec.completion_tokens);
    const m = (await http(`${gw.url}/metrics`)).text;
    assert.match(m, /infergate_requests_total\{model="export-chat",customer="beta",status="499"\} 1\n/);
    assert.doesNotMatch(m, /infergate_requests_total\{model="export-chat",customer="beta",status="200"\}/);
  });

  it('the gateway is still running and exits 0 on SIGTERM', async () => {
    await gw.checkAliveAndStop();
  });
});

describe('KubeAI url schemes on models the gateway runs itself', () => {
  const header = () => `server: {listen: ["127.0.0.1:${18000 + Math.floor(Math.random() * 1000)}"]}
plugins: {dir: ${JSON.stringify(PLUGINS_DIR)}, load: [vllm, infinity, leastload]}
resourceProfiles: {gpu: {devices: [0]}}
`;
  function manifests(name, url, engine = 'VLLM') {
    const dir = path.join(tmpDir(), `m-${name}-${Math.random().toString(36).slice(2)}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'model.yaml'), `apiVersion: kubeai.org/v1
kind: Model
metadata:
  name: ${name}
spec:
  features: [${engine === 'Infinity' ? 'TextEmbedding' : 'TextGeneration'}]
  url: ${url}
  engine: ${engine}
  resourceProfile: gpu:1
`);
    return dir;
  }

  for (const [scheme, url, want] of [
    ['s3', 's3://my-bucket/models/qwen', /model\.yaml:7: spec\.url: "s3:\/\/my-bucket\/models\/qwen": the engine cannot load s3:\/\/ URLs \(it would get "my-bucket\/models\/qwen", read as a Hugging Face repo\); KubeAI downloads them first with its model loader\. Copy the model to this machine and set url: file:\/\/\/<its directory>, or run the engine elsewhere and list it under endpoints:/],
    ['gs', 'gs://bucket/m', /model\.yaml:7: spec\.url: "gs:\/\/bucket\/m": the engine cannot load gs:\/\/ URLs/],
    ['oss', 'oss://bucket/m', /model\.yaml:7: spec\.url: "oss:\/\/bucket\/m": the engine cannot load oss:\/\/ URLs/],
    ['pvc', 'pvc://model-cache/qwen', /model\.yaml:7: spec\.url: "pvc:\/\/model-cache\/qwen": pvc:\/\/ names a Kubernetes PersistentVolumeClaim, which KubeAI mounts into its pods; this gateway runs the model's replicas itself, on this machine\. Mount the volume here and set url: file:\/\/\/<mount path>\/qwen/],
  ]) {
    it(`${scheme}:// is refused by -t, saying what to do`, async () => {
      const cfg = writeTmp(`scheme-${scheme}.yaml`, `${header()}models: ${JSON.stringify(manifests(`m-${scheme}`, url))}\n`);
      const r = await check(cfg);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
    });
  }

  it('Infinity too (its recipe passes the url without its scheme)', async () => {
    const cfg = writeTmp('scheme-inf.yaml', `${header()}models: ${JSON.stringify(manifests('emb', 's3://b/bge', 'Infinity'))}\n`);
    const r = await check(cfg);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /spec\.url: "s3:\/\/b\/bge": the engine cannot load s3:\/\/ URLs/);
  });

  it('file:///path is what a model on this machine says (vLLM gets the path)', async () => {
    const cfg = writeTmp('scheme-file.yaml', `${header()}models: ${JSON.stringify(manifests('local', 'file:///srv/models/qwen'))}\n`);
    const r = await check(cfg);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('conf/examples/kubeai: KubeAI manifests that bill', () => {
  it('validates (-t)', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'conf/examples/kubeai/infergate.yaml'), 'utf8')
      .replace(/dir: \.\/build\/plugins/, `dir: ${JSON.stringify(PLUGINS_DIR)}`);
    const r = await check(writeTmp('example-kubeai-t.yaml', text));
    assert.equal(r.code, 0, r.stderr);
  });

  it('serves a chat request on a replica it starts and bills it at the listed prices', async () => {
    const port = await freePort();
    const state = path.join(tmpDir(), 'example-state');
    let text = fs.readFileSync(path.join(ROOT, 'conf/examples/kubeai/infergate.yaml'), 'utf8');
    const subst = [
      [/listen: \["127\.0\.0\.1:8080"\]/, `listen: ["127.0.0.1:${port}"]`],
      [/dir: \.\/build\/plugins/, `dir: ${JSON.stringify(PLUGINS_DIR)}`],
      [/"\.\/build\/tests\/simulator\/ig-sim"/g, JSON.stringify(simPath())],
      [/stateDir: \.\/var/, `stateDir: ${JSON.stringify(state)}`],
      [/exportDir: \.\/var\/usage/, `exportDir: ${JSON.stringify(path.join(state, 'usage'))}`],
    ];
    for (const [re, to] of subst) {
      assert.match(text, re, `the example still has ${re}`);
      text = text.replace(re, to);
    }
    const file = writeTmp('example-kubeai.yaml', text);
    const p = new Proc('example-kubeai', gatewayPath(), ['-c', file]);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => {
      if (!p.alive()) throw new Error(p.tail());
      return (await fetch(`${url}/healthz`)).status === 200;
    }, { timeoutMs: WAIT, what: 'the example gateway' });
    const listed = Object.fromEntries((await http(`${url}/openrouter/models`)).json.data.map((m) => [m.id, m]));
    const pricing = listed['qwen25-05b-instruct'].pricing;
    assert.equal(pricing.prompt, '0.0000002');
    const r = await http(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-demo-acme-all-models' },
      body: { model: 'qwen25-05b-instruct', messages: [{ role: 'user', content: 'hi there' }], max_tokens: 4 },
    });
    assert.equal(r.status, 200, r.text);
    const recs = await waitFor(() => {
      const l = ledger(path.join(state, 'usage'));
      return l.length >= 1 && l;
    }, { timeoutMs: WAIT, what: 'the example\'s ledger record' });
    assert.equal(recs[0].customer, 'acme');
    assert.equal(recs[0].prompt_tokens, r.json.usage.prompt_tokens);
    assert.equal(recs[0].completion_tokens, r.json.usage.completion_tokens);
    assert.equal(recs[0].cost, listedCost(pricing, recs[0]));
    assert.notEqual(recs[0].cost, '0');
    const usage = await http(`${url}/admin/usage?group_by=model`, { headers: { authorization: 'Bearer ig-admin-change-me' } });
    assert.equal(usage.status, 200, usage.text);
    // the month's invoice run (a draft) bills acme exactly what the ledger says
    const run = await http(`${url}/admin/invoices/generate`, {
      method: 'POST', headers: { authorization: 'Bearer ig-admin-change-me' }, body: { month: recs[0].time.slice(0, 7), dry_run: 'all' },
    });
    assert.equal(run.status, 200, run.text);
    assert.deepEqual(run.json.invoices.map((i) => [i.customer, i.total]), [['acme', recs[0].cost]]);
    await p.checkAliveAndStop();
  });
});
