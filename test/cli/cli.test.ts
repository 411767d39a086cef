/** The `scimd` command line and the automation contract (issue: foundation), run as a real process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { freePort } from '../process.js';

const BIN = fileURLToPath(new URL('../../bin/scimd.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'scimd-cli-'));
const DB = join(dir, 'nested', 'scimd.db');
const env = { ...process.env, SCIMD_DATABASE: DB, SCIMD_LOG_LEVEL: 'warn' };

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let server: ChildProcess;
let base: string;

async function startServer(port: number, extraEnv: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...env, SCIMD_PORT: String(port), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  // generous: the whole suite runs in parallel on a small machine
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`scimd serve did not start (exit code ${child.exitCode}): ${stderr}`);
}

const get = (token: string) => fetch(`${base}/Users`, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}/scim/v2`;
  server = await startServer(port, { SCIMD_BOOTSTRAP_TOKEN: 'bootstrap-secret' });
});
afterAll(() => {
  server.kill('SIGKILL');
});

describe('scimd CLI', () => {
  it('serve: SCIMD_BOOTSTRAP_TOKEN is accepted; anything else is 401', async () => {
    expect((await get('bootstrap-secret')).status).toBe(200);
    expect((await get('other')).status).toBe(401);
  });

  it('token create prints only the token, works while the server runs, and the server accepts it at once', async () => {
    const r = cli('token', 'create', '--org', 'acme', '--name', 'entra-prod', '--dialect', 'entra');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^scimd_[A-Za-z0-9_-]{43}\n$/);
    const token = r.stdout.trim();
    expect((await get(token)).status).toBe(200);

    const list = JSON.parse(cli('token', 'list', '--json').stdout);
    const entry = list.find((t: any) => t.name === 'entra-prod');
    expect(entry).toMatchObject({ organization: 'acme', dialect: 'entra', revoked: null });
    expect(JSON.stringify(list)).not.toContain(token);

    const revoke = cli('token', 'revoke', entry.id);
    expect(revoke.code).toBe(0);
    expect((await get(token)).status).toBe(401);
    expect(cli('token', 'revoke', entry.id).code).toBe(1);
  });

  it('token create rejects an unknown dialect; unknown commands exit 2 with usage', () => {
    const r = cli('token', 'create', '--dialect', 'nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown dialect "nope"/);
    expect(r.stdout).toBe('');
    const u = cli('frobnicate');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/usage:/);
  });

  it('organizations made by the CLI are isolated from each other', async () => {
    const a = cli('token', 'create', '--org', 'org-a').stdout.trim();
    const b = cli('token', 'create', '--org', 'org-b').stdout.trim();
    const created = await fetch(`${base}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'only-in-a' }),
    });
    const id = ((await created.json()) as { id: string }).id;
    const fromB = await fetch(`${base}/Users/${id}`, { headers: { authorization: `Bearer ${b}` } });
    expect(fromB.status).toBe(404);
  });

  it('token create --admin makes an admin token: the admin API takes it, the SCIM API does not', async () => {
    const admin = cli('token', 'create', '--admin', '--name', 'ops').stdout.trim();
    const audit = await fetch(`${base.replace('/scim/v2', '')}/admin/api/audit?limit=1`, { headers: { authorization: `Bearer ${admin}` } });
    expect(audit.status).toBe(200);
    expect((await get(admin)).status).toBe(403);
    expect(JSON.parse(cli('token', 'list', '--json').stdout).find((t: any) => t.name === 'ops')).toMatchObject({ scope: 'admin' });
  });

  it('audit prints the log as NDJSON, filters it, and --follow prints new entries as they are written', async () => {
    const post = (userName: string) =>
      fetch(`${base}/Users`, {
        method: 'POST',
        headers: { authorization: 'Bearer bootstrap-secret', 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName }),
      });
    expect((await post('audited')).status).toBe(201);
    expect((await post('audited')).status).toBe(409);
    const lines = cli('audit', '--resource-type', 'User').stdout.trim().split('\n').map((l) => JSON.parse(l));
    const mine = lines.filter((e) => e.tokenName === 'bootstrap' && e.operation === 'create');
    expect(mine.slice(-2).map((e) => [e.status, e.organization])).toEqual([[201, 'default'], [409, 'default']]);
    const failures = cli('audit', '--outcome', 'failure', '--since', '1h').stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(failures.every((e) => e.status >= 400)).toBe(true);
    expect(cli('audit', '--limit', '1').stdout.trim().split('\n')).toHaveLength(1);
    expect(cli('audit', '--since', 'last tuesday').code).toBe(1);

    const follow = spawn(process.execPath, [BIN, 'audit', '--follow', '--since', '1s'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follow.stdout!.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await post('followed')).status).toBe(201);
    for (let i = 0; i < 50 && !out.includes('followed'); i++) await new Promise((r) => setTimeout(r, 100));
    follow.kill('SIGTERM');
    expect(out).toContain('"after":"followed"');
  });

  it('audit --follow prints an entry that becomes visible after a later-numbered one (PostgreSQL commit order)', async () => {
    const db = join(dir, 'follow-order.db');
    const store = new SqliteStore(db);
    await store.migrate();
    await store.appendAudit([{ at: new Date().toISOString(), operation: 'create', status: 201, changes: [], requestId: 'first' }]);
    await store.close();
    const follow = spawn(process.execPath, [BIN, 'audit', '--follow'], { env: { ...env, SCIMD_DATABASE: db }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follow.stdout!.on('data', (d) => (out += d));
    try {
      for (let i = 0; i < 50 && !out.includes('"first"'); i++) await new Promise((r) => setTimeout(r, 100));
      // a later-numbered entry shows first, then one numbered before it (as a transaction that commits late)
      const raw = new Database(db);
      const insert = raw.prepare("INSERT INTO audit_log (seq, at, operation, status, changes, request_id) VALUES (?, ?, 'patch', 200, '[]', ?)");
      insert.run(100, new Date().toISOString(), 'later-numbered');
      for (let i = 0; i < 50 && !out.includes('later-numbered'); i++) await new Promise((r) => setTimeout(r, 100));
      insert.run(50, new Date().toISOString(), 'committed-late');
      raw.close();
      for (let i = 0; i < 50 && !out.includes('committed-late'); i++) await new Promise((r) => setTimeout(r, 100));
      const ids = out.trim().split('\n').map((l) => JSON.parse(l).requestId);
      expect(ids).toEqual(['first', 'later-numbered', 'committed-late']);
    } finally {
      follow.kill('SIGTERM');
    }
  });

  it('serve prunes audit entries older than SCIMD_AUDIT_RETENTION_DAYS at start; SCIMD_AUDIT=off records nothing', async () => {
    const db = join(dir, 'retention.db');
    const store = new SqliteStore(db);
    await store.migrate();
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    const recent = new Date(Date.now() - 10 * 86_400_000).toISOString();
    await store.appendAudit([
      { at: old, operation: 'authenticate', status: 401, changes: [] },
      { at: recent, operation: 'authenticate', status: 401, changes: [] },
    ]);
    await store.close();
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = await startServer(port, { SCIMD_DATABASE: db, SCIMD_AUDIT_RETENTION_DAYS: '30', SCIMD_AUDIT: 'off' });
    try {
      await fetch(`http://127.0.0.1:${port}/scim/v2/Users`, { headers: { authorization: 'Bearer wrong' } });
      const reader = new SqliteStore(db);
      const left = await reader.listAudit({ limit: 10 });
      await reader.close();
      expect(left.map((e) => e.at)).toEqual([recent]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('events dead lists dead-lettered events; events retry queues them again', async () => {
    const db = join(dir, 'events.db');
    const store = new SqliteStore(db);
    await store.migrate();
    const org = await store.ensureOrganization('default');
    const event = { id: 'evt-1', type: 'user.created' as const, at: new Date().toISOString(), organization: org.id, resource: { type: 'User', id: 'u1' }, changes: [] };
    await store.createResource(org.id, 'User', 'u1', event.at, { attributes: { userName: 'u' }, index: [], uniqueKeys: [], record: { events: [event] } });
    const [claimed] = await store.claimEvents(new Date().toISOString(), new Date(Date.now() + 60_000).toISOString(), 1);
    await store.failEvent(claimed!.seq, 'the webhook answered HTTP 500', undefined);
    await store.close();
    const listed = spawnSync(process.execPath, [BIN, 'events', 'dead', '--json'], { env: { ...env, SCIMD_DATABASE: db }, encoding: 'utf8' });
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: 'evt-1', type: 'user.created', attempts: 1, lastError: 'the webhook answered HTTP 500' })]);
    const retry = spawnSync(process.execPath, [BIN, 'events', 'retry', 'evt-1'], { env: { ...env, SCIMD_DATABASE: db }, encoding: 'utf8' });
    expect([retry.status, retry.stderr]).toEqual([0, 'scimd: 1 dead-lettered event queued for delivery again\n']);
    expect(spawnSync(process.execPath, [BIN, 'events', 'retry', 'evt-1'], { env: { ...env, SCIMD_DATABASE: db } }).status).toBe(1);
    expect(spawnSync(process.execPath, [BIN, 'events', 'dead'], { env: { ...env, SCIMD_DATABASE: db }, encoding: 'utf8' }).stdout).toBe('');
  });

  it('SIGTERM drains an in-flight request, then exits 0', async () => {
    const port = await freePort();
    const child = await startServer(port, { SCIMD_BOOTSTRAP_TOKEN: 'bootstrap-secret' });
    const body = JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'in-flight' });
    const response = new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/scim/v2/Users', headers: { authorization: 'Bearer bootstrap-secret', 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10)); // the request is now in flight
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 200);
      }, 200);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(await response).toBe(201);
    expect(await exited).toBe(0);
  });
});

describe('slow clients', () => {
  it('a request not sent in full within SCIMD_REQUEST_TIMEOUT is answered 408 and its connection closed', async () => {
    const { connect } = await import('node:net');
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = await startServer(port, { SCIMD_REQUEST_TIMEOUT: '1', SCIMD_DATABASE: join(dir, 'slow.db'), SCIMD_BOOTSTRAP_TOKEN: 'slow-token' });
    try {
      const started = Date.now();
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer slow-token\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{"user'));
        let got = '';
        socket.on('data', (d) => (got += d));
        socket.on('close', () => resolve(got));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
