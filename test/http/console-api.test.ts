/** The console's sign-in, sessions, CSRF and organization isolation over the admin API, and the pages' shell. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConsole } from '../../src/core/console.js';
import { testServer, testToken, user, type TestServer } from '../helpers.js';

let s: TestServer;
beforeEach(async () => {
  s = await testServer();
});
afterEach(() => s.close());

/** Opens a sign-in link (operator's, or one organization's) and returns the session's cookie and CSRF token. */
async function signIn(org?: string) {
  const organization = org ? (await s.store.organizations()).find((o) => o.name === org) ?? (await s.store.ensureOrganization(org)) : undefined;
  const { secret } = await createConsole(s.store).signInLink('test', organization);
  const r = await s.request('POST', '/admin/api/signin', { link: secret }, { authorization: '', 'content-type': 'application/json' });
  expect(r.status).toBe(200);
  const cookie = String(r.headers['set-cookie']).split(';')[0]!;
  return { cookie, csrf: r.body.csrf as string, secret, setCookie: String(r.headers['set-cookie']) };
}

const as = (session: { cookie: string; csrf?: string }, csrf = true) => ({
  authorization: '', cookie: session.cookie, 'content-type': 'application/json', ...(csrf && session.csrf ? { 'x-csrf-token': session.csrf } : {}),
});
// a request with the session cookie and no Authorization header at all
const send = (method: string, url: string, body: unknown, headers: Record<string, string>) => {
  const { authorization: _, ...rest } = headers;
  return s.app.inject({ method: method as 'GET', url, headers: rest, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) }).then((r) => ({ status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined, headers: r.headers }));
};

describe('signing in', () => {
  it('a sign-in link opens one session, once; the cookie is HttpOnly and SameSite=Strict', async () => {
    const session = await signIn();
    expect(session.setCookie).toMatch(/HttpOnly/);
    expect(session.setCookie).toMatch(/SameSite=Strict/);
    const me = await send('GET', '/admin/api/session', undefined, as(session));
    expect(me.body).toMatchObject({ role: 'operator', organization: null, csrf: session.csrf, scimBaseUrl: 'https://scim.example.com/scim/v2' });
    const again = await send('POST', '/admin/api/signin', { link: session.secret }, { 'content-type': 'application/json' });
    expect(again.status).toBe(401);
  });

  it('an expired, a revoked, a malformed or a made-up link is refused with one message', async () => {
    const past = createConsole(s.store, { now: () => new Date(Date.now() - 3_600_000) });
    const { secret } = await past.signInLink('test', undefined, 600);
    const org = await s.store.ensureOrganization('acme');
    const { secret: setup, link } = await createConsole(s.store).setupLink('test', { all: true }, org);
    await createConsole(s.store).revokeSetupLink('test', org, link.id);
    for (const value of [secret, setup, 'scimd_console_made-up', '']) {
      const r = await send('POST', '/admin/api/signin', { link: value }, { 'content-type': 'application/json' });
      expect([r.status, r.body.detail]).toEqual([401, expect.stringMatching(/not valid/)]);
    }
    const odd = await send('POST', '/admin/api/signin', { link: 42 }, { 'content-type': 'application/json' });
    expect([odd.status, odd.body.scimType]).toEqual([400, 'invalidValue']);
    const notJson = await send('POST', '/admin/api/signin', '{', { 'content-type': 'application/json' });
    expect([notJson.status, notJson.body.scimType]).toEqual([400, 'invalidSyntax']);
  });

  it('signing out ends the session', async () => {
    const session = await signIn();
    expect((await send('POST', '/admin/api/signout', undefined, as(session))).status).toBe(204);
    expect((await send('GET', '/admin/api/session', undefined, as(session))).status).toBe(401);
  });
});

describe('changes need the session\'s CSRF token', () => {
  it('a token generated without it is refused and nothing is made; with it, made and shown once', async () => {
    const session = await signIn();
    const before = await s.store.listTokens();
    const refused = await send('POST', '/admin/api/organizations/default/tokens', { name: 'entra', dialect: 'entra' }, as(session, false));
    expect([refused.status, refused.body.detail]).toEqual([403, expect.stringMatching(/CSRF/)]);
    const wrong = await send('POST', '/admin/api/organizations/default/tokens', { name: 'entra' }, { ...as(session, false), 'x-csrf-token': 'nope' });
    expect(wrong.status).toBe(403);
    expect(await s.store.listTokens()).toHaveLength(before.length);
    const made = await send('POST', '/admin/api/organizations/default/tokens', { name: 'entra', dialect: 'entra' }, as(session));
    expect(made.status).toBe(201);
    expect(made.headers['cache-control']).toBe('no-store');
    expect(made.body.view).toMatchObject({ name: 'entra', dialect: 'entra', scope: 'scim', organization: 'default' });
    const listed = await send('GET', '/admin/api/organizations/default/tokens', undefined, as(session));
    expect(JSON.stringify(listed.body)).not.toContain(made.body.token); // never shown again
  });
});

describe('a console token works, is seen used, and revoked stops at once', () => {
  it('generate → SCIM 200 → last used → revoke → SCIM 401, every step audited with the console user', async () => {
    const session = await signIn('acme');
    const made = await send('POST', '/admin/api/organizations/acme/tokens', { name: 'okta', dialect: 'okta' }, as(session));
    const bearer = { authorization: `Bearer ${made.body.token}` };
    expect((await s.request('POST', '/scim/v2/Users', user('ada'), bearer)).status).toBe(201);
    const listed = await send('GET', '/admin/api/organizations/acme/tokens', undefined, as(session));
    expect(listed.body.find((t: { id: string }) => t.id === made.body.view.id).lastUsed).toEqual(expect.any(String));
    expect((await send('POST', `/admin/api/tokens/${made.body.view.id}/revoke`, undefined, as(session))).status).toBe(200);
    expect((await s.request('GET', '/scim/v2/Users', undefined, bearer)).status).toBe(401);
    const log = await send('GET', '/admin/api/audit?resourceType=Token', undefined, as(session));
    expect(log.body.entries.map((e: { operation: string; tokenName: string }) => [e.operation, e.tokenName])).toEqual([
      ['create', 'console (sign-in link by test)'], ['delete', 'console (sign-in link by test)'],
    ]);
    const users = await send('GET', '/admin/api/organizations/acme/users?q=ad', undefined, as(session));
    expect(users.body.Resources.map((u: { userName: string }) => u.userName)).toEqual(['ada']);
    const hostile = await send('GET', `/admin/api/organizations/acme/users?q=${encodeURIComponent('" or userName pr or userName eq "')}`, undefined, as(session));
    expect([hostile.status, hostile.body.totalResults]).toEqual([200, 0]);
  });
});

describe('test connection', () => {
  it('runs each IdP\'s own connection test as the token, shows each request and answer, and leaves nothing behind', async () => {
    const session = await signIn('acme');
    const make = async (dialect: string) => (await send('POST', '/admin/api/organizations/acme/tokens', { name: dialect, dialect }, as(session))).body.view.id as string;
    const entra = await send('POST', `/admin/api/tokens/${await make('entra')}/test`, undefined, as(session));
    expect(entra.status).toBe(200);
    expect(entra.body).toMatchObject({ dialect: 'entra', passed: true });
    expect(entra.body.steps).toEqual([expect.objectContaining({ request: expect.stringMatching(/^GET \/scim\/v2\/Users\?filter=userName%20eq%20%22scimd-connection-test-/), status: 200, passed: true })]);
    const okta = await send('POST', `/admin/api/tokens/${await make('okta')}/test`, undefined, as(session));
    expect(okta.body.steps.map((x: { passed: boolean }) => x.passed)).toEqual([true, true, true]);
    const jumpcloud = await send('POST', `/admin/api/tokens/${await make('jumpcloud')}/test`, undefined, as(session));
    expect(jumpcloud.body.steps.map((x: { request: string; status: number }) => `${x.request.replace(/[0-9a-f-]{36}$/, 'ID')} ${x.status}`)).toEqual([
      'POST /scim/v2/Users 201', 'POST /scim/v2/Groups 201', 'DELETE /scim/v2/Users/ID 204', 'DELETE /scim/v2/Groups/ID 204',
    ]);
    const users = await send('GET', '/admin/api/organizations/acme/users', undefined, as(session));
    expect(users.body.totalResults).toBe(0); // its test user and group are gone
    // the test is recorded as the token's, marked as a connection test
    const log = await send('GET', '/admin/api/audit?resourceType=User', undefined, as(session));
    expect(log.body.entries.map((e: { tokenName: string }) => e.tokenName)).toEqual(['jumpcloud (connection test)', 'jumpcloud (connection test)']);
  });

  it('only an active SCIM token of the caller\'s organization is tested', async () => {
    const session = await signIn('acme');
    const { record: other } = await testToken(s.store, { organization: 'globex' });
    const id = (await send('POST', '/admin/api/organizations/acme/tokens', { name: 'gone', dialect: 'entra' }, as(session))).body.view.id;
    await send('POST', `/admin/api/tokens/${id}/revoke`, undefined, as(session));
    for (const token of [other.id, id, '0123456789abcdef']) expect((await send('POST', `/admin/api/tokens/${token}/test`, undefined, as(session))).status).toBe(404);
  });
});

describe('a user\'s and a group\'s pages', () => {
  it('a user with its groups and history; the operator alone deactivates, recorded as an emergency', async () => {
    const { token } = await testToken(s.store, { organization: 'acme', name: 'okta' });
    const bearer = { authorization: `Bearer ${token}` };
    const ada = (await s.request('POST', '/scim/v2/Users', user('ada', { active: true }), bearer)).body.id;
    const bob = (await s.request('POST', '/scim/v2/Users', user('bob'), bearer)).body.id;
    const team = (await s.request('POST', '/scim/v2/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'team', members: [{ value: ada }, { value: bob }] }, bearer)).body.id;
    const admin = await signIn('acme');
    const page = await send('GET', `/admin/api/organizations/acme/users/${ada}`, undefined, as(admin));
    expect(page.body.user).toMatchObject({ userName: 'ada', active: true, groups: [{ value: team }] });
    expect(page.body.history.map((e: { operation: string; tokenName: string }) => [e.operation, e.tokenName])).toEqual([['create', 'okta']]);
    expect((await send('POST', `/admin/api/organizations/acme/users/${ada}/deactivate`, undefined, as(admin))).status).toBe(403);
    const operator = await signIn();
    const off = await send('POST', `/admin/api/organizations/acme/users/${ada}/deactivate`, undefined, as(operator));
    expect([off.status, off.body.active]).toEqual([200, false]);
    const after = await send('GET', `/admin/api/organizations/acme/users/${ada}`, undefined, as(operator));
    expect(after.body.history[0]).toMatchObject({ operation: 'patch', tokenName: 'console (sign-in link by test) (emergency deactivation)', changes: [{ attribute: 'active', before: true, after: false }] });
    const first = await send('GET', `/admin/api/organizations/acme/groups/${team}?count=1`, undefined, as(admin));
    expect(first.body.group.members).toBeUndefined();
    expect(first.body.members).toMatchObject({ totalResults: 2, Resources: [expect.objectContaining({ userName: expect.any(String) })] });
    const second = await send('GET', `/admin/api/organizations/acme/groups/${team}?count=1&cursor=${first.body.members.nextCursor}`, undefined, as(admin));
    expect([first.body.members.Resources[0].id, second.body.members.Resources[0].id].sort()).toEqual([ada, bob].sort());
    const stranger = await signIn('globex');
    expect((await send('GET', `/admin/api/organizations/acme/users/${ada}`, undefined, as(stranger))).status).toBe(404);
    expect((await send('GET', `/admin/api/organizations/globex/users/${ada}`, undefined, as(stranger))).status).toBe(404);
  });
});

describe('organizations', () => {
  it('the operator creates, renames and deletes one, confirming by its name; an organization admin none of it', async () => {
    const operator = await signIn();
    expect((await send('POST', '/admin/api/organizations', { name: 'initech' }, as(operator))).status).toBe(201);
    expect((await send('POST', '/admin/api/organizations/initech/rename', { name: 'Initrode' }, as(operator))).body).toMatchObject({ name: 'Initrode' });
    await testToken(s.store, { organization: 'Initrode' });
    const admin = await signIn('Initrode');
    expect((await send('POST', '/admin/api/organizations/Initrode/rename', { name: 'x' }, as(admin))).status).toBe(403);
    expect((await send('POST', '/admin/api/organizations/Initrode/delete', { confirm: 'Initrode' }, as(admin))).status).toBe(403);
    const unconfirmed = await send('POST', '/admin/api/organizations/Initrode/delete', { confirm: 'initrode' }, as(operator));
    expect([unconfirmed.status, unconfirmed.body.scimType]).toEqual([400, 'invalidValue']);
    const deleted = await send('POST', '/admin/api/organizations/Initrode/delete', { confirm: 'Initrode' }, as(operator));
    expect(deleted.body.deleted).toMatchObject({ tokens: 1 });
    expect((await send('GET', '/admin/api/session', undefined, as(admin))).status).toBe(401); // its sessions went with it
    expect((await s.store.organizations()).map((o) => o.name)).not.toContain('Initrode');
    // names are taken as written in the path, once decoded: a "%" or "/" in a name is no 500 and no other organization
    expect((await send('POST', '/admin/api/organizations', { name: '100% a/b' }, as(operator))).status).toBe(201);
    expect((await send('GET', `/admin/api/organizations/${encodeURIComponent('100% a/b')}/tokens`, undefined, as(operator))).body).toEqual([]);
    const odd = await send('GET', '/admin/api/organizations/%25/tokens', undefined, as(operator));
    expect([odd.status, odd.body.detail]).toEqual([404, expect.stringMatching(/no organization "%"/)]);
  });
});

describe('events and deliveries', () => {
  it('dead letters of one organization, the webhook endpoints for the operator only, and Retry', async () => {
    await s.close();
    s = await testServer({ events: ['https://hooks.example.com/scim'] });
    const { token } = await testToken(s.store, { organization: 'acme' });
    await s.request('POST', '/scim/v2/Users', user('ada'), { authorization: `Bearer ${token}` });
    const now = new Date().toISOString();
    const [event] = await s.store.claimEvents(now, now, 10, 'https://hooks.example.com/scim');
    await s.store.failEvent(event!.seq, 'HTTP 500: down', undefined); // dead
    const operator = await signIn();
    const seen = await send('GET', '/admin/api/organizations/acme/deliveries', undefined, as(operator));
    expect(seen.body).toMatchObject({
      webhooks: ['https://hooks.example.com/scim'], feed: false,
      dead: [{ type: 'user.created', webhook: 'https://hooks.example.com/scim', attempts: 1, lastError: 'HTTP 500: down' }],
      recent: [{ type: 'user.created', state: 'dead', attempts: 1, lastError: 'HTTP 500: down' }],
    });
    const admin = await signIn('acme');
    const own = await send('GET', '/admin/api/organizations/acme/deliveries', undefined, as(admin));
    expect(own.body.webhooks).toBeUndefined();
    expect(own.body.dead).toHaveLength(1);
    const stranger = await signIn('globex');
    expect((await send('GET', '/admin/api/organizations/acme/deliveries', undefined, as(stranger))).status).toBe(404);
    expect((await send('GET', '/admin/api/organizations/globex/deliveries', undefined, as(stranger))).body.dead).toEqual([]);
    expect((await send('POST', '/admin/api/organizations/globex/deliveries/retry', {}, as(stranger))).body).toEqual({ retried: 0 });
    expect((await send('POST', '/admin/api/organizations/acme/deliveries/retry', { eventId: 'nope' }, as(admin))).status).toBe(404);
    expect((await send('POST', '/admin/api/organizations/acme/deliveries/retry', { eventId: event!.event.id }, as(admin))).body).toEqual({ retried: 1 });
    expect(await s.store.deadEvents(10)).toEqual([]);
    const [again] = await s.store.claimEvents(new Date().toISOString(), new Date().toISOString(), 10, 'https://hooks.example.com/scim');
    await s.store.completeEvents([again!.seq], new Date().toISOString());
    expect((await send('GET', '/admin/api/organizations/acme/deliveries', undefined, as(admin))).body.recent).toMatchObject([{ type: 'user.created', state: 'delivered', attempts: 0 }]);
  });
});

describe('an organization admin sees only its organization', () => {
  it('on every endpoint', async () => {
    await s.store.ensureOrganization('globex');
    const { token: globexToken } = await testToken(s.store, { organization: 'globex', name: 'globex idp' });
    await s.request('POST', '/scim/v2/Users', user('gina'), { authorization: `Bearer ${globexToken}` });
    const globexTokenId = (await s.store.listTokens()).find((t) => t.name === 'globex idp')!.id;
    const session = await signIn('acme');
    expect((await send('GET', '/admin/api/session', undefined, as(session))).body).toMatchObject({ role: 'admin', organization: 'acme' });
    expect((await send('GET', '/admin/api/organizations', undefined, as(session))).body.map((o: { name: string }) => o.name)).toEqual(['acme']);
    for (const path of ['/organizations/globex/tokens', '/organizations/globex/users', '/organizations/globex/groups', '/organizations/globex/setup-links', '/audit?organization=globex']) {
      expect((await send('GET', `/admin/api${path}`, undefined, as(session))).status, path).toBe(404);
    }
    expect((await send('POST', '/admin/api/organizations/globex/tokens', { name: 'x' }, as(session))).status).toBe(404);
    expect((await send('POST', `/admin/api/tokens/${globexTokenId}/revoke`, undefined, as(session))).status).toBe(404);
    expect((await send('POST', '/admin/api/organizations', { name: 'mine' }, as(session))).status).toBe(403);
    expect((await send('POST', '/admin/api/organizations/acme/setup-links', {}, as(session))).status).toBe(403);
    const audit = await send('GET', '/admin/api/audit', undefined, as(session));
    expect(JSON.stringify(audit.body)).not.toContain('gina');
    expect((await s.request('GET', '/scim/v2/Users', undefined, { authorization: `Bearer ${globexToken}` })).status).toBe(200); // untouched
  });

  it('a setup link signs an organization\'s IT admin in until it is revoked', async () => {
    const operator = await signIn();
    await s.store.ensureOrganization('acme');
    const made = await send('POST', '/admin/api/organizations/acme/setup-links', { ttlHours: 1 }, as(operator));
    expect(made.status).toBe(201);
    const secret = new URL(made.body.url).hash.slice(1);
    expect(made.body.url).toMatch(/^https:\/\/scim\.example\.com\/console\/signin#scimd_console_/);
    const opened = [];
    for (let i = 0; i < 2; i++) {
      const r = await send('POST', '/admin/api/signin', { link: secret }, { 'content-type': 'application/json' });
      expect(r.status).toBe(200);
      opened.push({ cookie: String(r.headers['set-cookie']).split(';')[0]!, csrf: r.body.csrf as string });
    }
    expect((await send('GET', '/admin/api/session', undefined, as(opened[0]!))).body).toMatchObject({ role: 'admin', organization: 'acme' });
    expect((await send('POST', `/admin/api/organizations/acme/setup-links/${made.body.id}/revoke`, undefined, as(operator))).status).toBe(204);
    expect((await send('POST', '/admin/api/signin', { link: secret }, { 'content-type': 'application/json' })).status).toBe(401);
    // the sessions it opened end with it; the operator's own goes on
    for (const session of opened) expect((await send('GET', '/admin/api/session', undefined, as(session))).status).toBe(401);
    expect((await send('GET', '/admin/api/session', undefined, as(operator))).status).toBe(200);
  });
});

describe('the pages', () => {
  it('one shell for every console path, under a strict Content-Security-Policy; only the console\'s assets are served', async () => {
    for (const path of ['/console', '/console/', '/console/o/acme/users', '/console/signin']) {
      const r = await s.app.inject({ url: path });
      expect(r.statusCode, path).toBe(200);
      expect(r.headers['content-type']).toMatch(/text\/html/);
      expect(r.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self' 'sha256-[A-Za-z0-9+/=]+'; style-src 'self'/);
      expect(r.headers['x-frame-options']).toBe('DENY');
    }
    for (const name of ['console.js', 'console.css', 'preact.mjs', 'hooks.mjs', 'htm.mjs']) {
      const r = await s.app.inject({ url: `/console/assets/${name}` });
      expect([name, r.statusCode, r.body.length > 100]).toEqual([name, 200, true]);
    }
    expect((await s.app.inject({ url: '/console/assets/..%2f..%2fpackage.json' })).statusCode).toBe(404);
    expect((await s.app.inject({ url: '/console/assets/server.js' })).statusCode).toBe(404);
  });
});
