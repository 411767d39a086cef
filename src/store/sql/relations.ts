/**
 * The resources a write changes through the membership relation, for both SQL stores. A group's members show in each
 * member's `groups`, and each member's label in its groups' `members`: when a write adds or removes members, or
 * changes a label, or deletes either side, the resources on the other side are represented differently, so their
 * version (their ETag, RFC 7644 §3.14) and lastModified move too. O(k) for the k resources a write touches.
 */
import { lastModifiedEntry } from '../../core/filter/index-entries.js';
import type { SqlDialect } from './dialect.js';
import { rowsOf, statement, type Program } from './executor.js';

const CHUNK = 500;

/** The members of a group. */
export function membersOf(orgId: string, groupId: string): Program<{ member_id: string }[]> {
  return rowsOf('SELECT member_id FROM group_members WHERE org_id = ? AND group_id = ?', orgId, groupId);
}

/** The groups a resource is a member of. */
export function groupsContaining(orgId: string, memberId: string): Program<{ group_id: string }[]> {
  return rowsOf('SELECT group_id FROM group_members WHERE org_id = ? AND member_id = ?', orgId, memberId);
}

/**
 * Moves the version and lastModified (and its index row) of the resources `ids` of the organization to `at`; in id
 * order, so that writers touching the same resources lock them in one order.
 */
export function* touchResources(orgId: string, ids: readonly string[], at: string, dialect: SqlDialect): Program<void> {
  const sorted = [...new Set(ids)].sort();
  for (let i = 0; i < sorted.length; i += CHUNK) {
    const which = dialect.anyOf('id', sorted.slice(i, i + CHUNK), 'text');
    const { rows } = yield* statement<{ seq: number }>(
      `UPDATE resources SET version = version + 1, last_modified = ? WHERE org_id = ? AND ${which.sql} RETURNING seq`, at, orgId, ...which.params,
    );
    if (rows.length === 0) continue;
    const seqs = dialect.anyOf('resource_seq', rows.map((r) => r.seq), 'bigint');
    const lastModified = lastModifiedEntry(at);
    yield* statement(
      `UPDATE attribute_num SET num = ? WHERE path = (SELECT id FROM index_paths WHERE path = ?) AND ${seqs.sql}`,
      lastModified.num, lastModified.path, ...seqs.params,
    );
  }
}

/** What a write did to the memberships of the resource it wrote (touchRelated). */
export interface RelatedChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Its label changed, or it is being deleted: every resource on the other side of its memberships moves. */
  readonly related: boolean;
  /** Its members alone changed: it moves too, in the same statements as they do (its document was not written). */
  readonly self?: boolean;
}

/**
 * After a write to the resource `id`: touches the members it added or removed and, when `related`, every resource
 * on the other side of its memberships (its members, the groups it is in). Call before a delete removes them.
 */
export function* touchRelated(orgId: string, id: string, change: RelatedChange, at: string, dialect: SqlDialect): Program<void> {
  const ids = [...(change.self ? [id] : []), ...change.added, ...change.removed];
  if (change.related) {
    for (const m of yield* membersOf(orgId, id)) ids.push(m.member_id);
    for (const g of yield* groupsContaining(orgId, id)) ids.push(g.group_id);
  }
  if (ids.length > 0) yield* touchResources(orgId, ids, at, dialect);
}
