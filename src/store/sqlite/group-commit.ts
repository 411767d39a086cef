/**
 * Group commit: the writes that reach the store while the previous group is being written run in one transaction,
 * each in a savepoint of its own, and share one commit and one disk flush. A write is still atomic on its own (a
 * failure rolls back its savepoint only), and its promise settles only once its commit is on disk. Under load the
 * writes that arrive while one group commits form the next group, so throughput grows with concurrency while a lone
 * write waits one tick more.
 *
 * Given a `sync` (the connection runs synchronous=NORMAL, and sync is the WAL file's fdatasync on the thread pool),
 * the commit only writes and the disk flush runs off the event loop: reads are answered and the next group's writes
 * parsed and planned while the disk works, and the next group begins when the flush has ended, so a group is as
 * large as with synchronous=FULL.
 *
 * An exclusive job is a write made elsewhere (the writer thread's connection, see writer-thread.ts): it takes its
 * turn in the same queue, and no group begins until it has settled, so the connection here never waits inside
 * SQLite (blocking the event loop) for a lock the job holds.
 */
import type Database from 'better-sqlite3';

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

type Pending = {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
} & ({ readonly work: () => unknown } | { readonly job: () => Promise<unknown> });

export class GroupCommit {
  private queue: Pending[] = [];
  /** A job or a group is running (a group until its sync has ended), or a flush is scheduled. */
  private busy = false;

  /**
   * Once a sync has failed, no later one is trusted: the kernel may have dropped the pages it could not write and
   * report the next sync clean. Every write from then on is refused, until the process opens the file again.
   */
  private unsynced: Error | undefined;

  constructor(private readonly db: Database.Database, private readonly sync?: Sync) {}

  /** Why writes are refused: a sync failed. */
  get failure(): Error | undefined {
    return this.unsynced;
  }

  /** Refuses every write from now on, for the sync that failed (here, or made by the connection on its own). */
  syncFailed(error: Error): Error {
    return (this.unsynced ??= new Error(`the database file could not be made durable: ${error.message}`, { cause: error }));
  }

  run<T>(work: () => T): Promise<T> {
    return this.enqueue<T>((resolve, reject) => ({ work, resolve, reject }));
  }

  /** Runs `job` when the writes queued before it are committed; the writes queued after it wait for it to settle. */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.enqueue<T>((resolve, reject) => ({ job, resolve, reject }));
  }

  /**
   * Resolves once nothing is queued or running, as seen between turns of the event loop: a write that queues
   * another when it settles (a create whose scope was just made) has queued it by then.
   */
  async settled(): Promise<void> {
    do await new Promise((resolve) => setImmediate(resolve));
    while (this.busy || this.queue.length > 0);
  }

  private enqueue<T>(make: (resolve: (value: unknown) => void, reject: (error: unknown) => void) => Pending): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(make(resolve as (value: unknown) => void, reject));
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    const next = this.queue[0]!;
    if ('job' in next) {
      this.queue.shift();
      next.job().then(next.resolve, next.reject).finally(() => {
        this.busy = false;
        this.schedule();
      });
      return;
    }
    const end = this.queue.findIndex((p) => 'job' in p);
    const group = this.queue.splice(0, end === -1 ? this.queue.length : end) as Extract<Pending, { work: unknown }>[];
    const refused = this.unsynced;
    if (refused) return this.finish(group, () => ({ ok: false, error: refused }));
    const outcomes: Outcome[] = [];
    try {
      this.db.transaction(() => {
        for (const { work } of group) {
          try {
            // nested in the group's transaction, a transaction function is a savepoint
            outcomes.push({ ok: true, value: this.db.transaction(work)() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (error) {
      // the commit failed (or the write lock was not to be had): none of the group is written
      return this.finish(group, () => ({ ok: false, error }));
    }
    if (!this.sync) return this.finish(group, (i) => outcomes[i]!);
    this.sync((error) => {
      if (!error) return this.finish(group, (i) => outcomes[i]!);
      const failed = this.syncFailed(error);
      this.finish(group, () => ({ ok: false, error: failed }));
    });
  }

  /** Settles each write of the group, and lets the next group begin. */
  private finish(group: readonly Pending[], outcome: (i: number) => Outcome): void {
    group.forEach((p, i) => {
      const o = outcome(i);
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
    this.busy = false;
    this.schedule();
  }
}

/** Makes what the connection has committed so far durable; calls `done` once it is, or with why it may not be. */
export type Sync = (done: (error: Error | null) => void) => void;
