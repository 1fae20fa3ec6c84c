// The process runtime: models without static endpoints get replicas that infergate starts itself.
// ig-sim stands in for the engine through `command:`; the tests watch the gateway's children in
// /proc (their command lines and CUDA_VISIBLE_DEVICES) and drive them with real requests:
// scale from zero on the first request, scale up under load and down after scaleDownDelaySeconds,
// a replica killed with SIGKILL is restarted while non-streamed requests keep succeeding, devices
// are never held by two replicas (with preemption by a higher priority), a reload rolls only the
// model whose args changed, and no child outlives the gateway (SIGTERM, and SIGKILL of the gateway).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startGateway, simPath, http, waitFor, sleep, tmpDir, chatBody, SLOW, Proc, gatewayPath, writeTmp, toYaml,
  PLUGINS_DIR, freePort, parseSSE,
} from './harness.mjs';

const WAIT = SLOW ? 60000 : 30000;
const ADMIN_KEY = 'sched-admin-key';
const adminKeys = [`sha256:${crypto.createHash('sha256').update(ADMIN_KEY).digest('hex')}`];

/** Live (non-zombie) children of pid: {pid, argv, env}. */
function children(pid) {
  const out = [];
  let parentExe = null;
  try {
    parentExe = fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // the gateway is gone: its children are reported as they are
  }
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const [state, ppid] = [rest[0], Number(rest[1])];
      if (ppid !== pid || state === 'Z') continue;
      // forked but not yet exec'd: still the gateway's image, argv and environment, not a replica yet
      if (parentExe && fs.readlinkSync(`/proc/${d}/exe`) === parentExe) continue;
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const env = {};
      for (const kv of fs.readFileSync(`/proc/${d}/environ`, 'utf8').split('\0')) {
        const i = kv.indexOf('=');
        if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      out.push({ pid: Number(d), argv, env });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A process is gone when /proc has no entry for it, or only a zombie waiting for its new parent. */
function gone(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** The replicas of model among gw's children (ig-sim serving that name). */
const replicasOf = (gw, model) =>
  children(gw.pid).filter((c) => c.argv.includes('--served-model-name') && c.argv[c.argv.indexOf('--served-model-name') + 1] === model);

/** A model the scheduler runs with ig-sim as its engine. */
function simModel(name, extra = {}, simArgs = []) {
  return {
    name,
    engine: 'VLLM',
    features: ['TextGeneration'],
    resourceProfile: 'cpu:1',
    command: [simPath(), '--listen', '127.0.0.1:{port}', '--served-model-name', '{served_name}', ...simArgs],
    ...extra,
  };
}

function gatewayConfig(models, { profiles = 'resourceProfiles:\n  cpu: {}\n', scheduler = {} } = {}) {
  const stateDir = path.join(tmpDir(), `state-${Math.random().toString(36).slice(2)}`);
  return {
    server: {
      stateDir,
      healthCheck: { interval: '100ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 2 },
      queue: { maxLength: 100, timeout: SLOW ? '60s' : '30s' },
      retries: 3,
      adminKeys,
    },
    models,
    extraYaml: `${profiles}${toYaml({ scheduler: { interval: '100ms', timeWindow: '1s', stopGracePeriod: '3s', ...scheduler } })}\n`,
  };
}

const chat = (gw, model, extra) => http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody(model, extra) });

describe('scale from zero', () => {
  let gw;
  before(async () => {
    gw = await startGateway(gatewayConfig([simModel('zero', { minReplicas: 0, maxReplicas: 1, scaleDownDelaySeconds: 1 })]));
  });

  it('no replica runs before the first request; the first request starts one and is answered', async () => {
    await sleep(500);
    assert.equal(replicasOf(gw, 'zero').length, 0, 'a replica runs before any request');
    // ready to route at zero replicas: a request would start one
    const rz = await http(`${gw.url}/readyz`);
    assert.equal(rz.status, 200, rz.text);
    assert.deepEqual(rz.json, { status: 'ready', models: 1, models_ready: 1 });
    const r = await chat(gw, 'zero');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'zero');
    assert.match(r.json.choices[0].message.content, /tok1/);
    assert.equal(replicasOf(gw, 'zero').length, 1);
    assert.match(gw.stderr, /model zero: replica \d+ serving on http:\/\/127\.0\.0\.1:\d+/);
  });

  it('replica state is in GET /admin/replicas (admin key) and in /metrics', async () => {
    const [child] = replicasOf(gw, 'zero');
    const denied = await http(`${gw.url}/admin/replicas`);
    assert.equal(denied.status, 401, denied.text);
    const r = await http(`${gw.url}/admin/replicas`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(r.status, 200, r.text);
    const m = r.json.models.find((x) => x.name === 'zero');
    assert.ok(m, r.text);
    assert.equal(m.replicas.length, 1, r.text);
    assert.equal(m.replicas[0].pid, child.pid);
    assert.equal(m.replicas[0].state, 'serving');
    assert.equal(m.replicas[0].healthy, true);
    assert.match(m.replicas[0].log, /replicas\/zero-\d+\.log$/);
    assert.equal(m.maxReplicas, 1);
    const metrics = await http(`${gw.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^infergate_replicas\{model="zero",state="serving"\} 1$/m);
    assert.match(metrics.text, /^infergate_replicas_desired\{model="zero"\} 1$/m);
    assert.match(metrics.text, /^# TYPE infergate_replica_restarts_total counter$/m);
  });

  it('the replica writes to its own log file under stateDir/replicas', async () => {
    const m = /model zero: replica \d+ starting: pid \d+, \S+, log (\S+)/.exec(gw.stderr);
    assert.ok(m, gw.tail());
    await waitFor(() => fs.existsSync(m[1]) && /ig-sim listening on 127\.0\.0\.1:\d+/.test(fs.readFileSync(m[1], 'utf8')), {
      timeoutMs: 5000, what: `ig-sim's startup line in ${m[1]}`,
    });
  });

  it('back to zero after scaleDownDelaySeconds without requests', async () => {
    await waitFor(() => replicasOf(gw, 'zero').length === 0, { timeoutMs: WAIT, what: 'scale down to zero' });
    assert.match(gw.stderr, /model zero: draining replica \d+ \(scaling down/);
    // and from zero again
    const r = await chat(gw, 'zero');
    assert.equal(r.status, 200, r.text);
  });

  it('SIGTERM stops every child', async () => {
    const pids = children(gw.pid).map((c) => c.pid);
    assert.ok(pids.length >= 1, 'a replica runs');
    await gw.checkAliveAndStop();
    for (const pid of pids) assert.ok(gone(pid), `replica pid ${pid} outlived the gateway`);
  });
});

describe('readiness without replicas', () => {
  it('/readyz is 503 for a model the scheduler may not start (maxReplicas 0), naming why', async () => {
    const gw = await startGateway(gatewayConfig([simModel('off', { minReplicas: 0, maxReplicas: 0 })]));
    const r = await http(`${gw.url}/readyz`);
    assert.equal(r.status, 503, r.text);
    assert.deepEqual(r.json, { status: 'not ready', reason: 'no model can be routed to',
      models: [{ model: 'off', endpoints: 0, healthy: 0, reason: 'no replica serves and maxReplicas is 0' }] });
    await gw.checkAliveAndStop();
  });
});

describe('autoscaling under load', () => {
  let gw;
  before(async () => {
    gw = await startGateway(
      gatewayConfig([
        simModel('elastic', { minReplicas: 1, maxReplicas: 3, targetRequests: 1, scaleDownDelaySeconds: 2 }, ['--token-rate', '20']),
      ]),
    );
    await waitFor(() => /model elastic: replica \d+ serving/.test(gw.stderr), { timeoutMs: WAIT, what: 'minReplicas 1 serving' });
  });

  it('scales up to maxReplicas while requests pile up, every request answered', async () => {
    assert.equal(replicasOf(gw, 'elastic').length, 1);
    let stop = false;
    let max = 0;
    const results = [];
    // 6 clients, each with one 2-second stream at a time: 6 active requests for targetRequests 1
    const clients = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const r = await http(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          body: chatBody('elastic', { max_tokens: 40, stream: true }),
        });
        results.push(r.status);
      }
    });
    try {
      await waitFor(
        () => {
          max = Math.max(max, replicasOf(gw, 'elastic').length);
          return max === 3;
        },
        { timeoutMs: WAIT, what: '3 replicas under load' },
      );
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    assert.equal(max, 3);
    assert.ok(results.length >= 6);
    assert.deepEqual([...new Set(results)], [200], `statuses: ${results}`);
    assert.match(gw.stderr, /model elastic: scaling from \d to [23] replicas/);
  });

  it('scales back down to minReplicas after scaleDownDelaySeconds, draining first', async () => {
    await waitFor(() => replicasOf(gw, 'elastic').length === 1, { timeoutMs: WAIT, what: 'back to 1 replica' });
    assert.match(gw.stderr, /model elastic: draining replica \d+ \(scaling down/);
    await sleep(500);
    assert.equal(replicasOf(gw, 'elastic').length, 1, 'minReplicas is kept');
    const r = await chat(gw, 'elastic');
    assert.equal(r.status, 200, r.text);
  });

  it('gateway stays up and stops its children on SIGTERM', async () => {
    const pids = children(gw.pid).map((c) => c.pid);
    await gw.checkAliveAndStop();
    for (const pid of pids) assert.ok(gone(pid), `replica pid ${pid} outlived the gateway`);
  });
});

describe('crash and restart', () => {
  let gw;
  before(async () => {
    gw = await startGateway(gatewayConfig([simModel('sturdy', { minReplicas: 2, maxReplicas: 2, targetRequests: 1000 })]));
    await waitFor(() => (gw.stderr.match(/model sturdy: replica \d+ serving/g) || []).length === 2, {
      timeoutMs: WAIT,
      what: '2 replicas serving',
    });
  });

  it('a replica killed with SIGKILL is restarted with backoff; non-streamed requests never fail', async () => {
    const before = replicasOf(gw, 'sturdy');
    assert.equal(before.length, 2);
    const victim = before[0].pid;
    let stop = false;
    const statuses = [];
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const r = await chat(gw, 'sturdy');
        statuses.push(r.status === 200 ? 200 : `${r.status} ${r.text}`);
      }
    });
    try {
      await sleep(300);
      process.kill(victim, 'SIGKILL');
      await waitFor(() => /model sturdy: replica \d+ \(pid \d+, port \d+\) was killed by signal 9; restarting in \d+ ms/.test(gw.stderr), {
        timeoutMs: WAIT,
        what: 'the crash reported',
      });
      await waitFor(
        () => {
          const now = replicasOf(gw, 'sturdy');
          return now.length === 2 && !now.some((c) => c.pid === victim);
        },
        { timeoutMs: WAIT, what: 'a new replica in place of the killed one' },
      );
      await waitFor(() => (gw.stderr.match(/model sturdy: replica \d+ serving/g) || []).length === 3, {
        timeoutMs: WAIT,
        what: 'the new replica serving',
      });
      await sleep(300);
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    assert.ok(statuses.length > 20, `only ${statuses.length} requests ran`);
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every request succeeded');
    // reported: in the admin API and in /metrics
    const adm = await http(`${gw.url}/admin/replicas`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const m = adm.json.models.find((x) => x.name === 'sturdy');
    assert.equal(m.crashes, 1, adm.text);
    assert.equal(m.restarts, 1, adm.text);
    assert.equal(m.replicas.filter((r) => r.state === 'serving').length, 2, adm.text);
    const metrics = await http(`${gw.url}/metrics`);
    assert.match(metrics.text, /^infergate_replica_crashes_total\{model="sturdy"\} 1$/m);
    assert.match(metrics.text, /^infergate_replica_restarts_total\{model="sturdy"\} 1$/m);
  });

  it('a reload that changes a model\'s args rolls its replicas (new ready before old drained); others keep theirs', async () => {
    // add a second model, then change only sturdy's args
    const cfgText = fs.readFileSync(gw.configPath, 'utf8');
    const keepPids = replicasOf(gw, 'sturdy').map((c) => c.pid).sort();
    fs.writeFileSync(gw.configPath, cfgText.replace('"{served_name}"', '"{served_name}"\n      - "--default-tokens"\n      - "5"'));
    process.kill(gw.pid, 'SIGHUP');
    await waitFor(() => /reloaded .*generation 2/.test(gw.stderr), { timeoutMs: WAIT, what: 'reload' });
    await waitFor(
      () => {
        const now = replicasOf(gw, 'sturdy');
        return now.length === 2 && now.every((c) => !keepPids.includes(c.pid)) && now.every((c) => c.argv.includes('--default-tokens'));
      },
      { timeoutMs: WAIT, what: 'both replicas replaced by ones with the new args' },
    );
    assert.match(gw.stderr, /model sturdy: what its replicas run changed: rolling them/);
    // the first old replica was drained only after a new one served
    const log = gw.stderr.slice(gw.stderr.indexOf('rolling them'));
    const firstServing = log.search(/model sturdy: replica \d+ serving/);
    const firstDrain = log.search(/model sturdy: (draining|stopping) replica \d+ .*replaced after a configuration change/);
    assert.ok(firstServing >= 0 && firstDrain > firstServing, `roll order:\n${log}`);
    const r = await chat(gw, 'sturdy', { max_tokens: undefined });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.completion_tokens, 5, 'served by a replica with the new args');
  });

  it('SIGTERM stops every child', async () => {
    const pids = children(gw.pid).map((c) => c.pid);
    assert.equal(pids.length, 2);
    await gw.checkAliveAndStop();
    for (const pid of pids) assert.ok(gone(pid), `replica pid ${pid} outlived the gateway`);
  });
});

describe('devices', () => {
  let gw;
  const profiles = 'resourceProfiles:\n  gpu: {devices: [0, 1]}\n';
  const low = (name) => simModel(name, { resourceProfile: 'gpu:1', minReplicas: 2, maxReplicas: 2, priorityClassName: 'low' });
  const scheduler = { priorityClasses: { low: 0, high: 100 } };
  let cfg;

  before(async () => {
    cfg = gatewayConfig([low('a'), low('b')], { profiles, scheduler });
    gw = await startGateway(cfg);
  });

  /** Every live replica's CUDA_VISIBLE_DEVICES; asserts that no device appears twice. */
  function assertNoDoubleBooking() {
    const devs = children(gw.pid).map((c) => c.env.CUDA_VISIBLE_DEVICES);
    for (const d of devs) assert.match(d ?? '', /^[01]$/, `a replica without its one device: ${JSON.stringify(devs)}`);
    assert.equal(new Set(devs).size, devs.length, `a device handed to two replicas: ${JSON.stringify(devs)}`);
    return devs;
  }

  it('two models wanting 4 replicas of a 2-device profile get 2, on distinct devices', async () => {
    await waitFor(() => children(gw.pid).length === 2, { timeoutMs: WAIT, what: '2 replicas' });
    for (let i = 0; i < 20; i++) {
      assert.equal(assertNoDoubleBooking().length, 2);
      await sleep(50);
    }
    assert.match(gw.stderr, /not enough free devices in resource profile gpu/);
  });

  it('a higher priority model preempts a lower one; devices are never double-booked meanwhile', async () => {
    const lowPids = children(gw.pid).map((c) => c.pid);
    const high = simModel('vip', { resourceProfile: 'gpu:1', minReplicas: 1, maxReplicas: 1, priorityClassName: 'high' });
    const text = fs.readFileSync(gw.configPath, 'utf8').replace(/^models:\n/m, `models:\n${toYaml([high], '  ')}\n`);
    fs.writeFileSync(gw.configPath, text);
    process.kill(gw.pid, 'SIGHUP');
    await waitFor(
      () => {
        assertNoDoubleBooking();
        return replicasOf(gw, 'vip').length === 1 && children(gw.pid).length === 2;
      },
      { timeoutMs: WAIT, intervalMs: 20, what: 'vip running on a preempted device' },
    );
    assert.match(gw.stderr, /preempting replica \d+ of model [ab] \(devices [01]\) for model vip \(priority 100 > 0\)/);
    const adm = await http(`${gw.url}/admin/replicas`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(adm.status, 200, adm.text);
    assert.equal(adm.json.devices.filter((d) => d.model === 'vip').length, 1, adm.text);
    assert.equal(new Set(adm.json.devices.map((d) => d.device)).size, adm.json.devices.length, adm.text);
    const metrics = await http(`${gw.url}/metrics`);
    assert.match(metrics.text, /^infergate_device_allocated\{device="[01]",model="vip",replica="\d+"\} 1$/m);
    assert.match(metrics.text, /^infergate_replica_preemptions_total\{model="[ab]"\} 1$/m);
    const r = await chat(gw, 'vip');
    assert.equal(r.status, 200, r.text);
    // the reload kept the replica it did not preempt: same process, not restarted
    assert.equal(lowPids.filter((pid) => !gone(pid)).length, 1, `low replicas before: ${lowPids}, now: ${children(gw.pid).map((c) => c.pid)}`);
    // the low models cannot take it back: still 2 replicas in all, distinct devices
    for (let i = 0; i < 10; i++) {
      assert.equal(assertNoDoubleBooking().length, 2);
      await sleep(50);
    }
  });

  it('SIGTERM stops every child', async () => {
    const pids = children(gw.pid).map((c) => c.pid);
    await gw.checkAliveAndStop();
    for (const pid of pids) assert.ok(gone(pid), `replica pid ${pid} outlived the gateway`);
  });
});

describe('engine warmup (Ollama pulls its model before it serves)', () => {
  it('an Ollama replica is pulled (POST /api/pull), then serves', async () => {
    const cfg = gatewayConfig([
      {
        name: 'llama',
        engine: 'OLlama',
        url: 'ollama://llama3.2:1b',
        features: ['TextGeneration'],
        resourceProfile: 'cpu:1',
        minReplicas: 0,
        maxReplicas: 1,
        // the recipe's argv is `ollama serve` with OLLAMA_HOST: ig-sim reads its address from the same variable here
        command: ['/bin/sh', '-c', `exec "${simPath()}" --api ollama --listen "$OLLAMA_HOST" --served-model-name llama3.2:1b`],
      },
    ]);
    cfg.plugins = { dir: PLUGINS_DIR, load: ['ollama', 'leastload'] };
    const gw = await startGateway(cfg);
    const r = await chat(gw, 'llama');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'llama');
    assert.match(gw.stderr, /model llama: replica \d+ healthy; warming up \(POST \/api\/pull\)/);
    assert.match(gw.stderr, /model llama: replica \d+ serving/);
    const [child] = replicasOf(gw, 'llama3.2:1b');
    assert.match(child.env.OLLAMA_HOST, /^127\.0\.0\.1:\d+$/);
    await gw.checkAliveAndStop();
    assert.ok(gone(child.pid));
  });
});

describe('start timeout', () => {
  it('a replica that never answers its health path is killed after scheduler.startTimeout and restarted', async () => {
    const cfg = gatewayConfig(
      [{ name: 'mute', engine: 'VLLM', features: ['TextGeneration'], resourceProfile: 'cpu:1', minReplicas: 1, maxReplicas: 1, command: ['/bin/sleep', '1000'] }],
      { scheduler: { startTimeout: '1s' } },
    );
    const gw = await startGateway(cfg);
    await waitFor(() => /model mute: replica \d+ \(pid \d+\) not ready after \d+ ms \(scheduler\.startTimeout\): killing it/.test(gw.stderr), {
      timeoutMs: WAIT,
      what: 'the start timeout',
    });
    await waitFor(() => /model mute: replica \d+ \(pid \d+, port \d+\) was killed by signal 9; restarting in \d+ ms/.test(gw.stderr), {
      timeoutMs: WAIT,
      what: 'the restart',
    });
    await waitFor(() => (gw.stderr.match(/model mute: replica \d+ starting/g) || []).length >= 2, { timeoutMs: WAIT, what: 'a second start' });
    assert.doesNotMatch(gw.stderr, /model mute: replica \d+ serving/);
    const pids = children(gw.pid).map((c) => c.pid);
    await gw.checkAliveAndStop();
    for (const pid of pids) assert.ok(gone(pid), `replica pid ${pid} outlived the gateway`);
  });
});

// A replica that serves its health path and ignores SIGTERM (only SIGKILL stops it).
const STUBBORN = `const http = require('node:http');
process.on('SIGTERM', () => {}); // ignored: the scheduler must SIGKILL after stopGracePeriod
http.createServer((req, res) => res.end('')).listen(Number(process.argv[2]), '127.0.0.1');
`;
/** Log lines matching re, with their timestamps (ms). */
const logLines = (gw, re) => gw.stderr.split('\n').filter((l) => re.test(l)).map((l) => ({ line: l, at: Date.parse(l.slice(0, 24)) }));

describe('crash backoff', () => {
  it('a replica that keeps crashing is restarted after 1 s, then 2 s, then 4 s; never earlier', { timeout: 120000 }, async () => {
    const crashy = { name: 'crashy', engine: 'VLLM', features: ['TextGeneration'], resourceProfile: 'cpu:1', minReplicas: 1,
      maxReplicas: 1, command: [process.execPath, '-e', 'process.exit(3)'] };
    const gw = await startGateway(gatewayConfig([crashy]));
    const re = /model crashy: replica \d+ \(pid \d+, port \d+\) exited with status 3; restarting in (\d+) ms \(crash (\d+) in a row/;
    await waitFor(() => logLines(gw, re).length >= 4, { timeoutMs: WAIT, what: `4 crashes:\n${gw.tail()}` });
    const crashes = logLines(gw, re).slice(0, 4).map((x) => ({ ...x, wait: Number(re.exec(x.line)[1]), n: Number(re.exec(x.line)[2]) }));
    assert.deepEqual(crashes.map((c) => [c.n, c.wait]), [[1, 1000], [2, 2000], [3, 4000], [4, 8000]]);
    // the next crash can only follow the restart, which waits the announced time
    for (let i = 1; i < crashes.length; i++) {
      assert.ok(crashes[i].at - crashes[i - 1].at >= crashes[i - 1].wait - 2,
        `crash ${i + 1} came ${crashes[i].at - crashes[i - 1].at} ms after crash ${i}, whose restart waits ${crashes[i - 1].wait} ms`);
    }
    const adm = await http(`${gw.url}/admin/replicas`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.ok(adm.json.models.find((x) => x.name === 'crashy').crashes >= 4, adm.text);
    await gw.checkAliveAndStop();
  });
});

describe('reload removes models', () => {
  it('a removed model\'s replicas are drained (a stream in flight finishes), one ignoring SIGTERM is SIGKILLed after stopGracePeriod', { timeout: 120000 }, async () => {
    const { startSim, model } = await import('./harness.mjs');
    const keep = await startSim({ models: ['keep'] });
    const stubborn = writeTmp('stubborn.cjs', STUBBORN);
    const models = [
      model('keep', [keep]),
      simModel('slow', { minReplicas: 1, maxReplicas: 1 }, ['--token-rate', '20']),
      { name: 'stubborn', engine: 'VLLM', features: ['TextGeneration'], resourceProfile: 'cpu:1', minReplicas: 1, maxReplicas: 1,
        command: [process.execPath, stubborn, '{port}'] },
    ];
    const gw = await startGateway(gatewayConfig(models, { scheduler: { stopGracePeriod: '1s' } }));
    await waitFor(() => /model slow: replica \d+ serving/.test(gw.stderr) && /model stubborn: replica \d+ serving/.test(gw.stderr),
      { timeoutMs: WAIT, what: `both replicas serving:\n${gw.tail()}` });
    const slowPid = replicasOf(gw, 'slow')[0].pid;
    const stubbornPid = children(gw.pid).find((c) => c.argv.includes(stubborn)).pid;
    // a 40-token stream at 20 tokens/s: about 2 s, in flight across the reload
    const streaming = http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('slow', { max_tokens: 40, stream: true }) });
    await waitFor(async () => (await http(`${gw.url}/metrics`)).text.includes('infergate_requests_in_flight{model="slow"} 1'),
      { timeoutMs: WAIT, what: 'the stream in flight' });
    const text = fs.readFileSync(gw.configPath, 'utf8');
    const without = text.replace(/\n  - name: "slow"[\s\S]*$/, '\n');
    assert.ok(!/slow|stubborn/.test(without.slice(without.indexOf('models:'))), without);
    fs.writeFileSync(gw.configPath, without);
    process.kill(gw.pid, 'SIGHUP');
    await waitFor(() => /reloaded .*generation 2/.test(gw.stderr), { timeoutMs: WAIT, what: `the reload:\n${gw.tail()}` });
    await waitFor(() => /model slow: draining replica \d+ \(model removed, 1 requests in flight\)/.test(gw.stderr),
      { timeoutMs: WAIT, what: `the slow replica drained:\n${gw.tail()}` });
    // drained, not cut: the stream ends with every token and [DONE]
    const r = await streaming;
    assert.equal(r.status, 200, r.text);
    const sse = parseSSE(r.text);
    assert.ok(sse.done, `the stream finished: ${r.text.slice(-300)}`);
    assert.equal(sse.chunks.filter((c) => c.choices?.[0]?.delta?.content).length, 40);
    await waitFor(() => gone(slowPid) && gone(stubbornPid), { timeoutMs: WAIT, what: `both replicas gone:\n${gw.tail()}` });
    assert.match(gw.stderr, new RegExp(`model slow: replica \\d+ \\(pid ${slowPid}\\) stopped`));
    // the stubborn one: SIGTERM ignored, SIGKILL after the 1 s grace period
    assert.match(gw.stderr, new RegExp(`replica pid ${stubbornPid} did not stop within its grace period: SIGKILL`));
    assert.doesNotMatch(gw.stderr, new RegExp(`replica pid ${slowPid} did not stop`));
    assert.deepEqual(children(gw.pid), [], 'no replica left');
    // the model that stayed still serves; the removed ones are gone for clients
    assert.equal((await chat(gw, 'keep')).status, 200);
    assert.equal((await chat(gw, 'slow')).status, 404);
    await gw.checkAliveAndStop();
    await keep.checkAliveAndStop();
  });
});

describe('no orphans when the gateway is SIGKILLed', () => {
  it('replicas die with the gateway (PR_SET_PDEATHSIG)', async () => {
    const gw = await startGateway(gatewayConfig([simModel('orphan', { minReplicas: 1, maxReplicas: 1 })]));
    await waitFor(() => replicasOf(gw, 'orphan').length === 1, { timeoutMs: WAIT, what: 'a replica' });
    const pids = children(gw.pid).map((c) => c.pid);
    process.kill(gw.pid, 'SIGKILL'); // only the gateway: the harness would kill its process group
    await gw.exited;
    await waitFor(() => pids.every(gone), { timeoutMs: 5000, what: `replicas ${pids} gone` });
    await gw.stop();
  });
});

describe('config', () => {
  it('rejects an unknown priority class and an empty command with file:line', async () => {
    const { run } = await import('./harness.mjs');
    const p = writeTmp(
      'bad-sched.yaml',
      `${toYaml({
        plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] },
        resourceProfiles: { cpu: { command: [] } },
        scheduler: { priorityClasses: { low: 0 } },
        models: [{ name: 'm', engine: 'VLLM', resourceProfile: 'cpu:1', priorityClassName: 'nope' }],
      })}\n`,
    );
    const r = await run(gatewayPath(), ['-t', '-c', p]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /bad-sched\.yaml:\d+: models\[0\]\.priorityClassName: unknown priority class "nope" \(scheduler\.priorityClasses defines: low\)/);
    assert.match(r.stderr, /bad-sched\.yaml:\d+: resourceProfiles\.cpu\.command: must name a program/);
  });
});
