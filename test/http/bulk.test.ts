/** Bulk (RFC 7644 §3.7): bulkId references in any order, cycles, failOnErrors, limits, every operation's errors. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP, USER, ENTERPRISE, group, testServer, user, type TestServer, testToken } from '../helpers.js';

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BASE = 'https://scim.example.com/scim/v2';

const bulk = (Operations: unknown[], extra: Record<string, unknown> = {}) => ({ schemas: [BULK_REQUEST], ...extra, Operations });
const post = (path: string, bulkId: string, data: unknown) => ({ method: 'POST', path, bulkId, data });

let s: TestServer;
beforeEach(async () => {
  s = await testServer({ bulk: { maxOperations: 1500, maxPayloadSize: 1_048_576 } });
});
afterEach(() => s.close());

async function send(body: unknown) {
  const r = await s.request('POST', '/Bulk', body);
  expect(r.headers['content-type']).toContain('application/scim+json');
  return r;
}

async function members(groupId: string): Promise<string[]> {
  return ((await s.request('GET', `/Groups/${groupId}`)).body.members ?? []).map((m: { value: string }) => m.value);
}

const idOf = (location: string) => location.slice(location.lastIndexOf('/') + 1);

describe('bulkId references (§3.7.2)', () => {
  it('RFC 7644 §3.7.2: a group created with a member created in the same request', async () => {
    const r = await send(bulk([
      post('/Users', 'qwerty', { schemas: [USER], userName: 'Alice' }),
      post('/Groups', 'ytrewq', { schemas: [GROUP], displayName: 'Tour Guides', members: [{ type: 'User', value: 'bulkId:qwerty' }] }),
    ]));
    expect(r.status).toBe(200);
    expect(r.body.schemas).toEqual([BULK_RESPONSE]);
    const [u, g] = r.body.Operations;
    expect(u).toEqual({ method: 'POST', bulkId: 'qwerty', location: expect.stringMatching(`^${BASE}/Users/`), version: 'W/"1"', status: '201' });
    expect(g).toMatchObject({ method: 'POST', bulkId: 'ytrewq', location: expect.stringMatching(`^${BASE}/Groups/`), version: 'W/"1"', status: '201' });
    expect(await members(idOf(g.location))).toEqual([idOf(u.location)]);
    const alice = (await s.request('GET', `/Users/${idOf(u.location)}`)).body;
    expect(alice.groups.map((x: { value: string }) => x.value)).toEqual([idOf(g.location)]);
  });

  it('RFC 7644 §3.7.2: the enterprise manager named by bulkId', async () => {
    const r = await send(bulk([
      post('/Users', 'qwerty', { schemas: [USER], userName: 'Alice' }),
      post('/Users', 'ytrewq', { schemas: [USER, ENTERPRISE], userName: 'Bob', [ENTERPRISE]: { employeeNumber: '11250', manager: { value: 'bulkId:qwerty' } } }),
    ]));
    const [alice, bob] = r.body.Operations.map((o: { location: string }) => idOf(o.location));
    expect((await s.request('GET', `/Users/${bob}`)).body[ENTERPRISE]).toMatchObject({ employeeNumber: '11250', manager: { value: alice } });
  });

  it('a reference to a POST later in the request waits for it; answers stay in request order', async () => {
    const r = await send(bulk([
      post('/Groups', 'g', group('Early', ['bulkId:u'])),
      { method: 'PATCH', path: '/Groups/bulkId:g', data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Renamed' }] } },
      post('/Users', 'u', user('late')),
    ]));
    expect(r.body.Operations.map((o: { status: string; method: string }) => `${o.method} ${o.status}`)).toEqual(['POST 201', 'PATCH 200', 'POST 201']);
    const [g, patched, u] = r.body.Operations;
    expect(patched.location).toBe(g.location);
    expect(patched.version).toBe('W/"2"');
    expect(await members(idOf(g.location))).toEqual([idOf(u.location)]);
    expect((await s.request('GET', `/Groups/${idOf(g.location)}`)).body.displayName).toBe('Renamed');
  });

  it('1 group and 1,000 users referenced by bulkId, the group first', async () => {
    const users = Array.from({ length: 1000 }, (_, i) => post('/Users', `u${i}`, user(`user${i}`)));
    const r = await send(bulk([post('/Groups', 'all', group('Everyone', users.map((u) => `bulkId:${u.bulkId}`))), ...users]));
    expect(r.status).toBe(200);
    expect(r.body.Operations).toHaveLength(1001);
    expect(r.body.Operations.every((o: { status: string }) => o.status === '201')).toBe(true);
    const ids = r.body.Operations.slice(1).map((o: { location: string }) => idOf(o.location));
    expect(new Set(ids).size).toBe(1000);
    expect(await members(idOf(r.body.Operations[0].location))).toEqual(ids);
    expect((await s.request('GET', '/Users?count=0')).body.totalResults).toBe(1000);
  });

  it('a run of POSTs written together: every user findable by filter, unique, audited; a clash falls back to one by one', async () => {
    const u = (i: number) => post('/Users', `b${i}`, user(`batch${i}`, { externalId: `x${i}`, emails: [{ value: `batch${i}@example.com` }] }));
    const r = await send(bulk(Array.from({ length: 20 }, (_, i) => u(i))));
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(Array(20).fill('201'));
    for (const filter of ['userName eq "BATCH7"', 'externalId eq "x7"', 'emails.value eq "batch7@example.com"', 'userName sw "batch1"']) {
      const found = (await s.request('GET', `/Users?filter=${encodeURIComponent(filter)}`)).body.Resources.map((x: { userName: string }) => x.userName);
      expect(found.sort(), filter).toEqual(filter.includes(' sw ') ? ['batch1', 'batch10', 'batch11', 'batch12', 'batch13', 'batch14', 'batch15', 'batch16', 'batch17', 'batch18', 'batch19'] : ['batch7']);
    }
    // a taken userName (and one taken by an earlier item of the same request): those two fail, the rest are written
    const again = await send(bulk([u(20), post('/Users', 'dup', user('BATCH3')), u(21), post('/Users', 'dup2', user('batch21'))]));
    expect(again.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '409', '201', '409']);
    expect((await s.request('GET', '/Users?count=0')).body.totalResults).toBe(22);
    const admin = (await testToken(s.store, { name: 'admin', scope: 'operator' })).token;
    const log = (await s.request('GET', '/admin/api/audit?limit=100', undefined, { authorization: `Bearer ${admin}` })).body.entries;
    expect(log.filter((e: { operation: string; status: number }) => e.operation === 'create' && e.status === 201)).toHaveLength(22);
  });

  it('a reference no POST defines is 400 invalidValue; one to a failed POST is 409; neither runs', async () => {
    await s.request('POST', '/Users', user('taken'));
    const r = await send(bulk([
      post('/Groups', 'g1', group('Dangling', ['bulkId:nobody'])),
      post('/Users', 'dup', user('TAKEN')),
      post('/Groups', 'g2', group('Follows a failure', ['bulkId:dup'])),
    ]));
    const [g1, dup, g2] = r.body.Operations;
    expect([g1.status, g1.response.scimType, g1.response.detail]).toEqual(['400', 'invalidValue', '"bulkId:nobody" names no POST of this request.']);
    expect([dup.status, dup.response.scimType]).toEqual(['409', 'uniqueness']);
    expect([g2.status, g2.response.status, g2.response.schemas]).toEqual(['409', '409', [ERROR]]);
    expect((await s.request('GET', '/Groups')).body.totalResults).toBe(0);
  });
});

describe('circular references (§3.7.1)', () => {
  it('RFC 7644 §3.7.1: two groups that are members of each other are both created, each a member of the other', async () => {
    const r = await send(bulk([
      post('/Groups', 'qwerty', { schemas: [GROUP], displayName: 'Group A', members: [{ type: 'Group', value: 'bulkId:ytrewq' }] }),
      post('/Groups', 'ytrewq', { schemas: [GROUP], displayName: 'Group B', members: [{ type: 'Group', value: 'bulkId:qwerty' }] }),
    ]));
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201']);
    const [a, b] = r.body.Operations.map((o: { location: string }) => idOf(o.location));
    expect(await members(a)).toEqual([b]);
    expect(await members(b)).toEqual([a]);
    // A was created without B (1), became B's member when B was created (2: its groups changed), then was given B
    // as its member (3): its answer carries the version after all that, the one a GET shows
    expect(r.body.Operations[0].version).toBe('W/"3"');
    expect((await s.request('GET', `/Groups/${a}`)).headers.etag).toBe('W/"3"');
  });

  it('a cycle of three, with plain members beside the references, resolves', async () => {
    const r = await send(bulk([
      post('/Users', 'u', user('plain')),
      post('/Groups', 'a', group('A', ['bulkId:u', 'bulkId:c'])),
      post('/Groups', 'b', group('B', ['bulkId:a'])),
      post('/Groups', 'c', group('C', ['bulkId:b'])),
    ]));
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '201', '201']);
    const [u, a, b, c] = r.body.Operations.map((o: { location: string }) => idOf(o.location));
    expect([await members(a), await members(b), await members(c)]).toEqual([[u, c], [a], [b]]);
  });

  it('when a POST of the cycle fails, the resource created to break it is removed and both are reported', async () => {
    const r = await send(bulk([
      post('/Groups', 'a', group('A', ['bulkId:b'])),
      post('/Groups', 'b', { schemas: [GROUP], members: [{ value: 'bulkId:a' }] }), // no displayName: invalid
    ]));
    const [a, b] = r.body.Operations;
    expect([b.status, b.response.scimType]).toEqual(['400', 'invalidValue']);
    expect([a.status, a.response.detail]).toEqual(['409', expect.stringContaining('bulkId:b')]);
    expect((await s.request('GET', '/Groups')).body.totalResults).toBe(0);
  });
});

describe('failOnErrors (§3.7.3)', () => {
  const bad = (n: number) => post('/Users', `bad${n}`, { schemas: [USER] }); // no userName
  const good = (n: number) => post('/Users', `good${n}`, user(`good${n}`));

  it('without it, every operation is tried whatever fails', async () => {
    const r = await send(bulk([bad(1), good(1), bad(2), good(2)]));
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['400', '201', '400', '201']);
  });

  it('failOnErrors 1 stops at the first error: later operations are neither run nor answered', async () => {
    const r = await send(bulk([good(1), bad(1), good(2)], { failOnErrors: 1 }));
    expect(r.status).toBe(200);
    expect(r.body.Operations.map((o: { status: string; bulkId: string }) => `${o.bulkId} ${o.status}`)).toEqual(['good1 201', 'bad1 400']);
    expect((await s.request('GET', '/Users')).body.Resources.map((u: { userName: string }) => u.userName)).toEqual(['good1']);
  });

  it('failOnErrors N stops at the Nth error, counting store refusals and invalid bodies in request order', async () => {
    await s.request('POST', '/Users', user('taken'));
    const r = await send(bulk([good(1), post('/Users', 'dup', user('taken')), good(2), bad(1), good(3)], { failOnErrors: 2 }));
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '409', '201', '400']);
    expect((await s.request('GET', '/Users?count=0')).body.totalResults).toBe(3);
  });

  it('counts errors of every method: a failed DELETE stops a PUT after it', async () => {
    const r = await send(bulk([{ method: 'DELETE', path: '/Users/nope' }, { method: 'PUT', path: '/Users/nope', data: user('x') }], { failOnErrors: 1 }));
    expect(r.body.Operations).toEqual([
      { method: 'DELETE', status: '404', response: { schemas: [ERROR], status: '404', detail: 'User "nope" not found.' } },
    ]);
  });
});

describe('every operation type, with and without errors', () => {
  let id: string;
  let other: string;
  beforeEach(async () => {
    id = (await s.request('POST', '/Users', user('bob', { nickName: 'Bobby' }))).body.id;
    other = (await s.request('POST', '/Users', user('dave'))).body.id;
  });

  it('RFC 7644 §3.7.3: POST, PUT, PATCH (operations as a bare array, as the RFC example sends them) and DELETE', async () => {
    const r = await send(bulk([
      post('/Users', 'qwerty', user('Alice')),
      { method: 'PUT', path: `/Users/${id}`, version: 'W\\/"1"', data: { schemas: [USER], id, userName: 'Bob' } },
      { method: 'PATCH', path: `/Users/${other}`, version: 'W/"1"', data: [{ op: 'remove', path: 'nickName' }, { op: 'add', path: 'userName', value: 'Dave' }] },
      { method: 'DELETE', path: `/Users/${id}`, version: 'W/"2"' },
    ], { failOnErrors: 1 }));
    expect(r.body.Operations).toEqual([
      { method: 'POST', bulkId: 'qwerty', location: expect.stringMatching(`^${BASE}/Users/`), version: 'W/"1"', status: '201' },
      { method: 'PUT', location: `${BASE}/Users/${id}`, version: 'W/"2"', status: '200' },
      { method: 'PATCH', location: `${BASE}/Users/${other}`, version: 'W/"2"', status: '200' },
      { method: 'DELETE', location: `${BASE}/Users/${id}`, status: '204' },
    ]);
    expect((await s.request('GET', `/Users/${other}`)).body.userName).toBe('Dave');
    expect((await s.request('GET', `/Users/${id}`)).status).toBe(404);
  });

  it.each([
    ['POST with an invalid body', () => post('/Users', 'x', { schemas: [USER], userName: 7 }), '400', 'invalidValue'],
    ['POST of a taken userName', () => post('/Users', 'x', user('BOB')), '409', 'uniqueness'],
    ['POST to an unknown endpoint', () => post('/Widgets', 'x', {}), '404', undefined],
    ['PUT of a missing resource', () => ({ method: 'PUT', path: '/Users/nope', data: user('x') }), '404', undefined],
    ['PUT with a stale version', () => ({ method: 'PUT', path: `/Users/${id}`, version: 'W/"9"', data: user('bob') }), '412', undefined],
    ['PUT taking a userName', () => ({ method: 'PUT', path: `/Users/${id}`, data: user('dave') }), '409', 'uniqueness'],
    ['PATCH with no target', () => ({ method: 'PATCH', path: `/Users/${id}`, data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'x' }] } }), '400', 'noTarget'],
    ['PATCH of an unknown attribute', () => ({ method: 'PATCH', path: `/Users/${id}`, data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'nope', value: 1 }] } }), '400', 'invalidPath'],
    ['PATCH with a stale version', () => ({ method: 'PATCH', path: `/Users/${id}`, version: '"9"', data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'x' }] } }), '412', undefined],
    ['DELETE of a missing resource', () => ({ method: 'DELETE', path: '/Users/nope' }), '404', undefined],
    ['DELETE with a stale version', () => ({ method: 'DELETE', path: `/Users/${id}`, version: 'W/"9"' }), '412', undefined],
    ['an unknown method', () => ({ method: 'GET', path: `/Users/${id}` }), '400', 'invalidSyntax'],
    ['a POST path naming a resource', () => ({ method: 'POST', path: `/Users/${id}`, bulkId: 'x', data: user('y') }), '400', 'invalidSyntax'],
    ['a PUT without a resource id', () => ({ method: 'PUT', path: '/Users', data: user('y') }), '400', 'invalidSyntax'],
    ['a PUT without data', () => ({ method: 'PUT', path: `/Users/${id}` }), '400', 'invalidSyntax'],
    ['an operation that is not an object', () => 'DELETE /Users/x', '400', 'invalidSyntax'],
  ])('%s: its status and SCIM error in its place, nothing changed', async (_name, op, status, scimType) => {
    const before = await s.snapshot();
    const r = await send(bulk([op()]));
    expect(r.status).toBe(200);
    const [result] = r.body.Operations;
    expect(result.status).toBe(status);
    expect(result.response).toMatchObject({ schemas: [ERROR], status, detail: expect.any(String) });
    expect(result.response.scimType).toBe(scimType);
    expect(await s.snapshot()).toBe(before);
  });

  it('a failed operation leaves the operations before and after it applied', async () => {
    const r = await send(bulk([
      { method: 'PATCH', path: `/Users/${id}`, data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'first' }] } },
      { method: 'PATCH', path: `/Users/${id}`, data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'never' }, { op: 'replace', path: 'nope', value: 1 }] } },
      { method: 'PATCH', path: `/Users/${id}`, data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'nickName', value: 'third' }] } },
    ]));
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['200', '400', '200']);
    expect((await s.request('GET', `/Users/${id}`)).body).toMatchObject({ title: 'first', nickName: 'third', meta: { version: 'W/"3"' } });
  });
});

describe('the request as a whole', () => {
  it.each([
    ['a body that is not an object', [], 400, 'invalidSyntax'],
    ['no BulkRequest schema', { schemas: [PATCH_OP], Operations: [] }, 400, 'invalidSyntax'],
    ['no Operations', { schemas: [BULK_REQUEST] }, 400, 'invalidSyntax'],
    ['failOnErrors 0', bulk([], { failOnErrors: 0 }), 400, 'invalidValue'],
    ['failOnErrors as a string', bulk([], { failOnErrors: '1' }), 400, 'invalidValue'],
    ['one bulkId on two POSTs', bulk([post('/Users', 'a', user('a')), post('/Users', 'a', user('b'))]), 400, 'invalidValue'],
    ['more operations than maxOperations', bulk(Array.from({ length: 1501 }, (_, i) => post('/Users', `u${i}`, user(`u${i}`)))), 413, 'tooLarge'],
  ])('%s: %i %s, nothing changed', async (_name, body, status, scimType) => {
    const before = await s.snapshot();
    const r = await send(body);
    expect([r.status, r.body.scimType, r.body.schemas]).toEqual([status, scimType, [ERROR]]);
    expect(await s.snapshot()).toBe(before);
  });

  it('a body over maxPayloadSize is 413 tooLarge naming the limit, even though other endpoints take less', async () => {
    const small = await testServer({ bodyLimit: 10_000, bulk: { maxPayloadSize: 50_000 } });
    try {
      const ops = (n: number) => bulk(Array.from({ length: n }, (_, i) => post('/Users', `u${i}`, user(`user-with-a-long-name-${i}`))));
      const fits = await small.request('POST', '/Bulk', ops(200)); // ~20 kB: over the body limit, under maxPayloadSize
      expect(fits.status).toBe(200);
      const over = await small.request('POST', '/Bulk', ops(800));
      expect([over.status, over.body.scimType]).toEqual([413, 'tooLarge']);
      expect(over.body.detail).toContain('50000');
      expect((await small.request('GET', '/Users?count=0')).body.totalResults).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('an empty Operations list is an empty BulkResponse', async () => {
    expect((await send(bulk([]))).body).toEqual({ schemas: [BULK_RESPONSE], Operations: [] });
  });

  it('ServiceProviderConfig advertises bulk with the limits it enforces', async () => {
    const spc = (await s.request('GET', '/ServiceProviderConfig')).body;
    expect(spc.bulk).toEqual({ supported: true, maxOperations: 1500, maxPayloadSize: 1_048_576 });
  });

  it('needs a token like every SCIM endpoint', async () => {
    const r = await s.request('POST', '/Bulk', bulk([]), { authorization: 'Bearer wrong' });
    expect(r.status).toBe(401);
  });
});
