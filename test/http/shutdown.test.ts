/** Graceful shutdown (issue #8): close() then drain() waits for every started request, even one whose client left. */
import { expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createScim } from '../../src/core/scim.js';
import { buildServer } from '../../src/http/server.js';
import { testServer, user } from '../helpers.js';

it('drain() waits for a request whose client went away before its reply, so the store is not closed under it', async () => {
  const s = await testServer();
  const created = (await s.request('POST', '/Users', user('slow'))).body;
  // the store answers this read only after the client has gone and close() has been called
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const read = s.store.getResource.bind(s.store);
  let called = false;
  let finished = false;
  s.store.getResource = async (...args) => {
    called = true;
    await gate;
    const r = await read(...args);
    finished = true;
    return r;
  };
  const address = await s.app.listen({ port: 0, host: '127.0.0.1' });
  const client = new AbortController();
  const sent = fetch(`${address}/scim/v2/Users/${created.id}`, { headers: { authorization: `Bearer ${s.token}` }, signal: client.signal }).catch(() => 'aborted');
  await expect.poll(() => called).toBe(true); // the request has reached the store
  client.abort();
  expect(await sent).toBe('aborted');
  await s.app.close();
  const drained = s.app.drain().then(() => finished);
  await new Promise((r) => setTimeout(r, 50));
  release();
  expect(await drained).toBe(true);
  await s.store.close();
});

it('drain() gives up after its limit, so a request Fastify dropped cannot hold a shutdown forever', async () => {
  const s = await testServer();
  const created = (await s.request('POST', '/Users', user('stuck'))).body;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const read = s.store.getResource.bind(s.store);
  s.store.getResource = async (...args) => {
    await gate;
    return read(...args);
  };
  const pending = s.request('GET', `/Users/${created.id}`);
  await new Promise((r) => setTimeout(r, 20));
  const started = Date.now();
  await s.app.drain(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  release();
  await pending;
  await s.close();
});

it('keeps an idle connection open longer than load balancers keep theirs, so none sends a request on one closing', async () => {
  const s = await testServer();
  try {
    // Node's own default is 5 s; an AWS load balancer keeps an idle connection 60 s
    expect(s.app.server.keepAliveTimeout).toBeGreaterThan(60_000);
  } finally {
    await s.close();
  }
});

it('logs one line a request, when it is answered: its id, method, URL, status and time, never the token', async () => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  const s = await testServer();
  const app = buildServer({ scim: createScim({ store: s.store }), store: s.store, bodyLimit: 1 << 20, logger: { level: 'info', stream } });
  try {
    const r = await app.inject({ method: 'GET', url: '/scim/v2/Users?count=1', headers: { authorization: `Bearer ${s.token}`, 'x-request-id': 'req-42' } });
    expect(r.statusCode).toBe(200);
    const mine = lines.filter((l) => l.reqId === 'req-42');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ msg: 'request', method: 'GET', url: '/scim/v2/Users?count=1', status: 200 });
    expect(typeof mine[0]!.ms).toBe('number');
    expect(JSON.stringify(lines)).not.toContain(s.token);
  } finally {
    await app.close();
    await s.close();
  }
});
