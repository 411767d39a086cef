/**
 * The SQLite file as the shared SQL reaches it (sql/executor.ts): one better-sqlite3 connection in WAL mode, so
 * readers never wait for the writer and other processes (`scimd token create`) can share the file while a server
 * runs. Every write, the shared ones and the store's own, goes through the group commit (group-commit.ts): none
 * takes the write lock on its own, so none can block the event loop in SQLite's busy handler while the writer
 * thread holds the lock.
 */
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { SqlFragment } from '../sql/dialect.js';
import type { Program, Result, Row, SqlExecutor, Statement } from '../sql/executor.js';
import { GroupCommit } from './group-commit.js';
import { SQLITE } from './sqlite-dialect.js';

/**
 * Prepared statements kept, the ones used last: the fixed statements are few and stay; a filter's shape or an
 * audit query's conditions make a statement each, so the cache is bounded. Preparing costs as much as running.
 */
const STATEMENTS = 512;

export class SqliteExecutor implements SqlExecutor {
  readonly dialect = SQLITE;
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly commits: GroupCommit;

  constructor(readonly filename: string) {
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    this.db = new Database(filename);
    // an in-memory database (and a file system without shared memory) keeps its own journal mode
    const wal = (this.wal = this.db.pragma('journal_mode = WAL', { simple: true }) === 'wal');
    // A write acknowledged to the client survives power loss, not only a process crash. In WAL mode a commit only
    // writes (NORMAL), and the group commit acknowledges it once the WAL file's fdatasync has ended after it, off the
    // event loop (syncWal); otherwise every commit waits for the disk (FULL).
    this.db.pragma(wal ? 'synchronous = NORMAL' : 'synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.commits = new GroupCommit(this.db, wal ? (done) => this.syncWal(done) : undefined);
    this.dataVersionStatement = this.db.prepare('PRAGMA data_version');
  }

  /**
   * A prepared statement from the cache (the one used last moves to its end). Shared by every caller with the same
   * text: none may change its mode (pluck, raw, expand), or the next caller would read rows of another shape.
   */
  statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s) this.statements.delete(sql);
    else {
      s = this.db.prepare(sql);
      if (this.statements.size >= STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, s);
    return s;
  }

  private step(s: Statement): Result {
    if (s.script) {
      this.db.exec(s.sql);
      return { rows: [], changes: 0 };
    }
    const prepared = this.statement(s.sql);
    return prepared.reader ? { rows: prepared.all(...s.params) as Row[], changes: 0 } : { rows: [], changes: prepared.run(...s.params).changes };
  }

  /**
   * A number that changes whenever another connection (another process, the writer thread) has committed to the
   * file since it was last read (PRAGMA data_version); this connection's own commits leave it as it is.
   */
  dataVersion(): number {
    return (this.dataVersionStatement.get() as { data_version: number }).data_version;
  }

  private readonly dataVersionStatement: Database.Statement;

  /**
   * The WAL file, opened at the first sync (a commit has made it by then). SQLite deletes it only when the last
   * connection to the file closes, and this one is open for as long as the descriptor is.
   */
  private walFd: number | undefined;

  /** In WAL mode: commits only write (synchronous=NORMAL), and the WAL file is synced after them. */
  private readonly wal: boolean;

  private walFile(): number {
    return (this.walFd ??= openSync(`${this.filename}-wal`, 'r'));
  }

  private syncWal(done: (error: Error | null) => void): void {
    let fd: number;
    try {
      fd = this.walFile();
    } catch (error) {
      return done(error as Error);
    }
    fdatasync(fd, done);
  }

  /**
   * Runs `work` in a transaction of its own and returns once its commit is on disk, waiting for the disk here: for
   * a thread that has nothing else to do meanwhile (the writer thread), not for the event loop.
   */
  commitNow<T>(work: () => T): T {
    const refused = this.commits.failure;
    if (refused) throw refused;
    const result = this.db.transaction(work).immediate();
    try {
      if (this.wal) fdatasyncSync(this.walFile());
    } catch (error) {
      throw this.commits.syncFailed(error as Error);
    }
    return result;
  }

  /** Runs a program here and now, synchronously: inside a transaction the caller holds. */
  runSync<T>(program: Program<T>): T {
    for (let next = program.next(); ; ) {
      if (next.done) return next.value;
      next = program.next(this.step(next.value));
    }
  }

  async read<T>(program: Program<T>): Promise<T> {
    return this.runSync(program);
  }

  async snapshot<T>(program: Program<T>): Promise<T> {
    return this.db.transaction(() => this.runSync(program))();
  }

  write<T>(program: Program<T>): Promise<T> {
    return this.commits.run(() => this.runSync(program));
  }

  /** The store's own synchronous write work, in the group commit as a program is. */
  transaction<T>(work: () => T): Promise<T> {
    return this.commits.run(work);
  }

  /** A write made by another connection (the writer thread's), run when no group holds the lock; see GroupCommit. */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.commits.exclusive(job);
  }

  async *readSession<T>(use: (query: (s: SqlFragment) => Promise<Row[]>) => AsyncGenerator<T>): AsyncGenerator<T> {
    // An in-memory database cannot be opened twice: it is read whole first, on this connection, before anything is
    // handed out, so no write comes between its statements (they are all answered in one turn of the event loop).
    if (this.filename === ':memory:') {
      const all: T[] = [];
      for await (const item of use(async (s) => this.statement(s.sql).all(...s.params) as Row[])) all.push(item);
      return yield* all;
    }
    // a read transaction on a connection of its own: WAL keeps its snapshot while this one writes on
    const reader = new Database(this.filename, { readonly: true, fileMustExist: true });
    try {
      reader.pragma('busy_timeout = 5000');
      reader.exec('BEGIN');
      yield* use(async (s) => reader.prepare(s.sql).all(...s.params) as Row[]);
    } finally {
      reader.close();
    }
  }

  /** Why this connection refuses writes, if it does: a sync of the WAL file failed (GroupCommit). */
  get writesRefused(): Error | undefined {
    return this.commits.failure;
  }

  /** Resolves once no write is queued or running (GroupCommit.settled). */
  settled(): Promise<void> {
    return this.commits.settled();
  }

  /** Closes the connection once the writes queued (and those they queue in turn) are committed. */
  async close(): Promise<void> {
    await this.commits.settled();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
    if (this.db.open) this.db.close();
  }
}
