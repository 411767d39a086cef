/**
 * The SCIM handler on Node's HTTP server: `createNodeHandler` mounts it in `node:http`, Express 4/5 and Connect-style
 * frameworks; and what every Node adapter needs (the Fastify plugin too): the request target split below the SCIM
 * root, and the body read from the request stream under a byte limit.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { MAX_DEPTH } from '../core/json.js';
import { bodyErrors } from './errors.js';
import { handlerFrom, notFound, requestIdOf, type HttpRequest, type HttpResponse, type ScimHandlerSource } from './handler.js';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** A body stream that decodes what arrived (e.g. gunzip in a Fastify preParsing hook) may say how much did. */
type BodyStream = Readable & { receivedEncodedLength?: number };

/**
 * Reads a request body as UTF-8 text ('' when empty). Refuses it with 413 when Content-Length announces more than
 * `limit` bytes (nothing is read) or once more than `limit` bytes have arrived (reading stops: answer with
 * `connection: close`, the client may still be sending), and with 400 when the bytes received are not the
 * Content-Length. A stream error rejects with that error, as a 400 unless it says otherwise. Fastify's rules.
 */
export function readNodeBody(stream: BodyStream, headers: Headers, limit: number): Promise<string> {
  const contentLength = Number(headers['content-length']);
  if (contentLength > limit) return Promise.reject(bodyErrors.tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onEnd);
    };
    function onData(chunk: Buffer | string) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      // what the body decodes to counts, and so does what was sent to make it (a small gzip can hide a large body)
      if (received > limit || (stream.receivedEncodedLength ?? 0) > limit) {
        stop();
        reject(bodyErrors.tooLarge(limit));
        return;
      }
      chunks.push(bytes);
    }
    function onEnd(err?: Error & { statusCode?: number }) {
      stop();
      if (err) {
        if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
        reject(err);
        return;
      }
      if (!Number.isNaN(contentLength) && (stream.receivedEncodedLength || received) !== contentLength) {
        reject(bodyErrors.contentLengthMismatch());
        return;
      }
      // decoded whole, so that a character split across chunks survives
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, received).toString('utf8'));
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    stream.resume();
  });
}

/**
 * Splits a request target as Node received it (`req.url`) into the path below the first `depth` segments (the
 * mount point, e.g. 2 for `/scim/v2`), still percent-encoded, and the query. As Fastify's router does, the path
 * ends at the first `?` or `#` and everything after that character is the query.
 */
export function splitTarget(url: string, depth: number): { path: string; query: string } {
  let target = url;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute form (`GET http://host/scim/v2/Users`): the path starts after the authority
    const authority = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i.exec(target);
    if (authority) target = `/${target.slice(authority[0].length).replace(/^\//, '')}`;
  }
  let end = target.length;
  for (let i = 1; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  const query = end < target.length ? target.slice(end + 1) : '';
  let start = 0;
  for (let i = 0; i < depth && start !== -1; i++) start = target.indexOf('/', start + 1);
  const path = start === -1 || start >= end ? '' : target.slice(start, end);
  return { path, query };
}

/**
 * `splitTarget` below `prefix` ('' or '/scim/v2'), or undefined when the target's path is not below it; the prefix's
 * segments are compared case-insensitively, as scimd's server routes.
 */
export function splitBelow(url: string, prefix: string): { path: string; query: string } | undefined {
  const { path: whole, query } = splitTarget(url, 0);
  if (whole.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return undefined;
  const path = whole.slice(prefix.length);
  return path === '' || path.charCodeAt(0) === 47 ? { path, query } : undefined;
}

/** A mount path as given ('/scim/v2/', 'scim/v2', '/' or none) in the one form URLs are built from: '/scim/v2' or ''. */
export function mountPrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}

export interface NodeHandlerOptions {
  /**
   * Where the SCIM root is below the URL the handler sees: on a bare `node:http` server, '/scim/v2'; mounted with
   * Express's `app.use('/scim/v2', …)`, none (Express strips the mount and says where it was in `req.baseUrl`).
   */
  readonly prefix?: string;
}

/** `(req, res)` for `http.createServer`, `(req, res, next)` for Express and Connect. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/** What Express (or Connect) adds to a Node request, when it is there. */
type FrameworkRequest = IncomingMessage & {
  readonly baseUrl?: string;
  readonly originalUrl?: string;
  readonly body?: unknown;
  readonly ip?: string;
  readonly protocol?: string;
};

/**
 * The SCIM API as a Node request handler. A request outside `prefix` goes to `next` when there is one (the rest of
 * the application), else is answered 404. Location and every other URL carry the full public URL: the request's
 * Host (or `publicUrl`), Express's mount (`req.baseUrl`) and `prefix`. The body is read from the request stream,
 * under the handler's limits; when a body parser mounted earlier has consumed the stream, its result (`req.body`)
 * is taken instead, as JSON text (docs/library.md says what that changes).
 */
export function createNodeHandler(options: ScimHandlerSource & NodeHandlerOptions): NodeHandler {
  const handler = handlerFrom(options);
  const prefix = mountPrefix(options.prefix);
  return (req, res, next) => {
    const request = req as FrameworkRequest;
    const target = splitBelow(request.url ?? '/', prefix);
    if (target === undefined && next) return next();
    const http = new NodeHttpRequest(request, (request.baseUrl ?? '') + prefix, target);
    if (target === undefined) return sendNodeResponse(res, notFound(http));
    handler(http).then(
      (answer) => sendNodeResponse(res, answer),
      // the handler answers every failure itself; this is one of the application's hooks (onError) throwing
      (error: unknown) => (next ? next(error) : res.destroy(error as Error)),
    );
  };
}

class NodeHttpRequest implements HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: IncomingMessage['headers'];
  readonly requestId: string;
  readonly clientAddress: string | undefined;
  readonly url: string;

  constructor(
    readonly raw: FrameworkRequest,
    readonly prefix: string,
    target: { path: string; query: string } | undefined,
  ) {
    this.method = raw.method ?? 'GET';
    this.path = target?.path ?? '';
    this.query = target?.query ?? '';
    this.headers = raw.headers;
    this.requestId = requestIdOf(raw.headers['x-request-id']);
    this.clientAddress = raw.ip ?? raw.socket.remoteAddress;
    this.url = raw.originalUrl ?? raw.url ?? '/';
  }

  /** Express's protocol (which believes X-Forwarded-Proto only behind a trusted proxy), else the socket's. */
  get origin(): string {
    const protocol = this.raw.protocol ?? ((this.raw.socket as TLSSocket).encrypted ? 'https' : 'http');
    return `${protocol}://${this.raw.headers.host}`;
  }

  readBody(limit: number): Promise<string> {
    return this.raw.readableEnded ? parsedBody(this.raw.body, limit) : readNodeBody(this.raw, this.headers, limit);
  }
}

/**
 * The body a parser mounted before the handler made of the stream, as text: a string or Buffer as it is, anything
 * else (express.json()'s objects) as JSON, which the handler then parses and checks as it would have the original.
 */
function parsedBody(body: unknown, limit: number): Promise<string> {
  if (body === undefined) return Promise.reject(new Error('The request body was read before the SCIM handler, which found no parsed body in req.body: mount it before any middleware that reads bodies.'));
  let text: string;
  try {
    text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body);
  } catch {
    // JSON.stringify recurses: what it cannot write nests far deeper than the handler allows
    return Promise.reject(bodyErrors.tooDeep(MAX_DEPTH));
  }
  return Buffer.byteLength(text) > limit ? Promise.reject(bodyErrors.tooLarge(limit)) : Promise.resolve(text);
}

function sendNodeResponse(res: ServerResponse, answer: HttpResponse): void {
  const headers = answer.body === undefined ? answer.headers : Object.assign({ 'content-length': String(Buffer.byteLength(answer.body)) }, answer.headers);
  res.writeHead(answer.status, headers).end(answer.body);
}
