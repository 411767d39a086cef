/**
 * The PostgreSQL store's edge: driver errors that mean the database is unreachable become StoreUnavailable (so the
 * HTTP layer answers 503), within the connect timeout; other errors pass unchanged. Fake servers on loopback stand
 * in for a database that refuses, never answers, or says it cannot take connections; a proxy to the test cluster
 * cuts a connection at COMMIT.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ResourceWrite } from '../../src/core/model.js';
import { StoreUnavailable, UniquenessViolation } from '../../src/core/errors.js';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';

const servers: Server[] = [];
const stores: PostgresStore[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A loopback server doing `onStartup` with each connection's first bytes (the startup message); its port. */
async function fakeServer(onStartup: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => onStartup(socket));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A PostgreSQL ErrorResponse message (protocol 3.0), FATAL with this SQLSTATE. */
function fatal(sqlstate: string, message: string): Buffer {
  const field = (type: string, value: string) => Buffer.from(`${type}${value}\0`, 'utf8');
  const fields = Buffer.concat([field('S', 'FATAL'), field('V', 'FATAL'), field('C', sqlstate), field('M', message), Buffer.from([0])]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(fields.length + 4);
  return Buffer.concat([Buffer.from('E'), length, fields]);
}

function open(port: number, connectTimeoutSeconds = 5): PostgresStore {
  const store = new PostgresStore(`postgres://scimd@127.0.0.1:${port}/scimd`, { poolSize: 2, connectTimeoutSeconds });
  stores.push(store);
  return store;
}

const write: ResourceWrite = { attributes: { userName: 'a' }, index: [], uniqueKeys: [{ attribute: 'userName', value: 'a' }] };

describe('PostgresStore when the database is unavailable', () => {
  it('a refused connection is StoreUnavailable, from a single query and from a transaction', async () => {
    const port = await fakeServer(() => {});
    await new Promise((r) => servers.pop()!.close(r)); // nothing listens there now
    const store = open(port);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(store.createResource('org', 'User', 'id', new Date().toISOString(), write)).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(store.listResources('org', 'User', { offset: 0, limit: 10 })).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('a server that never answers is StoreUnavailable after the connect timeout, not a hang', async () => {
    const store = open(await fakeServer(() => {}), 1);
    const started = Date.now();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailable);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it.each([
    ['57P03', 'the database system is starting up'],
    ['57P01', 'terminating connection due to administrator command'],
    ['08006', 'connection failure'],
    ['53300', 'sorry, too many clients already'],
    ['53200', 'out of memory'],
  ])('SQLSTATE %s (%s) is StoreUnavailable', async (sqlstate, message) => {
    const store = open(await fakeServer((socket) => socket.end(fatal(sqlstate, message))));
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('any other database error is not: a wrong password stays what it is (a 500 to look into)', async () => {
    const store = open(await fakeServer((socket) => socket.end(fatal('28P01', 'password authentication failed for user "scimd"'))));
    const error: unknown = await store.ping().catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(StoreUnavailable);
    expect(error).toMatchObject({ code: '28P01' });
  });
});

/**
 * A proxy to the database at `url` that cuts the client's connection at the first COMMIT of a transaction that wrote
 * a resource, either before passing the COMMIT on (the write is rolled back) or after (it commits, and the client
 * never hears so); the proxy's URL. (The writes before it, of the resource type's index scope and paths, pass.)
 */
async function cutAtCommit(url: string, when: 'before' | 'after'): Promise<string> {
  const target = new URL(url);
  let cut = false;
  let armed = false;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.push(client, upstream);
    upstream.on('data', (d) => client.write(d));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('data', (d: Buffer) => {
      // COMMIT goes as a simple query: 'Q', its length, then the text
      armed ||= d.includes('INSERT INTO resources');
      if (cut || !armed || !d.includes('COMMIT\0')) return void upstream.write(d);
      cut = true;
      if (when === 'after') return void upstream.write(d, () => client.destroy());
      client.destroy();
      upstream.destroy(); // the server rolls the transaction back
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(url);
  proxied.port = String((server.address() as AddressInfo).port);
  return proxied.toString();
}

const admin = postgresUrl();

describe.skipIf(!admin)('PostgresStore when the connection is lost at COMMIT', () => {
  /** A migrated database with an organization, and a store reaching it through a proxy that cuts at COMMIT. */
  async function setup(when: 'before' | 'after') {
    const url = await freshPostgresDatabase(admin!);
    const direct = new PostgresStore(url);
    stores.push(direct);
    await direct.migrate();
    const orgId = (await direct.ensureOrganization('acme')).id;
    const cutting = new PostgresStore(await cutAtCommit(url, when));
    stores.push(cutting);
    return { direct, cutting, orgId };
  }
  const at = new Date().toISOString();

  it('a write whose COMMIT never reached the server is not reported as success, and was not applied', async () => {
    const { direct, cutting, orgId } = await setup('before');
    await expect(cutting.createResource(orgId, 'User', 'u1', at, write)).rejects.toBeInstanceOf(StoreUnavailable);
    expect(await direct.getResource(orgId, 'User', 'u1')).toBeUndefined();
    // sent again, it is written
    expect((await cutting.createResource(orgId, 'User', 'u1', at, write)).version).toBe(1);
  });

  it('a write that committed but whose answer was lost is not reported as success either; sent again, its unique value is taken', async () => {
    const { direct, cutting, orgId } = await setup('after');
    await expect(cutting.createResource(orgId, 'User', 'u1', at, write)).rejects.toBeInstanceOf(StoreUnavailable);
    // the server commits when it gets to the COMMIT, which may be just after the client gave up
    await expect.poll(async () => (await direct.getResource(orgId, 'User', 'u1'))?.attributes, { timeout: 5000 }).toEqual({ userName: 'a' });
    // what a client retrying the create meets (409 uniqueness): documented in docs/deployment.md, "Database outages"
    await expect(cutting.createResource(orgId, 'User', 'u2', at, write)).rejects.toBeInstanceOf(UniquenessViolation);
  });
});
