// The console and portal as the gateway serves them (docs/console-api.md), with the real binary:
// the admin key it generates at first start (printed once, kept only as a 0600 hash, not printed
// again), static files from server.ui.dir (CSP and the other headers, MIME types, ETags, no way out
// of the folder by .., encoded dots or slashes, or a symbolic link), console sessions (HttpOnly
// SameSite=Strict cookie, Secure only over TLS, the CSRF token required for every state change made
// with the cookie, cross-site requests refused, Bearer keys unchanged, plugin admin routes too,
// logout, a session ending with the key that opened it), portal sessions (the API key checked by
// the auth plugin, the cookie good for /v1/models but never for inference), failed logins limited
// per address, and a missing ui folder answered with a 404 naming server.ui.dir.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startSim, startGateway, model, http, curl, run, waitFor, tmpDir, chatBody, assertOpenAIError, makeCert, PLUGINS_DIR,
  toYaml,
} from './harness.mjs';

const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const CUSTOMER_KEY = 'sk-portal-acme-secret';
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
  + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const KEY_LINE = /infergate: console at http:\/\/127\.0\.0\.1:(\d+)\/ui\/ — admin key: (igadm_[A-Za-z0-9_-]{43}) \(shown once; set server\.adminKeys to use your own\)/;

/** The cookie a response set: {name, value, attrs: lowercased attribute list}. */
function parseSetCookie(h) {
  assert.ok(h, 'a Set-Cookie header');
  const [pair, ...attrs] = h.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs: attrs.map((a) => a.toLowerCase()) };
}

function makeUi(dir) {
  const files = {
    'console/index.html': '<!doctype html><title>console</title><script src="app.js"></script>',
    'console/app.js': 'console.log("console");',
    'console/style.css': 'body { margin: 0 }',
    'console/logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
    'console/pages/models.html': '<!doctype html><title>models</title>',
    'assets/shared.css': '.shared {}',
    'portal/index.html': '<!doctype html><title>portal</title>',
    'portal/portal.js': 'console.log("portal");',
    'vendor/chartlib/dist/chart.min.js': '/* chart */',
  };
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  fs.symlinkSync('/etc/passwd', path.join(dir, 'console/leak.txt'));
  fs.symlinkSync('/etc', path.join(dir, 'console/etc'));
  fs.writeFileSync(path.join(path.dirname(dir), 'outside.txt'), 'root:x:0:0 outside');
  return files;
}

describe('console and portal', () => {
  let sim, gw, stateDir, uiDir, files, adminKey, opts;
  let session; // {cookie, csrf}
  let failedLogins = 0; // from 127.0.0.1, console and portal alike

  before(async () => {
    sim = await startSim({});
    stateDir = path.join(tmpDir(), 'state-console');
    uiDir = path.join(tmpDir(), 'ui-root', 'ui');
    files = makeUi(uiDir);
    opts = {
      models: [model('chat', [sim])],
      server: { stateDir, ui: { dir: uiDir } },
      plugins: {
        dir: PLUGINS_DIR,
        load: ['vllm', 'leastload', 'apikey'],
        options: { apikey: { customers: [{ id: 'acme', name: 'Acme' }], keys: [{ id: 'k-acme', customer: 'acme', hash: sha(CUSTOMER_KEY) }] } },
      },
    };
    gw = await startGateway(opts);
    await waitFor(() => KEY_LINE.test(gw.stderr), { what: 'the console line' });
  });

  const withCookie = (extra = {}) => ({ cookie: session.cookie, ...extra });

  it('first start: an admin key is made, printed once with the console URL, kept only as a 0600 hash', async () => {
    const m = gw.stderr.match(KEY_LINE);
    assert.equal(Number(m[1]), gw.port);
    adminKey = m[2];
    assert.equal((gw.stderr.match(/igadm_/g) || []).length, 1, 'the key is printed exactly once');
    const file = path.join(stateDir, 'admin-key.sha256');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8'), `${sha(adminKey)}\n`);
    assert.ok(!fs.readFileSync(file, 'utf8').includes(adminKey));
    const r = await http(`${gw.url}/admin/gateway`, { headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.admin_key, 'generated');
    assert.equal(r.json.workers, 2);
    assert.deepEqual(r.json.listen, [{ address: `127.0.0.1:${gw.port}`, tls: false }]);
    assert.equal(r.json.generation.id, 1);
    assert.equal(r.json.config_path, gw.configPath);
    assert.equal(r.json.version, '0.1.0');
    assert.equal(typeof r.json.uptime_seconds, 'number');
    assertOpenAIError(await http(`${gw.url}/admin/gateway`, { headers: { authorization: 'Bearer igadm_wrong' } }), 401, { code: 'invalid_api_key' });
    assertOpenAIError(await http(`${gw.url}/admin/gateway`), 401, {});
  });

  it('static files: the pages, their MIME types and headers; / redirects to /ui/', async () => {
    const root = await fetch(`${gw.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const want = [
      ['/ui/', files['console/index.html'], 'text/html; charset=utf-8'],
      ['/ui/index.html', files['console/index.html'], 'text/html; charset=utf-8'],
      ['/ui/app.js', files['console/app.js'], 'text/javascript; charset=utf-8'],
      ['/ui/style.css', files['console/style.css'], 'text/css; charset=utf-8'],
      ['/ui/logo.svg', files['console/logo.svg'], 'image/svg+xml'],
      ['/ui/pages/models.html', files['console/pages/models.html'], 'text/html; charset=utf-8'],
      ['/ui/assets/shared.css', files['assets/shared.css'], 'text/css; charset=utf-8'],
      ['/portal/assets/shared.css', files['assets/shared.css'], 'text/css; charset=utf-8'],
      ['/ui/vendor/chartlib/dist/chart.min.js', files['vendor/chartlib/dist/chart.min.js'], 'text/javascript; charset=utf-8'],
      ['/portal/', files['portal/index.html'], 'text/html; charset=utf-8'],
      ['/portal/portal.js', files['portal/portal.js'], 'text/javascript; charset=utf-8'],
    ];
    for (const [p, body, type] of want) {
      const r = await fetch(`${gw.url}${p}`);
      assert.equal(r.status, 200, p);
      assert.equal(await r.text(), body, p);
      assert.equal(r.headers.get('content-type'), type, p);
      assert.equal(r.headers.get('content-security-policy'), CSP, p);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer', p);
      assert.equal(r.headers.get('cache-control'), 'no-cache', p);
      const etag = r.headers.get('etag');
      assert.ok(etag, p);
      const again = await fetch(`${gw.url}${p}`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304, p);
    }
    const ui = await fetch(`${gw.url}/ui`, { redirect: 'manual' });
    assert.equal(ui.status, 302);
    assert.equal(ui.headers.get('location'), '/ui/');
    const head = await curl(`${gw.url}/ui/app.js`, { extra: ['-I'] });
    assert.equal(head.status, 200);
    const post = await http(`${gw.url}/ui/app.js`, { method: 'POST', body: 'x' });
    assertOpenAIError(post, 405, {});
    assertOpenAIError(await http(`${gw.url}/ui/missing.js`), 404, {});
  });

  it('no way out of the ui folder: .., encoded dots and slashes, hidden names, symbolic links', async () => {
    const paths = [
      '/ui/../../etc/passwd', '/ui/../../../../../../etc/passwd', '/ui/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/ui/%2E%2E/%2E%2E/etc/passwd', '/ui/..%2f..%2f..%2fetc%2fpasswd', '/ui/.%2e/.%2e/.%2e/etc/passwd',
      '/ui/assets/..%2f..%2foutside.txt', '/ui/assets/../../outside.txt', '/portal/..%5c..%5coutside.txt',
      '/ui/%2fetc%2fpasswd', '/ui//etc/passwd', '/ui/leak.txt', '/ui/etc/passwd', '/ui/....//....//etc/passwd',
      '/ui/.hidden', '/ui/assets/.%2e/.%2e/outside.txt', '/ui/app.js%00.css', '/portal/../ui-root/outside.txt',
      '/ui/vendor/../../outside.txt',
    ];
    for (const p of paths) {
      const r = await curl(`${gw.url}${p}`, { extra: ['--path-as-is'] });
      assert.ok([400, 404].includes(r.status), `${p}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.doesNotMatch(r.text, /root:/, p);
    }
  });

  it('console session: wrong key 401; the cookie is HttpOnly, SameSite=Strict, Path=/, not Secure on plain HTTP', async () => {
    const bad = await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: 'igadm_not-it' } });
    assertOpenAIError(bad, 401, { code: 'invalid_api_key' });
    failedLogins++;
    assert.equal(bad.headers.get('set-cookie'), null);
    assertOpenAIError(await http(`${gw.url}/ui/api/session`, { method: 'POST', body: '{"key":' }), 400, {});
    assertOpenAIError(await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: 7 } }), 400, { param: 'key' });
    const r = await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: adminKey } });
    assert.equal(r.status, 200, r.text);
    const c = parseSetCookie(r.headers.get('set-cookie'));
    assert.equal(c.name, 'ig_admin');
    assert.match(c.value, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(c.attrs.includes('httponly'), c.attrs);
    assert.ok(c.attrs.includes('samesite=strict'), c.attrs);
    assert.ok(c.attrs.includes('path=/'), c.attrs);
    assert.ok(!c.attrs.includes('secure'), c.attrs);
    assert.ok(!c.value.includes(adminKey) && !r.text.includes(adminKey), 'the key is in no cookie and no answer');
    assert.match(r.json.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(r.json.csrf, c.value);
    assert.ok(r.json.expires_at > Date.now() / 1000);
    session = { cookie: `ig_admin=${c.value}`, csrf: r.json.csrf };
    // a reloaded page gets its token back
    const g = await http(`${gw.url}/ui/api/session`, { headers: withCookie() });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.csrf, session.csrf);
    assertOpenAIError(await http(`${gw.url}/ui/api/session`), 401, {});
    assertOpenAIError(await http(`${gw.url}/ui/api/session`, { headers: { cookie: 'ig_admin=AAAA' } }), 401, {});
  });

  it('the cookie opens every admin route for reading; state changes need X-IG-CSRF and this site', async () => {
    for (const p of ['/admin/models', '/admin/gateway', '/admin/generation', '/admin/replicas', '/admin/customers']) {
      const r = await http(`${gw.url}${p}`, { headers: withCookie() });
      assert.equal(r.status, 200, `${p}: ${r.text}`);
    }
    const body = { engine: 'VLLM', endpoints: [sim.url] };
    const url = `${gw.url}/admin/models/via-cookie`;
    const refused = [
      {},
      { 'x-ig-csrf': 'x'.repeat(43) },
      { 'x-ig-csrf': session.csrf, origin: 'http://evil.example' },
      { 'x-ig-csrf': session.csrf, origin: `http://127.0.0.1:${gw.port}.evil.example` },
      { 'x-ig-csrf': session.csrf, 'sec-fetch-site': 'cross-site' },
    ];
    for (const h of refused) {
      const r = await http(url, { method: 'PUT', body, headers: withCookie(h) });
      assertOpenAIError(r, 403, { code: 'csrf_failed' });
    }
    // the plugin's admin routes take the same gate
    assertOpenAIError(await http(`${gw.url}/admin/customers`, { method: 'POST', body: { id: 'beta' }, headers: withCookie() }), 403, { code: 'csrf_failed' });
    assertOpenAIError(await http(url, { headers: withCookie() }), 404, {}, 'nothing was created');
    assert.equal((await http(`${gw.url}/admin/customers/beta`, { headers: withCookie() })).status, 404);
    // with the token, from this site (or without an Origin, as a same-origin fetch may be)
    let r = await http(url, { method: 'PUT', body, headers: withCookie({ 'x-ig-csrf': session.csrf, origin: `http://127.0.0.1:${gw.port}` }) });
    assert.equal(r.status, 201, r.text);
    assert.equal((await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('via-cookie') })).status, 401, 'apikey guards inference');
    r = await http(`${gw.url}/admin/customers`, { method: 'POST', body: { id: 'beta' }, headers: withCookie({ 'x-ig-csrf': session.csrf }) });
    assert.equal(r.status, 201, r.text);
    r = await http(url, { method: 'DELETE', headers: withCookie({ 'x-ig-csrf': session.csrf, 'sec-fetch-site': 'same-origin' }) });
    assert.equal(r.status, 200, r.text);
    // Bearer keys work as before, with no CSRF token
    r = await http(url, { method: 'PUT', body, headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(r.status, 201, r.text);
    r = await http(url, { method: 'DELETE', headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(r.status, 200, r.text);
  });

  it('publication routes stay the auth plugin\'s, and GET /admin/models shows what it says', async () => {
    let r = await http(`${gw.url}/admin/models/chat/publish`, { method: 'POST', body: { customers: ['acme'] }, headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(r.status, 200, r.text);
    r = await http(`${gw.url}/admin/models`, { headers: withCookie() });
    const chat = r.json.data.find((m) => m.id === 'chat');
    assert.equal(chat.published, true);
    assert.deepEqual(chat.customers.map((c) => c.customer), ['acme']);
    r = await http(`${gw.url}/admin/models/chat`, { headers: withCookie() });
    assert.equal(r.json.published, true);
    r = await http(`${gw.url}/admin/models/chat/publish`, { method: 'DELETE', headers: withCookie({ 'x-ig-csrf': session.csrf }) });
    assert.equal(r.status, 200, r.text);
    assert.equal((await http(`${gw.url}/admin/models/chat`, { headers: withCookie() })).json.published, false);
  });

  it('portal session: the API key checked by the auth plugin; the cookie opens /v1/models, never inference', async () => {
    assertOpenAIError(await http(`${gw.url}/portal/api/session`, { method: 'POST', body: { key: 'sk-wrong' } }), 401, {});
    failedLogins++;
    const r = await http(`${gw.url}/portal/api/session`, { method: 'POST', body: { key: CUSTOMER_KEY } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.customer, 'acme');
    const c = parseSetCookie(r.headers.get('set-cookie'));
    assert.equal(c.name, 'ig_portal');
    assert.ok(c.attrs.includes('httponly') && c.attrs.includes('samesite=strict'), c.attrs);
    assert.ok(!r.text.includes(CUSTOMER_KEY) && !c.value.includes(CUSTOMER_KEY));
    const portal = { cookie: `ig_portal=${c.value}` };
    const models = await http(`${gw.url}/v1/models`, { headers: portal });
    assert.equal(models.status, 200, models.text);
    assert.deepEqual(models.json.data.map((m) => m.id), ['chat']);
    assert.equal((await http(`${gw.url}/v1/models/chat`, { headers: portal })).status, 200);
    assertOpenAIError(await http(`${gw.url}/v1/models`), 401, {});
    // inference routes ignore the cookie
    for (const p of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
      const x = await http(`${gw.url}${p}`, { method: 'POST', body: chatBody('chat'), headers: { ...portal, 'x-ig-csrf': r.json.csrf } });
      assertOpenAIError(x, 401, { code: 'invalid_api_key' });
    }
    assert.equal((await http(`${gw.url}/v1/chat/completions`, { method: 'POST', body: chatBody('chat'), headers: { authorization: `Bearer ${CUSTOMER_KEY}` } })).status, 200);
    // the portal's cookie is no admin cookie; its state changes need its token too
    assertOpenAIError(await http(`${gw.url}/admin/models`, { headers: portal }), 401, {});
    assertOpenAIError(await http(`${gw.url}/portal/api/anything`, { method: 'POST', body: {}, headers: portal }), 403, { code: 'csrf_failed' });
    assert.equal((await http(`${gw.url}/portal/api/session`, { headers: portal })).status, 200);
    const out = await http(`${gw.url}/portal/api/session`, { method: 'DELETE', headers: { ...portal, 'x-ig-csrf': r.json.csrf } });
    assert.equal(out.status, 200, out.text);
    assertOpenAIError(await http(`${gw.url}/v1/models`, { headers: portal }), 401, {});
  });

  it('logout needs the token, then the cookie opens nothing', async () => {
    assertOpenAIError(await http(`${gw.url}/ui/api/session`, { method: 'DELETE', headers: withCookie() }), 403, { code: 'csrf_failed' });
    const r = await http(`${gw.url}/ui/api/session`, { method: 'DELETE', headers: withCookie({ 'x-ig-csrf': session.csrf }) });
    assert.equal(r.status, 200, r.text);
    const c = parseSetCookie(r.headers.get('set-cookie'));
    assert.equal(c.value, '');
    assert.ok(c.attrs.includes('max-age=0'), c.attrs);
    assertOpenAIError(await http(`${gw.url}/admin/models`, { headers: withCookie() }), 401, { code: 'invalid_session' });
  });

  it('a session ends when its admin key leaves the configuration (SIGHUP)', async () => {
    let r = await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: adminKey } });
    assert.equal(r.status, 200);
    const cookie = `ig_admin=${parseSetCookie(r.headers.get('set-cookie')).value}`;
    assert.equal((await http(`${gw.url}/admin/models`, { headers: { cookie } })).status, 200);
    const OWN = 'my-own-admin-key';
    const cfg = fs.readFileSync(gw.configPath, 'utf8');
    fs.writeFileSync(gw.configPath, cfg.replace('server:\n', `server:\n  adminKeys: ["${sha(OWN)}"]\n`));
    const seen = (gw.stderr.match(/reloaded/g) || []).length;
    process.kill(gw.child.pid, 'SIGHUP');
    await waitFor(() => (gw.stderr.match(/reloaded/g) || []).length > seen, { what: 'reloaded' });
    assertOpenAIError(await http(`${gw.url}/admin/models`, { headers: { cookie } }), 401, { code: 'invalid_session' });
    assertOpenAIError(await http(`${gw.url}/admin/models`, { headers: { authorization: `Bearer ${adminKey}` } }), 401, {});
    assert.equal((await http(`${gw.url}/admin/models`, { headers: { authorization: `Bearer ${OWN}` } })).status, 200);
    assertOpenAIError(await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: adminKey } }), 401, {});
    failedLogins++;
    assert.equal((await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: OWN } })).status, 200);
    fs.writeFileSync(gw.configPath, cfg);
    process.kill(gw.child.pid, 'SIGHUP');
    await waitFor(() => (gw.stderr.match(/reloaded/g) || []).length > seen + 1, { what: 'reloaded back' });
  });

  it('failed logins are limited per address: the 11th within the window is 429, even with the right key', async () => {
    // console and portal failures count together, per address: 10 in all, then refused
    assert.equal(failedLogins, 3);
    for (let i = failedLogins; i < 10; i++) {
      const body = { key: `igadm_wrong-${i}` };
      const x = await http(`${gw.url}/${i % 2 ? 'ui' : 'portal'}/api/session`, { method: 'POST', body });
      assertOpenAIError(x, 401, {});
    }
    const r = await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: adminKey } });
    assertOpenAIError(r, 429, { code: 'too_many_failed_logins' });
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assertOpenAIError(await http(`${gw.url}/portal/api/session`, { method: 'POST', body: { key: CUSTOMER_KEY } }), 429, {});
    // Bearer keys are not logins
    assert.equal((await http(`${gw.url}/admin/models`, { headers: { authorization: `Bearer ${adminKey}` } })).status, 200);
  });

  it('a cross-site login is refused', async () => {
    const r = await http(`${gw.url}/ui/api/session`, { method: 'POST', body: { key: adminKey }, headers: { origin: 'http://evil.example' } });
    assertOpenAIError(r, 403, { code: 'csrf_failed' });
  });

  it('second start on the same stateDir: no key printed, the first one still works', async () => {
    await gw.checkAliveAndStop();
    gw = await startGateway(opts);
    await waitFor(() => /admin key: as printed at first start/.test(gw.stderr), { what: 'the console line' });
    assert.doesNotMatch(gw.stderr, /igadm_/);
    assert.ok(gw.stderr.includes(`stored hashed in ${path.join(stateDir, 'admin-key.sha256')}`), gw.stderr);
    assert.equal((await http(`${gw.url}/admin/models`, { headers: { authorization: `Bearer ${adminKey}` } })).status, 200);
    await gw.checkAliveAndStop();
  });

  it('over TLS the session cookie is Secure; a missing ui folder is a 404 naming server.ui.dir', async () => {
    const tls = await makeCert();
    const g = await startGateway({ models: [model('chat', [sim])], tls, server: { ui: { dir: path.join(tmpDir(), 'no-such-ui') } } });
    const key = g.stderr.match(/admin key: (igadm_[A-Za-z0-9_-]{43})/)[1];
    const hdr = path.join(tmpDir(), 'tls-headers.txt');
    const r = await curl(`${g.tlsUrl}/ui/api/session`, { mode: 'h2', cacert: tls.certificate, body: { key }, extra: ['-D', hdr] });
    assert.equal(r.status, 200, r.text);
    const setCookie = fs.readFileSync(hdr, 'utf8').split(/\r?\n/).find((l) => /^set-cookie:/i.test(l));
    assert.ok(parseSetCookie(setCookie.replace(/^set-cookie:\s*/i, '')).attrs.includes('secure'), setCookie);
    const plain = await http(`${g.url}/ui/api/session`, { method: 'POST', body: { key } });
    assert.ok(!parseSetCookie(plain.headers.get('set-cookie')).attrs.includes('secure'));
    const e = assertOpenAIError(await http(`${g.url}/ui/`), 404, { code: 'ui_not_installed' });
    assert.match(e.message, /server\.ui\.dir/);
    await g.checkAliveAndStop();
  });
});
