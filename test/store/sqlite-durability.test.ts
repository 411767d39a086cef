/**
 * What the SQLite store acknowledges is on disk: the connection commits without waiting (synchronous=NORMAL in WAL
 * mode) and a write is acknowledged only once the WAL file's fdatasync, begun after its commit, has ended.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteExecutor } from '../../src/store/sqlite/sqlite-executor.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { statement } from '../../src/store/sql/executor.js';

/** The files synced, in order; while `held`, a sync ends only when the test releases it. */
const disk = vi.hoisted(() => ({ synced: [] as string[], waited: [] as string[], held: false, failing: false, release: [] as (() => void)[] }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const path = (fd: number) => fs.readlinkSync(`/proc/self/fd/${fd}`);
  return {
    ...fs,
    fdatasync: (fd: number, done: (error: Error | null) => void) => {
      disk.synced.push(path(fd));
      if (disk.failing) done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      else if (disk.held) disk.release.push(() => fs.fdatasync(fd, done));
      else fs.fdatasync(fd, done);
    },
    fdatasyncSync: (fd: number) => {
      disk.waited.push(path(fd));
      if (disk.failing) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      fs.fdatasyncSync(fd);
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'scimd-durable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  disk.synced = [];
  disk.waited = [];
  disk.held = false;
  disk.failing = false;
});
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe.runIf(process.platform === 'linux')('SQLite durability', () => {
  it('commits without waiting for the disk, and acknowledges a write once the WAL file is synced after it', async () => {
    const x = new SqliteExecutor(join(dir, 'a.db'));
    expect(x.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    await x.transaction(() => x.db.exec('CREATE TABLE t (v TEXT)'));
    disk.synced = [];
    disk.held = true;
    let acknowledged = false;
    const write = x.write(statement('INSERT INTO t (v) VALUES (?)', 'a')).then(() => (acknowledged = true));
    await ticks();
    expect(x.db.prepare('SELECT v FROM t').pluck().all()).toEqual(['a']); // committed
    expect(disk.synced).toEqual([`${realpathSync(dir)}/a.db-wal`]);
    expect(acknowledged).toBe(false);
    disk.release.shift()!();
    await write;
    expect(acknowledged).toBe(true);
    await x.close();
  });

  it("the writer thread's batch is synced before the thread answers it", async () => {
    const store = new SqliteStore(join(dir, 'b.db'), { writerThread: false });
    await store.migrate();
    expect(disk.waited).toEqual([]);
    store.commitCreateBatch({ orgId: 'o', resourceType: 'User', scope: 1, rows: [] });
    expect(disk.waited).toEqual([`${realpathSync(dir)}/b.db-wal`]);
    // a failed sync there refuses that batch and every later one, as on the event loop
    disk.failing = true;
    expect(() => store.commitCreateBatch({ orgId: 'o', resourceType: 'User', scope: 1, rows: [] })).toThrow(/could not be made durable: EIO/);
    disk.failing = false;
    expect(() => store.commitCreateBatch({ orgId: 'o', resourceType: 'User', scope: 1, rows: [] })).toThrow(/could not be made durable/);
    expect(disk.waited).toHaveLength(2);
    await store.close();
  });

  it('a failed sync refuses that write and every later one, and the store is no longer ready', async () => {
    const store = new SqliteStore(join(dir, 'c.db'), { writerThread: false });
    await store.migrate();
    const org = await store.ensureOrganization('acme');
    const user = (id: string) => ({ attributes: { userName: id }, index: [], uniqueKeys: [], display: id });
    await store.ping();
    disk.failing = true;
    await expect(store.createResource(org.id, 'User', 'u1', '2024-01-01T00:00:00.000Z', user('u1'))).rejects.toThrow(/could not be made durable: EIO/);
    disk.failing = false;
    await expect(store.createResource(org.id, 'User', 'u2', '2024-01-01T00:00:00.000Z', user('u2'))).rejects.toThrow(/could not be made durable/);
    await expect(store.ping()).rejects.toThrow(/could not be made durable/);
    expect(await store.getResource(org.id, 'User', 'u2')).toBeUndefined(); // refused before it was written
    await store.close();
  });

  it('an in-memory database commits as before (no file to sync)', async () => {
    const x = new SqliteExecutor(':memory:');
    expect(x.db.pragma('synchronous', { simple: true })).toBe(2); // FULL, which costs nothing in memory
    await x.transaction(() => x.db.exec('CREATE TABLE t (v TEXT)'));
    await x.write(statement('INSERT INTO t (v) VALUES (?)', 'a'));
    expect(disk.synced).toEqual([]);
    await x.close();
  });
});
