/** SCIMD_DATABASE picks the store: a postgres:// (or postgresql://) URL is PostgreSQL, anything else a SQLite file. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import * as library from '../../src/index.js';
import { openStore } from '../../src/store/open.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';

const admin = postgresUrl();
const BIN = fileURLToPath(new URL('../../bin/scimd.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('openStore', () => {
  it('the library exports both stores and openStore', () => {
    expect(library).toMatchObject({ PostgresStore, SqliteStore, openStore });
  });

  it('opens a SQLite file for a path or sqlite: name', async () => {
    const store = await openStore(join(mkdtempSync(join(tmpdir(), 'scimd-open-')), 'x.db'));
    expect(store).toBeInstanceOf(SqliteStore);
    await store.close();
  });

  it.skipIf(!admin).each(['postgres', 'postgresql'])('opens and migrates PostgreSQL for a %s:// URL', async (scheme) => {
    const url = (await freshPostgresDatabase(admin!)).replace(/^postgres:/, `${scheme}:`);
    const store = await openStore(url, { poolSize: 2 });
    expect(store).toBeInstanceOf(PostgresStore);
    expect((await store.ensureOrganization('acme')).name).toBe('acme');
    await store.close();
  });

  it('rejects when PostgreSQL cannot be reached', async () => {
    const port = await freePort();
    await expect(openStore(`postgres://nobody@127.0.0.1:${port}/none`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it.skipIf(!admin)('closes its connections when the migration fails, so a failed `scimd migrate` exits', async () => {
    const url = await freshPostgresDatabase(admin!);
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    try {
      await raw.query('CREATE TABLE organizations (x int)'); // not ours: migration 1 cannot create it
      await expect(openStore(`${url}?application_name=failed_migration`)).rejects.toThrow(/already exists/);
      // a backend leaves pg_stat_activity a moment after its client hung up; an idle pooled one would stay 10 s
      const open = async () => (await raw.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'failed_migration'")).rows[0].n;
      for (let i = 0; i < 40 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await open()).toBe(0);
    } finally {
      await raw.end();
    }
  });
});

describe.skipIf(!admin)('scimd on PostgreSQL (SCIMD_DATABASE=postgres://…)', () => {
  it('migrate, serve and token create share the database', async () => {
    const env = { ...process.env, SCIMD_DATABASE: await freshPostgresDatabase(admin!), SCIMD_LOG_LEVEL: 'warn', SCIMD_DB_POOL_SIZE: '3' };
    const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' });
    expect(cli('migrate').status).toBe(0);
    const port = await freePort();
    const server = spawn(process.execPath, [BIN, 'serve'], { env: { ...env, SCIMD_PORT: String(port), SCIMD_BOOTSTRAP_TOKEN: 'boot-token-of-at-least-32-characters' }, stdio: 'ignore' });
    try {
      const base = `http://127.0.0.1:${port}/scim/v2`;
      for (let i = 0; i < 200 && !(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 50));
      const created = await fetch(`${base}/Users`, {
        method: 'POST',
        headers: { authorization: 'Bearer boot-token-of-at-least-32-characters', 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'bjensen' }),
      });
      expect(created.status).toBe(201);
      const token = cli('token', 'create', '--name', 'okta').stdout.trim();
      const list = await (await fetch(`${base}/Users?filter=${encodeURIComponent('userName eq "BJENSEN"')}`, { headers: { authorization: `Bearer ${token}` } })).json();
      expect(list).toMatchObject({ totalResults: 1, Resources: [{ userName: 'bjensen' }] });
    } finally {
      server.kill('SIGKILL');
    }
  });
});
