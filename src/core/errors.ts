/**
 * The one catalogue of SCIM errors (RFC 7644 §3.12). Every failure the core reports is a ScimError made here;
 * the HTTP layer renders it and nothing else decides a status or scimType.
 */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'
  | 'tooLarge'
  // RFC 9865 §2.1
  | 'invalidCursor'
  | 'expiredCursor';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export class ScimError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: ScimType | undefined,
    readonly detail: string,
    /** Extra response headers the error demands, e.g. WWW-Authenticate on 401. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = 'ScimError';
  }

  toJSON(): ScimErrorBody {
    return errorBody(this.status, this.scimType, this.detail);
  }
}

export interface ScimErrorBody {
  schemas: [typeof ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export function errorBody(status: number, scimType: ScimType | undefined, detail: string): ScimErrorBody {
  const body: ScimErrorBody = { schemas: [ERROR_SCHEMA], status: String(status), detail };
  if (scimType) body.scimType = scimType;
  return body;
}

export const scimErrors = {
  invalidSyntax: (detail: string) => new ScimError(400, 'invalidSyntax', detail),
  invalidValue: (detail: string) => new ScimError(400, 'invalidValue', detail),
  invalidFilter: (detail: string) => new ScimError(400, 'invalidFilter', detail),
  invalidPath: (detail: string) => new ScimError(400, 'invalidPath', detail),
  noTarget: (detail: string) => new ScimError(400, 'noTarget', detail),
  invalidCursor: (detail: string) => new ScimError(400, 'invalidCursor', detail),
  expiredCursor: (detail: string) => new ScimError(400, 'expiredCursor', detail),
  mutability: (detail: string) => new ScimError(400, 'mutability', detail),
  badRequest: (detail: string) => new ScimError(400, undefined, detail),
  unauthorized: (detail: string) =>
    new ScimError(401, undefined, detail, { 'WWW-Authenticate': 'Bearer realm="scimd"' }),
  forbidden: (detail: string) => new ScimError(403, undefined, detail),
  notFound: (detail: string) => new ScimError(404, undefined, detail),
  methodNotAllowed: (detail: string) => new ScimError(405, undefined, detail),
  uniqueness: (detail: string) => new ScimError(409, 'uniqueness', detail),
  conflict: (detail: string) => new ScimError(409, undefined, detail),
  // RFC 7644 §3.14: the client's If-Match (or a Bulk operation's version) names a version that is no longer current
  preconditionFailed: (detail: string) => new ScimError(412, undefined, detail),
  tooLarge: (detail: string) => new ScimError(413, 'tooLarge', detail),
  // RFC 7644 §3.12: a filter that yields more than the server is willing to calculate or process
  tooMany: (detail: string) => new ScimError(400, 'tooMany', detail),
  unsupportedMediaType: (detail: string) => new ScimError(415, undefined, detail),
  tooManyRequests: (detail: string, retryAfterSeconds: number) => new ScimError(429, undefined, detail, { 'Retry-After': String(retryAfterSeconds) }),
  notImplemented: (detail: string) => new ScimError(501, undefined, detail),
  unavailable: (detail: string) => new ScimError(503, undefined, detail, { 'Retry-After': '1' }),
  internal: () => new ScimError(500, undefined, 'The server failed to process the request; it has been logged.'),
} as const;
