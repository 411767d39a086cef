/**
 * Cursors for RFC 9865 pagination. A cursor is a keyset position (the last or first resource's sort key and
 * position) signed with a secret the store keeps, so any node sharing the database can continue a listing another
 * node began, and a forged or altered cursor is refused. It also binds the query it belongs to and its issue time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { scimErrors } from './errors.js';
import type { Keyset } from './model.js';

export interface CursorState {
  /** `next`: resources after `at`; `prev`: resources before it. */
  readonly direction: 'next' | 'prev';
  readonly at: Keyset;
  /** Digest of the query the cursor pages through (organization, type, filter, sort). */
  readonly query: string;
  /** Seconds since the epoch. */
  readonly issued: number;
}

function sign(payload: string, secret: Buffer): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

/** base64url and "." only: RFC 3986 unreserved characters, as RFC 9865 §2 requires. */
export function encodeCursor(state: CursorState, secret: Buffer): string {
  const payload = Buffer.from(JSON.stringify([state.direction === 'next' ? 1 : 0, state.at.key ?? null, state.at.position, state.query, state.issued])).toString('base64url');
  return `${payload}.${sign(payload, secret)}`;
}

export function decodeCursor(text: string, secret: Buffer, query: string, now: number, timeoutSeconds: number): CursorState {
  const invalid = () => scimErrors.invalidCursor('The cursor is not one this server issued for this query; start again without a cursor value.');
  const [payload, signature, extra] = text.split('.');
  if (!payload || !signature || extra !== undefined) throw invalid();
  const expected = Buffer.from(sign(payload, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(fields) || fields.length !== 5) throw invalid();
  const [dir, key, position, digest, issued] = fields as [unknown, unknown, unknown, unknown, unknown];
  if (digest !== query || typeof position !== 'number' || typeof issued !== 'number') throw invalid();
  if (key !== null && typeof key !== 'string' && typeof key !== 'number') throw invalid();
  if (now - issued > timeoutSeconds) {
    throw scimErrors.expiredCursor(`The cursor expired after ${timeoutSeconds} seconds (ServiceProviderConfig pagination.cursorTimeout); start again without a cursor value.`);
  }
  return { direction: dir === 1 ? 'next' : 'prev', at: key === null ? { position } : { key, position }, query, issued };
}
