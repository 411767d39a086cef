/** The `scimd` command line and the automation contract (issue: foundation), run as a real process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { freePort } from '../process.js';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';

const BIN = fileURLToPath(new URL('../../bin/scimd.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'scimd-cli-'));
const DB = join(dir, 'nested', 'scimd.db');
const env = { ...process.env, SCIMD_DATABASE: DB, SCIMD_LOG_LEVEL: 'warn' };
/** SCIMD_BOOTSTRAP_TOKEN (at least 32 characters). */
const BOOT = 'bootstrap-secret-of-at-least-32-characters';

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
  server = await startServer(port, { SCIMD_BOOTSTRAP_TOKEN: BOOT });
});
afterAll(() => {
  server.kill('SIGKILL');
});

describe('scimd CLI', () => {
  it('serve: SCIMD_BOOTSTRAP_TOKEN is accepted; anything else is 401', async () => {
    expect((await get(BOOT)).status).toBe(200);
    expect((await get('other')).status).toBe(401);
  });

  it('token create prints only the token, works while the server runs, and the server accepts it at once', async () => {
    expect(cli('org', 'create', 'acme').code).toBe(0);
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

  it('token create --scopes --expires: the server holds the token to them; token list shows them and warns before expiry', async () => {
    const r = cli('token', 'create', '--name', 'auditor', '--scopes', 'scim:read', '--expires', '3d');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^scimd: scim token [0-9a-f]{16} "auditor" of organization default, scim:read, valid until \d{4}-\d\d-\d\dT/m);
    const token = r.stdout.trim();
    expect((await get(token)).status).toBe(200);
    const created = await fetch(`${base}/Users`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'not-by-an-auditor' }),
    });
    expect(created.status).toBe(403);

    const list = cli('token', 'list');
    const row = list.stdout.split('\n').find((l) => l.includes('\tauditor\t'))!;
    expect(row.split('\t').slice(4, 8)).toEqual(['scim', 'scim:read', expect.any(String), expect.stringMatching(/^\d{4}-/)]);
    expect(list.stderr).toMatch(/token [0-9a-f]{16} "auditor" expires in 2 days \(.*\): make its successor and switch the IdP to it before then/);
    expect(cli('token', 'create', '--scopes', 'scim:read:Devices')).toMatchObject({ code: 1, stderr: expect.stringMatching(/names no endpoint of this server; its endpoints are Users, Groups/) });
    expect(cli('token', 'create', '--expires', 'yesterday')).toMatchObject({ code: 1, stderr: expect.stringMatching(/a span from now/) });
    expect(cli('token', 'create', '--admin', '--scopes', 'scim:read')).toMatchObject({ code: 1, stderr: expect.stringMatching(/an admin token has none/) });
  });

  it('token create --oauth-client: the secret alone on stdout, the client id on stderr; serve grants it access tokens', async () => {
    const r = cli('token', 'create', '--oauth-client', '--name', 'okta-oauth', '--scopes', 'scim:read');
    expect(r.code).toBe(0);
    const secret = r.stdout.trim();
    expect(r.stdout).toMatch(/^scimd_[A-Za-z0-9_-]{43}\n$/);
    const clientId = /client_id ([0-9a-f]{16})/.exec(r.stderr)?.[1];
    expect(r.stderr).toMatch(/OAuth client "okta-oauth" of organization default, scim:read; client_id [0-9a-f]{16}; its client_secret shown once, on stdout/);
    const root = base.replace(/\/scim\/v2$/, '');
    const granted = await fetch(`${root}/oauth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId!, client_secret: secret }),
    });
    expect(granted.status).toBe(200);
    const { access_token: accessToken } = (await granted.json()) as { access_token: string };
    expect((await get(accessToken)).status).toBe(200);
    expect((await get(secret)).status).toBe(403); // the secret is not a SCIM token
    expect(JSON.parse(cli('token', 'list', '--json').stdout).find((t: any) => t.name === 'okta-oauth')).toMatchObject({ scope: 'client', scopes: ['scim:read'] });
  });

  it('token create --trust-issuer: the id on stdout; serve takes the JWTs that issuer signs for the audience', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = join(dir, 'gateway.pem');
    writeFileSync(pem, await exportSPKI(publicKey));
    const r = cli('token', 'create', '--trust-issuer', 'https://gateway.example', '--audience', 'scimd', '--public-key', pem, '--claims', 'azp=hr-sync', '--scopes', 'scim:read', '--name', 'gateway');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{16}\n$/);
    expect(r.stderr).toMatch(/organization default now trusts the JWTs of https:\/\/gateway.example for scimd, up to scim:read; revoke with scimd token revoke [0-9a-f]{16}/);
    const sign = (azp: string) => new SignJWT({ azp }).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://gateway.example').setAudience('scimd').setExpirationTime('5m').sign(privateKey);
    expect((await get(await sign('hr-sync'))).status).toBe(200);
    expect((await get(await sign('someone-else'))).status).toBe(401);
    expect(cli('token', 'create', '--trust-issuer', 'https://gateway.example')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--trust-issuer needs --audience/) });
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
    expect([cli('org', 'create', 'org-a').code, cli('org', 'create', 'org-b').code]).toEqual([0, 0]);
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

  it('token create --admin (no --org) makes an operator token: the admin API takes it, the SCIM API does not', async () => {
    const admin = cli('token', 'create', '--admin', '--name', 'ops').stdout.trim();
    const audit = await fetch(`${base.replace('/scim/v2', '')}/admin/api/audit?limit=1`, { headers: { authorization: `Bearer ${admin}` } });
    expect(audit.status).toBe(200);
    expect((await get(admin)).status).toBe(403);
    expect(JSON.parse(cli('token', 'list', '--json').stdout).find((t: any) => t.name === 'ops')).toMatchObject({ scope: 'operator', organization: null });
  });

  it('audit prints the log as NDJSON, filters it, and --follow prints new entries as they are written', async () => {
    const post = (userName: string) =>
      fetch(`${base}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BOOT}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName }),
      });
    expect((await post('audited')).status).toBe(201);
    expect((await post('audited')).status).toBe(409);
    const lines = cli('audit', '--resource-type', 'User').stdout.trim().split('\n').map((l) => JSON.parse(l));
    const mine = lines.filter((e) => e.tokenName === 'SCIMD_BOOTSTRAP_TOKEN' && e.operation === 'create');
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
    expect([retry.status, retry.stderr.split('\n').at(-2)]).toEqual([0, 'scimd: 1 dead-lettered event queued for delivery again']);
    expect(spawnSync(process.execPath, [BIN, 'events', 'retry', 'evt-1'], { env: { ...env, SCIMD_DATABASE: db } }).status).toBe(1);
    expect(spawnSync(process.execPath, [BIN, 'events', 'dead'], { env: { ...env, SCIMD_DATABASE: db }, encoding: 'utf8' }).stdout).toBe('');
  });

  it('SIGTERM drains an in-flight request, then exits 0', async () => {
    const port = await freePort();
    const child = await startServer(port, { SCIMD_BOOTSTRAP_TOKEN: BOOT });
    const body = JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'in-flight' });
    const response = new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/scim/v2/Users', headers: { authorization: `Bearer ${BOOT}`, 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(body) } },
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
    const child = await startServer(port, { SCIMD_REQUEST_TIMEOUT: '1', SCIMD_DATABASE: join(dir, 'slow.db'), SCIMD_BOOTSTRAP_TOKEN: BOOT });
    try {
      const started = Date.now();
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(`POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${BOOT}\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{"user`));
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

describe('operator safety on the command line', () => {
  /** A command on a database of its own. */
  const on = (db: string) => (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, SCIMD_DATABASE: db }, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('organizations are made, listed, renamed and deleted on purpose; a typo in --org makes nothing', () => {
    const db = join(dir, 'orgs.db');
    const run = on(db);
    expect(run('org', 'create', 'acme').code).toBe(0);
    expect(run('org', 'create', 'Acme')).toMatchObject({ code: 1, stderr: expect.stringMatching(/named "acme" exists already/) });
    const typo = run('token', 'create', '--org', 'ACME');
    expect([typo.code, typo.stdout]).toEqual([1, '']);
    expect(typo.stderr).toMatch(/There is no organization "ACME"\. Did you mean "acme"\?/);
    expect(run('token', 'create', '--org', 'acme', '--name', 'idp').code).toBe(0);
    expect(run('token', 'create', '--name', 'elsewhere').code).toBe(0); // the default organization, made on first use
    expect(JSON.parse(run('token', 'list', '--org', 'acme', '--json').stdout).map((t: { name: string }) => t.name)).toEqual(['idp']);
    const listed = JSON.parse(run('org', 'list', '--json').stdout);
    expect(listed.map((o: { name: string; tokens: number }) => [o.name, o.tokens])).toEqual([['acme', 1], ['default', 1]]);

    expect(run('org', 'rename', 'acme', 'acme-corp').code).toBe(0);
    // not on a terminal, delete says what it would delete and wants --confirm
    const asked = run('org', 'delete', 'acme-corp');
    expect([asked.code, asked.stderr]).toEqual([2, expect.stringMatching(/everything in it: no resources, 1 token, \d+ audit entries.*\n.*--confirm "acme-corp"/)]);
    expect(run('org', 'delete', 'acme-corp', '--confirm', 'acme')).toMatchObject({ code: 1, stderr: expect.stringMatching(/confirm by typing its name exactly/) });
    expect(JSON.parse(run('org', 'list', '--json').stdout)).toHaveLength(2);
    expect(run('org', 'delete', 'acme-corp', '--confirm', 'acme-corp')).toMatchObject({ code: 0, stderr: expect.stringMatching(/deleted the organization acme-corp: no resources, 1 token/) });
    expect(JSON.parse(run('org', 'list', '--json').stdout).map((o: { name: string }) => o.name)).toEqual(['default']);
  });

  it('console link prints a one-time sign-in link once, on stdout, for the operator or one organization', async () => {
    const db = join(dir, 'console.db');
    const run = on(db);
    run('org', 'create', 'acme');
    const link = run('console', 'link', '--org', 'acme', '--ttl', '2h');
    expect(link.code).toBe(0);
    expect(link.stdout).toMatch(/^http:\/\/127\.0\.0\.1:8080\/console\/signin#scimd_console_[\w-]{43}\n$/);
    expect(link.stderr).toMatch(/for the admin of acme, valid until/);
    const operator = spawnSync(process.execPath, [BIN, 'console', 'link'], { env: { ...env, SCIMD_DATABASE: db, SCIMD_PUBLIC_URL: 'https://scim.example.com/' }, encoding: 'utf8' });
    expect(operator.stdout).toMatch(/^https:\/\/scim\.example\.com\/console\/signin#/);
    expect(run('console', 'link', '--org', 'acm')).toMatchObject({ code: 1, stderr: expect.stringMatching(/no organization "acm"\. Did you mean "acme"\?/) });
    expect(run('console', 'link', '--ttl', 'soon')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--ttl takes a duration/) });
    expect(run('console', 'open')).toMatchObject({ code: 2 });
    // the link signs in once, on a server on that database
    const port = await freePort();
    const child = await startServer(port, { SCIMD_DATABASE: db, SCIMD_BOOTSTRAP_TOKEN: BOOT });
    try {
      const signIn = () => fetch(`http://127.0.0.1:${port}/admin/api/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ link: new URL(link.stdout.trim()).hash.slice(1) }) });
      expect((await signIn()).status).toBe(200);
      expect((await signIn()).status).toBe(401);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('token create --admin --org makes an admin token that sees only its organization', async () => {
    const db = join(dir, 'scoped-admin.db');
    const run = on(db);
    run('org', 'create', 'acme');
    run('org', 'create', 'globex');
    const acmeAdmin = run('token', 'create', '--admin', '--org', 'acme').stdout.trim();
    expect(JSON.parse(run('token', 'list', '--json').stdout).find((t: { scope: string }) => t.scope === 'admin')).toMatchObject({ organization: 'acme' });
    const port = await freePort();
    const child = await startServer(port, { SCIMD_DATABASE: db, SCIMD_BOOTSTRAP_TOKEN: BOOT });
    try {
      const audit = (query: string) => fetch(`http://127.0.0.1:${port}/admin/api/audit${query}`, { headers: { authorization: `Bearer ${acmeAdmin}` } });
      const own = (await (await audit('')).json()) as { entries: { organization?: string }[] };
      expect(own.entries.length).toBeGreaterThan(0);
      expect(own.entries.every((e) => e.organization === 'acme')).toBe(true);
      expect((await audit('?organization=globex')).status).toBe(404);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('revoke given a token itself never prints it', () => {
    const run = on(join(dir, 'revoke.db'));
    const secret = run('token', 'create').stdout.trim();
    const r = run('token', 'revoke', secret);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/That is a token, not a token id/);
    expect(r.stderr + r.stdout).not.toContain(secret);
  });

  it('every command that opens a database says which, on stderr; a new one is said to be new', () => {
    const db = join(dir, 'which.db');
    const first = on(db)('token', 'list');
    expect(first.stderr.split('\n')[0]).toBe(`scimd: database: SQLite file ${db} (new: it did not exist, and is created empty)`);
    for (const args of [['token', 'list'], ['org', 'list'], ['audit'], ['events', 'dead'], ['migrate']]) {
      expect(on(db)(...args).stderr.split('\n')[0]).toBe(`scimd: database: SQLite file ${db}`);
    }
  });

  it('help and usage: --help, help COMMAND, COMMAND --help; unknown options and stray arguments are refused with the usage', () => {
    const run = on(join(dir, 'help.db'));
    expect(run('--help')).toMatchObject({ code: 0, stderr: expect.stringMatching(/usage:\n {2}scimd serve/) });
    expect(run('help', 'token')).toMatchObject({ code: 0, stderr: expect.stringMatching(/^usage:\n {2}scimd token create/) });
    expect(run('token', '--help')).toMatchObject({ code: 0, stderr: expect.stringMatching(/^usage:\n {2}scimd token create/) });
    expect(run('org', 'delete', '--help')).toMatchObject({ code: 0, stderr: expect.stringMatching(/scimd org delete NAME \[--confirm NAME\]/) });
    expect(run('help', 'frobnicate')).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command "frobnicate"/) });
    expect(run('token', 'list', '--bogus')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^scimd: Unknown option '--bogus'.*\nusage:\n {2}scimd token create/s) });
    expect(run('migrate', 'extra')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^scimd: unexpected argument "extra"\nusage:\n {2}scimd migrate/) });
    expect(run('token', 'revoke')).toMatchObject({ code: 2, stderr: expect.stringMatching(/token revoke needs the token ID/) });
    expect(run('org')).toMatchObject({ code: 2, stderr: expect.stringMatching(/org needs more arguments\nusage:/) });
  });

  it('audit --resource-type in any case, singular or plural; events dead says when there are none; events retry of an unknown id says so', () => {
    const run = on(join(dir, 'words.db'));
    run('token', 'create', '--name', 'made'); // a Token create entry
    for (const given of ['Token', 'tokens', 'TOKEN']) expect(run('audit', '--resource-type', given).stdout.trim().split('\n')).toHaveLength(1);
    const dead = run('events', 'dead');
    expect([dead.code, dead.stdout, dead.stderr.split('\n')[1]]).toEqual([0, '', 'scimd: no dead-lettered events']);
    expect(run('events', 'retry', 'evt-nope')).toMatchObject({ code: 1, stderr: expect.stringMatching(/There is no dead-lettered event with id evt-nope/) });
  });

  it('a short SCIMD_BOOTSTRAP_TOKEN is refused at start without being printed; a changed one revokes the one it replaces', async () => {
    const db = join(dir, 'bootstrap.db');
    const short = spawnSync(process.execPath, [BIN, 'serve'], { env: { ...env, SCIMD_DATABASE: db, SCIMD_BOOTSTRAP_TOKEN: 'abc123' }, encoding: 'utf8' });
    expect(short.status).toBe(1);
    expect(short.stderr).toMatch(/SCIMD_BOOTSTRAP_TOKEN must be at least 32 characters \(it has 6\)/);
    expect(short.stderr).not.toContain('abc123');
    const first = 'the-first-bootstrap-token-of-32-characters';
    const second = 'the-second-bootstrap-token-of-32-characters';
    for (const secret of [first, second]) {
      const port = await freePort();
      const child = await startServer(port, { SCIMD_DATABASE: db, SCIMD_BOOTSTRAP_TOKEN: secret });
      child.kill('SIGKILL');
    }
    const active = JSON.parse(on(db)('token', 'list', '--json').stdout).filter((t: { revoked: string | null }) => t.revoked === null);
    expect(active.map((t: { name: string }) => t.name)).toEqual(['SCIMD_BOOTSTRAP_TOKEN']);
    expect(JSON.parse(on(db)('token', 'list', '--json').stdout)).toHaveLength(2);
  });
});

describe('startup and command errors name the setting and its value, and never a secret', () => {
  const BOOTSTRAP = 'a-bootstrap-token-never-to-be-printed-0123';
  const WEBHOOK_SECRET = 'a-webhook-secret-never-printed';
  /** `scimd ARGS` with these settings (and the secrets set, to check none is printed): exit code and last line. */
  const run = (settings: Record<string, string>, ...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: { ...env, SCIMD_BOOTSTRAP_TOKEN: BOOTSTRAP, SCIMD_WEBHOOK_URL: 'http://127.0.0.1:9/hook', SCIMD_WEBHOOK_SECRET: WEBHOOK_SECRET, SCIMD_PORT: '0', ...settings },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const output = r.stdout + r.stderr;
    for (const secret of [BOOTSTRAP, WEBHOOK_SECRET, 'hunter2']) expect(output).not.toContain(secret);
    return { code: r.status, last: r.stderr.trimEnd().split('\n').at(-1) };
  };

  it('SCIMD_DATABASE: a directory, not a database, a place it cannot be written or made, an unreachable PostgreSQL', () => {
    const directory = mkdtempSync(join(dir, 'a-directory-'));
    expect(run({ SCIMD_DATABASE: directory }, 'serve')).toEqual({ code: 1, last: `scimd: SCIMD_DATABASE (or --database) is ${directory}, a directory: name a SQLite file, such as ${join(directory, 'scimd.db')}` });
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'these are notes, not a database\n'.repeat(10));
    expect(run({ SCIMD_DATABASE: text }, 'migrate')).toEqual({ code: 1, last: expect.stringMatching(new RegExp(`^scimd: SCIMD_DATABASE \\(or --database\\) is ${text}, which is not a SQLite database \\(SQLite says: file is not a database`)) });
    const underFile = join(text, 'sub', 'scimd.db');
    expect(run({ SCIMD_DATABASE: underFile }, 'token', 'list')).toEqual({ code: 1, last: expect.stringMatching(new RegExp(`^scimd: SCIMD_DATABASE \\(or --database\\) is ${underFile}, but ${text} is a file, not a directory`)) });
    // a place even root cannot create a file in
    if (process.platform === 'linux') {
      expect(run({ SCIMD_DATABASE: '/proc/scimd-test.db' }, 'serve')).toEqual({ code: 1, last: expect.stringMatching(/^scimd: SCIMD_DATABASE \(or --database\) is \/proc\/scimd-test\.db, which cannot be opened for writing \(.*\): the user scimd runs as \(uid \d+\) must be able to write the file and its directory \/proc$/) });
    }
    expect(run({ SCIMD_DATABASE: 'postgres://scimd:hunter2@127.0.0.1:1/scimd', SCIMD_DB_CONNECT_TIMEOUT: '2' }, 'migrate')).toEqual({ code: 1, last: expect.stringMatching(/^scimd: SCIMD_DATABASE \(or --database\) names the PostgreSQL database scimd on 127\.0\.0\.1:1 as scimd, which cannot be opened: .*ECONNREFUSED/) });
  });

  it('SCIMD_PORT, SCIMD_LOG_LEVEL, SCIMD_TRUST_PROXY: refused before anything starts, in scimd\'s words', () => {
    const db = join(dir, 'settings.db');
    expect(run({ SCIMD_DATABASE: db, SCIMD_PORT: '99999' }, 'serve')).toEqual({ code: 1, last: 'scimd: SCIMD_PORT must be an integer from 0 to 65535; got "99999"' });
    expect(run({ SCIMD_DATABASE: db }, 'serve', '--port', '70000')).toEqual({ code: 1, last: 'scimd: --port must be an integer from 0 to 65535; got "70000"' });
    expect(run({ SCIMD_DATABASE: db, SCIMD_LOG_LEVEL: 'verbose' }, 'serve')).toEqual({ code: 1, last: 'scimd: SCIMD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "verbose"' });
    expect(run({ SCIMD_DATABASE: db, SCIMD_TRUST_PROXY: 'nonsense' }, 'serve')).toEqual({ code: 1, last: expect.stringMatching(/^scimd: SCIMD_TRUST_PROXY must be true, false, or the proxies' addresses or CIDRs .*; got "nonsense"$/) });
    expect(run({ SCIMD_DATABASE: db, SCIMD_WEBHOOK_URL: 'ftp://hook:hunter2@example.com' }, 'serve')).toEqual({ code: 1, last: 'scimd: SCIMD_WEBHOOK_URL must list http(s) URLs; got "ftp://hook:***@example.com"' });
    // nothing was opened: the settings are checked first
    expect(existsSync(db)).toBe(false);
  });

  it('a port in use names SCIMD_PORT; a host that is not this machine\'s names SCIMD_HOST', async () => {
    const db = join(dir, 'listen.db');
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    try {
      expect(run({ SCIMD_DATABASE: db, SCIMD_PORT: String(port) }, 'serve')).toEqual({ code: 1, last: `scimd: SCIMD_PORT (or --port) is ${port}, on which another process already listens at 127.0.0.1 (EADDRINUSE); stop it or choose another port` });
    } finally {
      blocker.close();
    }
    expect(run({ SCIMD_DATABASE: db, SCIMD_HOST: '192.0.2.1' }, 'serve')).toEqual({ code: 1, last: expect.stringMatching(/^scimd: SCIMD_HOST \(or --host\) is 192\.0\.2\.1, which is no address of this machine \(.*EADDRNOTAVAIL/) });
  });

  it('a backup into a directory that does not exist names the backup file, not a temporary one', () => {
    const db = join(dir, 'backup-errors.db');
    const missing = join(dir, 'no-such-directory', 'scimd.ndjson');
    expect(run({ SCIMD_DATABASE: db }, 'backup', missing)).toEqual({ code: 1, last: `scimd: cannot write the backup to ${missing}: the directory ${join(dir, 'no-such-directory')} does not exist (make it first)` });
    expect(run({ SCIMD_DATABASE: db }, 'backup', dir)).toEqual({ code: 1, last: `scimd: cannot write the backup to ${dir}: it is a directory; name a file in it` });
  });
});

describe('serve says at start what it serves, on which store, and how to make a token; and when it has stopped', () => {
  interface LogLine { level: number; msg: string; [field: string]: unknown }
  /** `scimd serve` on port 0 at log level info; resolves once it has logged what it serves (and any warning after). */
  async function started(settings: Record<string, string>) {
    const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...env, SCIMD_PORT: '0', SCIMD_LOG_LEVEL: 'info', ...settings }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
    for (let i = 0; i < 400 && !lines().some((l) => l.msg.startsWith('scimd serving')); i++) {
      if (child.exitCode !== null) throw new Error(`scimd serve exited ${child.exitCode}: ${err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 100)); // the warning, if any, is written right after
    const stopped = async () => {
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      return { code, lines: lines(), output: out + err };
    };
    return { child, lines, stderr: () => err, stopped };
  }

  it('a new SQLite database: the SCIM URL, the file, no organizations nor tokens, and the command that makes a token, which works', async () => {
    const db = join(dir, 'announce.db');
    const s = await started({ SCIMD_DATABASE: db });
    const serving = s.lines().find((l) => l.msg.startsWith('scimd serving'))!;
    expect(serving).toMatchObject({ level: 30, scimUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/scim\/v2$/), database: `SQLite file ${db}`, organizations: 0, tokens: { scim: 0, admin: 0 } });
    expect(serving.msg).toBe(`scimd serving SCIM at ${serving.scimUrl} on the SQLite file ${db}: 0 organizations, 0 active SCIM tokens, 0 admin tokens`);
    const warning = s.lines().find((l) => l.level === 40)!;
    expect(warning).toMatchObject({ command: `scimd token create --database ${db}`, msg: expect.stringContaining('no active SCIM token') });
    // the command as printed makes a token the running server accepts
    const [, ...args] = (warning.command as string).split(' ');
    const made = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, SCIMD_DATABASE: join(dir, 'elsewhere.db') }, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    expect((await fetch(`${serving.scimUrl}/Users`, { headers: { authorization: `Bearer ${made.stdout.trim()}` } })).status).toBe(200);
    const end = await s.stopped();
    expect(end.code).toBe(0);
    expect(end.lines.at(-1)).toMatchObject({ level: 30, msg: 'scimd stopped', signal: 'SIGTERM' });
  });

  it('with a bootstrap token and organizations: their counts, no warning, and never the token', async () => {
    const db = join(dir, 'announce-boot.db');
    const store = new SqliteStore(db);
    await store.migrate();
    await store.ensureOrganization('acme');
    await store.close();
    expect(spawnSync(process.execPath, [BIN, 'token', 'create', '--org', 'acme', '--admin'], { env: { ...env, SCIMD_DATABASE: db } }).status).toBe(0);
    const s = await started({ SCIMD_DATABASE: db, SCIMD_BOOTSTRAP_TOKEN: BOOT, SCIMD_PUBLIC_URL: 'https://scim.example.com/' });
    const serving = s.lines().find((l) => l.msg.startsWith('scimd serving'))!;
    expect(serving).toMatchObject({ scimUrl: 'https://scim.example.com/scim/v2', listening: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), organizations: 2, tokens: { scim: 1, admin: 1 } });
    expect(serving.msg).toMatch(/: 2 organizations, 1 active SCIM token, 1 admin token$/);
    expect(s.lines().filter((l) => l.level >= 40)).toEqual([]);
    const end = await s.stopped();
    expect(end.code).toBe(0);
    expect(end.output).not.toContain(BOOT);
  });

  it('an OAuth client is a way in too: counted, and no warning that every SCIM request will be refused', async () => {
    const db = join(dir, 'announce-oauth.db');
    expect(spawnSync(process.execPath, [BIN, 'token', 'create', '--oauth-client'], { env: { ...env, SCIMD_DATABASE: db } }).status).toBe(0);
    const s = await started({ SCIMD_DATABASE: db });
    const serving = s.lines().find((l) => l.msg.startsWith('scimd serving'))!;
    expect(serving).toMatchObject({ tokens: { scim: 0, admin: 0, oauthClients: 1, trustedIssuers: 0 } });
    expect(serving.msg).toMatch(/: 1 organization, 0 active SCIM tokens, 0 admin tokens, 1 OAuth client$/);
    expect(s.lines().filter((l) => l.level >= 40)).toEqual([]);
    expect((await s.stopped()).code).toBe(0);
  });

  it.skipIf(!postgresUrl())('PostgreSQL: its host, port, database and user, never the password', async () => {
    const url = new URL(await freshPostgresDatabase(postgresUrl()!));
    url.password = 'hunter2'; // the test cluster trusts local connections: any password is accepted
    const s = await started({ SCIMD_DATABASE: url.toString() });
    const serving = s.lines().find((l) => l.msg.startsWith('scimd serving'))!;
    expect(serving.database).toBe(`PostgreSQL database ${url.pathname.slice(1)} on ${url.hostname}:${url.port} as ${url.username}`);
    expect(s.lines().find((l) => l.level === 40)).toMatchObject({ command: 'scimd token create', msg: expect.stringContaining("with the server's SCIMD_DATABASE") });
    const end = await s.stopped();
    expect(end.code).toBe(0);
    expect(end.output).not.toContain('hunter2');
  });
});
