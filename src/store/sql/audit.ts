/** The audit log's SQL, the same for every SQL store. */
import { memberChange, type AuditEntry, type AuditQuery } from '../../core/audit.js';
import type { SqlDialect, SqlFragment } from './dialect.js';
import { insertFlat, type Program } from './executor.js';

/** An audit entry as written: with the version the write left and the membership it really changed. */
export interface AuditWrite {
  readonly entry: AuditEntry;
  readonly version: number | undefined;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** The columns of an audit_log row that auditValues gives, in its order. */
export const AUDIT_COLUMNS = 'at, org_id, token_id, token_name, client, request_id, operation, resource_type, resource_id, version, status, scim_type, detail, changes';
const AUDIT_WIDTH = AUDIT_COLUMNS.split(',').length;

/** An entry's values, in the order of AUDIT_COLUMNS. */
export function auditValues({ entry, version, added, removed }: AuditWrite): unknown[] {
  const members = memberChange(added, removed);
  const changes = members ? [...entry.changes, members] : entry.changes;
  return [
    entry.at, entry.orgId ?? null, entry.tokenId ?? null, entry.tokenName ?? null, entry.clientAddress ?? null, entry.requestId ?? null,
    entry.operation, entry.resourceType ?? null, entry.resourceId ?? null, version ?? null,
    entry.status, entry.scimType ?? null, entry.detail ?? null, JSON.stringify(changes),
  ];
}

/** audit_log rows given flat (auditValues of each), in multi-row statements. */
export function insertAuditValues(flat: readonly unknown[], dialect: SqlDialect): Program<number> {
  return insertFlat(`INSERT INTO audit_log (${AUDIT_COLUMNS})`, AUDIT_WIDTH, flat, dialect.rowsPerInsert);
}

/** An entry restored at its position in the log. */
export function restoredAudit(seq: number, write: AuditWrite, dialect: SqlDialect): SqlFragment {
  return {
    sql: `INSERT INTO audit_log (seq, ${AUDIT_COLUMNS})${dialect.overridingIdentity} VALUES (${Array<string>(AUDIT_WIDTH + 1).fill('?').join(', ')})`,
    params: [seq, ...auditValues(write)],
  };
}

/** The entries matching the query, in log order, at most `limit`. */
export function listAudit(query: AuditQuery): SqlFragment {
  const where: string[] = [];
  const params: unknown[] = [];
  const cond = (sql: string, value: unknown) => {
    if (value === undefined) return;
    where.push(sql);
    params.push(value);
  };
  cond('seq > ?', query.afterSeq);
  cond('org_id = ?', query.orgId);
  cond('at >= ?', query.since);
  cond('at < ?', query.until);
  cond('resource_type = ?', query.resourceType);
  cond('resource_id = ?', query.resourceId);
  cond('token_id = ?', query.tokenId);
  if (query.outcome) where.push(query.outcome === 'success' ? 'status < 400' : 'status >= 400');
  return {
    sql: `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`,
    params: [...params, query.limit],
  };
}
