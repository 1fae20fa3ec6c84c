// bench/prefix_routing/run.mjs — multi-turn chat over 4 simulated vLLM endpoints, through one
// infergate with three models that differ only in their load-balancing strategy (Random,
// LeastLoad, PrefixHash). Started by run.sh (which builds first); see bench/README.md.
//
// Per strategy, in turn: the simulators' prefix caches and counters are reset, then `concurrency`
// clients each run whole conversations one after the other (turn k's prompt = the system prompt +
// every earlier user/assistant message + a new user message, so prompts grow and share prefixes),
// streamed with include_usage. Reported: prefix-cache hit ratio (tokens, from the simulators'
// /sim/stats), requests per simulator (max/mean), TTFT and latency percentiles at the client.
// Timings are reported, never asserted. Every process started here is stopped on exit.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.resolve(ROOT, process.env.IG_BUILD_DIR || 'build');

// ---- parameters (flags --name=value override the defaults) ---------------------------------
const P = {
  endpoints: 4,
  conversations: 160, // per strategy
  turns: 8, // per conversation
  concurrency: 32, // clients, each running one conversation at a time
  maxTokens: 24, // completion tokens per turn
  tokenRate: 200, // simulator tokens/s per stream
  ttftMs: 150, // simulator TTFT for a prompt that misses the cache entirely
  cacheBlocks: 768, // simulator prefix-cache capacity in 16-token blocks, each
  gatewayWorkers: 2,
  phaseTimeoutS: 180, // a phase stops issuing requests after this
  strategies: 'Random,LeastLoad,PrefixHash',
  seed: 42,
};
for (const a of process.argv.slice(2)) {
  const m = /^--([a-zA-Z]+)=(.*)$/.exec(a);
  if (!m || !(m[1] in P)) {
    console.error(`unknown argument ${a}; known: ${Object.keys(P).map((k) => `--${k}=`).join(' ')}`);
    process.exit(2);
  }
  P[m[1]] = typeof P[m[1]] === 'number' ? Number(m[2]) : m[2];
}

// ---- processes ---------------------------------------------------------------------------------
const children = [];
function stopAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGTERM');
      } catch {}
    }
  }
}
process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function start(bin, args, name) {
  const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  c.name = name;
  c.stderrText = '';
  c.stderr.on('data', (d) => {
    if (c.stderrText.length < 20000) c.stderrText += d;
  });
  return c;
}

function firstLine(c, re, ms = 10000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${c.name}: no "${re}" within ${ms} ms\n${c.stderrText}`)), ms);
    c.stdout.on('data', (d) => {
      buf += d;
      const m = re.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    });
    c.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${c.name} exited (${code}) before starting\n${c.stderrText}`));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url, proc, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${proc.name} exited (${proc.exitCode})\n${proc.stderrText}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${ms} ms`);
    await sleep(50);
  }
}

// ---- deterministic text ---------------------------------------------------------------------
function rng(seed) {
  let x = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  return () => {
    x ^= x << 13n;
    x &= 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= x << 17n;
    x &= 0xffffffffffffffffn;
    return Number(x >> 11n) / 2 ** 53;
  };
}
const WORDS = (
  'river mountain castle engine garden window harbor signal forest market bridge planet silver ' +
  'winter summer history science rocket violin lantern compass meadow canyon glacier thunder ' +
  'harvest festival library theorem algebra protein crystal voyage island desert ocean falcon ' +
  'copper marble pepper ginger orchard village tunnel beacon anchor helmet saddle quartz velvet'
).split(' ');
function words(r, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]);
  return out.join(' ');
}
const SYSTEM =
  'You are a careful and friendly assistant. Answer in plain language, cite sources when you can, ' +
  'keep answers short unless asked for detail, and never invent facts you are not sure about.';

// the simulator's token count: words + 4 template tokens per message
const SYSTEM_TOKENS = SYSTEM.split(/\s+/).length + 4;

function conversationScript(id) {
  const r = rng(P.seed * 1000003 + id);
  const users = [];
  // the first user message names the conversation early: its first 100 characters are unique,
  // which is what PrefixHash keys on
  users.push(`Conversation ${id}: tell me about ${words(r, 30)}`);
  for (let t = 1; t < P.turns; t++) users.push(words(r, 15 + Math.floor(r() * 25)));
  return users;
}

// ---- one streamed request ---------------------------------------------------------------------
async function chat(base, model, messages) {
  const t0 = performance.now();
  let ttft = null;
  let text = '';
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      messages,
      max_tokens: P.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (ttft === null && value.length) ttft = performance.now() - t0;
    text += dec.decode(value, { stream: true });
  }
  const latency = performance.now() - t0;
  if (res.status !== 200 || !text.includes('[DONE]')) return { ok: false, status: res.status, latency };
  let content = '';
  let usage = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const ev = JSON.parse(line.slice(6));
    if (ev.usage) usage = ev.usage;
    const d = ev.choices && ev.choices[0] && ev.choices[0].delta;
    if (d && d.content) content += d.content;
  }
  return { ok: true, ttft, latency, content, usage };
}

// ---- one phase --------------------------------------------------------------------------------
function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function phase(base, sims, model) {
  await Promise.all(sims.map((s) => fetch(`${s}/sim/reset-prefix-cache`, { method: 'POST' }).then((r) => r.text())));
  await Promise.all(sims.map((s) => fetch(`${s}/sim/reset-stats`, { method: 'POST' }).then((r) => r.text())));
  const ttfts = [];
  const lats = [];
  let errors = 0;
  let clientPrompt = 0;
  let clientCached = 0;
  let idealCached = 0;
  let next = 0;
  const deadline = Date.now() + P.phaseTimeoutS * 1000;
  const t0 = performance.now();
  async function client() {
    for (;;) {
      const id = next++;
      if (id >= P.conversations || Date.now() > deadline) return;
      const users = conversationScript(id);
      const messages = [{ role: 'system', content: SYSTEM }];
      let prev = SYSTEM_TOKENS; // what an endpoint that saw the previous turn (or any turn 1) holds
      for (const u of users) {
        if (Date.now() > deadline) return;
        messages.push({ role: 'user', content: u });
        let r;
        try {
          r = await chat(base, model, messages);
        } catch (e) {
          r = { ok: false };
        }
        if (!r.ok) {
          errors++;
          break; // the conversation cannot go on without the answer
        }
        ttfts.push(r.ttft);
        lats.push(r.latency);
        if (r.usage) {
          clientPrompt += r.usage.prompt_tokens;
          clientCached += (r.usage.prompt_tokens_details && r.usage.prompt_tokens_details.cached_tokens) || 0;
          // the best any routing can do: every full block of the previous turn's prompt is cached
          const p = r.usage.prompt_tokens;
          idealCached += Math.floor(Math.min(prev, p - 1) / 16) * 16;
          prev = p;
        }
        messages.push({ role: 'assistant', content: r.content });
      }
    }
  }
  await Promise.all(Array.from({ length: P.concurrency }, client));
  const wall = (performance.now() - t0) / 1000;
  const stats = await Promise.all(sims.map((s) => fetch(`${s}/sim/stats`).then((r) => r.json())));
  ttfts.sort((a, b) => a - b);
  lats.sort((a, b) => a - b);
  const reqs = stats.map((s) => s.requests);
  const total = reqs.reduce((a, b) => a + b, 0);
  const hits = stats.reduce((a, s) => a + s.prefix_cache_hits, 0);
  const queries = stats.reduce((a, s) => a + s.prefix_cache_queries, 0);
  return {
    model,
    requests: lats.length,
    errors,
    wall,
    hitRatio: queries ? hits / queries : 0,
    clientHitRatio: clientPrompt ? clientCached / clientPrompt : 0,
    idealHitRatio: clientPrompt ? idealCached / clientPrompt : 0,
    perSim: reqs,
    maxOverMean: total ? Math.max(...reqs) / (total / reqs.length) : NaN,
    ttft50: pct(ttfts, 50),
    ttft99: pct(ttfts, 99),
    lat50: pct(lats, 50),
    lat99: pct(lats, 99),
  };
}

// ---- main -----------------------------------------------------------------------------------------
async function main() {
  const gatewayBin = [path.join(BUILD, 'core/infergate'), path.join(BUILD, 'infergate')].find((p) => fs.existsSync(p));
  const simBin = path.join(BUILD, 'tests/simulator/ig-sim');
  if (!gatewayBin || !fs.existsSync(simBin)) throw new Error(`binaries not found under ${BUILD}: run run.sh`);

  const sims = [];
  for (let i = 0; i < P.endpoints; i++) {
    const c = start(simBin, ['--listen', '127.0.0.1:0', '--workers', '1', '--quiet', '--token-rate', String(P.tokenRate),
      '--ttft-ms', String(P.ttftMs), '--prefix-cache-blocks', String(P.cacheBlocks), '--max-model-len', '32768'], `ig-sim ${i}`);
    const m = await firstLine(c, /listening on (\S+)\n/);
    sims.push(`http://${m[1]}`);
  }

  const strategies = P.strategies.split(',');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-bench-prefix-'));
  const conf = path.join(dir, 'infergate.yaml');
  const models = [...new Set(strategies.map((s) => s.toLowerCase()))].map((s) => `  - name: ${s}
    engine: VLLM
    features: [TextGeneration]
    endpoints: [${sims.map((u) => `"${u}"`).join(', ')}]
    loadBalancing: {strategy: ${s}}
`);
  fs.writeFileSync(conf, `server:
  listen: ["127.0.0.1:${port}"]
  workers: ${P.gatewayWorkers}
  accessLog: "off"
  logLevel: warn
plugins:
  dir: ${path.join(BUILD, 'plugins')}
  load: [vllm, leastload, prefixhash, random]
models:
${models.join('')}`);
  const gw = start(gatewayBin, ['-c', conf], 'infergate');
  const base = `http://127.0.0.1:${port}`;
  await waitHttp(`${base}/healthz`, gw);

  console.log(`# ${P.endpoints} ig-sim endpoints (token rate ${P.tokenRate}/s, TTFT ${P.ttftMs} ms on a miss, ` +
    `${P.cacheBlocks} cache blocks of 16 tokens each), 1 infergate (${P.gatewayWorkers} workers)`);
  console.log(`# per strategy: ${P.conversations} conversations x ${P.turns} turns, ${P.concurrency} concurrent clients, ` +
    `${P.maxTokens} tokens per answer, streamed`);
  const rows = [];
  for (const s of strategies) {
    const r = await phase(base, sims, s.toLowerCase());
    rows.push(r);
    console.error(`  ${s}: done in ${r.wall.toFixed(1)} s`);
  }
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const head = ['strategy', 'requests', 'errors', 'req/s', 'hit ratio (ideal)', 'requests per endpoint', 'max/mean',
    'TTFT p50', 'TTFT p99', 'latency p50', 'latency p99'];
  const lines = rows.map((r) => [r.model, String(r.requests), String(r.errors), f(r.requests / r.wall, 1),
    `${f(100 * r.hitRatio, 1)} % (${f(100 * r.idealHitRatio, 1)} %)`, r.perSim.join(' / '), f(r.maxOverMean, 2), `${f(r.ttft50)} ms`, `${f(r.ttft99)} ms`,
    `${f(r.lat50)} ms`, `${f(r.lat99)} ms`]);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const l of lines) console.log(`| ${l.join(' | ')} |`);
  for (const r of rows) {
    if (Math.abs(r.hitRatio - r.clientHitRatio) > 0.01)
      console.log(`# note: ${r.model}: the clients' usage says ${f(100 * r.clientHitRatio, 1)} % cached`);
  }
  if (gw.exitCode !== null) throw new Error(`infergate exited during the run\n${gw.stderrText}`);
  // stop everything and look for sanitizer reports (an IG_SANITIZE build dir)
  const exited = children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.on('exit', r))));
  stopAll();
  await Promise.all(exited);
  for (const c of children) {
    // the integration tests' pattern (harness.mjs)
    if (/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (UndefinedBehavior|Address|Leak)Sanitizer/.test(c.stderrText)) {
      console.error(`${c.name}: sanitizer report:\n${c.stderrText}`);
      process.exitCode = 1;
    } else if (/Sanitizer/.test(c.stderrText)) {
      console.error(`# note: ${c.name}: the sanitizer said something at exit:\n${c.stderrText.trim()}`);
    }
  }
}

main()
  .catch((e) => {
    console.error(e.stack || String(e));
    process.exitCode = 1;
  })
  .finally(stopAll); // the children's pipes would keep node alive
