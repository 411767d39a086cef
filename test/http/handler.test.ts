/**
 * http/handler.ts driven directly with plain requests, no web framework: the SCIM API's HTTP rules in one place —
 * routes and their precedence, paths, HEAD, media types, body limits, JSON, conditional requests, per-dialect
 * answers, URLs, authentication (scimd's bearer tokens or an application's own), rate limits and failures.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScim, type Scim } from '../../src/core/scim.js';
import type { RequestContext } from '../../src/core/tokens.js';
import { scimErrors } from '../../src/core/errors.js';
import { createScimHandler, requestIdOf, type HttpRequest, type HttpResponse, type ScimHandler, type ScimHandlerOptions } from '../../src/http/handler.js';
import { readNodeBody } from '../../src/http/node.js';
import type { RateLimiter } from '../../src/http/rate-limit.js';
import { StoreUnavailable } from '../../src/core/errors.js';
import type { Store } from '../../src/core/ports.js';
import { USER, openTestStore, testStoreKind, user, testToken } from '../helpers.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const BODY_LIMIT = 1024;
const BULK_LIMIT = 4096;

let store: Store;
let scim: Scim;
let token: string;
let entraToken: string;
let handle: ScimHandler;

beforeAll(async () => {
  store = await openTestStore(testStoreKind());
  scim = createScim({ store, bulk: { maxPayloadSize: BULK_LIMIT } });
  token = (await testToken(store, { name: 'rfc' })).token;
  entraToken = (await testToken(store, { name: 'entra', dialect: 'entra' })).token;
  handle = createScimHandler({ scim, store, bodyLimit: BODY_LIMIT, publicUrl: 'https://scim.example.com//' });
});
afterAll(() => store?.close());

interface Options {
  /** Sent as JSON unless a string; with a Content-Type of application/scim+json unless `headers` say otherwise. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** The bearer token; null sends no Authorization header. */
  readonly token?: string | null;
}

/** A plain request as an adapter makes it: `target` is below the SCIM root, with its query; reads are counted. */
function plain(method: string, target: string, options: Options = {}): HttpRequest & { readonly reads: number[] } {
  const [path = '', query = ''] = target.split(/\?(.*)/s);
  const text = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    ...(options.token === null ? {} : { authorization: `Bearer ${options.token ?? token}` }),
    ...(text !== undefined ? { 'content-type': 'application/scim+json', 'content-length': String(Buffer.byteLength(text)) } : {}),
    ...options.headers,
  };
  const reads: number[] = [];
  return {
    method,
    path,
    query,
    headers,
    readBody: (limit) => {
      reads.push(limit);
      return readNodeBody(Readable.from(text === undefined ? [] : [Buffer.from(text)]), headers, limit);
    },
    origin: 'http://scimd.internal:8080',
    prefix: '/scim/v2',
    requestId: 'req-1',
    clientAddress: '192.0.2.1',
    reads,
  };
}

function parsed(res: HttpResponse): any {
  return res.body === undefined ? undefined : JSON.parse(res.body);
}

async function created(body: unknown = user(`u${Math.random().toString(36).slice(2)}`)): Promise<{ id: string; etag: string }> {
  const res = await handle(plain('POST', '/Users', { body }));
  expect(res.status, res.body).toBe(201);
  return { id: parsed(res).id, etag: res.headers.etag! };
}

describe('routes', () => {
  it('fixed names win over /{endpoint}: discovery, Bulk, .search and /Me', async () => {
    const schemas = parsed(await handle(plain('GET', '/Schemas')));
    expect(schemas.Resources.map((r: { id: string }) => r.id)).toContain(USER);
    expect(parsed(await handle(plain('GET', `/Schemas/${USER}`))).id).toBe(USER);
    expect(parsed(await handle(plain('GET', '/ResourceTypes'))).Resources.map((r: { id: string }) => r.id)).toContain('User');
    expect(parsed(await handle(plain('GET', '/ResourceTypes/User'))).endpoint).toBe('/Users');
    for (const path of ['/ServiceProviderConfig', '/serviceConfiguration']) {
      expect(parsed(await handle(plain('GET', path))).schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    }
    const bulk = await handle(plain('POST', '/Bulk', { body: { schemas: [BULK_REQUEST], Operations: [{ method: 'POST', path: '/Users', bulkId: 'b', data: user('bulked') }] } }));
    expect([bulk.status, parsed(bulk).Operations[0].status]).toEqual([200, '201']);
    const searched = await handle(plain('POST', '/.search', { body: { schemas: [SEARCH_REQUEST], filter: 'userName eq "bulked"' } }));
    expect(parsed(searched).totalResults).toBe(1);
    const searchedUsers = await handle(plain('POST', '/Users/.search', { body: { schemas: [SEARCH_REQUEST], filter: 'userName eq "bulked"' } }));
    expect(parsed(searchedUsers).Resources[0].userName).toBe('bulked');
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      expect((await handle(plain(method, '/Me', method === 'GET' || method === 'DELETE' ? {} : { body: user('me') }))).status, method).toBe(501);
    }
    // /Me/x is not /Me: it is the id x at the endpoint /Me, which does not exist
    expect(parsed(await handle(plain('GET', '/Me/x'))).detail).toBe('There is no resource endpoint "/Me".');
  });

  it('the root lists every resource type; its query parameter names are case-insensitive and the first counts', async () => {
    await created(user('root lister'));
    await created();
    const all = await handle(plain('GET', '', {}));
    expect(parsed(all).totalResults).toBeGreaterThan(1);
    const page = parsed(await handle(plain('GET', '/?COUNT=1&count=5&Count=7')));
    expect(page.itemsPerPage).toBe(1);
    // '+' is a space in a query, and a value keeps its case
    const spaced = parsed(await handle(plain('GET', '/Users?Filter=userName+eq+%22root+lister%22&attributes=userName')));
    expect(spaced.Resources.map((r: { userName: string }) => r.userName)).toEqual(['root lister']);
  });

  it('fixed names and endpoints are matched case-insensitively, ids and parameters keep their case', async () => {
    const { id } = await created();
    expect(parsed(await handle(plain('GET', '/SERVICEPROVIDERCONFIG'))).schemas[0]).toMatch(/ServiceProviderConfig$/);
    expect(parsed(await handle(plain('GET', '/schemas'))).Resources.length).toBeGreaterThan(0);
    expect((await handle(plain('GET', `/users/${id}`))).status).toBe(200);
    expect((await handle(plain('GET', `/Users/${id.toUpperCase()}`))).status).toBe(404);
    expect((await handle(plain('POST', '/bulk', { body: { schemas: [BULK_REQUEST], Operations: [] } }))).status).not.toBe(404);
    expect((await handle(plain('POST', '/users/.SEARCH', { body: { schemas: [SEARCH_REQUEST] } }))).status).toBe(200);
  });

  it('one trailing slash is ignored; segments are percent-decoded', async () => {
    const { id } = await created();
    expect(parsed(await handle(plain('GET', '/Users/'))).schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    expect((await handle(plain('GET', `/Users/${id}/`))).status).toBe(200);
    expect(parsed(await handle(plain('GET', '/'))).schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    // a second slash is an empty id, not the list
    expect(parsed(await handle(plain('GET', '/Users//'))).detail).toBe('User "" not found.');
    expect((await handle(plain('GET', `/%55sers/${id}`))).status).toBe(200);
    expect(parsed(await handle(plain('GET', '/Users%2Fx'))).detail).toBe('There is no resource endpoint "/Users/x".');
  });

  it('a malformed percent-encoding is a SCIM 400, not a 500; a parameter over 100 characters is 414', async () => {
    for (const path of ['/Users/%zz', '/Users/%E9', '/%/x']) {
      const res = await handle(plain('GET', path));
      expect([res.status, res.headers['content-type']], path).toEqual([400, 'application/scim+json; charset=utf-8']);
      expect(parsed(res).detail).toBe(`'/scim/v2${path}' is not a valid url component`);
    }
    const long = await handle(plain('GET', `/Users/${'x'.repeat(101)}`, { token: null }));
    expect([long.status, parsed(long).detail]).toEqual([414, `'/scim/v2/Users/${'x'.repeat(101)}' is exceeding the max param length`]);
    expect((await handle(plain('GET', `/Users/${'x'.repeat(100)}`))).status).toBe(404);
  });

  it('a request that matches no route is 404 without authentication, after its body is read as any other', async () => {
    let asked = 0;
    const counting = createScimHandler({ scim, bodyLimit: BODY_LIMIT, authenticate: async () => (asked++, Promise.reject(scimErrors.unauthorized('no'))) });
    for (const [method, path] of [['GET', '/Users/a/b'], ['PUT', '/Users'], ['POST', '/'], ['PROPFIND', '/Users'], ['OPTIONS', '/Users']] as const) {
      const res = await counting(plain(method, path, { token: null }));
      expect([res.status, parsed(res).detail]).toEqual([404, `There is no endpoint ${method} /scim/v2${path}.`]);
    }
    expect(asked).toBe(0);
    const malformed = await counting(plain('POST', '/a/b/c', { token: null, body: '{' }));
    expect([malformed.status, parsed(malformed).scimType]).toEqual([400, 'invalidSyntax']);
    expect((await counting(plain('GET', '/Users', { token: null }))).status).toBe(401);
    expect(asked).toBe(1);
  });

  it('HEAD answers what GET would, without the body: same status, headers and content-length', async () => {
    const { id, etag } = await created();
    const got = await handle(plain('GET', `/Users/${id}`));
    const head = await handle(plain('HEAD', `/Users/${id}`));
    expect(head).toEqual({ status: 200, headers: { ...got.headers, 'content-length': String(Buffer.byteLength(got.body!)) } });
    expect(await handle(plain('HEAD', `/Users/${id}`, { headers: { 'if-none-match': etag } }))).toEqual({ status: 304, headers: { etag, 'content-length': '0', 'x-request-id': 'req-1' } });
    const missing = await handle(plain('HEAD', '/Users/nope'));
    expect([missing.status, missing.body, Number(missing.headers['content-length'])]).toEqual([404, undefined, expect.any(Number)]);
    expect((await handle(plain('HEAD', '/Me'))).status).toBe(501);
  });
});

describe('bodies', () => {
  it('a body is JSON under application/scim+json, application/json (any parameters, any case) or no Content-Type', async () => {
    for (const type of ['application/json', 'APPLICATION/SCIM+JSON; charset=UTF-8', 'application/json ; x=y']) {
      const res = await handle(plain('POST', '/Users', { body: user(`typed${type.length}`), headers: { 'content-type': type } }));
      expect(res.status, type).toBe(201);
    }
    const bare = plain('POST', '/Users', { body: user('bare') });
    delete (bare.headers as Record<string, string>)['content-type'];
    expect((await handle(bare)).status).toBe(201);
  });

  it('any other media type is 415: after reading (the connection closes), or at once when the header is malformed', async () => {
    const plainText = plain('POST', '/Users', { body: user('text'), headers: { 'content-type': 'text/plain' } });
    const res = await handle(plainText);
    expect([res.status, res.headers.connection, parsed(res).detail]).toEqual([415, 'close', 'Send the body as "application/scim+json" or "application/json".']);
    expect(plainText.reads).toEqual([BODY_LIMIT]);
    const malformed = plain('POST', '/Users', { body: user('text'), headers: { 'content-type': 'application/json, text/plain' } });
    const refused = await handle(malformed);
    expect([refused.status, refused.headers.connection, malformed.reads]).toEqual([415, undefined, []]);
    // authentication comes first
    expect((await handle(plain('POST', '/Users', { body: 'x', token: 'nope', headers: { 'content-type': 'text/plain' } }))).status).toBe(401);
  });

  it('a body over the limit is 413; Bulk allows maxPayloadSize', async () => {
    const body = user('big', { displayName: 'x'.repeat(2000) });
    const res = await handle(plain('POST', '/Users', { body }));
    expect([res.status, res.headers.connection, parsed(res).scimType, parsed(res).detail]).toEqual([413, 'close', 'tooLarge', `The request body is larger than the limit of ${BODY_LIMIT} bytes.`]);
    const bulk = { schemas: [BULK_REQUEST], Operations: [{ method: 'POST', path: '/Users', bulkId: 'big', data: body }] };
    const bulkRequest = plain('POST', '/Bulk', { body: bulk });
    const accepted = await handle(bulkRequest);
    expect([accepted.status, parsed(accepted).Operations[0].status, bulkRequest.reads]).toEqual([200, '201', [BULK_LIMIT]]);
    const tooBig = await handle(plain('POST', '/Bulk', { body: { ...bulk, padding: 'x'.repeat(BULK_LIMIT) } }));
    expect([tooBig.status, parsed(tooBig).detail]).toEqual([413, `The request body is larger than the limit of ${BULK_LIMIT} bytes.`]);
  });

  it('malformed JSON and prototype poisoning are 400 invalidSyntax, and nothing is created', async () => {
    for (const body of ['{"userName":', `{"schemas":["${USER}"],"userName":"poison","__proto__":{"admin":true}}`, `{"schemas":["${USER}"],"userName":"poison2","constructor":{"prototype":{"admin":true}}}`]) {
      const res = await handle(plain('POST', '/Users', { body }));
      expect([res.status, parsed(res).scimType, res.headers.connection], body).toEqual([400, 'invalidSyntax', 'close']);
      expect(parsed(res).detail).toMatch(/^The request body is not valid JSON/);
    }
    expect(parsed(await handle(plain('GET', '/Users?filter=userName%20sw%20%22poison%22'))).totalResults).toBe(0);
  });

  it('no Content-Type and no length is no body: nothing is read; an empty body is no body either', async () => {
    const bodiless = plain('POST', '/Users');
    const res = await handle(bodiless);
    expect([res.status, parsed(res).scimType, bodiless.reads]).toEqual([400, 'invalidSyntax', []]);
    const empty = plain('DELETE', '/Users/nope', { body: '' });
    expect([(await handle(empty)).status, empty.reads]).toEqual([404, [BODY_LIMIT]]);
    const get = plain('GET', '/Users', { body: '{' });
    expect([(await handle(get)).status, get.reads]).toEqual([200, []]);
  });
});

describe('responses', () => {
  it('201 with Location and ETag, under the public URL (trailing slashes dropped) or else the request origin', async () => {
    const res = await handle(plain('POST', '/Users', { body: user('located') }));
    const body = parsed(res);
    expect(res.headers).toEqual({ location: `https://scim.example.com/scim/v2/Users/${body.id}`, etag: 'W/"1"', 'content-type': 'application/scim+json; charset=utf-8', 'x-request-id': 'req-1' });
    expect(body.meta.location).toBe(res.headers.location);
    const local = createScimHandler({ scim, store, bodyLimit: BODY_LIMIT });
    const got = await local(plain('GET', `/Users/${body.id}`));
    expect(parsed(got).meta.location).toBe(`http://scimd.internal:8080/scim/v2/Users/${body.id}`);
    const put = await handle(plain('PUT', `/Users/${body.id}`, { body: user('located', { title: 'x' }) }));
    expect([put.status, put.headers.location, put.headers.etag]).toEqual([200, res.headers.location, 'W/"2"']);
  });

  it('GET is 200 with its ETag, and 304 with the ETag and nothing else when If-None-Match names it', async () => {
    const { id, etag } = await created();
    const got = await handle(plain('GET', `/Users/${id}`));
    expect([got.status, got.headers.etag]).toEqual([200, etag]);
    expect(await handle(plain('GET', `/Users/${id}`, { headers: { 'if-none-match': `W/"9", ${etag}` } }))).toEqual({ status: 304, headers: { etag, 'x-request-id': 'req-1' } });
  });

  it('PATCH is 200 with the resource, or 204 with the ETag for a dialect that expects it (unless attributes are asked for)', async () => {
    const { id } = await created();
    const patch = (title: string) => ({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: title }] });
    const rfc = await handle(plain('PATCH', `/Users/${id}`, { body: patch('a') }));
    expect([rfc.status, rfc.headers.location, rfc.headers.etag, parsed(rfc).title]).toEqual([200, expect.stringContaining(id), 'W/"2"', 'a']);
    expect(await handle(plain('PATCH', `/Users/${id}`, { body: patch('b'), token: entraToken }))).toEqual({ status: 204, headers: { etag: 'W/"3"', 'x-request-id': 'req-1' } });
    const asked = await handle(plain('PATCH', `/Users/${id}?attributes=title`, { body: patch('c'), token: entraToken }));
    expect([asked.status, parsed(asked).title]).toEqual([200, 'c']);
    expect(await handle(plain('DELETE', `/Users/${id}`))).toEqual({ status: 204, headers: { 'x-request-id': 'req-1' } });
  });
});

describe('authentication, limits and failures', () => {
  const context: RequestContext = { orgId: '', tokenId: 'app', tokenName: 'app', dialect: 'rfc' };

  it('an application can authenticate its own way instead of scimd bearer tokens', async () => {
    const org = (await store.ensureOrganization('default')).id;
    const seen: HttpRequest[] = [];
    const app = createScimHandler({
      scim,
      bodyLimit: BODY_LIMIT,
      authenticate: async (request) => {
        seen.push(request);
        if (request.headers['x-api-key'] !== 'secret') throw scimErrors.unauthorized('Send the X-API-Key header.');
        return { ...context, orgId: org };
      },
    });
    const res = await app(plain('POST', '/Users', { body: user('keyed'), token: null, headers: { 'x-api-key': 'secret' } }));
    expect(res.status, res.body).toBe(201);
    const bearer = await app(plain('GET', '/Users'));
    expect([bearer.status, parsed(bearer).detail, bearer.headers['www-authenticate']]).toEqual([401, 'Send the X-API-Key header.', 'Bearer realm="scimd"']);
    expect(seen.map((r) => r.requestId)).toEqual(['req-1', 'req-1']);
    expect(() => createScimHandler({ scim, bodyLimit: BODY_LIMIT })).toThrow(/store/);
  });

  it('the rate limit is asked per token after authentication, and 429 says when to retry', async () => {
    const keys: string[] = [];
    const rateLimit: RateLimiter = { take: (key) => (keys.push(key), keys.length > 1 ? 3 : undefined), flush: async () => {}, stop: async () => {} };
    const limited = createScimHandler({ scim, store, bodyLimit: BODY_LIMIT, rateLimit });
    expect((await limited(plain('GET', '/Users'))).status).toBe(200);
    expect((await limited(plain('GET', '/Users', { token: 'nope' }))).status).toBe(401);
    const refused = await limited(plain('GET', '/Users'));
    expect([refused.status, refused.headers['retry-after']]).toEqual([429, '3']);
    expect(keys).toHaveLength(2);
  });

  it('a failure the core does not know is a 500 that says nothing of its cause, and onError is told; an absent database is 503', async () => {
    const failing = Object.create(store, {
      listResources: { value: async () => Promise.reject(new Error('disk on fire')) },
      getResource: { value: async () => Promise.reject(new StoreUnavailable('connect ECONNREFUSED')) },
    }) as Store;
    const told: [unknown, HttpRequest][] = [];
    const options: ScimHandlerOptions = { scim: createScim({ store: failing }), store, bodyLimit: BODY_LIMIT, onError: (e, r) => told.push([e, r]) };
    const broken = createScimHandler(options);
    const request = plain('GET', '/Users');
    const res = await broken(request);
    expect([res.status, parsed(res).detail]).toEqual([500, 'The server failed to process the request; it has been logged.']);
    expect(told).toEqual([[new Error('disk on fire'), request]]);
    const away = await broken(plain('GET', '/Users/x'));
    expect([away.status, away.headers['retry-after'], told.length]).toEqual([503, '1', 1]);
  });
});

describe('request ids', () => {
  it('every answer names its request id, errors and HEAD included', async () => {
    for (const [method, target, token] of [['GET', '/Users', undefined], ['HEAD', '/Users', undefined], ['GET', '/Users', 'nope'], ['GET', '/a/b/c', undefined]] as const) {
      expect((await handle(plain(method, target, { token }))).headers['x-request-id'], `${method} ${target}`).toBe('req-1');
    }
  });

  it("requestIdOf: the client's X-Request-Id when it is a short plain token, else a new UUID", () => {
    expect(requestIdOf('req-42.a:b_c')).toBe('req-42.a:b_c');
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const given of [undefined, '', 'x'.repeat(129), 'a b', 'a\nb', ['a', 'b']]) expect(requestIdOf(given), String(given)).toMatch(uuid);
  });
});
