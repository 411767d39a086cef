/**
 * Webhook delivery of lifecycle events: a POST of the event as JSON, signed with HMAC-SHA256 over
 * `<unix time>.<body>` (header `scimd-signature: t=<unix time>,v1=<hex>`), so a receiver can check that scimd sent it
 * and, with the time and the event id (`scimd-event-id`), refuse replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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

/**
 * Idle connections to the receiver are closed after this long: sooner than a Node receiver closes them (5 s), so
 * that a delivery is not sent on a connection the receiver is closing.
 */
const IDLE_CONNECTION_MS = 4000;

/** The first `max` bytes of an answer's body as one line of text (control characters as spaces); the rest unread. */
function firstBytes(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    // an answer that breaks off shows what came
    const done = () => {
      res.destroy();
      resolve(Buffer.concat(chunks).subarray(0, max).toString('utf8').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim());
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= max) done();
    });
    res.on('end', done).on('error', done).on('aborted', done);
  });
}

/**
 * Whether a request failed because the kept-alive connection it was sent on had been closed by the receiver (a race
 * no timeout can rule out: the receiver may close it just as it is reused), before any answer came.
 */
function closedUnderneath(req: ClientRequest, error: NodeJS.ErrnoException): boolean {
  return req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
}

/**
 * A deliver function for the dispatcher: resolves on a 2xx answer, rejects on anything else with why, for the
 * event's `lastError`: `HTTP 500: <the first 200 bytes of the answer>` (a redirect too: an event is not sent on to
 * another address), no answer within the timeout, or the connection's failure ("connect ECONNREFUSED 127.0.0.1:9999",
 * a TLS error). node:http with connections kept alive, not fetch: a delivery costs a sixth of the CPU. A delivery
 * whose kept-alive connection turns out closed is sent again at once on a new one, within the same timeout, rather
 * than failed and retried later: delivery is at least once, and the receiver tells a repeat by its event id.
 */
export function webhookDeliverer(hook: Webhook): (event: LifecycleEvent) => Promise<void> {
  const timeoutMs = hook.timeoutMs ?? 10_000;
  const url = new URL(hook.url);
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  const agent = secure ? new HttpsAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }) : new HttpAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS });
  return (event) => new Promise<void>((resolve, reject) => {
    const body = JSON.stringify(event);
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'scimd-event-id': event.id,
      'scimd-event-type': event.type,
      [SIGNATURE_HEADER]: sign(hook.secret, Math.floor(Date.now() / 1000), body),
    };
    let req: ClientRequest;
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const succeed = () => (clearTimeout(timer), resolve());
    const fail = (error: Error) => (clearTimeout(timer), reject(error));
    // the second try on a connection of its own: the pool may hold more connections closed the same way
    const attempt = (pooled: boolean) => {
      const sent = (req = send(url, { method: 'POST', agent: pooled ? agent : false, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status <= 299) {
          res.resume().on('end', succeed).on('error', fail);
          return;
        }
        void firstBytes(res, ANSWER_SHOWN_BYTES).then((shown) => fail(new Error(`HTTP ${status}${shown ? `: ${shown}` : ''}`)));
      }));
      sent.on('error', (error: NodeJS.ErrnoException) => (pooled && closedUnderneath(sent, error) ? attempt(false) : fail(error)));
      sent.end(body);
    };
    attempt(true);
  });
}
