/**
 * A database made before the attribute index was split (SQLite migration 8, PostgreSQL migration 2) upgrades in
 * place: its index rows move to attribute_str and attribute_num, their paths then become index_paths ids (SQLite
 * migration 9, PostgreSQL migration 3), and they answer the same filters, sorts and rewrites. On SQLite its unique
 * values then move to unique_claims (migration 10) and hold as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { MIGRATIONS as POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { indexEntries } from '../../src/core/filter/index-entries.js';
import { bindFilter, bindSortBy } from '../../src/core/filter/bind.js';
import { parseFilter } from '../../src/core/filter/parser.js';
import type { Attributes } from '../../src/core/model.js';
import type { Store } from '../../src/core/ports.js';
import { UniquenessViolation } from '../../src/core/errors.js';
import { USER } from '../helpers.js';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';

const registry = SchemaRegistry.create();
const rt = registry.resourceType('User')!;
const ORG = 'org-1';
const CREATED = ['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'];
const USERS: Attributes[] = [
  { schemas: [USER], userName: 'Carol', active: true, emails: [{ value: 'carol@example.com', type: 'work' }, { value: 'c@home.example', type: 'home' }] },
  { schemas: [USER], userName: 'alice', active: false, title: 'CTO', emails: [{ value: 'alice@example.com', type: 'work', primary: true }] },
  { schemas: [USER], userName: 'bob', name: { givenName: 'Bob' } },
];

/** The old layout's rows: the organization, and each user with its attribute_index rows (markers with neither value). */
function oldRows(): { resources: unknown[][]; index: unknown[][] } {
  const resources: unknown[][] = [];
  const index: unknown[][] = [];
  USERS.forEach((attrs, i) => {
    const id = `u${i}`;
    resources.push([i + 1, ORG, 'User', id, 1, CREATED[i], CREATED[i], attrs.userName, JSON.stringify(attrs)]);
    for (const e of indexEntries(rt, attrs, { id, created: CREATED[i]!, lastModified: CREATED[i]! })) {
      index.push([i + 1, ORG, 'User', e.path, e.ordinal, e.str ?? null, e.num ?? null]);
    }
  });
  return { resources, index };
}

const RESOURCE_COLUMNS = 'seq, org_id, resource_type, id, version, created, last_modified, display, data';
const INDEX_COLUMNS = 'resource_seq, org_id, resource_type, path, ordinal, str, num';

/** The filters of each index form, with the users (by index in USERS) each must find. */
const FILTERS: [string, number[]][] = [
  ['userName eq "ALICE"', [1]],
  ['emails.value sw "carol"', [0]],
  ['emails[type eq "work" and value co "alice"]', [1]],
  ['emails pr', [0, 1]],
  ['not (emails pr)', [2]],
  ['title pr', [1]],
  ['active eq true', [0]],
  ['meta.created gt "2024-01-15T00:00:00Z"', [1, 2]],
  ['name.givenName eq "bob"', [2]],
];

/** Migrates the old database through `store`, checks its answers, and closes it. */
async function expectSameAnswersAfterMigrating(store: Store): Promise<void> {
  try {
    await store.migrate();
    await expectSameAnswers(store);
  } finally {
    await store.close();
  }
}

async function expectSameAnswers(store: Store): Promise<void> {
  const ids = async (filter: string) =>
    (await store.listResources(ORG, 'User', { filter: bindFilter(rt, parseFilter(filter)), offset: 0, limit: 10 })).resources.map((r) => r.id);
  for (const [filter, expected] of FILTERS) expect(await ids(filter), filter).toEqual(expected.map((i) => `u${i}`));
  const sorted = await store.listResources(ORG, 'User', { sort: { target: bindSortBy(rt, 'userName'), descending: false }, offset: 0, limit: 10 });
  expect(sorted.resources.map((r) => r.id)).toEqual(['u1', 'u2', 'u0']);
  const byEmail = await store.listResources(ORG, 'User', { sort: { target: bindSortBy(rt, 'emails.value'), descending: false }, offset: 0, limit: 10 });
  expect(byEmail.keysets.map((k) => k.key)).toEqual(['alice@example.com', 'carol@example.com', null]);

  // a migrated resource's rows are rewritten by the next change, and a new one is indexed beside them
  const bob = { schemas: [USER], userName: 'bob', title: 'CFO' };
  const at = '2024-04-01T00:00:00.000Z';
  await store.replaceResource(ORG, 'User', 'u2', at, { attributes: bob, index: indexEntries(rt, bob, { id: 'u2', created: CREATED[2]!, lastModified: at }), uniqueKeys: [] });
  const dave = { schemas: [USER], userName: 'dave', title: 'CEO' };
  await store.createResource(ORG, 'User', 'u3', at, { attributes: dave, index: indexEntries(rt, dave, { id: 'u3', created: at, lastModified: at }), uniqueKeys: [] });
  expect(await ids('title pr')).toEqual(['u1', 'u2', 'u3']);
  expect(await ids('name.givenName eq "bob"')).toEqual([]);
}

describe('SQLite: a database at migration 7 upgrades to the split index with path ids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scimd-index-migration-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers the same filters, sorts and rewrites after migrating', async () => {
    const file = join(dir, 'old.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)');
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 7)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, CREATED[0]);
    }
    db.prepare("INSERT INTO organizations VALUES (?, 'acme', ?)").run(ORG, CREATED[0]);
    const { resources, index } = oldRows();
    for (const r of resources) db.prepare(`INSERT INTO resources (${RESOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...r);
    for (const r of index) db.prepare(`INSERT INTO attribute_index (${INDEX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(...r);
    USERS.forEach((u, i) => db.prepare("INSERT INTO unique_values VALUES (?, 'User', 'userName', ?, ?)").run(ORG, String(u.userName).toLowerCase(), `u${i}`));
    db.close();

    const store = new SqliteStore(file);
    try {
      await store.migrate();
      await expectSameAnswers(store);
      // the unique values moved to unique_claims (migration 10): still held, released by a change, named as they were
      const alice = { attributes: { schemas: [USER], userName: 'ALICE' }, index: [], uniqueKeys: [{ attribute: 'userName', value: 'alice' }] };
      const clash = await store.createResource(ORG, 'User', 'u4', '2024-05-01T00:00:00.000Z', alice).catch((e: unknown) => e);
      expect(clash).toBeInstanceOf(UniquenessViolation);
      expect((clash as UniquenessViolation).attribute).toBe('userName');
      const newBob = { attributes: { schemas: [USER], userName: 'bob' }, index: [], uniqueKeys: [{ attribute: 'userName', value: 'bob' }] };
      expect((await store.createResource(ORG, 'User', 'u5', '2024-05-01T00:00:00.000Z', newBob)).id).toBe('u5'); // u2 let 'bob' go
      const keys = new Map<string, unknown>();
      for await (const r of store.exportSnapshot()) if (r.kind === 'resource') keys.set(r.id, r.uniqueKeys);
      expect(Object.fromEntries(keys)).toEqual({
        u0: [{ attribute: 'userName', value: 'carol' }], u1: [{ attribute: 'userName', value: 'alice' }], u2: [], u3: [], u5: [{ attribute: 'userName', value: 'bob' }],
      });
    } finally {
      await store.close();
    }
  });
});

const admin = postgresUrl();

describe.skipIf(!admin)('PostgreSQL: a database at migration 1 upgrades to the split index with path ids', () => {
  it('answers the same filters, sorts and rewrites after migrating', async () => {
    const url = await freshPostgresDatabase(admin!);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)');
      const first = POSTGRES_MIGRATIONS.find((m) => m.version === 1)!;
      await client.query(first.sql);
      await client.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [first.version, first.name, CREATED[0]]);
      await client.query("INSERT INTO organizations VALUES ($1, 'acme', $2)", [ORG, CREATED[0]]);
      const { resources, index } = oldRows();
      for (const [seq, ...r] of resources) {
        await client.query(`INSERT INTO resources (${RESOURCE_COLUMNS}) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [seq, ...r]);
      }
      for (const r of index) await client.query(`INSERT INTO attribute_index (${INDEX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, r);
      // later rows take seq after the copied ones
      await client.query("SELECT setval(pg_get_serial_sequence('resources', 'seq'), 3)");
    } finally {
      await client.end();
    }

    await expectSameAnswersAfterMigrating(new PostgresStore(url));
  });
});
