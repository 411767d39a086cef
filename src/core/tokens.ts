/**
 * Bearer tokens (RFC 6750). A token carries at least 256 random bits, is shown once, and only its SHA-256 digest is
 * stored: a digest of a 256-bit secret reveals nothing usable, so looking it up by digest is safe, and the match is
 * then confirmed with a constant-time comparison. A SCIM token calls the SCIM API of its organization; an admin
 * token the admin API of its organization; an operator token the admin API of every organization.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AdminScope, FoundToken, TokenRecord, TokenScope, TrustedIssuer } from './model.js';
import type { AuditLog, OrganizationStore, TokenStore } from './ports.js';
import { ScimError, scimErrors } from './errors.js';
import { FULL_ACCESS, parseScopes } from './scopes.js';
import { auditEntry, type AuditCaller } from './audit.js';

export const DIALECTS = ['rfc', 'entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'ping'] as const;
export type Dialect = (typeof DIALECTS)[number];

export const DEFAULT_ORGANIZATION = 'default';

/** The name of the token SCIMD_BOOTSTRAP_TOKEN makes; no other token may take it. */
export const BOOTSTRAP_TOKEN_NAME = 'SCIMD_BOOTSTRAP_TOKEN';
/** A bootstrap token is a secret someone chose: at least this long, so that it cannot be guessed. */
export const BOOTSTRAP_TOKEN_MIN_LENGTH = 32;

/** Who is calling: resolved from the bearer token on every SCIM request. */
export interface RequestContext {
  readonly orgId: string;
  /**
   * The organization's name, as the token's store found it: events carry it beside the id. Optional, so that a
   * context built by hand without it still works (its events then name the organization by id alone).
   */
  readonly orgName?: string;
  readonly tokenId: string;
  readonly tokenName: string;
  readonly dialect: Dialect;
  /** What the token may do (core/scopes.ts); absent: everything (an application's own authentication may say). */
  readonly scopes?: readonly string[];
}

/** Who is calling the admin API, and what they may see. */
export interface AdminContext {
  readonly scope: AdminScope;
  readonly tokenId: string;
  readonly tokenName: string;
}

/** RFC 6750 §3.1: a token that was valid and is no longer says so, so that a client knows to get a new one. */
export function expiredToken(expires: string): ScimError {
  return invalidTokenError(`The bearer token expired at ${expires}; ask for a new one.`, 'The access token expired');
}

/** RFC 6750 §3.1's 401 for a token that is no longer, or never was, valid: why, in the body and in the header. */
export function invalidTokenError(detail: string, description: string): ScimError {
  return new ScimError(401, undefined, detail, {
    'WWW-Authenticate': `Bearer realm="scimd", error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`,
  });
}

/** Writes of last-used times are spread out so that reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

/** Records that a token was used now, unless it was recorded less than a minute ago. */
export async function noteUse(store: Pick<TokenStore, 'touchToken'>, record: Pick<TokenRecord, 'id' | 'lastUsed'>, now: Date): Promise<void> {
  if (!record.lastUsed || now.getTime() - Date.parse(record.lastUsed) > TOUCH_INTERVAL_MS) await store.touchToken(record.id, now.toISOString());
}

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `text` has the form of a secret scimd draws (not of a token id). */
export function looksLikeToken(text: string): boolean {
  return /^scimd_[A-Za-z0-9_-]{43}$/.test(text);
}

export function isDialect(name: string): name is Dialect {
  return (DIALECTS as readonly string[]).includes(name);
}

export interface NewToken {
  /** The organization's id; none for an operator token. */
  readonly orgId?: string;
  readonly name?: string;
  readonly dialect?: string;
  /** A caller-chosen secret (SCIMD_BOOTSTRAP_TOKEN); by default 256 random bits are drawn. */
  readonly secret?: string;
  readonly scope?: TokenScope;
  /** A SCIM token's scopes, checked (parseScopes); by default read and write. */
  readonly scopes?: readonly string[];
  /** When it stops being accepted (ISO 8601, in the future); by default never. */
  readonly expires?: string;
  /** A trusted issuer's configuration (scope `issuer`). */
  readonly issuer?: TrustedIssuer;
}

export async function createToken(store: TokenStore, input: NewToken): Promise<{ token: string; record: TokenRecord }> {
  const dialect = input.dialect ?? 'rfc';
  if (!isDialect(dialect)) throw scimErrors.invalidValue(`unknown dialect "${dialect}"; use one of ${DIALECTS.join(', ')}`);
  const scope = input.scope ?? 'scim';
  if ((scope === 'operator') !== (input.orgId === undefined)) throw new Error('an operator token belongs to no organization; every other token to one');
  const scoped = scope === 'scim' || scope === 'client' || scope === 'issuer';
  if ((scope === 'issuer') !== (input.issuer !== undefined)) throw new Error('a trusted issuer, and only it, has an issuer configuration');
  if (input.scopes !== undefined && !scoped) throw scimErrors.invalidValue('Scopes say what a SCIM token may do; an admin token has none.');
  const created = new Date();
  if (input.expires !== undefined && !(Date.parse(input.expires) > created.getTime())) {
    throw scimErrors.invalidValue(`A token's expiry must be a time in the future; got "${input.expires}".`);
  }
  const token = input.secret ?? `scimd_${randomBytes(32).toString('base64url')}`;
  const record: TokenRecord = {
    id: randomBytes(8).toString('hex'),
    ...(input.orgId !== undefined ? { orgId: input.orgId } : {}),
    name: input.name ?? 'token',
    dialect,
    scope,
    ...(scoped ? { scopes: input.scopes === undefined ? FULL_ACCESS : parseScopes(input.scopes) } : {}),
    hash: tokenDigest(token),
    created: created.toISOString(),
    ...(input.expires !== undefined ? { expires: new Date(input.expires).toISOString() } : {}),
    ...(input.issuer !== undefined ? { issuer: input.issuer } : {}),
  };
  await store.createToken(record);
  return { token, record };
}

/**
 * Makes sure `secret` is an active SCIM token of the default organization (for automation: SCIMD_BOOTSTRAP_TOKEN),
 * and that no other bootstrap token is: a changed value revokes the one before. Returns the ids it revoked.
 */
export async function ensureBootstrapToken(store: TokenStore & OrganizationStore, secret: string): Promise<string[]> {
  if (secret.length < BOOTSTRAP_TOKEN_MIN_LENGTH) {
    throw scimErrors.invalidValue(`SCIMD_BOOTSTRAP_TOKEN must be at least ${BOOTSTRAP_TOKEN_MIN_LENGTH} characters (it is ${secret.length}): a short secret can be guessed. Make one with: openssl rand -base64 32`);
  }
  const hash = tokenDigest(secret);
  const found = await store.findTokenByHash(hash);
  if (found?.revoked) throw scimErrors.invalidValue('SCIMD_BOOTSTRAP_TOKEN names a revoked token; choose a new one.');
  const now = new Date().toISOString();
  const revoked: string[] = [];
  for (const t of await store.listTokens()) {
    if (t.name === BOOTSTRAP_TOKEN_NAME && !t.revoked && t.hash !== hash && (await store.revokeToken(t.id, now))) revoked.push(t.id);
  }
  if (!found) {
    const org = await store.ensureOrganization(DEFAULT_ORGANIZATION);
    await createToken(store, { orgId: org.id, secret, name: BOOTSTRAP_TOKEN_NAME });
  }
  return revoked;
}

/**
 * Verifies the signed access tokens (JWTs) a request may carry instead of a token scimd keeps: scimd's own OAuth
 * tokens (src/oauth). A refusal is a ScimError (401 invalid_token); the caller it answers is the token's own.
 */
export interface AccessTokenVerifier {
  verify(token: string, now: Date): Promise<RequestContext>;
}

export interface AuthenticateOptions {
  readonly now?: Date;
  /** When given, a refusal is recorded in the audit log with these details of the request. */
  readonly audit?: AuditCaller;
  /**
   * Asked on each refusal: undefined to refuse as usual, or the seconds a client that has been refused too often
   * must wait; it then gets 429 and nothing is recorded, so a flood of bad tokens costs no write each.
   */
  readonly throttleRefusal?: () => number | undefined;
  /** Where a bearer that is a JWT is verified; without it, a JWT is looked up as any other token (and not found). */
  readonly accessTokens?: AccessTokenVerifier;
}

/** A compact JWS (RFC 7515 §7.1): what no token scimd draws looks like. */
const JWT_SHAPE = /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/;

/** Records a refusal (unless too many came from this client this second) and throws it. */
function refuser(store: AuditLog, options: AuthenticateOptions, now: Date) {
  return async (e: ScimError, who?: { orgId?: string; id: string; name: string }): Promise<never> => {
    const wait = options.throttleRefusal?.();
    if (wait !== undefined) throw scimErrors.tooManyRequests(`This client has been refused too often this second; retry after ${wait} s.`, wait);
    if (options.audit) {
      const caller = who ? { ...options.audit, ...(who.orgId ? { orgId: who.orgId } : {}), tokenId: who.id, tokenName: who.name } : options.audit;
      await store.appendAudit([auditEntry(caller, now.toISOString(), 'authenticate', {}, e)]);
    }
    throw e;
  };
}

/** What the bearer of each kind is told when it calls an API that takes another kind. */
type WrongKind = Readonly<Record<TokenScope, string>>;

/** A secret scimd keeps the digest of, checked: known, not revoked, not expired, and of a kind the caller takes. */
async function verifySecret(
  store: TokenStore & AuditLog,
  secret: string,
  accepts: readonly TokenScope[],
  wrongKind: WrongKind,
  options: AuthenticateOptions,
  now: Date,
): Promise<FoundToken> {
  const refuse = refuser(store, options, now);
  const hash = tokenDigest(secret);
  const record = await store.findTokenByHash(hash);
  if (!record || record.revoked || !timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'))) {
    return refuse(scimErrors.unauthorized('The bearer token is not valid: unknown or revoked.'));
  }
  if (record.expires !== undefined && Date.parse(record.expires) <= now.getTime()) {
    return refuse(expiredToken(record.expires), record);
  }
  if (!accepts.includes(record.scope)) return refuse(scimErrors.forbidden(wrongKind[record.scope]), record);
  await noteUse(store, record, now);
  return record;
}

/** The token of an `Authorization: Bearer` header; a missing or other header is refused. */
async function bearer(store: AuditLog, authorization: string | undefined, options: AuthenticateOptions, now: Date): Promise<string> {
  const refuse = refuser(store, options, now);
  if (!authorization) return refuse(scimErrors.unauthorized('This endpoint needs an "Authorization: Bearer <token>" header.'));
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization);
  if (!m) return refuse(scimErrors.unauthorized('Use the Bearer scheme: "Authorization: Bearer <token>".'));
  return m[1]!;
}

const SCIM_ONLY: WrongKind = {
  scim: '',
  admin: 'This is an admin token; SCIM requests need a SCIM token of an organization.',
  operator: 'This is an admin token; SCIM requests need a SCIM token of an organization.',
  client: "This is an OAuth client's secret: get an access token with it from POST /oauth/token (client credentials), and send that.",
  issuer: 'This is no token.',
};

/** A SCIM request's caller, from its SCIM token, or from an access token `options.accessTokens` verifies. */
export async function authenticate(store: TokenStore & AuditLog, authorization: string | undefined, options: AuthenticateOptions = {}): Promise<RequestContext> {
  const now = options.now ?? new Date();
  const token = await bearer(store, authorization, options, now);
  if (options.accessTokens && JWT_SHAPE.test(token)) {
    try {
      return await options.accessTokens.verify(token, now);
    } catch (e) {
      if (!(e instanceof ScimError)) throw e;
      return refuser(store, options, now)(e);
    }
  }
  const record = await verifySecret(store, token, ['scim'], SCIM_ONLY, options, now);
  return {
    orgId: record.orgId!,
    ...(record.orgName !== undefined ? { orgName: record.orgName } : {}),
    tokenId: record.id,
    tokenName: record.name,
    dialect: record.dialect as Dialect,
    ...(record.scopes !== undefined ? { scopes: record.scopes } : {}),
  };
}

/** An OAuth client (RFC 6749 §2.3.1), by its id and secret: for the token endpoint. */
export async function authenticateClient(store: TokenStore & AuditLog, clientId: string, secret: string, options: AuthenticateOptions = {}): Promise<FoundToken> {
  const now = options.now ?? new Date();
  const wrong = 'This is not an OAuth client\'s secret: make a client with `scimd token create --oauth-client`.';
  const record = await verifySecret(store, secret, ['client'], { scim: wrong, admin: wrong, operator: wrong, issuer: wrong, client: '' }, options, now);
  // a secret of another client than the one named is no client's credential
  if (record.id !== clientId) return refuser(store, options, now)(scimErrors.unauthorized('The client id and secret do not belong together.'));
  return record;
}

/** An admin API request's caller, from its admin token (one organization) or operator token (every one). */
export async function authenticateAdmin(store: TokenStore & AuditLog, authorization: string | undefined, options: AuthenticateOptions = {}): Promise<AdminContext> {
  const now = options.now ?? new Date();
  const token = await bearer(store, authorization, options, now);
  const notAdmin = 'This token is for the SCIM API; the admin API needs an admin token (scimd token create --admin).';
  const record = await verifySecret(store, token, ['admin', 'operator'], { scim: notAdmin, client: notAdmin, issuer: notAdmin, admin: '', operator: '' }, options, now);
  return { scope: record.scope === 'operator' ? { all: true } : { orgId: record.orgId! }, tokenId: record.id, tokenName: record.name };
}
