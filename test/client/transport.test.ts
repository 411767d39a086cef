/**
 * The client against a small local server: 429 and 503 sent again after Retry-After (seconds and HTTP-date) or a
 * backoff; a request that got no answer sent again only when idempotent; bearer, basic and OAuth 2.0 client
 * credentials (token fetched, cached until it expires, fetched again once on 401).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BulkRequest, ScimClient, ScimClientError, ScimError, ScimTransportError, type Credentials } from '../../src/client/index.js';
import { retryAfterMs } from '../../src/client/transport.js';
import { localServer, type LocalAnswer, type LocalRequest, type LocalServer } from './local-server.js';

const USER = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: 'u1', userName: 'u' };
const ok: LocalAnswer = { status: 200, body: USER };
let servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(answer: (req: LocalRequest, n: number) => LocalAnswer | 'cut' | Promise<LocalAnswer | 'cut'>) {
  let n = 0;
  const s = await localServer((req) => answer(req, ++n));
  servers.push(s);
  return s;
}

const clientOf = (s: LocalServer, options: { credentials?: Credentials; nonIdempotent?: boolean; maxDelayMs?: number } = {}) =>
  new ScimClient({
    baseUrl: `${s.url}/scim/v2/`,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retry: { baseDelayMs: 10, retries: 2, ...(options.nonIdempotent ? { nonIdempotent: true } : {}), ...(options.maxDelayMs ? { maxDelayMs: options.maxDelayMs } : {}) },
  });

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = Date.now();
  const out = await run();
  return [out, Date.now() - start];
}

describe('Retry-After', () => {
  it('reads delay-seconds and an HTTP-date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(5000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:29:00 GMT'))).toBe(0);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });

  it('waits the seconds a 429 asks for, then sends the request again (a POST too)', async () => {
    const s = await serve((_, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 201, body: USER }));
    const [created, ms] = await timed(() => clientOf(s).users.create({ schemas: USER.schemas, userName: 'u' }));
    expect(created.resource.id).toBe('u1');
    expect(s.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect(ms).toBeGreaterThanOrEqual(1000);
  });

  it('waits until the HTTP-date a 503 names', async () => {
    const s = await serve((_, n) => (n === 1 ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } } : ok));
    const [, ms] = await timed(() => clientOf(s).users.get('u1'));
    expect(s.requests).toHaveLength(2);
    expect(ms).toBeGreaterThanOrEqual(900); // the date has whole seconds: between 1 and 2 s from now
  });

  it('backs off without Retry-After, and gives up after the retries with the last answer', async () => {
    const s = await serve(() => ({ status: 503, body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '503', detail: 'down' } }));
    const e = await clientOf(s).users.get('u1').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ScimClientError);
    expect(e).toMatchObject({ status: 503, detail: 'down', method: 'GET' });
    expect(s.requests).toHaveLength(3);
  });

  it('does not wait longer than maxDelayMs: a longer Retry-After ends the retries', async () => {
    const s = await serve(() => ({ status: 429, headers: { 'retry-after': '120' } }));
    const e = await clientOf(s, { maxDelayMs: 1000 }).users.get('u1').catch((x: unknown) => x);
    expect(e).toMatchObject({ status: 429 });
    expect(s.requests).toHaveLength(1);
  });
});

describe('network errors', () => {
  it('an idempotent request is sent again', async () => {
    const s = await serve((_, n) => (n === 1 ? 'cut' : ok));
    expect((await clientOf(s).users.get('u1')).resource.id).toBe('u1');
    expect(s.requests).toHaveLength(2);
  });

  it('a POST or PATCH is not sent again, unless asked: it may have been applied', async () => {
    const s = await serve(() => 'cut');
    const e = await clientOf(s).users.create({ schemas: USER.schemas, userName: 'u' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ScimTransportError);
    expect(e).toMatchObject({ method: 'POST' });
    expect(s.requests).toHaveLength(1);
    await clientOf(s, { nonIdempotent: true }).users.create({ schemas: USER.schemas, userName: 'u' }).catch(() => undefined);
    expect(s.requests).toHaveLength(4);
  });
});

describe('time limit', () => {
  it('an attempt that takes longer than timeoutMs has no answer', async () => {
    const s = await serve(async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return ok;
    });
    const client = new ScimClient({ baseUrl: `${s.url}/scim/v2`, timeoutMs: 100, retry: { retries: 0 } });
    // the server does answer, after 500 ms: only the time limit makes this an error
    expect(await client.users.get('u1').catch((x: unknown) => x)).toBeInstanceOf(ScimTransportError);
  });
});

describe('discovery', () => {
  it('reads bare arrays as well as ListResponses, takes what is not advertised as unsupported, and asks again after a failure', async () => {
    const s = await serve((req, n) => {
      if (req.url.endsWith('/ServiceProviderConfig')) return n === 1 ? { status: 500 } : { status: 200, body: { patch: { supported: false }, bulk: { supported: true } } };
      if (req.url.endsWith('/ResourceTypes')) return { status: 200, body: [{ name: 'User', endpoint: '/Users', schema: 'urn:x:User' }] };
      if (req.url.endsWith('/Schemas')) return { status: 200, body: { Resources: [] } };
      return ok;
    });
    const client = new ScimClient({ baseUrl: `${s.url}/scim/v2`, retry: { retries: 0 } });
    expect(await client.discover().catch((x: unknown) => x)).toMatchObject({ status: 500 });
    const { features, resourceTypes } = await client.discover();
    expect(resourceTypes.map((r) => r.endpoint)).toEqual(['/Users']);
    expect(features).toMatchObject({ patch: false, etag: false, sort: false, filter: { supported: false }, bulk: { supported: true, maxOperations: 1 }, pagination: { cursor: false, index: true } });
    // no PATCH, and no schema to apply one here with: refused before anything is written
    const before = s.requests.length;
    const e = await client.users.patch('u1', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: 'title' }] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ScimError);
    expect(e).toMatchObject({ status: 501 });
    expect(s.requests.slice(before)).toEqual([]);
  });
});

describe('Bulk answers', () => {
  it('are matched to the operations by bulkId when the server answers them in another order', async () => {
    const s = await serve((req) => {
      if (req.url.endsWith('/ServiceProviderConfig')) return { status: 200, body: { bulk: { supported: true, maxOperations: 10, maxPayloadSize: 100000 } } };
      if (!req.url.endsWith('/Bulk')) return { status: 404 };
      const ops = JSON.parse(req.body).Operations as { bulkId: string }[];
      return { status: 200, body: { Operations: ops.map((op) => ({ method: 'POST', bulkId: op.bulkId, status: '201', location: `${s.url}/scim/v2/Users/id-of-${op.bulkId}` })).reverse() } };
    });
    const request = new BulkRequest().post('Users', { userName: 'a' }, 'a').post('Users', { userName: 'b' }, 'b').post('Users', { userName: 'c' }, 'c');
    const outcomes = await clientOf(s).bulk(request);
    expect(outcomes.map((o) => [o.bulkId, o.id])).toEqual([['a', 'id-of-a'], ['b', 'id-of-b'], ['c', 'id-of-c']]);
  });
});

describe('Bulk requests at once', () => {
  /** A Bulk server of two operations a request that answers each request only when the test lets it go. */
  async function heldServer() {
    const held: { ops: { bulkId?: string; data?: { manager?: string } }[]; release: () => void }[] = [];
    let inFlight = 0;
    let most = 0;
    const s = await serve(async (req) => {
      if (req.url.endsWith('/ServiceProviderConfig')) return { status: 200, body: { bulk: { supported: true, maxOperations: 2, maxPayloadSize: 100000 } } };
      if (!req.url.endsWith('/Bulk')) return { status: 404 };
      const ops = JSON.parse(req.body).Operations as { bulkId: string; data: { manager?: string } }[];
      most = Math.max(most, ++inFlight);
      await new Promise<void>((release) => held.push({ ops, release }));
      inFlight--;
      return { status: 200, body: { Operations: ops.map((op) => ({ method: 'POST', bulkId: op.bulkId, status: '201', location: `${s.url}/scim/v2/Users/id-of-${op.bulkId}` })) } };
    });
    return { s, held, most: () => most };
  }
  const until = async (check: () => boolean) => {
    while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it('keeps `concurrency` requests in flight; one naming a POST of a request in flight waits for its answer', async () => {
    const { s, held, most } = await heldServer();
    const request = new BulkRequest();
    // a0..a3 stand alone (two requests); b0 and b1 name a1, whose id is known only once the first request is answered
    for (let i = 0; i < 4; i++) request.post('Users', { userName: `a${i}` }, `a${i}`);
    request.post('Users', { userName: 'b0', manager: 'bulkId:a1' }, 'b0').post('Users', { userName: 'b1', manager: 'bulkId:a1' }, 'b1');
    const run = clientOf(s).bulk(request, { concurrency: 3 });
    await until(() => held.length === 2);
    // the third request waits for the first's answer, though a third may be in flight
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(held).toHaveLength(2);
    held[1]!.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(held).toHaveLength(2);
    held[0]!.release();
    await until(() => held.length === 3);
    expect(held[2]!.ops.map((op) => op.data?.manager)).toEqual(['id-of-a1', 'id-of-a1']);
    held[2]!.release();
    const outcomes = await run;
    expect(outcomes.map((o) => o.id)).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1'].map((b) => `id-of-${b}`));
    expect(most()).toBe(2);
  });

  it('sends one request at a time by default and with failOnErrors', async () => {
    for (const options of [{}, { concurrency: 4, failOnErrors: 5 }]) {
      const { s, held, most } = await heldServer();
      const request = new BulkRequest();
      for (let i = 0; i < 6; i++) request.post('Users', { userName: `c${i}` }, `c${i}`);
      const run = clientOf(s).bulk(request, options);
      for (let n = 1; n <= 3; n++) {
        await until(() => held.length === n);
        held[n - 1]!.release();
      }
      expect(await run).toHaveLength(6);
      expect(most()).toBe(1);
    }
  });
});

describe('authentication', () => {
  it('sends a bearer token and basic credentials', async () => {
    const s = await serve(() => ok);
    await clientOf(s, { credentials: { bearer: 'T1' } }).users.get('u1');
    await clientOf(s, { credentials: { basic: { username: 'ann', password: 'p:w' } } }).users.get('u1');
    expect(s.requests.map((r) => r.headers.authorization)).toEqual(['Bearer T1', `Basic ${Buffer.from('ann:p:w').toString('base64')}`]);
  });

  /** A token endpoint and a SCIM endpoint that accepts only the tokens listed in `valid`. */
  async function oauth(expiresIn: number) {
    const issued: string[] = [];
    const valid = new Set<string>();
    const state = { refuseAll: false };
    const s = await serve((req) => {
      if (req.url === '/token') {
        const form = new URLSearchParams(req.body);
        if (req.headers.authorization !== `Basic ${Buffer.from('app:s3cret').toString('base64')}` || form.get('grant_type') !== 'client_credentials') {
          return { status: 401, body: { error: 'invalid_client' } };
        }
        const token = `tok${issued.length + 1}`;
        issued.push(token);
        valid.add(token);
        return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope: form.get('scope') } };
      }
      return !state.refuseAll && valid.has(req.headers.authorization?.replace('Bearer ', '') ?? '') ? ok : { status: 401, body: { detail: 'no' } };
    });
    const credentials: Credentials = { clientCredentials: { tokenUrl: `${s.url}/token`, clientId: 'app', clientSecret: 's3cret', scope: 'scim' } };
    return { s, issued, valid, state, client: clientOf(s, { credentials }) };
  }

  it('client credentials: one token fetched for many requests while it lasts', async () => {
    const { s, issued, client } = await oauth(3600);
    await Promise.all([client.users.get('u1'), client.users.get('u1')]);
    await client.users.get('u1');
    expect(issued).toEqual(['tok1']);
    expect(s.requests.filter((r) => r.url !== '/token').map((r) => r.headers.authorization)).toEqual(['Bearer tok1', 'Bearer tok1', 'Bearer tok1']);
    expect(new URLSearchParams(s.requests[0]!.body).get('scope')).toBe('scim');
  });

  it('client credentials: a token about to expire is fetched again', async () => {
    const { issued, client } = await oauth(30); // within the 30 s margin: expired at once
    await client.users.get('u1');
    await client.users.get('u1');
    expect(issued).toEqual(['tok1', 'tok2']);
  });

  it('client credentials: a 401 fetches a new token once and sends the request again', async () => {
    const { s, issued, valid, state, client } = await oauth(3600);
    await client.users.get('u1');
    valid.clear(); // revoked
    await client.users.get('u1');
    expect(issued).toEqual(['tok1', 'tok2']);
    // a server that refuses every token: one new token, then the 401
    state.refuseAll = true;
    const refusing = s.requests.length;
    const e = await client.users.get('u1').catch((x: unknown) => x);
    expect(e).toMatchObject({ status: 401 });
    expect(s.requests.slice(refusing).map((r) => r.url)).toEqual(['/scim/v2/Users/u1', '/token', '/scim/v2/Users/u1']);
  });

  it('client credentials: a refused token request is a ScimClientError naming the token endpoint', async () => {
    const { s } = await oauth(3600);
    const client = clientOf(s, { credentials: { clientCredentials: { tokenUrl: `${s.url}/token`, clientId: 'app', clientSecret: 'wrong' } } });
    const e = await client.users.get('u1').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ScimClientError);
    expect(e).toMatchObject({ status: 401, detail: 'invalid_client', method: 'POST', url: `${s.url}/token` });
  });
});
