/**
 * Faults (issues #6 and #8): PostgreSQL restarting under a running `scimd serve`. While it is down every SCIM request
 * is answered at once with 503, Retry-After and a SCIM error body, /readyz is 503 and /healthz 200, and the process
 * lives on; when it is back, scimd recovers by itself: every write it acknowledged is there, nothing is half-applied,
 * and writes succeed again. The test halts a cluster of its own (halting the shared one would break the tests running
 * beside it), so it runs once, in the `postgres` project.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { group, testStoreKind, user } from '../helpers.js';
import { serveProcess, type ServerProcess } from '../process.js';
import { startReceiver, type Receiver } from '../webhook-receiver.js';
import { expectAcknowledgedWrites, patch, startWriteLoad, until } from './write-load.js';
import { freshPostgresDatabase, postgresBinaries, startPostgres, type RunningPostgres } from '../postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const bin = postgresBinaries();
// CI runs every PostgreSQL test; outside CI, no binaries means a loud skip (as test/global-setup.ts does)
if (!bin && process.env.CI === 'true') throw new Error('CI=true but no PostgreSQL binaries (initdb, pg_ctl) were found: install postgresql or set PGBIN');
const runHere = testStoreKind() === 'postgres' && bin !== undefined;
if (testStoreKind() === 'postgres' && !bin) console.log('\n*** database outage test SKIPPED: no PostgreSQL binaries found (install postgresql or set PGBIN) ***\n');

describe.skipIf(!runHere)('PostgreSQL outage (runs in the postgres project only: it starts and halts a cluster of its own)', () => {
  let cluster: RunningPostgres;
  let server: ServerProcess;
  let root: string;
  let receiver: Receiver;
  const token = 'outage-token-of-at-least-32-characters';
  const SECRET = 'outage-test-secret-0123456789';

  beforeAll(async () => {
    cluster = await startPostgres(bin!);
    const url = await freshPostgresDatabase(cluster.url);
    // The test cluster trades durability for speed (synchronous_commit=off), which a halt turns into lost commits;
    // this test is about what scimd loses, so here a commit waits for its WAL as in production.
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET synchronous_commit = on`);
    await admin.end();
    receiver = await startReceiver(SECRET);
    server = await serveProcess(url, token, { SCIMD_WEBHOOK_URL: receiver.url, SCIMD_WEBHOOK_SECRET: SECRET });
    root = server.base.replace(/\/scim\/v2$/, '');
  });
  afterAll(async () => {
    server?.child.kill('SIGKILL');
    cluster?.stop();
    await receiver?.close();
  });

  const ready = async () => (await fetch(`${root}/readyz`)).status;
  /** Waits until /readyz says the database is back; how long it took. */
  const untilReady = async (withinMs: number) => {
    const started = Date.now();
    while ((await ready()) !== 200) {
      if (Date.now() - started > withinMs) throw new Error(`not ready ${withinMs} ms after PostgreSQL came back`);
      await sleep(100);
    }
    return Date.now() - started;
  };
  const alive = () => server.child.exitCode === null && server.child.signalCode === null;
  /** Waits until the webhook has had a user.created event for each of these ids (the delivery loop resumed). */
  const createdEvents = async (ids: readonly string[], withinMs = 10_000) => {
    const until = Date.now() + withinMs;
    for (;;) {
      const seen = new Set(receiver.received.filter((e) => e.type === 'user.created').map((e) => e.resource.id));
      const missing = ids.filter((id) => !seen.has(id));
      if (missing.length === 0) return;
      if (Date.now() > until) throw new Error(`no user.created event for ${missing.length} of ${ids.length} users`);
      await sleep(50);
    }
  };

  it('answers 503 with Retry-After at once while PostgreSQL is down, and recovers by itself when it is back', async () => {
    const groupId = (await server.request('POST', '/Groups', group('before'))).body.id as string;
    const before = new Map<string, unknown>();
    for (let i = 0; i < 10; i++) {
      const created = await server.request('POST', '/Users', user(`before-${i}`, { title: 'kept' }));
      expect(created.status).toBe(201);
      await server.request('PATCH', `/Groups/${groupId}`, patch({ op: 'add', path: 'members', value: [{ value: created.body.id }] }));
      before.set(created.body.id as string, (await server.request('GET', `/Users/${created.body.id}`)).body);
    }
    const groupBefore = (await server.request('GET', `/Groups/${groupId}`)).body;
    const [someone] = before.keys();

    cluster.halt();
    try {
      for (const [method, path, body, headers] of [
        ['GET', `/Users/${someone}`],
        ['GET', '/Users?filter=userName%20eq%20%22before-1%22'],
        ['POST', '/Users', user('during')],
        ['PATCH', `/Users/${someone}`, patch({ op: 'replace', path: 'title', value: 'lost' })],
        ['DELETE', `/Users/${someone}`],
        ['POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [{ method: 'POST', path: '/Users', bulkId: 'u', data: user('bulk') }] }],
        // the token lookup itself needs the database: 503, not 401
        ['GET', '/Users', undefined, { authorization: 'Bearer not-a-token' }],
      ] as [string, string, unknown?, Record<string, string>?][]) {
        const started = Date.now();
        const r = await server.request(method, path, body, headers);
        expect([method, path, r.status, r.headers.get('retry-after')]).toEqual([method, path, 503, '1']);
        expect(r.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '503', detail: expect.stringMatching(/database is unavailable/) });
        expect(Date.now() - started).toBeLessThan(2000); // refused at once, not after the request timeout
      }
      expect(await ready()).toBe(503);
      expect((await fetch(`${root}/healthz`)).status).toBe(200);
      await sleep(500); // the pool's idle connections, the rate-limit sync and the timers all meet the outage meanwhile
      expect(alive()).toBe(true);
    } finally {
      cluster.start();
    }

    expect(await untilReady(5000)).toBeLessThan(5000);
    for (const [id, was] of before) expect((await server.request('GET', `/Users/${id}`)).body).toEqual(was);
    expect((await server.request('GET', `/Groups/${groupId}`)).body).toEqual(groupBefore);
    const after = await server.request('POST', '/Users', user('after'));
    expect(after.status).toBe(201);
    await createdEvents([...before.keys(), after.body.id]);
    expect((await server.request('PATCH', `/Users/${someone}`, patch({ op: 'replace', path: 'title', value: 'changed' }))).status).toBe(200);
  });

  it('a write load across a PostgreSQL restart loses no acknowledged write and leaves nothing half-applied', async () => {
    const load = await startWriteLoad(server);
    await until(() => load.users.size > 20); // however busy the machine, the load is really running
    const beforeHalt = load.users.size;
    cluster.halt(); // with requests in flight
    await sleep(1000);
    cluster.start();
    await untilReady(5000);
    await until(() => load.users.size > beforeHalt);
    await load.stop();

    expect(alive()).toBe(true);
    expect(beforeHalt).toBeGreaterThan(20); // the load was really running when PostgreSQL went away
    expect(load.users.size).toBeGreaterThan(beforeHalt); // and ran again after it came back
    expect([...load.refused.keys()]).toEqual([503]); // the outage was answered 503 and nothing else (no 500, no 401)
    await expectAcknowledgedWrites(server, load);
    // and each acknowledged create's event, written in its transaction, is delivered
    await createdEvents([...load.users.values()]);
  });
});
