// bench/hostile/run.mjs — issue 14's HTTP/2 rows rerun, before and after, in one run (see README.md).
//
//   node bench/hostile/run.mjs [--baseline=/path/to/main/build] [--seconds=10] [--rounds=3] [--throughput-seconds=5]
//
// Gateways, all with the same config and one ig-sim:
//   off       this build, the guard off by config (h2ResetBudget: 0, maxHeaderListBytes: 0)
//   on        this build, the defaults
//   baseline  (--baseline) another build's infergate, e.g. main before this change: the true "before"
// Rapid reset (no delay, and 5 ms before each reset) and the HPACK bomb run against each; then, with
// --baseline, h2load's throughput as bench/run.sh measures it (HTTP/1.1 and h2c), baseline and this
// build interleaved, medians and their ratio.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { BUILD_DIR, PLUGINS_DIR, Proc, freePort, startSim, toYaml, waitFor, writeTmp, tmpDir } from '../../tests/integration/harness.mjs';

const arg = (k, d) => { const a = process.argv.find((x) => x.startsWith(`--${k}=`)); return a ? a.split('=')[1] : d; };
const SECONDS = Number(arg('seconds', 10));
const ROUNDS = Number(arg('rounds', 3));
const TP_SECONDS = Number(arg('throughput-seconds', 5));
const BASELINE = arg('baseline', '');
const PROBES = arg('probes', '1') !== '0'; // --probes=0: the throughput comparison only
const here = path.dirname(new URL(import.meta.url).pathname);

async function startGw(name, buildDir, server = {}) {
  const port = await freePort();
  const cfg = {
    server: { listen: [`127.0.0.1:${port}`], workers: 2, logLevel: 'warn', accessLog: 'off', stateDir: path.join(tmpDir(), `state-${port}`), ...server },
    plugins: { dir: path.join(buildDir, 'plugins'), load: ['vllm', 'leastload'] },
    models: [{ name: 'chat', engine: 'VLLM', features: ['TextGeneration'], endpoints: [sim.url] }],
  };
  const p = new Proc(name, path.join(buildDir, 'core/infergate'), ['-c', writeTmp(`${name}-${port}.yaml`, toYaml(cfg))]);
  p.port = port;
  p.url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${p.url}/healthz`)).status === 200, { timeoutMs: 20000, what: `${name} /healthz` });
  return p;
}

// child processes run asynchronously: this process keeps draining the gateways' output meanwhile
const run = promisify(execFile);
async function attack(...a) {
  const { stdout } = await run(process.execPath, [path.join(here, 'attack.mjs'), ...a.map(String)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop());
}

async function h2load(url, proto, body) {
  const args = ['-D', String(TP_SECONDS), '-t', '2', '-d', body, '-H', 'content-type: application/json'];
  if (proto === 'h1') args.push('--h1', '-c', '64'); else args.push('-c', '8', '-m', '8');
  let out = '';
  try { out = (await run('h2load', [...args, `${url}/v1/chat/completions`], { maxBuffer: 16 << 20 })).stdout; } catch (e) { out = `${e.stdout}`; }
  const m = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(out);
  const ok = /status codes: (\d+) 2xx/.exec(out);
  return { rps: m ? Number(m[1]) : 0, ok: ok ? Number(ok[1]) : 0 };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// every probe gets a fresh ig-sim and gateway: nothing one probe left (a stalled connection's
// backlog, TIME_WAIT sockets towards the engine, memory) is counted in the next
const KINDS = { off: [BUILD_DIR, { clientLimits: { h2ResetBudget: 0, maxHeaderListBytes: 0 } }], on: [BUILD_DIR, {}] };
if (BASELINE) KINDS.baseline = [path.resolve(BASELINE), {}];
let sim;
const rows = [];
async function probe(name, ...a) {
  sim = await startSim({ models: ['chat'] });
  const gw = await startGw(name, ...KINDS[name]);
  const r = await attack(a[0], gw.port, ...a.slice(1).map((x) => (x === 'SIM' ? sim.url : x === 'PID' ? gw.child.pid : x)));
  rows.push({ gateway: name, ...r });
  console.error(JSON.stringify(rows.at(-1)));
  await gw.stop({ timeoutMs: 5000 });
  await sim.stop({ timeoutMs: 5000 });
}
for (const name of PROBES ? Object.keys(KINDS) : []) {
  for (const delay of [0, 5]) await probe(name, 'rapid-reset', SECONDS, delay, 'SIM', 'PID');
  await probe(name, 'hpack-bomb', 30, 400000, 'PID');
}

console.log('\n| gateway | probe | streams sent | requests the gateway handled | connections | GOAWAY ENHANCE_YOUR_CALM | streams per connection | engine requests | engine TCP connections | attacker CPU s | gateway CPU s |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows.filter((x) => x.probe === 'rapid-reset'))
  console.log(`| ${r.gateway} | rapid reset, ${r.delayMs ? `${r.delayMs} ms before each reset` : 'batches of 100'}, ${r.seconds} s | ${r.streamsSent} | ${r.gatewayHandled} | ${r.connections} | ${r.enhanceYourCalm} | ${r.streamsProcessedPerConnection} | ${r.engineRequests} | ${r.engineConnections} | ${r.attackerCpuS} | ${r.gatewayCpuS} |`);
console.log('\n| gateway | HPACK bomb | streams held open | GOAWAY code | RSS before MB | RSS after MB |');
console.log('|---|---|---|---|---|---|');
for (const r of rows.filter((x) => x.probe === 'hpack-bomb'))
  console.log(`| ${r.gateway} | ${r.streams} streams × ${r.refs} refs to a 4,000-byte entry | ${r.streamsHeldOpen} | ${r.goaway ?? '-'} | ${r.rssBeforeMb} | ${r.rssAfterMb} |`);

if (BASELINE && ROUNDS > 0) {
  const body = writeTmp('chat.json', JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hello '.repeat(200) }], max_tokens: 1 }));
  sim = await startSim({ models: ['chat'] });
  const gws = { baseline: await startGw('baseline', ...KINDS.baseline), on: await startGw('on', ...KINDS.on) };
  const tp = { baseline: { h1: [], h2c: [] }, on: { h1: [], h2c: [] } };
  for (let r = 0; r < ROUNDS; r++)
    for (const name of r % 2 ? ['on', 'baseline'] : ['baseline', 'on'])
      for (const proto of ['h1', 'h2c']) {
        const x = await h2load(gws[name].url, proto, body);
        tp[name][proto].push(x.rps);
        console.error(`round ${r} ${name} ${proto}: ${x.rps} req/s (${x.ok} 2xx)`);
      }
  console.log(`\n| throughput (h2load, ${TP_SECONDS} s × ${ROUNDS} rounds, interleaved) | baseline req/s (median) | this build req/s (median) | ratio of medians | median of the rounds' ratios (min–max) |`);
  console.log('|---|---|---|---|---|');
  for (const proto of ['h1', 'h2c']) {
    const a = median(tp.baseline[proto]), b = median(tp.on[proto]);
    const ratios = tp.on[proto].map((x, i) => x / tp.baseline[proto][i]);
    console.log(`| ${proto === 'h1' ? 'HTTP/1.1, 64 connections' : 'h2c, 8 connections × 8 streams'} | ${a} | ${b} | ${(b / a).toFixed(3)} | ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) |`);
  }
  for (const gw of Object.values(gws)) await gw.stop({ timeoutMs: 5000 });
  await sim.stop({ timeoutMs: 5000 });
}
process.exit(0);
