/**
 * The SCIM handler as a Web-standard handler, `(Request) => Promise<Response>`: for Hono, Next.js route handlers and
 * other runtimes that speak the Fetch API (docs/library.md says which were tried). It only translates; the body is
 * read with the Node reader's limits and checks, over the request's stream.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { handlerFrom, notFound, requestIdOf, type HttpRequest, type ScimHandlerSource } from './handler.js';
import { mountPrefix, readNodeBody, splitBelow } from './node.js';

export interface FetchHandlerOptions {
  /** Where the SCIM root is in the request's URL, e.g. '/scim/v2'; a request outside it is answered 404. */
  readonly prefix?: string;
  /** The client's address, for the audit log and the throttling of refused tokens (a Request does not carry it). */
  readonly clientAddress?: (request: Request) => string | undefined;
}

/**
 * `context`: whatever the application passes along with the request (Hono's `c`, with what its middleware set on it),
 * for its hooks to read as the request's `context`.
 */
export type FetchHandler = (request: Request, context?: unknown) => Promise<Response>;

export function createFetchHandler(options: ScimHandlerSource & FetchHandlerOptions): FetchHandler {
  const handler = handlerFrom(options);
  const prefix = mountPrefix(options.prefix);
  return async (request, context) => {
    const url = new URL(request.url);
    const target = splitBelow(url.pathname + url.search, prefix);
    const http = new FetchHttpRequest(request, url, prefix, target, options.clientAddress?.(request), context);
    const answer = target === undefined ? notFound(http) : await handler(http);
    return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers });
  };
}

class FetchHttpRequest implements HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Record<string, string>;
  readonly origin: string;
  readonly requestId: string;
  readonly url: string;

  constructor(
    readonly raw: Request,
    url: URL,
    readonly prefix: string,
    target: { path: string; query: string } | undefined,
    readonly clientAddress: string | undefined,
    readonly context: unknown,
  ) {
    this.method = raw.method;
    this.path = target?.path ?? '';
    this.query = target?.query ?? '';
    // Headers iterate with lower-case names, repeated ones joined
    this.headers = Object.fromEntries(raw.headers);
    this.origin = url.origin;
    this.requestId = requestIdOf(this.headers['x-request-id']);
    this.url = url.pathname + url.search;
  }

  readBody(limit: number): Promise<string> {
    const body = this.raw.body as NodeReadableStream | null;
    return body === null ? Promise.resolve('') : readNodeBody(Readable.fromWeb(body), this.headers, limit);
  }
}
