/**
 * OAuth 2.0 client credentials served by scimd (issue #23 point 3): an organization's client gets short-lived JWT
 * access tokens at POST /oauth/token and calls the SCIM API with them, verified without a database read; its scopes
 * hold; refusals are RFC 6749 §5.2 and RFC 6750 errors; keys rotate without failing a token in use.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { group, testServer, testToken, user, type TestServer } from '../helpers.js';
import { ScimClient, ScimClientError } from '../../src/client/index.js';
import { createOAuth, ACCESS_TOKEN_SECONDS } from '../../src/oauth/issuer.js';
import { ROTATION_MS, SigningKeys } from '../../src/oauth/keys.js';
import type { Store } from '../../src/core/ports.js';

let s: TestServer;
let base: string;
let operator: string;
beforeEach(async () => {
  s = await testServer();
  base = await s.app.listen({ port: 0, host: '127.0.0.1' });
  operator = (await testToken(s.store, { name: 'ops', scope: 'operator' })).token;
});
afterEach(() => s.close());

const as = (token: string) => ({ authorization: `Bearer ${token}` });

async function makeClient(body: Record<string, unknown> = {}): Promise<{ id: string; secret: string; name: string }> {
  const res = await s.request('POST', '/admin/api/organizations/default/tokens', { name: 'okta-oauth', dialect: 'okta', oauthClient: true, ...body }, as(operator));
  expect(res.status).toBe(201);
  expect(res.body.view).toMatchObject({ scope: 'client', organization: 'default' });
  return { id: res.body.view.id, secret: res.body.token, name: res.body.view.name };
}

/** POST /oauth/token with a form, as a client sends it. */
function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}, body?: string) {
  return fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: body ?? new URLSearchParams(form).toString(),
  });
}
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

async function accessToken(client: { id: string; secret: string }, scope?: string): Promise<string> {
  const res = await tokenRequest({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }, basic(client.id, client.secret));
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('client credentials, end to end with scimd/client', () => {
  it('the client gets a token by itself, calls SCIM with it, and is held to its scopes; the audit log names it', async () => {
    const client = await makeClient({ name: 'hr-system', scopes: 'scim:read:Users scim:write:Users' });
    const scim = new ScimClient({ baseUrl: `${base}/scim/v2`, credentials: { clientCredentials: { tokenUrl: `${base}/oauth/token`, clientId: client.id, clientSecret: client.secret } } });
    const made = await scim.users.create({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'oauth.user' } as never);
    expect((await scim.users.get(made.resource.id)).resource.userName).toBe('oauth.user');
    const refused = await scim.groups.create(group('nope') as never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ScimClientError);
    expect(refused).toMatchObject({ status: 403, detail: expect.stringContaining('lacks the scope scim:write:Groups') });

    const entries = (await s.request('GET', '/admin/api/audit', undefined, as(operator))).body.entries as any[];
    expect(entries.find((e) => e.operation === 'create' && e.resourceType === 'User')).toMatchObject({ tokenId: client.id, tokenName: 'hr-system', status: 201 });
    expect(entries.find((e) => e.operation === 'create' && e.resourceType === 'Group')).toMatchObject({ tokenId: client.id, status: 403 });
  });

  it('the token response (RFC 6749 §5.1) and the token (RFC 9068): Bearer, 15 minutes, ES256 at+jwt, the client and its scopes', async () => {
    const client = await makeClient({ scopes: 'scim:read' });
    const res = await tokenRequest({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret });
    expect(res.status).toBe(200);
    expect([res.headers.get('cache-control'), res.headers.get('pragma')]).toEqual(['no-store', 'no-cache']);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: 'scim:read' });
    const token = body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.stringMatching(/^scimd-\d+$/) });
    const claims = decodeJwt(token);
    // the test server's public URL is https://scim.example.com
    const publicUrl = 'https://scim.example.com';
    expect(claims).toMatchObject({ sub: client.id, client_id: client.id, scope: 'scim:read', iss: publicUrl, aud: `${publicUrl}/scim/v2`, name: 'okta-oauth', dialect: 'okta', org_name: 'default' });
    expect(claims.exp! - claims.iat!).toBe(ACCESS_TOKEN_SECONDS);
    // anyone may check it against the published keys, which carry no private part
    const jwks = (await (await fetch(`${base}/oauth/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(3);
    for (const k of jwks.keys) expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    await expect(jwtVerify(token, createLocalJWKSet(jwks as never), { issuer: publicUrl, audience: `${publicUrl}/scim/v2` })).resolves.toMatchObject({ payload: { client_id: client.id } });
    const metadata = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ issuer: publicUrl, token_endpoint: `${publicUrl}/oauth/token`, jwks_uri: `${publicUrl}/oauth/jwks`, grant_types_supported: ['client_credentials'] });
  });

  it('a narrower scope may be asked for; a wider one is invalid_scope', async () => {
    const client = await makeClient();
    const narrow = await accessToken(client, 'scim:read:Users');
    expect(decodeJwt(narrow).scope).toBe('scim:read:Users');
    expect((await s.request('GET', '/Users', undefined, as(narrow))).status).toBe(200);
    expect((await s.request('POST', '/Users', user('x'), as(narrow))).status).toBe(403);
    const reader = await makeClient({ name: 'reader', scopes: 'scim:read' });
    const res = await tokenRequest({ grant_type: 'client_credentials', scope: 'scim:read scim:write' }, basic(reader.id, reader.secret));
    expect([res.status, await res.json()]).toEqual([400, { error: 'invalid_scope', error_description: 'This client may not have scim:write; it has scim:read.' }]);
  });
});

describe('ServiceProviderConfig', () => {
  const schemes = async (token?: string) => ((await s.request('GET', '/ServiceProviderConfig', undefined, token ? as(token) : {})).body.authenticationSchemes as any[]).map((x) => [x.type, x.primary]);

  it("lists the authentication schemes the organization has set up (RFC 7643 §5): tokens, OAuth clients, or both", async () => {
    expect(await schemes()).toEqual([['oauthbearertoken', true]]);
    const client = await makeClient();
    expect(await schemes()).toEqual([['oauthbearertoken', true], ['oauth2', false]]);
    // with the SCIM tokens revoked, the client's access token reads OAuth alone
    const issued = await accessToken(client);
    for (const t of await s.store.listTokens()) if (t.scope === 'scim') await s.store.revokeToken(t.id, new Date().toISOString());
    expect(await schemes(issued)).toEqual([['oauth2', true]]);
    // another organization's client is not this one's
    const globex = (await testToken(s.store, { organization: 'globex', name: 'g' })).token;
    expect(await schemes(globex)).toEqual([['oauthbearertoken', true]]);
  });
});

describe('the token endpoint refuses', () => {
  it('each malformed or unauthenticated request, in RFC 6749 §5.2 terms, and never caches the answer', async () => {
    const client = await makeClient();
    const { token: scimToken } = await testToken(s.store, { name: 'plain' });
    const cases: [string, Promise<Response>, number, string][] = [
      ['wrong secret', tokenRequest({ grant_type: 'client_credentials' }, basic(client.id, 'scimd_wrong')), 401, 'invalid_client'],
      ["another client's id", tokenRequest({ grant_type: 'client_credentials' }, basic('0000000000000000', client.secret)), 401, 'invalid_client'],
      ['a SCIM token as the secret', tokenRequest({ grant_type: 'client_credentials', client_id: client.id, client_secret: scimToken }), 401, 'invalid_client'],
      ['no client authentication', tokenRequest({ grant_type: 'client_credentials' }), 401, 'invalid_client'],
      ['Basic that is not id:secret', tokenRequest({ grant_type: 'client_credentials' }, { authorization: 'Basic Zm9v' }), 401, 'invalid_client'],
      ['two ways at once', tokenRequest({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret }, basic(client.id, client.secret)), 400, 'invalid_request'],
      ['no grant_type', tokenRequest({}, basic(client.id, client.secret)), 400, 'invalid_request'],
      ['another grant', tokenRequest({ grant_type: 'password', username: 'a', password: 'b' }, basic(client.id, client.secret)), 400, 'unsupported_grant_type'],
      ['a parameter twice', tokenRequest({}, basic(client.id, client.secret), 'grant_type=client_credentials&grant_type=client_credentials'), 400, 'invalid_request'],
      ['JSON instead of a form', tokenRequest({}, { ...basic(client.id, client.secret), 'content-type': 'application/json' }, '{"grant_type":"client_credentials"}'), 400, 'invalid_request'],
      ['not a scope', tokenRequest({ grant_type: 'client_credentials', scope: 'admin' }, basic(client.id, client.secret)), 400, 'invalid_scope'],
      ['a body too large', tokenRequest({ grant_type: 'client_credentials', pad: 'x'.repeat(10_000) }, basic(client.id, client.secret)), 400, 'invalid_request'],
    ];
    for (const [label, sent, status, error] of cases) {
      const res = await sent;
      expect.soft(res.status, label).toBe(status);
      expect.soft(res.headers.get('cache-control'), label).toBe('no-store');
      const body = (await res.json()) as Record<string, unknown>;
      expect.soft(body.error, label).toBe(error);
      expect.soft(body.error_description, label).toEqual(expect.any(String));
      if (status === 401) expect.soft(res.headers.get('www-authenticate'), label).toBe('Basic realm="scimd"');
    }
    expect((await fetch(`${base}/oauth/token`)).status).toBe(405);
  });

  it("a client's secret is not a SCIM token: the SCIM API says to trade it for one", async () => {
    const client = await makeClient();
    const res = await s.request('GET', '/Users', undefined, as(client.secret));
    expect([res.status, res.body.detail]).toEqual([403, "This is an OAuth client's secret: get an access token with it from POST /oauth/token (client credentials), and send that."]);
  });

  it('revoking the client stops new tokens at once; one already issued lives out its 15 minutes', async () => {
    const client = await makeClient();
    const issued = await accessToken(client);
    expect((await s.request('POST', `/admin/api/tokens/${client.id}/revoke`, {}, as(operator))).status).toBe(200);
    const res = await tokenRequest({ grant_type: 'client_credentials' }, basic(client.id, client.secret));
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([401, 'invalid_client']);
    expect((await s.request('GET', '/Users', undefined, as(issued))).status).toBe(200);
  });
});

describe('access tokens scimd did not issue, or no longer accepts, are 401 invalid_token', () => {
  it('another key, alg none, tampered, expired, the wrong type, a key too old, and no JWT at all; each audited', async () => {
    const client = await makeClient();
    const good = await accessToken(client);
    const claims = decodeJwt(good);
    const { kid } = decodeProtectedHeader(good);
    const other = await generateKeyPair('ES256');
    const oauth = createOAuth(s.store);
    const now = new Date();
    const ours = await oauth.keys.current(now);
    const sign = (payload: Record<string, unknown>, header: Record<string, unknown>, key = ours.privateKey) => new SignJWT(payload).setProtectedHeader({ alg: 'ES256', ...header }).sign(key);
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: 'scim:read scim:write', org: 'another-org' })).toString('base64url')}.${signature}`;
    const tooOld = `scimd-${SigningKeys.period(now) - 2}`;
    const cases: [string, string, RegExp][] = [
      ['signed by another key under our kid', await sign(claims, { typ: 'at+jwt', kid }, other.privateKey), /signature verification failed/],
      ['alg none', new UnsecuredJWT(claims).encode(), /not signed by this server/],
      ['alg none with our kid', `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid })).toString('base64url')}.${payload}.`, /not valid/],
      ['tampered claims', tampered, /signature verification failed/],
      ['expired', await sign({ ...claims, iat: claims.iat! - 3600, exp: claims.iat! - 1800 }, { typ: 'at+jwt', kid: ours.kid }), /it expired; get a new one from the token endpoint/],
      ['not an access token (typ JWT)', await sign(claims, { typ: 'JWT', kid: ours.kid }), /unexpected "typ"/],
      ['missing the organization', await sign({ ...claims, org: undefined }, { typ: 'at+jwt', kid: ours.kid }), /"org" claim/],
      ['a key no longer published', await sign(claims, { typ: 'at+jwt', kid: tooOld }), /not signed by this server \(unknown key\)/],
      ['a header that is not JSON', `eyJub3Q.${payload}.${signature}`, /it is not a JWT/],
    ];
    for (const [label, token, detail] of cases) {
      const res = await s.request('GET', '/Users', undefined, as(token));
      expect.soft(res.status, label).toBe(401);
      expect.soft(res.body?.detail, label).toMatch(detail);
      expect.soft(String(res.headers['www-authenticate']), label).toMatch(/^Bearer realm="scimd", error="invalid_token", error_description="[^"]+"$/);
    }
    const refusals = ((await s.request('GET', '/admin/api/audit?outcome=failure', undefined, as(operator))).body.entries as any[]).filter((e) => e.operation === 'authenticate' && e.status === 401);
    expect(refusals.length).toBeGreaterThanOrEqual(cases.length);
    // the good one still works
    expect((await s.request('GET', '/Users', undefined, as(good))).status).toBe(200);
  });
});

describe('signing keys', () => {
  /** The keys of two nodes on one database: each its own SigningKeys, as two processes have. */
  const twoNodes = (store: Store) => [createOAuth(store), createOAuth(store)] as const;

  it('rotate each week without failing a token in use: one issued before a rotation verifies after it, on any node', async () => {
    const client = await makeClient();
    const [a, b] = twoNodes(s.store);
    const period = SigningKeys.period(new Date());
    const justBefore = new Date((period + 1) * ROTATION_MS - 60_000);
    const justAfter = new Date((period + 1) * ROTATION_MS + 60_000);
    const request = { clientId: client.id, clientSecret: client.secret, issuer: 'https://scim.example.com', audience: 'https://scim.example.com/scim/v2' };
    const before = (await a.issue(request, { now: justBefore })).access_token;
    const after = (await a.issue(request, { now: justAfter })).access_token;
    expect(decodeProtectedHeader(before).kid).toBe(`scimd-${period}`);
    expect(decodeProtectedHeader(after).kid).toBe(`scimd-${period + 1}`);
    // node b, which has signed nothing, verifies both after the rotation, and the JWKS then holds both keys
    for (const token of [before, after]) await expect(b.verifier.verify(token, justAfter)).resolves.toMatchObject({ tokenId: client.id });
    expect((await b.keys.jwks(justAfter)).keys.map((k) => k.kid)).toEqual([`scimd-${period}`, `scimd-${period + 1}`, `scimd-${period + 2}`]);
    // the same key on both nodes, from the database
    expect((await a.keys.current(justAfter)).jwk).toEqual((await b.keys.current(justAfter)).jwk);
    // two rotations on, the first key is no longer accepted (the token had long expired anyway)
    const muchLater = new Date((period + 2) * ROTATION_MS + 60_000);
    await expect(b.verifier.verify(before, muchLater)).rejects.toMatchObject({ status: 401 });
  });

  it('a token is verified without a database read', async () => {
    const client = await makeClient();
    const oauth = createOAuth(s.store);
    const request = { clientId: client.id, clientSecret: client.secret, issuer: 'i', audience: 'a' };
    const token = (await oauth.issue(request)).access_token;
    await oauth.verifier.verify(token, new Date()); // the key read once
    const reads = { n: 0 };
    const counting = new Proxy(s.store, { get: (t, p, r) => (typeof Reflect.get(t, p, r) === 'function' ? (...args: unknown[]) => (reads.n++, (Reflect.get(t, p, r) as (...a: unknown[]) => unknown).apply(t, args)) : Reflect.get(t, p, r)) });
    const separate = createOAuth(counting as Store);
    await separate.verifier.verify(token, new Date()); // a new node reads its key once…
    const afterFirst = reads.n;
    for (let i = 0; i < 20; i++) await separate.verifier.verify(token, new Date()); // …and never again
    expect(afterFirst).toBe(1);
    expect(reads.n).toBe(1);
  });
});
