// Measures how many usage records a hard kill (SIGKILL) of the gateway loses: a closed-loop load of
// small non-streamed requests (h2load), kill -9 at a random moment, restart on the same stateDir, and compare
// the records in the ledger with the requests the clients had answered before the kill.
// Not a test (it asserts nothing about timing): run it by hand and read the table.
//
//   IG_BUILD_DIR=build node tests/integration/billing_kill9.mjs [rounds] [flushInterval] [synchronous]
//
// lost = answered - committed when positive: answers whose record was still in the writer's queue.
// committed may exceed answered by the requests whose answer was on its way when the kill came.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PLUGINS_DIR, http, model, run, sleep, startGateway, startSim, tmpDir } from './harness.mjs';

const rounds = Number(process.argv[2] || 5);
const flushInterval = process.argv[3] || '10ms'; // the plugin's default
const synchronous = process.argv[4] || 'NORMAL';
const ADMIN = 'kill9-admin';
const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;

const sim = await startSim({ models: ['m'] });
const rows = [];
for (let round = 0; round < rounds; round++) {
  const stateDir = path.join(tmpDir(), `kill9-${round}`);
  fs.mkdirSync(stateDir, { recursive: true });
  const cfg = {
    server: { stateDir, adminKeys: [sha(ADMIN)] },
    plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'billing'], options: { billing: { flushInterval, synchronous } } },
    models: [model('m', [sim])],
  };
  const gw = await startGateway(cfg);
  // h2load (HTTP/1.1, 32 connections) as the client: it counts the answers it received in full
  const bodyFile = path.join(stateDir, 'body.json');
  fs.writeFileSync(bodyFile, JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }));
  const t0 = Date.now();
  const load = run('h2load', ['-n', '10000000', '-c', '32', '-t', '1', '--h1', '-d', bodyFile,
    '-H', 'content-type: application/json', `${gw.url}/v1/chat/completions`], { timeoutMs: 60000 });
  await sleep(1000 + Math.floor(Math.random() * 2000));
  gw.kill('SIGKILL');
  const seconds = (Date.now() - t0) / 1000;
  const out = (await load).stdout;
  const m = /status codes: (\d+) 2xx/.exec(out);
  if (!m) throw new Error(`h2load said:\n${out}`);
  const answered = Number(m[1]);
  await gw.exited;
  const gw2 = await startGateway(cfg);
  const u = await http(`${gw2.url}/admin/usage`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const committed = u.json.total.requests;
  await gw2.stop();
  const rate = answered / seconds;
  rows.push({ round, answered, committed, lost: Math.max(0, answered - committed), extra: Math.max(0, committed - answered), rate: Math.round(rate) });
}
await sim.stop();
console.log(`flushInterval ${flushInterval}, synchronous ${synchronous}, 32 clients, 2 workers`);
console.log('round  answered  committed  lost  committed-not-answered  req/s');
for (const r of rows) console.log(`${String(r.round).padStart(5)}  ${String(r.answered).padStart(8)}  ${String(r.committed).padStart(9)}  ${String(r.lost).padStart(4)}  ${String(r.extra).padStart(22)}  ${String(r.rate).padStart(5)}`);
const worst = Math.max(...rows.map((r) => r.lost));
console.log(`worst loss: ${worst} records (${(worst / Math.max(...rows.map((r) => r.rate))).toFixed(3)} s of traffic at the measured rate)`);
process.exit(0);
