// h2load smoke test: many requests over h2c and HTTP/1.1 through the gateway, all answered 2xx.
// Counts only; no timing is asserted (h2load's throughput figures are printed for information).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, startGateway, model, run, writeTmp, chatBody } from './harness.mjs';

const N = 2000;
const C = 10;

function parseH2load(out) {
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const st = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  assert.ok(req && st, `h2load output not understood:\n${out}`);
  return {
    total: +req[1], done: +req[3], succeeded: +req[4], failed: +req[5], errored: +req[6], timeout: +req[7],
    s2xx: +st[1], s3xx: +st[2], s4xx: +st[3], s5xx: +st[4],
  };
}

describe('h2load smoke', () => {
  let sim, gw, bodyFile;

  before(async () => {
    sim = await startSim({ models: ['chat'], args: ['--workers', '2'] });
    gw = await startGateway({ models: [model('chat', [sim])], server: { accessLog: 'off' } });
    bodyFile = writeTmp('h2load-body.json', JSON.stringify(chatBody('chat', { max_tokens: 4 })));
  });

  // h2c: 4 concurrent streams per connection; HTTP/1.1: one request at a time per connection
  for (const [name, extra] of [['h2c', ['-m', '4']], ['HTTP/1.1', ['--h1']]]) {
    it(`${name}: ${N} chat requests on ${C} connections, all 2xx`, { timeout: 300000 }, async () => {
      const before = (await sim.stats()).requests;
      const r = await run('h2load', [
        '-n', String(N), '-c', String(C), ...extra,
        '-d', bodyFile, '-H', 'content-type: application/json',
        `${gw.url}/v1/chat/completions`,
      ], { timeoutMs: 280000 });
      const s = parseH2load(r.stdout);
      console.log(`# h2load ${name}: ${r.stdout.match(/finished in .*/)?.[0] ?? ''}`);
      assert.equal(s.s2xx, N, `all ${N} answered 2xx:\n${r.stdout}`);
      assert.equal(s.failed + s.errored + s.timeout, 0);
      assert.equal((await sim.stats()).requests - before, N, 'each request reached the engine once');
    });
  }

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    await sim.checkAliveAndStop({ cleanExit: false });
  });
});
