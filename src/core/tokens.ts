/**
 * Bearer tokens (RFC 6750) bound to one organization. A token carries at least 256 random bits, is shown once, and
 * only its SHA-256 digest is stored: a digest of a 256-bit secret reveals nothing usable, so looking it up by
 * digest is safe, and the match is then confirmed with a constant-time comparison.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenRecord } from './model.js';
import type { AuditLog, OrganizationStore, TokenStore } from './ports.js';
import { scimErrors, type ScimError } from './errors.js';
import { auditEntry, type AuditCaller } from './audit.js';

export const DIALECTS = ['rfc', 'entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'ping'] as const;
export type Dialect = (typeof DIALECTS)[number];

export const DEFAULT_ORGANIZATION = 'default';

/** Who is calling: resolved from the bearer token on every SCIM request. */
export interface RequestContext {
  readonly orgId: string;
  readonly tokenId: string;
  readonly tokenName: string;
  readonly dialect: Dialect;
}

/** Writes of last-used times are spread out so that reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function isDialect(name: string): name is Dialect {
  return (DIALECTS as readonly string[]).includes(name);
}

export interface NewToken {
  readonly organization?: string;
  readonly name?: string;
  readonly dialect?: string;
  /** A caller-chosen secret (SCIMD_BOOTSTRAP_TOKEN); by default 256 random bits are drawn. */
  readonly secret?: string;
  /** `admin`: the admin API (every organization) instead of the SCIM API. */
  readonly scope?: TokenRecord['scope'];
}

export async function createToken(store: TokenStore & OrganizationStore, input: NewToken = {}): Promise<{ token: string; record: TokenRecord }> {
  const dialect = input.dialect ?? 'rfc';
  if (!isDialect(dialect)) throw new Error(`unknown dialect "${dialect}"; use one of ${DIALECTS.join(', ')}`);
  const org = await store.ensureOrganization(input.organization ?? DEFAULT_ORGANIZATION);
  const token = input.secret ?? `scimd_${randomBytes(32).toString('base64url')}`;
  const record: TokenRecord = {
    id: randomBytes(8).toString('hex'),
    orgId: org.id,
    name: input.name ?? 'token',
    dialect,
    scope: input.scope ?? 'scim',
    hash: digest(token),
    created: new Date().toISOString(),
  };
  await store.createToken(record);
  return { token, record };
}

/** Makes sure `secret` is an active token of the default organization (for automation: SCIMD_BOOTSTRAP_TOKEN). */
export async function ensureBootstrapToken(store: TokenStore & OrganizationStore, secret: string): Promise<void> {
  const found = await store.findTokenByHash(digest(secret));
  if (found && !found.revoked) return;
  if (found) throw new Error('SCIMD_BOOTSTRAP_TOKEN names a revoked token; choose a new one.');
  await createToken(store, { secret, name: 'bootstrap' });
}

export interface AuthenticateOptions {
  /** The API being called: a token of the other scope is refused with 403. */
  readonly scope?: TokenRecord['scope'];
  readonly now?: Date;
  /** When given, a refusal is recorded in the audit log with these details of the request. */
  readonly audit?: AuditCaller;
  /**
   * Asked on each refusal: undefined to refuse as usual, or the seconds a client that has been refused too often
   * must wait; it then gets 429 and nothing is recorded, so a flood of bad tokens costs no write each.
   */
  readonly throttleRefusal?: () => number | undefined;
}

export async function authenticate(store: TokenStore & AuditLog, authorization: string | undefined, options: AuthenticateOptions = {}): Promise<RequestContext> {
  const now = options.now ?? new Date();
  const refuse = async (e: ScimError, record?: TokenRecord): Promise<never> => {
    const wait = options.throttleRefusal?.();
    if (wait !== undefined) throw scimErrors.tooManyRequests(`This client has been refused too often this second; retry after ${wait} s.`, wait);
    if (options.audit) {
      const caller = record ? { ...options.audit, orgId: record.orgId, tokenId: record.id, tokenName: record.name } : options.audit;
      await store.appendAudit([auditEntry(caller, now.toISOString(), 'authenticate', {}, e)]);
    }
    throw e;
  };
  if (!authorization) return refuse(scimErrors.unauthorized('This endpoint needs an "Authorization: Bearer <token>" header.'));
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization);
  if (!m) return refuse(scimErrors.unauthorized('Use the Bearer scheme: "Authorization: Bearer <token>".'));
  const hash = digest(m[1]!);
  const record = await store.findTokenByHash(hash);
  if (!record || record.revoked || !timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'))) {
    return refuse(scimErrors.unauthorized('The bearer token is not valid: unknown or revoked.'));
  }
  const scope = options.scope ?? 'scim';
  if (record.scope !== scope) {
    return refuse(scimErrors.forbidden(scope === 'admin' ? 'This token is for the SCIM API; the admin API needs an admin token (scimd token create --admin).' : 'This is an admin token; SCIM requests need a SCIM token of an organization.'), record);
  }
  if (!record.lastUsed || now.getTime() - Date.parse(record.lastUsed) > TOUCH_INTERVAL_MS) {
    await store.touchToken(record.id, now.toISOString());
  }
  return { orgId: record.orgId, tokenId: record.id, tokenName: record.name, dialect: record.dialect as Dialect };
}
