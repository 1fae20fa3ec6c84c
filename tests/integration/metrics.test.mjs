// /metrics and /admin/generation: known traffic (HTTP/1.1 and h2c, plain and streamed, unknown
// models, bad bodies) is scraped and every count checked exactly with a text-format parser; reloads
// (valid and invalid) show up in /metrics and in the admin API with the error's file:line.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  startSim, startGateway, model, http, curl, toYaml, waitFor, parseSSE, chatBody, PLUGINS_DIR,
} from './harness.mjs';
import { parsePrometheus, value, sum } from './prometheus.mjs';

const ADMIN_KEY = 'ig-admin-test-key-0123456789';
const adminKeys = [`sha256:${crypto.createHash('sha256').update(ADMIN_KEY).digest('hex')}`];
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

async function scrape(gw) {
  const r = await fetch(`${gw.url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await r.text());
}

describe('/metrics', () => {
  let sim, gw, listen;
  const config = (models) =>
    toYaml({ server: { listen, workers: 2, adminKeys }, plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] }, models });

  before(async () => {
    sim = await startSim({ models: ['chat', 'extra'] });
    gw = await startGateway({ models: [model('chat', [sim])], server: { adminKeys } });
    listen = [`127.0.0.1:${gw.port}`];
  });

  it('counts known traffic exactly (requests, tokens, histograms, gauges)', async () => {
    let prompt = 0, completion = 0;
    for (let i = 0; i < 5; i++) {
      const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat', { max_tokens: 3 + i }) });
      assert.equal(r.status, 200, r.text);
      prompt += r.json.usage.prompt_tokens;
      completion += r.json.usage.completion_tokens;
    }
    for (let i = 0; i < 3; i++) {
      const r = await http(`${gw.url}/v1/chat/completions`, {
        method: 'POST', body: chatBody('chat', { max_tokens: 4, stream: true, stream_options: { include_usage: true } }),
      });
      assert.equal(r.status, 200);
      const usage = parseSSE(r.text).chunks.find((c) => c.usage)?.usage;
      assert.ok(usage, r.text);
      prompt += usage.prompt_tokens;
      completion += usage.completion_tokens;
    }
    for (let i = 0; i < 4; i++) {
      const r = await curl(`${gw.url}/v1/chat/completions`, { mode: 'h2c', body: chatBody('chat', { max_tokens: 2 }) });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.httpVersion, '2');
      prompt += r.json.usage.prompt_tokens;
      completion += r.json.usage.completion_tokens;
    }
    for (const name of ['nope', 'also-nope']) {
      const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody(name) });
      assert.equal(r.status, 404);
    }
    const bad = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: '{"model":', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    await http(`${gw.url}/v1/models`); // not an API request: not counted

    // a request is counted when its worker disposes it, which may trail the client's last byte a little
    const m = await waitFor(async () => {
      const f = await scrape(gw);
      return sum(f, 'infergate_requests_total') === 15 ? f : null;
    }, { what: '15 requests counted' });
    const chat = { model: 'chat', customer: '', status: '200' };
    assert.equal(value(m, 'infergate_requests_total', chat), 12);
    assert.equal(value(m, 'infergate_requests_total', { model: '', customer: '', status: '404' }), 2);
    assert.equal(value(m, 'infergate_requests_total', { model: '', customer: '', status: '400' }), 1);
    assert.equal(value(m, 'infergate_tokens_total', { model: 'chat', customer: '', kind: 'prompt' }), prompt);
    assert.equal(value(m, 'infergate_tokens_total', { model: 'chat', customer: '', kind: 'completion' }), completion);
    assert.equal(completion, 5 * 3 + 10 + 3 * 4 + 4 * 2);
    assert.equal(value(m, 'infergate_request_duration_seconds_count', { model: 'chat' }), 12);
    assert.equal(value(m, 'infergate_time_to_first_token_seconds_count', { model: 'chat' }), 12);
    assert.ok(value(m, 'infergate_request_duration_seconds_sum', { model: 'chat' }) > 0);
    assert.equal(value(m, 'infergate_requests_in_flight', { model: 'chat' }), 0);
    assert.equal(value(m, 'infergate_ratelimit_rejections_total', { model: 'chat' }), 0);
    assert.equal(value(m, 'infergate_requests_queued', { model: 'chat' }), 0);
    assert.equal(value(m, 'infergate_endpoint_healthy', { endpoint: sim.url }), 1);
    assert.equal(value(m, 'infergate_endpoint_in_flight', { endpoint: sim.url }), 0);
    assert.equal(value(m, 'infergate_reloads_total', { result: 'ok' }), 0);
    assert.equal(value(m, 'infergate_reloads_total', { result: 'failed' }), 0);
    assert.equal(value(m, 'infergate_generation'), 1);
    assert.equal(m.get('infergate_request_duration_seconds').type, 'histogram');
    assert.equal(m.get('infergate_requests_total').type, 'counter');
  });

  it('reloads are counted; /admin/generation reports the generation and the last error with file:line', async () => {
    const noKey = await http(`${gw.url}/admin/generation`);
    assert.equal(noKey.status, 401, noKey.text);
    assert.ok(noKey.json?.error?.message);
    let g = (await http(`${gw.url}/admin/generation`, { headers: admin })).json;
    assert.equal(g.id, 1);
    assert.equal(g.models, 1);
    assert.equal(g.config_path, gw.configPath);
    assert.deepEqual(g.plugins.map((p) => p.name), ['vllm', 'leastload']);
    assert.deepEqual([g.reloads.ok, g.reloads.failed, g.reloads.last_error], [0, 0, null]);
    assert.equal(g.reloads.last_duration_ms, 0);

    const hup = () => process.kill(gw.child.pid, 'SIGHUP');
    // invalid: an unknown key on line 4 of the file
    const valid = config([model('chat', [sim])]);
    fs.writeFileSync(gw.configPath, valid.replace('workers: 2', 'workers: 2\n  bogusKey: 1'));
    const badLine = valid.split('\n').findIndex((l) => l.includes('workers: 2')) + 2;
    hup();
    g = await waitFor(async () => {
      const j = (await http(`${gw.url}/admin/generation`, { headers: admin })).json;
      return j.reloads.failed === 1 ? j : null;
    }, { what: 'failed reload reported' });
    assert.equal(g.id, 1, 'still the first generation');
    assert.equal(g.reloads.ok, 0);
    assert.ok(g.reloads.last_error.message.startsWith(`${gw.configPath}:${badLine}: `), g.reloads.last_error.message);
    assert.match(g.reloads.last_error.message, /bogusKey/);
    assert.match(g.reloads.last_error.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    fs.writeFileSync(gw.configPath, config([model('chat', [sim]), model('extra', [sim])]));
    hup();
    g = await waitFor(async () => {
      const j = (await http(`${gw.url}/admin/generation`, { headers: admin })).json;
      return j.id === 2 ? j : null;
    }, { what: 'generation 2 active' });
    assert.equal(g.models, 2);
    assert.deepEqual([g.reloads.ok, g.reloads.failed], [1, 1]);
    assert.ok(g.reloads.last_error, 'the last error is still reported after a successful reload');
    assert.ok(g.reloads.last_ok_at);
    assert.ok(g.reloads.last_duration_ms > 0, JSON.stringify(g.reloads));
    const m = await scrape(gw);
    assert.equal(value(m, 'infergate_reloads_total', { result: 'ok' }), 1);
    assert.equal(value(m, 'infergate_reloads_total', { result: 'failed' }), 1);
    assert.equal(value(m, 'infergate_generation'), 2);
    assert.ok(value(m, 'infergate_reload_duration_seconds') > 0);
    assert.equal(value(m, 'infergate_requests_queued', { model: 'extra' }), 0);
    // counters survive the reload
    assert.equal(value(m, 'infergate_requests_total', { model: 'chat', customer: '', status: '200' }), 12);
  });

  it('requests and tokens are counted per customer (apikey plugin); a 401 has no customer and no model', async () => {
    const keys = { acme: 'ig-test-acme-key-0001', globex: 'ig-test-globex-key-0002' };
    const hash = (k) => `sha256:${crypto.createHash('sha256').update(k).digest('hex')}`;
    fs.writeFileSync(gw.configPath, toYaml({
      server: { listen, workers: 2, adminKeys },
      plugins: {
        dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'apikey'],
        options: { apikey: {
          customers: [{ id: 'acme' }, { id: 'globex' }],
          keys: [{ id: 'k1', customer: 'acme', hash: hash(keys.acme) }, { id: 'k2', customer: 'globex', hash: hash(keys.globex) }],
        } },
      },
      models: [model('chat', [sim])],
    }));
    process.kill(gw.child.pid, 'SIGHUP');
    await waitFor(async () => (await http(`${gw.url}/admin/generation`, { headers: admin })).json?.id === 3, { what: 'generation 3' });
    const completion = { acme: 0, globex: 0 };
    for (const [who, n] of [['acme', 3], ['globex', 2]]) {
      for (let i = 0; i < n; i++) {
        const r = await http(`${gw.url}/v1/chat/completions`, {
          method: 'POST', body: chatBody('chat', { max_tokens: 2 + i }), headers: { authorization: `Bearer ${keys[who]}` },
        });
        assert.equal(r.status, 200, r.text);
        completion[who] += r.json.usage.completion_tokens;
      }
    }
    const anon = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat') });
    assert.equal(anon.status, 401, anon.text);
    const m = await waitFor(async () => {
      const f = await scrape(gw);
      return value(f, 'infergate_requests_total', { model: '', customer: '', status: '401' }) === 1 ? f : null;
    }, { what: 'the 401 counted' });
    assert.equal(value(m, 'infergate_requests_total', { model: 'chat', customer: 'acme', status: '200' }), 3);
    assert.equal(value(m, 'infergate_requests_total', { model: 'chat', customer: 'globex', status: '200' }), 2);
    assert.equal(value(m, 'infergate_tokens_total', { model: 'chat', customer: 'acme', kind: 'completion' }), completion.acme);
    assert.equal(value(m, 'infergate_tokens_total', { model: 'chat', customer: 'globex', kind: 'completion' }), completion.globex);
    assert.equal(completion.acme, 2 + 3 + 4);
    assert.equal(sum(m, 'infergate_request_duration_seconds_count'), 12 + 5);
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
