/** POST /.search (RFC 7644 §3.4.3) on resource endpoints and at the root, and GET at the root (§3.4.2.1). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { group, testServer, user, type TestServer } from '../helpers.js';

const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
let s: TestServer;

beforeAll(async () => {
  s = await testServer();
  const ids: string[] = [];
  for (const n of ['alice', 'bob', 'carol', 'dave']) ids.push((await s.request('POST', '/Users', user(n, { displayName: n.toUpperCase() }))).body.id);
  await s.request('POST', '/Groups', group('Admins', [ids[0]!]));
  await s.request('POST', '/Groups', group('Builders', [ids[1]!, ids[2]!]));
});
afterAll(() => s.close());

describe('POST /{endpoint}/.search', () => {
  it('takes filter, sortBy, sortOrder, startIndex, count and attribute arrays from the body', async () => {
    const r = await s.request('POST', '/Users/.search', {
      schemas: [SEARCH],
      filter: 'userName ne "bob"',
      sortBy: 'userName',
      sortOrder: 'descending',
      startIndex: 1,
      count: 2,
      attributes: ['userName'],
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ totalResults: 3, itemsPerPage: 2, startIndex: 1 });
    expect(r.body.Resources.map((x: any) => Object.keys(x).sort())).toEqual([['id', 'schemas', 'userName'], ['id', 'schemas', 'userName']]);
    expect(r.body.Resources.map((x: any) => x.userName)).toEqual(['dave', 'carol']);
  });

  it('supports cursors in the body', async () => {
    const first = await s.request('POST', '/Users/.search', { schemas: [SEARCH], count: 3, cursor: '' });
    const second = await s.request('POST', '/Users/.search', { schemas: [SEARCH], count: 3, cursor: first.body.nextCursor });
    expect([...first.body.Resources, ...second.body.Resources].map((x: any) => x.userName)).toEqual(['alice', 'bob', 'carol', 'dave']);
  });

  it('refuses a body that is not a SearchRequest', async () => {
    for (const body of [{ filter: 'userName pr' }, [], { schemas: [SEARCH], count: 'many' }, { schemas: [SEARCH], attributes: [1] }]) {
      const r = await s.request('POST', '/Users/.search', body);
      expect(r.status).toBe(400);
      expect(['invalidSyntax', 'invalidValue']).toContain(r.body.scimType);
    }
  });
});

describe('queries at the root', () => {
  it('POST /.search spans every resource type; attributes a type lacks have no value there', async () => {
    const r = await s.request('POST', '/.search', { schemas: [SEARCH], filter: 'displayName sw "A" or userName eq "bob"' });
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(3);
    expect(r.body.Resources.map((x: any) => x.userName ?? x.displayName).sort()).toEqual(['Admins', 'alice', 'bob']);
  });

  it('GET / with sortBy merges the types in one order, and pages across them', async () => {
    const all = await s.request('GET', '/?sortBy=displayName');
    expect(all.body.Resources.map((x: any) => x.displayName)).toEqual(['Admins', 'ALICE', 'BOB', 'Builders', 'CAROL', 'DAVE']);
    const page = await s.request('GET', '/?sortBy=displayName&startIndex=3&count=2');
    expect(page.body).toMatchObject({ totalResults: 6, itemsPerPage: 2, startIndex: 3 });
    expect(page.body.Resources.map((x: any) => x.displayName)).toEqual(['BOB', 'Builders']);
  });

  it('a filter on an attribute no type has matches nothing, and ne matches everything', async () => {
    expect((await s.request('GET', `/?filter=${encodeURIComponent('nope eq "x"')}`)).body.totalResults).toBe(0);
    expect((await s.request('GET', `/?filter=${encodeURIComponent('nope ne "x"')}`)).body.totalResults).toBe(6);
  });

  it('still refuses malformed filters and cursors', async () => {
    expect((await s.request('GET', `/?filter=${encodeURIComponent('userName eq')}`)).body.scimType).toBe('invalidFilter');
    expect((await s.request('GET', '/?cursor')).body.scimType).toBe('invalidValue');
  });
});
