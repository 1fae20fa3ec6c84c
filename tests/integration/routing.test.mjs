// The PrefixHash and Random strategies through the real gateway, with real requests.
//
// PrefixHash: where each request goes is computed here from KubeAI's definition (XXH64 of
// adapter + Routing-Key, or of the first prefixCharLength runes of the first user message; each
// endpoint's points at XXH64(url + decimal i); the first point at or after the key, wrapping), with
// an XXH64 written below and checked against its published vectors, not from the gateway's output.
// The simulators count what each one served. Requests are sent one at a time, so no endpoint has
// a request in flight and the bound never moves a key.
// Random: spreads requests over every endpoint whatever their key.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, startGateway, model, http, chatBody, PLUGINS_DIR } from './harness.mjs';

const M64 = (1n << 64n) - 1n;
const P1 = 0x9E3779B185EBCA87n, P2 = 0xC2B2AE3D27D4EB4Fn, P3 = 0x165667B19E3779F9n;
const P4 = 0x85EBCA77C2B2AE63n, P5 = 0x27D4EB2F165667C5n;
const rotl = (x, r) => ((x << BigInt(r)) | (x >> BigInt(64 - r))) & M64;
const round = (acc, v) => (rotl((acc + v * P2) & M64, 31) * P1) & M64;
const merge = (h, v) => (((h ^ round(0n, v)) * P1 + P4) & M64);

/** XXH64 (seed 0) of a string's UTF-8 bytes, from the specification. */
function xxh64(str) {
  const b = Buffer.from(str, 'utf8');
  const len = b.length;
  let p = 0;
  let h;
  if (len >= 32) {
    let v = [(P1 + P2) & M64, P2, 0n, (0n - P1) & M64];
    for (; p + 32 <= len; p += 32) v = v.map((x, i) => round(x, b.readBigUInt64LE(p + 8 * i)));
    h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M64;
    for (const x of v) h = merge(h, x);
  } else {
    h = P5;
  }
  h = (h + BigInt(len)) & M64;
  for (; p + 8 <= len; p += 8) h = ((rotl(h ^ round(0n, b.readBigUInt64LE(p)), 27) * P1) + P4) & M64;
  if (p + 4 <= len) {
    h = ((rotl(h ^ ((BigInt(b.readUInt32LE(p)) * P1) & M64), 23) * P2) + P3) & M64;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(b[p]) * P5) & M64), 11) * P1) & M64;
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  return h ^ (h >> 32n);
}

/** KubeAI's ring over endpoint names: the owner of the first point at or after key's hash. */
function owner(urls, replication, key) {
  const points = urls.flatMap((u) => Array.from({ length: replication }, (_, i) => ({ h: xxh64(`${u}${i}`), u })))
    .sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  const k = xxh64(key);
  return (points.find((x) => x.h >= k) ?? points[0]).u;
}

const firstRunes = (s, n) => [...s].slice(0, n).join('');

describe('PrefixHash and Random through the gateway', () => {
  let sims, gw;
  const REPLICATION = 8;
  const CHARS = 12;

  before(async () => {
    sims = await Promise.all([0, 1, 2].map(() => startSim({ models: ['m'], lora: ['sql'] })));
    gw = await startGateway({
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'prefixhash', 'random'] },
      models: [
        model('ph', sims, { servedModelName: 'm', adapters: [{ name: 'sql', url: 'hf://org/sql' }],
          loadBalancing: { strategy: 'PrefixHash', prefixHash: { replication: REPLICATION, prefixCharLength: CHARS } } }),
        model('rnd', sims, { servedModelName: 'm', loadBalancing: { strategy: 'Random' } }),
      ],
    });
  });

  const urls = () => sims.map((s) => s.url);
  /** Sends one request; resolves to the URL of the simulator that served it (by its counters). */
  async function servedBy(body, headers = {}) {
    const before = await Promise.all(sims.map((s) => s.stats()));
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body, headers });
    assert.equal(r.status, 200, r.text);
    const after = await Promise.all(sims.map((s) => s.stats()));
    const got = sims.filter((s, i) => after[i].requests === before[i].requests + 1);
    assert.equal(got.length, 1, 'exactly one engine served it');
    assert.equal(after.reduce((a, s) => a + s.requests, 0), before.reduce((a, s) => a + s.requests, 0) + 1);
    return got[0].url;
  }

  it('the XXH64 used for the expectations gives its published answers', () => {
    // cespare/xxhash's test table (the Go package KubeAI hashes with): every tail length 0-4 and
    // 63 bytes, which takes the 32-byte stripes and every tail step
    assert.equal(xxh64(''), 0xef46db3751d8e999n);
    assert.equal(xxh64('a'), 0xd24ec4f1a98c6e5bn);
    assert.equal(xxh64('as'), 0x1c330fb2d66be179n);
    assert.equal(xxh64('asd'), 0x631c37ce72a97393n);
    assert.equal(xxh64('asdf'), 0x415872f599cea71en);
    assert.equal(xxh64('Call me Ishmael. Some years ago--never mind how long precisely-'), 0x02a2e85470d6fd96n);
    assert.equal(xxh64('abc'), 0x44bc2cf5ad770999n);
    assert.equal(xxh64('Nobody inspects the spammish repetition, ever, at all.'), 0xcd745cbb17c7f33an); // xxhsum -H1
  });

  it('Routing-Key: each key goes where KubeAI\'s ring puts it, every time', async () => {
    const seen = new Set();
    for (let i = 0; i < 12; i++) {
      const key = `session-${i}`;
      const want = owner(urls(), REPLICATION, key);
      seen.add(want);
      for (let j = 0; j < 2; j++) {
        // the prompt changes: the header alone decides
        const got = await servedBy(chatBody('ph', { messages: [{ role: 'user', content: `question ${i}.${j}` }] }), { 'Routing-Key': key });
        assert.equal(got, want, `Routing-Key ${key}`);
      }
    }
    assert.ok(seen.size > 1, 'the keys were spread over more than one endpoint');
  });

  it('an adapter is part of the key (adapter + Routing-Key)', async () => {
    for (let i = 0; i < 6; i++) {
      const key = `s${i}`;
      const got = await servedBy(chatBody('ph_sql'), { 'routing-key': key });
      assert.equal(got, owner(urls(), REPLICATION, `sql${key}`), `adapter sql, key ${key}`);
    }
  });

  it('no Routing-Key: the first prefixCharLength runes of the first user message are the key', async () => {
    const texts = ['Résumé: écrire une lettre', 'Tell me a story about dragons', 'Tell me a story about castles',
      '日本語のテキストを翻訳してください', 'Summarise this report please', 'x'];
    for (const t of texts) {
      const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: t }, { role: 'user', content: 'more' }];
      const got = await servedBy(chatBody('ph', { messages }));
      assert.equal(got, owner(urls(), REPLICATION, firstRunes(t, CHARS)), `prefix of "${t}"`);
    }
  });

  it('Random: requests spread over every endpoint, a Routing-Key does not pin them', async () => {
    const count = new Map();
    for (let i = 0; i < 60; i++) {
      const u = await servedBy(chatBody('rnd'), { 'Routing-Key': 'same-session' });
      count.set(u, (count.get(u) ?? 0) + 1);
    }
    // each endpoint misses all 60 with probability (2/3)^60 ≈ 3e-11
    assert.equal(count.size, 3, JSON.stringify([...count]));
  });

  it('gateway stayed up and shuts down cleanly', async () => {
    await gw.checkAliveAndStop();
    for (const s of sims) await s.checkAliveAndStop({ cleanExit: false });
  });
});
