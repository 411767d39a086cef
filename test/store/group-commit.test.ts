/** The SQLite store's group commit: one transaction and one flush for the writes of a tick, each atomic on its own. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { GroupCommit } from '../../src/store/sqlite/group-commit.js';

function database(file = ':memory:') {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
  return db;
}
const values = (db: Database.Database) => (db.prepare('SELECT v FROM t ORDER BY v').all() as { v: string }[]).map((r) => r.v);

describe('GroupCommit', () => {
  it('the writes of one tick share one transaction; each resolves with its own result after the commit', async () => {
    const db = database();
    const commits = new GroupCommit(db);
    const begun = vi.spyOn(db, 'transaction');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const results = await Promise.all(['a', 'b', 'c'].map((v) => commits.run(() => insert.run(v).changes)));
    expect(results).toEqual([1, 1, 1]);
    // one for the group, one savepoint per write
    expect(begun).toHaveBeenCalledTimes(4);
    expect(values(db)).toEqual(['a', 'b', 'c']);
  });

  it('a failing write rolls back alone: its promise rejects, the others of the group are written', async () => {
    const db = database();
    const commits = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const outcomes = await Promise.allSettled([
      commits.run(() => insert.run('a')),
      commits.run(() => {
        insert.run('half'); // written, then undone with its savepoint
        insert.run('a'); // a primary key clash
      }),
      commits.run(() => insert.run('b')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(values(db)).toEqual(['a', 'b']);
  });

  it('when the group cannot commit, every write of it is refused and nothing is written', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'scimd-group-')), 'g.db');
    const db = database(file);
    db.pragma('busy_timeout = 50');
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE'); // another process holds the write lock
    const commits = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const outcomes = await Promise.allSettled([commits.run(() => insert.run('a')), commits.run(() => insert.run('b'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    other.exec('ROLLBACK');
    expect(values(db)).toEqual([]);
    // and the next group goes through
    await commits.run(() => insert.run('c'));
    expect(values(db)).toEqual(['c']);
  });

  it('writes of later ticks form later groups', async () => {
    const db = database();
    const commits = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const first = commits.run(() => insert.run('a'));
    await first;
    const begun = vi.spyOn(db, 'transaction');
    await commits.run(() => insert.run('b'));
    expect(begun).toHaveBeenCalledTimes(2);
    expect(values(db)).toEqual(['a', 'b']);
  });

  it('an exclusive job waits for the writes queued before it, and the writes queued after it wait for the job', async () => {
    const db = database();
    const commits = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const order: string[] = [];
    let finish!: () => void;
    const before = commits.run(() => (insert.run('a'), order.push('a')));
    const job = commits.exclusive(async () => {
      order.push(`job saw ${values(db).join(',')}`); // the write before it is committed
      await new Promise<void>((resolve) => (finish = resolve));
      order.push('job done');
      return 'answer';
    });
    const after = commits.run(() => (insert.run('b'), order.push('b')));
    await before;
    // the job holds the queue across turns of the event loop: the later write has not run
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['a', 'job saw a']);
    finish();
    expect(await job).toBe('answer');
    await after;
    expect(order).toEqual(['a', 'job saw a', 'job done', 'b']);
    expect(values(db)).toEqual(['a', 'b']);
  });

  it('a failing exclusive job rejects alone, and the queue goes on', async () => {
    const db = database();
    const commits = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const outcomes = await Promise.allSettled([
      commits.exclusive(async () => {
        throw new Error('the other connection failed');
      }),
      commits.run(() => insert.run('a')),
      commits.exclusive(async () => 'second job'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(outcomes[2]).toMatchObject({ value: 'second job' });
    expect(values(db)).toEqual(['a']);
  });

  describe('with a sync (the WAL file\'s fdatasync)', () => {
    /** A sync that ends only when the test says so. */
    function heldSync() {
      const calls: ((error: Error | null) => void)[] = [];
      return { calls, sync: (done: (error: Error | null) => void) => void calls.push(done) };
    }
    const ticks = async (n = 5) => {
      for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
    };

    it('a write is acknowledged only once a sync begun after its commit has ended; reads see the commit meanwhile', async () => {
      const db = database();
      const held = heldSync();
      const commits = new GroupCommit(db, held.sync);
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      let acknowledged = false;
      const write = commits.run(() => insert.run('a').changes).then((v) => ((acknowledged = true), v));
      await ticks();
      expect(values(db)).toEqual(['a']); // committed, and the event loop goes on
      expect(held.calls).toHaveLength(1);
      expect(acknowledged).toBe(false);
      held.calls[0]!(null);
      expect(await write).toBe(1);
    });

    it('the writes that arrive while a sync runs are committed together once it has ended', async () => {
      const db = database();
      const held = heldSync();
      const commits = new GroupCommit(db, held.sync);
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      const first = commits.run(() => insert.run('a'));
      await ticks();
      expect(held.calls).toHaveLength(1);
      // two more writes, in later ticks, while the first group's sync runs: the event loop goes on, they wait
      const second = commits.run(() => insert.run('b'));
      await ticks();
      const third = commits.run(() => insert.run('c'));
      await ticks();
      expect(values(db)).toEqual(['a']);
      const begun = vi.spyOn(db, 'transaction');
      held.calls[0]!(null);
      await first;
      await ticks();
      // one group: its transaction and a savepoint each
      expect(begun).toHaveBeenCalledTimes(3);
      expect(values(db)).toEqual(['a', 'b', 'c']);
      expect(held.calls).toHaveLength(2);
      held.calls[1]!(null);
      await Promise.all([second, third]);
    });

    it('settled() waits for the sync in flight', async () => {
      const db = database();
      const held = heldSync();
      const commits = new GroupCommit(db, held.sync);
      void commits.run(() => db.prepare('INSERT INTO t (v) VALUES (?)').run('a'));
      let settled = false;
      void commits.settled().then(() => (settled = true));
      await ticks(10);
      expect(settled).toBe(false);
      held.calls[0]!(null);
      await ticks(10);
      expect(settled).toBe(true);
    });

    it('a failed sync refuses the writes it served, and every write after it, without writing them', async () => {
      const db = database();
      const held = heldSync();
      const commits = new GroupCommit(db, held.sync);
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      const write = commits.run(() => insert.run('a'));
      await ticks();
      held.calls[0]!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await expect(write).rejects.toThrow(/could not be made durable: EIO/);
      // a later sync might report clean after the kernel dropped the pages it could not write: none is trusted
      await expect(commits.run(() => insert.run('b'))).rejects.toThrow(/could not be made durable/);
      expect(held.calls).toHaveLength(1);
      expect(values(db)).toEqual(['a']);
      expect(commits.failure?.message).toMatch(/could not be made durable: EIO/);
    });
  });
});
