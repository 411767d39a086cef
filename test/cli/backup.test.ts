/** `scimd backup` and `scimd restore` as real processes: a directory moved SQLite → PostgreSQL → SQLite keeps working. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';
import { serveProcess, type ServerProcess } from '../process.js';

const BIN = fileURLToPath(new URL('../../bin/scimd.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'scimd-cli-backup-'));
const admin = postgresUrl();
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function cli(database: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, SCIMD_DATABASE: database, SCIMD_LOG_LEVEL: 'warn' }, encoding: 'utf8' });
  // the line that names the database opened is every command's first: what each says comes after it
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/^scimd: database: .*\n/, '') };
}

async function stop(server: ServerProcess): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** What an IdP sees of the directory through `token`, without the server's own address and the cursors it issues (they bear their time). */
async function answers(server: ServerProcess, token: string, cursor: string) {
  const auth = { authorization: `Bearer ${token}` };
  const get = async (path: string) => {
    const r = await server.request('GET', path, undefined, auth);
    const text = JSON.stringify(r.body, (key, value: unknown) => (key.endsWith('Cursor') ? 'a cursor' : value));
    return { status: r.status, body: JSON.parse(text.replaceAll(server.base, '')) as unknown };
  };
  return [
    await get(`/Users?filter=${encodeURIComponent('userName eq "Alice@Example.com"')}`),
    await get(`/Users?filter=${encodeURIComponent('emails.value eq "bob@example.org"')}`),
    await get(`/Users?filter=${encodeURIComponent(`${ENTERPRISE}:employeeNumber eq "701984"`)}`),
    await get('/Groups'),
    // a cursor the source issued goes on where it left off: the signing secret and the positions came along
    await get(`/Users?count=1&cursor=${encodeURIComponent(cursor)}`),
  ];
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// skipped only where the PostgreSQL tests are (never in CI: see test/global-setup.ts)
describe.skipIf(!admin)('scimd backup / restore across stores', () => {
  it('SQLite → PostgreSQL → SQLite (gzipped): the source\'s token, data, filters and cursors work on each target', async () => {
    const source = join(dir, 'source.db');
    const okta = cli(source, 'token', 'create', '--name', 'okta', '--dialect', 'okta').stdout.trim();
    const auth = { authorization: `Bearer ${okta}` };
    let server = await serveProcess(source, 'bootstrap-secret-of-at-least-32-characters');
    let expected: Awaited<ReturnType<typeof answers>>;
    let cursor: string;
    try {
      const alice = await server.request('POST', '/Users', {
        schemas: [USER, ENTERPRISE], userName: 'alice@example.com', emails: [{ value: 'alice@example.com', primary: true }], [ENTERPRISE]: { employeeNumber: '701984' },
      }, auth);
      const bob = await server.request('POST', '/Users', { schemas: [USER], userName: 'bob', emails: [{ value: 'bob@example.org' }] }, auth);
      expect([alice.status, bob.status]).toEqual([201, 201]);
      const group = await server.request('POST', '/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Guides', members: [{ value: bob.body.id }, { value: alice.body.id }],
      }, auth);
      expect(group.status).toBe(201);
      const first = await server.request('GET', '/Users?count=1&cursor', undefined, auth);
      cursor = first.body.nextCursor;
      expected = await answers(server, okta, cursor);
      expect(expected.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(expected.map((a) => (a.body as { totalResults: number }).totalResults)).toEqual([1, 1, 1, 1, 2]);
    } finally {
      await stop(server);
    }

    const plain = join(dir, 'source.ndjson');
    const backup = cli(source, 'backup', plain);
    expect([backup.code, backup.stderr]).toEqual([0, `scimd: backed up 1 organization, 1 secret, 2 tokens, 3 resources, 2 group members, 4 audit entries, 0 undelivered events to ${plain}\n`]);

    const postgres = await freshPostgresDatabase(admin!);
    const restored = cli(postgres, 'restore', plain);
    expect(restored.code).toBe(0);
    expect(restored.stderr).toMatch(/^scimd: restored 1 organization, 1 secret, 2 tokens, 3 resources, 2 group members, 4 audit entries, 0 undelivered events from .* \(a sqlite backup of /);
    // backed up again before a server uses it (a request may update a token's last use): record for record what
    // the SQLite file held, so nothing was lost or changed on the way through PostgreSQL
    const gz = join(dir, 'postgres.ndjson.gz');
    expect(cli(postgres, 'backup', gz).code).toBe(0);
    expect(readFileSync(gz).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const body = (text: string) => text.split('\n').slice(1);
    expect(body(gunzipSync(readFileSync(gz)).toString('utf8'))).toEqual(body(readFileSync(plain, 'utf8')));

    server = await serveProcess(postgres, 'bootstrap-secret-of-at-least-32-characters');
    try {
      expect(await answers(server, okta, cursor)).toEqual(expected);
    } finally {
      await stop(server);
    }
    const again = cli(postgres, 'restore', plain);
    expect([again.code, again.stderr]).toEqual([1, 'scimd: the target database is not empty (it holds organizations, secrets, tokens, resources, audit log); restore only into a new, empty database\n']);

    const back = join(dir, 'back.db');
    expect(cli(back, 'restore', gz).stderr).toMatch(/\(a postgres backup of /);
    server = await serveProcess(back, 'bootstrap-secret-of-at-least-32-characters');
    try {
      expect(await answers(server, okta, cursor)).toEqual(expected);
    } finally {
      await stop(server);
    }
  }, 120_000);
});

describe('scimd backup / restore', () => {
  it('a backup cut short is refused before the target is touched; so is a missing file', () => {
    const source = join(dir, 'short.db');
    expect(cli(source, 'token', 'create').code).toBe(0);
    const file = join(dir, 'short.ndjson');
    expect(cli(source, 'backup', file).code).toBe(0);
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, `${lines.slice(0, -2).join('\n')}\n`);
    const target = join(dir, 'short-target.db');
    const refused = cli(target, 'restore', file);
    expect([refused.code, refused.stderr]).toEqual([1, `scimd: ${file} has no trailer: the backup was cut short (4 lines); it cannot be restored\n`]);
    expect(existsSync(target)).toBe(false);
    expect(cli(target, 'restore', join(dir, 'nope.ndjson'))).toMatchObject({ code: 1, stderr: expect.stringMatching(/ENOENT/) });
    expect(cli(target, 'restore')).toMatchObject({ code: 2, stderr: expect.stringMatching(/restore needs one backup FILE/) });
    expect(existsSync(target)).toBe(false);
  });

  it('backup - writes the backup to stdout', () => {
    const source = join(dir, 'stdout.db');
    expect(cli(source, 'token', 'create').code).toBe(0);
    const r = cli(source, 'backup', '-');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ scimd: 'backup', format: 1, source: 'sqlite' });
    expect(lines.at(-1)).toEqual({ kind: 'end', counts: expect.objectContaining({ organization: 1, token: 1 }) });
    expect(r.stderr).toBe('scimd: backed up 1 organization, 0 secrets, 1 token, 0 resources, 0 group members, 1 audit entry, 0 undelivered events\n');
  });
});
