// Models' own addresses with the real gateway, ig-sim and real clients (curl, node's tls): a model's
// `hosts:` and `pathPrefix:` reach that model and /v1/models there lists only it, over HTTP/1.1, h2c
// and HTTP/2 over TLS; a TLS listener presents the certificate of the name the client asks for (SNI)
// from `tls.certificates`, and its own for any other name; `infergate -t` refuses two models claiming
// one address, naming both with file:line.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import tls from 'node:tls';
import {
  assertOpenAIError, chatBody, curl, gatewayPath, makeCert, model, run, startGateway, startSim, tmpDir, toYaml,
  writeTmp, PLUGINS_DIR,
} from './harness.mjs';

/** A self-signed certificate for one host name (CN and subjectAltName). */
async function certFor(host) {
  const dir = tmpDir();
  const key = path.join(dir, `${host}.key.pem`);
  const cert = path.join(dir, `${host}.cert.pem`);
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', key, '-out', cert,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { certificate: cert, key };
}

/** The certificate the gateway presents for servername (undefined: no SNI), and the ALPN it chose. */
function handshake(port, servername, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false });
    s.once('secureConnect', () => {
      const c = s.getPeerCertificate();
      resolve({ cn: c.subject.CN, alpn: s.alpnProtocol, authorized: s.authorized });
      s.end();
    });
    s.once('error', reject);
  });
}

const QWEN_HOST = 'qwen.example.test';
const LLAMA_HOST = 'llama.example.test';

describe('model addresses: hosts, path prefixes, SNI', () => {
  let sim, gw, certs;

  before(async () => {
    certs = { def: await makeCert(), qwen: await certFor(QWEN_HOST), llama: await certFor(LLAMA_HOST) };
    sim = await startSim({ models: ['qwen', 'llama', 'other'] });
    gw = await startGateway({
      tls: {
        ...certs.def,
        certificates: [
          { hosts: [QWEN_HOST, 'qwen-alias.example.test'], ...certs.qwen },
          { hosts: [LLAMA_HOST], ...certs.llama },
        ],
      },
      models: [
        model('qwen', [sim], { hosts: [QWEN_HOST, 'qwen-alias.example.test'], pathPrefix: '/acme-qwen' }),
        model('llama', [sim], { hosts: [LLAMA_HOST], pathPrefix: '/team/llama' }),
        model('other', [sim]),
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await sim?.stop();
  });

  const ids = (r) => r.json.data.map((m) => m.id);

  for (const mode of ['h1', 'h2c']) {
    it(`${mode}: under a model's host, that model only (listing and inference)`, async () => {
      for (const [host, name] of [[QWEN_HOST, 'qwen'], [`${LLAMA_HOST}:${gw.port}`, 'llama'], ['QWEN-alias.example.test', 'qwen']]) {
        const list = await curl(`${gw.url}/v1/models`, { mode, headers: { host } });
        assert.equal(list.status, 200, list.text);
        assert.equal(list.httpVersion, mode === 'h1' ? '1.1' : '2');
        assert.deepEqual(ids(list), [name]);
        const ok = await curl(`${gw.url}/v1/chat/completions`, { mode, headers: { host }, body: chatBody(name) });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.model, name);
        const one = await curl(`${gw.url}/v1/models/${name}`, { mode, headers: { host } });
        assert.equal(one.status, 200, one.text);
        for (const o of ['qwen', 'llama', 'other'].filter((m) => m !== name)) {
          const no = await curl(`${gw.url}/v1/chat/completions`, { mode, headers: { host }, body: chatBody(o) });
          assertOpenAIError(no, 404, { code: 'model_not_found' });
          assertOpenAIError(await curl(`${gw.url}/v1/models/${o}`, { mode, headers: { host } }), 404, { code: 'model_not_found' });
        }
      }
    });

    it(`${mode}: under a model's path prefix, that model only; nothing else of the gateway's`, async () => {
      for (const [prefix, name] of [['/acme-qwen', 'qwen'], ['/team/llama', 'llama']]) {
        const list = await curl(`${gw.url}${prefix}/v1/models`, { mode });
        assert.equal(list.status, 200, list.text);
        assert.deepEqual(ids(list), [name]);
        const ok = await curl(`${gw.url}${prefix}/v1/chat/completions`, { mode, body: chatBody(name, { stream: true }) });
        assert.equal(ok.status, 200, ok.text);
        assert.match(ok.text, /data: \[DONE\]/);
        assertOpenAIError(await curl(`${gw.url}${prefix}/v1/chat/completions`, { mode, body: chatBody('other') }), 404, { code: 'model_not_found' });
        for (const p of ['/healthz', '/admin/generation', '/metrics', '', '/']) {
          assertOpenAIError(await curl(`${gw.url}${prefix}${p}`, { mode }), 404, { code: 'unknown_url' });
        }
      }
      // a prefix is a whole segment: /acme-qwenx is no address; /team alone is nothing
      assertOpenAIError(await curl(`${gw.url}/acme-qwenx/v1/models`, { mode }), 404, {});
      assertOpenAIError(await curl(`${gw.url}/team/v1/models`, { mode }), 404, {});
      // the llama host with the qwen prefix names two models: refused
      assertOpenAIError(await curl(`${gw.url}/acme-qwen/v1/models`, { mode, headers: { host: LLAMA_HOST } }), 404, { code: 'unknown_url' });
    });
  }

  it('elsewhere: every model, as before', async () => {
    for (const host of [`127.0.0.1:${gw.port}`, 'localhost', 'unknown.example.test']) {
      const list = await curl(`${gw.url}/v1/models`, { headers: { host } });
      assert.deepEqual(ids(list).sort(), ['llama', 'other', 'qwen']);
    }
    const r = await curl(`${gw.url}/v1/chat/completions`, { body: chatBody('other') });
    assert.equal(r.status, 200, r.text);
  });

  it('TLS: the certificate of the name the client asks for (SNI), h2 offered with each', async () => {
    const cases = [
      [QWEN_HOST, QWEN_HOST], ['qwen-alias.example.test', QWEN_HOST], ['QWEN.example.test', QWEN_HOST],
      [LLAMA_HOST, LLAMA_HOST], ['unknown.example.test', 'localhost'], [undefined, 'localhost'],
    ];
    for (const [name, cn] of cases) {
      const h = await handshake(gw.tlsPort, name);
      assert.equal(h.cn, cn, `servername ${name}`);
      assert.equal(h.alpn, 'h2', `servername ${name}`);
    }
    // a client that checks the certificate: curl over h2, by name, verified against that host's own
    for (const [host, name, ca] of [[QWEN_HOST, 'qwen', certs.qwen], [LLAMA_HOST, 'llama', certs.llama]]) {
      const url = `https://${host}:${gw.tlsPort}`;
      const resolve = ['--resolve', `${host}:${gw.tlsPort}:127.0.0.1`];
      const list = await curl(`${url}/v1/models`, { mode: 'h2', cacert: ca.certificate, extra: resolve });
      assert.equal(list.exit, 0, list.stderr);
      assert.equal(list.httpVersion, '2');
      assert.deepEqual(ids(list), [name]);
      const chat = await curl(`${url}/v1/chat/completions`, { mode: 'h2', cacert: ca.certificate, extra: resolve, body: chatBody(name) });
      assert.equal(chat.status, 200, chat.text);
      // the other host's certificate does not verify this one
      const other = ca === certs.qwen ? certs.llama : certs.qwen;
      const bad = await curl(`${url}/v1/models`, { mode: 'h2', cacert: other.certificate, extra: resolve });
      assert.notEqual(bad.exit, 0, 'a certificate for another host must not verify');
    }
  });
});

describe('infergate -t refuses two models claiming one address', () => {
  const t = (cfg) => {
    const file = writeTmp(`addresses-${Math.random().toString(36).slice(2)}.yaml`, toYaml(cfg));
    return run(gatewayPath(), ['-t', '-c', file]).then((r) => ({ ...r, file }));
  };
  const plugins = { dir: PLUGINS_DIR, load: ['vllm', 'leastload'] };
  const m = (name, extra) => ({ name, engine: 'VLLM', features: ['TextGeneration'], endpoints: ['http://127.0.0.1:9'], ...extra });

  it('the same host, the same prefix, nested prefixes: both models named, with file:line', async () => {
    const cases = [
      [{ hosts: ['a.example.test'] }, { hosts: ['b.example.test', 'a.example.test'] }, /model "m2": host "a\.example\.test" is claimed by model "m1" \((.+):(\d+)\)/],
      [{ pathPrefix: '/acme' }, { pathPrefix: '/acme' }, /model "m2": pathPrefix "\/acme" is claimed by model "m1" \((.+):(\d+)\)/],
      [{ pathPrefix: '/acme' }, { pathPrefix: '/acme/qwen' }, /model "m2": pathPrefix "\/acme\/qwen" lies under the pathPrefix of model "m1" \((.+):(\d+)\)/],
    ];
    for (const [a, b, re] of cases) {
      const r = await t({ plugins, models: [m('m1', a), m('m2', b)] });
      assert.equal(r.code, 1, r.stderr);
      const got = r.stderr.match(re);
      assert.ok(got, r.stderr);
      assert.equal(got[1], r.file);
      assert.ok(r.stderr.includes(`${r.file}:`), r.stderr);
    }
    // different addresses, and a prefix that only begins like another: fine
    const ok = await t({ plugins, models: [m('m1', { hosts: ['a.example.test'], pathPrefix: '/acme' }), m('m2', { hosts: ['b.example.test'], pathPrefix: '/acme-qwen' })] });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('addresses that cannot work are refused', async () => {
    for (const [extra, re] of [
      [{ hosts: ['Qwen.Example.test'] }, /lowercase/], [{ hosts: ['qwen.example.test:443'] }, /not a host name/],
      [{ hosts: ['10.0.0.1'] }, /IP address/], [{ pathPrefix: 'acme' }, /starts with '\/'/],
      [{ pathPrefix: '/acme/' }, /starts with '\/'/], [{ pathPrefix: '/v1' }, /\/v1 is the gateway's own/],
      [{ pathPrefix: '/admin/x' }, /\/admin is the gateway's own/], [{ pathPrefix: '/a/../b' }, /"\.\."/],
    ]) {
      const r = await t({ plugins, models: [m('m1', extra)] });
      assert.equal(r.code, 1, JSON.stringify(extra));
      assert.match(r.stderr, re);
    }
    const dupCert = await t({
      plugins,
      server: { listen: [{ address: '127.0.0.1:1', tls: { ...(await makeCert()), certificates: [
        { hosts: ['a.example.test'], ...(await certFor('a.example.test')) },
        { hosts: ['a.example.test'], ...(await certFor('a.example.test')) }] } }] },
      models: [m('m1', {})],
    });
    assert.equal(dupCert.code, 1);
    assert.match(dupCert.stderr, /host "a\.example\.test" has a certificate already/);
  });
});
