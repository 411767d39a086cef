/**
 * The SCIM API as a Fastify plugin: `app.register(scimPlugin, { prefix: '/scim/v2', scim, store, bodyLimit })`.
 * It only translates between Fastify and the framework-neutral handler (handler.ts), which decides everything.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createScimHandler, type HttpRequest, type HttpResponse, type ScimHandlerOptions } from './handler.js';
import { readNodeBody, splitTarget } from './node.js';

export type ScimPluginOptions = ScimHandlerOptions;

/**
 * Leaves request bodies to the handler: Fastify neither reads nor limits them, and hands the stream through (after
 * any preParsing hook) as `request.body`. A body never read is discarded by Node once the reply is sent, so the
 * connection is kept alive. Encapsulated: it applies to the instance given and what it registers.
 */
export function passBodiesThrough(instance: FastifyInstance): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}

/** A Fastify request as the handler's plain request, with the path below the first `depth` segments of its URL. */
export function httpRequest(req: FastifyRequest, prefix: string, depth: number): HttpRequest {
  const { path, query } = splitTarget(req.url, depth);
  const body = req.body as { readonly on?: unknown } | undefined;
  const stream = typeof body?.on === 'function' ? (body as FastifyRequest['raw']) : req.raw;
  return {
    method: req.method,
    path,
    query,
    headers: req.headers,
    readBody: (limit) => readNodeBody(stream, req.headers, limit),
    // Fastify's reading of the Host (or, behind a trusted proxy, X-Forwarded-*) headers, only when it is used
    get origin() {
      return `${req.protocol}://${req.host}`;
    },
    prefix,
    requestId: req.id,
    clientAddress: req.ip,
    url: req.url,
  };
}

export function sendHttpResponse(reply: FastifyReply, response: HttpResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body);
}

/** Fastify refuses these before any handler runs; the SCIM handler decides them itself, after authentication. */
const HANDED_OVER = new Set(['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE']);

export const scimPlugin: FastifyPluginAsync<ScimPluginOptions> = async (instance, options) => {
  // a failure answered with 500 is logged, by default, by the logger of the request it failed
  const fastifyRequests = new WeakMap<HttpRequest, FastifyRequest>();
  const handler = createScimHandler({
    ...options,
    onError: options.onError ?? ((err, request) => (fastifyRequests.get(request)?.log ?? instance.log).error({ err }, 'request failed')),
  });
  const prefix = instance.prefix.replace(/\/+$/, '');
  const depth = prefix.split('/').filter(Boolean).length;
  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const request = httpRequest(req, prefix, depth);
    fastifyRequests.set(request, req);
    return sendHttpResponse(reply, await handler(request));
  };

  passBodiesThrough(instance);
  instance.setErrorHandler(async (err: { code?: string }, req, reply) => {
    if (err.code !== undefined && HANDED_OVER.has(err.code)) return serve(req, reply);
    throw err;
  });
  // every method and path under the prefix: the handler routes, and answers 404 where nothing matches
  instance.all('/', serve);
  instance.all('/*', serve);
};
