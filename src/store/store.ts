/**
 * The store contract: the one narrow interface between the SCIM core and a database. The core decides everything
 * SCIM (validation, uniqueness keys, display labels, rendering); a store only persists and answers, and enforces in
 * the database what must hold under concurrency (uniqueness, membership references, versions).
 * Implementations: store/sqlite (embedded default), store/postgres. Each must pass the contract suite in test/store/contract.ts.
 * Resource ids are unique within an organization across all resource types (the core draws UUIDs): membership
 * and unique values refer to a resource by (organization, id) alone.
 */

import type { BoundFilter, SortSpec } from '../core/filter/bound.js';
import type { IndexEntry } from '../core/filter/index-entries.js';
import type { AuditEntry, AuditQuery, AuditRecord } from '../core/audit.js';
import type { LifecycleEvent, MemberEventBase } from '../core/events.js';

/** A resource's attributes as stored: canonical attribute names, extension objects under their schema URN. */
export type Attributes = Record<string, unknown>;

export interface Organization {
  readonly id: string;
  readonly name: string;
  readonly created: string;
}

export interface TokenRecord {
  readonly id: string;
  readonly orgId: string;
  readonly name: string;
  /** The client dialect the token serves (`rfc`, `entra`, `okta`, …). */
  readonly dialect: string;
  /** SHA-256 of the token, hex. The token itself is never stored. */
  readonly hash: string;
  /** What the token may call: the SCIM API of its organization, or the admin API (every organization). */
  readonly scope: 'scim' | 'admin';
  readonly created: string;
  readonly lastUsed?: string;
  readonly revoked?: string;
}

export interface StoredResource {
  readonly orgId: string;
  readonly resourceType: string;
  readonly id: string;
  /** Monotonic: 1 on create, +1 on every change. */
  readonly version: number;
  readonly created: string;
  readonly lastModified: string;
  readonly attributes: Attributes;
}

/** A value that must be unique among the organization's resources of one type (RFC 7643 `uniqueness`). */
export interface UniqueKey {
  readonly attribute: string;
  /** Already normalised by the core (lower-cased unless the attribute is caseExact). */
  readonly value: string;
}

export interface ResourceWrite {
  readonly attributes: Attributes;
  readonly uniqueKeys: readonly UniqueKey[];
  /** The values filters and sorting use, computed by the core (core/filter/index-entries.ts). */
  readonly index: readonly IndexEntry[];
  /** The label shown for this resource where others reference it (group members, a user's groups). */
  readonly display?: string;
  /** The complete member list of a group; undefined when the resource type has none (or, on replace, to keep it). */
  readonly membership?: Membership;
  /** What the store records with the write (see Store). */
  readonly record?: ChangeRecord;
}

/** A PATCH of a group's members as a delta: O(k) for k members named, whatever the group's size. */
export interface MembershipChange {
  /** Remove every current member first. */
  readonly clear: boolean;
  readonly add: readonly string[];
  readonly remove: readonly string[];
  readonly allowedTypes: readonly string[];
}

export interface PatchChange {
  /**
   * The version the change was computed from (or that the client's If-Match names): a different stored version
   * means another write came first, and nothing is written. Absent: no check (a membership delta commutes).
   */
  readonly expectedVersion?: number;
  /** The new document, index and unique keys; absent when the document did not change. */
  readonly write?: ResourceWrite;
  readonly members?: MembershipChange;
  /** Index entries to set when only the membership changed (meta.lastModified). */
  readonly touch: readonly IndexEntry[];
  /** What the store records with the change (see Store); the audit entry even when nothing changed. */
  readonly record?: ChangeRecord;
}

/** What a write records beside the change, in the same transaction: its audit entry and lifecycle events. */
export interface ChangeRecord {
  readonly audit?: AuditEntry;
  /** Events to put in the outbox. */
  readonly events?: readonly LifecycleEvent[];
  /** When given, one group.member_added / group.member_removed event per member the write really changed. */
  readonly memberEvents?: MemberEventBase;
  /**
   * The delivery channels (e.g. one per webhook endpoint): every event is put in the outbox once per channel and
   * delivered on each on its own, so one failing receiver holds back no other. Default: one channel, ''.
   */
  readonly channels?: readonly string[];
}

/** An event in the outbox, with how often its delivery was tried. */
export interface OutboxEvent {
  readonly seq: number;
  readonly channel: string;
  readonly event: LifecycleEvent;
  readonly attempts: number;
  readonly lastError?: string;
}

export interface Membership {
  readonly ids: readonly string[];
  /** Resource types a member may be; an id naming anything else is reported as unknown. */
  readonly allowedTypes: readonly string[];
}

export interface CreateManyOptions {
  /** Once this many items have failed, attempt no more: the result then ends with the last failure. */
  readonly stopAfterErrors?: number;
}

export interface ResourceRef {
  /** The referenced resource's id. */
  readonly value: string;
  readonly resourceType: string;
  readonly display?: string;
}

/** A resource's place in a listing's order: its sort key (when sorted) and its creation position. */
export interface Keyset {
  readonly key?: string | number | null;
  readonly position: number;
}

export interface ResourceQuery {
  /** Only resources matching this filter; all when absent. */
  readonly filter?: BoundFilter;
  /** By this attribute (then by creation order); creation order when absent. */
  readonly sort?: SortSpec;
  /** 0-based; with `after`/`before`, counted from there. */
  readonly offset: number;
  readonly limit: number;
  /** Keyset paging: only resources after (or before) this place in the order. */
  readonly after?: Keyset;
  readonly before?: Keyset;
}

export interface ResourcePage {
  /** How many resources match in all. */
  readonly total: number;
  /** The page, in the query's order. */
  readonly resources: StoredResource[];
  /** The place of each resource of the page, for cursors. */
  readonly keysets: Keyset[];
}

/**
 * A ChangeRecord given with a write (ResourceWrite.record, PatchChange.record, deleteResource's) is recorded in the
 * write's own transaction: the audit entry with the version the write left and, for a group, a `members` change
 * naming the ids the write really added and removed; the events in the outbox, with a member event per member
 * really added or removed. A write that is refused (conflict, uniqueness, unknown members) records nothing.
 */
export interface Store {
  /** Applies pending versioned migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;

  ensureOrganization(name: string): Promise<Organization>;
  organizations(): Promise<Organization[]>;

  createToken(token: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  /** Returns false when no active token has that id. */
  revokeToken(id: string, at: string): Promise<boolean>;
  touchToken(id: string, at: string): Promise<void>;

  /** Throws UniquenessViolation or UnknownMembers; writes nothing then. */
  createResource(orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite): Promise<StoredResource>;
  /**
   * Creates many resources in one transaction, each atomically on its own: one that violates uniqueness or names
   * unknown members is not written and its error takes its place in the result; the others are.
   */
  createResources(
    orgId: string,
    resourceType: string,
    at: string,
    items: readonly { readonly id: string; readonly write: ResourceWrite }[],
    options?: CreateManyOptions,
  ): Promise<(StoredResource | UniquenessViolation | UnknownMembers)[]>;
  getResource(orgId: string, resourceType: string, id: string): Promise<StoredResource | undefined>;
  /**
   * Replaces attributes (and members when given) and bumps the version; undefined when absent; 'conflict' (nothing
   * written) when `expectedVersion` is given and the stored version differs. Throws as create.
   */
  replaceResource(
    orgId: string,
    resourceType: string,
    id: string,
    at: string,
    write: ResourceWrite,
    expectedVersion?: number,
  ): Promise<StoredResource | 'conflict' | undefined>;
  /**
   * Applies a PATCH in one transaction: the document and the membership delta, only if the stored version is still
   * `expectedVersion` (when given); the version goes up by one if anything changed, and stays if nothing did.
   * 'conflict' when the version differs; undefined when the resource is gone. Throws as create.
   */
  patchResource(orgId: string, resourceType: string, id: string, at: string, change: PatchChange): Promise<StoredResource | 'conflict' | undefined>;
  /**
   * Deletes the resource with its unique values and every membership it takes part in; false when absent;
   * 'conflict' (nothing deleted) when `expectedVersion` is given and the stored version differs.
   */
  deleteResource(orgId: string, resourceType: string, id: string, expectedVersion?: number, record?: ChangeRecord): Promise<boolean | 'conflict'>;
  /** The page of matching resources in a stable order, and how many match in all. */
  listResources(orgId: string, resourceType: string, query: ResourceQuery): Promise<ResourcePage>;

  /** Records entries of requests that changed nothing (failures, rejected authentication). */
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  /** The entries matching the query, in log order, at most `limit`. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Deletes the entries older than `before`; returns how many. */
  pruneAudit(before: string): Promise<number>;

  /**
   * Leases up to `limit` events of `channel` (default '') due for delivery until `leaseUntil`: for each resource only its oldest event not yet
   * delivered or dead (so a resource's events go out in order; a dead one does not hold the rest back), and none
   * another process holds.
   */
  claimEvents(now: string, leaseUntil: string, limit: number, channel?: string): Promise<OutboxEvent[]>;
  /** Marks events delivered (a batch in one write: each commit costs a disk flush). */
  completeEvents(seqs: readonly number[], at: string): Promise<void>;
  /** Records a failed attempt: tried again from `retryAt`, or dead-lettered when it is undefined. */
  failEvent(seq: number, error: string, retryAt: string | undefined): Promise<void>;
  /** The dead-lettered events, oldest first. */
  deadEvents(limit: number): Promise<OutboxEvent[]>;
  /** Puts dead-lettered events (one, by event id, or all) back for delivery; returns how many. */
  retryDeadEvents(eventId?: string): Promise<number>;
  /** Deletes events delivered before `before`; returns how many. */
  pruneEvents(before: string): Promise<number>;

  /**
   * Adds `n` to the request count of `key` in time window `window` (shared by every process on the database) and
   * returns the window's new total; windows before `window - 1` are forgotten.
   */
  countRequests(key: string, window: number, n: number): Promise<number>;

  /** A random 32-byte secret with this name, made on first use and the same for every process on the database. */
  secret(name: string): Promise<Buffer>;

  /** The members of a group, in the order they were added. */
  members(orgId: string, groupId: string): Promise<ResourceRef[]>;
  /** The groups each of these resources is a direct member of (one query for a whole page of users). */
  groupsOf(orgId: string, memberIds: readonly string[]): Promise<Map<string, ResourceRef[]>>;

  /**
   * Everything a directory is, as of one moment: every record read in one read snapshot, in batches (never the whole
   * database in memory), in the order importSnapshot needs (organizations, secrets, tokens, resources, members,
   * audit entries, outbox events). Writes made while it is read are not in it, and it does not hold them up.
   */
  exportSnapshot(): AsyncIterable<SnapshotRecord>;
  /**
   * Writes a snapshot into this store, which must be empty (no organization, token, resource, secret, audit entry
   * or event; else StoreNotEmpty and nothing is written), in batched transactions: resources through the path
   * writes take (index, unique values, resource counts), members checked as on a write.
   */
  importSnapshot(records: AsyncIterable<SnapshotRecord>): Promise<void>;
}

/**
 * One record of a snapshot (`scimd backup`): the stored rows as contract values, with what a resource's writes
 * gave the store (display label, unique keys, index entries), so an imported directory answers as its source did.
 * Positions and sequence numbers are kept: cursors name positions, and the audit log and outbox are read in order.
 * Outbox events are those not delivered yet (pending or dead), without their leases; request counts are left out.
 */
export type SnapshotRecord =
  | ({ readonly kind: 'organization' } & Organization)
  /** `value` in base64. */
  | { readonly kind: 'secret'; readonly name: string; readonly value: string }
  | ({ readonly kind: 'token' } & TokenRecord)
  | ({
    readonly kind: 'resource';
    readonly position: number;
    readonly display?: string;
    readonly uniqueKeys: readonly UniqueKey[];
    readonly index: readonly IndexEntry[];
  } & StoredResource)
  | { readonly kind: 'member'; readonly orgId: string; readonly groupId: string; readonly memberId: string; readonly memberType: string }
  | ({ readonly kind: 'audit' } & AuditRecord)
  | {
    readonly kind: 'event';
    readonly seq: number;
    readonly channel: string;
    readonly event: LifecycleEvent;
    readonly attempts: number;
    readonly nextAttempt: string;
    readonly lastError?: string;
    /** When it was dead-lettered. */
    readonly dead?: string;
  };

export type SnapshotKind = SnapshotRecord['kind'];

/** importSnapshot into a store that already holds a directory. */
export class StoreNotEmpty extends Error {
  override name = 'StoreNotEmpty';
  constructor(readonly holds: string) {
    super(`the target database is not empty (it holds ${holds}); restore only into a new, empty database`);
  }
}

/** A unique value is taken by another resource (enforced by the database, not by a prior read). */
export class UniquenessViolation extends Error {
  override name = 'UniquenessViolation';
  constructor(readonly attribute: string) {
    super(`unique value of ${attribute} is taken`);
  }
}

/** Group members that name no resource of the organization. */
export class UnknownMembers extends Error {
  override name = 'UnknownMembers';
  constructor(readonly ids: readonly string[]) {
    super(`unknown members: ${ids.join(', ')}`);
  }
}

/**
 * The database cannot be reached or lost the connection (PostgreSQL restarting, a network cut, no connection within
 * the connect timeout). Nothing is known to be wrong with the request, so it may be sent again; a write cut off while
 * committing may have been applied. SQLite never throws it: its file is local, and SQLITE_BUSY after the 5 s busy
 * timeout means a process held the write lock for seconds, a fault to see in the logs as a 500, not an outage.
 */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
}

/**
 * A statement ran past the database's statement timeout (PostgreSQL's SCIMD_DB_STATEMENT_TIMEOUT) and was cancelled:
 * its transaction wrote nothing. A list whose filter is this expensive is the client's to narrow (the core answers
 * 400 tooMany); anything else is an overloaded database, unavailable for now.
 */
export class QueryTimeout extends StoreUnavailable {
  override name = 'QueryTimeout';
}
