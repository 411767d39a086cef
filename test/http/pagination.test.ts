/** RFC 9865 cursor pagination beside RFC 7644 index pagination, and sorting (RFC 7644 §3.4.2.3). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScim, type CallContext } from '../../src/core/scim.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { testServer, user, type TestServer } from '../helpers.js';

let s: TestServer;
const names = Array.from({ length: 25 }, (_, i) => `user${String(i).padStart(2, '0')}`);

beforeAll(async () => {
  s = await testServer();
  // titles: every third user has none, so sorting by title has missing values
  for (const [i, n] of names.entries()) {
    const extra = i % 3 === 0 ? {} : { title: `t${(i * 7) % 10}` };
    await s.request('POST', '/Users', user(n, extra));
  }
});
afterAll(() => s.close());

async function pageAll(query: string): Promise<{ names: string[]; pages: any[] }> {
  const pages: any[] = [];
  let url = `/Users?${query}&cursor`;
  for (let i = 0; i < 20; i++) {
    const r = await s.request('GET', url);
    expect(r.status, r.text).toBe(200);
    pages.push(r.body);
    if (!r.body.nextCursor) break;
    url = `/Users?${query}&cursor=${r.body.nextCursor}`;
  }
  return { names: pages.flatMap((p) => p.Resources.map((x: any) => x.userName)), pages };
}

describe('cursor pagination (RFC 9865)', () => {
  it('pages through everything once, in order; nextCursor only while more follow, previousCursor never on the first page', async () => {
    const { names: seen, pages } = await pageAll('count=10');
    expect(seen).toEqual(names);
    expect(pages.map((p) => p.itemsPerPage)).toEqual([10, 10, 5]);
    expect(pages.every((p) => p.totalResults === 25 && p.startIndex === undefined)).toBe(true);
    expect(pages[0].previousCursor).toBeUndefined();
    expect(pages[1].previousCursor).toMatch(/^[A-Za-z0-9_.-]+$/); // RFC 3986 unreserved characters only
    expect(pages[2].nextCursor).toBeUndefined();
  });

  it('previousCursor goes back one page', async () => {
    const { pages } = await pageAll('count=10');
    const back = await s.request('GET', `/Users?count=10&cursor=${pages[2].previousCursor}`);
    expect(back.body.Resources.map((x: any) => x.userName)).toEqual(names.slice(10, 20));
    expect(back.body.nextCursor).toBeDefined();
    const first = await s.request('GET', `/Users?count=10&cursor=${back.body.previousCursor}`);
    expect(first.body.Resources.map((x: any) => x.userName)).toEqual(names.slice(0, 10));
    expect(first.body.previousCursor).toBeUndefined();
  });

  it('agrees with index pagination for a filtered, sorted query, in both directions', async () => {
    for (const order of ['ascending', 'descending']) {
      const q = `filter=${encodeURIComponent('userName sw "user1" or userName sw "user2" or title pr')}&sortBy=title&sortOrder=${order}`;
      const all = (await s.request('GET', `/Users?${q}&count=100`)).body.Resources.map((x: any) => x.userName);
      expect(all.length).toBeGreaterThan(10);
      expect((await pageAll(`${q}&count=4`)).names).toEqual(all);
    }
  });

  it('a resource created while paging appears once, at the end; none is skipped or repeated', async () => {
    const local = await testServer();
    for (const n of ['a', 'b', 'c', 'd']) await local.request('POST', '/Users', user(n));
    const first = await local.request('GET', '/Users?count=2&cursor');
    await local.request('POST', '/Users', user('e'));
    const second = await local.request('GET', `/Users?count=2&cursor=${first.body.nextCursor}`);
    const third = await local.request('GET', `/Users?count=2&cursor=${second.body.nextCursor}`);
    expect([...first.body.Resources, ...second.body.Resources, ...third.body.Resources].map((x: any) => x.userName)).toEqual(['a', 'b', 'c', 'd', 'e']);
    await local.close();
  });

  it('count=0 gives the total only', async () => {
    const r = await s.request('GET', '/Users?count=0&cursor');
    expect(r.body).toMatchObject({ totalResults: 25, itemsPerPage: 0, Resources: [] });
    expect(r.body.nextCursor).toBeUndefined();
  });

  it('refuses forged, altered, foreign-query and mixed requests', async () => {
    const { pages } = await pageAll('count=10');
    const cursor: string = pages[0].nextCursor;
    const [payload, sig] = cursor.split('.');
    const cases: [string, number, string][] = [
      ['garbage', 400, 'invalidCursor'],
      [`${payload}.${sig!.slice(0, -2)}xx`, 400, 'invalidCursor'],
      [`${Buffer.from(JSON.stringify([1, null, 1, 'x', 0])).toString('base64url')}.${sig}`, 400, 'invalidCursor'],
    ];
    for (const [c, status, scimType] of cases) {
      const r = await s.request('GET', `/Users?count=10&cursor=${encodeURIComponent(c)}`);
      expect([r.status, r.body.scimType]).toEqual([status, scimType]);
    }
    const otherQuery = await s.request('GET', `/Users?count=10&filter=${encodeURIComponent('title pr')}&cursor=${cursor}`);
    expect(otherQuery.body.scimType).toBe('invalidCursor');
    const mixed = await s.request('GET', `/Users?count=10&startIndex=1&cursor=${cursor}`);
    expect([mixed.status, mixed.body.scimType]).toEqual([400, 'invalidValue']);
  });

  it('is advertised in ServiceProviderConfig', async () => {
    const spc = (await s.request('GET', '/ServiceProviderConfig')).body;
    expect(spc.pagination).toEqual({ cursor: true, index: true, defaultPaginationMethod: 'index', defaultPageSize: 1000, maxPageSize: 1000, cursorTimeout: 3600 });
  });
});

describe('cursors across nodes and time', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'scimd-cursor-')), 'db.sqlite');
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const now = () => new Date(clock);

  it('a cursor from one node continues on another node on the same database, and expires after cursorTimeout', async () => {
    const a = new SqliteStore(file);
    await a.migrate();
    const b = new SqliteStore(file);
    const org = await a.ensureOrganization('o');
    const ctx: CallContext = { orgId: org.id, tokenId: 't', tokenName: 't', dialect: 'rfc', baseUrl: 'https://x/scim/v2' };
    const nodeA = createScim({ store: a, now, cursorTimeoutSeconds: 60 });
    const nodeB = createScim({ store: b, now, cursorTimeoutSeconds: 60 });
    for (const n of ['p', 'q', 'r']) await nodeA.create(ctx, 'Users', user(n));
    const first = await nodeA.list(ctx, 'Users', { count: 2, cursor: '' });
    const second = await nodeB.list(ctx, 'Users', { count: 2, cursor: first.nextCursor! });
    expect(second.Resources.map((r) => r.userName)).toEqual(['r']);
    clock += 61_000;
    await expect(nodeB.list(ctx, 'Users', { count: 2, cursor: first.nextCursor! })).rejects.toMatchObject({ status: 400, scimType: 'expiredCursor' });
    await a.close();
    await b.close();
  });
});

describe('sorting (RFC 7644 §3.4.2.3)', () => {
  it('sorts ascending with missing values last, descending with them first, creation order breaking ties', async () => {
    const asc = (await s.request('GET', '/Users?sortBy=title&count=100')).body.Resources;
    const titles = asc.map((x: any) => x.title ?? null);
    const present = titles.filter((t: string | null) => t !== null);
    expect(present).toEqual([...present].sort());
    expect(titles.slice(present.length).every((t: unknown) => t === null)).toBe(true);
    const desc = (await s.request('GET', '/Users?sortBy=title&sortOrder=DESCENDING&count=100')).body.Resources;
    expect(desc.map((x: any) => x.userName)).toEqual(asc.map((x: any) => x.userName).reverse());
  });

  it('sorts multi-valued attributes by the primary value, else the first', async () => {
    const local = await testServer();
    await local.request('POST', '/Users', user('m1', { emails: [{ value: 'z@x' }, { value: 'a@x', primary: true }] }));
    await local.request('POST', '/Users', user('m2', { emails: [{ value: 'm@x' }, { value: 'b@x' }] }));
    await local.request('POST', '/Users', user('m3', { emails: [{ value: 'c@x', primary: false }] }));
    const r = await local.request('GET', '/Users?sortBy=emails.value');
    expect(r.body.Resources.map((x: any) => x.userName)).toEqual(['m1', 'm3', 'm2']);
    const byComplex = await local.request('GET', '/Users?sortBy=emails');
    expect(byComplex.body.Resources.map((x: any) => x.userName)).toEqual(['m1', 'm3', 'm2']);
    await local.close();
  });

  it('compares strings by the attribute\'s case rule', async () => {
    const local = await testServer();
    for (const [n, ext] of [['B', 'b'], ['a', 'A'], ['c', 'C']]) await local.request('POST', '/Users', user(n!, { externalId: ext }));
    expect((await local.request('GET', '/Users?sortBy=userName')).body.Resources.map((x: any) => x.userName)).toEqual(['a', 'B', 'c']);
    // externalId is caseExact: upper case sorts before lower case (code point order)
    expect((await local.request('GET', '/Users?sortBy=externalId')).body.Resources.map((x: any) => x.externalId)).toEqual(['A', 'C', 'b']);
    await local.close();
  });
});
