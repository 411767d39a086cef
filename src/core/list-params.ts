/**
 * The parameters of a list or search request (RFC 7644 §3.4.2, §3.4.3, RFC 9865) read into plain values: the
 * SearchRequest message, sortOrder, integer parameters, and the order sort keys compare in.
 */
import { scimErrors } from './errors.js';
import { SCHEMA_URN } from './schema/registry.js';
import { compareCodePoints } from './filter/bound.js';

export interface ProjectionParams {
  readonly attributes?: string;
  readonly excludedAttributes?: string;
}

export interface ListParams extends ProjectionParams {
  readonly filter?: string;
  readonly sortBy?: string;
  readonly sortOrder?: string;
  readonly startIndex?: string | number;
  readonly count?: string | number;
  /** RFC 9865: "" for the first page, then a nextCursor or previousCursor value. */
  readonly cursor?: string;
}

/** The order the stores sort in: values by code point or number, missing ones last ascending and first descending. */
export function compareSortKeys(a: string | number | null, b: string | number | null, descendingOrder: boolean): number {
  if (a === null || b === null) return a === b ? 0 : (a === null) !== descendingOrder ? 1 : -1;
  const c = typeof a === 'string' && typeof b === 'string' ? compareCodePoints(a, b) : typeof a === 'number' && typeof b === 'number' ? a - b : typeof a === 'number' ? -1 : 1;
  return descendingOrder ? -c : c;
}

/** A SearchRequest body (RFC 7644 §3.4.3) as list parameters. */
export function searchRequest(body: unknown): ListParams {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw scimErrors.invalidSyntax(`The body of a search must be a SearchRequest object ("schemas": ["${SCHEMA_URN.searchRequest}"]).`);
  }
  const b = Object.fromEntries(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
  const schemas = b.schemas;
  if (!Array.isArray(schemas) || !schemas.some((x) => typeof x === 'string' && x.toLowerCase() === SCHEMA_URN.searchRequest.toLowerCase())) {
    throw scimErrors.invalidSyntax(`"schemas" of a search must include "${SCHEMA_URN.searchRequest}".`);
  }
  const out: Record<string, string | number> = {};
  const text = (name: string, key: string) => {
    const v = b[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'string') throw scimErrors.invalidValue(`"${name}" must be a string.`);
    out[name] = v;
  };
  const list = (name: string, key: string) => {
    const v = b[key];
    if (v === undefined || v === null) return;
    // RFC 7644 §3.4.3 makes these arrays of strings; a comma-separated string means the same
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[name] = v.join(',');
    else throw scimErrors.invalidValue(`"${name}" must be an array of attribute names.`);
  };
  const integer = (name: string, key: string) => {
    const v = b[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'number' && typeof v !== 'string') throw scimErrors.invalidValue(`"${name}" must be an integer.`);
    out[name] = v;
  };
  list('attributes', 'attributes');
  list('excludedAttributes', 'excludedattributes');
  text('filter', 'filter');
  text('sortBy', 'sortby');
  text('sortOrder', 'sortorder');
  text('cursor', 'cursor');
  integer('startIndex', 'startindex');
  integer('count', 'count');
  return out as ListParams;
}

export function descending(sortOrder: string | undefined): boolean {
  const order = (sortOrder ?? 'ascending').toLowerCase();
  if (order !== 'ascending' && order !== 'descending') {
    throw scimErrors.invalidValue(`"sortOrder" must be "ascending" or "descending"; got ${JSON.stringify(sortOrder)}.`);
  }
  return order === 'descending';
}

export function integerParam(name: string, raw: string | number | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isSafeInteger(n)) {
    throw scimErrors.invalidValue(`"${name}" must be an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}; got ${JSON.stringify(raw)}.`);
  }
  return n;
}
