/** RFC 7644 §3: create, read, replace, delete, list, projection, and organization isolation over HTTP. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENTERPRISE, GROUP, USER, group, testServer, user, type TestServer, testToken } from '../helpers.js';

let s: TestServer;
beforeEach(async () => {
  s = await testServer({ maxResults: 5 });
});
afterEach(() => s.close());

describe('PUT (RFC 7644 §3.5.1)', () => {
  it('replaces all writable attributes, bumps version and lastModified, keeps id and created', async () => {
    const created = (await s.request('POST', '/Users', user('bjensen', { displayName: 'Babs', title: 'Guide', password: 'p1' }))).body;
    const replaced = await s.request('PUT', `/Users/${created.id}`, user('BJensen', { id: created.id, nickName: 'B' }));
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: created.id, userName: 'BJensen', nickName: 'B' });
    expect(replaced.body.displayName).toBeUndefined(); // omitted readWrite attributes are cleared
    expect(replaced.body.meta.version).toBe('W/"2"');
    expect(replaced.headers.etag).toBe('W/"2"');
    expect(replaced.body.meta.created).toBe(created.meta.created);
    expect(Date.parse(replaced.body.meta.lastModified)).toBeGreaterThanOrEqual(Date.parse(created.meta.lastModified));
    const stored = await s.store.getResource((await s.store.organizations())[0]!.id, 'User', created.id);
    expect(String(stored!.attributes.password)).toMatch(/^\$scrypt\$/); // omitted password is kept
  });

  it('a case-only change of the own userName is allowed; taking another user\'s is 409', async () => {
    const a = (await s.request('POST', '/Users', user('alice'))).body;
    await s.request('POST', '/Users', user('bob'));
    expect((await s.request('PUT', `/Users/${a.id}`, user('ALICE'))).status).toBe(200);
    const clash = await s.request('PUT', `/Users/${a.id}`, user('Bob'));
    expect([clash.status, clash.body.scimType]).toEqual([409, 'uniqueness']);
    expect((await s.request('GET', `/Users/${a.id}`)).body.userName).toBe('ALICE');
  });

  it('replaces group membership: absent members leave, new ones join', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async (n) => (await s.request('POST', '/Users', user(n, { displayName: n.toUpperCase() }))).body.id));
    const g = (await s.request('POST', '/Groups', group('g', [a, b]))).body;
    const put = await s.request('PUT', `/Groups/${g.id}`, group('g2', [b, c]));
    expect(put.body.members.map((m: any) => [m.value, m.display])).toEqual([[b, 'B'], [c, 'C']]);
    const emptied = await s.request('PUT', `/Groups/${g.id}`, { schemas: [GROUP], displayName: 'g2', members: [] });
    expect(emptied.body.members).toBeUndefined();
    expect((await s.request('GET', `/Users/${b}`)).body.groups).toBeUndefined();
  });
});

describe('ids', () => {
  it('are UUIDv7s that sort in the order the resources were made (id-keyed B-trees then grow at one edge)', async () => {
    const ids: string[] = [];
    for (const name of ['u1', 'u2', 'u3']) ids.push((await s.request('POST', '/Users', user(name))).body.id);
    const bulk = await s.request('POST', '/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: ['u4', 'u5', 'u6'].map((n) => ({ method: 'POST', path: '/Users', bulkId: n, data: user(n) })),
    });
    ids.push(...bulk.body.Operations.map((o: any) => o.location.split('/').pop()));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe('DELETE (RFC 7644 §3.6)', () => {
  it('answers 204, then 404; memberships go with the resource', async () => {
    const u = (await s.request('POST', '/Users', user('gone'))).body.id;
    const g = (await s.request('POST', '/Groups', group('g', [u]))).body.id;
    const del = await s.request('DELETE', `/Users/${u}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await s.request('GET', `/Users/${u}`)).status).toBe(404);
    expect((await s.request('DELETE', `/Users/${u}`)).status).toBe(404);
    expect((await s.request('GET', `/Groups/${g}`)).body.members).toBeUndefined();
    // the userName is free again
    expect((await s.request('POST', '/Users', user('gone'))).status).toBe(201);
  });

  it('accepts a DELETE (and GET) that carries a Content-Type but no body', async () => {
    const u = (await s.request('POST', '/Users', user('typed'))).body.id;
    const get = await s.app.inject({ method: 'GET', url: `/scim/v2/Users/${u}`, headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/scim+json' } });
    expect(get.statusCode).toBe(200);
    const del = await s.app.inject({ method: 'DELETE', url: `/scim/v2/Users/${u}`, headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/scim+json' } });
    expect(del.statusCode).toBe(204);
  });
});

describe('list (RFC 7644 §3.4.2)', () => {
  beforeEach(async () => {
    for (let i = 1; i <= 7; i++) await s.request('POST', '/Users', user(`user${i}`));
  });

  it('pages in a stable order with 1-based startIndex, clamps count to maxResults, itemsPerPage is what was returned', async () => {
    const all = (await s.request('GET', '/Users?count=100')).body;
    expect(all).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 7, itemsPerPage: 5, startIndex: 1 });
    expect(all.Resources.map((r: any) => r.userName)).toEqual(['user1', 'user2', 'user3', 'user4', 'user5']);
    const page = (await s.request('GET', '/Users?startIndex=6&count=2')).body;
    expect(page).toMatchObject({ totalResults: 7, itemsPerPage: 2, startIndex: 6 });
    expect(page.Resources.map((r: any) => r.userName)).toEqual(['user6', 'user7']);
    const past = (await s.request('GET', '/Users?startIndex=50')).body;
    expect(past).toMatchObject({ totalResults: 7, itemsPerPage: 0, startIndex: 50, Resources: [] });
  });

  it('count=0 gives only the total; startIndex below 1 means 1; a negative count means 0', async () => {
    expect((await s.request('GET', '/Users?count=0')).body).toMatchObject({ totalResults: 7, itemsPerPage: 0, Resources: [] });
    expect((await s.request('GET', '/Users?startIndex=-3&count=1')).body).toMatchObject({ startIndex: 1, itemsPerPage: 1 });
    expect((await s.request('GET', '/Users?count=-1')).body).toMatchObject({ itemsPerPage: 0 });
    expect((await s.request('GET', '/Users?STARTINDEX=7')).body.startIndex).toBe(7); // parameter names are case-insensitive
  });

  it('an empty collection is 200 with totalResults 0', async () => {
    expect((await s.request('GET', '/Groups')).body).toMatchObject({ totalResults: 0, itemsPerPage: 0, startIndex: 1, Resources: [] });
  });
});

describe('projection (RFC 7644 §3.4.2.5, §3.9)', () => {
  it('attributes= returns only those (plus id and schemas); sub-attribute paths narrow complex values', async () => {
    const id = (await s.request('POST', '/Users', user('p', { displayName: 'P', name: { givenName: 'G', familyName: 'F' }, [ENTERPRISE]: { department: 'D', costCenter: 'C' } }))).body.id;
    const r = (await s.request('GET', `/Users/${id}?attributes=displayName,name.givenName,${ENTERPRISE}:department`)).body;
    expect(r).toEqual({ schemas: [USER, ENTERPRISE], id, displayName: 'P', name: { givenName: 'G' }, [ENTERPRISE]: { department: 'D' } });
    const ext = (await s.request('GET', `/Users/${id}?attributes=${ENTERPRISE}`)).body;
    expect(ext[ENTERPRISE]).toEqual({ department: 'D', costCenter: 'C' });
    const excluded = (await s.request('GET', `/Users/${id}?excludedAttributes=name,meta,id`)).body;
    expect(excluded.name).toBeUndefined();
    expect(excluded.meta).toBeUndefined();
    expect(excluded.id).toBe(id); // returned: always
    const created = await s.request('POST', '/Users?attributes=userName', user('q', { displayName: 'Q' }));
    expect(Object.keys(created.body).sort()).toEqual(['id', 'schemas', 'userName']);
  });

  it('a group PATCH as IdPs send it (no parameters) answers 204 with the ETag and reads no member, whatever the dialect', async () => {
    const u = (await s.request('POST', '/Users', user('joiner'))).body.id;
    const g = (await s.request('POST', '/Groups', group('big'))).body.id;
    const original = s.store.members.bind(s.store);
    let loads = 0;
    s.store.members = async (...args) => {
      loads++;
      return original(...args);
    };
    const add = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: [{ value: u }] }] };
    for (const dialect of ['rfc', 'okta', 'entra', 'google', 'onelogin', 'jumpcloud', 'ping'] as const) {
      const { token } = await testToken(s.store, { name: dialect, dialect });
      const r = await s.request('PATCH', `/Groups/${g}`, add, { authorization: `Bearer ${token}` });
      expect([dialect, r.status, r.text]).toEqual([dialect, 204, '']);
      expect(r.headers.etag).toBe((await s.request('GET', `/Groups/${g}?excludedAttributes=members`)).headers.etag);
    }
    expect(loads).toBe(0);
    // asked for, the group comes back (and its members are read)
    const asked = await s.request('PATCH', `/Groups/${g}?attributes=members`, add);
    expect([asked.status, asked.body.members.map((m: { value: string }) => m.value)]).toEqual([200, [u]]);
    expect(loads).toBe(1);
    // a user's PATCH still answers with the user
    expect((await s.request('PATCH', `/Users/${u}`, { schemas: add.schemas, Operations: [{ op: 'replace', path: 'title', value: 't' }] })).body.title).toBe('t');
  });

  it('excludedAttributes=members does not load the members', async () => {
    const u = (await s.request('POST', '/Users', user('m'))).body.id;
    const g = (await s.request('POST', '/Groups', group('g', [u]))).body.id;
    const original = s.store.members.bind(s.store);
    let loads = 0;
    s.store.members = async (...args) => {
      loads++;
      return original(...args);
    };
    const r = await s.request('GET', `/Groups/${g}?excludedAttributes=members`);
    expect(r.body.members).toBeUndefined();
    expect(r.body.displayName).toBe('g');
    expect(loads).toBe(0);
    await s.request('GET', `/Groups/${g}`);
    expect(loads).toBe(1);
  });
});

describe('organizations and tokens', () => {
  it('one organization cannot see or touch another\'s resources through any endpoint', async () => {
    const mine = (await s.request('POST', '/Users', user('shared-name'))).body.id;
    const { token } = await testToken(s.store, { organization: 'acme' });
    const as = { authorization: `Bearer ${token}` };
    // the same userName is free in another organization
    const theirs = await s.request('POST', '/Users', user('shared-name'), as);
    expect(theirs.status).toBe(201);
    expect((await s.request('GET', `/Users/${mine}`, undefined, as)).status).toBe(404);
    expect((await s.request('PUT', `/Users/${mine}`, user('x'), as)).status).toBe(404);
    expect((await s.request('DELETE', `/Users/${mine}`, undefined, as)).status).toBe(404);
    expect((await s.request('GET', '/Users', undefined, as)).body.Resources.map((r: any) => r.id)).toEqual([theirs.body.id]);
    expect((await s.request('POST', '/Groups', group('g', [mine]), as)).body.scimType).toBe('invalidValue');
    expect((await s.request('GET', `/Users/${mine}`)).body.userName).toBe('shared-name');
  });

  it('a revoked token fails on its very next request', async () => {
    const { token, record } = await testToken(s.store, { name: 'to-revoke' });
    const as = { authorization: `Bearer ${token}` };
    expect((await s.request('GET', '/Users', undefined, as)).status).toBe(200);
    await s.store.revokeToken(record.id, new Date().toISOString());
    const r = await s.request('GET', '/Users', undefined, as);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('records when a token was last used', async () => {
    const { token, record } = await testToken(s.store, { name: 'used' });
    expect((await s.store.findTokenByHash(record.hash))!.lastUsed).toBeUndefined();
    await s.request('GET', '/Users', undefined, { authorization: `Bearer ${token}` });
    expect((await s.store.findTokenByHash(record.hash))!.lastUsed).toBeDefined();
  });

  it('tokens carry 256 random bits and are stored only as a digest', async () => {
    const { token, record } = await testToken(s.store);
    expect(token).toMatch(/^scimd_[A-Za-z0-9_-]{43}$/);
    const all = JSON.stringify(await s.store.listTokens());
    expect(all).not.toContain(token);
    expect(record.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('HTTP details', () => {
  it('accepts application/json and scim+json with a charset; answers application/scim+json; echoes a request id', async () => {
    const r = await s.request('POST', '/Users', user('ct'), { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req-42' });
    expect(r.status).toBe(201);
    expect(r.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(r.headers['x-request-id']).toBe('req-42');
  });

  it('endpoints match case-insensitively and with a trailing slash', async () => {
    expect((await s.request('GET', '/users/')).status).toBe(200);
    expect((await s.request('GET', '/serviceproviderconfig')).status).toBe(200);
  });

  it('/healthz and /readyz need no token', async () => {
    expect((await s.request('GET', '/healthz', undefined, { authorization: '' })).body).toEqual({ status: 'ok' });
    expect((await s.request('GET', '/readyz', undefined, { authorization: '' })).status).toBe(200);
  });

  it('/readyz is 503 with Retry-After when the database does not answer', async () => {
    await s.store.close();
    const r = await s.request('GET', '/readyz', undefined, { authorization: '' });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
  });
});

describe('createMany (loads)', () => {
  it('creates each resource on its own terms in one transaction: bad ones get their error, the rest are created', async () => {
    const org = (await s.store.organizations())[0]!;
    const { createScim } = await import('../../src/core/scim.js');
    const scim = createScim({ store: s.store });
    const ctx = { orgId: org.id, tokenId: 't', tokenName: 't', dialect: 'rfc' as const, baseUrl: 'https://x/scim/v2' };
    const results = await scim.createMany(ctx, 'Users', [user('one'), { schemas: [USER] }, user('ONE'), user('two'), 'junk']);
    expect(results.map((r) => ('status' in r ? `${r.status} ${r.scimType}` : 'created'))).toEqual([
      'created', '400 invalidValue', '409 uniqueness', 'created', '400 invalidSyntax',
    ]);
    const listed = await s.request('GET', '/Users');
    expect(listed.body.Resources.map((r: any) => r.userName)).toEqual(['one', 'two']);
    const first = results[0] as { id: string; location: string; etag: string };
    expect(first).toMatchObject({ location: `https://x/scim/v2/Users/${first.id}`, etag: 'W/"1"' });
    expect((await s.request('GET', `/Users?filter=${encodeURIComponent('userName eq "two"')}`)).body.totalResults).toBe(1);
  });
});

describe('media types', () => {
  it('a body sent without any Content-Type is read as JSON (Okta documents its requests so); a declared non-JSON type is 415', async () => {
    const bare = await s.app.inject({ method: 'POST', url: '/scim/v2/Users', headers: { authorization: `Bearer ${s.token}` }, payload: JSON.stringify(user('bare')) });
    expect([bare.statusCode, JSON.parse(bare.body).userName]).toEqual([201, 'bare']);
    const broken = await s.app.inject({ method: 'POST', url: '/scim/v2/Users', headers: { authorization: `Bearer ${s.token}` }, payload: '{"userName":' });
    expect([broken.statusCode, JSON.parse(broken.body).scimType]).toEqual([400, 'invalidSyntax']);
    const text = await s.app.inject({ method: 'POST', url: '/scim/v2/Users', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'text/plain' }, payload: JSON.stringify(user('text')) });
    expect(text.statusCode).toBe(415);
  });
});
