// `infergate -t -c FILE`: exit 0 for a valid file; exit 1 with "file:line: path: message" for each
// problem. The shipped configs must validate.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gatewayPath, run, writeTmp, ROOT, PLUGINS_DIR, BUILD_DIR, makeCert } from './harness.mjs';

const check = (file) => run(gatewayPath(), ['-t', '-c', file], { timeoutMs: 30000 });

// A shipped config with plugins.dir pointed at the build under test.
function shipped(rel, replace = (s) => s) {
  // ./build/ (plugins, the simulator as a replica's command) is the build under test
  const text = fs.readFileSync(path.join(ROOT, rel), 'utf8').replace(/dir: \.\/build\/plugins/, `dir: ${JSON.stringify(PLUGINS_DIR)}`)
    .replaceAll('"./build/', `"${BUILD_DIR}/`);
  return writeTmp(path.basename(rel).replace('.yaml', `-${Math.random().toString(36).slice(2)}.yaml`), replace(text));
}

const header = `server:
  listen: ["127.0.0.1:18080"]
plugins:
  dir: ${JSON.stringify(PLUGINS_DIR)}
  load: [vllm, leastload]
`;
// line numbers below count from 1; header is 5 lines
const goodModels = `models:
  - name: chat
    engine: VLLM
    features: [TextGeneration]
    endpoints: ["http://127.0.0.1:8000"]
`;

describe('infergate -t (validate config)', () => {
  it('conf/infergate.yaml is valid', async () => {
    const r = await check(shipped('conf/infergate.yaml'));
    assert.equal(r.code, 0, r.stderr);
  });

  // every file in conf/examples/, found by listing the folder: a new example is checked too
  const examples = fs.readdirSync(path.join(ROOT, 'conf/examples')).filter((f) => /\.ya?ml$/.test(f)).sort();
  it('conf/examples/ has the examples the README links to', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const m of readme.matchAll(/conf\/examples\/([\w.-]+\.ya?ml)/g)) assert.ok(examples.includes(m[1]), `README links ${m[0]}`);
    assert.ok(examples.length >= 6, examples.join(' '));
  });
  for (const name of examples) {
    it(`conf/examples/${name} is valid`, async () => {
      let replace = (s) => s;
      if (/certificate:/.test(fs.readFileSync(path.join(ROOT, 'conf/examples', name), 'utf8'))) {
        const { certificate, key } = await makeCert(); // the example names files made at install time
        replace = (s) => s.replace(/certificate: [^\s,}]+/, `certificate: ${JSON.stringify(certificate)}`)
          .replace(/key: var\/tls\/key\.pem/, `key: ${JSON.stringify(key)}`);
      }
      const r = await check(shipped(`conf/examples/${name}`, replace));
      assert.equal(r.code, 0, `${name}:\n${r.stderr}`);
      assert.match(r.stderr, /test is successful/);
    });
  }

  it('a minimal valid file', async () => {
    const f = writeTmp('good.yaml', header + goodModels);
    const r = await check(f);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /good\.yaml:\d+:/, 'no error lines');
  });

  const bad = [
    {
      name: 'unknown key',
      text: header.replace('  listen:', '  lisen: ["x"]\n  listen:') + goodModels,
      line: 2,
      re: /lisen/,
    },
    {
      name: 'bad size',
      text: header.replace('server:\n', 'server:\n  maxBodySize: lots\n') + goodModels,
      line: 2,
      re: /maxBodySize/,
    },
    {
      name: 'bad duration',
      text: header.replace('server:\n', 'server:\n  firstByteTimeout: soon\n') + goodModels,
      line: 2,
      re: /firstByteTimeout/,
    },
    {
      name: 'bad workers',
      text: header.replace('server:\n', 'server:\n  workers: many\n') + goodModels,
      line: 2,
      re: /workers/,
    },
    {
      name: 'unknown engine',
      text: header + goodModels.replace('engine: VLLM', 'engine: NoSuchEngine'),
      line: 8,
      re: /NoSuchEngine/,
    },
    {
      name: 'unknown feature',
      text: header + goodModels.replace('[TextGeneration]', '[Telepathy]'),
      line: 9,
      re: /Telepathy/,
    },
    {
      name: 'model without a name',
      text: header + goodModels.replace('  - name: chat\n    engine', '  - engine'),
      line: 7,
      re: /name/,
    },
    {
      name: 'duplicate model names',
      text: header + goodModels + goodModels.replace('models:\n', ''),
      line: 11,
      re: /chat/,
    },
    {
      name: 'listen address without a port',
      text: header.replace('"127.0.0.1:18080"', '"localhost"') + goodModels,
      line: 2,
      re: /listen/,
    },
    {
      name: 'plugin that does not exist',
      text: header.replace('[vllm, leastload]', '[vllm, leastload, nosuchplugin]') + goodModels,
      line: 5,
      re: /nosuchplugin/,
    },
    {
      name: 'YAML syntax error',
      text: header + goodModels.replace('endpoints: ["http://127.0.0.1:8000"]', 'endpoints: ["http://127.0.0.1:8000"'),
      re: /./,
    },
  ];

  for (const c of bad) {
    it(`rejects: ${c.name}`, async () => {
      const f = writeTmp(`bad-${c.name.replace(/\W+/g, '-')}.yaml`, c.text);
      const r = await check(f);
      assert.equal(r.code, 1, `exit status 1 expected, got ${r.code}; stderr: ${r.stderr}`);
      const esc = f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const m = new RegExp(`^${esc}:(\\d+): (.*)$`, 'm').exec(r.stderr);
      assert.ok(m, `a "file:line: message" line in stderr:\n${r.stderr}`);
      if (c.line !== undefined) {
        const lines = [...r.stderr.matchAll(new RegExp(`^${esc}:(\\d+): (.*)$`, 'gm'))];
        assert.ok(
          lines.some((l) => Number(l[1]) === c.line && c.re.test(l[2])),
          `an error at line ${c.line} matching ${c.re}:\n${r.stderr}\n--- file ---\n${c.text}`,
        );
      }
    });
  }

  it('reports every problem in a file, not just the first', async () => {
    const text = header.replace('server:\n', 'server:\n  workers: many\n') + goodModels.replace('engine: VLLM', 'engine: NoSuchEngine');
    const f = writeTmp('bad-two.yaml', text);
    const r = await check(f);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad-two\.yaml:2: .*workers/);
    assert.match(r.stderr, /bad-two\.yaml:9: .*NoSuchEngine/);
  });

  it('a file that does not exist', async () => {
    const r = await check(path.join(ROOT, 'no-such-dir/none.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /none\.yaml/);
  });
});
