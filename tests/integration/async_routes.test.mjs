// Plugin routes that answer later (IG_PENDING, then host->route_done from a plugin's own thread):
// the test plugin asyncroute (tests/integration/plugins/asyncroute.c) holds GET /test/asyncroute/hold
// until POST /test/asyncroute/release answers every held call from a new thread. The answer
// arrives with its status, body and header; a held call whose client left is answered into the
// void without harm; at SIGTERM a held call gets 503 shutting_down when the grace period ends, and
// the plugin's route_done after the workers have stopped (at unload) is safe: the gateway exits 0,
// clean under the sanitizers.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  BUILD_DIR, PLUGINS_DIR, SLOW, http, model, startGateway, startSim, tmpDir, waitFor,
} from './harness.mjs';

const WAIT = { timeoutMs: SLOW ? 20000 : 10000 };

function pluginDir() {
  const dir = path.join(tmpDir(), `plugins-asyncroute-${process.pid}-${Math.random().toString(36).slice(2)}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const p of ['vllm', 'leastload']) fs.symlinkSync(path.join(PLUGINS_DIR, `${p}.so`), path.join(dir, `${p}.so`));
  fs.symlinkSync(path.join(BUILD_DIR, 'tests/integration/test-plugins/asyncroute.so'), path.join(dir, 'asyncroute.so'));
  return dir;
}

/** A raw HTTP/1.1 GET; resolves the whole answer's text once the server closes. */
function rawGet(port, p, { leave = false } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      if (leave) s.destroy();
    });
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', (e) => (leave ? resolve('') : reject(e)));
  });
}

describe('plugin routes answered later (host->route_done)', () => {
  let sim;
  const start = (server = {}) => startGateway({
    models: [model('m', [sim])],
    plugins: { dir: pluginDir(), load: ['vllm', 'leastload', 'asyncroute'] },
    server,
  });
  const stats = async (gw) => (await http(`${gw.url}/test/asyncroute/stats`)).json;

  before(async () => {
    sim = await startSim({ models: ['m'] });
  });
  after(async () => {
    await sim?.stop();
  });

  it('the answer comes from another thread with its status, body and header; a client that left is no harm', async () => {
    const gw = await start();
    try {
      const kept = rawGet(gw.port, '/test/asyncroute/hold');
      await rawGet(gw.port, '/test/asyncroute/hold', { leave: true });
      await waitFor(async () => (await stats(gw)).held === 2, { ...WAIT, what: 'two held calls' });
      const rel = await http(`${gw.url}/test/asyncroute/release`, { method: 'POST' });
      assert.equal(rel.status, 200, rel.text);
      assert.deepEqual(rel.json, { released: 2 });
      const text = await kept;
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nx-asyncroute: later\r\n/i);
      assert.match(text, /\r\ncontent-type: application\/json\r\n/i);
      assert.ok(text.includes('{"released":true,"of":2}'), text);
      assert.deepEqual(await stats(gw), { held: 0, answered: 2 });
      // the gateway goes on serving
      const again = await http(`${gw.url}/test/asyncroute/stats`);
      assert.equal(again.status, 200);
    } finally {
      await gw.checkAliveAndStop();
    }
  });

  it('SIGTERM: a held call gets 503 when the grace period ends; route_done after the workers stopped is safe', async () => {
    const gw = await start({ shutdownGracePeriod: '300ms' });
    const held = rawGet(gw.port, '/test/asyncroute/hold');
    await waitFor(async () => (await stats(gw)).held === 1, { ...WAIT, what: 'one held call' });
    gw.kill('SIGTERM');
    const text = await held;
    assert.match(text, /^HTTP\/1\.1 503 Service Unavailable\r\n/, text.slice(0, 300));
    assert.match(text, /"code":"shutting_down"/);
    const exit = await gw.exited;
    assert.equal(exit.code, 0, gw.tail());
    assert.match(gw.stderr, /asyncroute: answered 1 held call\(s\) at unload/);
    assert.doesNotMatch(gw.stderr, /Sanitizer|runtime error/);
  });
});
