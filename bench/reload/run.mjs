// run.mjs — reload latency for a configuration with many models (bench/README.md, "Reload latency").
//
// Starts one ig-sim and one infergate whose config lists --models models (all on the simulator),
// then, --runs times, rewrites the config (alternating two variants that differ in one model and in
// server.retries), sends SIGHUP and measures:
//   - visible: from kill(SIGHUP) to GET /admin/generation answering the new id (polled back to back
//     on a keep-alive connection, so it includes up to one poll round trip, ~0.1-0.3 ms);
//   - internal: what the gateway logs for the reload ("... in X ms": parse, validate, plugin
//     instances, per-model state, swap);
// and the wall time of `infergate -t -c FILE` on the same file (process start to exit).
// Medians (and min/max) are printed as a Markdown table. Nothing is asserted.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.resolve(ROOT, process.env.IG_BUILD_DIR || 'build');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const MODELS = Number(args.models || 1000);
const RUNS = Number(args.runs || 9);
const KEY = 'bench-reload-admin-key';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(bin, argv) {
  const c = spawn(bin, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  c.stderrText = ''; // both streams: ig-sim announces its port on stdout, the gateway logs to stderr
  for (const s of [c.stdout, c.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => { c.stderrText += d; });
  }
  children.push(c);
  return c;
}

async function waitUntil(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function config(port, simUrl, variant) {
  const hash = crypto.createHash('sha256').update(KEY).digest('hex');
  const lines = [
    'server:',
    `  listen: ["127.0.0.1:${port}"]`,
    '  workers: 2',
    '  accessLog: "off"',
    `  retries: ${variant ? 1 : 2}`,
    `  adminKeys: ["sha256:${hash}"]`,
    'plugins:',
    `  dir: "${path.join(BUILD, 'plugins')}"`,
    '  load: [vllm, leastload]',
    'models:',
  ];
  for (let i = 0; i < MODELS; i++) {
    // the last model differs between the two variants: one is removed, another added
    const name = i === MODELS - 1 ? `model-${variant ? 'b' : 'a'}-${i}` : `model-${String(i).padStart(5, '0')}`;
    lines.push(`  - name: "${name}"`, '    engine: VLLM', '    features: [TextGeneration]', `    endpoints: ["${simUrl}"]`,
      `    pricing: {prompt: "0.000001", completion: "0.000002"}`);
  }
  return `${lines.join('\n')}\n`;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: med, min: s[0], max: s[s.length - 1] };
};
const fmt = (x) => `${x.toFixed(1)} ms`;

async function main() {
  const gwBin = path.join(BUILD, 'core/infergate');
  const simBin = path.join(BUILD, 'tests/simulator/ig-sim');
  const sim = start(simBin, ['--listen', '127.0.0.1:0']);
  const m = await waitUntil(() => /ig-sim listening on (\S+):(\d+)/.exec(sim.stderrText), 10000, 'ig-sim');
  const simUrl = `http://127.0.0.1:${m[2]}`;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-bench-reload-'));
  const file = path.join(dir, 'models.yaml');
  fs.writeFileSync(file, config(port, simUrl, 0));
  console.error(`# ${MODELS} models, config ${fs.statSync(file).size} bytes, ${RUNS} runs, build ${BUILD}`);

  const check = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(gwBin, ['-t', '-c', file], { cwd: ROOT, encoding: 'utf8' });
    check.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 0) throw new Error(`infergate -t failed:\n${r.stderr}`);
  }

  const gw = start(gwBin, ['-c', file]);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(async () => (await fetch(`${base}/healthz`)).ok, 30000, 'gateway /healthz');
  const generation = async () =>
    (await (await fetch(`${base}/admin/generation`, { headers: { authorization: `Bearer ${KEY}` } })).json()).id;
  const visible = [], internal = [];
  let id = await generation();
  for (let i = 0; i < RUNS; i++) {
    fs.writeFileSync(file, config(port, simUrl, (i + 1) % 2));
    await sleep(200);
    const want = id + 1;
    const t0 = process.hrtime.bigint();
    process.kill(gw.pid, 'SIGHUP');
    while ((id = await generation()) !== want) {
      if (gw.exitCode !== null) throw new Error(`gateway exited:\n${gw.stderrText.slice(-2000)}`);
    }
    visible.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const line = await waitUntil(() => new RegExp(`generation ${want}, (\\d+) models in ([\\d.]+) ms`).exec(gw.stderrText), 5000, 'reload log line');
    if (Number(line[1]) !== MODELS) throw new Error(`generation ${want} has ${line[1]} models`);
    internal.push(Number(line[2]));
  }
  gw.kill('SIGTERM');
  await new Promise((r) => gw.on('exit', r));
  sim.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });

  const rows = [
    ['SIGHUP → new generation answers /admin/generation', stats(visible)],
    ['reload inside the gateway (logged: parse → swap)', stats(internal)],
    ['`infergate -t` on the same file (process wall time)', stats(check)],
  ];
  console.log(`| ${MODELS} models, ${RUNS} runs | median | min | max |\n|---|---|---|---|`);
  for (const [what, s] of rows) console.log(`| ${what} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} |`);
}

main().catch((e) => {
  console.error(e.stack || e.message);
  process.exit(1);
});
