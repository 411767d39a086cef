/**
 * The console mounted by an embedding application (`scimd.console`), which decides who uses it from its own sign-in
 * (`console.authorize`): in Express through scimd/node under a prefix of its choosing, and in Hono through
 * scimd/fetch. Organization isolation, CSRF, the audit log's actor, and the pages under the mount.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { Hono, type Context } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/ports.js';
import { EVERY_ORGANIZATION } from '../../src/core/admin.js';
import type { ConsoleUser } from '../../src/core/console.js';
import { createFetchHandler } from '../../src/http/fetch.js';
import type { HttpRequest } from '../../src/http/handler.js';
import { createNodeHandler } from '../../src/http/node.js';
import { createScimd, type Scimd } from '../../src/library.js';
import { openTestStore, testStoreKind, user } from '../helpers.js';

/** The application's own users, and what each may do in the console. */
const PEOPLE: Record<string, { email: string; admin?: 'operator' | 'acme' | 'globex' | 'nowhere' }> = {
  olga: { email: 'olga@saas.test', admin: 'operator' },
  ada: { email: 'ada@acme.test', admin: 'acme' },
  gus: { email: 'gus@globex.test', admin: 'globex' },
  eve: { email: 'eve@saas.test' },
};

let store: Store;
const orgIds: Record<string, string> = {};
let acmeToken: string;
let failures: unknown[];

/** The application's mapping of its user to a console user: what an embedding application writes. */
function consoleUserOf(person: (typeof PEOPLE)[string] | undefined, session?: string): ConsoleUser | null {
  if (!person?.admin) return null;
  if (person.admin === 'operator') return { role: 'operator', actor: person.email, ...(session ? { session } : {}) };
  return { role: 'org-admin', orgId: orgIds[person.admin] ?? 'no-such-organization', actor: person.email, ...(session ? { session } : {}) };
}

beforeAll(async () => {
  store = await openTestStore(testStoreKind());
  const setup = createScimd({ store });
  for (const name of ['acme', 'globex']) orgIds[name] = (await setup.admin.createOrganization({ tokenName: 'setup' }, EVERY_ORGANIZATION, name)).id;
  acmeToken = (await setup.admin.createToken({ tokenName: 'setup' }, EVERY_ORGANIZATION, { organization: 'acme', name: 'okta', dialect: 'okta' })).token;
});
afterAll(() => store?.close());

describe('in Express, mounted at /admin/scim, the application signing its users in', () => {
  let scimd: Scimd;
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    failures = [];
    scimd = createScimd({
      store,
      onError: (e) => void failures.push(e),
      console: {
        // the application's session put its user on the request (here, from its own cookie)
        authorize: async (request: HttpRequest) => {
          const { appUser, sessionId } = request.raw as { appUser?: string; sessionId?: string };
          if (appUser === 'mallory') return { role: 'superuser', actor: 'mallory' } as unknown as ConsoleUser;
          return consoleUserOf(appUser ? PEOPLE[appUser] : undefined, sessionId);
        },
      },
    });
    const app = express();
    app.use((req, _res, next) => {
      const cookie = req.headers.cookie ?? '';
      Object.assign(req, { appUser: /(?:^|;\s*)app_user=(\w+)/.exec(cookie)?.[1], sessionId: /(?:^|;\s*)app_session=(\w+)/.exec(cookie)?.[1] });
      next();
    });
    app.use('/scim/v2', createNodeHandler({ handler: scimd.handler }));
    app.use('/admin/scim', createNodeHandler({ handler: scimd.console }));
    app.get('/', (_req, res) => void res.send('the application'));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    expect((await fetch(`${origin}/scim/v2/Users`, { method: 'POST', headers: { authorization: `Bearer ${acmeToken}`, 'content-type': 'application/scim+json' }, body: JSON.stringify(user('ada.acme')) })).status).toBe(201);
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await scimd?.close();
  });

  const api = async (who: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${origin}/admin/scim/api${path}`, {
      method,
      headers: { ...(who ? { cookie: `app_user=${who}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const csrfOf = async (who: string, headers: Record<string, string> = {}) => (await api(who, 'GET', '/session', undefined, headers)).body.csrf as string;

  it('the operator sees every organization and its users, with the SCIM base URL of the application', async () => {
    const session = await api('olga', 'GET', '/session');
    expect(session.body).toEqual({ role: 'operator', organization: null, csrf: expect.any(String), scimBaseUrl: `${origin}/scim/v2`, oauthTokenUrl: `${origin}/oauth/token`, links: false });
    expect((await api('olga', 'GET', '/organizations')).body.map((o: { name: string }) => o.name).sort()).toEqual(['acme', 'globex']);
    const users = await api('olga', 'GET', '/organizations/acme/users');
    expect(users.body.Resources.map((u: { userName: string }) => u.userName)).toEqual(['ada.acme']);
    expect(await (await fetch(`${origin}/`)).text()).toBe('the application');
  });

  it("an organization's admin sees only its own: another's endpoints are 404, the operator's 403, scimd's sign-in links are not there", async () => {
    expect((await api('gus', 'GET', '/session')).body).toMatchObject({ role: 'admin', organization: 'globex' });
    expect((await api('gus', 'GET', '/organizations')).body.map((o: { name: string }) => o.name)).toEqual(['globex']);
    for (const path of ['/organizations/acme/users', '/organizations/acme/groups', '/organizations/acme/tokens', '/organizations/acme/deliveries', '/audit?organization=acme']) {
      expect((await api('gus', 'GET', path)).status, path).toBe(404);
    }
    const adaId = (await api('olga', 'GET', '/organizations/acme/users')).body.Resources[0].id;
    expect((await api('gus', 'GET', `/organizations/globex/users/${adaId}`)).status).toBe(404);
    const csrf = await csrfOf('gus');
    const acmeTokenId = (await api('olga', 'GET', '/organizations/acme/tokens')).body[0].id;
    expect((await api('gus', 'POST', `/tokens/${acmeTokenId}/revoke`, undefined, { 'x-csrf-token': csrf })).status).toBe(404);
    expect((await api('gus', 'POST', '/organizations/acme/tokens', { name: 'x' }, { 'x-csrf-token': csrf })).status).toBe(404);
    expect((await api('gus', 'POST', '/organizations', { name: 'mine' }, { 'x-csrf-token': csrf })).status).toBe(403);
    expect((await api('gus', 'POST', '/organizations/globex/rename', { name: 'x' }, { 'x-csrf-token': csrf })).status).toBe(403);
    expect(JSON.stringify((await api('gus', 'GET', '/audit')).body)).not.toContain('ada.acme');
    for (const [method, path] of [['POST', '/signin'], ['POST', '/signout'], ['GET', '/organizations/globex/setup-links']]) {
      expect((await api('gus', method!, path!, method === 'POST' ? {} : undefined, { 'x-csrf-token': csrf })).status, path).toBe(404);
    }
  });

  it("a change needs the user's own CSRF token and no other site's page; refused, nothing is made", async () => {
    const before = (await store.listTokens()).length;
    const ada = await csrfOf('ada');
    const make = (headers: Record<string, string>) => api('ada', 'POST', '/organizations/acme/tokens', { name: 'entra', dialect: 'entra' }, headers);
    const refused = await make({});
    expect([refused.status, refused.body.detail]).toEqual([403, expect.stringMatching(/CSRF/)]);
    expect((await make({ 'x-csrf-token': 'nope' })).status).toBe(403);
    expect((await make({ 'x-csrf-token': await csrfOf('olga') })).status).toBe(403); // another user's
    expect((await make({ 'x-csrf-token': ada, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await make({ 'x-csrf-token': ada, 'sec-fetch-site': 'same-site' })).status).toBe(403);
    // bound to the application's session when the hook names it: a new sign-in, a new token
    const inSession = await csrfOf('ada', { cookie: 'app_user=ada; app_session=s1' });
    expect(inSession).not.toBe(ada);
    expect((await make({ cookie: 'app_user=ada; app_session=s2', 'x-csrf-token': inSession })).status).toBe(403);
    expect(await store.listTokens()).toHaveLength(before);
    const made = await make({ 'x-csrf-token': ada, 'sec-fetch-site': 'same-origin' });
    expect([made.status, made.headers.get('cache-control'), made.body.view]).toEqual([201, 'no-store', expect.objectContaining({ organization: 'acme', dialect: 'entra' })]);
    expect((await make({ cookie: 'app_user=ada; app_session=s1', 'x-csrf-token': inSession })).status).toBe(201);
  });

  it('the audit log names the user the hook returned', async () => {
    const csrf = await csrfOf('olga');
    const made = await api('olga', 'POST', '/organizations/globex/tokens', { name: 'by olga' }, { 'x-csrf-token': csrf });
    expect((await api('olga', 'POST', `/tokens/${made.body.view.id}/revoke`, undefined, { 'x-csrf-token': csrf })).status).toBe(200);
    const log = await api('gus', 'GET', '/audit?resourceType=Token');
    expect(log.body.entries.filter((e: { resourceId: string }) => e.resourceId === made.body.view.id).map((e: { operation: string; tokenName: string }) => [e.operation, e.tokenName])).toEqual([
      ['create', 'olga@saas.test'], ['delete', 'olga@saas.test'],
    ]);
  });

  it('a user the hook refuses is 403, as is an organization scimd does not have; an unknown role is a 500 the application is told of', async () => {
    for (const who of ['eve', undefined]) expect((await api(who, 'GET', '/session')).status).toBe(403);
    PEOPLE.nora = { email: 'nora@nowhere.test', admin: 'nowhere' };
    expect((await api('nora', 'GET', '/organizations')).status).toBe(403);
    const odd = await api('mallory', 'GET', '/organizations');
    expect([odd.status, JSON.stringify(odd.body)]).toEqual([500, expect.not.stringContaining('acme')]);
    expect(String(failures.at(-1))).toMatch(/unknown role "superuser"/);
  });

  it('serves the pages and their assets under the mount, each shell under a CSP that allows its own import map', async () => {
    for (const path of ['/admin/scim', '/admin/scim/', '/admin/scim/o/acme/users']) {
      const res = await fetch(`${origin}${path}`);
      const html = await res.text();
      expect([path, res.status, res.headers.get('content-type')]).toEqual([path, 200, 'text/html; charset=utf-8']);
      expect(html).toContain('data-base="/admin/scim" data-api="/admin/scim/api"');
      expect(html).toContain('<script type="module" src="/admin/scim/assets/console.js">');
      const importMap = /<script type="importmap">(.*?)<\/script>/.exec(html)![1]!;
      expect(JSON.parse(importMap).imports.preact).toBe('/admin/scim/assets/preact.mjs');
      const digest = createHash('sha256').update(importMap).digest('base64');
      expect(res.headers.get('content-security-policy')).toContain(`script-src 'self' 'sha256-${digest}'`);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    for (const name of ['console.js', 'console.css', 'preact.mjs', 'hooks.mjs', 'htm.mjs']) {
      const res = await fetch(`${origin}/admin/scim/assets/${name}`);
      expect([name, res.status, (await res.text()).length > 100]).toEqual([name, 200, true]);
    }
    expect((await fetch(`${origin}/admin/scim/assets/..%2f..%2fpackage.json`)).status).toBe(404);
    // scimd serve's own paths are nothing here
    expect((await fetch(`${origin}/console`)).status).toBe(404);
  });
});

describe('in Hono, through scimd/fetch, mounted at /console', () => {
  let scimd: Scimd;
  let app: Hono<{ Variables: { person?: (typeof PEOPLE)[string] } }>;
  beforeAll(() => {
    scimd = createScimd({
      store,
      console: {
        scimPath: '/api/scim',
        // the application's middleware put its user on Hono's context, handed along with the request
        authorize: async (request) => consoleUserOf((request.context as Context<{ Variables: { person?: (typeof PEOPLE)[string] } }>).get('person')),
      },
    });
    const handle = createFetchHandler({ handler: scimd.console, prefix: '/console' });
    app = new Hono<{ Variables: { person?: (typeof PEOPLE)[string] } }>();
    app.use(async (c, next) => {
      c.set('person', PEOPLE[c.req.header('x-app-user') ?? '']);
      await next();
    });
    app.all('/console', (c) => handle(c.req.raw, c));
    app.all('/console/*', (c) => handle(c.req.raw, c));
  });
  afterAll(() => scimd?.close());

  const send = (who: string, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) =>
    app.request(`https://app.test/console${path}`, {
      method,
      headers: { 'x-app-user': who, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });

  it("serves the pages and the API under its mount; an organization's admin sees only its own, and changes with its CSRF token", async () => {
    const shell = await send('ada', 'GET', '/o/acme/provisioning');
    expect([shell.status, await shell.text()]).toEqual([200, expect.stringContaining('data-base="/console" data-api="/console/api"')]);
    expect((await send('ada', 'GET', '/assets/console.js')).status).toBe(200);
    const session = await (await send('ada', 'GET', '/api/session')).json();
    expect(session).toMatchObject({ role: 'admin', organization: 'acme', scimBaseUrl: 'https://app.test/api/scim' });
    expect(await (await send('ada', 'GET', '/api/organizations')).json()).toEqual([expect.objectContaining({ name: 'acme' })]);
    expect((await send('ada', 'GET', '/api/organizations/globex/tokens')).status).toBe(404);
    expect((await send('eve', 'GET', '/api/session')).status).toBe(403);
    expect((await send('ada', 'POST', '/api/organizations/acme/tokens', { body: { name: 'hono' } })).status).toBe(403);
    const made = await send('ada', 'POST', '/api/organizations/acme/tokens', { body: { name: 'hono' }, headers: { 'x-csrf-token': session.csrf } });
    expect([made.status, (await made.json()).view.name]).toEqual([201, 'hono']);
  });
});
