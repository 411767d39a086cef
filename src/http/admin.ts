/**
 * The admin HTTP API (`/admin/api`): the admin services (core/admin.ts) over JSON, for admin tokens (each sees its
 * own organization), operator tokens (every one), and the console's sessions (core/console.ts; a session cookie,
 * and the session's CSRF token on every request that changes something). The console's pages call only this.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createAdmin, type AdminActor, type AdminOptions, type AdminStore } from '../core/admin.js';
import { createConsole, quickSearch, type ConsoleSession, type ConsoleStores } from '../core/console.js';
import { scimErrors } from '../core/errors.js';
import type { AdminScope } from '../core/model.js';
import type { CallContext, Scim } from '../core/scim.js';
import { connectionTest, stepPath } from '../core/connection-test.js';
import { authenticateAdmin, type AuthenticateOptions, type Dialect, type RequestContext } from '../core/tokens.js';
import { FastifyHttpRequest } from './fastify.js';
import { createScimHandler, jsonBodyOf } from './handler.js';

export const ADMIN_PREFIX = '/admin/api';
export const SESSION_COOKIE = 'scimd_console';
/** Admin requests are small: a name, a dialect, a link. */
const ADMIN_BODY_LIMIT = 16_384;

/** A repeated query parameter counts once (the first), as on the SCIM endpoints. */
function firstValues(query: unknown): Record<string, string | undefined> {
  const entries = Object.entries((query ?? {}) as Record<string, string | string[]>).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]);
  return Object.fromEntries(entries) as Record<string, string | undefined>;
}

export function cookieOf(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  return header ? new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([\\w-]+)`).exec(header)?.[1] : undefined;
}

export interface AdminApiOptions extends AdminOptions {
  readonly scim: Scim;
  /** The webhook endpoints events are delivered to (shown to the operator). */
  readonly webhooks?: readonly string[];
  /** Where the SCIM API is reached, for the console's "SCIM base URL"; else from the request. */
  readonly scimBaseUrl: (req: FastifyRequest) => string;
}

/** `authOptions`: what authenticating a request is told (audit caller, refusal throttle). */
export function registerAdminApi(app: FastifyInstance, store: AdminStore & ConsoleStores, authOptions: (req: FastifyRequest) => AuthenticateOptions, options: AdminApiOptions): void {
  const admin = createAdmin(store, options);
  const access = createConsole(store);
  const { scim } = options;

  /** Who calls: an admin or operator token, else a console session (which must carry its CSRF token to change anything). */
  async function caller(req: FastifyRequest): Promise<{ scope: AdminScope; actor: AdminActor; session?: ConsoleSession }> {
    const cookie = cookieOf(req);
    if (req.headers.authorization !== undefined || cookie === undefined) {
      const c = await authenticateAdmin(store, req.headers.authorization, authOptions(req));
      return { scope: c.scope, actor: { tokenId: c.tokenId, tokenName: c.tokenName, clientAddress: req.ip, requestId: req.id } };
    }
    const session = await access.session(cookie);
    if (req.method !== 'GET' && req.method !== 'HEAD') access.checkCsrf(session, req.headers['x-csrf-token'] as string | undefined);
    return { scope: session.scope, actor: { tokenId: session.id, tokenName: session.actor, clientAddress: req.ip, requestId: req.id }, session };
  }

  const body = async (req: FastifyRequest) => {
    const value = await jsonBodyOf(new FastifyHttpRequest(req, ADMIN_PREFIX, 0), ADMIN_BODY_LIMIT);
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) throw scimErrors.invalidSyntax('The body must be a JSON object.');
    return (value ?? {}) as Record<string, unknown>;
  };
  const text = (value: unknown, name: string): string | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw scimErrors.invalidValue(`${name} must be a string.`);
    return value;
  };
  // Fastify has decoded them already
  const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string>)[name] ?? '';

  const setCookie = (req: FastifyRequest, reply: FastifyReply, value: string, maxAge: number) => {
    const secure = req.protocol === 'https' ? '; Secure' : '';
    reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`);
  };

  /** The SCIM reads of one organization's users or groups, for the console's pages (read-only: the IdP is the source of truth). */
  async function directory(req: FastifyRequest, endpoint: 'Users' | 'Groups') {
    const { scope } = await caller(req);
    const org = await admin.organization(scope, param(req, 'org'));
    const q = firstValues(req.query);
    const filter = q.q ? quickSearch(endpoint, q.q) : q.filter;
    return scim.list(scimContext(req, org.id), endpoint, {
      ...(filter ? { filter } : {}),
      count: q.count ?? '25',
      cursor: q.cursor ?? '',
      ...(endpoint === 'Groups' ? { excludedAttributes: 'members' } : {}),
    });
  }

  /**
   * Runs the token's IdP's connection test through the SCIM handler, in process, as that token (whose secret scimd
   * does not keep): each request as the IdP sends it, its answer, and whether the IdP would accept it.
   */
  async function testConnection(req: FastifyRequest, context: RequestContext) {
    const handle = createScimHandler({ scim, bodyLimit: ADMIN_BODY_LIMIT, authenticate: async () => context });
    const base = new URL(options.scimBaseUrl(req));
    const ids = new Map<string, string>();
    const steps = [];
    for (const step of connectionTest(context.dialect)) {
      const [path, query = ''] = stepPath(step, ids).split('?');
      const body = step.body === undefined ? '' : JSON.stringify(step.body);
      const answer = await handle({
        method: step.method, path: path!, query, prefix: base.pathname, origin: base.origin, requestId: req.id,
        headers: { accept: 'application/scim+json', ...(body ? { 'content-type': 'application/scim+json', 'content-length': String(Buffer.byteLength(body)) } : {}) },
        readBody: async () => body,
      });
      const parsed = answer.body ? (JSON.parse(answer.body) as Record<string, unknown>) : undefined;
      const passed = step.check(answer.status, parsed);
      if (passed && step.keep && typeof parsed?.id === 'string') ids.set(step.keep, parsed.id);
      steps.push({
        name: step.name, request: `${step.method} ${base.pathname}${path}${query ? `?${query}` : ''}`, ...(body ? { requestBody: body } : {}),
        status: answer.status, response: (answer.body ?? '').slice(0, 2000), expected: step.expect, passed,
      });
      if (!passed) break; // as the IdP does: its test stops at the first answer it does not accept
    }
    return { dialect: context.dialect, passed: steps.every((s) => s.passed), steps };
  }

  /** The SCIM context of the console's reads and writes in an organization, named after who acts. */
  const scimContext = (req: FastifyRequest, orgId: string, tokenName = 'console'): CallContext => ({
    orgId, tokenId: 'console', tokenName, dialect: 'rfc', baseUrl: options.scimBaseUrl(req), requestId: req.id, clientAddress: req.ip,
  });

  void app.register(
    async (api) => {
      api.post('/signin', async (req, reply) => {
        const link = text((await body(req)).link, 'link');
        const { session, csrf, expires } = await access.signIn(link ?? '');
        setCookie(req, reply, session, Math.floor((Date.parse(expires) - Date.now()) / 1000));
        return { csrf, expires };
      });
      api.post('/signout', async (req, reply) => {
        await access.signOut(cookieOf(req));
        setCookie(req, reply, '', 0);
        return reply.code(204).send();
      });
      api.get('/session', async (req) => {
        const { scope, session } = await caller(req);
        return {
          role: 'all' in scope ? 'operator' : 'admin',
          organization: session?.organization ?? null,
          csrf: session?.csrf ?? null,
          scimBaseUrl: options.scimBaseUrl(req),
        };
      });

      api.get('/organizations', async (req) => {
        const { scope } = await caller(req);
        return Promise.all((await admin.organizations(scope)).map(async (o) => ({ ...o, ...(await admin.organizationContents(scope, o.name)).contents })));
      });
      api.post('/organizations', async (req, reply) => {
        const { scope, actor } = await caller(req);
        const name = text((await body(req)).name, 'name') ?? '';
        return reply.code(201).send(await admin.createOrganization(actor, scope, name));
      });

      api.post('/organizations/:org/rename', async (req) => {
        const { scope, actor } = await caller(req);
        return admin.renameOrganization(actor, scope, param(req, 'org'), text((await body(req)).name, 'name') ?? '');
      });
      // everything of it goes: the caller repeats its name, as `scimd org delete` asks
      api.post('/organizations/:org/delete', async (req) => {
        const { scope, actor } = await caller(req);
        return { deleted: await admin.deleteOrganization(actor, scope, param(req, 'org'), text((await body(req)).confirm, 'confirm') ?? '') };
      });

      api.get('/organizations/:org/tokens', async (req) => admin.tokens((await caller(req)).scope, { organization: param(req, 'org') }));
      api.post('/organizations/:org/tokens', async (req, reply) => {
        const { scope, actor } = await caller(req);
        const b = await body(req);
        const name = text(b.name, 'name');
        const dialect = text(b.dialect, 'dialect');
        const made = await admin.createToken(actor, scope, { organization: param(req, 'org'), ...(name ? { name } : {}), ...(dialect ? { dialect } : {}) });
        return reply.code(201).header('cache-control', 'no-store').send(made);
      });
      api.post('/tokens/:id/revoke', async (req) => {
        const { scope, actor } = await caller(req);
        return admin.revokeToken(actor, scope, param(req, 'id'));
      });

      api.post('/tokens/:id/test', async (req) => {
        const { scope } = await caller(req);
        const token = (await admin.tokens(scope)).find((t) => t.id === param(req, 'id') && t.scope === 'scim' && !t.revoked);
        if (!token?.organization) throw scimErrors.notFound(`There is no active SCIM token with id ${param(req, 'id')}.`);
        const org = await admin.organization(scope, token.organization);
        return testConnection(req, { orgId: org.id, orgName: org.name, tokenId: token.id, tokenName: `${token.name} (connection test)`, dialect: token.dialect as Dialect });
      });

      api.get('/organizations/:org/users', (req) => directory(req, 'Users'));
      // one user, with its history from the audit log
      api.get('/organizations/:org/users/:id', async (req) => {
        const { scope } = await caller(req);
        const org = await admin.organization(scope, param(req, 'org'));
        const id = param(req, 'id');
        const { resource } = await scim.get(scimContext(req, org.id), 'Users', id);
        const { entries } = await admin.auditPage(scope, { organization: org.name, resourceId: id, limit: '200' });
        return { user: resource, history: entries.reverse() };
      });
      // the IdP is the source of truth; the operator may still cut a user off at once, recorded as such
      api.post('/organizations/:org/users/:id/deactivate', async (req) => {
        const { scope, actor } = await caller(req);
        if (!('all' in scope)) throw scimErrors.forbidden("Only the server's operator deactivates users here; the identity provider is the source of truth.");
        const org = await admin.organization(scope, param(req, 'org'));
        const patch = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] };
        return (await scim.patch(scimContext(req, org.id, `${actor.tokenName ?? 'operator'} (emergency deactivation)`), 'Users', param(req, 'id'), patch, {})).resource;
      });
      // one group without its members, and a page of its users
      api.get('/organizations/:org/groups/:id', async (req) => {
        const { scope } = await caller(req);
        const org = await admin.organization(scope, param(req, 'org'));
        const ctx = scimContext(req, org.id);
        const id = param(req, 'id');
        const { resource } = await scim.get(ctx, 'Groups', id, { excludedAttributes: 'members' });
        const q = firstValues(req.query);
        const members = await scim.list(ctx, 'Users', { filter: `groups.value eq ${JSON.stringify(id)}`, count: q.count ?? '25', cursor: q.cursor ?? '', attributes: 'userName,displayName,active' });
        return { group: resource, members };
      });
      api.get('/organizations/:org/groups', (req) => directory(req, 'Groups'));

      api.get('/organizations/:org/setup-links', async (req) => {
        const { scope } = await caller(req);
        return access.setupLinks(await admin.organization(scope, param(req, 'org')));
      });
      api.post('/organizations/:org/setup-links', async (req, reply) => {
        const { scope, actor } = await caller(req);
        const org = await admin.organization(scope, param(req, 'org'));
        const hours = (await body(req)).ttlHours;
        if (hours !== undefined && typeof hours !== 'number') throw scimErrors.invalidValue('ttlHours must be a number.');
        const { secret, link } = await access.setupLink(actor.tokenName ?? 'admin', scope, org, hours === undefined ? undefined : Math.round(hours * 3600));
        return reply.code(201).header('cache-control', 'no-store').send({ ...link, url: `${consoleUrl(req)}/signin#${secret}` });
      });
      api.post('/organizations/:org/setup-links/:id/revoke', async (req, reply) => {
        const { scope, actor } = await caller(req);
        if (!('all' in scope)) throw scimErrors.forbidden('Only the operator revokes setup links.');
        await access.revokeSetupLink(actor.tokenName ?? 'admin', await admin.organization(scope, param(req, 'org')), param(req, 'id'));
        return reply.code(204).send();
      });

      // one organization's dead letters (the operator's too, by name), and where events go
      api.get('/organizations/:org/deliveries', async (req) => {
        const { scope } = await caller(req);
        const org = await admin.organization(scope, param(req, 'org'));
        const dead = await admin.deadEvents({ orgId: org.id });
        const recent = await admin.deliveries(scope, org.name);
        return {
          // where events go is the operator's business: an organization's admin sees its own events only
          ...('all' in scope ? { webhooks: options.webhooks ?? [] } : {}),
          feed: options.feed ?? false,
          dead: dead.map((d) => ({ ...d.event, webhook: d.channel, attempts: d.attempts, lastError: d.lastError ?? null })),
          recent: recent.map((d) => ({ ...d.event, webhook: d.channel, state: d.state, when: d.when, attempts: d.attempts, lastError: d.lastError ?? null })),
        };
      });
      api.post('/organizations/:org/deliveries/retry', async (req) => {
        const { scope } = await caller(req);
        const org = await admin.organization(scope, param(req, 'org'));
        const eventId = text((await body(req)).eventId, 'eventId');
        return { retried: await admin.retryEvents({ orgId: org.id }, eventId) };
      });

      api.get('/audit', async (req) => admin.auditPage((await caller(req)).scope, firstValues(req.query)));
      api.get('/events', async (req) => admin.eventFeed((await caller(req)).scope, firstValues(req.query)));
    },
    { prefix: ADMIN_PREFIX },
  );

  const consoleUrl = (req: FastifyRequest) => `${options.scimBaseUrl(req).replace(/\/scim\/v2$/, '')}/console`;
}
