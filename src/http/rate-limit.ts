/**
 * Per-token rate limiting, one limit for every node on the database: each node counts its requests in the current
 * one-second window and adds them to the shared count every `syncMs`; a request is refused (429) once the shared
 * count as last seen plus this node's unsent count reaches the limit. So the limit holds across nodes, give or take
 * what the other nodes admitted since their last sync (at most nodes × limit × syncMs/1000), and a request never
 * waits for the database.
 */
import type { RequestCounter } from '../core/ports.js';

export interface RateLimiter {
  /** Counts one request of `key`; undefined when it may go ahead, else the seconds until it may (Retry-After). */
  take(key: string): number | undefined;
  /** Adds this node's unsent counts to the shared ones now (it happens every `syncMs` anyway). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

interface Window {
  readonly window: number;
  /** The shared count as the database last answered it. */
  shared: number;
  /** Requests admitted here and not yet added to the shared count. */
  unsent: number;
  /** Requests admitted here whose addition to the shared count is under way (in neither figure above yet). */
  sending: number;
}

export function rateLimiter(options: { store: RequestCounter; perSecond: number; syncMs?: number; now?: () => number }): RateLimiter {
  const { store, perSecond } = options;
  const now = options.now ?? Date.now;
  const windows = new Map<string, Window>();
  let syncing: Promise<void> = Promise.resolve();

  const current = (key: string): Window => {
    const window = Math.floor(now() / 1000);
    let w = windows.get(key);
    if (!w || w.window !== window) {
      w = { window, shared: 0, unsent: 0, sending: 0 };
      windows.set(key, w);
    }
    return w;
  };

  const sync = async () => {
    const window = Math.floor(now() / 1000);
    for (const [key, w] of windows) {
      if (w.window !== window) {
        windows.delete(key); // a past window's count no longer decides anything
        continue;
      }
      if (w.unsent === 0) continue;
      const n = w.unsent;
      w.unsent = 0;
      w.sending = n;
      try {
        w.shared = await store.countRequests(key, w.window, n);
      } catch {
        w.unsent += n; // the database is away: keep counting here and try again
      } finally {
        w.sending = 0;
      }
    }
  };
  const flush = () => (syncing = syncing.then(sync));
  const timer = setInterval(() => void flush(), options.syncMs ?? 100);
  timer.unref();

  return {
    take(key) {
      const w = current(key);
      if (w.shared + w.sending + w.unsent >= perSecond) return 1;
      w.unsent++;
      return undefined;
    },
    flush,
    async stop() {
      clearInterval(timer);
      await syncing;
    },
  };
}
