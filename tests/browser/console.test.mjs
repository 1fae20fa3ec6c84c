// The console (/ui/) and the portal (/portal/) in a real browser: Debian's Chromium driven by
// playwright-core, against the real gateway (apikey, billing, ratelimit loaded) and ig-sim on free
// ports, serving the build's copy of ui/ (server.ui.dir = <build>/ui). A person's path through it:
// sign in, add a model from the form, give a customer a key (secret shown once), publish a model to
// another customer, chat through the new model in the playground (streamed), see the request in the
// usage chart, issue the invoice (its number, CSV and printable page), revoke the key and see the API
// refuse it, and the portal showing a customer only its own models, their prices, its limits as the
// ratelimit plugin counts them and its usage as ig-sim counted it. Every answer is the gateway's:
// nothing is stubbed in the browser. No page may break the CSP (nothing inline).
//
// Screenshots of every page go to $IG_SCREENSHOT_DIR, else $IG_LOG_DIR/screenshots (scripts/test.sh
// sets IG_LOG_DIR), else <build>/browser-screenshots. Each wait that fails names what was not seen
// and leaves a screenshot named failed-<step>.png.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSim, startGateway, startRedis, model, http, waitFor, chatBody, wav, BUILD_DIR, PLUGINS_DIR, SLOW } from '../integration/harness.mjs';

const CHROMIUM = process.env.IG_CHROMIUM || '/usr/bin/chromium';
const ADMIN_KEY = `igadm_browser_${crypto.randomBytes(12).toString('hex')}`;
const sha = (s) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const SHOTS = process.env.IG_SCREENSHOT_DIR || (process.env.IG_LOG_DIR ? path.join(process.env.IG_LOG_DIR, 'screenshots') : path.join(BUILD_DIR, 'browser-screenshots'));
const WAIT = SLOW ? 20000 : 10000;
// gamma, the portal's customer, and its key are in the gateway's config, with a key limit the
// ratelimit plugin enforces and /v1/me reports
const PORTAL_KEY = `ig-portal-${crypto.randomBytes(16).toString('hex')}`;
const PORTAL_LIMITS = { requestsPerMinute: 100, tokensPerHour: 100000 };
const apikeyOptions = {
  customers: [{ id: 'gamma', name: 'Gamma Ltd' }],
  keys: [{ id: 'k-portal', customer: 'gamma', name: 'portal', hash: `sha256:${crypto.createHash('sha256').update(PORTAL_KEY).digest('hex')}`, limits: PORTAL_LIMITS }],
};
// file-chat's and ui-chat's prices (per token): invoices and the portal's costs are checked against them
const PRICES = { prompt: '0.000001', completion: '0.000002' };
/** A price string in units of 1e-15 (the ledger's), and back: exact money arithmetic. */
const units = (p) => {
  const [i, f = ''] = p.split('.');
  return BigInt(i) * 10n ** 15n + BigInt(f.padEnd(15, '0'));
};
const decimal = (u) => {
  const f = (u % 10n ** 15n).toString().padStart(15, '0').replace(/0+$/, '');
  return f ? `${u / 10n ** 15n}.${f}` : `${u / 10n ** 15n}`;
};
const costOf = (list) => decimal(list.reduce((s, u) => s + units(PRICES.prompt) * BigInt(u.prompt_tokens) + units(PRICES.completion) * BigInt(u.completion_tokens), 0n));


describe('console and portal in Chromium', () => {
  let sim, gw, browser, page;
  const problems = []; // CSP violations and script errors, from every page
  let acmeKey, acmeKeyId, betaKey;
  const betaSent = []; // the usage of beta's chats, as the gateway answered it (ig-sim's counts)

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `no browser at ${CHROMIUM}: scripts/setup.sh installs Debian's chromium`);
    assert.ok(fs.existsSync(path.join(BUILD_DIR, 'ui/console/index.html')), `the build has no ui/ copy under ${BUILD_DIR}/ui`);
    fs.mkdirSync(SHOTS, { recursive: true });
    sim = await startSim({ args: ['--token-rate', '200'] });
    gw = await startGateway({
      models: [model('file-chat', [sim], { pricing: PRICES })],
      server: { adminKeys: [sha(ADMIN_KEY)], ui: { dir: path.join(BUILD_DIR, 'ui') } },
      plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'apikey', 'ratelimit', 'billing'], options: { apikey: apikeyOptions } },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      timeout: WAIT * 3,
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
  });

  /** Waits for a locator; a failure names what was not seen and keeps a screenshot. */
  async function see(locator, what, { state = 'visible', timeout = WAIT } = {}) {
    try {
      await locator.first().waitFor({ state, timeout });
    } catch (e) {
      const file = path.join(SHOTS, `failed-${what.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      const notices = await page.locator('.notice:not([hidden])').allTextContents().catch(() => []);
      throw new Error(`not seen: ${what} (on ${page.url()}; notices: ${JSON.stringify(notices)}; screenshot ${file})\n${e.message.split('\n')[0]}`);
    }
    return locator.first();
  }
  /** Every form control of the page has a label, every button a name (checked on each screenshot). */
  async function labelled(pg, name) {
    const bare = await pg.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter((e) => e.type !== 'hidden')
        .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent.trim())))
        .map((e) => e.outerHTML.slice(0, 120)),
    );
    if (bare.length) problems.push(`controls without a label on ${name}: ${bare.join(' | ')}`);
  }
  const shot = async (name, pg = page) => {
    await labelled(pg, name);
    await pg.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };
  const go = async (hash, heading) => {
    await page.goto(`${gw.url}/ui/${hash}`);
    await see(page.getByRole('heading', { level: 1, name: heading }), `the ${heading} page's heading`);
  };
  /** The data a Chart.js chart draws, read from the chart itself. */
  const chartData = (figId) =>
    page.evaluate((id) => {
      const c = document.querySelector(`#${id} canvas`);
      const ch = c && window.Chart?.getChart(c);
      return ch ? { labels: ch.data.labels, datasets: ch.data.datasets.map((d) => ({ label: d.label, data: d.data })) } : null;
    }, figId);

  it('signs in with the admin key: a wrong key is refused, the session cookie is not readable by scripts', async () => {
    await page.goto(`${gw.url}/ui/`);
    const key = await see(page.getByLabel('Admin key'), 'the sign-in form');
    await shot('console-login');
    await key.fill('igadm_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await see(page.getByRole('alert').filter({ hasText: 'not accepted' }), 'the refusal of a wrong admin key');
    await key.fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await see(page.getByRole('heading', { level: 1, name: 'Models' }), 'the Models page after signing in');
    await see(page.getByRole('row').filter({ hasText: 'file-chat' }), 'the file model file-chat in the list');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is HttpOnly');
    assert.ok(!page.url().includes(ADMIN_KEY), 'the key is in no URL');
    assert.equal(await page.getByLabel('Admin key').count(), 0, 'the key field is gone');
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === 'ig_admin');
    assert.ok(c && c.httpOnly && c.sameSite === 'Strict', `ig_admin cookie: ${JSON.stringify(cookies)}`);
    assert.ok(!cookies.some((x) => x.value.includes(ADMIN_KEY)), 'no cookie holds the admin key');
    // a reload keeps the session (the CSRF token comes back from GET /ui/api/session)
    await page.reload();
    await see(page.getByRole('heading', { level: 1, name: 'Models' }), 'the Models page after a reload');
  });

  it('adds a model from the form: listed as runtime, with its endpoint healthy', async () => {
    const form = page.locator('#model-form');
    await form.getByLabel('Name').fill('ui-chat');
    await form.getByLabel('Endpoints').fill(sim.url);
    await form.getByLabel('Price per prompt token (optional)').fill('0.000001');
    await form.getByLabel('Price per completion token (optional)').fill('0.000002');
    await form.getByRole('button', { name: 'Add model' }).click();
    await see(form.getByText('Model ui-chat is served'), 'the confirmation that ui-chat is served');
    const row = page.getByRole('row').filter({ hasText: 'ui-chat' });
    await see(row.getByText('runtime'), 'ui-chat listed as a runtime model');
    await see(row.locator('.dot.up'), 'ui-chat\'s endpoint healthy', { timeout: WAIT * 2 });
    const r = await http(`${gw.url}/admin/models/ui-chat`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.source, 'runtime');
    assert.deepEqual(r.json.config.endpoints, [sim.url]);
    await shot('console-models');
  });

  it('creates customers and a key: the secret is shown once, with a copy button', async () => {
    await go('#customers', 'Customers & keys');
    const cf = page.locator('#customer-form');
    for (const [id, name] of [['acme', 'Acme Inc.'], ['beta', 'Beta GmbH']]) {
      await cf.getByLabel('Id').fill(id);
      await cf.getByLabel('Name').fill(name);
      await cf.getByRole('button', { name: 'Create customer' }).click();
      await see(cf.getByText(`Customer ${id} created`), `the confirmation that customer ${id} was created`);
    }
    const kf = page.locator('#key-form');
    await kf.getByLabel('Customer', { exact: true }).selectOption('acme');
    await kf.getByLabel('Name').fill('playground');
    await kf.getByRole('button', { name: 'Create key' }).click();
    const secret = await see(page.locator('#secret-value'), 'the new key\'s secret');
    acmeKey = (await secret.textContent()).trim();
    assert.match(acmeKey, /^ig-k_[0-9a-f]+-[A-Za-z0-9_-]{43}$/);
    acmeKeyId = acmeKey.split('-').slice(1, 2)[0];
    await see(page.locator('#secret-box').getByRole('button', { name: 'Copy' }), 'the copy button next to the secret');
    await see(page.getByRole('row').filter({ hasText: acmeKeyId }).getByText('active'), `key ${acmeKeyId} listed as active`);
    await shot('console-customers');
    // beta's key, to be used outside the browser
    await page.locator('#secret-box').getByRole('button', { name: /hide/ }).click();
    assert.ok(!(await page.content()).includes(acmeKey), 'the secret is gone from the page once hidden');
    await kf.getByLabel('Customer', { exact: true }).selectOption('beta');
    await kf.getByLabel('Name').fill('beta-ci');
    await kf.getByRole('button', { name: 'Create key' }).click();
    await see(page.locator('#secret-value').filter({ hasText: /^ig-/ }), 'beta\'s new secret');
    betaKey = (await page.locator('#secret-value').textContent()).trim();
    assert.notEqual(betaKey, acmeKey);
    await page.reload();
    await see(page.getByRole('row').filter({ hasText: acmeKeyId }), `key ${acmeKeyId} after a reload`);
    const html = await page.content();
    assert.ok(!html.includes(acmeKey) && !html.includes(betaKey), 'a secret is never shown again');
  });

  it('publishes file-chat to beta only, from the model\'s Publish dialog', async () => {
    await go('#models', 'Models');
    // Esc closes a dialog and changes nothing
    await page.getByRole('button', { name: 'Publish ui-chat' }).click();
    await see(page.getByRole('dialog'), 'the Publish dialog of ui-chat');
    await page.keyboard.press('Escape');
    await see(page.getByRole('dialog'), 'the dialog closed by Esc', { state: 'detached' });
    await page.getByRole('button', { name: 'Publish file-chat' }).click();
    const d = page.getByRole('dialog');
    await see(d.getByRole('checkbox', { name: 'beta' }), 'customer beta in the Publish dialog');
    await d.getByRole('checkbox', { name: 'beta' }).check();
    await d.getByLabel('Requests / minute').fill('100');
    await d.getByRole('button', { name: 'Publish to the checked customers' }).click();
    await see(page.getByRole('row').filter({ hasText: 'file-chat' }).getByRole('cell', { name: 'beta', exact: true }), 'file-chat published to beta');
    // the gateway agrees: acme may not use it, beta may
    const asKey = (k) => http(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${k}` }, body: chatBody('file-chat') });
    assert.equal((await asKey(acmeKey)).status, 404);
    for (let i = 0; i < 2; i++) {
      const r = await asKey(betaKey);
      assert.equal(r.status, 200, r.text);
      betaSent.push(r.json.usage);
    }
  });

  it('answers a chat through the new model in the playground, streamed chunk by chunk', async () => {
    await go('#customers', 'Customers & keys');
    await page.getByRole('button', { name: `Rotate ${acmeKeyId}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
    await see(page.locator('#secret-value').filter({ hasText: /^ig-/ }), 'the rotated secret');
    const rotated = (await page.locator('#secret-value').textContent()).trim();
    assert.notEqual(rotated, acmeKey, 'rotation makes a new secret');
    const old = await http(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${acmeKey}` } });
    assert.equal(old.status, 401, `the old secret after rotation: ${old.text}`);
    acmeKey = rotated;
    await page.getByRole('button', { name: 'Use it in the playground' }).click();
    await see(page.getByRole('heading', { level: 1, name: 'Playground' }), 'the Playground page');
    await page.getByLabel('Model', { exact: true }).selectOption('ui-chat');
    assert.equal(await page.getByLabel('API key').inputValue(), acmeKey, 'the key handed over from the key page');
    await page.getByLabel('Message', { exact: true }).fill('Hello through the console');
    // a part of the answer on screen while the rest is still coming (ig-sim paces 200 tokens/s)
    const partial = page.waitForFunction(() => {
      const b = document.querySelector('.msg.assistant');
      return b && b.dataset.done === 'false' && Number(b.dataset.chunks) > 0 && b.querySelector('.text').textContent.length > 0;
    }, null, { polling: 'raf', timeout: WAIT * 2 });
    await page.getByRole('button', { name: 'Send' }).click();
    await partial.catch(() => {
      throw new Error('not seen: a partly shown answer while the stream was still coming (the chat is not streamed token by token)');
    });
    const answer = await see(page.locator('.msg.assistant[data-done="true"]'), 'a finished streamed answer in the playground', { timeout: WAIT * 2 });
    const chunks = Number(await answer.getAttribute('data-chunks'));
    assert.ok(chunks > 1, `the answer came in ${chunks} chunks, not streamed`);
    assert.ok((await answer.locator('.text').textContent()).trim().length > 0, 'the answer has text');
    await see(answer.getByText(/prompt \+ \d+ completion tokens/), 'the answer\'s token counts');
    await shot('console-playground');
  });

  it('adds a model from a pasted KubeAI manifest, embeds and transcribes through it, edits and deletes it', async () => {
    await go('#models', 'Models');
    // by keyboard: the arrow keys move between the tabs
    await page.getByRole('tab', { name: 'Form' }).focus();
    await page.keyboard.press('ArrowRight');
    await see(page.getByRole('tab', { name: 'KubeAI manifest', selected: true }), 'the manifest tab selected by ArrowRight');
    assert.ok(await page.getByRole('tab', { name: 'KubeAI manifest' }).evaluate((e) => e === document.activeElement), 'the focus follows');
    assert.ok(await page.locator('#model-form').isHidden(), 'the form tab\'s panel is hidden');
    const mf = page.locator('#manifest-form');
    await mf.getByLabel('KubeAI Model manifest (YAML or JSON)').fill([
      'apiVersion: kubeai.org/v1',
      'kind: Model',
      'metadata:',
      '  name: ui-audio',
      '  annotations:',
      '    openrouter.ai/json: \'{"pricing": {"audio": "0.0001"}}\'',
      'spec:',
      '  engine: VLLM',
      '  features: [TextEmbedding, SpeechToText]',
      `  endpoints: ["${sim.url}"]`,
      '',
    ].join('\n'));
    assert.equal(await mf.getByLabel('Name').inputValue(), 'ui-audio', 'the name is read from metadata.name');
    await mf.getByRole('button', { name: 'Apply manifest' }).click();
    await see(mf.getByText('Model ui-audio is served'), 'the confirmation that the manifest\'s ui-audio is served');
    await see(page.getByRole('row').filter({ hasText: 'ui-audio' }).locator('.dot.up'), 'ui-audio\'s endpoint healthy', { timeout: WAIT * 2 });

    await go('#playground/ui-audio', 'Playground');
    await see(page.locator('#pg-model option[value="ui-audio"]'), 'ui-audio among the playground\'s models', { state: 'attached' });
    assert.equal(await page.getByLabel('Model', { exact: true }).inputValue(), 'ui-audio', 'the model from the link');
    assert.equal(await page.getByLabel('API key').inputValue(), acmeKey, 'the key kept while the console is open');
    await page.getByRole('tab', { name: 'Embeddings' }).click();
    await page.getByLabel('Text to embed').fill('an embedding from the console');
    await page.getByRole('button', { name: 'Embed' }).click();
    await see(page.locator('#embed-out').getByText(/^\d+ dimensions/), 'the embedding\'s dimensions');
    await page.getByRole('tab', { name: 'Transcription' }).click();
    await page.getByLabel('Audio file').setInputFiles({ name: 'hello.wav', mimeType: 'audio/wav', buffer: wav(1.5) });
    await page.getByRole('button', { name: 'Transcribe' }).click();
    await see(page.locator('#audio-out').getByText(/word1/), 'the transcript of the uploaded WAV');
    await shot('console-playground-audio');

    // edit: the config as JSON, sent back with a price
    await go('#models', 'Models');
    await page.getByRole('button', { name: 'Edit ui-audio' }).click();
    const d = page.getByRole('dialog');
    const text = d.getByLabel('ui-audio: the models[] fields, as JSON');
    const cfg = JSON.parse(await text.inputValue());
    assert.deepEqual(cfg.features, ['TextEmbedding', 'SpeechToText'], JSON.stringify(cfg));
    cfg.pricing = { prompt: '0.000003' };
    await text.fill(JSON.stringify(cfg, null, 2));
    await d.getByRole('button', { name: 'Save' }).click();
    await see(d, 'the edit dialog closing', { state: 'detached' });
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    await waitFor(async () => (await http(`${gw.url}/admin/models/ui-audio`, { headers: admin })).json?.config?.pricing?.prompt === '0.000003', { what: 'the edited price' });
    // delete, confirmed
    await page.getByRole('button', { name: 'Delete ui-audio' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await see(page.getByRole('row').filter({ hasText: 'ui-audio' }), 'ui-audio gone from the list', { state: 'detached' });
    assert.equal((await http(`${gw.url}/admin/models/ui-audio`, { headers: admin })).status, 404);
  });

  it('shows the request in the usage charts (per day, per model, per customer)', async () => {
    await go('#usage', 'Usage');
    await see(page.locator('#usage-by-model canvas'), 'the per-model usage chart');
    const byModel = await chartData('usage-by-model');
    assert.ok(byModel, 'the per-model chart has a Chart.js chart');
    const i = byModel.labels.indexOf('ui-chat');
    assert.ok(i >= 0, `ui-chat not in the per-model chart: ${JSON.stringify(byModel)}`);
    assert.ok(byModel.datasets[0].data[i] > 0, `ui-chat has no tokens in the chart: ${JSON.stringify(byModel)}`);
    const byCustomer = await chartData('usage-by-customer');
    assert.deepEqual([...byCustomer.labels].sort(), ['acme', 'beta'], JSON.stringify(byCustomer));
    const byDay = await chartData('usage-by-day');
    const today = new Date().toISOString().slice(0, 10);
    const d = byDay.labels.indexOf(today);
    const sum = byDay.datasets.reduce((s, ds) => s + (ds.data[d] || 0), 0);
    assert.ok(d >= 0 && sum > 0, `today's bar is empty: ${JSON.stringify(byDay)}`);
    // in requests: acme 3 (the playground's chat, embedding and transcription), beta 2
    await page.getByLabel('Show', { exact: true }).selectOption('requests');
    await waitFor(async () => (await chartData('usage-by-customer'))?.datasets[0].label === 'Requests', { what: 'the chart in requests' });
    const req = await chartData('usage-by-customer');
    assert.equal(req.datasets[0].data[req.labels.indexOf('acme')], 3, JSON.stringify(req));
    assert.equal(req.datasets[0].data[req.labels.indexOf('beta')], 2, JSON.stringify(req));
    await shot('console-usage');
  });

  it('shows this month\'s invoice of a customer, with a CSV download; issues it: its number, CSV and printable page', async () => {
    await go('#invoices', 'Invoices');
    await page.getByLabel('Customer', { exact: true }).selectOption('beta');
    await page.getByRole('button', { name: 'Show' }).click();
    const inv = await see(page.locator('article.invoice[data-customer="beta"]'), 'beta\'s invoice');
    await see(inv.getByRole('cell', { name: 'file-chat' }), 'the file-chat line on beta\'s invoice');
    assert.equal(await page.locator('article.invoice').count(), 1, 'only beta\'s invoice');
    await see(page.locator('#invoices-issued').getByText('None issued for this month.'), 'no issued invoice yet');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = fs.readFileSync(await dl.path(), 'utf8');
    assert.match(csv, /file-chat/, `the CSV: ${csv}`);
    assert.doesNotMatch(csv, /acme/, 'beta\'s CSV holds nothing of acme');

    // issue it: POST /admin/invoices/generate from the page (with the session's X-IG-CSRF)
    const month = new Date().toISOString().slice(0, 7);
    const number = `INV-${new Date().getUTCFullYear()}-000001`;
    const total = costOf(betaSent);
    const posted = page.waitForRequest((r) => r.url().endsWith('/admin/invoices/generate') && r.method() === 'POST');
    await page.getByRole('button', { name: 'Issue invoices for this month' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Issue' }).click();
    const req = await posted;
    assert.deepEqual(req.postDataJSON(), { month, dry_run: 'none', customer: 'beta' });
    assert.ok((await req.headerValue('x-ig-csrf'))?.length >= 32, 'the POST carries X-IG-CSRF');
    assert.equal((await req.response()).status(), 201, 'the run issued something: 201 Created');
    await see(page.getByText(`1 invoice(s) issued for ${month}.`), 'the confirmation of the issued invoice');
    const row = await see(page.locator('#invoices-issued').getByRole('row').filter({ hasText: number }), `the issued invoice ${number}`);
    assert.match(await row.innerText(), new RegExp(`beta[\\s\\S]*${month}[\\s\\S]*${total.replace('.', '\\.')} USD`), `the row of ${number}`);
    // the gateway stored it as issued, with exactly what ig-sim counted for beta at file-chat's prices
    const stored = await http(`${gw.url}/admin/invoices/${number}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(stored.status, 200, stored.text);
    assert.equal(stored.json.status, 'issued');
    assert.equal(stored.json.customer, 'beta');
    const sum = (k) => betaSent.reduce((t, u) => t + u[k], 0);
    assert.deepEqual(stored.json.lines.map((l) => [l.model, l.requests, l.prompt_tokens, l.completion_tokens, l.cost]),
      [['file-chat', 2, sum('prompt_tokens'), sum('completion_tokens'), total]], stored.text);
    assert.equal(stored.json.total, total);

    // its CSV, downloaded with the session (no key in any URL)
    const [dl2] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `CSV of ${number}` }).click()]);
    assert.equal(dl2.suggestedFilename(), `${number}.csv`);
    const icsv = fs.readFileSync(await dl2.path(), 'utf8');
    const line = icsv.split('\n').find((l) => l.includes('file-chat'));
    assert.ok(line && line.includes(number) && line.includes('beta') && line.includes(total), `the issued invoice's CSV:\n${icsv}`);
    assert.doesNotMatch(icsv, /acme|gamma/, 'nothing of another customer in the CSV');

    // its printable page: the gateway's HTML, opened in a tab of its own with the session cookie
    const [printable] = await Promise.all([page.context().waitForEvent('page'), row.getByRole('link', { name: `Printable page of ${number}` }).click()]);
    try {
      await printable.waitForLoadState();
      assert.ok(printable.url().endsWith(`/admin/invoices/${number}?format=html`), printable.url());
      const text = await printable.locator('body').innerText();
      for (const want of [number, 'beta', 'file-chat', total]) assert.ok(text.includes(want), `the printable page lacks ${want}:\n${text}`);
      await printable.screenshot({ path: path.join(SHOTS, 'console-invoice-printable.png'), fullPage: true });
    } finally {
      await printable.close();
    }
    await shot('console-invoices');
  });

  it('shows the gateway: version, generation, and a failed reload\'s error', async () => {
    await go('#gateway', 'Gateway');
    await see(page.locator('#gw-version').getByText('0.1.0'), 'the version');
    // generation 1 at start; ui-chat added, ui-audio added, edited, deleted: 5
    await see(page.locator('#gw-generation').getByText('#5'), 'generation #5');
    // a reload of a broken file: the page names the error, the generation stays
    const good = fs.readFileSync(gw.configPath, 'utf8');
    fs.writeFileSync(gw.configPath, `${good}\nno_such_section: 1\n`);
    try {
      process.kill(gw.pid, 'SIGHUP');
      const admin = { authorization: `Bearer ${ADMIN_KEY}` };
      await waitFor(async () => (await http(`${gw.url}/admin/gateway`, { headers: admin })).json?.reloads?.failed === 1, { timeoutMs: WAIT, what: 'the failed reload counted' });
    } finally {
      fs.writeFileSync(gw.configPath, good);
    }
    await page.reload();
    await see(page.locator('#gw-last-error').getByText(/no_such_section/), 'the failed reload\'s error naming no_such_section');
    await see(page.locator('#gw-generation').getByText('#5'), 'generation #5 kept after the failed reload');
    await shot('console-gateway');
  });

  it('the portal shows a customer only its own models and usage', async () => {
    const portal = await page.context().newPage();
    portal.on('pageerror', (e) => problems.push(`script error on ${portal.url()}: ${e.message}`));
    portal.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error on ${portal.url()}: ${m.text()}`);
    });
    const p = page;
    page = portal;
    try {
      await portal.goto(`${gw.url}/portal/`);
      const key = await see(portal.getByLabel('API key'), 'the portal sign-in form');
      // by keyboard: the field has the focus, Enter submits
      await portal.keyboard.type(acmeKey);
      assert.equal(await key.inputValue(), acmeKey, 'the key field has the focus on arrival');
      await portal.keyboard.press('Enter');
      await see(portal.getByRole('heading', { level: 1, name: 'Models & prices' }), 'the portal\'s models page');
      await see(portal.locator('#who').getByText('acme'), 'the signed-in customer acme');
      await see(portal.getByRole('cell', { name: 'ui-chat' }), 'ui-chat among acme\'s models');
      assert.equal(await portal.getByRole('cell', { name: 'file-chat' }).count(), 0, 'file-chat (published to beta only) is not shown to acme');
      await shot('portal-models', portal);
      await portal.goto(`${gw.url}/portal/#usage`);
      await see(portal.getByRole('heading', { level: 1, name: 'Usage' }), 'the portal\'s usage page');
      await see(portal.locator('#portal-by-model canvas'), 'the portal\'s per-model chart');
      const byModel = await chartData('portal-by-model');
      assert.deepEqual([...byModel.labels].sort(), ['ui-audio', 'ui-chat'], `acme's usage per model: ${JSON.stringify(byModel)}`);
      await portal.getByLabel('Show', { exact: true }).selectOption('requests');
      await waitFor(async () => (await chartData('portal-by-model'))?.datasets[0].label === 'Requests', { what: 'the portal chart in requests' });
      const req = await chartData('portal-by-model');
      // the playground's chat, embedding and transcription
      assert.equal(req.datasets[0].data.reduce((x, y) => x + y, 0), 3, `acme's requests: ${JSON.stringify(req)}`);
      const text = await portal.locator('body').innerText();
      assert.ok(!/beta|file-chat/i.test(text), `the portal shows something of beta:\n${text}`);
      await shot('portal-usage', portal);
      await portal.goto(`${gw.url}/portal/#limits`);
      await see(portal.getByRole('heading', { level: 1, name: 'Rate limits' }), 'the portal\'s limits page');
      await shot('portal-limits-acme', portal);
      // on a phone
      await portal.setViewportSize({ width: 390, height: 844 });
      await portal.goto(`${gw.url}/portal/#models`);
      await see(portal.getByRole('cell', { name: 'ui-chat' }), 'ui-chat on a phone-sized portal');
      await shot('portal-phone', portal);
      await portal.getByRole('button', { name: 'Sign out' }).click();
      await see(portal.getByLabel('API key'), 'the portal sign-in form after signing out');
    } finally {
      page = p;
      await portal.close();
    }
  });

  /** Opens the portal in a page of its own, signed in with key; fn(portal) runs with page = portal. */
  async function inPortal(url, key, fn) {
    const portal = await page.context().newPage();
    portal.on('pageerror', (e) => problems.push(`script error on ${portal.url()}: ${e.message}`));
    portal.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error on ${portal.url()}: ${m.text()}`);
    });
    const p = page;
    page = portal;
    try {
      await portal.goto(`${url}/portal/`);
      await (await see(portal.getByLabel('API key'), 'the portal sign-in form')).fill(key);
      await portal.getByRole('button', { name: 'Sign in' }).click();
      await see(portal.getByRole('heading', { level: 1, name: 'Models & prices' }), 'the portal\'s models page');
      await fn(portal);
      await portal.getByRole('button', { name: 'Sign out' }).click();
      await see(portal.getByLabel('API key'), 'the portal sign-in form after signing out');
    } finally {
      page = p;
      await portal.close();
    }
  }
  const limitRow = (portal, text) => see(portal.locator('#portal-limits').getByRole('row').filter({ hasText: text }), `the "${text}" limit`);

  it('the portal of a configured key: real prices, its key limits going down with its requests, its usage exactly as ig-sim counted', async () => {
    // gamma's requests, each naming its user so that ig-sim counts them apart (GET /sim/usage)
    const sent = [];
    const chat = async (maxTokens) => {
      const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${PORTAL_KEY}` }, body: chatBody('ui-chat', { max_tokens: maxTokens, user: 'gamma' }) });
      assert.equal(r.status, 200, r.text);
      sent.push(r.json.usage);
    };
    for (const n of [3, 5, 7]) await chat(n);
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const me = async () => (await http(`${gw.url}/v1/me`, { headers: { authorization: `Bearer ${PORTAL_KEY}` } })).json;
    const tokens = () => sent.reduce((t, u) => t + u.prompt_tokens + u.completion_tokens, 0);
    // tokens are charged when a request ends: wait for that, not for time
    const charged = () => waitFor(async () => (await me()).limits.find((l) => l.name === 'tokens_per_hour')?.remaining === PORTAL_LIMITS.tokensPerHour - tokens(), { timeoutMs: WAIT, what: 'gamma\'s tokens charged' });
    await charged();
    assert.equal((await http(`${gw.url}/admin/keys/k-portal`, { headers: admin })).json?.source, 'config');

    await inPortal(gw.url, PORTAL_KEY, async (portal) => {
      await see(portal.locator('#who').getByText('gamma'), 'the signed-in customer gamma');
      // GET /v1/me's prices: per token, shown per 1M tokens (cached prompt tokens cost the prompt price)
      const r = await see(portal.getByRole('row').filter({ hasText: 'ui-chat' }), 'ui-chat with its prices');
      assert.match(await r.innerText(), /1 per 1M prompt tokens, 2 per 1M completion tokens, 1 per 1M cached prompt tokens/);
      assert.equal(await portal.getByRole('cell', { name: 'file-chat' }).count(), 0, 'file-chat (published to beta only) is not shown to gamma');

      // the key's limits from the config, as the ratelimit plugin counts them (memory backend)
      await portal.goto(`${gw.url}/portal/#limits`);
      let rpm = await limitRow(portal, 'requests per minute');
      assert.match(await rpm.innerText(), /this key[\s\S]*100 requests per minute[\s\S]*97 of 100/);
      assert.equal(await rpm.locator('meter').getAttribute('value'), '97');
      const left = PORTAL_LIMITS.tokensPerHour - tokens();
      const tph = await limitRow(portal, 'tokens per hour');
      assert.match(await tph.innerText(), new RegExp(`${left.toLocaleString('en-US')} of 100,000`));
      assert.match(await tph.innerText(), /\d+ (min|s)/, 'the time until the window is empty');
      // one more request, then Refresh: one fewer left
      await chat(4);
      await charged();
      await portal.getByRole('button', { name: 'Refresh' }).click();
      rpm = await see(portal.locator('#portal-limits').getByRole('row').filter({ hasText: '96 of 100' }), 'the requests-per-minute limit after one more request');
      assert.equal(await rpm.locator('meter').getAttribute('value'), '96');
      await shot('portal-limits', portal);

      // usage: what ig-sim generated for gamma, exactly, at ui-chat's prices
      const simUsage = (await (await fetch(`${sim.url}/sim/usage`)).json()).users.gamma;
      assert.equal(simUsage.requests, sent.length);
      await portal.goto(`${gw.url}/portal/#usage`);
      await see(portal.locator('#portal-by-day canvas'), 'the portal\'s per-day chart');
      const stat = (label) => portal.locator('.stat').filter({ hasText: label }).locator('.value').innerText();
      const n = (x) => x.toLocaleString('en-US');
      await see(portal.locator('.stat').filter({ hasText: 'Requests' }).getByText(String(sent.length), { exact: true }), 'gamma\'s request count');
      assert.equal(await stat('Prompt tokens'), n(simUsage.prompt_tokens));
      assert.equal(await stat('Completion tokens'), n(simUsage.completion_tokens));
      assert.equal(await stat('Cost (USD)'), costOf(sent));
      const today = new Date().toISOString().slice(0, 10);
      const day = await chartData('portal-by-day');
      assert.equal(day.datasets[0].data[day.labels.indexOf(today)], simUsage.prompt_tokens + simUsage.completion_tokens, `tokens today: ${JSON.stringify(day)}`);
      await portal.getByLabel('Show', { exact: true }).selectOption('requests');
      await waitFor(async () => (await chartData('portal-by-model'))?.datasets[0].label === 'Requests', { what: 'the portal chart in requests' });
      const byModel = await chartData('portal-by-model');
      assert.deepEqual({ labels: byModel.labels, data: byModel.datasets[0].data }, { labels: ['ui-chat'], data: [sent.length] });
      const text = await portal.locator('body').innerText();
      assert.ok(!/acme|beta|file-chat|ui-audio/i.test(text), `the portal shows something of another customer:\n${text}`);
      await shot('portal-usage-gamma', portal);
    });
  });

  it('the portal on a gateway counting limits in Redis without billing: limits without what is left, usage not available', async () => {
    const redis = await startRedis();
    let rgw;
    try {
      rgw = await startGateway({
        name: 'infergate-redis',
        models: [model('redis-chat', [sim], { pricing: PRICES })],
        server: { adminKeys: [sha(ADMIN_KEY)], ui: { dir: path.join(BUILD_DIR, 'ui') } },
        plugins: { dir: PLUGINS_DIR, load: ['vllm', 'leastload', 'apikey', 'ratelimit'], options: { apikey: apikeyOptions, ratelimit: { backend: 'redis', redisUrl: redis.url } } },
      });
      const r = await http(`${rgw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${PORTAL_KEY}` }, body: chatBody('redis-chat') });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '99', 'Redis counted the request');
      await inPortal(rgw.url, PORTAL_KEY, async (portal) => {
        await portal.goto(`${rgw.url}/portal/#limits`);
        const rpm = await limitRow(portal, 'requests per minute');
        assert.match(await rpm.innerText(), /100 requests per minute[\s\S]*not known here[\s\S]*—/);
        assert.equal(await rpm.locator('meter').count(), 0, 'no meter of an unknown remainder');
        await shot('portal-limits-redis', portal);
        await portal.goto(`${rgw.url}/portal/#usage`);
        await see(portal.locator('.notice.unavailable').getByText('does not load the billing plugin'), 'the portal saying usage is not available');
      });
      await rgw.checkAliveAndStop();
    } finally {
      await rgw?.stop();
      await redis.stop();
    }
  });

  it('revokes the key: the API refuses it with 401', async () => {
    await go('#customers', 'Customers & keys');
    await page.getByRole('button', { name: `Revoke ${acmeKeyId}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await see(page.getByRole('row').filter({ hasText: acmeKeyId }).getByText('revoked'), `key ${acmeKeyId} shown as revoked`);
    const r = await http(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${acmeKey}` }, body: chatBody('ui-chat') });
    assert.equal(r.status, 401, `a chat with the revoked key: ${r.text}`);
    assert.equal(r.json?.error?.code, 'invalid_api_key');
    // and the playground says so
    await go('#playground', 'Playground');
    await page.getByLabel('Model', { exact: true }).selectOption('ui-chat');
    await page.getByLabel('API key').fill(acmeKey);
    await page.getByLabel('Message', { exact: true }).fill('still there?');
    await page.getByRole('button', { name: 'Send' }).click();
    await see(page.getByRole('alert').filter({ hasText: '401' }), 'the playground showing the 401 of the revoked key');
    await page.setViewportSize({ width: 390, height: 844 });
    await go('#models', 'Models');
    await shot('console-models-phone');
  });

  it('on a gateway without apikey and billing: the pages say what is not available, the playground needs no key', async () => {
    const bare = await startGateway({
      name: 'infergate-bare',
      models: [model('bare-chat', [sim])],
      server: { adminKeys: [sha(ADMIN_KEY)], ui: { dir: path.join(BUILD_DIR, 'ui') } },
    });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = page;
    page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
    try {
      await page.goto(`${bare.url}/ui/`);
      await (await see(page.getByLabel('Admin key'), 'the sign-in form')).fill(ADMIN_KEY);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await see(page.getByRole('row').filter({ hasText: 'bare-chat' }).getByText('no auth plugin'), 'bare-chat without an auth plugin');
      for (const [hash, heading, text] of [
        ['#customers', 'Customers & keys', 'need the apikey plugin'],
        ['#usage', 'Usage', 'needs the billing plugin'],
        ['#invoices', 'Invoices', 'need the billing plugin'],
      ]) {
        await page.goto(`${bare.url}/ui/${hash}`);
        await see(page.getByRole('heading', { level: 1, name: heading }), `the ${heading} page`);
        await see(page.locator('.notice.unavailable').getByText(text), `"${text}" on the ${heading} page`);
      }
      await page.goto(`${bare.url}/ui/#playground/bare-chat`);
      await see(page.locator('#pg-model option[value="bare-chat"]'), 'bare-chat in the playground', { state: 'attached' });
      await page.getByLabel('Message', { exact: true }).fill('no key needed here');
      await page.getByRole('button', { name: 'Send' }).click();
      await see(page.locator('.msg.assistant[data-done="true"]'), 'an answer without an API key', { timeout: WAIT * 2 });
    } finally {
      page = p;
      await ctx.close();
    }
    await bare.checkAliveAndStop();
  });

  it('signs out; no page broke the CSP, threw or had a control without a label; the gateway stops cleanly', async () => {
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await see(page.getByLabel('Admin key'), 'the sign-in form after signing out');
    const r = await http(`${gw.url}/ui/api/session`, { headers: { cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ') } });
    assert.equal(r.status, 401, 'the session is over');
    // the one expected console error is the playground's refused call (a 401 the browser logs)
    const unexpected = problems.filter((p) => !/status of 40[14]/.test(p));
    assert.deepEqual(unexpected, [], 'CSP violations, script errors or controls without a label');
    await sim.checkAliveAndStop();
    await gw.checkAliveAndStop();
  });
});
