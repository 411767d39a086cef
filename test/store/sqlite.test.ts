/** The store contract on SQLite, plus what only the embedded file store has to guarantee. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteExecutor } from '../../src/store/sqlite/sqlite-executor.js';
import { collect, describeStoreContract } from './contract.js';

describeStoreContract('SQLite', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  return store;
});

/** The compiled writer thread (the test command builds first): a worker thread cannot run the TypeScript sources. */
const WRITER_ENTRY = new URL('../../dist/store/sqlite/writer-thread-entry.js', import.meta.url);
const writerFiles = mkdtempSync(join(tmpdir(), 'scimd-writer-'));
afterAll(() => rmSync(writerFiles, { recursive: true, force: true }));
let writerStores = 0;

describeStoreContract('SQLite on a file, every batch of creates written on the writer thread', async () => {
  const store = new SqliteStore(join(writerFiles, `${writerStores++}.db`), { writerThread: WRITER_ENTRY, writerThreadMinItems: 2 });
  await store.migrate();
  return store;
});

describe('SqliteStore on a file', () => {
  let dir: string;
  let file: string;
  const opened: { close(): unknown }[] = [];

  /** Opens a store (not migrated) and closes it after the test. */
  function open(): SqliteStore {
    const store = new SqliteStore(file);
    opened.push({ close: () => store.close() });
    return store;
  }

  /** A plain second connection on the same file, closed after the test. */
  function raw(): Database.Database {
    const db = new Database(file, { readonly: true });
    opened.push(db);
    return db;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'scimd-store-'));
    file = join(dir, 'nested', 'deeper', 'scimd.db');
  });

  afterEach(async () => {
    for (const c of opened.splice(0).reverse()) await c.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the database file under a nested directory that does not exist yet', async () => {
    expect(existsSync(join(dir, 'nested'))).toBe(false);
    const store = open();
    await store.migrate();
    expect(existsSync(file)).toBe(true);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('uses WAL journal mode', async () => {
    const store = open();
    await store.migrate();
    expect(raw().pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('migrate() is idempotent, also from two instances on the same file', async () => {
    const a = open();
    await a.migrate();
    await a.migrate();
    const b = open();
    await b.migrate();
    await Promise.all([a.migrate(), b.migrate()]);
    const rows = raw().prepare('SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version').all() as {
      version: number;
      n: number;
    }[];
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
    expect((raw().prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(MIGRATIONS.length);
  });

  it('data written by one instance is visible to a second instance on the same file', async () => {
    const writer = open();
    await writer.migrate();
    // A reader opened before the writes, as a running server is when the CLI creates a token.
    const early = open();
    await early.migrate();

    const org = await writer.ensureOrganization('acme');
    await writer.createToken({ id: 't1', orgId: org.id, name: 'cli', dialect: 'rfc', scope: 'scim', hash: 'f'.repeat(64), created: '2024-01-01T00:00:00.000Z' });
    const user = await writer.createResource(org.id, 'User', 'u1', '2024-01-01T00:00:01.000Z', {
      attributes: { userName: 'alice' },
      index: [], uniqueKeys: [{ attribute: 'userName', value: 'alice' }],
      display: 'Alice',
    });

    const late = open();
    await late.migrate();
    for (const reader of [early, late]) {
      expect(await reader.ensureOrganization('acme')).toEqual(org);
      expect((await reader.findTokenByHash('f'.repeat(64)))?.id).toBe('t1');
      expect(await reader.getResource(org.id, 'User', 'u1')).toEqual(user);
    }

    // ...and the other way round, including the uniqueness the first instance holds.
    await early.createResource(org.id, 'Group', 'g1', '2024-01-01T00:00:02.000Z', {
      attributes: { displayName: 'Admins' },
      index: [], uniqueKeys: [],
      display: 'Admins',
      membership: { ids: ['u1'], allowedTypes: ['User', 'Group'] },
    });
    expect(await writer.members(org.id, 'g1')).toEqual([{ value: 'u1', resourceType: 'User', display: 'Alice' }]);
    await expect(
      late.createResource(org.id, 'User', 'u2', '2024-01-01T00:00:03.000Z', {
        attributes: { userName: 'alice' },
        index: [], uniqueKeys: [{ attribute: 'userName', value: 'alice' }],
      }),
    ).rejects.toMatchObject({ name: 'UniquenessViolation', attribute: 'userName' });
    expect(await writer.revokeToken('t1', '2024-01-01T00:00:04.000Z')).toBe(true);
    expect((await late.findTokenByHash('f'.repeat(64)))?.revoked).toBe('2024-01-01T00:00:04.000Z');
  });

  it('a snapshot is read on a connection of its own: writes meanwhile are neither blocked nor in it', async () => {
    const store = open();
    await store.migrate();
    const org = await store.ensureOrganization('acme');
    const write = (userName: string) => ({ attributes: { userName }, index: [], uniqueKeys: [{ attribute: 'userName', value: userName }] });
    // more than one batch of resources, so the read is still going on after the writes
    for (let i = 0; i < 1500; i += 500) {
      await store.createResources(org.id, 'User', '2024-01-01T00:00:00.000Z', Array.from({ length: 500 }, (_, j) => ({ id: `u${i + j}`, write: write(`user${i + j}`) })));
    }
    const reading = store.exportSnapshot()[Symbol.asyncIterator]();
    expect((await reading.next()).value).toMatchObject({ kind: 'organization' });
    for (let i = 0; i < 1001; i++) await reading.next(); // into the second batch of resources
    const started = Date.now();
    await store.createResource(org.id, 'User', 'late', '2024-01-01T00:00:01.000Z', write('late'));
    await store.appendAudit([{ at: '2024-01-01T00:00:01.000Z', operation: 'authenticate', status: 401, changes: [], requestId: 'late' }]);
    expect(Date.now() - started).toBeLessThan(1000); // the busy timeout is 5 s
    const rest = await collect({ [Symbol.asyncIterator]: () => reading });
    expect(rest.filter((r) => r.kind === 'resource')).toHaveLength(1500 - 1001);
    expect(JSON.stringify(rest)).not.toContain('late');
    expect(await store.getResource(org.id, 'User', 'late')).toBeDefined();
    expect((await collect(store.exportSnapshot())).filter((r) => r.kind === 'resource')).toHaveLength(1501);
  });

  it('a token read before is read again once another process has written: its revocation holds on the next lookup', async () => {
    const server = open();
    await server.migrate();
    const org = await server.ensureOrganization('acme');
    await server.createToken({ id: 't1', orgId: org.id, name: 'idp', dialect: 'rfc', scope: 'scim', hash: 'a'.repeat(64), created: '2024-01-01T00:00:00.000Z' });
    expect((await server.findTokenByHash('a'.repeat(64)))?.revoked).toBeUndefined();
    expect((await server.findTokenByHash('a'.repeat(64)))?.revoked).toBeUndefined(); // kept
    const cli = open();
    expect(await cli.revokeToken('t1', '2024-02-01T00:00:00.000Z')).toBe(true);
    expect((await server.findTokenByHash('a'.repeat(64)))?.revoked).toBe('2024-02-01T00:00:00.000Z');
    // and its own writes to a token are read back at once
    await server.touchToken('t1', '2024-03-01T00:00:00.000Z');
    expect((await server.findTokenByHash('a'.repeat(64)))?.lastUsed).toBe('2024-03-01T00:00:00.000Z');
    // and the name of its organization, renamed
    await server.renameOrganization(org.id, 'acme-corp');
    expect((await server.findTokenByHash('a'.repeat(64)))?.orgName).toBe('acme-corp');
  });

  it('asks SQLite whether another connection wrote once a turn of the event loop, and again in the next', async () => {
    const server = open();
    await server.migrate();
    const org = await server.ensureOrganization('acme');
    await server.createToken({ id: 't1', orgId: org.id, name: 'idp', dialect: 'rfc', scope: 'scim', hash: 'b'.repeat(64), created: '2024-01-01T00:00:00.000Z' });
    await new Promise((resolve) => setImmediate(resolve));
    const asked = vi.spyOn(SqliteExecutor.prototype, 'dataVersion');
    try {
      // the requests of one turn: one question between them
      const found = await Promise.all(Array.from({ length: 10 }, () => server.findTokenByHash('b'.repeat(64))));
      expect(found.every((t) => t?.id === 't1')).toBe(true);
      expect(asked).toHaveBeenCalledTimes(1);
      // a revocation another process commits is seen in the next turn
      const cli = open();
      await cli.revokeToken('t1', '2024-02-01T00:00:00.000Z');
      await new Promise((resolve) => setImmediate(resolve));
      expect((await server.findTokenByHash('b'.repeat(64)))?.revoked).toBe('2024-02-01T00:00:00.000Z');
      expect(asked).toHaveBeenCalledTimes(2);
    } finally {
      asked.mockRestore();
    }
  });

  describe('the writer thread', () => {
    const write = (userName: string) => ({ attributes: { userName }, index: [], uniqueKeys: [{ attribute: 'userName', value: userName }] });
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, j) => ({ id: `u${from + j}`, write: write(`user${from + j}`) }));
    const AT = '2024-01-01T00:00:00.000Z';

    async function writerStore(entry = WRITER_ENTRY) {
      const store = new SqliteStore(file, { writerThread: entry });
      opened.push({ close: () => store.close() });
      await store.migrate();
      return { store, org: await store.ensureOrganization('acme') };
    }

    it('writes a large batch while the event loop goes on, and has committed it when it resolves', async () => {
      const { store, org } = await writerStore();
      let turns = 0;
      let turning = true;
      const turn = () => {
        turns++;
        if (turning) setImmediate(turn);
      };
      turn();
      const results = await store.createResources(org.id, 'User', AT, batch(0, 3000));
      turning = false;
      expect(results.every((r) => !(r instanceof Error))).toBe(true);
      // written on the event loop, the batch's transaction would take it whole: a turn or two, not hundreds
      expect(turns).toBeGreaterThan(50);
      expect(raw().prepare("SELECT count(*) AS n FROM resources WHERE resource_type = 'User'").get()).toEqual({ n: 3000 });
    });

    it('a write made while the thread holds a batch waits its turn, and neither fails', async () => {
      const { store, org } = await writerStore();
      const big = store.createResources(org.id, 'User', AT, batch(0, 2000));
      const single = store.createResource(org.id, 'User', 'late', AT, write('late'));
      const token = store.createToken({ id: 't1', orgId: org.id, name: 'ci', hash: 'f'.repeat(64), scope: 'scim', dialect: 'rfc', created: AT });
      await Promise.all([big, single, token]);
      const seq = (id: string) => (raw().prepare('SELECT seq FROM resources WHERE id = ?').get(id) as { seq: number }).seq;
      expect(seq('late')).toBeGreaterThan(seq('u1999')); // in the order asked
      expect(await store.findTokenByHash('f'.repeat(64))).toMatchObject({ id: 't1' });
    });

    it('close() keeps the process alive until the thread has closed (a program that ends with close() goes on after it)', () => {
      const r = spawnSync(process.execPath, [fileURLToPath(new URL('./writer-close.mjs', import.meta.url)), join(writerFiles, 'close.db')], { encoding: 'utf8' });
      expect([r.status, r.stdout, r.stderr]).toEqual([0, 'closed\n', '']);
    });

    it('close() lets the batch in hand finish first', async () => {
      const { store, org } = await writerStore();
      const pending = store.createResources(org.id, 'User', AT, batch(0, 1000));
      await new Promise((r) => setImmediate(r)); // handed over
      await store.close();
      await expect(pending).resolves.toHaveLength(1000);
      expect(raw().prepare('SELECT count(*) AS n FROM resources').get()).toEqual({ n: 1000 });
    });

    it('a batch whose thread dies is refused and nothing of it is written; the store goes on', async () => {
      const { store, org } = await writerStore(new URL('./writer-that-dies.mjs', import.meta.url));
      await expect(store.createResources(org.id, 'User', AT, batch(0, 100))).rejects.toThrow(/writer thread exited/);
      // small batches are written on the event loop, as before
      await store.createResources(org.id, 'User', AT, batch(100, 3));
      expect(raw().prepare('SELECT count(*) AS n FROM resources').get()).toEqual({ n: 3 });
    });
  });
});

describe('SqliteStore writes', () => {
  it('a PATCH of the document writes its row once: the new document and its version in one statement', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const org = await store.ensureOrganization('acme');
    const at = '2024-01-01T00:00:00.000Z';
    await store.createResource(org.id, 'User', 'u1', at, { attributes: { userName: 'alice' }, index: [], uniqueKeys: [], display: 'alice' });
    await store.createResource(org.id, 'Group', 'g1', at, { attributes: { displayName: 'g' }, index: [], uniqueKeys: [], display: 'g' });
    const prepared = vi.spyOn(SqliteExecutor.prototype, 'statement');
    try {
      const write = { attributes: { displayName: 'g2' }, index: [], uniqueKeys: [], display: 'g2' };
      const members = { clear: false, add: ['u1'], remove: [], allowedTypes: ['User', 'Group'] };
      const patched = await store.patchResource(org.id, 'Group', 'g1', '2024-01-02T00:00:00.000Z', { write, members });
      expect(patched).toMatchObject({ version: 2, attributes: { displayName: 'g2' }, lastModified: '2024-01-02T00:00:00.000Z' });
      const ownRow = prepared.mock.calls.map(([sql]) => sql).filter((sql) => /^UPDATE resources .* WHERE seq = \?/s.test(sql));
      expect(ownRow).toEqual(['UPDATE resources SET version = version + 1, last_modified = ?, display = ?, data = ? WHERE seq = ? RETURNING *']);
    } finally {
      prepared.mockRestore();
      await store.close();
    }
  });

  it('a page and a GET read only the columns a resource is made of: its organization and type are the query\'s', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const org = await store.ensureOrganization('acme');
    const at = '2024-01-01T00:00:00.000Z';
    for (const id of ['u1', 'u2']) await store.createResource(org.id, 'User', id, at, { attributes: { userName: id }, index: [], uniqueKeys: [], display: id });
    const prepared = vi.spyOn(SqliteExecutor.prototype, 'statement');
    try {
      const page = await store.listResources(org.id, 'User', { offset: 0, limit: 10 });
      expect(page.resources.map((r) => [r.orgId, r.resourceType, r.id, r.attributes.userName])).toEqual([[org.id, 'User', 'u1', 'u1'], [org.id, 'User', 'u2', 'u2']]);
      // and so does a GET, with its groups or without
      expect(await store.getResource(org.id, 'User', 'u2')).toMatchObject({ orgId: org.id, resourceType: 'User', id: 'u2' });
      expect(await store.getResource(org.id, 'User', 'u2', true)).toMatchObject({ orgId: org.id, resourceType: 'User', groups: [] });
      const read = prepared.mock.calls.map(([sql]) => sql).filter((sql) => sql.includes('FROM resources r'));
      expect(read).toHaveLength(3);
      for (const sql of read) expect(sql).toMatch(/^SELECT r\.seq, r\.id, r\.version, r\.created, r\.last_modified, r\.data[, ]/);
    } finally {
      prepared.mockRestore();
      await store.close();
    }
  });
});
