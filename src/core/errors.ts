/**
 * The one catalogue of SCIM errors (RFC 7644 §3.12), the typed errors a store throws, and the one mapping of any
 * failure to a SCIM error (toScimError). Every failure the core reports is a ScimError made here; the HTTP layer renders it and nothing
 * else decides a status or scimType.
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

// The typed errors of the ports (ports.ts): what a store throws, for toScimError to map.

/** A write the database refused for a reason of the request's own: the core answers it as a SCIM error. */
export class WriteRefused extends Error {}

/** A unique value is taken by another resource (enforced by the database, not by a prior read). */
export class UniquenessViolation extends WriteRefused {
  override name = 'UniquenessViolation';
  constructor(readonly attribute: string) {
    super(`unique value of ${attribute} is taken`);
  }
}

/** Group members that name no resource of the organization. */
export class UnknownMembers extends WriteRefused {
  override name = 'UnknownMembers';
  constructor(readonly ids: readonly string[]) {
    super(`unknown members: ${ids.join(', ')}`);
  }
}

/** importSnapshot into a store that already holds a directory. */
export class StoreNotEmpty extends Error {
  override name = 'StoreNotEmpty';
  constructor(readonly holds: string) {
    super(`the target database is not empty (it holds ${holds}); restore only into a new, empty database`);
  }
}

/**
 * The database cannot be reached or lost the connection (PostgreSQL restarting, a network cut, no connection within
 * the connect timeout). Nothing is known to be wrong with the request, so it may be sent again; a write cut off while
 * committing may have been applied. SQLite never throws it: its file is local, and SQLITE_BUSY after the 5 s busy
 * timeout means a process held the write lock for seconds, a fault to see in the logs as a 500, not an outage.
 */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
}

/**
 * A statement ran past the database's statement timeout (PostgreSQL's SCIMD_DB_STATEMENT_TIMEOUT) and was cancelled:
 * its transaction wrote nothing. A list whose filter is this expensive is the client's to narrow (the core answers
 * 400 tooMany); anything else is an overloaded database, unavailable for now.
 */
export class QueryTimeout extends StoreUnavailable {
  override name = 'QueryTimeout';
}

/** What a failure happened in, where its SCIM error depends on it. */
export interface ErrorContext {
  /** The resource type a write was for: a uniqueness clash names its attribute and how values are compared. */
  readonly resourceType?: { readonly name: string; caseExact(attribute: string): boolean };
  /** The failure ended a list's query: a statement the database cancelled was the filter's cost to the client. */
  readonly listing?: boolean;
}

/**
 * Any failure as the SCIM error a client gets. The store's typed refusals are the request's own fault (409, 400);
 * a database that is away is 503 with Retry-After; anything unknown is a 500 (the caller logs those).
 */
export function toScimError(error: unknown, context: ErrorContext = {}): ScimError {
  if (error instanceof ScimError) return error;
  if (error instanceof UniquenessViolation) {
    const rt = context.resourceType;
    const rule = rt?.caseExact(error.attribute) ? 'case-sensitively' : 'case-insensitively';
    return scimErrors.uniqueness(`Another ${rt?.name ?? 'resource'} already has this ${error.attribute} (compared ${rule}).`);
  }
  if (error instanceof UnknownMembers) {
    const shown = error.ids.slice(0, 5).map((id) => `"${id}"`).join(', ');
    return scimErrors.invalidValue(`members must reference existing Users or Groups of this organization (and not the group itself); unknown: ${shown}${error.ids.length > 5 ? ', …' : ''}.`);
  }
  if (error instanceof QueryTimeout && context.listing) {
    return scimErrors.tooMany('The filter took longer to answer than the database allows; narrow it (e.g. with eq or sw rather than co or ew).');
  }
  if (error instanceof StoreUnavailable) {
    return scimErrors.unavailable('The database is unavailable; send the request again shortly (a write cut off by the outage may have been applied).');
  }
  return scimErrors.internal();
}
