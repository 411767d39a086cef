/**
 * The scimd server: a Fastify app with the SCIM API (the plugin of fastify.ts, over the framework-neutral handler of
 * handler.ts, which holds every rule of it), health and readiness checks, the console and the admin API (the
 * framework-neutral handler of admin.ts), request ids, timeouts and a graceful shutdown. Nothing below decides
 * anything about SCIM requests.
 */
import { createServer } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Scim } from '../core/scim.js';
import type { ScimError } from '../core/errors.js';
import type { Store } from '../core/ports.js';
import { toScimError } from './errors.js';
import { createConsoleHandler } from './admin.js';
import { createOAuthHandler, OAUTH_PATHS } from './oauth.js';
import { createOAuth } from '../oauth/issuer.js';
import type { RateLimiter } from './rate-limit.js';
import { routeLabeller, type Metrics } from './metrics.js';
import { SCIM_JSON, answerNotFound, requestIdOf } from './handler.js';
import { FastifyHttpRequest, fastifyRoute, passBodiesThrough, scimPlugin } from './fastify.js';

export { SCIM_JSON } from './handler.js';
export const SCIM_PREFIX = '/scim/v2';
const CONSOLE_PREFIX = '/console';
const ADMIN_PREFIX = '/admin/api';
/** How long an idle connection is kept open: longer than load balancers keep theirs (60 s on AWS), as Fastify's default. */
const KEEP_ALIVE_MS = 72_000;

export interface ServerOptions {
  readonly scim: Scim;
  readonly store: Store;
  /** The webhook endpoints events are delivered to, for the console (the operator sees them). */
  readonly webhooks?: readonly string[];
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
  /** Where each answered request is counted (metrics.ts); none when absent. */
  readonly metrics?: Metrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Resolves once every request started has sent its reply, or after `maxWaitMs` (call after close(), before
     * closing the store): Fastify drops some requests whose client went away without a reply, which would otherwise
     * hold it forever.
     */
    drain(maxWaitMs?: number): Promise<void>;
  }
}

function sendError(reply: FastifyReply, e: ScimError): void {
  void reply.code(e.status).headers(e.headers).type(SCIM_JSON).send(e.toJSON());
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
    // `/Healthz` is `/healthz`, `/SCIM/V2/Users` reaches the SCIM API (which routes below its root itself).
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    // Errors Fastify meets before routing (a malformed percent-encoding in the URL) get a SCIM body too.
    frameworkErrors: (err, _req, reply) => sendError(reply as FastifyReply, toScimError(err, bodyLimit)),
    // one line a request, written when it is answered (Fastify's own are two: on arrival and on answer)
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => requestIdOf(req.headers['x-request-id']),
  });

  // Bodies outside the SCIM API are read as the SCIM handler reads them (only a request that matches no route has
  // one to read): a malformed body sent anywhere is refused as such.
  passBodiesThrough(app);

  // A request whose client went away still runs to its end, but close() does not wait for it (its socket is gone):
  // drain() does, so the store is not closed under it. Every reply, errors included, passes onSend once.
  const started = new WeakSet<FastifyRequest>();
  let inFlight = 0;
  const idle: (() => void)[] = [];
  // While shutting down, finished responses close their connection: a kept-alive idle socket would otherwise
  // hold close() open until its keep-alive timeout.
  let closing = false;
  // Hooks in callback style: an async hook costs every request a promise and a turn of the microtask queue.
  app.addHook('onRequest', (req, _reply, done) => {
    started.add(req);
    inFlight++;
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    if (closing) reply.header('connection', 'close');
    if (started.delete(req) && --inFlight === 0) idle.splice(0).forEach((resolve) => resolve());
    done(null, payload);
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
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  const { metrics } = options;
  const routeLabel = routeLabeller(scim.registry, SCIM_PREFIX);
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, client: req.ip }, 'request');
    metrics?.request(req.method, routeLabel(req.routeOptions.url, req.url), reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  // Renders anything a request failed with as a SCIM error; only true 500s are logged as errors.
  app.setErrorHandler((err: unknown, req, reply) => {
    const e = toScimError(err, bodyLimit);
    if (e.status === 500) req.log.error({ err }, 'request failed');
    sendError(reply, e);
  });

  app.setNotFoundHandler(fastifyRoute((req) => answerNotFound(new FastifyHttpRequest(req, '', 0), bodyLimit, (err) => req.log.error({ err }, 'request failed'))));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).header('retry-after', '1').send({ status: 'database unavailable' });
    }
  });

  const { publicUrl, audit, rateLimit, refusalLimit } = options;
  // the console's pages at /console and the admin API at /admin/api: one handler, as an embedding application mounts it
  const consoleHandler = createConsoleHandler({
    scim, store, registry: scim.registry, feed: scim.feed, ...(options.webhooks ? { webhooks: options.webhooks } : {}),
    publicUrl, scimPath: SCIM_PREFIX, pagesPath: CONSOLE_PREFIX, apiPath: ADMIN_PREFIX, audit, refusalLimit, bodyLimit,
    onError: (err, request) => (request instanceof FastifyHttpRequest ? request.raw.log : app.log).error({ err }, 'request failed'),
  });
  const serveConsole = fastifyRoute((req) => consoleHandler(new FastifyHttpRequest(req, '', 0)));
  for (const prefix of [CONSOLE_PREFIX, ADMIN_PREFIX]) {
    app.all(prefix, serveConsole);
    app.all(`${prefix}/*`, serveConsole);
  }

  // OAuth client credentials: the token endpoint, its keys and metadata; the SCIM API takes the tokens it issues
  const oauth = createOAuth(store);
  const oauthHandler = createOAuthHandler({
    oauth, publicUrl, scimPath: SCIM_PREFIX, audit, refusalLimit,
    onError: (err, request) => (request instanceof FastifyHttpRequest ? request.raw.log : app.log).error({ err }, 'request failed'),
  });
  const serveOAuth = fastifyRoute((req) => oauthHandler(new FastifyHttpRequest(req, '', 0)));
  for (const path of Object.values(OAUTH_PATHS)) app.all(path, serveOAuth);

  void app.register(scimPlugin, { prefix: SCIM_PREFIX, scim, store, bodyLimit, publicUrl, audit, rateLimit, refusalLimit, accessTokens: oauth.verifier });
  return app;
}
