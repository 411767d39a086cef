/**
 * What a request of the client can fail with: the server's answer (ScimClientError: an HTTP status other than 2xx,
 * with the SCIM error's scimType and detail when the body is one), or no answer at all (ScimTransportError: the
 * connection failed or timed out). A request the client can tell is invalid before sending it is the core's
 * ScimError (an attribute path that is not one, a PATCH that cannot apply).
 */
import type { ScimType } from '../core/errors.js';

export interface RequestLine {
  readonly method: string;
  readonly url: string;
}

export class ScimClientError extends Error {
  override name = 'ScimClientError';
  readonly method: string;
  readonly url: string;

  constructor(
    request: RequestLine,
    readonly status: number,
    readonly scimType: ScimType | undefined,
    readonly detail: string,
    /** The parsed body of the answer (or its text when not JSON), for what the fields above do not carry. */
    readonly body: unknown,
  ) {
    super(`${request.method} ${request.url}: ${status}${scimType ? ` ${scimType}` : ''}${detail ? ` — ${detail}` : ''}`);
    this.method = request.method;
    this.url = request.url;
  }
}

export class ScimTransportError extends Error {
  override name = 'ScimTransportError';
  readonly method: string;
  readonly url: string;

  constructor(request: RequestLine, cause: unknown) {
    const why = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
    super(`${request.method} ${request.url}: no answer (${why})`, { cause });
    this.method = request.method;
    this.url = request.url;
  }
}

/** The answer's body as a ScimClientError: a SCIM error body gives scimType and detail; anything else its text. */
export function answerError(request: RequestLine, status: number, body: unknown): ScimClientError {
  if (typeof body === 'object' && body !== null) {
    const o = body as Record<string, unknown>;
    const detail = typeof o.detail === 'string' ? o.detail : typeof o.error_description === 'string' ? o.error_description : typeof o.error === 'string' ? o.error : '';
    return new ScimClientError(request, status, typeof o.scimType === 'string' ? (o.scimType as ScimType) : undefined, detail, body);
  }
  return new ScimClientError(request, status, undefined, typeof body === 'string' ? body.slice(0, 200) : '', body);
}
