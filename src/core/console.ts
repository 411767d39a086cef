/**
 * Who may use the admin console, without a password database: a one-time sign-in link (`scimd console link`, for
 * the operator or one organization's admin), or an organization's setup link that the operator hands to a
 * customer's IT admin (usable until it expires or is revoked). Opening either starts a session with an idle and an
 * absolute timeout and a CSRF token. Secrets are drawn here, shown once, and kept only by their SHA-256 digest. Or
 * an embedding application signs its users in itself and names them (`authorized`): nothing is kept, and their
 * CSRF token is derived from who they are.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { auditEntry, type AuditOperation } from './audit.js';
import { scimErrors } from './errors.js';
import type { AdminScope, ConsoleGrant, Organization } from './model.js';
import type { AuditLog, ConsoleStore, OrganizationStore, SecretStore } from './ports.js';
import { timeOrderedId } from './resource/ids.js';
import { tokenDigest } from './tokens.js';

export const SIGN_IN_TTL_SECONDS = 15 * 60;
export const SETUP_TTL_SECONDS = 72 * 3600;
export const SESSION_IDLE_SECONDS = 30 * 60;
export const SESSION_ABSOLUTE_SECONDS = 12 * 3600;
/** A session's last-seen time is written at most this often, so that reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

export type ConsoleStores = ConsoleStore & OrganizationStore & AuditLog & SecretStore;

/** A console session as a request sees it. */
export interface ConsoleSession {
  readonly id: string;
  readonly scope: AdminScope;
  /** The organization's name, for an organization admin. */
  readonly organization?: string;
  readonly csrf: string;
  /** Who, for the audit log: the link's maker and kind, e.g. "console (setup link by operator)". */
  readonly actor: string;
}

/**
 * A console user as an embedding application's `authorize` hook names them, from its own sign-in: the server's
 * operator (every organization), or one organization's admin. `actor` names them in the audit log (e.g. an email);
 * `session`, when given (the application's session id, or any value that changes when they sign in again), makes
 * their CSRF token change with it.
 */
export type ConsoleUser =
  | { readonly role: 'operator'; readonly actor: string; readonly session?: string }
  | { readonly role: 'org-admin'; readonly orgId: string; readonly actor: string; readonly session?: string };

/** A link as admins see it (never its secret). */
export interface LinkView {
  readonly id: string;
  readonly kind: 'signin' | 'setup';
  readonly created: string;
  readonly expires: string;
  readonly createdBy: string;
  readonly used: string | null;
  readonly revoked: string | null;
}

const secret = () => `scimd_console_${randomBytes(32).toString('base64url')}`;

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export type Console = ReturnType<typeof createConsole>;

export function createConsole(store: ConsoleStores, options: { readonly now?: () => Date } = {}) {
  const now = options.now ?? (() => new Date());
  const later = (seconds: number) => new Date(now().getTime() + seconds * 1000).toISOString();

  async function record(by: string, orgId: string | undefined, operation: AuditOperation, id: string, changes: { attribute: string; after: unknown }[]) {
    await store.appendAudit([auditEntry({ tokenName: by, ...(orgId ? { orgId } : {}) }, now().toISOString(), operation, { resourceType: 'ConsoleLink', resourceId: id }, { status: 201, changes })]);
  }

  async function makeLink(kind: 'signin' | 'setup', createdBy: string, org: Organization | undefined, ttlSeconds: number) {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > 30 * 86_400) throw scimErrors.invalidValue('A link lives from 1 minute to 30 days.');
    const value = secret();
    const grant: ConsoleGrant = { id: timeOrderedId(), hash: tokenDigest(value), kind, ...(org ? { orgId: org.id } : {}), created: now().toISOString(), expires: later(ttlSeconds), createdBy };
    await store.createGrant(grant);
    await record(createdBy, org?.id, 'create', grant.id, [{ attribute: 'kind', after: kind }, { attribute: 'expires', after: grant.expires }]);
    return { secret: value, link: view(grant) };
  }

  const view = (g: ConsoleGrant): LinkView => ({
    id: g.id, kind: g.kind === 'setup' ? 'setup' : 'signin', created: g.created, expires: g.expires, createdBy: g.createdBy, used: g.used ?? null, revoked: g.revoked ?? null,
  });

  const expired = (iso: string) => iso <= now().toISOString();

  return {
    /** A one-time sign-in link's secret: for the operator (no organization) or one organization's admin. */
    signInLink: (createdBy: string, org: Organization | undefined, ttlSeconds = SIGN_IN_TTL_SECONDS) => makeLink('signin', createdBy, org, ttlSeconds),

    /** A setup link for an organization's IT admin: usable until it expires or is revoked. Operator only. */
    async setupLink(createdBy: string, scope: AdminScope, org: Organization, ttlSeconds = SETUP_TTL_SECONDS) {
      if (!('all' in scope)) throw scimErrors.forbidden('Only the operator makes setup links.');
      return makeLink('setup', createdBy, org, ttlSeconds);
    },

    async setupLinks(org: Organization): Promise<LinkView[]> {
      return (await store.listGrants('setup', org.id)).map(view);
    },

    async revokeSetupLink(by: string, org: Organization, id: string): Promise<void> {
      const link = (await store.listGrants('setup', org.id)).find((g) => g.id === id);
      if (!link || !(await store.revokeGrant(id, now().toISOString()))) throw scimErrors.notFound(`There is no active setup link ${id} of ${org.name}.`);
      await record(by, org.id, 'delete', id, [{ attribute: 'revoked', after: true }]);
    },

    /** Opens a link: a new session's secret and CSRF token. The same answer for every refusal, so nothing leaks. */
    async signIn(linkSecret: string): Promise<{ session: string; csrf: string; expires: string }> {
      const refused = () => scimErrors.unauthorized('This sign-in link is not valid: it was used, it expired, or it was revoked. Ask for a new one.');
      const link = typeof linkSecret === 'string' && linkSecret.length < 200 ? await store.findGrant(tokenDigest(linkSecret)) : undefined;
      if (!link || link.kind === 'session' || link.revoked || expired(link.expires)) throw refused();
      if (link.kind === 'signin' && !(await store.useGrant(link.id, now().toISOString()))) throw refused();
      const value = secret();
      const csrf = randomBytes(24).toString('base64url');
      const expires = later(SESSION_ABSOLUTE_SECONDS);
      await store.createGrant({
        id: timeOrderedId(), hash: tokenDigest(value), kind: 'session', ...(link.orgId ? { orgId: link.orgId } : {}), created: now().toISOString(), expires,
        createdBy: `console (${link.kind === 'setup' ? 'setup' : 'sign-in'} link by ${link.createdBy})`, lastSeen: now().toISOString(), csrf, linkId: link.id,
      });
      return { session: value, csrf, expires };
    },

    /** The session of a cookie's secret, or 401; past its idle or absolute timeout it is over. */
    async session(sessionSecret: string | undefined): Promise<ConsoleSession> {
      const grant = sessionSecret ? await store.findGrant(tokenDigest(sessionSecret)) : undefined;
      const idleSince = new Date(now().getTime() - SESSION_IDLE_SECONDS * 1000).toISOString();
      if (!grant || grant.kind !== 'session' || grant.revoked || expired(grant.expires) || (grant.lastSeen ?? grant.created) < idleSince) {
        throw scimErrors.unauthorized('Your console session has ended: sign in again with a new link.');
      }
      if (now().getTime() - Date.parse(grant.lastSeen ?? grant.created) > TOUCH_INTERVAL_MS) await store.touchGrant(grant.id, now().toISOString());
      const org = grant.orgId ? (await store.organizations()).find((o) => o.id === grant.orgId) : undefined;
      if (grant.orgId && !org) throw scimErrors.unauthorized('The organization of this session is gone.');
      return {
        id: grant.id, scope: grant.orgId ? { orgId: grant.orgId } : { all: true }, ...(org ? { organization: org.name } : {}), csrf: grant.csrf ?? '', actor: grant.createdBy,
      };
    },

    /**
     * The session of a user the embedding application signed in: no grant is kept, and the CSRF token is derived,
     * by HMAC under a secret of the store, from who they are (role, organization, actor, the application's session).
     * An organization that is not there is 403.
     */
    async authorized(user: ConsoleUser): Promise<ConsoleSession> {
      // a mistake of the application's (a 500 it is told of), never a wider scope than it meant
      if (user.role !== 'operator' && user.role !== 'org-admin') throw new Error(`The console's authorize hook answered an unknown role ${JSON.stringify((user as { role: unknown }).role)}.`);
      if (typeof user.actor !== 'string' || user.actor.trim() === '') throw new Error('The console\'s authorize hook must name its user (actor) for the audit log.');
      const org = user.role === 'org-admin' ? (await store.organizations()).find((o) => o.id === user.orgId) : undefined;
      if (user.role === 'org-admin' && !org) throw scimErrors.forbidden('Your organization has no provisioning set up here.');
      const who = JSON.stringify([user.role, org?.id ?? '', user.actor, user.session ?? '']);
      const csrf = createHmac('sha256', await store.secret('console-csrf')).update(who).digest('base64url');
      return { id: 'console', scope: org ? { orgId: org.id } : { all: true }, ...(org ? { organization: org.name } : {}), csrf, actor: user.actor };
    },

    /** Whether a state-changing request carries its session's CSRF token. */
    checkCsrf(session: ConsoleSession, header: string | undefined): void {
      if (!header || !session.csrf || !sameText(header, session.csrf)) throw scimErrors.forbidden('This request lacks the console\'s CSRF token: reload the page.');
    },

    async signOut(sessionSecret: string | undefined): Promise<void> {
      const grant = sessionSecret ? await store.findGrant(tokenDigest(sessionSecret)) : undefined;
      if (grant?.kind === 'session') await store.revokeGrant(grant.id, now().toISOString());
    },
  };
}

/**
 * What the console's plain search box means, as a SCIM filter: a user by the start of their userName or display name,
 * or any part of an email; a group by the start of its display name or its externalId. The words are quoted as SCIM
 * strings, so no input can change the filter's shape.
 */
export function quickSearch(endpoint: 'Users' | 'Groups', q: string): string {
  const v = JSON.stringify(q.trim());
  return endpoint === 'Users' ? `userName sw ${v} or displayName sw ${v} or emails.value co ${v}` : `displayName sw ${v} or externalId eq ${v}`;
}
