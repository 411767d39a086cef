/**
 * The PostgreSQL store's edge: driver errors that mean the database is unreachable become StoreUnavailable (so the
 * HTTP layer answers 503), within the connect timeout; other errors pass unchanged. Fake servers on loopback stand
 * in for a database that refuses, never answers, or says it cannot take connections: no cluster is needed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { StoreUnavailable, type ResourceWrite } from '../../src/store/store.js';

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
