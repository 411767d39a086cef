/**
 * The admin HTTP API (`/admin/api` on `scimd serve`, `api/` below the console's mount when embedded): the admin
 * services (core/admin.ts) over JSON, free of any web framework like the SCIM handler, for admin tokens (each sees
 * its own organization), operator tokens (every one), and the console's users — a session of scimd's sign-in links
 * (a cookie), or whoever the embedding application's `authorize` hook names. A console user must carry the CSRF
 * token of their session on every request that changes something. The console's pages call only this.
 */
import { createAdmin, type AdminActor, type AdminOptions, type AdminStore } from '../core/admin.js';
import { createConsole, quickSearch, type ConsoleSession, type ConsoleStores, type ConsoleUser } from '../core/console.js';
import { ScimError, scimErrors } from '../core/errors.js';
import type { AdminScope, TrustedIssuer } from '../core/model.js';
import type { CallContext, Scim } from '../core/scim.js';
import { connectionTest, stepPath } from '../core/connection-test.js';
import { authenticateAdmin, expiredToken, type Dialect, type RequestContext } from '../core/tokens.js';
import { answerNotFound, authenticateOptions, createScimHandler, failure, finish, jsonBodyOf, single, type HttpRequest, type HttpResponse, type ScimHandler } from './handler.js';
import { mountPrefix, splitBelow } from './node.js';
import type { RateLimiter } from './rate-limit.js';
import { consolePages } from '../console/server.js';

const SESSION_COOKIE = 'scimd_console';
/** Admin requests are small: a name, a dialect, a link. */
const ADMIN_BODY_LIMIT = 16_384;
const JSON_TYPE = 'application/json; charset=utf-8';

/** Who may use the console, decided by the embedding application: a user, or null (403). */
export type ConsoleAuthorize = (request: HttpRequest) => Promise<ConsoleUser | null>;

export interface ConsoleHandlerOptions extends AdminOptions {
  readonly scim: Scim;
  readonly store: AdminStore & ConsoleStores;
  /** The webhook endpoints events are delivered to (shown to the operator). */
  readonly webhooks?: readonly string[];
  /** Public base URL (scheme, host, optional path); without it, URLs are derived from each request's origin. */
  readonly publicUrl?: string;
  /** Where the SCIM API is below the public base URL, for the console's "SCIM base URL" (default '/scim/v2'). */
  readonly scimPath?: string;
  /** Where the console's pages are below the handler's mount (default '': everything but the API). */
  readonly pagesPath?: string;
  /** Where the admin API is below the handler's mount (default '/api'). */
  readonly apiPath?: string;
  /**
   * The embedding application decides who uses the console (from its own sign-in) instead of scimd's sign-in links
   * and admin tokens; see docs/console.md.
   */
  readonly authorize?: ConsoleAuthorize;
  /** Refused admin tokens: recorded in the audit log unless false; throttled per client address by `refusalLimit`. */
  readonly audit?: boolean;
  readonly refusalLimit?: RateLimiter;
  /** The largest body of a request outside every route (which is read, then answered 404). */
  readonly bodyLimit: number;
  /** Told of every failure answered with 500 (the response says only that it was logged). */
  readonly onError?: (error: unknown, request: HttpRequest) => void;
}

interface Call {
  readonly request: HttpRequest;
  /** The route's parameters, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The query's parameters, a repeated one counting once (the first), as on the SCIM endpoints. */
  readonly query: Readonly<Record<string, string | undefined>>;
}

interface Caller {
  readonly scope: AdminScope;
  readonly actor: AdminActor;
  readonly session?: ConsoleSession;
}

const reply = (body: unknown, status = 200, headers: Record<string, string> = {}): HttpResponse => ({ status, headers: { ...headers, 'content-type': JSON_TYPE }, body: JSON.stringify(body) });
const noContent = (headers: Record<string, string> = {}): HttpResponse => ({ status: 204, headers });
const changes = (request: HttpRequest) => !['GET', 'HEAD'].includes(request.method.toUpperCase());

function queryOf(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(query)) if (!(name in out)) out[name] = value;
  return out;
}

function cookieOf(request: HttpRequest): string | undefined {
  const header = single(request.headers.cookie);
  return header ? new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([\\w-]+)`).exec(header)?.[1] : undefined;
}

/**
 * The console as a plain request → response function, for any adapter: its pages and assets, and the admin API
 * they call, each below the mount the request names (`scimd serve`: the pages at /console, the API at /admin/api).
 */
export function createConsoleHandler(options: ConsoleHandlerOptions): ScimHandler {
  const { scim, store, authorize } = options;
  const pagesPath = mountPrefix(options.pagesPath);
  const apiPath = mountPrefix(options.apiPath ?? '/api');
  const admin = createAdmin(store, options);
  const access = createConsole(store);
  const publicBase = options.publicUrl?.replace(/\/+$/, '');
  const scimBaseUrl = (request: HttpRequest) => `${publicBase ?? request.origin}${options.scimPath ?? '/scim/v2'}`;
  const consoleUrl = (request: HttpRequest) => `${publicBase ?? request.origin}${request.prefix}${pagesPath}`;

  /**
   * Who calls. With `authorize`, whoever the application names (a request that changes something must carry their
   * CSRF token, and a browser's must not come from another site); else an admin or operator token, or a console
   * session (which must carry its CSRF token to change anything).
   */
  async function caller(request: HttpRequest): Promise<Caller> {
    const where = { clientAddress: request.clientAddress, requestId: request.requestId };
    if (authorize) {
      const user = await authorize(request);
      if (!user) throw scimErrors.forbidden('You may not use this console: ask your administrator.');
      const session = await access.authorized(user);
      if (changes(request)) {
        const site = single(request.headers['sec-fetch-site']);
        if (site !== undefined && site !== 'same-origin') throw scimErrors.forbidden('A change to the console must come from the console\'s own pages.');
        access.checkCsrf(session, single(request.headers['x-csrf-token']));
      }
      return { scope: session.scope, actor: { tokenId: session.id, tokenName: session.actor, ...where }, session };
    }
    const cookie = cookieOf(request);
    const authorization = single(request.headers.authorization);
    if (authorization !== undefined || cookie === undefined) {
      const c = await authenticateAdmin(store, authorization, authenticateOptions(options, request));
      return { scope: c.scope, actor: { tokenId: c.tokenId, tokenName: c.tokenName, ...where } };
    }
    const session = await access.session(cookie);
    if (changes(request)) access.checkCsrf(session, single(request.headers['x-csrf-token']));
    return { scope: session.scope, actor: { tokenId: session.id, tokenName: session.actor, ...where }, session };
  }

  const body = async (request: HttpRequest) => {
    const value = await jsonBodyOf(request, ADMIN_BODY_LIMIT);
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) throw scimErrors.invalidSyntax('The body must be a JSON object.');
    return (value ?? {}) as Record<string, unknown>;
  };
  const text = (value: unknown, name: string): string | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw scimErrors.invalidValue(`${name} must be a string.`);
    return value;
  };

  const badScopes = (): never => {
    throw scimErrors.invalidValue('scopes must be a list of scopes or a space-separated string of them.');
  };

  /** The session cookie, for the console's mount only (the whole site when it is mounted at the root). */
  const cookie = (request: HttpRequest, value: string, maxAge: number) => {
    const secure = request.origin.startsWith('https:') ? '; Secure' : '';
    const path = request.prefix || '/';
    return { 'set-cookie': `${SESSION_COOKIE}=${value}; Path=${path}; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}` };
  };

  /** The SCIM context of the console's reads and writes in an organization, named after who acts. */
  const scimContext = (request: HttpRequest, orgId: string, tokenName = 'console'): CallContext => ({
    orgId, tokenId: 'console', tokenName, dialect: 'rfc', baseUrl: scimBaseUrl(request), requestId: request.requestId, clientAddress: request.clientAddress,
  });

  /** The SCIM reads of one organization's users or groups, for the console's pages (read-only: the IdP is the source of truth). */
  async function directory({ request, params, query: q }: Call, endpoint: 'Users' | 'Groups') {
    const { scope } = await caller(request);
    const org = await admin.organization(scope, params.org!);
    const filter = q.q ? quickSearch(endpoint, q.q) : q.filter;
    return reply(await scim.list(scimContext(request, org.id), endpoint, {
      ...(filter ? { filter } : {}),
      count: q.count ?? '25',
      cursor: q.cursor ?? '',
      ...(endpoint === 'Groups' ? { excludedAttributes: 'members' } : {}),
    }));
  }

  /**
   * Runs the token's IdP's connection test through the SCIM handler, in process, as that token (whose secret scimd
   * does not keep): each request as the IdP sends it, its answer, and whether the IdP would accept it.
   */
  async function testConnection(request: HttpRequest, context: RequestContext, refusal?: ScimError) {
    const handle = createScimHandler({ scim, bodyLimit: ADMIN_BODY_LIMIT, authenticate: async () => {
      if (refusal) throw refusal;
      return context;
    } });
    const base = new URL(scimBaseUrl(request));
    const ids = new Map<string, string>();
    const steps = [];
    for (const step of connectionTest(context.dialect)) {
      const [path, query = ''] = stepPath(step, ids).split('?');
      const sent = step.body === undefined ? '' : JSON.stringify(step.body);
      const answer = await handle({
        method: step.method, path: path!, query, prefix: base.pathname, origin: base.origin, requestId: request.requestId,
        headers: { accept: 'application/scim+json', ...(sent ? { 'content-type': 'application/scim+json', 'content-length': String(Buffer.byteLength(sent)) } : {}) },
        readBody: async () => sent,
      });
      const parsed = answer.body ? (JSON.parse(answer.body) as Record<string, unknown>) : undefined;
      const passed = step.check(answer.status, parsed);
      if (passed && step.keep && typeof parsed?.id === 'string') ids.set(step.keep, parsed.id);
      steps.push({
        name: step.name, request: `${step.method} ${base.pathname}${path}${query ? `?${query}` : ''}`, ...(sent ? { requestBody: sent } : {}),
        status: answer.status, response: (answer.body ?? '').slice(0, 2000), expected: step.expect, passed,
      });
      if (!passed) break; // as the IdP does: its test stops at the first answer it does not accept
    }
    return { dialect: context.dialect, passed: steps.every((s) => s.passed), steps };
  }

  type Route = readonly [method: 'GET' | 'POST', pattern: string, run: (call: Call) => Promise<HttpResponse>];
  // scimd's own sign-in: not there when the application signs its users in
  const signIn: Route[] = [
    ['POST', '/signin', async ({ request }) => {
      const link = text((await body(request)).link, 'link');
      const { session, csrf, expires } = await access.signIn(link ?? '');
      return reply({ csrf, expires }, 200, cookie(request, session, Math.floor((Date.parse(expires) - Date.now()) / 1000)));
    }],
    ['POST', '/signout', async ({ request }) => {
      await access.signOut(cookieOf(request));
      return noContent(cookie(request, '', 0));
    }],
    ['GET', '/organizations/:org/setup-links', async ({ request, params }) => {
      const { scope } = await caller(request);
      return reply(await access.setupLinks(await admin.organization(scope, params.org!)));
    }],
    ['POST', '/organizations/:org/setup-links', async ({ request, params }) => {
      const { scope, actor } = await caller(request);
      const org = await admin.organization(scope, params.org!);
      const hours = (await body(request)).ttlHours;
      if (hours !== undefined && typeof hours !== 'number') throw scimErrors.invalidValue('ttlHours must be a number.');
      const { secret, link } = await access.setupLink(actor.tokenName ?? 'admin', scope, org, hours === undefined ? undefined : Math.round(hours * 3600));
      return reply({ ...link, url: `${consoleUrl(request)}/signin#${secret}` }, 201, { 'cache-control': 'no-store' });
    }],
    ['POST', '/organizations/:org/setup-links/:id/revoke', async ({ request, params }) => {
      const { scope, actor } = await caller(request);
      if (!('all' in scope)) throw scimErrors.forbidden('Only the operator revokes setup links.');
      await access.revokeSetupLink(actor.tokenName ?? 'admin', await admin.organization(scope, params.org!), params.id!);
      return noContent();
    }],
  ];

  const routes: Route[] = [
    ...(authorize ? [] : signIn),
    ['GET', '/session', async ({ request }) => {
      const { scope, session } = await caller(request);
      return reply({
        role: 'all' in scope ? 'operator' : 'admin',
        organization: session?.organization ?? null,
        csrf: session?.csrf ?? null,
        scimBaseUrl: scimBaseUrl(request),
        // where an OAuth client gets its access tokens (the OAuth endpoints are at the site's root)
        oauthTokenUrl: `${publicBase ?? request.origin}/oauth/token`,
        // scimd's sign-in links and sign-out, or the application's own
        links: !authorize,
      });
    }],

    ['GET', '/organizations', async ({ request }) => reply(await admin.organizationsWithContents((await caller(request)).scope))],
    ['POST', '/organizations', async ({ request }) => {
      const { scope, actor } = await caller(request);
      return reply(await admin.createOrganization(actor, scope, text((await body(request)).name, 'name') ?? ''), 201);
    }],
    ['POST', '/organizations/:org/rename', async ({ request, params }) => {
      const { scope, actor } = await caller(request);
      return reply(await admin.renameOrganization(actor, scope, params.org!, text((await body(request)).name, 'name') ?? ''));
    }],
    // everything of it goes: the caller repeats its name, as `scimd org delete` asks
    ['POST', '/organizations/:org/delete', async ({ request, params }) => {
      const { scope, actor } = await caller(request);
      return reply({ deleted: await admin.deleteOrganization(actor, scope, params.org!, text((await body(request)).confirm, 'confirm') ?? '') });
    }],

    ['GET', '/organizations/:org/tokens', async ({ request, params }) => reply(await admin.tokens((await caller(request)).scope, { organization: params.org! }))],
    ['POST', '/organizations/:org/tokens', async ({ request, params }) => {
      const { scope, actor } = await caller(request);
      const b = await body(request);
      const name = text(b.name, 'name');
      const dialect = text(b.dialect, 'dialect');
      const expires = text(b.expires, 'expires');
      // a list, or OAuth's space-separated string
      const scopes = b.scopes === undefined || b.scopes === null ? undefined
        : Array.isArray(b.scopes) ? b.scopes.map((s) => text(s, 'each of scopes') ?? '')
        : typeof b.scopes === 'string' ? b.scopes : badScopes();
      const made = await admin.createToken(actor, scope, {
        organization: params.org!, ...(name ? { name } : {}), ...(dialect ? { dialect } : {}), ...(scopes !== undefined ? { scopes } : {}), ...(expires ? { expires } : {}),
        ...(b.oauthClient === true ? { oauthClient: true } : {}),
        // checked by the admin services, as the command line's
        ...(b.trustIssuer !== undefined ? { trust: b.trustIssuer as TrustedIssuer } : {}),
      });
      return reply(made, 201, { 'cache-control': 'no-store' });
    }],
    ['POST', '/tokens/:id/revoke', async ({ request, params }) => {
      const { scope, actor } = await caller(request);
      return reply(await admin.revokeToken(actor, scope, params.id!));
    }],
    ['POST', '/tokens/:id/test', async ({ request, params }) => {
      const { scope } = await caller(request);
      const token = (await admin.tokens(scope)).find((t) => t.id === params.id && (t.scope === 'scim' || t.scope === 'client') && !t.revoked);
      if (!token?.organization) throw scimErrors.notFound(`There is no active SCIM token or OAuth client with id ${params.id}.`);
      const org = await admin.organization(scope, token.organization);
      const context = { orgId: org.id, orgName: org.name, tokenId: token.id, tokenName: `${token.name} (connection test)`, dialect: token.dialect as Dialect, ...(token.scopes ? { scopes: token.scopes } : {}) };
      // the IdP's test would be refused as the token is: an expired one at its first request
      return reply(await testConnection(request, context, token.expires !== null && Date.parse(token.expires) <= Date.now() ? expiredToken(token.expires) : undefined));
    }],

    ['GET', '/organizations/:org/users', (call) => directory(call, 'Users')],
    // one user, with its history from the audit log
    ['GET', '/organizations/:org/users/:id', async ({ request, params }) => {
      const { scope } = await caller(request);
      const org = await admin.organization(scope, params.org!);
      const { resource } = await scim.get(scimContext(request, org.id), 'Users', params.id!);
      const { entries } = await admin.auditPage(scope, { organization: org.name, resourceId: params.id!, limit: '200' });
      return reply({ user: resource, history: entries.reverse() });
    }],
    // the IdP is the source of truth; the operator may still cut a user off at once, recorded as such
    ['POST', '/organizations/:org/users/:id/deactivate', async ({ request, params }) => {
      const { scope, actor } = await caller(request);
      if (!('all' in scope)) throw scimErrors.forbidden("Only the server's operator deactivates users here; the identity provider is the source of truth.");
      const org = await admin.organization(scope, params.org!);
      const patch = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] };
      return reply((await scim.patch(scimContext(request, org.id, `${actor.tokenName ?? 'operator'} (emergency deactivation)`), 'Users', params.id!, patch, {})).resource);
    }],
    ['GET', '/organizations/:org/groups', (call) => directory(call, 'Groups')],
    // one group without its members, and a page of its users
    ['GET', '/organizations/:org/groups/:id', async ({ request, params, query: q }) => {
      const { scope } = await caller(request);
      const org = await admin.organization(scope, params.org!);
      const ctx = scimContext(request, org.id);
      const id = params.id!;
      const { resource } = await scim.get(ctx, 'Groups', id, { excludedAttributes: 'members' });
      const members = await scim.list(ctx, 'Users', { filter: `groups.value eq ${JSON.stringify(id)}`, count: q.count ?? '25', cursor: q.cursor ?? '', attributes: 'userName,displayName,active' });
      return reply({ group: resource, members });
    }],

    // one organization's dead letters (the operator's too, by name), and where events go
    ['GET', '/organizations/:org/deliveries', async ({ request, params }) => {
      const { scope } = await caller(request);
      const org = await admin.organization(scope, params.org!);
      const dead = await admin.deadEvents({ orgId: org.id });
      const recent = await admin.deliveries(scope, org.name);
      return reply({
        // where events go is the operator's business: an organization's admin sees its own events only
        ...('all' in scope ? { webhooks: options.webhooks ?? [] } : {}),
        feed: options.feed ?? false,
        dead: dead.map((d) => ({ ...d.event, webhook: d.channel, attempts: d.attempts, lastError: d.lastError ?? null })),
        recent: recent.map((d) => ({ ...d.event, webhook: d.channel, state: d.state, when: d.when, attempts: d.attempts, lastError: d.lastError ?? null })),
      });
    }],
    ['POST', '/organizations/:org/deliveries/retry', async ({ request, params }) => {
      const { scope } = await caller(request);
      const org = await admin.organization(scope, params.org!);
      const eventId = text((await body(request)).eventId, 'eventId');
      return reply({ retried: await admin.retryEvents({ orgId: org.id }, eventId) });
    }],

    ['GET', '/audit', async ({ request, query }) => reply(await admin.auditPage((await caller(request)).scope, query))],
    ['GET', '/events', async ({ request, query }) => reply(await admin.eventFeed((await caller(request)).scope, query))],
  ];
  const table = routes.map(([method, pattern, run]) => ({ method, segments: pattern.slice(1).split('/'), run }));

  /**
   * The API's route of a request (`path` below the API's root) and its parameters; static segments match in any
   * case, one trailing slash is ignored.
   */
  function routeOf(request: HttpRequest, below: string): { run: Route[2]; params: Record<string, string> } | undefined {
    const method = request.method.toUpperCase() === 'HEAD' ? 'GET' : request.method.toUpperCase();
    const path = below.endsWith('/') ? below.slice(0, -1) : below;
    const segments = path.slice(1).split('/');
    for (const route of table) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const matches = route.segments.every((s, i) => {
        if (s.startsWith(':')) {
          try {
            params[s.slice(1)] = decodeURIComponent(segments[i]!);
          } catch {
            throw new ScimError(400, undefined, `'${request.prefix}${request.path}' is not a valid url component`);
          }
          return segments[i] !== '';
        }
        return s === segments[i]!.toLowerCase();
      });
      if (matches) return { run: route.run, params };
    }
    return undefined;
  }

  const pages = consolePages({ pagesPath, apiPath });

  return async function handleConsoleRequest(request: HttpRequest): Promise<HttpResponse> {
    const method = request.method.toUpperCase();
    try {
      const api = splitBelow(request.path, apiPath);
      const page = api === undefined ? splitBelow(request.path, pagesPath) : undefined;
      if (page !== undefined && (method === 'GET' || method === 'HEAD')) return finish(method, request, pages(request, page.path));
      const route = api && routeOf(request, api.path);
      if (!route) return await answerNotFound(request, options.bodyLimit, options.onError);
      return finish(method, request, await route.run({ request, params: route.params, query: queryOf(request.query) }));
    } catch (e) {
      return finish(method, request, failure(e, ADMIN_BODY_LIMIT, request, options.onError));
    }
  };
}
