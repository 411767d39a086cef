/**
 * `scimd check`: against scimd itself, on SQLite and on PostgreSQL, every check passes (for each --idp) and nothing
 * it made is left; against a server that lacks features they are "not supported", and against one that drops
 * filters they fail with what was sent and received (text, JSON, JUnit); stopped by SIGINT it still removes what it
 * made.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Report } from '../../src/check/run.js';
import { testServer, testStoreKind, type TestServer } from '../helpers.js';
import { localServer, type LocalServer } from '../client/local-server.js';

const BIN = fileURLToPath(new URL('../../bin/scimd.js', import.meta.url));

let srv: TestServer;
let url: string;
const proxies: LocalServer[] = [];

beforeAll(async () => {
  srv = await testServer();
  url = `${await srv.app.listen({ port: 0, host: '127.0.0.1' })}/scim/v2`;
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await srv.close();
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (write: (s: string) => void) => new Writable({ write: (chunk, _, done) => (write(String(chunk)), done()) });
  const code = await main(['check', ...args], sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

/** How many users and groups the server holds. */
async function held(): Promise<number> {
  const users = (await srv.request('GET', '/Users?count=0')).body.totalResults as number;
  const groups = (await srv.request('GET', '/Groups?count=0')).body.totalResults as number;
  return users + groups;
}

/** A proxy to scimd that rewrites what `change` says. */
async function proxy(change: { serviceProviderConfig?: (spc: any) => void; query?: (q: URLSearchParams) => void; body?: (body: any) => void; refuseDelete?: boolean; dropIfMatch?: boolean }): Promise<string> {
  const p = await localServer(async (req) => {
    if (change.refuseDelete && req.method === 'DELETE') return { status: 500, body: { status: '500', detail: 'no' } };
    const target = new URL(req.url, 'http://x');
    change.query?.(target.searchParams);
    let body: string | undefined = req.body === '' ? undefined : req.body;
    if (body !== undefined && change.body) {
      const parsed = JSON.parse(body);
      change.body(parsed);
      body = JSON.stringify(parsed);
    }
    const res = await srv.request(req.method, `${target.pathname}${target.search}`, body, {
      authorization: String(req.headers.authorization),
      ...(req.headers['if-match'] && !change.dropIfMatch ? { 'if-match': String(req.headers['if-match']) } : {}),
    });
    if (target.pathname.endsWith('/ServiceProviderConfig')) change.serviceProviderConfig?.(res.body);
    const headers: Record<string, string> = {};
    for (const name of ['etag', 'location']) if (typeof res.headers[name] === 'string') headers[name] = res.headers[name] as string;
    return { status: res.status, headers, body: res.body ?? (res.text || undefined) };
  });
  proxies.push(p);
  return `${p.url}/scim/v2`;
}

// in the `postgres` Vitest project too: every check passes on both stores
describe(`scimd check (scimd on ${testStoreKind()})`, () => {
  it.each(['rfc', 'entra', 'okta'])('passes every check against scimd (--idp %s) and leaves nothing behind', async (idp) => {
    const { code, out, err } = await run(url, '--token', srv.token, '--idp', idp, '--json');
    const report = JSON.parse(out) as Report;
    expect(report.results.filter((r) => r.outcome !== 'passed')).toEqual([]);
    expect(report.results.length).toBeGreaterThanOrEqual(20);
    expect(report.results.some((r) => r.id.startsWith(`${idp}.`))).toBe(idp !== 'rfc');
    for (const r of report.results) {
      expect(r.rfc).toMatch(/^RFC \d+ §/);
      expect(r.exchanges.length).toBeGreaterThan(0);
    }
    expect(report.leftBehind).toEqual([]);
    expect(code).toBe(0);
    expect(err).toContain(`${report.results.length} of ${report.results.length} passed, 0 failed, 0 not supported`);
    expect(await held()).toBe(0);
  });

  it('says "not supported" for what the server does not advertise, and still passes', async () => {
    const limited = await proxy({ serviceProviderConfig: (spc) => {
      spc.patch.supported = false;
      spc.etag.supported = false;
      spc.bulk.supported = false;
      spc.sort.supported = false;
      delete spc.pagination;
    } });
    const { code, out } = await run(limited, '--token', srv.token, '--json');
    const report = JSON.parse(out) as Report;
    const unsupported = report.results.filter((r) => r.outcome === 'not supported').map((r) => r.id);
    expect(unsupported.sort()).toEqual([
      'bulk.bulkId', 'etag.ifMatch', 'etag.patchDelete', 'groups.patch.members', 'pagination.cursor', 'sort',
      'users.patch.add', 'users.patch.extension', 'users.patch.remove', 'users.patch.replace', 'users.patch.valuePath',
    ]);
    expect(report.failed).toBe(0);
    expect(code).toBe(0);
  });

  it('fails the filter checks of a server that ignores filters, saying what it sent and got (text and JUnit)', async () => {
    const careless = await proxy({ query: (q) => q.delete('filter') });
    const junit = join(mkdtempSync(join(tmpdir(), 'scimd-check-')), 'report.xml');
    const { code, out } = await run(careless, '--token', srv.token, '--only', 'filter,users.get', '--junit', junit);
    expect(code).toBe(1);
    expect(out).toMatch(/^FAILED\s+filter\.eq: /m);
    expect(out).toMatch(/^passed\s+users\.get: /m);
    expect(out).toMatch(/sent: GET http:\/\/127\.0\.0\.1:\d+\/scim\/v2\/Users\?filter=userName\+eq\+/);
    expect(out).toMatch(/received: 200\n/);
    expect(out).toContain('score: 1 of 7 passed, 6 failed, 0 not supported');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<testsuites name="scimd check" tests="7" failures="6" skipped="0">');
    expect(xml).toMatch(/<testcase classname="filter" name="filter\.eq: [^"]*">\n\s+<failure message="expected only scimd-check-/);
    expect(await held()).toBe(0);
  });

  it('fails the PATCH, projection and required-value checks of a server that gets them wrong, saying how', async () => {
    // add taken as replace, a value filter in a remove path ignored, excludedAttributes ignored, a user without
    // userName made with its displayName
    const sloppy = await proxy({
      query: (q) => q.delete('excludedAttributes'),
      body: (b) => {
        if (b.userName === undefined && b.displayName !== undefined && b.schemas?.[0]?.endsWith(':User')) b.userName = b.displayName;
        for (const op of b.Operations ?? []) {
          if (op.op === 'add') op.op = 'replace';
          if (op.op === 'remove') op.path = String(op.path).replace(/\[.*\]$/, '');
        }
      },
    });
    const { code, out } = await run(sloppy, '--token', srv.token, '--only', 'users.patch.add,users.patch.remove,users.attributes,groups.excludedMembers,errors.required', '--json');
    expect(code).toBe(1);
    const reasons = Object.fromEntries((JSON.parse(out) as Report).results.map((r) => [r.id, `${r.outcome}: ${r.reason}`]));
    expect(reasons).toEqual({
      'users.patch.add': expect.stringMatching(/^failed: emails are \["two@home\.example"\]: add must append/),
      'users.patch.remove': expect.stringMatching(/^failed: emails are \[\], not only the work one/),
      'users.attributes': expect.stringMatching(/^failed: excludedAttributes=title returned "title"/),
      'groups.excludedMembers': expect.stringMatching(/^failed: GET \/Groups\/\{id\}\?excludedAttributes=members answered members \[/),
      'errors.required': 'failed: expected 400; the server accepted the request',
    });
    expect(await held()).toBe(0);
  });

  it('fails the ETag and IdP checks of a server that ignores If-Match and reads IdP requests literally', async () => {
    const literal = await proxy({
      dropIfMatch: true,
      body: (b) => {
        for (const op of b.Operations ?? []) {
          if (op.op === 'Remove' && op.path === 'members') delete op.value; // a remove of every member
          if (op.op === 'replace' && op.path === 'members' && op.value?.length === 0) op.op = 'add'; // adds nothing
          if (op.op === 'replace' && op.path === undefined && op.value?.id !== undefined) delete op.value.displayName;
        }
      },
    });
    const reasons = async (idp: string, only: string) => {
      const { code, out } = await run(literal, '--token', srv.token, '--idp', idp, '--only', only, '--json');
      expect(code).toBe(1);
      return Object.fromEntries((JSON.parse(out) as Report).results.map((r) => [r.id, `${r.outcome}: ${r.reason}`]));
    };
    expect(await reasons('entra', 'entra.members.removeByValue,etag.patchDelete')).toEqual({
      'entra.members.removeByValue': expect.stringMatching(/^failed: members are \[\], not \[/),
      'etag.patchDelete': 'failed: expected 412; the server accepted the request',
    });
    expect(await reasons('okta', 'okta.group')).toEqual({
      'okta.group.rename': expect.stringMatching(/^failed: displayName is "scimd-check-\w+-okta-rename"/),
      'okta.group.emptyPush': expect.stringMatching(/^failed: members are \["[^"]+"\] after replacing them with \[\]/),
    });
    expect(await held()).toBe(0);
  });

  it('fails pagination.itemsPerPage when itemsPerPage is the count asked for, not the count answered', async () => {
    const p = await localServer(async (req) => {
      const res = await srv.request(req.method, req.url, req.body === '' ? undefined : req.body, { authorization: String(req.headers.authorization) });
      const count = new URL(req.url, 'http://x').searchParams.get('count');
      if (count !== null && res.body?.Resources) res.body.itemsPerPage = Number(count);
      return { status: res.status, body: res.body ?? (res.text || undefined) };
    });
    proxies.push(p);
    const { code, out } = await run(`${p.url}/scim/v2`, '--token', srv.token, '--only', 'pagination.itemsPerPage');
    expect(code).toBe(1);
    expect(out).toContain('why: startIndex=3&count=2 answered 1 resources with itemsPerPage 2');
    expect(await held()).toBe(0);
  });

  it('runs groups.scale only when named: one more member costs scimd no more in a group of thousands', async () => {
    const ids = async (...only: string[]) => (JSON.parse((await run(url, '--token', srv.token, '--json', ...only)).out) as Report).results.map((r) => r.id);
    expect(await ids('--only', 'discovery')).not.toContain('groups.scale');
    expect(await ids('--only', 'groups')).not.toContain('groups.scale');
    const { code, out } = await run(url, '--token', srv.token, '--only', 'groups.scale', '--json');
    const report = JSON.parse(out) as Report;
    expect(report.results.map((r) => [r.id, r.outcome, r.reason])).toEqual([['groups.scale', 'passed', undefined]]);
    expect(code).toBe(0);
    expect(report.leftBehind).toEqual([]);
    expect(await held()).toBe(0);
  }, 180_000);

  it('names what it could not delete, and exits 1', async () => {
    const stubborn = await proxy({ refuseDelete: true });
    const { code, out } = await run(stubborn, '--token', srv.token, '--only', 'users.get');
    expect(code).toBe(1);
    const left = (await srv.request('GET', '/Users')).body.Resources.map((u: { id: string }) => u.id);
    expect(left).toHaveLength(1);
    expect(out).toContain(`left behind (the server refused to delete them): Users/${left[0]}`);
    await srv.request('DELETE', `/Users/${left[0]}`);
  });

  it('takes the token from --token-file or SCIMD_CHECK_TOKEN, out of the process list', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'scimd-check-')), 'token');
    writeFileSync(file, `${srv.token}\n`);
    expect((await run(url, '--token-file', file, '--only', 'users.get')).code).toBe(0);
    vi.stubEnv('SCIMD_CHECK_TOKEN', srv.token);
    try {
      expect((await run(url, '--only', 'users.get')).code).toBe(0);
      // a flag wins over the variable: a wrong one is refused by the server
      const flagged = await run(url, '--token', 'wrong', '--only', 'users.get', '--json');
      expect(JSON.parse(flagged.out).results[0].reason).toMatch(/401/);
    } finally {
      vi.unstubAllEnvs();
    }
    const none = await run(url, '--only', 'users.get');
    expect(none.code).toBe(2);
    expect(none.err).toContain('SCIMD_CHECK_TOKEN');
    expect((await run(url, '--token', srv.token, '--token-file', file)).code).toBe(2);
    const missing = await run(url, '--token-file', join(tmpdir(), 'no-such-scimd-token'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cannot be read');
    expect(await held()).toBe(0);
  });

  it('refuses wrong words with its usage (exit code 2)', async () => {
    expect((await run(url)).code).toBe(2);
    expect((await run('ftp://x', '--token', 't')).code).toBe(2);
    expect((await run(url, '--token', 't', '--idp', 'google')).code).toBe(2);
    const unknown = await run(url, '--token', 't', '--only', 'nothing');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('discovery.serviceProviderConfig');
    expect(unknown.err).toContain('groups.scale');
  });

  it('stopped by SIGINT, removes what it made and exits 130', async () => {
    let child: ReturnType<typeof spawn> | undefined;
    let creates = 0;
    const watched = await localServer(async (req) => {
      // the third resource made: interrupt, then let the request through
      if (req.method === 'POST' && ++creates === 3) child!.kill('SIGINT');
      const res = await srv.request(req.method, req.url, req.body === '' ? undefined : req.body, { authorization: String(req.headers.authorization) });
      return { status: res.status, ...(typeof res.headers.location === 'string' ? { headers: { location: res.headers.location } } : {}), body: res.body ?? (res.text || undefined) };
    });
    proxies.push(watched);
    child = spawn(process.execPath, [BIN, 'check', `${watched.url}/scim/v2`, '--token', srv.token, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child!.on('exit', resolve));
    expect(code).toBe(130);
    const report = JSON.parse(out) as Report;
    expect(report.results.length).toBeLessThan(10);
    expect(report.leftBehind).toEqual([]);
    expect(await held()).toBe(0);
  });
});
