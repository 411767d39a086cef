/**
 * The provisioning audit log: one entry for every state-changing SCIM request (and every rejected authentication),
 * with who sent it, what it named, how it ended, and what changed. A successful write's entry travels with the write
 * and the store records it in the same transaction (no change without its record, no record of a change that did
 * not happen); a failed request's entry is recorded on its own. Pure: entries and diffs are computed here.
 */
import type { AttributeDefinition } from './schema/attribute.js';
import { COMMON_ATTRIBUTES, type ResourceType } from './schema/registry.js';
import { sameJson } from './json.js';
import type { ScimError } from './errors.js';

export type AuditOperation = 'create' | 'replace' | 'patch' | 'delete' | 'authenticate';

/** One attribute's change: its values before and after (absent = no value); a group's members as ids. */
export interface AttributeChange {
  /** The attribute's name, an extension's prefixed with its schema URN. */
  readonly attribute: string;
  readonly before?: unknown;
  readonly after?: unknown;
  /** members: the ids added and removed (at most MEMBER_IDS_SHOWN of each), and how many in all. */
  readonly added?: readonly string[];
  readonly removed?: readonly string[];
  readonly addedCount?: number;
  readonly removedCount?: number;
}

export interface AuditEntry {
  readonly at: string;
  /** Absent for an authentication that named no organization. */
  readonly orgId?: string;
  readonly tokenId?: string;
  readonly tokenName?: string;
  readonly clientAddress?: string;
  readonly requestId?: string;
  readonly operation: AuditOperation;
  readonly resourceType?: string;
  readonly resourceId?: string;
  /** The HTTP status of the outcome, and for failures the SCIM error's scimType and detail. */
  readonly status: number;
  readonly scimType?: string;
  readonly detail?: string;
  readonly changes: readonly AttributeChange[];
}

/** An entry as recorded: its place in the log, and the version the write produced. */
export interface AuditRecord extends AuditEntry {
  readonly seq: number;
  readonly version?: number;
}

/** A query of the log; every condition optional. Entries come in log order, after `afterSeq`. */
export interface AuditQuery {
  readonly orgId?: string;
  readonly since?: string;
  readonly until?: string;
  readonly resourceType?: string;
  readonly resourceId?: string;
  readonly tokenId?: string;
  readonly outcome?: 'success' | 'failure';
  readonly afterSeq?: number;
  readonly limit: number;
}

/** What the writer of an entry knows: the caller (token, address, request) and the time. */
export interface AuditCaller {
  readonly orgId?: string;
  readonly tokenId?: string;
  readonly tokenName?: string;
  readonly clientAddress?: string;
  readonly requestId?: string;
}

export const REDACTED = '[redacted]';
/** Membership changes list this many ids of each kind; the counts are always complete. */
export const MEMBER_IDS_SHOWN = 1000;

export function auditEntry(
  caller: AuditCaller,
  at: string,
  operation: AuditOperation,
  target: { resourceType?: string; resourceId?: string },
  outcome: { status: number; changes?: readonly AttributeChange[] } | ScimError,
): AuditEntry {
  const entry: { -readonly [K in keyof AuditEntry]: AuditEntry[K] } = {
    at,
    operation,
    status: outcome.status,
    changes: 'changes' in outcome && outcome.changes ? outcome.changes : [],
  };
  for (const k of ['orgId', 'tokenId', 'tokenName', 'clientAddress', 'requestId'] as const) if (caller[k] !== undefined) entry[k] = caller[k];
  if (target.resourceType !== undefined) entry.resourceType = target.resourceType;
  if (target.resourceId !== undefined) entry.resourceId = target.resourceId;
  if ('scimType' in outcome && outcome.scimType !== undefined) entry.scimType = outcome.scimType;
  if ('detail' in outcome && typeof outcome.detail === 'string') entry.detail = outcome.detail;
  return entry;
}

/**
 * The attributes that differ between two stored documents (either may be absent: a create, a delete), in schema
 * order. writeOnly values (password) never appear: a change shows as "[redacted]" on the side that has a value.
 */
export function changesOf(rt: ResourceType, before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): AttributeChange[] {
  const out: AttributeChange[] = [];
  const visit = (defs: readonly AttributeDefinition[], b: Record<string, unknown> | undefined, a: Record<string, unknown> | undefined, prefix: string) => {
    for (const def of defs) {
      const was = b?.[def.name];
      const is = a?.[def.name];
      if (was === undefined ? is === undefined : is !== undefined && sameJson(was, is)) continue;
      const secret = def.mutability === 'writeOnly' || def.returned === 'never';
      const change: { -readonly [K in keyof AttributeChange]: AttributeChange[K] } = { attribute: prefix + def.name };
      if (was !== undefined) change.before = secret ? REDACTED : was;
      if (is !== undefined) change.after = secret ? REDACTED : is;
      out.push(change);
    }
  };
  visit(COMMON_ATTRIBUTES, before, after, '');
  visit(rt.schema.attributes, before, after, '');
  for (const ext of rt.extensions) {
    const id = ext.schema.id;
    visit(ext.schema.attributes, before?.[id] as Record<string, unknown> | undefined, after?.[id] as Record<string, unknown> | undefined, `${id}:`);
  }
  return out;
}

/** The membership part of an entry, from the ids a write really added and removed. */
export function memberChange(added: readonly string[], removed: readonly string[]): AttributeChange | undefined {
  if (added.length === 0 && removed.length === 0) return undefined;
  return {
    attribute: 'members',
    ...(added.length ? { added: added.slice(0, MEMBER_IDS_SHOWN), addedCount: added.length } : {}),
    ...(removed.length ? { removed: removed.slice(0, MEMBER_IDS_SHOWN), removedCount: removed.length } : {}),
  };
}

