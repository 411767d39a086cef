/**
 * Webhook delivery of lifecycle events: a POST of the event as JSON, signed with HMAC-SHA256 over
 * `<unix time>.<body>` (header `scimd-signature: t=<unix time>,v1=<hex>`), so a receiver can check that scimd sent it
 * and, with the time and the event id (`scimd-event-id`), refuse replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { LifecycleEvent } from '../core/events.js';

export const SIGNATURE_HEADER = 'scimd-signature';

export function sign(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Whether a delivery is genuine: the signature matches the body and was made within `toleranceSeconds` of now.
 * Receivers should also remember event ids they have processed (deliveries are at least once).
 */
export function verifySignature(secret: string, header: string | undefined, body: string, options: { toleranceSeconds?: number; now?: Date } = {}): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const timestamp = Number(m[1]);
  const age = Math.abs((options.now ?? new Date()).getTime() / 1000 - timestamp);
  if (age > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(sign(secret, timestamp, body).slice(-64), 'hex');
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

export interface Webhook {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs?: number;
}

/** How much of a refusing answer's body a failure quotes. */
const ANSWER_SHOWN_BYTES = 200;

/** The first `max` bytes of an answer's body as one line of text (control characters as spaces); the rest unread. */
async function firstBytes(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } catch {
    // the answer broke off: what came is what there is to show
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/**
 * A deliver function for the dispatcher: resolves on a 2xx answer, rejects on anything else with why, for the
 * event's `lastError`: `HTTP 500: <the first 200 bytes of the answer>`, no answer within the timeout, or fetch's
 * failure with its cause (the dispatcher's failureText writes out "connect ECONNREFUSED 127.0.0.1:9999").
 */
export function webhookDeliverer(hook: Webhook): (event: LifecycleEvent) => Promise<void> {
  const timeoutMs = hook.timeoutMs ?? 10_000;
  return async (event) => {
    const body = JSON.stringify(event);
    let res: Response;
    try {
      res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'scimd-event-id': event.id,
          'scimd-event-type': event.type,
          [SIGNATURE_HEADER]: sign(hook.secret, Math.floor(Date.now() / 1000), body),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      if (e instanceof Error && e.name === 'TimeoutError') throw new Error(`no answer within ${timeoutMs} ms`);
      throw e;
    }
    if (res.status >= 200 && res.status <= 299) {
      await res.body?.cancel();
      return;
    }
    const shown = await firstBytes(res, ANSWER_SHOWN_BYTES);
    throw new Error(`HTTP ${res.status}${shown ? `: ${shown}` : ''}`);
  };
}
