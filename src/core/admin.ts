/**
 * The admin services: organizations, tokens, the audit log and dead-lettered events, for whoever administers a
 * server — the command line, the admin API, the console — so that each of them only translates. Every operation is
 * given the caller's scope (every organization, or one) and sees nothing outside it; every change is recorded in
 * the audit log with who made it. Failures are ScimErrors, rendered by each caller in its own way.
 */
import { distance } from 'fastest-levenshtein';
import { auditEntry, type AttributeChange, type AuditCaller, type AuditOperation, type AuditRecord } from './audit.js';
import { parseAuditQuery, type AuditParams } from './audit-query.js';
import { scimErrors } from './errors.js';
import { readFeedPage, type FeedPage, type FeedParams } from './feed.js';
import type { AdminScope, Delivery, Organization, OrganizationContents, OutboxEvent, TokenRecord, TokenScope, TrustedIssuer } from './model.js';
import type { AuditLog, OrganizationStore, Outbox, TokenStore } from './ports.js';
import { timeOrderedId } from './resource/ids.js';
import type { SchemaRegistry } from './schema/registry.js';
import { parseScopes } from './scopes.js';
import { BOOTSTRAP_TOKEN_NAME, createToken, DEFAULT_ORGANIZATION, looksLikeToken, tokenDigest } from './tokens.js';

export type AdminStore = OrganizationStore & TokenStore & AuditLog & Outbox;

/** Who acts, for the audit log: an admin token, the command line, a console user. */
export type AdminActor = Omit<AuditCaller, 'orgId'>;

export const EVERY_ORGANIZATION: AdminScope = { all: true };

const NO_CONTENTS: OrganizationContents = { resources: {}, tokens: 0, auditEntries: 0 };

/** A token as admins see it: never its secret, nor its digest. */
export interface TokenView {
  readonly id: string;
  /** Its organization's name; null for an operator token. */
  readonly organization: string | null;
  readonly name: string;
  readonly dialect: string;
  readonly scope: TokenScope;
  /** A SCIM token's scopes (core/scopes.ts); null for admin and operator tokens. */
  readonly scopes: readonly string[] | null;
  /** A trusted issuer's configuration; null for every other kind. */
  readonly issuer: TrustedIssuer | null;
  readonly created: string;
  /** When it stops being accepted; null: never. */
  readonly expires: string | null;
  /** Within EXPIRY_WARNING_DAYS of its expiry, or past it, what to say of it (expiryWarning); else null. */
  readonly expiryWarning: string | null;
  readonly lastUsed: string | null;
  readonly revoked: string | null;
}

export interface NewTokenRequest {
  /** The organization's name; by default the caller's own, or (for the operator) `default`. */
  readonly organization?: string;
  readonly name?: string;
  readonly dialect?: string;
  /** An admin token: of the organization if one is named (or the caller's own), else an operator token. */
  readonly admin?: boolean;
  /** An OAuth client (RFC 6749 §4.4) of the organization instead of a token: its secret gets access tokens. */
  readonly oauthClient?: boolean;
  /** A JWT issuer the organization trusts instead of a token: the JWTs it signs for the audience are taken. */
  readonly trust?: TrustedIssuer;
  /** A SCIM token's (or OAuth client's) scopes, as a list or space-separated (by default `scim:read scim:write`). */
  readonly scopes?: string | readonly string[];
  /** When it stops being accepted: a time (ISO 8601) or a span from now (`90d`, `12h`); by default never. */
  readonly expires?: string;
}

const TEXT = /^[^\p{Cc}]{1,2048}$/u;

/** A trusted issuer's configuration, checked: its tokens can be verified, and only with public keys. */
export function trustedIssuer(given: TrustedIssuer): TrustedIssuer {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw scimErrors.invalidValue('A trusted issuer is an object: { "issuer", "audience", "jwksUrl" or "publicKey", "claims" }.');
  const o = given as unknown as Record<string, unknown>;
  for (const field of ['issuer', 'audience'] as const) {
    if (typeof o[field] !== 'string' || !TEXT.test(o[field] as string)) throw scimErrors.invalidValue(`A trusted issuer needs "${field}": the \`${field === 'issuer' ? 'iss' : 'aud'}\` its tokens carry.`);
  }
  if ((o.jwksUrl === undefined) === (o.publicKey === undefined)) throw scimErrors.invalidValue('A trusted issuer needs its keys: "jwksUrl" (where its JWKS is) or "publicKey" (PEM or JWK), one of them.');
  if (o.jwksUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof o.jwksUrl === 'string' ? new URL(o.jwksUrl) : undefined;
    } catch {
      url = undefined;
    }
    // keys fetched in clear could be anyone's: HTTPS, or this machine
    const local = url !== undefined && url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (!url || !(url.protocol === 'https:' || local)) throw scimErrors.invalidValue(`"jwksUrl" must be an https:// URL; got ${JSON.stringify(o.jwksUrl)}.`);
  }
  if (o.publicKey !== undefined) {
    const key = typeof o.publicKey === 'string' ? o.publicKey.trim() : '';
    let jwk: Record<string, unknown> | undefined;
    try {
      jwk = key.startsWith('{') ? (JSON.parse(key) as Record<string, unknown>) : undefined;
    } catch {
      jwk = undefined;
    }
    if (/PRIVATE KEY/.test(key) || (jwk !== undefined && 'd' in jwk)) throw scimErrors.invalidValue('That is a private key: give the issuer\'s public key (and keep the private one secret).');
    if (!/^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----$/.test(key) && typeof jwk?.kty !== 'string') {
      throw scimErrors.invalidValue('"publicKey" must be a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWK as JSON.');
    }
  }
  const claims = o.claims ?? {};
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims) || !Object.entries(claims).every(([k, v]) => k !== '' && typeof v === 'string')) {
    throw scimErrors.invalidValue('"claims" must be an object of claim names and the string each must equal.');
  }
  return {
    issuer: o.issuer as string, audience: o.audience as string,
    ...(o.jwksUrl !== undefined ? { jwksUrl: o.jwksUrl as string } : { publicKey: (o.publicKey as string).trim() }),
    ...(Object.keys(claims).length > 0 ? { claims: claims as Record<string, string> } : {}),
  };
}

/** How long before its expiry a token is said to be expiring. */
export const EXPIRY_WARNING_DAYS = 14;

/** "expires in 3 days (…)" within EXPIRY_WARNING_DAYS of it, "expired at …" after; else undefined. */
export function expiryWarning(expires: string | null, now: Date): string | undefined {
  if (expires === null) return undefined;
  const left = Date.parse(expires) - now.getTime();
  if (left <= 0) return `expired at ${expires}: its requests are refused; make a new one`;
  if (left > EXPIRY_WARNING_DAYS * 86_400_000) return undefined;
  const days = Math.floor(left / 86_400_000);
  const hours = Math.floor(left / 3_600_000);
  const when = days >= 1 ? `${days} day${days === 1 ? '' : 's'}` : `${hours} hour${hours === 1 ? '' : 's'}`;
  return `expires in ${when} (${expires}): make its successor and switch the IdP to it before then`;
}

/** A token's expiry from a time or a span from now (`30m`, `12h`, `90d`), as an ISO time in the future. */
export function expiryFrom(text: string, now: Date): string {
  const span = /^([1-9][0-9]{0,5})([mhd])$/.exec(text.trim());
  const at = span ? now.getTime() + Number(span[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as 'm' | 'h' | 'd'] : Date.parse(text);
  if (!Number.isFinite(at)) throw scimErrors.invalidValue(`A token's expiry is a time (2027-06-30T00:00:00Z) or a span from now (90d, 12h, 30m); got "${text}".`);
  if (at <= now.getTime()) throw scimErrors.invalidValue(`A token's expiry must be in the future; got "${text}".`);
  return new Date(at).toISOString();
}

export interface AuditPage {
  /** Each entry with its organization's name beside its id. */
  readonly entries: (AuditRecord & { organization?: string })[];
  /** Pass as `after` for the entries that follow; absent when this page is the last so far. */
  readonly next?: number;
}

const NAME = /^[^\p{Cc}\s](?:[^\p{Cc}]{0,98}[^\p{Cc}\s])?$/u;

export type Admin = ReturnType<typeof createAdmin>;

export interface AdminOptions {
  readonly registry?: SchemaRegistry;
  readonly audit?: boolean;
  /** The store keeps an events feed (createScim writes to FEED_CHANNEL). */
  readonly feed?: boolean;
  readonly now?: () => Date;
}

export function createAdmin(store: AdminStore, options: AdminOptions = {}) {
  const now = options.now ?? (() => new Date());
  const auditing = options.audit ?? true;

  async function record(actor: AdminActor, orgId: string | undefined, operation: AuditOperation, target: { type: 'Organization' | 'Token'; id: string }, status: number, changes: AttributeChange[]) {
    if (!auditing) return;
    const caller: AuditCaller = { ...actor, ...(orgId ? { orgId } : {}) };
    await store.appendAudit([auditEntry(caller, now().toISOString(), operation, { resourceType: target.type, resourceId: target.id }, { status, changes })]);
  }

  const operatorOnly = (scope: AdminScope, what: string) => {
    if (!('all' in scope)) throw scimErrors.forbidden(`Only the server's operator may ${what}; this admin token is for one organization.`);
  };

  const checkName = (name: string) => {
    if (!NAME.test(name)) throw scimErrors.invalidValue(`An organization's name is 1 to 100 characters, with no control characters and no space at either end; got ${JSON.stringify(name)}.`);
  };

  /** The organizations the scope sees. */
  async function visible(scope: AdminScope): Promise<Organization[]> {
    const all = await store.organizations();
    return 'all' in scope ? all : all.filter((o) => o.id === scope.orgId);
  }

  /** The organization of that name in the scope; else 404, naming the close ones the scope sees. */
  async function organizationNamed(scope: AdminScope, name: string): Promise<Organization> {
    const orgs = await visible(scope);
    const found = orgs.find((o) => o.name === name);
    if (found) return found;
    const close = orgs
      .map((o) => ({ o, d: o.name.toLowerCase() === name.toLowerCase() ? 0 : distance(o.name.toLowerCase(), name.toLowerCase()) }))
      .filter(({ o, d }) => d <= Math.max(1, Math.floor(Math.max(o.name.length, name.length) / 3)))
      .sort((a, b) => a.d - b.d)
      .slice(0, 3)
      .map(({ o }) => `"${o.name}"`);
    const hint = close.length > 0 ? ` Did you mean ${close.join(' or ')}?` : ' Create it first (scimd org create NAME).';
    throw scimErrors.notFound(`There is no organization "${name}".${hint}`);
  }

  async function names(): Promise<Map<string, string>> {
    return new Map((await store.organizations()).map((o) => [o.id, o.name]));
  }

  const view = (t: TokenRecord, orgNames: ReadonlyMap<string, string>): TokenView => ({
    id: t.id,
    organization: t.orgId ? orgNames.get(t.orgId) ?? t.orgId : null,
    name: t.name,
    dialect: t.dialect,
    scope: t.scope,
    scopes: t.scopes ?? null,
    issuer: t.issuer ?? null,
    created: t.created,
    expires: t.expires ?? null,
    expiryWarning: (!t.revoked && expiryWarning(t.expires ?? null, now())) || null,
    lastUsed: t.lastUsed ?? null,
    revoked: t.revoked ?? null,
  });

  const inScope = (scope: AdminScope, orgId: string | undefined) => 'all' in scope || orgId === scope.orgId;

  /** The dead-lettered events of the scope's organizations (an event names its organization). */
  const deadOf = async (scope: AdminScope, limit: number): Promise<OutboxEvent[]> =>
    (await store.deadEvents(limit)).filter((d) => inScope(scope, d.event.organization));

  return {
    organizations: visible,
    organization: organizationNamed,

    async createOrganization(actor: AdminActor, scope: AdminScope, name: string): Promise<Organization> {
      operatorOnly(scope, 'create organizations');
      checkName(name);
      const same = (await store.organizations()).find((o) => o.name.toLowerCase() === name.toLowerCase());
      if (same) throw scimErrors.uniqueness(`An organization named "${same.name}" exists already.`);
      const org: Organization = { id: timeOrderedId(), name, created: now().toISOString() };
      if (!(await store.createOrganization(org))) throw scimErrors.uniqueness(`An organization named "${name}" exists already.`);
      await record(actor, org.id, 'create', { type: 'Organization', id: org.id }, 201, [{ attribute: 'name', after: name }]);
      return org;
    },

    async renameOrganization(actor: AdminActor, scope: AdminScope, name: string, newName: string): Promise<Organization> {
      operatorOnly(scope, 'rename organizations');
      const org = await organizationNamed(scope, name);
      checkName(newName);
      const same = (await store.organizations()).find((o) => o.id !== org.id && o.name.toLowerCase() === newName.toLowerCase());
      if (same) throw scimErrors.uniqueness(`An organization named "${same.name}" exists already.`);
      const renamed = await store.renameOrganization(org.id, newName);
      if (renamed === 'taken') throw scimErrors.uniqueness(`An organization named "${newName}" exists already.`);
      if (!renamed) throw scimErrors.notFound(`There is no organization "${name}".`);
      await record(actor, org.id, 'replace', { type: 'Organization', id: org.id }, 200, [{ attribute: 'name', before: name, after: newName }]);
      return { ...org, name: newName };
    },

    /** What deleting the organization would delete. */
    async organizationContents(scope: AdminScope, name: string): Promise<{ organization: Organization; contents: OrganizationContents }> {
      const organization = await organizationNamed(scope, name);
      return { organization, contents: (await store.organizationContents(organization.id)).get(organization.id) ?? NO_CONTENTS };
    },

    /** The organizations the scope sees, each with what it holds (counted by one query for all of them). */
    async organizationsWithContents(scope: AdminScope): Promise<(Organization & OrganizationContents)[]> {
      const orgs = await visible(scope);
      const contents = await store.organizationContents('all' in scope ? undefined : scope.orgId);
      return orgs.map((o) => ({ ...o, ...(contents.get(o.id) ?? NO_CONTENTS) }));
    },

    /** Deletes the organization and everything of it; `confirmation` must repeat its name. */
    async deleteOrganization(actor: AdminActor, scope: AdminScope, name: string, confirmation: string): Promise<OrganizationContents> {
      operatorOnly(scope, 'delete organizations');
      const org = await organizationNamed(scope, name);
      if (confirmation !== name) throw scimErrors.invalidValue(`To delete an organization and everything in it, confirm by typing its name exactly ("${name}").`);
      const deleted = await store.deleteOrganization(org.id);
      if (!deleted) throw scimErrors.notFound(`There is no organization "${name}".`);
      await record(actor, org.id, 'delete', { type: 'Organization', id: org.id }, 204, [{ attribute: 'name', before: name }]);
      return deleted;
    },

    /**
     * A new token, whose secret is returned once here and never again. The operator names any organization (by
     * default `default`, made on first use); an organization's admin only its own.
     */
    async createToken(actor: AdminActor, scope: AdminScope, request: NewTokenRequest): Promise<{ token: string; view: TokenView }> {
      if (request.name === BOOTSTRAP_TOKEN_NAME) throw scimErrors.invalidValue(`The name ${BOOTSTRAP_TOKEN_NAME} is kept for the token SCIMD_BOOTSTRAP_TOKEN makes; choose another.`);
      if (request.admin && request.dialect !== undefined) throw scimErrors.invalidValue('A dialect names the IdP a SCIM token serves; an admin token has none.');
      if (request.admin && request.scopes !== undefined) throw scimErrors.invalidValue('Scopes say what a SCIM token may do; an admin token has none.');
      if (request.admin && (request.oauthClient || request.trust)) throw scimErrors.invalidValue('An OAuth client or a trusted issuer is for the SCIM API; an admin token is made as one.');
      if (request.oauthClient && request.trust) throw scimErrors.invalidValue('Make an OAuth client or trust an issuer, not both at once.');
      const trust = request.trust === undefined ? undefined : trustedIssuer(request.trust);
      if (trust) {
        const taken = (await store.listTokens()).find((t) => t.scope === 'issuer' && !t.revoked && t.issuer?.issuer === trust.issuer && t.issuer.audience === trust.audience);
        if (taken) throw scimErrors.uniqueness(`The issuer ${trust.issuer} is already trusted for the audience ${trust.audience}${inScope(scope, taken.orgId) ? ` (id ${taken.id})` : ' by another organization'}: its tokens must name one organization.`);
      }
      const endpoints = options.registry?.resourceTypes().map((rt) => rt.endpoint.replace(/^\/+/, ''));
      const scopes = request.scopes === undefined ? undefined : parseScopes(request.scopes, endpoints);
      const expires = request.expires === undefined ? undefined : expiryFrom(request.expires, now());
      let org: Organization | undefined;
      if (request.organization !== undefined) org = await organizationNamed(scope, request.organization);
      else if (!('all' in scope)) org = (await visible(scope))[0];
      else if (!request.admin) org = await store.ensureOrganization(DEFAULT_ORGANIZATION);
      const tokenScope: TokenScope = request.oauthClient ? 'client' : trust ? 'issuer' : !request.admin ? 'scim' : org ? 'admin' : 'operator';
      const { token, record: made } = await createToken(store, {
        ...(org ? { orgId: org.id } : {}),
        ...(request.name !== undefined ? { name: request.name } : {}),
        ...(request.dialect !== undefined ? { dialect: request.dialect } : {}),
        scope: tokenScope,
        ...(scopes !== undefined ? { scopes } : {}),
        ...(expires !== undefined ? { expires } : {}),
        ...(trust !== undefined ? { issuer: trust } : {}),
      });
      await record(actor, org?.id, 'create', { type: 'Token', id: made.id }, 201, [
        ...(made.issuer ? [{ attribute: 'issuer', after: `${made.issuer.issuer} for ${made.issuer.audience}` }] : []),
        { attribute: 'name', after: made.name }, { attribute: 'scope', after: made.scope }, { attribute: 'dialect', after: made.dialect },
        ...(made.scopes ? [{ attribute: 'scopes', after: made.scopes.join(' ') }] : []),
        ...(made.expires ? [{ attribute: 'expires', after: made.expires }] : []),
      ]);
      // a trusted issuer has no secret of its own: nothing to show
      return { token: trust ? '' : token, view: view(made, new Map(org ? [[org.id, org.name]] : [])) };
    },

    /** The tokens the scope sees, of one organization when named, oldest first. */
    async tokens(scope: AdminScope, filter: { organization?: string } = {}): Promise<TokenView[]> {
      const org = filter.organization !== undefined ? await organizationNamed(scope, filter.organization) : undefined;
      const orgNames = await names();
      return (await store.listTokens())
        .filter((t) => (org ? t.orgId === org.id : inScope(scope, t.orgId)))
        .map((t) => view(t, orgNames));
    },

    /**
     * Revokes a token by its id; its very next request is refused. Given a token's secret instead of its id, it
     * refuses and never repeats what it was given.
     */
    async revokeToken(actor: AdminActor, scope: AdminScope, id: string): Promise<TokenView> {
      if (looksLikeToken(id) || (await store.findTokenByHash(tokenDigest(id)))) {
        throw scimErrors.invalidValue('That is a token, not a token id: give the id that `scimd token list` shows (and treat that token as exposed).');
      }
      if (!/^[0-9a-f]{16}$/.test(id)) throw scimErrors.invalidValue('That is not a token id: ids are 16 hexadecimal characters (see `scimd token list`).');
      const token = (await store.listTokens()).find((t) => t.id === id && inScope(scope, t.orgId));
      if (!token || token.revoked) throw scimErrors.notFound(`There is no active token with id ${id}.`);
      if (!(await store.revokeToken(id, now().toISOString()))) throw scimErrors.notFound(`There is no active token with id ${id}.`);
      await record(actor, token.orgId, 'delete', { type: 'Token', id }, 204, [{ attribute: 'name', before: token.name }]);
      return view({ ...token, revoked: now().toISOString() }, await names());
    },

    /** One page of the audit log matching the parameters (see parseAuditQuery), within the scope. */
    async auditPage(scope: AdminScope, params: AuditParams): Promise<AuditPage> {
      const { organization, resourceType, ...query } = parseAuditQuery(params, now());
      const orgId = organization !== undefined ? (await organizationNamed(scope, organization)).id : 'all' in scope ? undefined : scope.orgId;
      const type = resourceType === undefined ? undefined : resourceTypeNamed(resourceType);
      const records = await store.listAudit({ ...query, ...(orgId ? { orgId } : {}), ...(type ? { resourceType: type } : {}) });
      const orgNames = await names();
      const entries = records.map((r) => (r.orgId && orgNames.has(r.orgId) ? { ...r, organization: orgNames.get(r.orgId)! } : r));
      const last = records[records.length - 1];
      return { entries, ...(records.length === query.limit && last ? { next: last.seq } : {}) };
    },

    /** The dead-lettered events the scope sees, oldest first. */
    deadEvents: (scope: AdminScope, limit = MAX_DEAD_EVENTS) => deadOf(scope, limit),

    /** An organization's newest events on their delivery channels, as they stand (delivered, pending, dead). */
    async deliveries(scope: AdminScope, organization: string, limit = 50): Promise<Delivery[]> {
      return store.recentDeliveries((await organizationNamed(scope, organization)).id, limit);
    },

    /**
     * A page of the events feed: an organization admin reads its own organization's; the operator every
     * organization's, or one's by `organization` (its name). 404 when the server writes no feed.
     */
    async eventFeed(scope: AdminScope, params: FeedParams & { readonly organization?: string | undefined }): Promise<FeedPage> {
      if (!options.feed) throw scimErrors.notFound('This server keeps no events feed: start it with SCIMD_EVENT_FEED=true.');
      const orgId = 'all' in scope ? (params.organization ? (await organizationNamed(scope, params.organization)).id : undefined) : scope.orgId;
      return readFeedPage(store, orgId, params);
    },

    /** Puts dead-lettered events back for delivery: one by its event id (404 when there is no such one), or all. */
    async retryEvents(scope: AdminScope, eventId?: string): Promise<number> {
      if (eventId !== undefined) {
        if (!(await deadOf(scope, MAX_DEAD_EVENTS)).some((d) => d.event.id === eventId)) throw scimErrors.notFound(`There is no dead-lettered event with id ${eventId}.`);
        return store.retryDeadEvents(eventId);
      }
      if ('all' in scope) return store.retryDeadEvents();
      let n = 0;
      for (const d of await deadOf(scope, MAX_DEAD_EVENTS)) n += await store.retryDeadEvents(d.event.id);
      return n;
    },
  };

  /** A resource type as the audit log names it (`User`), from its name or endpoint in any case, singular or plural. */
  function resourceTypeNamed(given: string): string {
    const types = options.registry?.resourceTypes() ?? [];
    const lower = given.toLowerCase();
    const found = types.find((t) => t.name.toLowerCase() === lower || t.endpoint.slice(1).toLowerCase() === lower);
    // the log also names Organization and Token (admin actions), and types a registry no longer has
    return found?.name ?? ['Organization', 'Token'].find((t) => t.toLowerCase() === lower || `${t}s`.toLowerCase() === lower) ?? given;
  }
}

/** The most dead-lettered events one answer lists. */
export const MAX_DEAD_EVENTS = 10_000;

