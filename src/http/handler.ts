/**
 * The SCIM protocol over HTTP, free of any web framework: a plain request in, a plain response out. Every HTTP rule
 * of the SCIM API lives here — routes, media types, body limits, JSON parsing, authentication and rate limiting,
 * status codes, Location and ETag, conditional requests, error bodies, request ids — so that each framework adapter
 * (fastify.ts, node.ts for node:http and Express, fetch.ts for Web-standard runtimes) only translates.
 */
import { randomUUID } from 'node:crypto';
import { parse as parseJson } from 'secure-json-parse';
import type { CallContext, ListParams, ProjectionParams, Scim } from '../core/scim.js';
import { authenticate, type AccessTokenVerifier, type AuthenticateOptions, type RequestContext } from '../core/tokens.js';
import { ScimError, scimErrors } from '../core/errors.js';
import type { Preconditions } from '../core/etag.js';
import { MAX_DEPTH } from '../core/json.js';
import type { AuditLog, TokenStore } from '../core/ports.js';
import { bodyErrors, toScimError } from './errors.js';
import type { RateLimiter } from './rate-limit.js';

export const SCIM_JSON = 'application/scim+json; charset=utf-8';

export interface HttpRequest {
  /** As received; compared case-insensitively. */
  readonly method: string;
  /** Below the SCIM root, still percent-encoded: '/Users/2819c223', or '' or '/' for the root. */
  readonly path: string;
  /** The raw query string without its '?'; '' when there is none. */
  readonly query: string;
  /** Lower-case names, as Node's IncomingHttpHeaders. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The body as UTF-8 text ('' when there is none), read only when a route needs it, with the limit the route
   * allows; past `limit` bytes it rejects with `bodyErrors.tooLarge(limit)` (readNodeBody in node.ts does all this
   * for a Node stream).
   */
  readBody(limit: number): Promise<string>;
  /** `scheme://host` as the client reached this server; the base of every URL rendered unless `publicUrl` is set. */
  readonly origin: string;
  /** Where the SCIM root is mounted, e.g. '/scim/v2': the path of every URL rendered. */
  readonly prefix: string;
  readonly requestId: string;
  readonly clientAddress?: string;
  /** The request target as the client sent it (Node's `req.url`), quoted in errors; by default prefix, path and query. */
  readonly url?: string;
  /**
   * The framework's own request, for a hook that reads what the application put on it (e.g. its signed-in user):
   * Node's IncomingMessage (Express's `req`), the fetch `Request`, Fastify's request.
   */
  readonly raw?: unknown;
  /** What the application handed the adapter with the request, when it can (scimd/fetch's second argument: Hono's `c`). */
  readonly context?: unknown;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names. `connection: close` when a body was refused part-read: the client may still be sending it. */
  readonly headers: Readonly<Record<string, string>>;
  /** Absent for 204, 304 and HEAD (whose `content-length` says what GET would send). */
  readonly body?: string;
}

export interface ScimHandlerOptions {
  readonly scim: Scim;
  /** The largest request body, in bytes, on every route but Bulk (which allows `scim.bulkLimits.maxPayloadSize`). */
  readonly bodyLimit: number;
  /** Public base URL (scheme, host, optional path); without it, URLs are derived from each request's origin. */
  readonly publicUrl?: string;
  /** Who is calling; by default the bearer token of the Authorization header, looked up in `store`. */
  readonly authenticate?: (request: HttpRequest) => Promise<RequestContext>;
  /** The token store of the default authentication. */
  readonly store?: TokenStore & AuditLog;
  /** Default authentication: record refusals in the audit log (default true). */
  readonly audit?: boolean;
  /** Default authentication: refused authentications per client address and second (authenticate's throttleRefusal). */
  readonly refusalLimit?: RateLimiter;
  /** Default authentication: where bearer JWTs are verified (scimd's OAuth access tokens, src/oauth). */
  readonly accessTokens?: AccessTokenVerifier;
  /** Per-token request rate limit; none when absent. */
  readonly rateLimit?: RateLimiter;
  /** Told of every failure answered with 500 (the response says only that it was logged): log it. */
  readonly onError?: (error: unknown, request: HttpRequest) => void;
}

export type ScimHandler = (request: HttpRequest) => Promise<HttpResponse>;

/** What every adapter is given: a ready handler (e.g. one an application shares between adapters), or its options. */
export type ScimHandlerSource = ScimHandlerOptions | { readonly handler: ScimHandler };

export function handlerFrom(source: ScimHandlerSource): ScimHandler {
  return 'handler' in source ? source.handler : createScimHandler(source);
}

/** The client's X-Request-Id when it is a short plain token (it is logged and audited), else a new UUID. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
}

/**
 * What authenticating one request is told: whom to record a refusal against (unless `audit` is
 * false), and when to stop recording (`refusalLimit`).
 */
export function authenticateOptions(
  options: { readonly audit?: boolean | undefined; readonly refusalLimit?: RateLimiter | undefined; readonly accessTokens?: AccessTokenVerifier | undefined },
  caller: { readonly requestId: string; readonly clientAddress?: string | undefined },
): AuthenticateOptions {
  const { refusalLimit } = options;
  return {
    audit: options.audit !== false ? { requestId: caller.requestId, clientAddress: caller.clientAddress } : undefined,
    throttleRefusal: refusalLimit ? () => refusalLimit.take(`refused ${caller.clientAddress}`) : undefined,
    ...(options.accessTokens ? { accessTokens: options.accessTokens } : {}),
  };
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Routes: Fastify's router as it served the SCIM API (find-my-way: static segments before parameters, names
// matched case-insensitively, one trailing slash ignored, segments percent-decoded, parameters of at most 100
// characters), for exactly the routes it had.

type Route =
  | { readonly op: 'listAll' | 'serviceProviderConfig' | 'resourceTypes' | 'schemas' | 'bulk' | 'searchAll' | 'me' }
  | { readonly op: 'resourceType' | 'schema'; readonly id: string }
  | { readonly op: 'list' | 'search' | 'create'; readonly endpoint: string }
  | { readonly op: 'get' | 'replace' | 'patch' | 'delete'; readonly endpoint: string; readonly id: string };

/** Longer path parameters were refused with 414 by Fastify's router (maxParamLength), before authentication. */
const MAX_PARAM_LENGTH = 100;

const ME: Route = { op: 'me' };
/** The one-segment routes named by a fixed (lower-cased) name, which win over `/:endpoint`. */
const GET_ROUTES: ReadonlyMap<string, Route> = new Map([
  ['serviceproviderconfig', { op: 'serviceProviderConfig' }],
  // Microsoft's SCIM test collection asks for the configuration here.
  ['serviceconfiguration', { op: 'serviceProviderConfig' }],
  ['resourcetypes', { op: 'resourceTypes' }],
  ['schemas', { op: 'schemas' }],
  ['me', ME],
]);
const POST_ROUTES: ReadonlyMap<string, Route> = new Map([['bulk', { op: 'bulk' }], ['.search', { op: 'searchAll' }], ['me', ME]]);

/** The request's route, or undefined; throws 400 for a malformed percent-encoding and 414 for a too long parameter. */
function routeOf(method: string, request: HttpRequest): Route | undefined {
  let path = request.path;
  if (path.endsWith('/')) path = path.slice(0, -1);
  if (path === '') return method === 'GET' || method === 'HEAD' ? { op: 'listAll' } : undefined;
  const segments = (path.charCodeAt(0) === 47 ? path.slice(1) : path).split('/');
  if (path.includes('%')) {
    for (let i = 0; i < segments.length; i++) {
      try {
        segments[i] = decodeURIComponent(segments[i]!);
      } catch {
        throw new ScimError(400, undefined, `'${targetOf(request, true)}' is not a valid url component`);
      }
    }
  }
  const n = segments.length;
  const first = segments[0]!;
  const second = n > 1 ? segments[1]! : '';
  const name = first.toLowerCase();
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (n === 1) return GET_ROUTES.get(name) ?? tried(request, [first], { op: 'list', endpoint: first });
      if (n > 2) return tried(request, [first, second], undefined);
      return tried(request, [first, second], name === 'schemas' ? { op: 'schema', id: second } : name === 'resourcetypes' ? { op: 'resourceType', id: second } : { op: 'get', endpoint: first, id: second });
    case 'POST':
      if (n === 1) return POST_ROUTES.get(name) ?? tried(request, [first], { op: 'create', endpoint: first });
      return tried(request, [first], n === 2 && second.toLowerCase() === '.search' ? { op: 'search', endpoint: first } : undefined);
    case 'PUT':
    case 'PATCH':
    case 'DELETE':
      if (n === 1) return name === 'me' ? ME : tried(request, [first], undefined);
      return tried(request, [first, second], n === 2 ? { op: method === 'PUT' ? 'replace' : method === 'PATCH' ? 'patch' : 'delete', endpoint: first, id: second } : undefined);
    case 'OPTIONS':
    case 'TRACE':
    case 'QUERY':
      return n === 1 && name === 'me' ? ME : undefined;
    default:
      return undefined;
  }
}

/**
 * `route` (or none) once the router has tried `params` on the way to it: a parameter over the limit matches no
 * route, and the request is then too long (414) rather than unknown (404).
 */
function tried(request: HttpRequest, params: readonly string[], route: Route | undefined): Route | undefined {
  if (params.some((p) => p.length > MAX_PARAM_LENGTH)) throw new ScimError(414, undefined, `'${routerPath(request)}' is exceeding the max param length`);
  return route;
}

/** The request target as received (or as the adapter's parts make it), with or without its query. */
function targetOf(request: HttpRequest, withQuery: boolean): string {
  if (request.url !== undefined) return withQuery ? request.url : request.url.split('?')[0]!;
  const path = request.prefix + request.path;
  return withQuery && request.query !== '' ? `${path}?${request.query}` : path;
}

/** The path as the router quoted it: decoded but for the characters that would change its meaning, no trailing slash. */
function routerPath(request: HttpRequest): string {
  const target = targetOf(request, false);
  const end = target.indexOf('#');
  let path = end === -1 ? target : target.slice(0, end);
  try {
    path = decodeURI(path.replace(/%25/g, '%2525'));
  } catch {
    // the segments decoded, so the path does
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Query parameters: names case-insensitive, a repeated parameter counts once (the first). Values are decoded as
// Fastify's query parser did: '+' is a space, and a value whose percent-encoding is malformed is kept as sent.

function queryParams(query: string): Map<string, string> {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    if (eq === -1 && rawName === '') continue;
    const name = decodeQueryPart(rawName).toLowerCase();
    if (!params.has(name)) params.set(name, eq === -1 ? '' : decodeQueryPart(pair.slice(eq + 1)));
  }
  return params;
}

function decodeQueryPart(s: string): string {
  const spaced = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

// (Objects built by assignment, not `{ ...spread, more }`: on Node 20 that form costs microseconds an object.)

const PROJECTION_PARAMS = ['attributes', 'excludedAttributes'].map((name) => [name, name.toLowerCase()] as const);
const LIST_PARAMS = [...PROJECTION_PARAMS, ...['filter', 'startIndex', 'count', 'sortBy', 'sortOrder', 'cursor'].map((name) => [name, name.toLowerCase()] as const)];

function paramsOf(query: Map<string, string>, names: typeof LIST_PARAMS): Record<string, string> {
  const out: Record<string, string> = {};
  if (query.size === 0) return out;
  for (const [name, lower] of names) {
    const v = query.get(lower);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

const projectionParams = (query: Map<string, string>): ProjectionParams => paramsOf(query, PROJECTION_PARAMS);
const listParams = (query: Map<string, string>): ListParams => paramsOf(query, LIST_PARAMS);

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Headers and bodies

export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The conditional-request headers (RFC 7232) as the core reads them. */
function preconditions(headers: HttpRequest['headers']): Preconditions {
  const joined = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : v);
  const out: { ifMatch?: string; ifNoneMatch?: string } = {};
  const ifMatch = joined(headers['if-match']);
  const ifNoneMatch = joined(headers['if-none-match']);
  if (ifMatch !== undefined) out.ifMatch = ifMatch;
  if (ifNoneMatch !== undefined) out.ifNoneMatch = ifNoneMatch;
  return out;
}

const TYPE = /^[\w!#$%&'*+.^`|~-]+$/;
const SUBTYPE = /^[\w!#$%&'*+.^`|~-]+\s*$/;

/** The media type of a Content-Type header, lower-cased, parameters dropped; undefined when malformed (RFC 9110 §8.3.1). */
function mediaTypeOf(header: string): string | undefined {
  const params = header.indexOf(';');
  const essence = (params === -1 ? header : header.slice(0, params)).toLowerCase();
  const slash = essence.indexOf('/');
  if (slash === -1) return undefined;
  const type = essence.slice(0, slash).trimStart();
  const subtype = essence.slice(slash + 1).trimEnd();
  return TYPE.test(type) && SUBTYPE.test(subtype) ? `${type}/${subtype}` : undefined;
}

const JSON_TYPES = new Set(['application/scim+json', 'application/json']);
/** The methods whose body is read (Fastify's); GET, HEAD, TRACE and any other have none. */
const BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY']);
const PARSE_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * Where the text's arrays and objects first nest deeper than `max` (a 1-based character position), or 0 when they
 * never do: one pass over the text counting the brackets outside strings, cheaper than the parse it goes before.
 * Malformed JSON may be counted wrongly, and is refused either way.
 */
function tooDeepAt(text: string, max: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: to its closing quote, over escapes
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i + 1;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return 0;
}

/** A body refused once reading it had begun: the answer closes the connection, the client may still be sending. */
class BodyRefused extends Error {
  constructor(readonly refusal: unknown) {
    super('request body refused');
  }
}

/**
 * The request body as JSON, or undefined when there is none. GET, HEAD and TRACE have none; on the others a body is
 * JSON under either SCIM media type (RFC 7644 §3.1) or with no Content-Type at all (Okta's SCIM reference shows its
 * requests without one), any other type is 415 (text/plain included), and an empty body is no body: clients send
 * Content-Type on DELETE too. Without a Content-Type, Content-Length or Transfer-Encoding nothing is read.
 * JSON with `__proto__` or `constructor.prototype` keys is refused (prototype poisoning), and so is JSON nested deeper
 * than MAX_DEPTH (400 invalidSyntax).
 */
async function bodyOf(method: string, request: HttpRequest, limit: number): Promise<unknown> {
  if (!BODY.has(method)) return undefined;
  const { headers } = request;
  const contentType = single(headers['content-type']);
  let json = true;
  if (contentType === undefined) {
    // the QUERY method (RFC 10008) must say what its body is
    if (method === 'QUERY') throw scimErrors.badRequest("Method 'QUERY' must provide a 'Content-Type' header.");
    const length = single(headers['content-length']);
    if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return undefined;
  } else {
    const type = mediaTypeOf(contentType);
    if (type === undefined) throw bodyErrors.unsupportedMediaType();
    json = JSON_TYPES.has(type);
  }
  try {
    const text = await request.readBody(limit);
    if (!json) throw bodyErrors.unsupportedMediaType();
    if (text === '') return undefined;
    // Before the parse: the core walks what it is given, and no SCIM request nests anywhere near this deep.
    const deep = tooDeepAt(text, MAX_DEPTH);
    if (deep > 0) throw bodyErrors.tooDeep(MAX_DEPTH, deep);
    try {
      return parseJson(text, PARSE_OPTIONS);
    } catch {
      throw bodyErrors.invalidJson();
    }
  } catch (e) {
    throw new BodyRefused(e);
  }
}

/** The JSON body of a request outside the SCIM API (the admin API), read under the same rules. */
export async function jsonBodyOf(request: HttpRequest, limit: number): Promise<unknown> {
  try {
    return await bodyOf(request.method, request, limit);
  } catch (e) {
    throw e instanceof BodyRefused ? e.refusal : e;
  }
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————
// Responses

/** A JSON response; `headers` (a fresh object) gets the content type. */
function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  headers['content-type'] = SCIM_JSON;
  return { status, headers, body: JSON.stringify(body) };
}

function errorResponse(e: ScimError, closeConnection: boolean): HttpResponse {
  const headers: Record<string, string> = closeConnection ? { connection: 'close' } : {};
  for (const [name, value] of Object.entries(e.headers)) headers[name.toLowerCase()] = value;
  return json(e.status, e.toJSON(), headers);
}

/**
 * The response as sent: it names its request id (the client's own, or the one to quote when reporting it), and to
 * HEAD it answers what GET would, without the body (its length stays in `content-length`).
 */
export function finish(method: string, request: HttpRequest, response: HttpResponse): HttpResponse {
  const headers: Record<string, string> = Object.assign({ 'x-request-id': request.requestId }, response.headers);
  if (method !== 'HEAD') return response.body === undefined ? { status: response.status, headers } : { status: response.status, headers, body: response.body };
  headers['content-length'] = String(response.body === undefined ? 0 : Buffer.byteLength(response.body));
  return { status: response.status, headers };
}

/**
 * The answer to a request that matches no route (no authentication: there is nothing to protect): its body is
 * still read as a route's would be, so a malformed one is refused as such, then 404.
 */
export async function answerNotFound(request: HttpRequest, bodyLimit: number, onError?: ScimHandlerOptions['onError']): Promise<HttpResponse> {
  const method = request.method.toUpperCase();
  try {
    await bodyOf(method, request, bodyLimit);
    return notFound(request);
  } catch (e) {
    return finish(method, request, failure(e, bodyLimit, request, onError));
  }
}

/** 404 for a request outside every route, its body unread (an adapter's answer to a request outside its mount). */
export function notFound(request: HttpRequest): HttpResponse {
  return finish(request.method.toUpperCase(), request, errorResponse(scimErrors.notFound(`There is no endpoint ${request.method} ${targetOf(request, false)}.`), false));
}

export function failure(e: unknown, limit: number, request: HttpRequest, onError: ScimHandlerOptions['onError']): HttpResponse {
  const refusal = e instanceof BodyRefused ? e.refusal : e;
  const error = toScimError(refusal, limit);
  if (error.status === 500) onError?.(refusal, request);
  return errorResponse(error, e instanceof BodyRefused);
}

// ————————————————————————————————————————————————————————————————————————————————————————————————————————————————

export function createScimHandler(options: ScimHandlerOptions): ScimHandler {
  const { scim, bodyLimit, rateLimit, onError } = options;
  const bulkLimit = scim.bulkLimits.maxPayloadSize;
  const publicBase = options.publicUrl ? options.publicUrl.replace(/\/+$/, '') : undefined;
  const store = options.store;
  if (!options.authenticate && !store) throw new Error('createScimHandler needs `store` (for bearer tokens) or `authenticate`');
  const who =
    options.authenticate ??
    ((request: HttpRequest) => authenticate(store!, single(request.headers.authorization), authenticateOptions(options, request)));

  const contextOf = async (request: HttpRequest): Promise<CallContext> => {
    const caller = await who(request);
    const wait = rateLimit?.take(caller.tokenId);
    if (wait !== undefined) throw scimErrors.tooManyRequests(`This token has made more requests this second than the limit allows; retry after ${wait} s.`, wait);
    // what the core reads of a call, field by field
    const ctx: { -readonly [K in keyof CallContext]: CallContext[K] } = {
      orgId: caller.orgId,
      tokenId: caller.tokenId,
      tokenName: caller.tokenName,
      dialect: caller.dialect,
      requestId: request.requestId,
      clientAddress: request.clientAddress,
      baseUrl: (publicBase ?? request.origin) + request.prefix,
    };
    if (caller.orgName !== undefined) ctx.orgName = caller.orgName;
    if (caller.scopes !== undefined) ctx.scopes = caller.scopes;
    return ctx;
  };

  const call = async (route: Route, ctx: CallContext, body: unknown, request: HttpRequest): Promise<HttpResponse> => {
    switch (route.op) {
      // queries at the root span every resource type (RFC 7644 §3.4.2.1, §3.4.3)
      case 'listAll':
        return json(200, await scim.listAll(ctx, listParams(queryParams(request.query))));
      case 'serviceProviderConfig':
        return json(200, await scim.serviceProviderConfig(ctx));
      case 'resourceTypes':
        return json(200, scim.resourceTypes(ctx));
      case 'resourceType':
        return json(200, scim.resourceType(ctx, route.id));
      case 'schemas':
        return json(200, scim.schemas(ctx));
      case 'schema':
        return json(200, scim.schema(ctx, route.id));
      case 'me':
        throw scimErrors.notImplemented('/Me is not supported: tokens are issued to provisioning clients, not to users (RFC 7644 §3.11).');
      case 'bulk':
        return json(200, await scim.bulk(ctx, body));
      case 'searchAll':
        return json(200, await scim.search(ctx, undefined, body));
      case 'search':
        return json(200, await scim.search(ctx, route.endpoint, body));
      case 'list':
        return json(200, await scim.list(ctx, route.endpoint, listParams(queryParams(request.query))));
      case 'create': {
        const r = await scim.create(ctx, route.endpoint, body, projectionParams(queryParams(request.query)));
        return json(201, r.resource, { location: r.location, etag: r.etag });
      }
      case 'get': {
        const r = await scim.get(ctx, route.endpoint, route.id, projectionParams(queryParams(request.query)), preconditions(request.headers));
        if (r.notModified) return { status: 304, headers: { etag: r.etag } };
        return json(200, r.resource, { etag: r.etag });
      }
      case 'replace': {
        const r = await scim.replace(ctx, route.endpoint, route.id, body, projectionParams(queryParams(request.query)), preconditions(request.headers));
        return json(200, r.resource, { location: r.location, etag: r.etag });
      }
      case 'patch': {
        const r = await scim.patch(ctx, route.endpoint, route.id, body, projectionParams(queryParams(request.query)), preconditions(request.headers));
        // the dialect's 204 (e.g. Entra's) when no attributes were asked for
        if (r.noContent) return { status: 204, headers: { etag: r.etag } };
        return json(200, r.resource, { location: r.location, etag: r.etag });
      }
      case 'delete':
        await scim.delete(ctx, route.endpoint, route.id, preconditions(request.headers));
        return { status: 204, headers: {} };
    }
  };

  return async function handleScimRequest(request: HttpRequest): Promise<HttpResponse> {
    const method = request.method.toUpperCase();
    let route: Route | undefined;
    try {
      route = routeOf(method, request);
    } catch (e) {
      return finish(method, request, failure(e, bodyLimit, request, onError));
    }
    if (route === undefined) return answerNotFound(request, bodyLimit, onError);
    // Bulk bodies may be larger than others, up to maxPayloadSize (RFC 7644 §3.7.4), and say so when they are not.
    const limit = route.op === 'bulk' ? bulkLimit : bodyLimit;
    try {
      const ctx = await contextOf(request);
      const body = BODY.has(method) ? await bodyOf(method, request, limit) : undefined;
      return finish(method, request, await call(route, ctx, body, request));
    } catch (e) {
      return finish(method, request, failure(e, limit, request, onError));
    }
  };
}
