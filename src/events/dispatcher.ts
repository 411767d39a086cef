/**
 * Delivers the outbox: leases due events (the store hands each resource's oldest pending one, so a resource's events
 * go out in order and no two processes deliver one event at once), delivers them, and records the outcome: done,
 * tried again later with exponential backoff and jitter, or dead-lettered after `maxAttempts`. At least once: an
 * event whose process died mid-delivery is leased again when its lease runs out.
 */
import type { LifecycleEvent } from '../core/events.js';
import type { OutboxEvent } from '../core/model.js';
import type { Outbox } from '../core/ports.js';

export interface DeliveryOptions {
  readonly store: Outbox;
  /** The outbox channel this delivers (default ''; one per webhook endpoint when there are several). */
  readonly channel?: string;
  /** Delivers one event; resolve when the receiver has it, reject to have it tried again. */
  readonly deliver: (event: LifecycleEvent) => Promise<void>;
  /** Attempts before an event is dead-lettered (`scimd events retry` brings it back). */
  readonly maxAttempts?: number;
  /** How long a leased event is this process's; past it another may deliver it. Longer than any delivery. */
  readonly leaseSeconds?: number;
  /** The wait before attempt n+1, in ms. Default: 1 s · 2^(n-1), at most an hour, with jitter. */
  readonly backoff?: (attempts: number) => number;
  readonly pollMs?: number;
  readonly batch?: number;
  /** Told of each failed attempt (for logs); `event` is absent when the store itself failed. */
  readonly onFailure?: (error: unknown, event: LifecycleEvent | undefined, dead: boolean) => void;
  /** Told how many events were delivered, once their delivery is recorded (for metrics). */
  readonly onDelivered?: (events: number) => void;
}

export interface Delivery {
  /** Stops leasing; resolves when the deliveries in flight have finished. */
  stop(): Promise<void>;
}

/** The longest failure text recorded (the outbox's `lastError`). */
const MAX_FAILURE_TEXT = 500;

/** One error of a chain in a line: its code where its message does not already say it, whitespace collapsed. */
function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e).replace(/\s+/g, ' ').trim();
  const code = (e as { code?: unknown }).code;
  // an AggregateError (a connection refused on each address of a name) has its story in its errors
  const message = (e instanceof AggregateError && e.errors.length > 0 ? e.errors.map(errorText).join('; ') : e.message).replace(/\s+/g, ' ').trim();
  if (typeof code !== 'string' || message.includes(code)) return message || e.name;
  return message ? `${code}: ${message}` : code;
}

/**
 * What an attempt failed with, in a line, for the outbox's `lastError` and the logs: the error and its causes, so that
 * a wrapper such as fetch's "fetch failed" says why ("fetch failed: connect ECONNREFUSED 127.0.0.1:9999", a TLS
 * error's code and message, "getaddrinfo ENOTFOUND …").
 */
export function failureText(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let i = 0; i < 5 && e !== undefined && e !== null; i++) {
    const text = errorText(e);
    if (text !== '' && !parts.includes(text)) parts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  const text = parts.join(': ') || 'unknown failure';
  return text.length > MAX_FAILURE_TEXT ? `${text.slice(0, MAX_FAILURE_TEXT - 1)}…` : text;
}

export function backoffWithJitter(attempts: number): number {
  const ceiling = Math.min(3_600_000, 1000 * 2 ** Math.max(0, attempts - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function startDelivery(options: DeliveryOptions): Delivery {
  const { store, deliver } = options;
  const maxAttempts = options.maxAttempts ?? 15;
  const leaseMs = (options.leaseSeconds ?? 60) * 1000;
  const backoff = options.backoff ?? backoffWithJitter;
  const pollMs = options.pollMs ?? 250;
  const batch = options.batch ?? 50;
  let running = true;
  let wake: (() => void) | undefined;

  /** Delivers one event; true when it was delivered, else its failure is recorded. */
  const attempt = async (o: OutboxEvent): Promise<boolean> => {
    try {
      await deliver(o.event);
      return true;
    } catch (error) {
      const dead = o.attempts + 1 >= maxAttempts;
      options.onFailure?.(error, o.event, dead);
      const retryAt = dead ? undefined : new Date(Date.now() + backoff(o.attempts + 1)).toISOString();
      await store.failEvent(o.seq, failureText(error), retryAt);
      return false;
    }
  };

  const loop = (async () => {
    while (running) {
      let claimed: OutboxEvent[] = [];
      try {
        const now = new Date();
        claimed = await store.claimEvents(now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), batch, options.channel ?? '');
        // one event per resource at most, so they may all go at once; the delivered ones are recorded together
        const delivered = await Promise.all(claimed.map(attempt));
        const done = claimed.filter((_, i) => delivered[i]).map((o) => o.seq);
        await store.completeEvents(done, new Date().toISOString());
        if (done.length > 0) options.onDelivered?.(done.length);
      } catch (error) {
        options.onFailure?.(error, undefined, false); // the store failed: wait, then try again
        claimed = [];
      }
      // a full batch means more are due: go on at once; otherwise wait, so that a light stream of events costs a
      // few writes a second rather than two per event (each a disk flush on SQLite)
      if (claimed.length < batch && running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  })();

  return {
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}
