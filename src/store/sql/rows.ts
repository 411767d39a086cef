/** Rows as the SQL stores keep them (the same tables in SQLite and PostgreSQL), and their contract values. */
import { FULL_ACCESS } from '../../core/scopes.js';
import type { Attributes, ConsoleGrant, OutboxEvent, ResourceRef, StoredResource, TokenRecord, TrustedIssuer } from '../../core/model.js';
import type { AuditRecord } from '../../core/audit.js';
import type { LifecycleEvent } from '../../core/events.js';
import type { IndexEntry } from '../../core/model.js';

export interface ResourceRow {
  seq: number;
  org_id: string;
  resource_type: string;
  id: string;
  version: number;
  created: string;
  last_modified: string;
  /** The label other resources show for it (ResourceWrite.display). */
  display: string | null;
  data: string;
}

export interface TokenRow {
  id: string;
  org_id: string | null;
  name: string;
  dialect: string;
  scope: string;
  /** Space-separated, as OAuth writes them; null: full access (tokens made before scopes). */
  scopes: string | null;
  hash: string;
  created: string;
  expires: string | null;
  /** A trusted issuer's configuration, as JSON. */
  config: string | null;
  last_used: string | null;
  revoked: string | null;
}

/**
 * The columns of a resources row `r` a resource is read with: its organization and type are the query's, and its
 * label is for others to show. Making each value read into JavaScript is most of what reading a page costs.
 */
export const RESOURCE_COLUMNS = 'r.seq, r.id, r.version, r.created, r.last_modified, r.data';

/** A row read with RESOURCE_COLUMNS, and with the groups column (memberGroupsColumn) when asked for. */
export type ReadResourceRow = Pick<ResourceRow, 'seq' | 'id' | 'version' | 'created' | 'last_modified' | 'data'> & Pick<ResourceRowWithGroups, 'groups'>;

/** A resources row read with the groups column: JSON text in SQLite, parsed in PostgreSQL. */
export type ResourceRowWithGroups = ResourceRow & { groups?: string | [string, string, string | null][] | null };

/** The resource of a whole row, with its `groups` when the row was read with them. */
export function toResource(row: ResourceRowWithGroups): StoredResource {
  return toReadResource(row.org_id, row.resource_type, row);
}

/** A row read without its organization and type, which the caller knows, as the resource it is. */
export function toReadResource(orgId: string, resourceType: string, row: ReadResourceRow): StoredResource {
  const resource: StoredResource = {
    orgId,
    resourceType,
    id: row.id,
    version: row.version,
    created: row.created,
    lastModified: row.last_modified,
    attributes: JSON.parse(row.data) as Attributes,
  };
  if (row.groups === undefined) return resource;
  const groups = typeof row.groups === 'string' ? (JSON.parse(row.groups) as [string, string, string | null][]) : (row.groups ?? []);
  return { ...resource, groups: groups.map(([value, resourceType, display]) => toRef({ value, resourceType, display })) };
}

export function toToken(row: TokenRow): TokenRecord {
  const scope = row.scope === 'admin' || row.scope === 'operator' || row.scope === 'client' || row.scope === 'issuer' ? row.scope : 'scim';
  return {
    id: row.id,
    ...(row.org_id !== null ? { orgId: row.org_id } : {}),
    name: row.name,
    dialect: row.dialect,
    scope,
    ...(scope === 'scim' || scope === 'client' || scope === 'issuer' ? { scopes: row.scopes ? row.scopes.split(' ') : FULL_ACCESS } : {}),
    hash: row.hash,
    created: row.created,
    ...(row.expires ? { expires: row.expires } : {}),
    ...(row.config ? { issuer: JSON.parse(row.config) as TrustedIssuer } : {}),
    ...(row.last_used ? { lastUsed: row.last_used } : {}),
    ...(row.revoked ? { revoked: row.revoked } : {}),
  };
}

export function toRef(row: { value: string; resourceType: string; display: string | null }): ResourceRef {
  return row.display === null ? { value: row.value, resourceType: row.resourceType } : { ...row, display: row.display };
}

export interface AuditRow {
  seq: number;
  at: string;
  org_id: string | null;
  token_id: string | null;
  token_name: string | null;
  client: string | null;
  request_id: string | null;
  operation: AuditRecord['operation'];
  resource_type: string | null;
  resource_id: string | null;
  version: number | null;
  status: number;
  scim_type: string | null;
  detail: string | null;
  changes: string;
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  const optional = {
    orgId: row.org_id, tokenId: row.token_id, tokenName: row.token_name, clientAddress: row.client, requestId: row.request_id,
    resourceType: row.resource_type, resourceId: row.resource_id, version: row.version, scimType: row.scim_type, detail: row.detail,
  };
  return {
    seq: row.seq,
    at: row.at,
    operation: row.operation,
    status: row.status,
    changes: JSON.parse(row.changes),
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== null)),
  };
}

export interface OutboxRow {
  seq: number;
  channel: string;
  payload: string;
  attempts: number;
  last_error: string | null;
}

export function toOutboxEvent(row: OutboxRow): OutboxEvent {
  const event = JSON.parse(row.payload) as LifecycleEvent;
  return { seq: row.seq, channel: row.channel, event, attempts: row.attempts, ...(row.last_error !== null ? { lastError: row.last_error } : {}) };
}

/** A row of attribute_str (value: a string) or attribute_num (value: a number, a boolean as 0/1, a dateTime as ms). */
export interface IndexRow<V> {
  readonly path: string;
  readonly ordinal: number;
  readonly value: V;
}

/**
 * Index entries as the rows of the two index tables. A complex value's marker (neither string nor number) is a
 * string row of '' at the complex attribute's own path, which holds no string value: `pr` and value filters on
 * the attribute read it from the string table's key.
 */
export function indexRows(entries: readonly IndexEntry[]): { strs: IndexRow<string>[]; nums: IndexRow<number>[] } {
  const strs: IndexRow<string>[] = [];
  const nums: IndexRow<number>[] = [];
  for (const { path, ordinal, str, num } of entries) {
    if (num === undefined) strs.push({ path, ordinal, value: str ?? '' });
    else nums.push({ path, ordinal, value: num });
  }
  return { strs, nums };
}

export interface GrantRow {
  id: string;
  hash: string;
  kind: string;
  org_id: string | null;
  created: string;
  expires: string;
  created_by: string;
  used: string | null;
  last_seen: string | null;
  revoked: string | null;
  csrf: string | null;
  link_id: string | null;
}

export function toGrant(row: GrantRow): ConsoleGrant {
  return {
    id: row.id,
    hash: row.hash,
    kind: row.kind === 'setup' || row.kind === 'session' ? row.kind : 'signin',
    ...(row.org_id !== null ? { orgId: row.org_id } : {}),
    created: row.created,
    expires: row.expires,
    createdBy: row.created_by,
    ...(row.used !== null ? { used: row.used } : {}),
    ...(row.last_seen !== null ? { lastSeen: row.last_seen } : {}),
    ...(row.revoked !== null ? { revoked: row.revoked } : {}),
    ...(row.csrf !== null ? { csrf: row.csrf } : {}),
    ...(row.link_id !== null ? { linkId: row.link_id } : {}),
  };
}
