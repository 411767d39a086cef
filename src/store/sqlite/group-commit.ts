/**
 * Group commit: the writes that reach the store within one turn of the event loop run in one transaction, each in
 * a savepoint of its own, and share one commit — one disk flush (synchronous=FULL) for all of them instead of one
 * each. A write is still atomic on its own (a failure rolls back its savepoint only), and its promise settles only
 * after the commit, so nothing is acknowledged before it is on disk. Under load the writes that arrive while one
 * commit flushes form the next group, so throughput grows with concurrency while a lone write waits one tick more.
 *
 * An exclusive job is a write made elsewhere (the writer thread's connection, see writer-thread.ts): it takes its
 * turn in the same queue, and no group begins until it has settled, so the connection here never waits inside
 * SQLite (blocking the event loop) for a lock the job holds.
 */
import type Database from 'better-sqlite3';

type Pending = {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
} & ({ readonly work: () => unknown } | { readonly job: () => Promise<unknown> });

export class GroupCommit {
  private queue: Pending[] = [];
  /** A job is running, or a flush is scheduled. */
  private busy = false;

  constructor(private readonly db: Database.Database) {}

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
    this.busy = false;
    this.schedule(); // a job queued behind this group
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
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
      for (const p of group) p.reject(error);
      return;
    }
    group.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }
}
