// harness.mjs — starts the real binaries for the integration tests and cleans up after them.
//
// - ports: freePort() asks the kernel for an unused loopback port;
// - ig-sim: startSim() runs the engine simulator and waits for its "listening on" line;
// - infergate: startGateway() writes a temporary YAML config, runs the gateway, waits for /healthz;
// - every process is started in its own process group and killed in an after() hook, on exit and
//   on SIGINT/SIGTERM, so a failing test leaves no orphan behind;
// - Proc.checkAliveAndStop() is what each file's last test calls: the gateway must still be running
//   (a crash is a failure), must stop on SIGTERM with exit status 0, and its stderr must not hold a
//   sanitizer report.
//
// Binaries come from IG_BUILD_DIR (default: ./build under the project root; a relative path is
// taken from the project root).

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD_DIR = path.resolve(ROOT, process.env.IG_BUILD_DIR || 'build');
/** The sanitized build is slower: give it more room for waits (never used to assert timing). */
export const SLOW = /asan|sanit/i.test(BUILD_DIR) || !!process.env.IG_SLOW;

export function gatewayPath() {
  for (const c of [path.join(BUILD_DIR, 'core/infergate'), path.join(BUILD_DIR, 'infergate')]) {
    if (fs.existsSync(c)) return c;
  }
  throw new Error(`infergate binary not found under ${BUILD_DIR} (build first, or set IG_BUILD_DIR)`);
}
export function simPath() {
  const p = path.join(BUILD_DIR, 'tests/simulator/ig-sim');
  if (!fs.existsSync(p)) throw new Error(`ig-sim not found: ${p}`);
  return p;
}
export const PLUGINS_DIR = path.join(BUILD_DIR, 'plugins');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves to promise's value, or to onTimeout after ms; the timer never outlives the race. */
export function within(promise, ms, onTimeout = 'timeout') {
  let timer;
  const t = new Promise((r) => (timer = setTimeout(() => r(onTimeout), ms)));
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Polls fn() until it returns a truthy value or timeoutMs passes; returns that value or throws. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// temporary files

let tmpRoot;
/** A per-test-file temporary directory, removed at exit. */
export function tmpDir() {
  if (!tmpRoot) {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-it-'));
  }
  return tmpRoot;
}
export function writeTmp(name, content) {
  const p = path.join(tmpDir(), name);
  fs.writeFileSync(p, content);
  return p;
}

// ---------------------------------------------------------------------------------------------
// process tracking

const procs = new Set();

function killAllNow(signal = 'SIGKILL') {
  for (const p of procs) p.kill(signal);
}

// Registered when the harness is first imported, i.e. at a test file's top level: runs once all
// of the file's tests are done, whether they passed or not. (Registered from inside a running
// hook or test, after() would belong to that hook's test and run too early.)
after(async () => {
  await Promise.all([...procs].map((p) => p.stop({ timeoutMs: 3000 }).catch(() => {})));
  if (tmpRoot && !process.env.IG_KEEP_TMP) fs.rmSync(tmpRoot, { recursive: true, force: true });
});
process.on('exit', () => killAllNow('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAllNow('SIGKILL');
    process.exit(128 + (os.constants.signals[sig] || 1));
  });
}

const SANITIZER_RE =
  /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)|runtime error:|SUMMARY: (UndefinedBehavior|Address|Leak)Sanitizer/;

/** A child process in its own process group, with its output collected. */
export class Proc {
  constructor(name, bin, args, { env, cwd, keepStdout = true } = {}) {
    this.name = name;
    this.bin = bin;
    this.args = args;
    this.stdout = '';
    this.stderr = '';
    this.exit = null; // {code, signal} once exited
    this.child = spawn(bin, args, {
      cwd: cwd || ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: kill(-pid) reaches anything it forks
    });
    procs.add(this);
    // IG_LOG_DIR: keep each process's whole stderr in a file (scripts/test.sh sets it)
    this.logFile = null;
    if (process.env.IG_LOG_DIR && this.child.pid) {
      fs.mkdirSync(process.env.IG_LOG_DIR, { recursive: true });
      const base = `${path.basename(process.argv[1] || 'test', '.mjs')}-${path.basename(bin)}-${this.child.pid}.stderr`;
      this.logFile = fs.createWriteStream(path.join(process.env.IG_LOG_DIR, base));
      this.logFile.on('error', () => {});
    }
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d) => {
      if (keepStdout && this.stdout.length < 4 << 20) this.stdout += d;
      this.onOutput?.();
    });
    this.child.stderr.on('data', (d) => {
      if (this.stderr.length < 4 << 20) this.stderr += d;
      this.logFile?.write(d);
      this.onOutput?.();
    });
    this.child.stderr.on('end', () => this.logFile?.end());
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        this.onOutput?.();
        resolve(this.exit);
      });
      this.child.on('error', (err) => {
        this.stderr += `\n[harness] spawn error: ${err.message}\n`;
        this.exit = { code: -1, signal: null, error: err };
        resolve(this.exit);
      });
    });
    // Streams finish after 'exit': wait for both before a final look at stderr.
    this.closed = new Promise((resolve) => this.child.on('close', resolve));
  }
  get pid() {
    return this.child.pid;
  }
  alive() {
    return this.exit === null;
  }
  kill(signal = 'SIGTERM') {
    if (!this.alive() || !this.child.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {}
    }
  }
  /** SIGTERM, wait up to timeoutMs, then SIGKILL. Resolves to {code, signal, forced}. */
  async stop({ signal = 'SIGTERM', timeoutMs = 10000 } = {}) {
    if (this.alive()) {
      this.kill(signal);
      const t = await within(this.exited.then(() => 'exited'), timeoutMs);
      if (t === 'timeout') {
        this.kill('SIGKILL');
        await this.exited;
        this.exit.forced = true;
      }
    }
    await within(this.closed, 1000);
    procs.delete(this);
    return this.exit;
  }
  /** Resolves when re matches stdout+stderr; rejects if the process exits first or on timeout. */
  waitForOutput(re, timeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(this.stderr) || re.exec(this.stdout);
        if (m) {
          cleanup();
          resolve(m);
        } else if (!this.alive()) {
          cleanup();
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before printing ${re}:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} did not print ${re} within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.onOutput = null;
      };
      this.onOutput = check;
      check();
    });
  }
  tail(n = 40) {
    const lines = this.stderr.split('\n');
    return `--- ${this.name} stderr (last ${n} lines) ---\n${lines.slice(-n).join('\n')}`;
  }
  sanitizerReport() {
    const m = SANITIZER_RE.exec(this.stderr);
    if (!m) return null;
    return this.stderr.slice(Math.max(0, m.index - 200), m.index + 4000);
  }
  assertNoSanitizerReport() {
    const r = this.sanitizerReport();
    assert.equal(r, null, `${this.name}: sanitizer report in stderr:\n${r}`);
  }
  /**
   * The end-of-file check: the process is still running, then stops on SIGTERM by itself with
   * status 0 (unless cleanExit is false) and printed no sanitizer report.
   */
  async checkAliveAndStop({ timeoutMs = SLOW ? 20000 : 10000, cleanExit = true } = {}) {
    assert.ok(this.alive(), `${this.name} is no longer running (${JSON.stringify(this.exit)})\n${this.tail()}`);
    const st = await this.stop({ timeoutMs });
    this.assertNoSanitizerReport();
    if (!cleanExit) return;
    assert.ok(!st.forced, `${this.name} did not exit within ${timeoutMs} ms of SIGTERM\n${this.tail()}`);
    assert.equal(st.signal, null, `${this.name} died by ${st.signal} after SIGTERM\n${this.tail()}`);
    assert.equal(st.code, 0, `${this.name} exit status ${st.code} after SIGTERM\n${this.tail()}`);
  }
}

/** Runs a command to completion. Resolves {code, signal, stdout, stderr}. */
export function run(bin, args, { input, env, cwd, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: cwd || ROOT,
      env: { ...process.env, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) {
      child.stdin.on('error', () => {}); // the peer may stop reading (413)
      child.stdin.end(input);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// ports

/** An unused TCP port on 127.0.0.1 (bound then released: a small race, retried by the starters). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// YAML (block style, strings always double-quoted so nothing is reinterpreted)

function yamlScalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(String(v)); // JSON string escapes are valid YAML double-quoted escapes
}
export function toYaml(v, indent = '') {
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v
      .map((x) => {
        if (x !== null && typeof x === 'object' && !(Array.isArray(x) && x.length === 0)) {
          const inner = toYaml(x, indent + '  ');
          return `${indent}- ${inner.replace(/^\s+/, '')}`;
        }
        return `${indent}- ${yamlScalar(x)}`;
      })
      .join('\n');
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (keys.length === 0) return '{}';
    return keys
      .map((k) => {
        const x = v[k];
        if (x !== null && typeof x === 'object' && !((Array.isArray(x) && x.length === 0) || Object.keys(x).length === 0)) {
          return `${indent}${k}:\n${toYaml(x, indent + '  ')}`;
        }
        return `${indent}${k}: ${x !== null && typeof x === 'object' ? toYaml(x) : yamlScalar(x)}`;
      })
      .join('\n');
  }
  return yamlScalar(v);
}

// ---------------------------------------------------------------------------------------------
// the engine simulator

/**
 * Starts ig-sim on an ephemeral port (--listen 127.0.0.1:0; the port is read from its "listening" line).
 *   models: names it serves (--served-model-name), lora: adapter names (--lora-modules),
 *   args: further flags (e.g. ['--token-rate', '20', '--fault', 'hang']).
 * Returns a Proc with .port, .url, .address, .stats(), .fault(mode, every), .resetStats().
 */
export async function startSim({ models = [], lora = [], args = [], name = 'ig-sim' } = {}) {
  const bin = simPath();
  // port 0: the simulator binds an ephemeral port and prints it, so there is no race
  const a = ['--listen', '127.0.0.1:0'];
  if (models.length) a.push('--served-model-name', models.join(','));
  if (lora.length) a.push('--lora-modules', lora.join(','));
  a.push(...args);
  const p = new Proc(name, bin, a);
  let m;
  try {
    m = await p.waitForOutput(/ig-sim listening on (\S+):(\d+)/, SLOW ? 20000 : 10000);
  } catch (e) {
    await p.stop({ timeoutMs: 1000 });
    throw e;
  }
  const port = Number(m[2]);
  p.name = `${name}:${port}`;
  p.port = port;
  p.address = `127.0.0.1:${port}`;
  p.url = `http://127.0.0.1:${port}`;
  p.stats = async () => {
    const r = await fetch(`${p.url}/sim/stats`);
    assert.equal(r.status, 200, 'GET /sim/stats');
    return r.json();
  };
  p.fault = async (mode, every = 1) => {
    const r = await fetch(`${p.url}/sim/fault`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode, every }),
    });
    assert.equal(r.status, 200, `POST /sim/fault ${mode}: ${await r.text()}`);
  };
  p.resetStats = async () => {
    const r = await fetch(`${p.url}/sim/reset-stats`, { method: 'POST' });
    assert.ok(r.ok, 'POST /sim/reset-stats');
  };
  return p;
}

// ---------------------------------------------------------------------------------------------
// Redis (the ratelimit plugin's shared backend)

/** redis-server's path, or null when it is not installed. */
export function redisServerPath() {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (fs.existsSync(p)) return p;
  return null;
}

/** Starts a throwaway redis-server (no persistence) on port (default: a free one); .port, .url. */
export async function startRedis(port) {
  port ??= await freePort();
  const p = new Proc(`redis:${port}`, redisServerPath(), [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', fs.mkdtempSync(path.join(tmpDir(), 'redis-')),
  ]);
  await p.waitForOutput(/Ready to accept connections/, SLOW ? 30000 : 15000);
  p.port = port;
  p.url = `redis://127.0.0.1:${port}`;
  return p;
}

// ---------------------------------------------------------------------------------------------
// the gateway

/**
 * Writes a config and starts infergate on it.
 *   models: the config's models list (objects as in YAML);
 *   server: keys merged into `server:` (listen is set by the harness unless given; stateDir defaults to a
 *     temporary folder of this gateway's own);
 *   tls: {certificate, key} adds a TLS listener on a second free port (.tlsPort, .tlsUrl);
 *   plugins: defaults to {dir: BUILD_DIR/plugins, load: [vllm, leastload]}.
 * Returns a Proc with .port, .url, .configPath.
 */
export async function startGateway({ models, server = {}, tls, plugins, name = 'infergate', extraYaml = '' } = {}) {
  const bin = gatewayPath();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const listen = [`127.0.0.1:${port}`];
    let tlsPort;
    if (tls) {
      tlsPort = await freePort();
      listen.push({ address: `127.0.0.1:${tlsPort}`, tls });
    }
    const cfg = {
      // a stateDir of its own: runtime models, the generated admin key and plugin state never leak
      // between gateways (nor from ./var)
      server: { listen, workers: 2, logLevel: 'info', stateDir: path.join(tmpDir(), `state-${port}`), ...server },
      plugins: plugins || { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] },
      models,
    };
    const configPath = writeTmp(`gateway-${port}.yaml`, `${toYaml(cfg)}\n${extraYaml}`);
    const p = new Proc(`${name}:${port}`, bin, ['-c', configPath], { keepStdout: true });
    p.port = port;
    p.url = `http://127.0.0.1:${port}`;
    p.configPath = configPath;
    if (tls) {
      p.tlsPort = tlsPort;
      p.tlsUrl = `https://127.0.0.1:${tlsPort}`;
    }
    try {
      await waitFor(
        async () => {
          if (!p.alive()) throw new Error(`exited ${JSON.stringify(p.exit)}`);
          const r = await fetch(`${p.url}/healthz`);
          await r.arrayBuffer();
          return r.status === 200;
        },
        { timeoutMs: SLOW ? 30000 : 15000, intervalMs: 50, what: `${p.name} /healthz` },
      );
    } catch (e) {
      await p.stop({ timeoutMs: 2000 });
      if (attempt < 3 && /in use|EADDRINUSE/i.test(p.stderr)) continue;
      throw new Error(`${e.message}\nconfig:\n${fs.readFileSync(configPath, 'utf8')}\n${p.tail()}`);
    }
    return p;
  }
}

/** A model entry for the config, pointing at the given sims (or endpoint URLs). */
export function model(name, endpoints, extra = {}) {
  return {
    name,
    engine: 'VLLM',
    features: ['TextGeneration'],
    endpoints: endpoints.map((e) => (typeof e === 'string' ? e : e.url)),
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// clients

/** fetch() returning {status, headers, text, json}. json is undefined if the body is not JSON. */
export async function http(url, { method = 'GET', body, headers = {}, signal } = {}) {
  const h = { ...headers };
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    body = JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const r = await fetch(url, { method, body, headers: h, signal });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

/**
 * curl as a real client. mode: 'h1' (--http1.1), 'h2c' (--http2-prior-knowledge), 'h2' (--http2
 * over TLS, with cacert). body: object (sent as JSON), string or Buffer, sent from stdin.
 * chunked: for h1, upload with Transfer-Encoding: chunked (no Content-Length); for h2, a body of
 * unknown length (no content-length header).
 * Resolves {status, httpVersion, contentType, text, json, exit, stderr}.
 */
export async function curl(url, { mode = 'h1', method, body, headers = {}, cacert, chunked = false, extra = [], timeoutMs = 60000 } = {}) {
  const out = path.join(tmpDir(), `curl-${process.pid}-${Math.random().toString(36).slice(2)}.out`);
  const args = ['-sS', '-N', '-o', out, '-w', '%{http_code} %{http_version} %{content_type}', '--max-time', String(Math.ceil(timeoutMs / 1000))];
  if (mode === 'h1') args.push('--http1.1');
  else if (mode === 'h2c') args.push('--http2-prior-knowledge');
  else if (mode === 'h2') args.push('--http2');
  if (cacert) args.push('--cacert', cacert);
  let input;
  if (body !== undefined) {
    input = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) args.push('-H', 'content-type: application/json');
    if (chunked) {
      // -T - reads stdin of unknown length: chunked in HTTP/1.1, no content-length in HTTP/2
      args.push('-T', '-', '-X', method || 'POST');
      if (mode === 'h1') args.push('-H', 'transfer-encoding: chunked');
    } else {
      args.push('--data-binary', '@-');
      if (method) args.push('-X', method);
    }
  } else if (method) {
    args.push('-X', method);
  }
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(...extra, url);
  const r = await run('curl', args, { input, timeoutMs: timeoutMs + 5000 });
  const [code, ver, ...ct] = r.stdout.trim().split(' ');
  let text = '';
  try {
    text = fs.readFileSync(out, 'utf8');
    fs.rmSync(out, { force: true });
  } catch {}
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: Number(code), httpVersion: ver, contentType: ct.join(' '), text, json, exit: r.code, stderr: r.stderr };
}

/**
 * Parses a text/event-stream body. Returns {events: [data strings], done: saw [DONE] as the last
 * event, chunks: parsed JSON data events (excluding [DONE])}.
 */
export function parseSSE(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''));
    if (data.length) events.push(data.join('\n'));
  }
  const chunks = [];
  for (const e of events) {
    if (e === '[DONE]') continue;
    chunks.push(JSON.parse(e));
  }
  return { events, chunks, done: events.length > 0 && events[events.length - 1] === '[DONE]' };
}

/** Asserts the OpenAI error shape {"error":{"message","type","param","code"}} and returns error. */
export function assertOpenAIError(res, status, { type, code, param } = {}) {
  const where = `${res.status} ${res.text?.slice(0, 500)}`;
  assert.equal(res.status, status, `status: ${where}`);
  assert.ok(res.json && typeof res.json === 'object', `body is not JSON: ${where}`);
  const e = res.json.error;
  assert.ok(e && typeof e === 'object', `no error object: ${where}`);
  assert.equal(typeof e.message, 'string', `error.message: ${where}`);
  assert.ok(e.message.length > 0, `empty error.message: ${where}`);
  for (const k of ['type', 'param', 'code']) assert.ok(k in e, `error.${k} missing: ${where}`);
  assert.equal(typeof e.type, 'string', `error.type: ${where}`);
  if (type !== undefined) assert.equal(e.type, type, `error.type: ${where}`);
  if (code !== undefined) assert.equal(e.code, code, `error.code: ${where}`);
  if (param !== undefined) assert.equal(e.param, param, `error.param: ${where}`);
  return e;
}

/** Makes a self-signed certificate for 127.0.0.1/localhost with the openssl CLI. */
export async function makeCert() {
  const dir = tmpDir();
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert,
  ]);
  assert.equal(r.code, 0, `openssl req failed: ${r.stderr}`);
  return { certificate: cert, key };
}

/** A PCM WAV of `seconds` at 16 kHz, 16-bit mono; `noise` fills the samples with random bytes. */
export function wav(seconds, { noise = false } = {}) {
  const rate = 16000;
  const data = Buffer.alloc(Math.round(seconds * rate) * 2);
  if (noise) crypto.randomFillSync(data);
  else for (let i = 0; i < data.length / 2; i++) data.writeInt16LE(Math.round(8000 * Math.sin(i / 8)), i * 2);
  const hd = Buffer.alloc(44);
  hd.write('RIFF', 0);
  hd.writeUInt32LE(36 + data.length, 4);
  hd.write('WAVE', 8);
  hd.write('fmt ', 12);
  hd.writeUInt32LE(16, 16);
  hd.writeUInt16LE(1, 20); // PCM
  hd.writeUInt16LE(1, 22); // mono
  hd.writeUInt32LE(rate, 24);
  hd.writeUInt32LE(rate * 2, 28); // byte rate
  hd.writeUInt16LE(2, 32); // block align
  hd.writeUInt16LE(16, 34);
  hd.write('data', 36);
  hd.writeUInt32LE(data.length, 40);
  return Buffer.concat([hd, data]);
}

export const chatBody = (model, extra = {}) => ({
  model,
  messages: [{ role: 'user', content: 'Say something about gateways.' }],
  max_tokens: 8,
  ...extra,
});

/** A 16 kHz mono 16-bit WAV of random samples (seconds long): an upload no compression shrinks. */
export function noiseWav(seconds, rate = 16000) {
  const samples = crypto.randomBytes(Math.round(rate * seconds) * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + samples.length, 4); h.write('WAVE', 8); h.write('fmt ', 12);
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(samples.length, 40);
  return Buffer.concat([h, samples]);
}
