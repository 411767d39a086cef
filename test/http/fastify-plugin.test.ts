/**
 * http/fastify.ts: the SCIM API mounted in an application's own Fastify app, which keeps its own body parsing,
 * routes and logging; the plugin only translates to and from the handler.
 */
import { connect } from 'node:net';
import { Writable, type Transform } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createScim } from '../../src/core/scim.js';
import { scimPlugin } from '../../src/http/fastify.js';
import type { Store } from '../../src/core/ports.js';
import { openTestStore, testStoreKind, user, testToken } from '../helpers.js';

let app: FastifyInstance | undefined;
let store: Store | undefined;
afterEach(async () => {
  await app?.close();
  await store?.close();
  app = store = undefined;
});

/** An application with a JSON route of its own and the SCIM API at /api/scim; `logs` collects its log lines. */
async function application(options: { failingLists?: boolean } = {}) {
  store = await openTestStore(testStoreKind());
  const { token } = await testToken(store, { name: 'app' });
  const lines: string[] = [];
  const logs = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  app = Fastify({ logger: { level: 'error', stream: logs } });
  const requestIds: string[] = [];
  app.addHook('onRequest', async (req) => void requestIds.push(req.id));
  app.post('/echo', async (req) => ({ echoed: req.body }));
  // request bodies sent gzipped are inflated before any parser sees them, counting what was sent for Content-Length
  app.addHook('preParsing', async (req, _reply, payload) => {
    if (req.headers['content-encoding'] !== 'gzip') return payload;
    const inflated: Transform & { receivedEncodedLength?: number } = createGunzip();
    inflated.receivedEncodedLength = 0;
    payload.on('data', (chunk: Buffer) => (inflated.receivedEncodedLength! += chunk.length));
    return payload.pipe(inflated);
  });
  const scimStore = options.failingLists ? (Object.create(store, { listResources: { value: async () => Promise.reject(new Error('disk on fire')) } }) as Store) : store;
  await app.register(scimPlugin, { prefix: '/api/scim', scim: createScim({ store: scimStore }), store, bodyLimit: 4096 });
  return { app, token, lines, requestIds };
}

describe('scimPlugin', () => {
  it('serves SCIM under its prefix, leaving the application its own parsers and routes', async () => {
    const { app, token } = await application();
    const auth = { authorization: `Bearer ${token}` };
    const created = await app.inject({ method: 'POST', url: '/api/scim/Users', headers: { ...auth, 'content-type': 'application/scim+json' }, payload: user('mounted') });
    expect([created.statusCode, created.headers.location]).toEqual([201, `http://localhost:80/api/scim/Users/${created.json().id}`]);
    const json = await app.inject({ method: 'POST', url: '/api/scim/Users', headers: { ...auth, 'content-type': 'application/json' }, payload: user('json') });
    expect(json.statusCode).toBe(201);
    const text = await app.inject({ method: 'POST', url: '/api/scim/Users', headers: { ...auth, 'content-type': 'text/plain' }, payload: JSON.stringify(user('text')) });
    expect(text.statusCode).toBe(415);
    const listed = await app.inject({ method: 'GET', url: '/api/scim/Users?filter=userName%20eq%20%22mounted%22', headers: auth });
    expect(listed.json().totalResults).toBe(1);
    expect((await app.inject({ method: 'GET', url: '/api/scim/a/b/c' })).json().detail).toBe('There is no endpoint GET /api/scim/a/b/c.');
    // the application's JSON route still has Fastify's JSON parser, and its text/plain is still read
    const echoed = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' });
    expect(echoed.json()).toEqual({ echoed: { a: 1 } });
    expect((await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: 'hi' })).json()).toEqual({ echoed: 'hi' });
  });

  it('reads a body as the application\'s preParsing hooks leave it (here: inflated)', async () => {
    const { app, token } = await application();
    const payload = gzipSync(JSON.stringify(user('zipped')));
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', 'content-encoding': 'gzip' };
    const res = await app.inject({ method: 'POST', url: '/api/scim/Users', headers, payload });
    expect([res.statusCode, res.json().userName]).toEqual([201, 'zipped']);
  });

  it('a Content-Type Fastify cannot parse reaches the handler, which authenticates before refusing it', async () => {
    const { app, token } = await application();
    const send = (authorization: string) =>
      app.inject({ method: 'POST', url: '/api/scim/Users', headers: { authorization, 'content-type': 'application/json, text/plain' }, payload: user('x') });
    const anonymous = await send('Bearer nope');
    expect([anonymous.statusCode, anonymous.headers['content-type']]).toEqual([401, 'application/scim+json; charset=utf-8']);
    const known = await send(`Bearer ${token}`);
    expect([known.statusCode, known.json().detail]).toEqual([415, 'Send the body as "application/scim+json" or "application/json".']);
  });

  it('a body the handler never reads does not hold up the next request on the connection', async () => {
    const { app, token } = await application();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const body = JSON.stringify(user('unread', { displayName: 'x'.repeat(3000) }));
    const refused = `POST /api/scim/Users HTTP/1.1\r\nhost: h\r\nauthorization: Bearer nope\r\ncontent-type: application/scim+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const next = `GET /api/scim/Users HTTP/1.1\r\nhost: h\r\nauthorization: Bearer ${token}\r\n\r\n`;
    const answers = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(refused + next));
      let text = '';
      socket.on('data', (d) => {
        text += d;
        if ((text.match(/HTTP\/1\.1 /g) ?? []).length === 2 && text.includes('"Resources"')) socket.end(() => resolve(text));
      });
      socket.on('error', reject);
    });
    expect(answers.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 401', 'HTTP/1.1 200']);
  });

  it('a failure answered with 500 is logged by the logger of its request', async () => {
    const { app, token, lines, requestIds } = await application({ failingLists: true });
    const res = await app.inject({ method: 'GET', url: '/api/scim/Users', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(500);
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request failed');
    expect(logged).toMatchObject([{ level: 50, reqId: requestIds.at(-1), err: { message: 'disk on fire' } }]);
  });

  it('an answer that cannot be sent goes to the error handler as a 500, as an async handler\'s failure would', async () => {
    app = Fastify({ logger: false });
    // a handler given ready, answering with a status no HTTP response can have: Fastify refuses it as it is set
    await app.register(scimPlugin, { prefix: '/api/scim', handler: async () => ({ status: 7000, headers: {}, body: '{}' }) });
    const res = await app.inject({ method: 'GET', url: '/api/scim/Users' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ statusCode: 500, code: 'FST_ERR_BAD_STATUS_CODE' });
  });
});
