/** Rows as the SQL stores keep them (the same tables in SQLite and PostgreSQL), and their contract values. */
import type { Attributes, ResourceRef, StoredResource, TokenRecord } from '../store.js';

export interface ResourceRow {
  seq: number;
  org_id: string;
  resource_type: string;
  id: string;
  version: number;
  created: string;
  last_modified: string;
  data: string;
}

export interface TokenRow {
  id: string;
  org_id: string;
  name: string;
  dialect: string;
  hash: string;
  created: string;
  last_used: string | null;
  revoked: string | null;
}

export function toResource(row: ResourceRow): StoredResource {
  return {
    orgId: row.org_id,
    resourceType: row.resource_type,
    id: row.id,
    version: row.version,
    created: row.created,
    lastModified: row.last_modified,
    attributes: JSON.parse(row.data) as Attributes,
  };
}

export function toToken(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    dialect: row.dialect,
    hash: row.hash,
    created: row.created,
    ...(row.last_used ? { lastUsed: row.last_used } : {}),
    ...(row.revoked ? { revoked: row.revoked } : {}),
  };
}

export function toRef(row: { value: string; resourceType: string; display: string | null }): ResourceRef {
  return row.display === null ? { value: row.value, resourceType: row.resourceType } : { ...row, display: row.display };
}
