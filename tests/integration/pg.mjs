// A throwaway PostgreSQL server for tests: Debian's postgresql (initdb/pg_ctl from
// /usr/lib/postgresql/<version>/bin) in a temporary directory, on a free TCP port of 127.0.0.1,
// trust authentication. As root it runs as the postgres user (initdb refuses root).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Proc, freePort, run } from './harness.mjs';

export function pgBinDir() {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return null;
  const v = fs.readdirSync(base).filter((d) => fs.existsSync(path.join(base, d, 'bin/pg_ctl'))).sort((a, b) => b - a);
  return v.length ? path.join(base, v[0], 'bin') : null;
}

const asRoot = process.getuid?.() === 0;
// setpriv execs the tool itself (no parent left between our signals and postgres)
const SETPRIV = ['--reuid', 'postgres', '--regid', 'postgres', '--init-groups', '--'];

function pgUser() {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  assert.ok(line, 'running as root needs the postgres user (the postgresql package makes it)');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Runs a PostgreSQL tool, as postgres when we are root. */
function tool(bin, args, opts = {}) {
  return asRoot ? run('setpriv', [...SETPRIV, bin, ...args], opts) : run(bin, args, opts);
}

export class PgServer {
  static async start() {
    const bin = pgBinDir();
    assert.ok(bin, 'PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-pg-'));
    if (asRoot) {
      const { uid, gid } = pgUser();
      fs.chownSync(dir, uid, gid);
      fs.chmodSync(dir, 0o755);
    }
    const s = new PgServer();
    s.bin = bin;
    s.dir = dir;
    s.data = path.join(dir, 'data');
    const r = await tool(path.join(bin, 'initdb'), ['-D', s.data, '-A', 'trust', '-U', 'postgres', '--no-sync'], { timeoutMs: 60000 });
    assert.equal(r.code, 0, `initdb: ${r.stderr}`);
    s.port = await freePort();
    await s.startServer();
    s.url = `postgres://postgres@127.0.0.1:${s.port}/postgres`;
    return s;
  }
  // the server in the foreground, as a harness Proc: killed with the test whatever happens
  async startServer() {
    const args = ['-D', this.data, '-p', String(this.port), '-k', this.dir, '-h', '127.0.0.1', '-c', 'fsync=off',
      '-c', 'max_connections=50'];
    const postgres = path.join(this.bin, 'postgres');
    this.proc = asRoot ? new Proc(`postgres:${this.port}`, 'setpriv', [...SETPRIV, postgres, ...args])
      : new Proc(`postgres:${this.port}`, postgres, args);
    await this.proc.waitForOutput(/database system is ready to accept connections/, 60000);
  }
  async stopServer() {
    await this.proc.stop({ signal: 'SIGINT', timeoutMs: 30000 }); // fast shutdown
  }
  /** One SQL statement through psql; its rows as arrays of strings. */
  async sql(q) {
    const r = await run(path.join(this.bin, 'psql'), ['-X', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-d', this.url, '-c', q]);
    assert.equal(r.code, 0, `psql ${q}: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.length).map((l) => l.split('\t'));
  }
  async destroy() {
    if (this.proc) await this.proc.stop({ signal: 'SIGQUIT', timeoutMs: 10000 });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

