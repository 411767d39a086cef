/**
 * Hostile input (issue #8): fast-check drives the whole HTTP surface with random and mutated requests — bodies,
 * filters, paths, query parameters, headers (malformed bearer JWTs among them), percent-encodings, deep nesting, invalid UTF-8. Whatever arrives, the
 * answer is never a 500 and never a hang, an error is a SCIM error body, and a rejected request changes nothing.
 * CI runs a fixed-seed slice through scimd's server, and a smaller one through the Node and fetch adapters (which
 * must only translate); SCIMD_FUZZ_RUNS=100000 (and SCIMD_FUZZ_SEED) is the nightly-size run.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createScimHandler, type ScimHandler } from '../../src/http/handler.js';
import { createNodeHandler } from '../../src/http/node.js';
import { createFetchHandler } from '../../src/http/fetch.js';
import { createOAuth } from '../../src/oauth/issuer.js';
import { ENTERPRISE, GROUP, STUDENT, STUDENT_BUNDLE, USER, testServer, type TestServer } from '../helpers.js';

const RUNS = Number(process.env.SCIMD_FUZZ_RUNS ?? 3000);
/** Through each adapter: a sixth as many. */
const ADAPTER_RUNS = Math.ceil(RUNS / 6);
const SEED = Number(process.env.SCIMD_FUZZ_SEED ?? 20261201);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

let s: TestServer;
let handler: ScimHandler;
let nodeServer: Server;
const ids: string[] = [];
/** Two users and a group for requests to name; made again when a request deleted one. */
async function ensureFixtures(): Promise<void> {
  for (const [i, userName] of ['alice', 'bob'].entries()) {
    if (ids[i] && (await s.request('GET', `/Users/${ids[i]}`)).status === 200) continue;
    const found = (await s.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).body.Resources[0];
    ids[i] = found?.id ?? (await s.request('POST', '/Users', { schemas: [USER, ENTERPRISE], userName, emails: [{ value: `${userName}@x.com`, type: 'work' }], [ENTERPRISE]: { employeeNumber: '1' } })).body.id;
  }
  if (!ids[2] || (await s.request('GET', `/Groups/${ids[2]}`)).status !== 200) {
    ids[2] = (await s.request('POST', '/Groups', { schemas: [GROUP], displayName: `g-${Date.now()}`, members: [{ value: ids[0] }] })).body.id;
  }
}

beforeAll(async () => {
  s = await testServer({ schemaFiles: [STUDENT_BUNDLE], bulk: { maxOperations: 50, maxPayloadSize: 200_000 } });
  await ensureFixtures();
  handler = createScimHandler({ scim: s.scim, store: s.store, bodyLimit: 1_048_576, accessTokens: createOAuth(s.store).verifier });
  nodeServer = createServer(createNodeHandler({ handler, prefix: '/scim/v2' }));
  await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => nodeServer?.close(resolve));
  await s.close();
});

// ——— pieces that look like what a client sends, for mutation ———
const attrName = fc.constantFrom('userName', 'name', 'name.givenName', 'emails', 'emails.value', 'emails[type eq "work"]', 'emails[type eq "work"].value',
  'members', 'members[value eq "x"]', 'active', 'title', 'meta.created', 'meta', 'id', 'externalId', 'groups', 'password', `${ENTERPRISE}:manager`,
  `${ENTERPRISE}:employeeNumber`, `${STUDENT}:studentNumber`, 'urn:x:y', '', ' ', '[', ']', '.', 'a.b.c.d', 'emails[', 'x'.repeat(300));
const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('True', 'False', '', 'bulkId:x', '2020-01-01T00:00:00Z'));
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(attrName, scalar, { maxKeys: 3 }), fc.array(fc.dictionary(fc.constantFrom('value', 'type', 'primary', 'display', '$ref'), scalar), { maxLength: 3 }));
const resourceBody = fc.record({
  schemas: fc.oneof(fc.constant([USER]), fc.constant([GROUP]), fc.constant([USER, ENTERPRISE, STUDENT]), fc.array(fc.string(), { maxLength: 2 }), scalar),
}, { requiredKeys: [] }).chain((base) => fc.dictionary(attrName, value, { maxKeys: 6 }).map((attrs) => ({ ...base, ...attrs })));
const patchOp = fc.record({ op: fc.constantFrom('add', 'remove', 'replace', 'Replace', 'ADD', 'move', '', 7), path: fc.option(attrName, { nil: undefined }), value: fc.option(value, { nil: undefined }) }, { requiredKeys: [] });
const patchBody = fc.record({ schemas: fc.oneof(fc.constant([PATCH_OP]), fc.array(fc.string(), { maxLength: 1 })), Operations: fc.oneof(fc.array(patchOp, { maxLength: 4 }), scalar) }, { requiredKeys: [] });
const method = fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'post', 'GET', 7, null);
const bulkOp = fc.record({ method, bulkId: fc.option(fc.constantFrom('a', 'b', '', 'c'), { nil: undefined }), path: fc.option(fc.constantFrom('/Users', '/Groups', '/Users/bulkId:a', '/Groups/bulkId:b', '/x', '', '/Users/1/2'), { nil: undefined }), version: fc.option(fc.constantFrom('W/"1"', '*', '"x"', 3), { nil: undefined }), data: fc.option(fc.oneof(resourceBody, patchBody, fc.array(patchOp, { maxLength: 2 }), scalar), { nil: undefined }) }, { requiredKeys: [] });
const bulkBody = fc.record({ schemas: fc.constantFrom([BULK], ['x']), failOnErrors: fc.option(fc.oneof(fc.integer({ min: -2, max: 3 }), scalar), { nil: undefined }), Operations: fc.oneof(fc.array(bulkOp, { maxLength: 6 }), scalar) }, { requiredKeys: [] });
const filterText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.tuple(attrName, fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'pr', 'gt', 'ge', 'lt', 'le', 'EQ', 'xx'), fc.constantFrom('"a"', 'true', '1', 'null', '"2020-01-01T00:00:00Z"', '', '"', '1e400'), fc.constantFrom('', ' and ', ' or ', ' and not (', ')', '[', ']'))
    .map(([a, o, v, j]) => `${a} ${o} ${v}${j}${a} pr`),
  fc.integer({ min: 1, max: 200 }).map((n) => '('.repeat(n) + 'userName pr' + ')'.repeat(n)),
  fc.integer({ min: 1, max: 400 }).map((n) => Array.from({ length: n }, () => 'title pr').join(' or ')),
);
const searchBody = fc.record({ schemas: fc.constantFrom([SEARCH], []), filter: filterText, startIndex: scalar, count: scalar, sortBy: attrName, sortOrder: scalar, attributes: fc.oneof(fc.array(attrName, { maxLength: 2 }), scalar), excludedAttributes: scalar, cursor: scalar }, { requiredKeys: [] });
const deep = fc.integer({ min: 100, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n));
/** A value nested up to 12,000 deep, as text (JSON.stringify would overflow on it): arrays, objects, or both. */
const deepValue = fc.tuple(fc.integer({ min: 1, max: 12_000 }), fc.constantFrom(['[', ']'], ['{"value":', '}'], ['[{"a":', '}]'], ['{"x":[', ']}']), fc.constantFrom('"x"', '1', 'null', '"bulkId:a"', '{}'))
  .map(([n, [open, close], inner]) => open!.repeat(n) + inner + close!.repeat(n));
/** Bodies whose deep value sits where the core walks one: a typed attribute, a PATCH value, members, Bulk data. */
const deepTarget = fc.tuple(deepValue, fc.constantFrom(
  ['POST', '/Users', `{"schemas":["${USER}"],"userName":"deep","title":$}`],
  ['POST', '/Users', `{"schemas":["${USER}"],"userName":"deep","emails":$}`],
  ['POST', '/Users', `{"schemas":["${USER}","${ENTERPRISE}"],"userName":"deep","${ENTERPRISE}":{"manager":$}}`],
  ['PATCH', '/Users/0', `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"replace","path":"title","value":$}]}`],
  ['PATCH', '/Users/0', `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","value":{"name":$}}]}`],
  ['PATCH', '/Users/0', `{"schemas":["${PATCH_OP}"],"Operations":[{"op":$,"path":"title","value":"x"}]}`],
  ['POST', '/Groups', `{"schemas":["${GROUP}"],"displayName":"deep","members":$}`],
  ['PATCH', '/Groups/2', `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"members","value":$}]}`],
  ['POST', '/Bulk', `{"schemas":["${BULK}"],"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":$}]}`],
  ['POST', '/Bulk', `{"schemas":["${BULK}"],"Operations":[{"method":"PATCH","path":"/Users/bulkId:a","data":$},{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["${USER}"],"userName":"deep"}}]}`],
  ['POST', '/Bulk', `{"schemas":["${BULK}"],"failOnErrors":$,"Operations":[]}`],
)).map(([value, [method, path, template]]) => ({
  method: method!,
  // '/Users/0' and '/Groups/2' name the fixtures (ids[0], ids[2])
  path: path!.replace(/\/(\d)$/, (_m, i: string) => `/${ids[Number(i)]}`),
  body: template!.replace('$', value),
}));
const anyJson = fc.oneof(fc.json({ maxDepth: 4 }), deep, fc.constantFrom('', '{', '{"schemas":', 'null', '[]', '"x"', '{"a":1}{"b":2}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'));

const body = fc.oneof(
  resourceBody.map((b) => JSON.stringify(b)),
  patchBody.map((b) => JSON.stringify(b)),
  bulkBody.map((b) => JSON.stringify(b)),
  searchBody.map((b) => JSON.stringify(b)),
  anyJson,
  // invalid UTF-8 and control bytes
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from('{"userName":"'), Buffer.from(b), Buffer.from('"}')])),
);

const segment = fc.oneof(
  fc.constantFrom('Users', 'Groups', 'users', 'Bulk', 'Me', 'Schemas', 'ResourceTypes', 'ServiceProviderConfig', '.search', '', '..', '%', '%zz', '%00', '%2F', 'x'.repeat(2000)),
  fc.constant(null).map(() => ids[0]!),
  fc.constant(null).map(() => ids[2]!),
  fc.string({ maxLength: 10 }).map(encodeURIComponent),
);
const query = fc.array(
  fc.tuple(fc.constantFrom('filter', 'startIndex', 'count', 'sortBy', 'sortOrder', 'attributes', 'excludedAttributes', 'cursor', 'FILTER', 'x'),
    fc.oneof(filterText.map(encodeURIComponent), fc.constantFrom('1', '-1', '0', '1e99', 'abc', '99999999999999999999', '%', '%ZZ', '+', ''), attrName.map(encodeURIComponent))),
  { maxLength: 3 },
).map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
const id = fc.constantFrom(0, 1, 2).map((i) => ids[i]!);
const resourcePath = fc.oneof(fc.constantFrom('/Users', '/Groups'), id.map((i) => `/Users/${i}`), id.map((i) => `/Groups/${i}`));
/** Requests shaped like real ones (the right body for the endpoint, mutated), and anything at all. */
const target = fc.oneof(
  fc.record({ method: fc.constantFrom('POST', 'PUT'), path: resourcePath, body: resourceBody.map((b) => JSON.stringify(b)) }),
  fc.record({ method: fc.constant('PATCH'), path: resourcePath, body: patchBody.map((b) => JSON.stringify(b)) }),
  fc.record({ method: fc.constant('POST'), path: fc.constant('/Bulk'), body: bulkBody.map((b) => JSON.stringify(b)) }),
  fc.record({ method: fc.constant('POST'), path: fc.constantFrom('/Users/.search', '/Groups/.search', '/.search'), body: searchBody.map((b) => JSON.stringify(b)) }),
  deepTarget,
  fc.record({ method: fc.constantFrom('GET', 'DELETE'), path: fc.oneof(resourcePath, fc.constantFrom('/', '/Schemas', '/ResourceTypes/User', '/Me')), body: fc.constant(undefined) }),
  fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    path: fc.array(segment, { minLength: 0, maxLength: 3 }).map((p) => `/${p.join('/')}`),
    body: fc.option(body, { nil: undefined }),
  }),
);
const base64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const jwtHeader = fc.oneof(
  fc.record({
    alg: fc.constantFrom('ES256', 'none', 'HS256', 'RS256', 'ES512', '', 1),
    typ: fc.constantFrom('at+jwt', 'JWT', '', null),
    kid: fc.oneof(fc.constantFrom('scimd-0', 'scimd-99999999999', 'scimd--1', '', '../x', 'x'.repeat(300)), fc.constant(null).map(() => `scimd-${Math.floor(Date.now() / 604_800_000)}`)),
    crit: fc.constantFrom(['exp'], 'x'),
  }, { requiredKeys: [] }),
  anyJson,
);
const jwtClaims = fc.oneof(fc.record({
  exp: fc.oneof(fc.integer(), fc.constant('soon')), iat: fc.integer(), client_id: scalar, org: scalar, scope: fc.constantFrom('scim:read', 'scim:read scim:write', '', 'x'),
}, { requiredKeys: [] }), anyJson);
/** Bearer JWTs no one signed, or not quite JWTs at all: each must be a 401, never a 500. */
const malformedJwt = fc.tuple(
  fc.oneof(jwtHeader.map(base64url), fc.string({ maxLength: 20 }).map(base64url), fc.constantFrom('', 'eyJ', '!!', '==')),
  fc.oneof(jwtClaims.map(base64url), fc.string({ maxLength: 20 }).map(base64url), fc.constant('')),
  fc.oneof(fc.constant(''), fc.uint8Array({ maxLength: 72 }).map((b) => Buffer.from(b).toString('base64url')), fc.constant('sig')),
).map(([h, p, sig]) => `${h}.${p}.${sig}`);
const authorization = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.oneof(malformedJwt.map((t) => `Bearer ${t}`), fc.constantFrom('Bearer', 'Bearer eyJ', 'Bearer a.b.c', 'Basic eyJ', 'bearer eyJ.e30.')) },
);

const request = fc.record({
  target,
  query,
  authorization,
  contentType: fc.constantFrom('application/scim+json', 'application/json', 'application/scim+json; charset=utf-8', 'text/plain', 'application/json; charset=latin1', undefined),
  ifMatch: fc.option(fc.constantFrom('W/"1"', '*', '"', 'W/', '', 'W/"99999999999999999999"', ','), { nil: undefined }),
  ifNoneMatch: fc.option(fc.constantFrom('W/"1"', '*', 'x'), { nil: undefined }),
});

/** One request through one way in: its status and body text. */
type Send = (method: string, url: string, headers: Record<string, string>, body: string | Uint8Array | undefined) => Promise<{ status: number; text: string }>;

const throughServer: Send = async (method, url, headers, body) => {
  const res = await s.app.inject({ method: method as 'GET', url, headers, ...(body !== undefined ? { payload: Buffer.from(body) } : {}) });
  return { status: res.statusCode, text: res.body };
};

const throughNode: Send = (method, url, headers, body) =>
  new Promise((resolve, reject) => {
    const { port } = nodeServer.address() as { port: number };
    // framed by its length, as inject and fetch frame it (Node sends a GET's body unframed)
    const framed = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = httpRequest({ host: '127.0.0.1', port, method, path: url, headers: framed }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });

const throughFetch: Send = async (method, url, headers, body) => {
  const handle = createFetchHandler({ handler, prefix: '/scim/v2' });
  // a Request carries no body on GET (the Fetch API refuses one)
  const res = await handle(new Request(`http://scim.test${url}`, { method, headers, ...(body !== undefined && method !== 'GET' ? { body: body as BodyInit } : {}) }));
  return { status: res.status, text: await res.text() };
};

const property = (send: Send) =>
  fc.asyncProperty(request, async ({ target: t, ...r }) => {
    const { method, path, body } = t;
    const before = await s.snapshot();
    const headers: Record<string, string> = { authorization: r.authorization ?? `Bearer ${s.token}` };
    if (r.contentType && body !== undefined) headers['content-type'] = r.contentType;
    if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch;
    if (r.ifNoneMatch !== undefined) headers['if-none-match'] = r.ifNoneMatch;
    const started = Date.now();
    const res = await send(method, `/scim/v2${path}${r.query}`, headers, body);
    expect(Date.now() - started, `answered promptly: ${method} ${path.slice(0, 100)}${r.query.slice(0, 200)} → ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(5000);
    // 501 is a deliberate answer (/Me); a 500 or anything above 501 is a fault
    expect([500, 502, 503, 504].includes(res.status) || res.status > 504, `${method} ${path.slice(0, 100)}${r.query.slice(0, 200)} → ${res.status} ${res.text.slice(0, 300)}`).toBe(false);
    if (res.status >= 400) {
      const error = JSON.parse(res.text);
      expect(error.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
      expect([error.status, typeof error.detail]).toEqual([String(res.status), 'string']);
      expect(await s.snapshot(), 'a rejected request changed the store').toBe(before);
    } else if (method === 'DELETE' || method === 'PUT' || path === '/Bulk') {
      await ensureFixtures();
    }
  });

it.each([
  ["scimd's server", RUNS, throughServer],
  ['the Node handler on node:http', ADAPTER_RUNS, throughNode],
  ['the fetch handler', ADAPTER_RUNS, throughFetch],
] as const)('through %s, %i random and mutated requests: never a 500, never a hang, errors are SCIM errors, a rejection changes nothing', async (_name, runs, send) => {
  await fc.assert(property(send), { numRuns: runs, seed: SEED, endOnFailure: true });
}, 600_000);
