/**
 * `scimd sync` against a live `scimd serve`: 10,000 CSV rows synced (users, managers, groups), a second run that
 * changes nothing, edits and deletions applied as exactly that many updates and deactivations, a run stopped by
 * SIGINT half-way and finished by the next without a duplicate; single requests too, dry runs, failures with the
 * server's SCIM error, and bad input that changes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { progressWriter } from '../../src/cli/sync.js';
import { ScimClient } from '../../src/client/index.js';
import type { Summary } from '../../src/sync/index.js';
import { testDatabase } from '../helpers.js';
import { serveProcess, type ServerProcess } from '../process.js';

const BIN = fileURLToPath(new URL('../../bin/scimd.js', import.meta.url));
const TOKEN = 'sync-test-token-of-at-least-32-characters';
const dir = mkdtempSync(join(tmpdir(), 'scimd-sync-'));
const servers: ServerProcess[] = [];

const HEADER = 'employee_id,email,first_name,last_name,display_name,title,department,manager,status,groups';
const GROUPS = 8;
/** Row i of an HR export: managers form a tree (each manager has ten reports), every user is in All and one team. */
function row(i: number, title = `Title ${i % 7}`): string {
  return [`E${i}`, `user${i}@example.com`, `Given${i}`, `Family${i}`, `"Family${i}, Given${i}"`, title, `Dept${i % 5}`, i === 0 ? '' : `E${Math.floor(i / 10)}`, i % 50 === 49 ? 'inactive' : 'active', `All;Team${i % (GROUPS - 1)}`].join(',');
}
function csv(name: string, rows: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${HEADER}\n${rows.join('\n')}\n`);
  return file;
}

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (write: (s: string) => void) => new Writable({ write: (chunk, _, done) => (write(String(chunk)), done()) });
  const code = await main(['sync', ...args], sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

async function server(): Promise<ServerProcess> {
  const s = await serveProcess(await testDatabase('sync'), TOKEN);
  servers.push(s);
  return s;
}

/** Every user's externalId on the server: what a duplicate would show. */
async function externalIds(s: ServerProcess): Promise<string[]> {
  const client = new ScimClient({ baseUrl: s.base, credentials: { bearer: TOKEN }, pageSize: 1000 });
  const ids: string[] = [];
  for await (const u of client.users.all({ attributes: ['externalId'] })) ids.push(String(u.externalId));
  return ids;
}

afterAll(() => {
  for (const s of servers) s.child.kill('SIGTERM');
});

describe('scimd sync, 10,000 CSV rows into scimd', () => {
  const N = 10_000;
  let target: ServerProcess;
  const rows = Array.from({ length: N }, (_, i) => row(i));
  beforeAll(async () => {
    target = await server();
  });

  it('creates every user, manager and group; a second run changes nothing', async () => {
    const file = csv('all.csv', rows);
    const first = await run(file, '--url', target.base, '--token', TOKEN, '--json');
    expect(first.code, first.err).toBe(0);
    const s = JSON.parse(first.out) as Summary;
    expect(s.users).toMatchObject({ created: N, updated: 0, deactivated: 0, unchanged: 0, failed: 0, pending: 0 });
    expect(s.groups).toMatchObject({ created: GROUPS, failed: 0 });
    expect(s.bulk).toBe(true);
    // the rate of the changes themselves: from the first request to the last answer
    expect(s.seconds).toBeGreaterThan(0);
    const ids = await externalIds(target);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    const e25 = (await target.request('GET', `/Users?filter=${encodeURIComponent('externalId eq "E25"')}`)).body.Resources[0];
    const e2 = (await target.request('GET', `/Users?filter=${encodeURIComponent('externalId eq "E2"')}`)).body.Resources[0];
    expect(e25).toMatchObject({ userName: 'user25@example.com', name: { givenName: 'Given25', familyName: 'Family25' }, displayName: 'Family25, Given25', title: 'Title 4', active: true });
    expect(e25['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']).toEqual({ department: 'Dept0', manager: expect.objectContaining({ value: e2.id }) });
    const all = (await target.request('GET', `/Groups?filter=${encodeURIComponent('displayName eq "All"')}&excludedAttributes=members`)).body.Resources[0];
    expect((await target.request('GET', `/Users?filter=${encodeURIComponent(`groups.value eq "${all.id}"`)}&count=0`)).body.totalResults).toBe(N);

    const second = await run(file, '--url', target.base, '--token', TOKEN, '--json');
    expect(second.code, second.err).toBe(0);
    const again = JSON.parse(second.out) as Summary;
    expect(again.users).toEqual({ created: 0, updated: 0, deactivated: 0, deleted: 0, unchanged: N, failed: 0, pending: 0 });
    expect(again.groups).toEqual({ created: 0, updated: 0, deactivated: 0, deleted: 0, unchanged: GROUPS, failed: 0, pending: 0 });
    expect(again.requests).toBe(0);
    expect(again.seconds).toBe(0);
  }, 120_000);

  it('after 10 rows edited and 5 deleted: exactly 10 updates and 5 deactivations (and their memberships)', async () => {
    const edited = new Set([3, 17, 256, 999, 1000, 4321, 5000, 7777, 8888, 9998]);
    const deleted = new Set([11, 500, 6000, 9000, 9997]); // all active (every 50th row is inactive already)
    const file = csv('edited.csv', rows.flatMap((r, i) => (deleted.has(i) ? [] : [edited.has(i) ? row(i, 'Promoted') : r])));
    const dry = await run(file, '--url', target.base, '--token', TOKEN, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('~ update User E3: title\n');
    expect(dry.out).toContain('- deactivate User E11 (no longer in the source)\n');
    expect(dry.out).toContain('users: would create 0, update 10, deactivate 5, delete 0');
    expect(dry.out).toContain('dry run: nothing was changed');
    const { code, out, err } = await run(file, '--url', target.base, '--token', TOKEN, '--json');
    expect(code, err).toBe(0);
    const s = JSON.parse(out) as Summary;
    expect(s.users).toEqual({ created: 0, updated: 10, deactivated: 5, deleted: 0, unchanged: N - 15, failed: 0, pending: 0 });
    // the 5 leave All and their team: 1 + the teams they were in
    expect(s.groups.updated).toBe(1 + new Set([...deleted].map((i) => i % (GROUPS - 1))).size);
    const e11 = (await target.request('GET', `/Users?filter=${encodeURIComponent('externalId eq "E11"')}`)).body.Resources[0];
    expect(e11.active).toBe(false);
    expect(e11.groups ?? []).toEqual([]);
    const again = JSON.parse((await run(file, '--url', target.base, '--token', TOKEN, '--json')).out) as Summary;
    expect([again.users.updated, again.users.deactivated, again.groups.updated, again.requests]).toEqual([0, 0, 0, 0]);
  }, 120_000);

  it('stopped by SIGINT half-way, exits 130 with a summary; run again, it finishes with no user twice', async () => {
    const fresh = await server();
    const file = csv('all.csv', rows);
    // the token from a file, out of the process list
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const child: ChildProcess = spawn(process.execPath, [BIN, 'sync', file, '--url', fresh.base, '--token-file', tokenFile, '--json', '--rps', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let interrupted = false;
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => {
      err += d;
      // once some changes are made, interrupt (once: a second SIGINT would stop it at once)
      if (!interrupted && /scimd sync: [1-9]\d*\/\d+ changes/.test(err)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, err).toBe(130);
    expect(err).toContain('stopping: no new requests');
    const stopped = JSON.parse(out) as Summary;
    expect(stopped.interrupted).toBe(true);
    expect(stopped.users.created).toBeGreaterThan(0);
    expect(stopped.users.created).toBeLessThan(N);
    expect(stopped.users.created + stopped.users.pending).toBe(N);
    expect(new Set(await externalIds(fresh)).size).toBe(stopped.users.created);

    const { code: again, out: rest } = await run(file, '--url', fresh.base, '--token', TOKEN, '--json');
    expect(again).toBe(0);
    const finished = JSON.parse(rest) as Summary;
    expect(finished.users.created).toBe(N - stopped.users.created);
    expect(finished.users.unchanged).toBe(stopped.users.created);
    const ids = await externalIds(fresh);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
  }, 120_000);
});

describe('scimd sync, smaller runs', () => {
  let target: ServerProcess;
  beforeAll(async () => {
    target = await server();
  });

  it('through single requests (--no-bulk) as through Bulk, and a second run changes nothing', async () => {
    const file = csv('single.csv', Array.from({ length: 300 }, (_, i) => row(i)));
    const first = await run(file, '--url', target.base, '--token', TOKEN, '--json', '--no-bulk', '--concurrency', '4');
    expect(first.code, first.err).toBe(0);
    const s = JSON.parse(first.out) as Summary;
    expect([s.bulk, s.users.created, s.groups.created]).toEqual([false, 300, GROUPS]);
    // a request a create (each after its manager, so none is PATCHed afterwards) and a group
    expect(s.requests).toBe(300 + GROUPS);
    const again = JSON.parse((await run(file, '--url', target.base, '--token', TOKEN, '--json', '--no-bulk')).out) as Summary;
    expect([again.users.unchanged, again.groups.unchanged, again.requests]).toEqual([300, GROUPS, 0]);
  }, 60_000);

  it('from a file of SCIM resources (NDJSON), groups naming their members by externalId, and from another SCIM server', async () => {
    const file = join(dir, 'resources.ndjson');
    const lines = [
      ...['J1', 'J2', 'J3'].map((k) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], externalId: k, userName: `${k.toLowerCase()}@example.com`, title: 'From JSON' })),
      { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'JSON people', members: [{ value: 'J1' }, { value: 'J3' }] },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const source = await server();
    const first = JSON.parse((await run(file, '--url', source.base, '--token', TOKEN, '--json')).out) as Summary;
    expect([first.users.created, first.groups.created, first.failures]).toEqual([3, 1, []]);
    const group = (await source.request('GET', `/Groups?filter=${encodeURIComponent('externalId eq "JSON people"')}`)).body.Resources[0];
    expect(group.members.map((m: { display?: string; value: string }) => m.value).sort()).toEqual(
      (await source.request('GET', `/Users?filter=${encodeURIComponent('externalId eq "J1" or externalId eq "J3"')}`)).body.Resources.map((u: { id: string }) => u.id).sort());
    expect(JSON.parse((await run(file, '--url', source.base, '--token', TOKEN, '--json')).out).requests).toBe(0);

    // that server, mirrored into an empty one: users by externalId, the group and its members by key
    const mirror = await server();
    const mirrored = JSON.parse((await run('--from', source.base, '--from-token', TOKEN, '--url', mirror.base, '--token', TOKEN, '--json')).out) as Summary;
    expect([mirrored.users.created, mirrored.groups.created, mirrored.failures]).toEqual([3, 1, []]);
    const copy = (await mirror.request('GET', '/Groups')).body.Resources[0];
    expect([copy.displayName, copy.externalId, copy.members.length]).toEqual(['JSON people', 'JSON people', 2]);
    expect(JSON.parse((await run('--from', source.base, '--from-token', TOKEN, '--url', mirror.base, '--token', TOKEN, '--json')).out).requests).toBe(0);
  }, 60_000);

  it('--rps caps the requests a second', async () => {
    const file = csv('rps.csv', Array.from({ length: 12 }, (_, i) => row(1000 + i).replace(/,E\d+,active,/, ',,active,')).map((r) => r.replace(/All;Team\d/, '')));
    const started = performance.now();
    const { code, out } = await run(file, '--url', target.base, '--token', TOKEN, '--json', '--no-bulk', '--rps', '10', '--on-missing', 'keep');
    const seconds = (performance.now() - started) / 1000;
    expect(code).toBe(0);
    const s = JSON.parse(out) as Summary;
    expect(s.users.created).toBe(12);
    // 12 creates and the reads before them (discovery, the users), 10 a second
    expect(seconds).toBeGreaterThanOrEqual((s.requests + 3 - 1) / 10);
  });

  it('--map (inline or a JSON file) names the columns; --dry-run --json lists the changes; --on-missing delete plans deletes', async () => {
    const file = join(dir, 'odd.csv');
    writeFileSync(file, 'Person Number;Login;Role\nP1;p1@example.com;Boss\n');
    const mappingFile = join(dir, 'mapping.json');
    writeFileSync(mappingFile, JSON.stringify({ 'Person Number': 'externalId', Login: 'userName', Role: 'title' }));
    for (const map of ['Person Number=externalId,Login=userName,Role=title', mappingFile]) {
      const { code, out } = await run(file, '--url', target.base, '--token', TOKEN, '--map', map, '--dry-run', '--json', '--on-missing', 'delete');
      expect(code).toBe(0);
      const planned = JSON.parse(out) as Summary & { changes: { action: string; key: string; body?: Record<string, unknown> }[] };
      expect(planned.dryRun).toBe(true);
      expect(planned.changes.find((c) => c.key === 'P1')).toMatchObject({ action: 'create', body: { externalId: 'P1', userName: 'p1@example.com', title: 'Boss', active: true } });
      expect(planned.changes.find((c) => c.key === 'E5')).toMatchObject({ action: 'delete' });
    }
    // a dry run changes nothing
    expect((await externalIds(target)).includes('P1')).toBe(false);
    expect((await run(file, '--url', target.base, '--token', TOKEN, '--map', 'Person Number')).code).toBe(2);
  });

  it('reports each failed change with the server\'s SCIM error and exits 1', async () => {
    const file = csv('clash.csv', [row(0), row(1), 'X9,user1@example.com,A,B,AB,t,Dept1,,active,All']);
    const { code, out } = await run(file, '--url', target.base, '--token', TOKEN);
    expect(code).toBe(1);
    expect(out).toContain('failed 1');
    expect(out).toMatch(/^FAILED create User X9: 409 uniqueness — /m);
    expect(out).toMatch(/^\d+ Bulk requests? in \d+\.\d s$/m);
  });

  it('bad input: a clear error, and nothing changed', async () => {
    const before = await externalIds(target);
    const bad = csv('bad.csv', [row(0), 'E1,user1@example.com,A,B,AB,t,Dept1,,sometimes,All', ',nobody@example.com,A,B,AB,t,Dept1,,active,All']);
    const { code, err } = await run(bad, '--url', target.base, '--token', TOKEN);
    expect(code).toBe(1);
    expect(err).toMatch(/line 3: status "sometimes" is neither[\s\S]*line 4: no externalId/);
    const empty = csv('empty.csv', []);
    const refused = await run(empty, '--url', target.base, '--token', TOKEN);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('the source has no users');
    expect(await externalIds(target)).toEqual(before);
    expect((await run(bad, '--url', target.base)).code).toBe(2);
    expect((await run(bad, '--url', target.base, '--token', TOKEN, '--on-missing', 'wipe')).code).toBe(2);
    expect((await run('--url', target.base, '--token', TOKEN)).code).toBe(2);
    expect((await run(bad, '--url', target.base, '--token', TOKEN, '--token-file', bad)).code).toBe(2);
  });
});

describe('progress', () => {
  const sink = (tty: boolean) => {
    let text = '';
    const stream = Object.assign(new Writable({ write: (chunk, _, done) => (text += String(chunk), done()) }), { isTTY: tty });
    return { stream, text: () => text };
  };

  it('is a bar redrawn in place on a terminal, and a plain line elsewhere', () => {
    const tty = sink(true);
    const bar = progressWriter(tty.stream);
    bar.update({ done: 5, total: 20, failed: 0 });
    bar.update({ done: 20, total: 20, failed: 1 });
    bar.end();
    expect(tty.text()).toBe(`\r[${'#'.repeat(8)}${' '.repeat(22)}] 5/20 changes  \r[${'#'.repeat(30)}] 20/20 changes, 1 failed  \n`);
    const plain = sink(false);
    const lines = progressWriter(plain.stream);
    lines.update({ done: 5, total: 20, failed: 0 });
    lines.update({ done: 6, total: 20, failed: 0 }); // within the second: not printed
    lines.update({ done: 20, total: 20, failed: 0 });
    lines.end();
    expect(plain.text()).toBe('scimd sync: 5/20 changes\nscimd sync: 20/20 changes\n');
  });
});
