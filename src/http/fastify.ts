/**
 * The SCIM API as a Fastify plugin, the default export of `scimd/fastify`:
 * `app.register(scimd, { prefix: '/scim/v2', scim, store, bodyLimit })`, or `{ prefix, handler }` with a ready handler.
 * It only translates between Fastify and the framework-neutral handler (handler.ts), which decides everything.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createScimHandler, type HttpRequest, type HttpResponse, type ScimHandlerSource } from './handler.js';
import { readNodeBody, splitTarget } from './node.js';

export type ScimPluginOptions = ScimHandlerSource;

/**
 * Leaves request bodies to the handler: Fastify neither reads nor limits them, and hands the stream through (after
 * any preParsing hook) as `request.body`. A body never read is discarded by Node once the reply is sent, so the
 * connection is kept alive. Encapsulated: it applies to the instance given and what it registers.
 */
export function passBodiesThrough(instance: FastifyInstance): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}

/**
 * A Fastify request as the handler's plain request, with the path below the first `depth` segments of its URL.
 * A class rather than an object literal: the handler reads it on every request, and the Fastify request stays
 * at hand for logging.
 */
export class FastifyHttpRequest implements HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: FastifyRequest['headers'];
  readonly requestId: string;
  readonly clientAddress: string;
  readonly url: string;

  constructor(
    readonly raw: FastifyRequest,
    readonly prefix: string,
    depth: number,
  ) {
    const { path, query } = splitTarget(raw.url, depth);
    this.method = raw.method;
    this.path = path;
    this.query = query;
    this.headers = raw.headers;
    this.requestId = raw.id;
    this.clientAddress = raw.ip;
    this.url = raw.url;
  }

  /** Fastify's reading of the Host (or, behind a trusted proxy, X-Forwarded-*) headers, only when it is used. */
  get origin(): string {
    return `${this.raw.protocol}://${this.raw.host}`;
  }

  /** The stream as the plugin's parser handed it through (after any preParsing hook), else the request's own. */
  readBody(limit: number): Promise<string> {
    const body = this.raw.body as { readonly on?: unknown } | undefined;
    const stream = typeof body?.on === 'function' ? (body as FastifyRequest['raw']) : this.raw.raw;
    return readNodeBody(stream, this.headers, limit);
  }
}

function sendHttpResponse(reply: FastifyReply, response: HttpResponse): void {
  reply.code(response.status);
  for (const name in response.headers) reply.header(name, response.headers[name]);
  reply.send(response.body);
}

/**
 * A Fastify route handler answering with what `answer` resolves to. It returns nothing and sends when the answer
 * comes: a handler that returns its reply has Fastify watch the response for its end, on every request. A failure,
 * of the answer or of sending it, goes to Fastify's error handler, as an async handler's would.
 */
export function fastifyRoute(answer: (req: FastifyRequest) => Promise<HttpResponse>): (req: FastifyRequest, reply: FastifyReply) => void {
  return (req, reply) => {
    answer(req)
      .then((response) => sendHttpResponse(reply, response))
      .catch((err: unknown) => void reply.send(err));
  };
}

/** Fastify refuses these before any handler runs; the SCIM handler decides them itself, after authentication. */
const HANDED_OVER = new Set(['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE']);

export const scimPlugin: FastifyPluginAsync<ScimPluginOptions> = async (instance, options) => {
  const handler =
    'handler' in options
      ? options.handler
      : createScimHandler({
          ...options,
          // by default, a failure answered with 500 is logged by the logger of the request it failed
          onError: options.onError ?? ((err, request) => (request instanceof FastifyHttpRequest ? request.raw.log : instance.log).error({ err }, 'request failed')),
        });
  const prefix = instance.prefix.replace(/\/+$/, '');
  const depth = prefix.split('/').filter(Boolean).length;
  const serve = fastifyRoute((req) => handler(new FastifyHttpRequest(req, prefix, depth)));

  passBodiesThrough(instance);
  instance.setErrorHandler((err: { code?: string }, req, reply) => {
    if (err.code === undefined || !HANDED_OVER.has(err.code)) throw err;
    serve(req, reply);
  });
  // every method and path under the prefix: the handler routes, and answers 404 where nothing matches (methods
  // Fastify's `all` leaves out reach its not-found handler, which this prefix's is)
  instance.all('/', serve);
  instance.all('/*', serve);
  instance.setNotFoundHandler(serve);
};

export default scimPlugin;
