/**
 * The adapters over the one handler — node.ts (node:http, Express 4 and 5), fetch.ts (Request → Response) and the
 * Fastify plugin — held to the same answers: each only translates, so each answers as the handler does, with every
 * URL under the public URL of its mount. Then what each has of its own: mounts, parsed bodies, hooks.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScim, type Scim } from '../../src/core/scim.js';
import type { Store } from '../../src/core/ports.js';
import type { RequestContext } from '../../src/core/tokens.js';
import { createScimHandler, type HttpRequest, type ScimHandlerSource } from '../../src/http/handler.js';
import { createNodeHandler, mountPrefix, splitBelow } from '../../src/http/node.js';
import { createFetchHandler } from '../../src/http/fetch.js';
import scimd, { scimPlugin } from '../../src/http/fastify.js';
import { openTestStore, testStoreKind, testToken, user } from '../helpers.js';

const BODY_LIMIT = 4096;
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

let store: Store;
let scim: Scim;
let token: string;
let options: ScimHandlerSource;
beforeAll(async () => {
  store = await openTestStore(testStoreKind());
  scim = createScim({ store });
  token = (await testToken(store, { name: 'adapters' })).token;
  options = { scim, store, bodyLimit: BODY_LIMIT };
});
afterAll(() => store?.close());

/** An adapter mounted at /scim/v2: `base` is the SCIM root's URL, `send` a fetch to it. */
interface Mounted {
  readonly base: string;
  send(url: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

async function listening(server: Server, path: string): Promise<Mounted> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { base: `http://127.0.0.1:${port}${path}`, send: fetch, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const ADAPTERS: { readonly name: string; mount(source: ScimHandlerSource): Promise<Mounted> }[] = [
  { name: 'node:http, with a prefix', mount: (source) => listening(createServer(createNodeHandler({ ...source, prefix: '/scim/v2/' })), '/scim/v2') },
  ...[['Express 5', express], ['Express 4', express4]].map(([name, framework]) => ({
    name: `${name}, mounted with app.use`,
    mount: (source: ScimHandlerSource) => {
      const app = (framework as typeof express)();
      app.use('/scim/v2', createNodeHandler(source));
      return listening(createServer(app), '/scim/v2');
    },
  })),
  {
    name: 'fetch handler',
    mount: async (source) => {
      const handle = createFetchHandler({ ...source, prefix: '/scim/v2' });
      return { base: 'http://scim.test/scim/v2', send: (url, init) => handle(new Request(url, init)), close: async () => {} };
    },
  },
  {
    name: 'Fastify plugin',
    mount: async (source) => {
      // the application decides its request ids: here, the client's X-Request-Id when sent
      const app = Fastify({ requestIdHeader: 'x-request-id' });
      await app.register(scimd, { prefix: '/scim/v2', ...source });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as { port: number };
      return { base: `http://127.0.0.1:${port}/scim/v2`, send: fetch, close: () => app.close() };
    },
  },
];

const auth = () => ({ authorization: `Bearer ${token}` });
const json = (body: unknown, type = 'application/scim+json') => ({ method: 'POST', headers: { ...auth(), 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`;

describe.each(ADAPTERS)('$name', (adapter) => {
  let m: Mounted;
  beforeAll(async () => {
    m = await adapter.mount(options);
  });
  afterAll(() => m?.close());

  it('creates under the full public URL of its mount: Location and meta.location name the resource', async () => {
    const res = await m.send(`${m.base}/Users`, json(user(unique('located'))));
    const body = await res.json();
    expect([res.status, res.headers.get('location'), body.meta.location]).toEqual([201, `${m.base}/Users/${body.id}`, `${m.base}/Users/${body.id}`]);
    const got = await m.send(res.headers.get('location')!, { headers: auth() });
    expect([got.status, (await got.json()).id, got.headers.get('etag')]).toEqual([200, body.id, 'W/"1"']);
    const listed = await m.send(`${m.base}/Users?filter=${encodeURIComponent(`userName eq "${body.userName}"`)}`, { headers: auth() });
    expect((await listed.json()).totalResults).toBe(1);
  });

  it('HEAD answers what GET would, without the body', async () => {
    const got = await m.send(`${m.base}/ServiceProviderConfig`, { headers: auth() });
    const text = await got.text();
    const head = await m.send(`${m.base}/ServiceProviderConfig`, { method: 'HEAD', headers: auth() });
    expect([head.status, head.headers.get('content-length'), head.headers.get('content-type'), await head.text()]).toEqual([200, String(Buffer.byteLength(text)), got.headers.get('content-type'), '']);
  });

  it('a path or method with no route is a SCIM 404 that names the path as sent', async () => {
    for (const method of ['PUT', 'PROPFIND']) {
      const res = await m.send(`${m.base}/Users`, { method, headers: auth() });
      expect([res.status, res.headers.get('content-type'), await res.json()]).toEqual([404, 'application/scim+json; charset=utf-8', { schemas: [ERROR], status: '404', detail: `There is no endpoint ${method} /scim/v2/Users.` }]);
    }
  });

  it('bodies: over the limit 413, not JSON 415, malformed 400, each a SCIM error', async () => {
    const cases = [
      [json(user('x', { title: 'x'.repeat(BODY_LIMIT) })), 413, 'tooLarge'],
      [json(user('x'), 'text/plain'), 415, undefined],
      [json('{"userName":', 'application/json'), 400, 'invalidSyntax'],
    ] as const;
    for (const [init, status, scimType] of cases) {
      const res = await m.send(`${m.base}/Users`, init);
      const error = await res.json();
      expect([res.status, error.schemas, error.status, error.scimType], init.headers['content-type']).toEqual([status, [ERROR], String(status), scimType]);
    }
  });

  it('refuses a request without a valid token with a SCIM 401', async () => {
    const res = await m.send(`${m.base}/Users`, { headers: { authorization: 'Bearer nope' } });
    expect([res.status, res.headers.get('content-type'), (await res.json()).schemas]).toEqual([401, 'application/scim+json; charset=utf-8', [ERROR]]);
  });

  it("answers with the client's request id, or one of its own", async () => {
    const given = await m.send(`${m.base}/Users?count=1`, { headers: { ...auth(), 'x-request-id': 'req-42' } });
    expect(given.headers.get('x-request-id')).toBe('req-42');
    const own = await m.send(`${m.base}/Users?count=1`, { headers: auth() });
    expect(own.headers.get('x-request-id')).toMatch(/^[\w.:-]{1,128}$/);
  });

  it('takes a ready handler as well as the options to build one', async () => {
    const ready = await adapter.mount({ handler: createScimHandler({ scim, store, bodyLimit: 10 }) });
    try {
      const res = await ready.send(`${ready.base}/Users`, json(user(unique('ready'))));
      expect([res.status, (await res.json()).detail]).toEqual([413, 'The request body is larger than the limit of 10 bytes.']);
    } finally {
      await ready.close();
    }
  });
});

/** An authenticate hook that records what the adapter told the handler of each request. */
async function recordingHook() {
  const org = await store.ensureOrganization('default');
  const seen: HttpRequest[] = [];
  const authenticate = async (request: HttpRequest): Promise<RequestContext> => {
    seen.push(request);
    return { orgId: org.id, tokenId: 'app-session', tokenName: 'app', dialect: 'rfc' };
  };
  return { seen, authenticate };
}

describe('createNodeHandler', () => {
  it('splitBelow: the target below a prefix, compared case-insensitively, or undefined outside it', () => {
    expect(splitBelow('/SCIM/v2/Users?x=1', '/scim/v2')).toEqual({ path: '/Users', query: 'x=1' });
    expect(splitBelow('/scim/v2?x', '/scim/v2')).toEqual({ path: '', query: 'x' });
    expect(splitBelow('/scim/v2x/Users', '/scim/v2')).toBeUndefined();
    expect(splitBelow('/other', '/scim/v2')).toBeUndefined();
    expect(splitBelow('/Users', '')).toEqual({ path: '/Users', query: '' });
    expect(['/scim/v2/', 'scim/v2', '/', undefined].map(mountPrefix)).toEqual(['/scim/v2', '/scim/v2', '', '']);
  });

  it('on a bare node:http server, a request outside its prefix is a SCIM 404', async () => {
    const m = await listening(createServer(createNodeHandler({ ...options, prefix: '/scim/v2' })), '');
    try {
      const res = await fetch(`${m.base}/other?x=1`, { method: 'POST', headers: { ...auth(), 'content-type': 'text/plain' }, body: 'x' });
      expect([res.status, (await res.json()).detail]).toEqual([404, 'There is no endpoint POST /other.']);
    } finally {
      await m.close();
    }
  });

  it('in Express: URLs carry every mount above it, a request outside its prefix goes on to the next route, and a trusted proxy is believed', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    const router = express.Router();
    router.use(createNodeHandler({ ...options, prefix: '/scim/v2' }));
    app.use('/api', router);
    app.get('/api/health', (_req, res) => void res.send('ok'));
    const m = await listening(createServer(app), '/api');
    try {
      const created = await fetch(`${m.base}/scim/v2/Users`, { ...json(user(unique('nested'))), headers: { ...json({}).headers, 'x-forwarded-proto': 'https' } });
      const body = await created.json();
      expect([created.status, created.headers.get('location')]).toEqual([201, `${m.base.replace('http:', 'https:')}/scim/v2/Users/${body.id}`]);
      expect(await (await fetch(`${m.base}/health`)).text()).toBe('ok');
    } finally {
      await m.close();
    }
  });

  describe.each([['Express 5', express], ['Express 4', express4]] as const)('%s with its express.json() mounted before it', (_name, framework) => {
    let m: Mounted;
    beforeAll(async () => {
      const app = (framework as typeof express)();
      app.use((framework as typeof express).json({ limit: '1mb' }));
      app.use('/scim/v2', createNodeHandler(options));
      m = await listening(createServer(app), '/scim/v2');
    });
    afterAll(() => m?.close());

    it("takes the parser's body, and checks it as its own: depth, prototype keys, size", async () => {
      const created = await fetch(`${m.base}/Users`, json(user(unique('parsed')), 'application/json'));
      expect(created.status).toBe(201);
      const deep = '['.repeat(20_000) + ']'.repeat(20_000);
      const cases = [
        [json(`{"schemas":["x"],"title":${deep}}`, 'application/json'), 400, 'The request body nests arrays and objects deeper than 64 levels; no SCIM request is that deep.'],
        [json('{"schemas":[],"__proto__":{"admin":true}}', 'application/json'), 400, "The request body is not valid JSON: Body is not valid JSON but content-type is set to 'application/json'."],
        [json(user('big', { title: 'x'.repeat(BODY_LIMIT) }), 'application/json'), 413, `The request body is larger than the limit of ${BODY_LIMIT} bytes.`],
      ] as const;
      for (const [init, status, detail] of cases) {
        const res = await fetch(`${m.base}/Users`, init);
        expect([res.status, (await res.json()).detail]).toEqual([status, detail]);
      }
      // a body the parser did not take (its media type is not application/json) is read from the stream
      expect((await fetch(`${m.base}/Users`, json(user(unique('raw'))))).status).toBe(201);
    });
  });

  it('a body read before it, with nothing left in req.body, is a 500 the application is told of (never a wait)', async () => {
    const failures: unknown[] = [];
    const handler = createNodeHandler({ ...options, prefix: '/scim/v2', onError: (e) => void failures.push(e) });
    const m = await listening(createServer((req, res) => void req.on('end', () => handler(req, res)).resume()), '/scim/v2');
    try {
      const res = await fetch(`${m.base}/Users`, json(user('lost')));
      expect([res.status, (await res.json()).schemas]).toEqual([500, [ERROR]]);
      expect(String(failures)).toMatch(/mount it before any middleware that reads bodies/);
    } finally {
      await m.close();
    }
  });

  it("a hook that throws goes to Express's error handling, and on a bare server closes the connection", async () => {
    const throwing = { scim, store, bodyLimit: BODY_LIMIT, authenticate: () => Promise.reject(new Error('down')), onError: () => { throw new Error('logger down'); } };
    const app = express();
    app.use('/scim/v2', createNodeHandler(throwing));
    app.use((error: Error, _req: IncomingMessage, res: express.Response, _next: express.NextFunction) => void res.status(502).send(error.message));
    const m = await listening(createServer(app), '/scim/v2');
    const bare = await listening(createServer(createNodeHandler(throwing)), '');
    try {
      const res = await fetch(`${m.base}/Users`);
      expect([res.status, await res.text()]).toEqual([502, 'logger down']);
      await expect(fetch(`${bare.base}/Users`)).rejects.toThrow('fetch failed');
    } finally {
      await m.close();
      await bare.close();
    }
  });
});

describe('createFetchHandler', () => {
  it('tells the handler the origin, mount, request id, (when asked) the client address and what the application hands along; outside its prefix, 404', async () => {
    const { seen, authenticate } = await recordingHook();
    const handle = createFetchHandler({ scim, authenticate, bodyLimit: BODY_LIMIT, prefix: '/api/scim', clientAddress: (r) => r.headers.get('x-client') ?? undefined });
    const context = { user: 'ada' };
    const request = new Request('https://app.test:8443/api/scim/Users?count=1', { headers: { 'x-client': '203.0.113.9', 'x-request-id': 'r-1' } });
    const res = await handle(request, context);
    expect(res.status).toBe(200);
    expect(seen.map((r) => [r.origin, r.prefix, r.path, r.query, r.requestId, r.clientAddress, r.url])).toEqual([['https://app.test:8443', '/api/scim', '/Users', 'count=1', 'r-1', '203.0.113.9', '/api/scim/Users?count=1']]);
    expect(seen[0]!.raw).toBe(request);
    expect(seen[0]!.context).toBe(context);
    const outside = await handle(new Request('https://app.test:8443/api/other'));
    expect([outside.status, (await outside.json()).detail]).toEqual([404, 'There is no endpoint GET /api/other.']);
  });

  it('reads a streamed body (no Content-Length) under the limit, and stops past it', async () => {
    const handle = createFetchHandler({ ...options, prefix: '/scim/v2' });
    const stream = (text: string, times: number) =>
      new ReadableStream({
        start(controller) {
          for (let i = 0; i < times; i++) controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });
    const send = (body: ReadableStream) => handle(new Request('http://scim.test/scim/v2/Users', { method: 'POST', headers: { ...auth(), 'content-type': 'application/scim+json' }, body, duplex: 'half' } as RequestInit));
    const ok = await send(stream(JSON.stringify(user(unique('streamed'))), 1));
    expect(ok.status).toBe(201);
    const tooLarge = await send(stream('x'.repeat(1024), 5));
    expect([tooLarge.status, tooLarge.headers.get('connection'), (await tooLarge.json()).scimType]).toEqual([413, 'close', 'tooLarge']);
  });
});

describe('scimd/fastify', () => {
  it('its default export is the plugin', () => {
    expect(scimd).toBe(scimPlugin);
  });
});
