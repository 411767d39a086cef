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

/** A deliver function for the dispatcher: resolves on a 2xx answer, rejects on anything else. */
export function webhookDeliverer(hook: Webhook): (event: LifecycleEvent) => Promise<void> {
  return async (event) => {
    const body = JSON.stringify(event);
    const res = await fetch(hook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'scimd-event-id': event.id,
        'scimd-event-type': event.type,
        [SIGNATURE_HEADER]: sign(hook.secret, Math.floor(Date.now() / 1000), body),
      },
      body,
      signal: AbortSignal.timeout(hook.timeoutMs ?? 10_000),
    });
    await res.body?.cancel();
    if (res.status < 200 || res.status > 299) throw new Error(`the webhook answered HTTP ${res.status}`);
  };
}
