/**
 * Maps whatever a request failed with to a SCIM error (RFC 7644 §3.12). ScimErrors pass through; Fastify's own
 * client errors (body parsing, size, media type) get their SCIM form; the database being unavailable is 503 with
 * Retry-After; anything else is a 500 and is logged.
 */
import { ScimError, scimErrors } from '../core/errors.js';
import { StoreUnavailable } from '../store/store.js';

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
}

/** The refusals of a request body, worded once for the handler, the Node body reader and Fastify's own errors. */
export const bodyErrors = {
  tooLarge: (limit: number) => scimErrors.tooLarge(`The request body is larger than the limit of ${limit} bytes.`),
  unsupportedMediaType: () => scimErrors.unsupportedMediaType('Send the body as "application/scim+json" or "application/json".'),
  contentLengthMismatch: () => scimErrors.badRequest('The Content-Length header does not match the body.'),
  // Fastify's wording, whatever the media type was: clients have seen it since the first release
  invalidJson: () => scimErrors.invalidSyntax("The request body is not valid JSON: Body is not valid JSON but content-type is set to 'application/json'."),
} as const;

export function toScimError(err: unknown, bodyLimit: number): ScimError {
  if (err instanceof ScimError) return err;
  // not a ScimError before here, so the core records no failure audit entry in a database that is away
  if (err instanceof StoreUnavailable) {
    return scimErrors.unavailable('The database is unavailable; send the request again shortly (a write cut off by the outage may have been applied).');
  }
  const e = (err ?? {}) as FastifyLikeError;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyErrors.tooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return bodyErrors.unsupportedMediaType();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return scimErrors.invalidSyntax('The request body is empty; a JSON object is expected.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return bodyErrors.contentLengthMismatch();
  }
  if (err instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return scimErrors.invalidSyntax(`The request body is not valid JSON: ${e.message ?? 'parse error'}.`);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ScimError(e.statusCode, undefined, e.message ?? 'The request was rejected.');
  }
  return scimErrors.internal();
}
