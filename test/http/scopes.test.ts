/**
 * Token scopes and expiry (issue #23): every SCIM endpoint refuses a token outside its scopes with 403 and RFC 6750's
 * insufficient_scope, and changes nothing; Bulk holds each operation to the scopes; an expired token is 401
 * invalid_token; the admin API makes such tokens and refuses what is not a scope or not a time to come.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { group, testServer, testToken, user, type Response, type TestServer } from '../helpers.js';
import { DEFAULT_ORGANIZATION, tokenDigest } from '../../src/core/tokens.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

let s: TestServer;
let userId: string;
let groupId: string;
beforeEach(async () => {
  s = await testServer();
  userId = (await s.request('POST', '/Users', user('alice'))).body.id;
  groupId = (await s.request('POST', '/Groups', group('admins', [userId]))).body.id;
});
afterEach(() => s.close());

const tokenWith = async (scopes: string[]) => (await testToken(s.store, { name: scopes.join(' '), scopes })).token;
const as = (token: string) => ({ authorization: `Bearer ${token}` });

/** Every SCIM request, by what it needs: a read or a write, of Users, Groups or (undefined) no one endpoint. */
const requests = (): { name: string; access: 'read' | 'write'; endpoint?: string; send: (token: string) => Promise<Response> }[] => [
  { name: 'GET /ServiceProviderConfig', access: 'read', send: (t) => s.request('GET', '/ServiceProviderConfig', undefined, as(t)) },
  { name: 'GET /ResourceTypes', access: 'read', send: (t) => s.request('GET', '/ResourceTypes', undefined, as(t)) },
  { name: 'GET /ResourceTypes/User', access: 'read', send: (t) => s.request('GET', '/ResourceTypes/User', undefined, as(t)) },
  { name: 'GET /Schemas', access: 'read', send: (t) => s.request('GET', '/Schemas', undefined, as(t)) },
  { name: 'GET /Schemas/{id}', access: 'read', send: (t) => s.request('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:User', undefined, as(t)) },
  { name: 'GET / (root query)', access: 'read', send: (t) => s.request('GET', '/?filter=userName%20eq%20%22alice%22', undefined, as(t)) },
  { name: 'POST /.search', access: 'read', send: (t) => s.request('POST', '/.search', { schemas: [SEARCH], filter: 'userName eq "alice"' }, as(t)) },
  { name: 'GET /Users', access: 'read', endpoint: 'Users', send: (t) => s.request('GET', '/Users?filter=userName%20eq%20%22alice%22', undefined, as(t)) },
  { name: 'GET /Users/{id}', access: 'read', endpoint: 'Users', send: (t) => s.request('GET', `/Users/${userId}`, undefined, as(t)) },
  { name: 'POST /Users/.search', access: 'read', endpoint: 'Users', send: (t) => s.request('POST', '/Users/.search', { schemas: [SEARCH], filter: 'userName eq "alice"' }, as(t)) },
  { name: 'POST /Users', access: 'write', endpoint: 'Users', send: (t) => s.request('POST', '/Users', user('bob'), as(t)) },
  { name: 'PUT /Users/{id}', access: 'write', endpoint: 'Users', send: (t) => s.request('PUT', `/Users/${userId}`, user('alice', { title: 'Lead' }), as(t)) },
  { name: 'PATCH /Users/{id}', access: 'write', endpoint: 'Users', send: (t) => s.request('PATCH', `/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }, as(t)) },
  { name: 'DELETE /Users/{id}', access: 'write', endpoint: 'Users', send: (t) => s.request('DELETE', `/Users/${userId}`, undefined, as(t)) },
  { name: 'GET /Groups', access: 'read', endpoint: 'Groups', send: (t) => s.request('GET', '/Groups', undefined, as(t)) },
  { name: 'GET /Groups/{id}', access: 'read', endpoint: 'Groups', send: (t) => s.request('GET', `/Groups/${groupId}`, undefined, as(t)) },
  { name: 'POST /Groups/.search', access: 'read', endpoint: 'Groups', send: (t) => s.request('POST', '/Groups/.search', { schemas: [SEARCH] }, as(t)) },
  { name: 'POST /Groups', access: 'write', endpoint: 'Groups', send: (t) => s.request('POST', '/Groups', group('ops'), as(t)) },
  { name: 'PUT /Groups/{id}', access: 'write', endpoint: 'Groups', send: (t) => s.request('PUT', `/Groups/${groupId}`, group('admins'), as(t)) },
  { name: 'PATCH /Groups/{id}', access: 'write', endpoint: 'Groups', send: (t) => s.request('PATCH', `/Groups/${groupId}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'members' }] }, as(t)) },
  { name: 'DELETE /Groups/{id}', access: 'write', endpoint: 'Groups', send: (t) => s.request('DELETE', `/Groups/${groupId}`, undefined, as(t)) },
];

/** What a token of these scopes may do, as the scopes say (core/scopes.ts); discovery needs any read. */
function allowed(scopes: string[], r: { name: string; access: string; endpoint?: string }): boolean {
  const discovery = /ServiceProviderConfig|ResourceTypes|Schemas/.test(r.name);
  if (discovery) return scopes.some((x) => x.startsWith('scim:read'));
  return scopes.includes(`scim:${r.access}`) || (r.endpoint !== undefined && scopes.includes(`scim:${r.access}:${r.endpoint}`));
}

describe('scopes on every endpoint', () => {
  const cases: [string, string[]][] = [
    ['read-only (an auditor)', ['scim:read']],
    ['write-only', ['scim:write']],
    ['Users alone', ['scim:read:Users', 'scim:write:Users']],
    ['reads of Groups alone', ['scim:read:Groups']],
  ];
  for (const [label, scopes] of cases) {
    it(`${label}: ${scopes.join(' ')}`, async () => {
      const token = await tokenWith(scopes);
      let allowedSeen = 0;
      for (const r of requests()) {
        const before = await s.snapshot();
        const res = await r.send(token);
        if (allowed(scopes, r)) {
          allowedSeen++;
          expect.soft(res.status, `${r.name}: allowed`).toBeLessThan(300);
          continue;
        }
        expect.soft(res.status, `${r.name}: refused`).toBe(403);
        expect.soft(res.body?.schemas, r.name).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
        expect.soft(res.body?.detail, r.name).toMatch(new RegExp(`lacks the scope scim:${r.access}`));
        expect.soft(res.body?.detail, r.name).toContain(`it has ${scopes.join(' ')}`);
        expect.soft(String(res.headers['www-authenticate']), r.name).toMatch(/^Bearer realm="scimd", error="insufficient_scope", scope="scim:(read|write)(:\w+)?"$/);
        expect.soft(await s.snapshot(), `${r.name} changed nothing`).toBe(before);
      }
      expect(allowedSeen).toBeGreaterThan(0);
    });
  }

  it('a token made without scopes may read and write, as every token before scopes', async () => {
    const { token } = await testToken(s.store, { name: 'full' });
    for (const r of requests()) expect.soft((await r.send(token)).status, r.name).toBeLessThan(300);
  });

  it('a refusal is in the audit log as a failure of that token', async () => {
    const token = await tokenWith(['scim:read']);
    await s.request('POST', '/Users', user('mallory'), as(token));
    const operator = (await testToken(s.store, { name: 'ops', scope: 'operator' })).token;
    const entries = (await s.request('GET', '/admin/api/audit?outcome=failure', undefined, as(operator))).body.entries as any[];
    expect(entries.map((e) => [e.operation, e.status, e.tokenName, e.resourceType])).toContainEqual(['create', 403, 'scim:read', 'User']);
  });
});

describe('Bulk holds each operation to the scopes', () => {
  const bulk = (token: string) => s.request('POST', '/Bulk', {
    schemas: [BULK],
    Operations: [
      { method: 'POST', path: '/Users', bulkId: 'u', data: user('carol') },
      { method: 'POST', path: '/Groups', bulkId: 'g', data: group('carols', ['bulkId:u']) },
      { method: 'PATCH', path: `/Users/${userId}`, data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }] } },
      { method: 'DELETE', path: `/Groups/${groupId}` },
    ],
  }, as(token));

  it('a token for Users: its operations on Users run, those on Groups are 403', async () => {
    const res = await bulk(await tokenWith(['scim:read:Users', 'scim:write:Users']));
    expect(res.status).toBe(200);
    expect(res.body.Operations.map((o: any) => o.status)).toEqual(['201', '403', '200', '403']);
    expect(res.body.Operations[1].response.detail).toMatch(/lacks the scope scim:write:Groups/);
    expect((await s.request('GET', `/Groups/${groupId}`)).status).toBe(200);
    expect((await s.request('GET', '/Users?filter=userName%20eq%20%22carol%22')).body.totalResults).toBe(1);
    expect((await s.request('GET', '/Groups?filter=displayName%20eq%20%22carols%22')).body.totalResults).toBe(0);
  });

  it('a token that may write nothing is refused whole', async () => {
    const before = await s.snapshot();
    const res = await bulk(await tokenWith(['scim:read']));
    expect([res.status, res.body.detail]).toEqual([403, 'This token lacks the scope scim:write; it has scim:read.']);
    expect(await s.snapshot()).toBe(before);
  });
});

describe('expiry', () => {
  it('a token works until it expires, then is 401 invalid_token (RFC 6750), even kept in the token cache', async () => {
    const { token } = await testToken(s.store, { name: 'short', expires: new Date(Date.now() + 1500).toISOString() });
    expect((await s.request('GET', `/Users/${userId}`, undefined, as(token))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const res = await s.request('GET', `/Users/${userId}`, undefined, as(token));
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/^The bearer token expired at \d{4}-\d\d-\d\dT[\d:.]+Z; ask for a new one\.$/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="scimd", error="invalid_token", error_description="The access token expired"');
  });

  it('a token made before expiry existed never expires; none may be made already expired', async () => {
    const { token, record } = await testToken(s.store, { name: 'old' });
    expect(record.expires).toBeUndefined();
    expect((await s.request('GET', '/Users', undefined, as(token))).status).toBe(200);
    await expect(testToken(s.store, { name: 'past', expires: '2020-01-01T00:00:00Z' })).rejects.toThrow(/future/);
  });
});

describe('the admin API makes tokens with scopes and expiry', () => {
  let operator: string;
  beforeEach(async () => {
    operator = (await testToken(s.store, { name: 'ops', scope: 'operator' })).token;
  });
  const make = (body: unknown) => s.request('POST', `/admin/api/organizations/${DEFAULT_ORGANIZATION}/tokens`, body, as(operator));

  it('scopes as a list or OAuth string, spelt as the endpoint is; expiry as a span or a time; shown in the list', async () => {
    const now = Date.now();
    const a = await make({ name: 'auditor', scopes: 'scim:read', expires: '90d' });
    expect(a.status).toBe(201);
    expect(a.body.view).toMatchObject({ name: 'auditor', scopes: ['scim:read'] });
    expect(Date.parse(a.body.view.expires) - now).toBeGreaterThanOrEqual(90 * 86_400_000 - 1000);
    expect(Date.parse(a.body.view.expires) - now).toBeLessThan(90 * 86_400_000 + 60_000);
    const b = await make({ name: 'hr', scopes: ['scim:read:users', 'scim:write:Users'], expires: '2099-01-01T00:00:00Z' });
    expect(b.body.view).toMatchObject({ scopes: ['scim:read:Users', 'scim:write:Users'], expires: '2099-01-01T00:00:00.000Z' });
    const c = await make({ name: 'entra' });
    expect(c.body.view).toMatchObject({ scopes: ['scim:read', 'scim:write'], expires: null });
    const listed = (await s.request('GET', `/admin/api/organizations/${DEFAULT_ORGANIZATION}/tokens`, undefined, as(operator))).body as any[];
    expect(listed.filter((t) => ['auditor', 'hr', 'entra'].includes(t.name)).map((t) => [t.name, t.scopes, t.expires !== null])).toEqual([
      ['auditor', ['scim:read'], true], ['hr', ['scim:read:Users', 'scim:write:Users'], true], ['entra', ['scim:read', 'scim:write'], false],
    ]);
    // and the token does what its scopes say
    expect((await s.request('POST', '/Users', user('zed'), as(a.body.token))).status).toBe(403);
    expect((await s.request('POST', '/Users', user('zed'), as(b.body.token))).status).toBe(201);
  });

  it('refuses what is not a scope, an endpoint this server lacks, and an expiry not to come, making nothing', async () => {
    const before = (await s.store.listTokens()).length;
    for (const [body, detail] of [
      [{ scopes: 'scim:admin' }, /"scim:admin" is not a scope/],
      [{ scopes: 'scim:read:Devices' }, /names no endpoint of this server; its endpoints are Users, Groups/],
      [{ scopes: '' }, /at least one scope/],
      [{ scopes: [] }, /at least one scope/],
      [{ scopes: [7] }, /each of scopes must be a string/],
      [{ expires: '2020-01-01' }, /must be in the future/],
      [{ expires: 'soon' }, /a span from now/],
      [{ expires: '0d' }, /a span from now/],
    ] as const) {
      const res = await make({ name: 'x', ...body });
      expect.soft([res.status, res.body.scimType], JSON.stringify(body)).toEqual([400, 'invalidValue']);
      expect.soft(res.body.detail, JSON.stringify(body)).toMatch(detail);
    }
    expect((await s.store.listTokens()).length).toBe(before);
  });

  it('Test connection runs as the token is: a read-only one is refused its first write, an expired one at once', async () => {
    // Okta's test only reads; JumpCloud's creates a user first
    const okta = await make({ name: 'okta', dialect: 'okta', scopes: 'scim:read' });
    expect((await s.request('POST', `/admin/api/tokens/${okta.body.view.id}/test`, {}, as(operator))).body.passed).toBe(true);
    const jumpcloud = await make({ name: 'jc', dialect: 'jumpcloud', scopes: 'scim:read' });
    const tested = (await s.request('POST', `/admin/api/tokens/${jumpcloud.body.view.id}/test`, {}, as(operator))).body;
    expect(tested.passed).toBe(false);
    expect(tested.steps.map((step: any) => step.status)).toEqual([403]);
    expect(tested.steps[0].response).toContain('lacks the scope scim:write:Users');

    const org = (await s.store.organizations()).find((o) => o.name === DEFAULT_ORGANIZATION)!;
    await s.store.createToken({
      id: 'e0e0e0e0e0e0e0e0', orgId: org.id, name: 'expired', dialect: 'okta', scope: 'scim', scopes: ['scim:read', 'scim:write'],
      hash: tokenDigest('expired-secret-of-enough-length-0000'), created: '2026-01-01T00:00:00.000Z', expires: '2026-02-01T00:00:00.000Z',
    });
    const expired = (await s.request('POST', '/admin/api/tokens/e0e0e0e0e0e0e0e0/test', {}, as(operator))).body;
    expect(expired.passed).toBe(false);
    expect(expired.steps.map((step: any) => step.status)).toEqual([401]);
    expect(expired.steps[0].response).toContain('expired at 2026-02-01T00:00:00.000Z');
  });
});
