/**
 * Group commit: the writes that reach the store within one turn of the event loop run in one transaction, each in
 * a savepoint of its own, and share one commit — one disk flush (synchronous=FULL) for all of them instead of one
 * each. A write is still atomic on its own (a failure rolls back its savepoint only), and its promise settles only
 * after the commit, so nothing is acknowledged before it is on disk. Under load the writes that arrive while one
 * commit flushes form the next group, so throughput grows with concurrency while a lone write waits one tick more.
 */
import type Database from 'better-sqlite3';

interface Pending {
  readonly work: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];

  constructor(private readonly db: Database.Database) {}

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const group = this.queue;
    this.queue = [];
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
