/** The audit log (issue #7): exactly the expected entry for every SCIM operation, failures, refused tokens; the admin API. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { group, testServer, user, type TestServer, testToken } from '../helpers.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

let s: TestServer;
let admin: string;
beforeEach(async () => {
  s = await testServer();
  admin = (await testToken(s.store, { name: 'ops', scope: 'operator' })).token;
});
afterEach(() => s.close());

const log = async (query = '') => {
  const r = await s.request('GET', `/admin/api/audit${query}`, undefined, { authorization: `Bearer ${admin}` });
  expect(r.status).toBe(200);
  return r.body.entries as any[];
};

describe('one entry per state-changing request, written with the change', () => {
  it('create, replace, PATCH, PATCH that changes nothing, delete: who, what, outcome and the diff', async () => {
    const created = (await s.request('POST', '/Users', user('alice', { title: 'Engineer', password: 'S3cret!pass' }), { 'x-request-id': 'req-1' })).body;
    await s.request('PUT', `/Users/${created.id}`, user('alice', { title: 'Lead' }));
    await s.request('PATCH', `/Users/${created.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
    await s.request('PATCH', `/Users/${created.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
    await s.request('DELETE', `/Users/${created.id}`);
    const entries = await log();
    expect(entries.map((e) => [e.operation, e.status, e.version, e.resourceType, e.resourceId])).toEqual([
      ['create', 201, 1, 'User', created.id],
      ['replace', 200, 2, 'User', created.id],
      ['patch', 200, 3, 'User', created.id],
      ['patch', 200, 3, 'User', created.id],
      ['delete', 204, 3, 'User', created.id],
    ]);
    const [create, replace, patch, noop, del] = entries;
    expect(create).toMatchObject({ tokenName: 'test', organization: 'default', requestId: 'req-1', clientAddress: '127.0.0.1' });
    expect(create.tokenId).toMatch(/^[0-9a-f]{16}$/);
    expect(create.changes).toEqual([
      { attribute: 'userName', after: 'alice' },
      { attribute: 'title', after: 'Engineer' },
      { attribute: 'password', after: '[redacted]' },
    ]);
    expect(replace.changes).toEqual([{ attribute: 'title', before: 'Engineer', after: 'Lead' }]);
    expect(patch.changes).toEqual([{ attribute: 'active', after: false }]);
    expect(noop.changes).toEqual([]);
    expect(del.changes).toEqual(expect.arrayContaining([{ attribute: 'userName', before: 'alice' }, { attribute: 'password', before: '[redacted]' }]));
    // neither the password nor its hash is anywhere in the log
    const text = JSON.stringify(entries);
    expect(text).not.toContain('S3cret');
    expect(text).not.toContain('$scrypt$');
  });

  it('group membership: the members really added and removed', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map(async (n) => (await s.request('POST', '/Users', user(n))).body.id));
    const g = (await s.request('POST', '/Groups', group('g', [a]))).body;
    const members = (op: string, value: string) => ({ schemas: [PATCH_OP], Operations: [{ op, path: 'members', value: [{ value }] }] });
    await s.request('PATCH', `/Groups/${g.id}`, members('add', b));
    await s.request('PATCH', `/Groups/${g.id}`, members('add', b)); // already a member
    await s.request('PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${a}"]` }] });
    const entries = (await log('?resourceType=Group')).map((e) => e.changes);
    expect(entries).toEqual([
      [{ attribute: 'displayName', after: 'g' }, { attribute: 'members', added: [a], addedCount: 1 }],
      [{ attribute: 'members', added: [b], addedCount: 1 }],
      [],
      [{ attribute: 'members', removed: [a], removedCount: 1 }],
    ]);
  });

  it('a failing request is recorded with its status, scimType and detail, and changes nothing', async () => {
    await s.request('POST', '/Users', user('taken'));
    const before = await s.snapshot();
    await s.request('POST', '/Users', user('TAKEN'));
    await s.request('PATCH', '/Users/nope', { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'x' }] });
    await s.request('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] });
    expect(await s.snapshot()).toBe(before);
    const failures = await log('?outcome=failure');
    expect(failures.map((e) => [e.operation, e.status, e.scimType, e.resourceType, e.resourceId, e.changes])).toEqual([
      ['create', 409, 'uniqueness', 'User', undefined, []],
      ['patch', 404, undefined, 'User', 'nope', []],
      ['create', 400, 'invalidValue', 'User', undefined, []],
    ]);
    expect(failures[0].detail).toContain('userName');
    expect((await log('?outcome=success')).map((e) => e.operation)).toEqual(['create']);
  });

  it('every Bulk operation gets its own entry, sharing the request id', async () => {
    await s.request('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'u', data: user('bulk-user') },
        { method: 'POST', path: '/Groups', bulkId: 'g', data: group('bulk-group', ['bulkId:u']) },
        { method: 'DELETE', path: '/Users/nope' },
      ],
    }, { 'x-request-id': 'bulk-1' });
    const entries = await log();
    expect(entries.map((e) => [e.operation, e.resourceType, e.status, e.requestId])).toEqual([
      ['create', 'User', 201, 'bulk-1'],
      ['create', 'Group', 201, 'bulk-1'],
      ['delete', 'User', 404, 'bulk-1'],
    ]);
  });

  it('reads are not recorded', async () => {
    const id = (await s.request('POST', '/Users', user('reader'))).body.id;
    await s.request('GET', `/Users/${id}`);
    await s.request('GET', '/Users?filter=userName%20eq%20%22reader%22');
    await s.request('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'] });
    expect((await log()).map((e) => e.operation)).toEqual(['create']);
  });
});

describe('refused authentication', () => {
  it('an unknown token, a missing header and a token of the wrong scope are recorded; nothing else happens', async () => {
    await s.request('GET', '/Users', undefined, { authorization: 'Bearer not-a-token', 'x-request-id': 'bad-1' });
    await s.app.inject({ method: 'GET', url: '/scim/v2/Users' });
    const wrongScope = await s.request('GET', '/Users', undefined, { authorization: `Bearer ${admin}` });
    expect([wrongScope.status, wrongScope.body.detail]).toEqual([403, expect.stringContaining('admin token')]);
    const scimOnAdmin = await s.request('GET', '/admin/api/audit');
    expect(scimOnAdmin.status).toBe(403);
    const entries = await log('?outcome=failure');
    expect(entries.map((e) => [e.operation, e.status, e.requestId ?? null, e.tokenName ?? null])).toEqual([
      ['authenticate', 401, 'bad-1', null],
      ['authenticate', 401, expect.any(String), null],
      ['authenticate', 403, expect.any(String), 'ops'],
      ['authenticate', 403, expect.any(String), 'test'],
    ]);
    expect(entries[0].clientAddress).toBe('127.0.0.1');
  });
});

describe('GET /admin/api/audit', () => {
  it('filters by organization, resource, token, outcome and time; pages with after/next', async () => {
    const other = await testToken(s.store, { organization: 'globex', name: 'globex-idp' });
    const id = (await s.request('POST', '/Users', user('a1'))).body.id;
    await s.request('POST', '/Users', user('a2'));
    await s.request('POST', '/Users', user('g1'), { authorization: `Bearer ${other.token}` });
    expect((await log('?organization=globex')).map((e) => e.changes[0].after)).toEqual(['g1']);
    expect((await log(`?resourceId=${id}`)).map((e) => e.resourceId)).toEqual([id]);
    expect((await log(`?tokenId=${other.record.id}`)).map((e) => e.tokenName)).toEqual(['globex-idp']);
    expect(await log('?since=1h&until=2999-01-01T00:00:00Z')).toHaveLength(3);
    expect(await log('?until=2000-01-01T00:00:00Z')).toEqual([]);
    const first = await s.request('GET', '/admin/api/audit?limit=2', undefined, { authorization: `Bearer ${admin}` });
    expect(first.body.entries).toHaveLength(2);
    const rest = await log(`?after=${first.body.next}`);
    expect(rest.map((e) => e.changes[0].after)).toEqual(['g1']);
  });

  it.each([
    ['?since=yesterday', 'since'],
    ['?limit=0', 'limit'],
    ['?limit=1001', 'limit'],
    ['?outcome=maybe', 'outcome'],
    ['?after=-1', 'after'],
  ])('%s is 400 invalidValue naming %s', async (query, name) => {
    const r = await s.request('GET', `/admin/api/audit${query}`, undefined, { authorization: `Bearer ${admin}` });
    expect([r.status, r.body.scimType]).toEqual([400, 'invalidValue']);
    expect(r.body.detail).toContain(`"${name}"`);
  });

  it('an unknown organization is 404; no token is 401', async () => {
    expect((await s.request('GET', '/admin/api/audit?organization=nope', undefined, { authorization: `Bearer ${admin}` })).status).toBe(404);
    expect((await s.app.inject({ method: 'GET', url: '/admin/api/audit' })).statusCode).toBe(401);
  });
});

describe('behind a proxy', () => {
  it('with trustProxy the audit log names the client from X-Forwarded-For; without it, the proxy', async () => {
    const proxied = await testServer({ trustProxy: '127.0.0.1' });
    try {
      const ops = (await testToken(proxied.store, { name: 'ops', scope: 'operator' })).token;
      await proxied.request('POST', '/Users', user('via-proxy'), { 'x-forwarded-for': '203.0.113.7' });
      const [entry] = (await proxied.request('GET', '/admin/api/audit', undefined, { authorization: `Bearer ${ops}` })).body.entries;
      expect(entry.clientAddress).toBe('203.0.113.7');
    } finally {
      await proxied.close();
    }
    await s.request('POST', '/Users', user('direct'), { 'x-forwarded-for': '203.0.113.7' });
    expect((await log())[0].clientAddress).toBe('127.0.0.1');
  });
});
