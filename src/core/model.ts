/**
 * The core's vocabulary: the values that cross between the SCIM core and what it is built on (the ports in ports.ts)
 * or that it answers with. Plain data, no behaviour. Named as RFC 7643/7644 name them where they do.
 */
import type { BoundFilter, SortSpec } from './filter/bound.js';
import type { AuditEntry, AuditRecord } from './audit.js';
import type { LifecycleEvent, MemberEventBase } from './events.js';

/** A resource's attributes as stored: canonical attribute names, extension objects under their schema URN. */
export type Attributes = Record<string, unknown>;

/** The tenant every resource, token and audit entry belongs to; requests never see another's data. */
export interface Organization {
  readonly id: string;
  readonly name: string;
  readonly created: string;
}

/** What a token may call. */
export type TokenScope =
  /** The SCIM API of its organization (what an IdP holds). */
  | 'scim'
  /** The admin API of its organization: its tokens, audit log and events, nothing of another. */
  | 'admin'
  /** The admin API of every organization: the server's operator. */
  | 'operator'
  /** An OAuth client of its organization: its secret gets access tokens at the token endpoint (src/oauth). */
  | 'client'
  /** A JWT issuer its organization trusts (`issuer`): the JWTs it signs for the audience are taken as tokens. */
  | 'issuer';

/** What a trusted issuer's JWTs must be: signed by its keys, for the audience, with these claims. */
export interface TrustedIssuer {
  /** The `iss` its tokens carry. */
  readonly issuer: string;
  /** The `aud` they must carry (one of them). */
  readonly audience: string;
  /** Where its public keys are (a JWKS, RFC 7517); or */
  readonly jwksUrl?: string;
  /** its public key: PEM (SPKI) or a JWK as JSON. */
  readonly publicKey?: string;
  /** Claims a token must carry with exactly these values (e.g. Entra's `tid`, a gateway's `azp`). */
  readonly claims?: Readonly<Record<string, string>>;
}

export interface TokenRecord {
  readonly id: string;
  /** The organization it belongs to; absent for an operator token, which belongs to none. */
  readonly orgId?: string;
  readonly name: string;
  /** The client dialect the token serves (`rfc`, `entra`, `okta`, …). */
  readonly dialect: string;
  /** SHA-256 of the token, hex. The token itself is never stored. */
  readonly hash: string;
  readonly scope: TokenScope;
  /** A SCIM token's scopes (core/scopes.ts), such as `scim:read`; absent for admin and operator tokens. */
  readonly scopes?: readonly string[];
  readonly created: string;
  /** When it stops being accepted; absent: never (Entra requires a perpetual token). */
  readonly expires?: string;
  /** A trusted issuer's (scope `issuer`) configuration. */
  readonly issuer?: TrustedIssuer;
  readonly lastUsed?: string;
  readonly revoked?: string;
}

/** A token as authentication finds it: with its organization's name, which the store reads in the same query. */
export interface FoundToken extends TokenRecord {
  /** Absent for an operator token (it has no organization), and from a store that does not read it. */
  readonly orgName?: string;
}

/** What an admin may see and change: every organization (the server's operator) or one (its admin). */
export type AdminScope = { readonly all: true } | { readonly orgId: string };

/** What an organization holds, counted (what deleting it deletes). */
export interface OrganizationContents {
  /** Resources by resource type. */
  readonly resources: Readonly<Record<string, number>>;
  readonly tokens: number;
  readonly auditEntries: number;
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
  /**
   * The groups it is a direct member of, in the order it joined them: only when read with them (getResource, a page
   * of listResources).
   */
  readonly groups?: readonly ResourceRef[];
}

/**
 * One value a filter or sort reads, as the core computes it from a resource (filter/index-entries.ts): the index
 * path (lower-cased, e.g. `emails.value`), the ordinal of the element it belongs to, and the value normalised as a
 * bound filter's values are (a string case-folded by its attribute's rule, or a number: booleans 0/1, dateTimes
 * epoch ms). A complex value's marker has neither.
 */
export interface IndexEntry {
  readonly path: string;
  readonly ordinal: number;
  readonly str?: string;
  readonly num?: number;
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
  /** What the store records with the write (see ResourceStore). */
  readonly record?: ChangeRecord;
}

export interface Membership {
  readonly ids: readonly string[];
  /** Resource types a member may be; an id naming anything else is reported as unknown. */
  readonly allowedTypes: readonly string[];
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
  /** What the store records with the change (see ResourceStore); the audit entry even when nothing changed. */
  readonly record?: ChangeRecord;
  /** The answer carries the resource's groups (StoredResource.groups), read by the statement that writes it. */
  readonly withGroups?: boolean;
}

/** A change planned from a resource as it stands (ResourceStore.modifyResource). */
export type Modification =
  | { readonly kind: 'replace'; readonly at: string; readonly write: ResourceWrite; readonly withGroups?: boolean }
  | { readonly kind: 'patch'; readonly at: string; readonly change: PatchChange }
  | { readonly kind: 'delete'; readonly record?: ChangeRecord };

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

/**
 * The outbox channel of the events feed: an event of it is not delivered but given a place in the feed, one
 * sequence for every organization (Outbox.readFeed).
 */
export const FEED_CHANNEL = '#feed';

/** An event of the feed, at its place. */
export interface FeedEvent {
  readonly position: number;
  readonly event: LifecycleEvent;
}

/** What Outbox.readFeed read. */
export interface FeedSlice {
  readonly events: readonly FeedEvent[];
  /** The feed's highest place when the read began (0: none yet). */
  readonly top: number;
  /** The lowest place the feed still holds (top + 1 when it holds none): a place below `oldest - 1` was pruned. */
  readonly oldest: number;
}

/** An event in the outbox, with how often its delivery was tried. */
export interface OutboxEvent {
  readonly seq: number;
  readonly channel: string;
  readonly event: LifecycleEvent;
  readonly attempts: number;
  readonly lastError?: string;
}

/** A delivery channel's events not yet delivered: waiting (for their turn or their next attempt), and dead. */
export interface EventBacklog {
  readonly channel: string;
  readonly pending: number;
  readonly dead: number;
}

/** An event on one delivery channel, as it stands: delivered, waiting (for its turn or its next attempt), or dead. */
export interface Delivery extends OutboxEvent {
  readonly state: 'delivered' | 'pending' | 'dead';
  /** When it was delivered or dead-lettered; for a pending one, when it is tried next. */
  readonly when: string;
}

export interface CreateManyOptions {
  /** Once this many items have failed, attempt no more: the result then ends with the last failure. */
  readonly stopAfterErrors?: number;
}

/** Another resource as a reference names it: a group's member, a user's group. */
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
  /**
   * Each resource's `groups` read with the page, in the same statement: on a page in creation order. A sorted page
   * would read them for every match before cutting the page, so its resources come without, for groupsOf.
   */
  readonly withGroups?: boolean;
}

export interface ResourcePage {
  /** How many resources match in all. */
  readonly total: number;
  /** The page, in the query's order. */
  readonly resources: StoredResource[];
  /** The place of each resource of the page, for cursors. */
  readonly keysets: Keyset[];
}

/** RFC 7644 §3.4.2: a page of a query's results. */
export interface ListResponse {
  readonly schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'];
  readonly totalResults: number;
  readonly itemsPerPage: number;
  /** Index pagination only. */
  readonly startIndex?: number;
  /** Cursor pagination only (RFC 9865): absent on the last page. */
  readonly nextCursor?: string;
  /** Cursor pagination only: absent on the first page. */
  readonly previousCursor?: string;
  readonly Resources: Attributes[];
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

/**
 * A secret that lets someone into the console: a one-time sign-in link, an organization's setup link (for its IT
 * admin, usable until it expires or is revoked), or a session. Kept by the SHA-256 digest of its secret.
 */
export interface ConsoleGrant {
  readonly id: string;
  readonly hash: string;
  readonly kind: 'signin' | 'setup' | 'session';
  /** The organization it is for; none: the operator's (every organization). */
  readonly orgId?: string;
  readonly created: string;
  readonly expires: string;
  /** Who made it (the audit log's caller name). */
  readonly createdBy: string;
  /** A one-time link: when it was used. */
  readonly used?: string;
  /** A session: when it was last seen (its idle timeout runs from here). */
  readonly lastSeen?: string;
  readonly revoked?: string;
  /** A session: the token every state-changing request must carry (CSRF). */
  readonly csrf?: string;
  /** A session: the link that opened it (revoking a setup link ends its sessions). */
  readonly linkId?: string;
}
