/**
 * The ports: what the core needs from a database, as narrow roles, each consumer taking only the roles it uses
 * (createScim: ResourceStore, AuditLog, SecretStore; authentication: TokenStore, AuditLog; event delivery: Outbox; …).
 * The core decides everything SCIM (validation, uniqueness keys, display labels, rendering); a store only persists
 * and answers, and enforces in the database what must hold under concurrency (uniqueness, membership references,
 * versions); what it refuses, it throws as the typed errors of errors.ts. A `Store` plays every role: store/sqlite (the embedded default) and store/postgres implement it, and
 * each passes the contract suite in test/store/contract.ts.
 * Resource ids are unique within an organization across all resource types (the core draws UUIDs): membership
 * and unique values refer to a resource by (organization, id) alone.
 */
import type { AuditEntry, AuditQuery, AuditRecord } from './audit.js';
import type {
  ChangeRecord, ConsoleGrant, CreateManyOptions, Delivery, EventBacklog, FeedSlice, Modification, Organization, OrganizationContents, OutboxEvent, PatchChange, ResourcePage, ResourceQuery, ResourceRef, ResourceWrite,
  SnapshotRecord, StoredResource, TokenRecord, FoundToken,
} from './model.js';
import type { UniquenessViolation, UnknownMembers } from './errors.js';

/**
 * Resources and the membership relation. A ChangeRecord given with a write (ResourceWrite.record,
 * PatchChange.record, deleteResource's) is recorded in the write's own transaction: the audit entry with the version
 * the write left and, for a group, a `members` change naming the ids the write really added and removed; the events
 * in the outbox, with a member event per member really added or removed. A write that is refused (conflict,
 * uniqueness, unknown members) records nothing.
 */
export interface ResourceStore {
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
  /** With `withGroups`, its `groups` read in the same statement (a member's side of the relation, groupsOf's). */
  getResource(orgId: string, resourceType: string, id: string, withGroups?: boolean): Promise<StoredResource | undefined>;
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
  /**
   * Changes a resource from its state as it stands, with no other write to it coming between, so that concurrent
   * writers queue instead of failing and each leaves the state it planned: `plan` is given the resource (and its
   * members, read in the same transaction) and returns the change, or throws to write nothing. PostgreSQL holds the
   * resource's row lock from the read to the commit; SQLite runs one plan a resource at a time in this process and
   * plans again if another process wrote in between. The resource as the change left it (for a delete, as it was);
   * undefined when there is none; 'conflict' only when other processes kept changing it (SQLite). Throws as create.
   */
  modifyResource(
    orgId: string,
    resourceType: string,
    id: string,
    plan: (current: StoredResource, members: () => Promise<ResourceRef[]>) => Promise<Modification>,
  ): Promise<StoredResource | 'conflict' | undefined>;
  /** The page of matching resources in a stable order, and how many match in all. */
  listResources(orgId: string, resourceType: string, query: ResourceQuery): Promise<ResourcePage>;
  /** The members of a group, in the order they were added. */
  members(orgId: string, groupId: string): Promise<ResourceRef[]>;
  /** The groups each of these resources is a direct member of (one query for a whole page of users). */
  groupsOf(orgId: string, memberIds: readonly string[]): Promise<Map<string, ResourceRef[]>>;
}

export interface OrganizationStore {
  /** The organization of that name, made if there is none (concurrent first calls all get the one made). */
  ensureOrganization(name: string): Promise<Organization>;
  organizations(): Promise<Organization[]>;
  /** False (nothing written) when another organization has the name. */
  createOrganization(org: Organization): Promise<boolean>;
  /** False when there is no such organization; 'taken' (nothing written) when another has the name. */
  renameOrganization(id: string, name: string): Promise<boolean | 'taken'>;
  /**
   * What each organization holds (every organization's, each one listed, or only the one of that id), counted in
   * one grouped query rather than one per organization.
   */
  organizationContents(id?: string): Promise<ReadonlyMap<string, OrganizationContents>>;
  /**
   * Deletes the organization with everything of it, in one transaction: its resources (with their index rows,
   * unique values and memberships), tokens and audit entries. What it deleted; undefined when there is none.
   * Events already in the outbox stay, to be delivered.
   */
  deleteOrganization(id: string): Promise<OrganizationContents | undefined>;
}

export interface TokenStore {
  createToken(token: TokenRecord): Promise<void>;
  /** The token with that digest, with its organization's name (`orgName`, for the caller's context and events). */
  findTokenByHash(hash: string): Promise<FoundToken | undefined>;
  /** Every token, oldest first; of one organization when named. */
  listTokens(orgId?: string): Promise<TokenRecord[]>;
  /** Returns false when no active token has that id. */
  revokeToken(id: string, at: string): Promise<boolean>;
  touchToken(id: string, at: string): Promise<void>;
}

export interface AuditLog {
  /** Records entries of requests that changed nothing (failures, rejected authentication). */
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  /** The entries matching the query, in log order, at most `limit`. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Deletes the entries older than `before`; returns how many. */
  pruneAudit(before: string): Promise<number>;
}

/** The transactional outbox of lifecycle events (written with each change; see ResourceStore). */
export interface Outbox {
  /**
   * Leases up to `limit` events of `channel` (default '') due for delivery until `leaseUntil`: for each resource
   * only its oldest event not yet delivered or dead (so a resource's events go out in order; a dead one does not
   * hold the rest back), and none another process holds.
   */
  claimEvents(now: string, leaseUntil: string, limit: number, channel?: string): Promise<OutboxEvent[]>;
  /** Marks events delivered (a batch in one write: each commit costs a disk flush). */
  completeEvents(seqs: readonly number[], at: string): Promise<void>;
  /** Records a failed attempt: tried again from `retryAt`, or dead-lettered when it is undefined. */
  failEvent(seq: number, error: string, retryAt: string | undefined): Promise<void>;
  /** The dead-lettered events, oldest first. */
  deadEvents(limit: number): Promise<OutboxEvent[]>;
  /** The events not yet delivered, per channel that has any: those still to be tried, and the dead-lettered. */
  eventBacklog(): Promise<readonly EventBacklog[]>;
  /** An organization's newest events on the delivery channels (not the feed's), newest first, as they stand. */
  recentDeliveries(orgId: string, limit: number): Promise<Delivery[]>;
  /** Puts dead-lettered events (one, by event id, or all) back for delivery; returns how many. */
  retryDeadEvents(eventId?: string): Promise<number>;
  /**
   * Deletes events delivered before `before`, and the feed's events placed before then but for the newest (so the
   * feed's places stay one unbroken run from `oldest` to `top`); returns how many.
   */
  pruneEvents(before: string): Promise<number>;
  /**
   * The events feed (FEED_CHANNEL). First places the feed's events committed since the last call, after every place
   * given before (one placer at a time), so no event becomes readable at a place below one already readable; then
   * reads up to `limit` events of `orgId` (of every organization when undefined) placed in (after, top], oldest first.
   */
  readFeed(orgId: string | undefined, after: number, limit: number): Promise<FeedSlice>;
}

export interface RequestCounter {
  /**
   * Adds `n` to the request count of `key` in time window `window` (shared by every process on the database) and
   * returns the window's new total; windows before `window - 1` are forgotten.
   */
  countRequests(key: string, window: number, n: number): Promise<number>;
}

export interface SecretStore {
  /** A random 32-byte secret with this name, made on first use and the same for every process on the database. */
  secret(name: string): Promise<Buffer>;
}

/** The console's links and sessions (see ConsoleGrant). */
export interface ConsoleStore {
  createGrant(grant: ConsoleGrant): Promise<void>;
  findGrant(hash: string): Promise<ConsoleGrant | undefined>;
  /** Marks a one-time grant used; false when it was used already (two tabs racing: one wins). */
  useGrant(id: string, at: string): Promise<boolean>;
  /** Records that a session was seen. */
  touchGrant(id: string, at: string): Promise<void>;
  /** Revokes a grant and the sessions it opened; false when there is no such grant not yet revoked. */
  revokeGrant(id: string, at: string): Promise<boolean>;
  /** Deletes the grants that expired before `before` (links and sessions alike); returns how many. */
  pruneGrants(before: string): Promise<number>;
  /** The grants of a kind, of one organization or the operator's (orgId undefined), newest first. */
  listGrants(kind: ConsoleGrant['kind'], orgId: string | undefined): Promise<ConsoleGrant[]>;
}

export interface SnapshotStore {
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

/** A database that plays every role. */
export interface Store extends ResourceStore, OrganizationStore, TokenStore, AuditLog, Outbox, RequestCounter, SecretStore, SnapshotStore, ConsoleStore {
  /** Applies pending versioned migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  /** This process's connections to the database, where a pool holds them (PostgreSQL): for metrics. */
  poolStats?(): PoolStats;
  close(): Promise<void>;
}

/** A connection pool as it stands: connections open (busy or idle), the most it opens, requests waiting for one. */
export interface PoolStats {
  readonly open: number;
  readonly idle: number;
  readonly max: number;
  readonly waiting: number;
}
