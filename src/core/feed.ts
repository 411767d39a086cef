/**
 * The events feed: the lifecycle events of an organization (or of every one), for applications that pull them with a
 * cursor instead of receiving webhooks. Every committed event is read exactly once, in the order its changes were
 * made: the store gives events their places only once they are committed, one placer at a time, each after every
 * place given before (Outbox.readFeed), so a reader's cursor never moves past an event that commits later.
 */
import { scimErrors } from './errors.js';
import type { LifecycleEvent } from './events.js';
import type { Outbox } from './ports.js';

export interface FeedParams {
  /** The cursor a previous page gave; absent: from the oldest event the feed still holds. */
  readonly after?: string | undefined;
  /** The most events to return: 1 to MAX_FEED_LIMIT, default DEFAULT_FEED_LIMIT. */
  readonly limit?: string | number | undefined;
}

export interface FeedPage {
  /** Each event with the cursor that reads on after it (a reader may keep its place mid-page). */
  readonly events: readonly (LifecycleEvent & { readonly cursor: string })[];
  /** Pass as `after` to read on. When no event is returned it still moves on, past other organizations' events. */
  readonly cursor: string;
  /** The page was full: more events are there already. */
  readonly more: boolean;
}

export const DEFAULT_FEED_LIMIT = 100;
export const MAX_FEED_LIMIT = 1000;

const CURSOR = /^(0|[1-9][0-9]{0,15})$/;

function limitOf(raw: FeedParams['limit']): number {
  if (raw === undefined || raw === '') return DEFAULT_FEED_LIMIT;
  const n = typeof raw === 'number' ? raw : /^[0-9]{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_FEED_LIMIT) throw scimErrors.invalidValue(`limit must be a whole number from 1 to ${MAX_FEED_LIMIT}, not "${String(raw).slice(0, 40)}".`);
  return n;
}

/** A page of the feed of `orgId` (every organization's when undefined), after the given cursor. */
export async function readFeedPage(store: Outbox, orgId: string | undefined, params: FeedParams): Promise<FeedPage> {
  const limit = limitOf(params.limit);
  const raw = params.after;
  if (raw !== undefined && raw !== '' && !CURSOR.test(raw)) throw scimErrors.invalidCursor(`after must be a cursor this feed gave, not "${raw.slice(0, 40)}".`);
  const given = raw === undefined || raw === '' ? undefined : Number(raw);
  const slice = await store.readFeed(orgId, given ?? 0, limit);
  if (given !== undefined && given > slice.top) throw scimErrors.invalidCursor(`The cursor ${given} is ahead of this feed (its newest event is at ${slice.top}): it was not given by this feed.`);
  if (given !== undefined && given < slice.oldest - 1) {
    throw scimErrors.expiredCursor(
      `Events after cursor ${given} were pruned (SCIMD_EVENT_RETENTION_DAYS): read the directory again (list the users and groups), then read on from cursor ${slice.oldest - 1}.`,
    );
  }
  const events = slice.events.map((e) => ({ ...e.event, cursor: String(e.position) }));
  const more = events.length === limit;
  // a full page reads on after its last event; a short one has read everything up to the feed's top
  const cursor = more ? events[events.length - 1]!.cursor : String(Math.max(slice.top, given ?? 0));
  return { events, cursor, more };
}
