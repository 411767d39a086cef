/**
 * The HTTP shell: a Fastify app that authenticates, translates HTTP ⇄ core calls, and renders SCIM errors. All SCIM
 * behaviour lives in the core (createScim); nothing below decides anything about resources.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { CallContext, ListParams, ProjectionParams, Scim } from '../core/scim.js';
import { authenticate, type AuthenticateOptions } from '../core/tokens.js';
import { scimErrors, type ScimError } from '../core/errors.js';
import type { Preconditions } from '../core/etag.js';
import type { Store } from '../core/ports.js';
import { toScimError } from './errors.js';
import { registerAdminApi } from './admin.js';
import type { RateLimiter } from './rate-limit.js';

export const SCIM_JSON = 'application/scim+json; charset=utf-8';
export const SCIM_PREFIX = '/scim/v2';
/** How long an idle connection is kept open: longer than load balancers keep theirs (60 s on AWS), as Fastify's default. */
const KEEP_ALIVE_MS = 72_000;

export interface ServerOptions {
  readonly scim: Scim;
  readonly store: Store;
  /** Public base URL (scheme, host, optional path); without it, URLs are derived from each request's Host. */
  readonly publicUrl?: string;
  readonly bodyLimit: number;
  readonly logger?: FastifyServerOptions['logger'];
  /** Record refused authentications in the audit log (default true; the core records the rest). */
  readonly audit?: boolean;
  /** How long a client may take to send a whole request (slow senders hold connections open); default 60 s. */
  readonly requestTimeoutMs?: number;
  /** Per-token request rate limit; none when absent. */
  readonly rateLimit?: RateLimiter;
  /** Refused authentications per client address and second; none when absent (see authenticate's throttleRefusal). */
  readonly refusalLimit?: RateLimiter;
  /** Behind a proxy: which hops to believe for the client address and protocol (Fastify's `trustProxy`). */
  readonly trustProxy?: boolean | string;
}

declare module 'fastify' {
  interface FastifyRequest {
    scimContext: CallContext | null;
  }
  interface FastifyInstance {
    /**
     * Resolves once every request started has sent its reply, or after `maxWaitMs` (call after close(), before
     * closing the store): Fastify drops some requests whose client went away without a reply, which would otherwise
     * hold it forever.
     */
    drain(maxWaitMs?: number): Promise<void>;
  }
}

type Query = Record<string, string | string[] | undefined>;

/** Query parameter names are matched case-insensitively; a repeated parameter counts once (the first). */
function param(query: unknown, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries((query ?? {}) as Query)) {
    if (k.toLowerCase() === lower) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function projectionParams(req: FastifyRequest): ProjectionParams {
  const attributes = param(req.query, 'attributes');
  const excludedAttributes = param(req.query, 'excludedAttributes');
  return { ...(attributes !== undefined ? { attributes } : {}), ...(excludedAttributes !== undefined ? { excludedAttributes } : {}) };
}

function listParams(req: FastifyRequest): ListParams {
  const out: Record<string, string> = { ...projectionParams(req) };
  for (const name of ['filter', 'startIndex', 'count', 'sortBy', 'sortOrder', 'cursor'] as const) {
    const v = param(req.query, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** The conditional-request headers (RFC 7232) as the core reads them. */
function preconditions(req: FastifyRequest): Preconditions {
  const header = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const ifMatch = header('if-match');
  const ifNoneMatch = header('if-none-match');
  return { ...(ifMatch !== undefined ? { ifMatch } : {}), ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}) };
}

function sendError(reply: FastifyReply, e: ScimError): void {
  void reply.code(e.status).headers(e.headers).type(SCIM_JSON).send(e.toJSON());
}

/** Renders anything a request failed with as a SCIM error; only true 500s are logged as errors. */
function errorHandler(bodyLimit: number) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toScimError(err, bodyLimit);
    if (e.status === 500) req.log.error({ err }, 'request failed');
    sendError(reply, e);
  };
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const { scim, store, bodyLimit } = options;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    // Node checks these limits only every connectionsCheckingInterval (30 s by default): check every second
    serverFactory: (handler) => {
      const requestTimeout = options.requestTimeoutMs ?? 60_000;
      // Fastify's own keep-alive (72 s) is not applied to a server made here: without it Node closes an idle
      // connection after 5 s, under a client or load balancer that may be sending its next request on it
      return createServer({ requestTimeout, headersTimeout: Math.min(requestTimeout, 60_000), connectionsCheckingInterval: 1000, keepAliveTimeout: KEEP_ALIVE_MS }, handler);
    },
    // `/users` and `/Users` are the same endpoint (parameters keep their case); `/Users/` is `/Users`.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    // Errors Fastify meets before routing (a malformed percent-encoding in the URL) get a SCIM body too.
    frameworkErrors: (err, _req, reply) => sendError(reply as FastifyReply, toScimError(err, bodyLimit)),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    },
  });

  // SCIM bodies are JSON under either media type (RFC 7644 §3.1); anything else is 415, text/plain included.
  // An empty body is no body: clients send Content-Type on DELETE and GET too. A body with no Content-Type at all is
  // read as JSON too (Okta's SCIM reference shows its requests without one); a body declared as anything else is 415.
  const json = app.getDefaultJsonParser('error', 'error');
  const parseJson = (req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) =>
    body === '' ? done(null, undefined) : json(req, body, done);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string' }, (req, body, done) => parseJson(req, body as string, done));
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) =>
    req.headers['content-type'] === undefined
      ? parseJson(req, body as string, done)
      : done(scimErrors.unsupportedMediaType('Send the body as "application/scim+json" or "application/json".')),
  );
  app.decorateRequest('scimContext', null);

  // A request whose client went away still runs to its end, but close() does not wait for it (its socket is gone):
  // drain() does, so the store is not closed under it. Every reply, errors included, passes onSend once.
  const started = new WeakSet<FastifyRequest>();
  let inFlight = 0;
  const idle: (() => void)[] = [];
  app.addHook('onRequest', async (req) => {
    started.add(req);
    inFlight++;
  });
  app.addHook('onSend', async (req) => {
    if (!started.delete(req)) return;
    if (--inFlight === 0) idle.splice(0).forEach((resolve) => resolve());
  });
  app.decorate('drain', (maxWaitMs = 10_000) => {
    if (inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  });

  // While shutting down, finished responses close their connection: a kept-alive idle socket would otherwise
  // hold close() open until its keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (closing) reply.header('connection', 'close');
  });

  app.setErrorHandler(errorHandler(bodyLimit));

  app.setNotFoundHandler((req, reply) => {
    sendError(reply, scimErrors.notFound(`There is no endpoint ${req.method} ${req.url.split('?')[0]}.`));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).header('retry-after', '1').send({ status: 'database unavailable' });
    }
  });

  // what every authentication of a request is told: whom to record a refusal against, and when to stop recording
  const authOptions = (req: FastifyRequest): AuthenticateOptions => ({
    ...(options.audit !== false ? { audit: { requestId: req.id, clientAddress: req.ip } } : {}),
    ...(options.refusalLimit ? { throttleRefusal: () => options.refusalLimit!.take(`refused ${req.ip}`) } : {}),
  });
  registerAdminApi(app, store, authOptions, scim.registry);

  void app.register(
    async (scimApp) => {
      scimApp.addHook('onRequest', async (req) => {
        const caller = { requestId: req.id, clientAddress: req.ip };
        const who = await authenticate(store, req.headers.authorization, authOptions(req));
        const wait = options.rateLimit?.take(who.tokenId);
        if (wait !== undefined) throw scimErrors.tooManyRequests(`This token has made more requests this second than the limit allows; retry after ${wait} s.`, wait);
        const base = options.publicUrl ? options.publicUrl.replace(/\/+$/, '') : `${req.protocol}://${req.host}`;
        req.scimContext = { ...who, ...caller, baseUrl: base + SCIM_PREFIX };
      });
      const ctx = (req: FastifyRequest): CallContext => req.scimContext!;
      const send = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).type(SCIM_JSON).send(body);
      const ep = (req: FastifyRequest) => (req.params as { endpoint: string }).endpoint;
      const id = (req: FastifyRequest) => (req.params as { id: string }).id;

      scimApp.get('/ServiceProviderConfig', async (req, reply) => send(reply, 200, scim.serviceProviderConfig(ctx(req))));
      // Microsoft's SCIM test collection asks for the configuration here.
      scimApp.get('/serviceConfiguration', async (req, reply) => send(reply, 200, scim.serviceProviderConfig(ctx(req))));
      scimApp.get('/ResourceTypes', async (req, reply) => send(reply, 200, scim.resourceTypes(ctx(req))));
      scimApp.get('/ResourceTypes/:id', async (req, reply) => send(reply, 200, scim.resourceType(ctx(req), id(req))));
      scimApp.get('/Schemas', async (req, reply) => send(reply, 200, scim.schemas(ctx(req))));
      scimApp.get('/Schemas/:id', async (req, reply) => send(reply, 200, scim.schema(ctx(req), id(req))));
      scimApp.all('/Me', async () => {
        throw scimErrors.notImplemented('/Me is not supported: tokens are issued to provisioning clients, not to users (RFC 7644 §3.11).');
      });
      // Bulk bodies may be larger than others, up to maxPayloadSize (RFC 7644 §3.7.4), and say so when they are not.
      const { maxPayloadSize } = scim.bulkLimits;
      void scimApp.register(async (bulkApp) => {
        bulkApp.setErrorHandler(errorHandler(maxPayloadSize));
        bulkApp.post('/Bulk', { bodyLimit: maxPayloadSize }, async (req, reply) => send(reply, 200, await scim.bulk(ctx(req), req.body)));
      });

      // queries at the root span every resource type (RFC 7644 §3.4.2.1, §3.4.3)
      scimApp.get('/', async (req, reply) => send(reply, 200, await scim.listAll(ctx(req), listParams(req))));
      scimApp.post('/.search', async (req, reply) => send(reply, 200, await scim.search(ctx(req), undefined, req.body)));
      scimApp.post('/:endpoint/.search', async (req, reply) => send(reply, 200, await scim.search(ctx(req), ep(req), req.body)));
      scimApp.get('/:endpoint', async (req, reply) => send(reply, 200, await scim.list(ctx(req), ep(req), listParams(req))));
      scimApp.post('/:endpoint', async (req, reply) => {
        const r = await scim.create(ctx(req), ep(req), req.body, projectionParams(req));
        return send(reply.header('location', r.location).header('etag', r.etag), 201, r.resource);
      });
      scimApp.get('/:endpoint/:id', async (req, reply) => {
        const r = await scim.get(ctx(req), ep(req), id(req), projectionParams(req), preconditions(req));
        if (r.notModified) return reply.header('etag', r.etag).code(304).send();
        return send(reply.header('etag', r.etag), 200, r.resource);
      });
      scimApp.put('/:endpoint/:id', async (req, reply) => {
        const r = await scim.replace(ctx(req), ep(req), id(req), req.body, projectionParams(req), preconditions(req));
        return send(reply.header('location', r.location).header('etag', r.etag), 200, r.resource);
      });
      scimApp.patch('/:endpoint/:id', async (req, reply) => {
        const r = await scim.patch(ctx(req), ep(req), id(req), req.body, projectionParams(req), preconditions(req));
        if (r.noContent) return reply.header('etag', r.etag).code(204).send();
        return send(reply.header('location', r.location).header('etag', r.etag), 200, r.resource);
      });
      scimApp.delete('/:endpoint/:id', async (req, reply) => {
        await scim.delete(ctx(req), ep(req), id(req), preconditions(req));
        return reply.code(204).send();
      });
    },
    { prefix: SCIM_PREFIX },
  );
  return app;
}
