/**
 * Lifecycle events (issue #7): every SCIM operation produces exactly the expected events, a failing request none, and
 * a webhook receiver that is down for a while then returns gets every event, in order per resource.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/core/events.js';
import { failureText, startDelivery, type Delivery } from '../../src/events/dispatcher.js';
import { webhookDeliverer } from '../../src/events/webhook.js';
import { FEED_CHANNEL } from '../../src/core/model.js';
import { group, testServer, testToken, user, type TestServer } from '../helpers.js';
import { startReceiver, type Receiver } from '../webhook-receiver.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SECRET = 'test-webhook-secret-0123456789';

let s: TestServer;
beforeEach(async () => {
  s = await testServer({ events: true });
});
afterEach(() => s.close());

/** Everything in the outbox now, delivered to a list (in-process delivery: the typed hook an embedding app uses). */
async function drain(): Promise<LifecycleEvent[]> {
  const got: LifecycleEvent[] = [];
  const delivery = startDelivery({ store: s.store, deliver: async (e) => void got.push(e), pollMs: 10 });
  for (let quiet = 0; quiet < 5; ) {
    const before = got.length;
    await new Promise((r) => setTimeout(r, 30));
    quiet = got.length === before ? quiet + 1 : 0;
  }
  await delivery.stop();
  return got;
}

describe('the events of each operation', () => {
  it('a user: created, updated, deactivated, reactivated, deleted — with id, externalId, organization, diff', async () => {
    const u = (await s.request('POST', '/Users', user('alice', { externalId: 'hr-1', active: true }))).body;
    await s.request('PATCH', `/Users/${u.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }] });
    await s.request('PATCH', `/Users/${u.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    await s.request('PATCH', `/Users/${u.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }); // no change
    await s.request('PUT', `/Users/${u.id}`, user('alice', { externalId: 'hr-1', active: true, title: 'Lead' }));
    await s.request('DELETE', `/Users/${u.id}`);
    const events = await drain();
    expect(events.map((e) => e.type)).toEqual(['user.created', 'user.updated', 'user.deactivated', 'user.reactivated', 'user.deleted']);
    const [org] = await s.store.organizations();
    // the organization by id and by name, as the audit log names it
    for (const e of events) expect(e).toMatchObject({ organization: org!.id, organizationName: 'default', resource: { type: 'User', id: u.id, externalId: 'hr-1' } });
    expect(events[1]!.changes).toEqual([{ attribute: 'title', after: 'Lead' }]);
    expect(events[2]!.changes).toEqual([{ attribute: 'active', before: true, after: false }]);
    expect(new Set(events.map((e) => e.id)).size).toBe(5);
  });

  it('a group: created with its members, renamed, members added and removed one event each, deleted', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async (n) => (await s.request('POST', '/Users', user(n))).body.id));
    await drain(); // the users' own events
    const g = (await s.request('POST', '/Groups', group('g', [a], { externalId: 'grp-1' }))).body;
    await s.request('PATCH', `/Groups/${g.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'replace', path: 'displayName', value: 'G' },
        { op: 'add', path: 'members', value: [{ value: b }, { value: c }, { value: a }] },
      ],
    });
    await s.request('PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'members', value: [{ value: a }] }] });
    await s.request('DELETE', `/Groups/${g.id}`);
    const events = await drain();
    expect(events.map((e) => `${e.type}${e.member ? ` ${e.member.id}` : ''}`)).toEqual([
      'group.created', `group.member_added ${a}`,
      'group.updated', `group.member_added ${b}`, `group.member_added ${c}`,
      `group.member_removed ${a}`,
      'group.deleted',
    ]);
    expect(events.every((e) => e.resource.id === g.id && e.resource.externalId === 'grp-1' && e.organizationName === 'default')).toBe(true);
  });

  it('a failing request produces an audit entry and no event', async () => {
    await s.request('POST', '/Users', user('taken'));
    await drain();
    await s.request('POST', '/Users', user('TAKEN'));
    await s.request('PATCH', '/Users/nope', { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
    expect(await drain()).toEqual([]);
    const audit = await s.store.listAudit({ outcome: 'failure', limit: 10 });
    expect(audit.map((e) => e.status)).toEqual([409, 404]);
  });

  it('Bulk operations produce their events like single requests', async () => {
    await s.request('POST', '/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'u', data: user('bulk') },
        { method: 'PATCH', path: '/Users/bulkId:u', data: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] } },
      ],
    });
    expect((await drain()).map((e) => e.type)).toEqual(['user.created', 'user.deactivated']);
  });
});

describe('webhook delivery', () => {
  let receiver: Receiver;
  let delivery: Delivery | undefined;
  beforeEach(async () => {
    receiver = await startReceiver(SECRET);
  });
  afterEach(async () => {
    await delivery?.stop();
    await receiver.close();
  });

  it('a receiver down for a while then back gets every event once processed, in order per resource', async () => {
    receiver.down = true;
    delivery = startDelivery({ store: s.store, deliver: webhookDeliverer({ url: receiver.url, secret: SECRET }), pollMs: 10, backoff: () => 50 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await s.request('POST', '/Users', user(`u${i}`))).body.id);
    for (const id of ids) {
      await s.request('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
      await s.request('DELETE', `/Users/${id}`);
    }
    await new Promise((r) => setTimeout(r, 400));
    expect(receiver.received).toEqual([]);
    expect(receiver.attempts).toBeGreaterThan(5); // it kept trying
    receiver.down = false;
    await receiver.waitFor(15);
    const distinct = new Map(receiver.received.map((e) => [e.id, e]));
    expect(distinct.size).toBe(15);
    for (const id of ids) {
      const mine = receiver.received.filter((e) => e.resource.id === id).map((e) => e.type);
      expect(mine).toEqual(['user.created', 'user.deactivated', 'user.deleted']);
    }
  });

  it('an event refused maxAttempts times is dead-lettered, does not hold back later events, and is redelivered on retry', async () => {
    const deliver = webhookDeliverer({ url: receiver.url, secret: SECRET });
    let refuse = true;
    delivery = startDelivery({
      store: s.store,
      deliver: async (e) => {
        if (refuse && e.type === 'user.created') throw new Error('receiver rejects it');
        await deliver(e);
      },
      pollMs: 10,
      backoff: () => 10,
      maxAttempts: 3,
    });
    const id = (await s.request('POST', '/Users', user('poison'))).body.id;
    await s.request('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
    await receiver.waitFor(1);
    expect(receiver.received.map((e) => e.type)).toEqual(['user.deactivated']);
    const dead = await s.store.deadEvents(10);
    expect(dead.map((d) => [d.event.type, d.attempts, d.lastError])).toEqual([['user.created', 3, 'receiver rejects it']]);
    refuse = false;
    expect(await s.store.retryDeadEvents()).toBe(1);
    await receiver.waitFor(2);
    expect(receiver.received.map((e) => e.type)).toEqual(['user.deactivated', 'user.created']);
  });

  it('a dead-lettered event\'s lastError says why: the refused connection, the TLS failure, the answer, a redirect, the timeout', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const body = `<html>\n<h1>Internal error</h1>\n${'é'.repeat(150)}</html>`;
    // an event is not sent on to another address: a redirect, even to the receiver, is a failure
    const failing = createHttpServer((req, res) => (req.url === '/moved'
      ? res.writeHead(307, { location: receiver.url }).end()
      : res.writeHead(500, { 'content-type': 'text/html' }).end(body)));
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const failingPort = (failing.address() as AddressInfo).port;
    receiver.holdMs = 2000;
    const shown = Buffer.from(body.replace(/\n/g, ' ')).subarray(0, 200).toString('utf8');
    const cases: [string, { url: string; timeoutMs?: number }, string | RegExp][] = [
      ['refused', { url: `http://127.0.0.1:${closedPort}/hook` }, `connect ECONNREFUSED 127.0.0.1:${closedPort}`],
      ['tls', { url: `https://127.0.0.1:${failingPort}/hook` }, /^write EPROTO .*wrong version number/],
      ['answer', { url: `http://127.0.0.1:${failingPort}/hook` }, `HTTP 500: ${shown}`],
      ['redirect', { url: `http://127.0.0.1:${failingPort}/moved` }, 'HTTP 307'],
      ['slow', { url: receiver.url, timeoutMs: 100 }, 'no answer within 100 ms'],
    ];
    try {
      for (const [name, hook, expected] of cases) {
        const id = (await s.request('POST', '/Users', user(name))).body.id;
        delivery = startDelivery({ store: s.store, deliver: webhookDeliverer({ ...hook, secret: SECRET }), maxAttempts: 1, pollMs: 10 });
        let dead: Awaited<ReturnType<typeof s.store.deadEvents>>[number] | undefined;
        for (let i = 0; i < 300 && !dead; i++) {
          await new Promise((r) => setTimeout(r, 20));
          dead = (await s.store.deadEvents(10)).find((d) => d.event.resource.id === id);
        }
        await delivery.stop();
        expect(dead?.lastError, name).toMatch(expected);
      }
    } finally {
      failing.close();
    }
  });
});

describe('webhookDeliverer', () => {
  it('sends a delivery again at once on a new connection when the kept-alive one was closed under it, and only then', async () => {
    // the receiver closes a connection as its second request arrives (an idle timeout's race), and, once asked to,
    // every new connection at its first
    const seen: [connection: number, eventId: string][] = [];
    const connections = new WeakMap<object, number>();
    let opened = 0;
    let resetNew = false;
    const receiver = createHttpServer((req, res) => {
      const n = connections.get(req.socket)!;
      const before = seen.filter(([c]) => c === n).length;
      seen.push([n, String(req.headers['scimd-event-id'])]);
      if (before === 1 || (resetNew && before === 0)) return void req.socket.destroy();
      req.resume().on('end', () => res.writeHead(204).end());
    });
    receiver.on('connection', (socket) => connections.set(socket, opened++));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const deliver = webhookDeliverer({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, secret: SECRET, timeoutMs: 5000 });
    const event = (id: string) => ({ id, type: 'user.created', resource: { type: 'User', id } }) as unknown as LifecycleEvent;
    try {
      await deliver(event('e1'));
      await deliver(event('e2'));
      expect(seen).toEqual([[0, 'e1'], [0, 'e2'], [1, 'e2']]);
      // a new connection that fails is the receiver's answer: no second try
      resetNew = true;
      await expect(deliver(event('e3'))).rejects.toThrow(/socket hang up|ECONNRESET/);
      expect(seen).toEqual([[0, 'e1'], [0, 'e2'], [1, 'e2'], [2, 'e3']]);
    } finally {
      receiver.close();
      receiver.closeAllConnections();
    }
  });
});

describe('failureText', () => {
  it('writes out an error\'s causes, with their codes, and the errors of an AggregateError', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:9999'), { code: 'ECONNREFUSED' });
    const refused4 = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9999'), { code: 'ECONNREFUSED' });
    const both = Object.assign(new AggregateError([refused, refused4], ''), { code: 'ECONNREFUSED' });
    expect(failureText(new TypeError('fetch failed', { cause: both }))).toBe('fetch failed: connect ECONNREFUSED ::1:9999; connect ECONNREFUSED 127.0.0.1:9999');
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(failureText(new TypeError('fetch failed', { cause: tls }))).toBe('fetch failed: DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate');
    expect(failureText(new Error('receiver rejects it'))).toBe('receiver rejects it');
    expect(failureText('a string')).toBe('a string');
    expect(failureText(new Error('x'.repeat(1000)))).toHaveLength(500);
  });
});

describe('the events feed (GET /admin/api/events)', () => {
  let f: TestServer;
  afterEach(() => f?.close());

  it('an organization admin reads its own events with a cursor; the operator reads every organization\'s, or one\'s; bad cursors are 400', async () => {
    await s.close();
    s = f = await testServer({ events: [FEED_CHANNEL] });
    const { token: acmeAdmin } = await testToken(f.store, { organization: 'default', scope: 'admin' });
    const { token: operator } = await testToken(f.store, { scope: 'operator' });
    const { token: globexScim } = await testToken(f.store, { organization: 'globex' });
    const { token: globexAdmin } = await testToken(f.store, { organization: 'globex', scope: 'admin' });
    const feed = (token: string, query = '') => f.request('GET', `/admin/api/events${query}`, undefined, { authorization: `Bearer ${token}` });

    const alice = (await f.request('POST', '/scim/v2/Users', user('alice'))).body.id as string;
    await f.request('PATCH', `/scim/v2/Users/${alice}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
    await f.request('POST', '/scim/v2/Users', user('gina'), { authorization: `Bearer ${globexScim}` });

    const first = await feed(acmeAdmin, '?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.events.map((e: LifecycleEvent) => e.type)).toEqual(['user.created']);
    expect(first.body.more).toBe(true);
    const rest = await feed(acmeAdmin, `?after=${first.body.cursor}`);
    expect(rest.body.events.map((e: LifecycleEvent) => [e.type, e.resource.id])).toEqual([['user.deactivated', alice]]);
    expect(rest.body.more).toBe(false);
    // read on from the cursor: nothing new, and the cursor has moved past globex's event too
    const none = await feed(acmeAdmin, `?after=${rest.body.cursor}`);
    expect([none.body.events, none.body.cursor]).toEqual([[], '3']);

    expect((await feed(globexAdmin)).body.events.map((e: LifecycleEvent) => e.organizationName)).toEqual(['globex']);
    expect((await feed(operator)).body.events).toHaveLength(3);
    expect((await feed(operator, '?organization=globex')).body.events.map((e: LifecycleEvent) => e.type)).toEqual(['user.created']);
    expect((await feed(operator, '?organization=globx')).status).toBe(404);

    const ahead = await feed(acmeAdmin, '?after=99');
    expect([ahead.status, ahead.body.scimType]).toEqual([400, 'invalidCursor']);
    expect((await feed(acmeAdmin, '?after=abc')).body.scimType).toBe('invalidCursor');
    expect((await feed(acmeAdmin, '?limit=0')).body.scimType).toBe('invalidValue');
    expect((await feed(acmeAdmin, '?limit=1001')).body.scimType).toBe('invalidValue');
    expect((await feed(globexScim)).status).toBe(403); // a SCIM token is not an admin token
  });

  it('a cursor whose next events were pruned is 400 expiredCursor, saying where to read on from', async () => {
    await s.close();
    s = f = await testServer({ events: [FEED_CHANNEL] });
    const { token: admin } = await testToken(f.store, { scope: 'admin' });
    for (const name of ['a', 'b', 'c']) await f.request('POST', '/scim/v2/Users', user(name));
    const feed = (query: string) => f.request('GET', `/admin/api/events${query}`, undefined, { authorization: `Bearer ${admin}` });
    expect((await feed('')).body.cursor).toBe('3');
    await f.store.pruneEvents('2999-01-01T00:00:00.000Z');
    const expired = await feed('?after=1');
    expect([expired.status, expired.body.scimType]).toEqual([400, 'expiredCursor']);
    expect(expired.body.detail).toMatch(/read on from cursor 2/);
    expect((await feed('?after=2')).body.events.map((e: LifecycleEvent) => e.type)).toEqual(['user.created']);
  });

  it('is 404 on a server that keeps no feed', async () => {
    const { token: admin } = await testToken(s.store, { scope: 'admin' });
    const r = await s.request('GET', '/admin/api/events', undefined, { authorization: `Bearer ${admin}` });
    expect([r.status, r.body.detail]).toEqual([404, expect.stringMatching(/SCIMD_EVENT_FEED=true/)]);
  });
});
