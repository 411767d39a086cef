/**
 * The parameters of an audit query, as the admin API and `scimd audit` take them, checked into a query (the admin
 * services, admin.ts, resolve the names in it and read the page).
 */
import { scimErrors } from './errors.js';
import type { AuditQuery } from './audit.js';

/** The query parameters of the admin API and the `scimd audit` flags, as given. */
export interface AuditParams {
  readonly organization?: string;
  readonly since?: string;
  readonly until?: string;
  readonly resourceType?: string;
  readonly resourceId?: string;
  readonly tokenId?: string;
  readonly outcome?: string;
  readonly after?: string;
  readonly limit?: string;
}

export const MAX_AUDIT_PAGE = 1000;
const UNITS: Readonly<Record<string, number>> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** An instant: ISO 8601, or a duration before now such as `15m`, `24h`, `7d`. */
function instant(name: string, raw: string, now: Date): string {
  const relative = /^(\d+)([smhd])$/.exec(raw.trim());
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNITS[relative[2]!]!).toISOString();
  const t = Date.parse(raw);
  if (!/^\d{4}-\d\d-\d\d/.test(raw) || Number.isNaN(t)) {
    throw scimErrors.invalidValue(`"${name}" must be an ISO 8601 time (2026-01-31T12:00:00Z) or a duration ago (15m, 24h, 7d); got "${raw}".`);
  }
  return new Date(t).toISOString();
}

function whole(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max) throw scimErrors.invalidValue(`"${name}" must be a whole number from ${min} to ${max}; got "${raw}".`);
  return n;
}

/** Checks the parameters of an audit query; the organization stays a name for the caller to resolve. */
export function parseAuditQuery(params: AuditParams, now: Date): Omit<AuditQuery, 'orgId'> & { organization?: string } {
  const q: { -readonly [K in keyof AuditQuery]?: AuditQuery[K] } & { organization?: string } = {
    limit: params.limit === undefined ? 100 : whole('limit', params.limit, 1, MAX_AUDIT_PAGE),
  };
  if (params.organization) q.organization = params.organization;
  if (params.since) q.since = instant('since', params.since, now);
  if (params.until) q.until = instant('until', params.until, now);
  if (params.resourceType) q.resourceType = params.resourceType;
  if (params.resourceId) q.resourceId = params.resourceId;
  if (params.tokenId) q.tokenId = params.tokenId;
  if (params.after) q.afterSeq = whole('after', params.after, 0, Number.MAX_SAFE_INTEGER);
  if (params.outcome) {
    if (params.outcome !== 'success' && params.outcome !== 'failure') throw scimErrors.invalidValue(`"outcome" must be "success" or "failure"; got "${params.outcome}".`);
    q.outcome = params.outcome;
  }
  return q as Omit<AuditQuery, 'orgId'> & { organization?: string };
}
