/** Per-token rate limiting (issue #8): 429 with Retry-After, per token, one limit across the nodes of a database. */
import { afterEach, describe, expect, it } from 'vitest';
import { rateLimiter, type RateLimiter } from '../../src/http/rate-limit.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { testServer, user, type TestServer, testDatabase, testToken } from '../helpers.js';
import { serveProcess, type ServerProcess } from '../process.js';

describe('rateLimiter', () => {
  const limiters: RateLimiter[] = [];
  afterEach(async () => {
    for (const l of limiters.splice(0)) await l.stop();
  });
  const make = (store: SqliteStore, clock: { t: number }) => {
    const l = rateLimiter({ store, perSecond: 5, syncMs: 60_000, now: () => clock.t });
    limiters.push(l);
    return l;
  };

  it('admits `perSecond` requests of a key in a second, then says to retry in 1 s; the next second starts afresh', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const clock = { t: 1_000_000 };
    const l = make(store, clock);
    expect(Array.from({ length: 7 }, () => l.take('t1'))).toEqual([undefined, undefined, undefined, undefined, undefined, 1, 1]);
    expect(l.take('t2')).toBeUndefined(); // another token has its own count
    clock.t += 1000;
    expect(l.take('t1')).toBeUndefined();
  });

  it('requests whose count is on its way to the database still count against the limit', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    let arrive!: () => void;
    const slow = Object.create(store, {
      countRequests: { value: async (...args: Parameters<SqliteStore['countRequests']>) => { await new Promise<void>((r) => (arrive = r)); return store.countRequests(...args); } },
    }) as SqliteStore;
    const l = make(slow, { t: 3_000_000 });
    for (let i = 0; i < 3; i++) expect(l.take('t')).toBeUndefined();
    const flushed = l.flush();
    await new Promise((r) => setImmediate(r)); // the three are now being sent
    expect([l.take('t'), l.take('t'), l.take('t')]).toEqual([undefined, undefined, 1]);
    arrive();
    await flushed;
    expect(l.take('t')).toBe(1);
  });

  it('two nodes on one database share the limit once they have synced', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const clock = { t: 2_000_000 };
    const [a, b] = [make(store, clock), make(store, clock)];
    for (let i = 0; i < 5; i++) expect(a.take('t')).toBeUndefined();
    await a.flush();
    expect(b.take('t')).toBeUndefined(); // b has not yet heard of a's requests: the documented slack
    await b.flush();
    expect(b.take('t')).toBe(1);
    await a.flush();
    expect(a.take('t')).toBe(1);
    expect(await store.countRequests('t', 2000, 0)).toBe(6);
  });
});

describe('over HTTP', () => {
  let s: TestServer | undefined;
  afterEach(() => s?.close());

  it('past the limit a token gets 429 with Retry-After and a SCIM error, and its writes change nothing; another token is not affected', async () => {
    // one fixed second, so every request falls in the same window
    s = await testServer({ rateLimit: (store) => rateLimiter({ store, perSecond: 3, now: () => 5_000_000 }) });
    const other = (await testToken(s.store, { name: 'other' })).token;
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await s.request('GET', '/Users'));
    expect(statuses.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    expect(statuses[3]!.headers['retry-after']).toBe('1');
    expect(statuses[3]!.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429', detail: expect.stringContaining('retry after 1 s') });
    const before = await s.snapshot();
    expect((await s.request('POST', '/Users', user('refused'))).status).toBe(429);
    expect(await s.snapshot()).toBe(before);
    expect((await s.request('GET', '/Users', undefined, { authorization: `Bearer ${other}` })).status).toBe(200);
  });
});

describe('refused authentications', () => {
  let s: TestServer | undefined;
  afterEach(() => s?.close());

  it('past the limit a client address gets 429 for a bad token and no audit entry; valid tokens from it are not affected', async () => {
    s = await testServer({ refusalLimit: (store) => rateLimiter({ store, perSecond: 3, now: () => 7_000_000 }) });
    const bad = { authorization: 'Bearer not-a-token' };
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await s.request('GET', '/Users', undefined, bad));
    expect(statuses.map((r) => r.status)).toEqual([401, 401, 401, 429, 429, 429]);
    expect(statuses[3]!.headers['retry-after']).toBe('1');
    expect(statuses[3]!.body).toMatchObject({ status: '429', detail: expect.stringContaining('refused too often') });
    // the admin API shares the count: a bad admin token is refused the same way
    expect((await s.request('GET', '/admin/api/audit', undefined, bad)).status).toBe(429);
    const admin = (await testToken(s.store, { name: 'admin', scope: 'operator' })).token;
    const log = (await s.request('GET', '/admin/api/audit?limit=100', undefined, { authorization: `Bearer ${admin}` })).body.entries;
    expect(log.filter((e: { operation: string }) => e.operation === 'authenticate')).toHaveLength(3);
    expect((await s.request('GET', '/Users')).status).toBe(200);
  });
});

describe('across processes', () => {
  const servers: ServerProcess[] = [];
  afterEach(() => servers.splice(0).forEach((p) => p.child.kill('SIGKILL')));

  it('a token that used up its limit on one node is refused on the other within the same second', async () => {
    const db = await testDatabase('rate');
    const env = { SCIMD_RATE_LIMIT: '20' };
    servers.push(await serveProcess(db, 'rate-limit-token-of-at-least-32-characters', env));
    servers.push(await serveProcess(db, 'rate-limit-token-of-at-least-32-characters', env));
    const [a, b] = servers as [ServerProcess, ServerProcess];
    // start at the beginning of a second, so the whole exchange falls in one window
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    const started = Date.now();
    const fromA = await Promise.all(Array.from({ length: 20 }, () => a.request('GET', '/Users?count=0')));
    expect(fromA.every((r) => r.status === 200)).toBe(true);
    await new Promise((r) => setTimeout(r, 150)); // a has synced
    // b admits what it takes before its own next sync comes back (the documented slack: a few requests, more on a
    // loaded machine, where a sync's write waits longer), then refuses: within 10, half what b alone would admit
    const fromB: number[] = [];
    while (fromB.length < 10 && !fromB.includes(429)) {
      fromB.push((await b.request('GET', '/Users?count=0')).status);
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(Date.now() - started, 'the exchange must fit in one second').toBeLessThan(1000);
    expect(fromB.slice(-1)).toEqual([429]);
  });
});
