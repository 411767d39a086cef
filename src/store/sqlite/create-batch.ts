/**
 * A batch of creates as the SQLite store writes it, every value made beforehand: it crosses to the writer thread
 * (writer-thread.ts) as plain data, and the thread only runs statements.
 */
import type { Membership } from '../../core/model.js';
import type { UniquenessViolation, UnknownMembers } from '../../core/errors.js';

/**
 * A create as this store writes it, every value made (it crosses to the writer thread as plain data): the resources
 * row, the index rows flat (path id, value, ordinal, …), the unique values flat (attribute's path id, value, …), the
 * audit_log row and the outbox rows. A create's membership change is known before it is written (every member is
 * added, or an unknown one fails it), so its audit entry and member events are too.
 */
export interface CreateRow {
  readonly resource: ResourceRow;
  readonly strs: readonly unknown[];
  readonly nums: readonly unknown[];
  readonly unique: readonly unknown[];
  /** In the order of AUDIT_COLUMNS. */
  readonly audit?: readonly unknown[];
  /** Flat (id, channel, stream, payload, next_attempt, org_id, …). */
  readonly events: readonly unknown[];
  readonly membership?: Membership;
}

/** A row of `resources` (its organization and type are the batch's); seq null: the next one. */
export interface ResourceRow {
  readonly seq: number | null;
  readonly id: string;
  readonly version: number;
  readonly created: string;
  readonly lastModified: string;
  readonly display: string | null;
  /** The document, as JSON. */
  readonly data: string;
}

/** Creates of one resource type written together (createResources). */
export interface CreateBatch {
  readonly orgId: string;
  readonly resourceType: string;
  readonly scope: number;
  readonly rows: readonly CreateRow[];
  readonly stopAfterErrors?: number;
}

export type CreateOutcome = 'created' | UniquenessViolation | UnknownMembers;

