/**
 * What a request failed with at the HTTP edge, as a SCIM error (RFC 7644 §3.12): the refusals of a body, and the
 * client errors Fastify meets itself (a URL it cannot route); everything else as the core maps it (core/errors.ts:
 * the store's refusals, a database that is away as 503 with Retry-After, anything unknown as a 500 to log).
 */
import { ScimError, scimErrors, toScimError as fromCore } from '../core/errors.js';

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
  tooDeep: (max: number, position?: number) =>
    scimErrors.invalidSyntax(`The request body nests arrays and objects deeper than ${max} levels${position === undefined ? '' : ` (at character ${position})`}; no SCIM request is that deep.`),
  invalidJson: () => scimErrors.invalidSyntax("The request body is not valid JSON: Body is not valid JSON but content-type is set to 'application/json'."),
} as const;

export function toScimError(err: unknown, bodyLimit: number): ScimError {
  if (err instanceof ScimError) return err;
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
  // a database that is away was no ScimError before here, so the core recorded no failure into it
  return fromCore(err);
}
