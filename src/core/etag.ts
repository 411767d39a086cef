/**
 * Entity tags of resource versions (RFC 7644 §3.14, RFC 7232): a resource at version 7 is `W/"7"`. Weak, because
 * two representations of one version may differ in bytes (attribute projection, member order of a page).
 */
import { scimErrors, type ScimError } from './errors.js';

export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/** The conditional request headers a client may send with an operation. */
export interface Preconditions {
  /** PUT, PATCH, DELETE: act only if the resource is still at one of these versions (or `*`: exists). */
  readonly ifMatch?: string;
  /** GET: answer "not modified" if the resource is still at one of these versions. */
  readonly ifNoneMatch?: string;
}

/**
 * Whether an If-Match / If-None-Match header names this version, by weak comparison (RFC 7232 §2.3.2): `W/"7"` and
 * `"7"` both name version 7. Tags this server never issued match nothing. RFC 7644's own examples write `W\/"…"`
 * (a JSON escape left in the text); that is read as `W/"…"`.
 */
export function namesVersion(header: string, version: number): boolean {
  if (header.trim() === '*') return true;
  for (const raw of header.split(',')) {
    const m = /^\s*(?:W\\?\/)?"([^"]*)"\s*$/i.exec(raw) ?? /^\s*(?:W\\?\/)?([^",\s]+)\s*$/i.exec(raw);
    if (m && m[1] === String(version)) return true;
  }
  return false;
}

/**
 * The version a write must still find in the store for an If-Match to hold, checked first against what was read.
 * Undefined when there is no If-Match, or `*` (any current version will do).
 */
export function expectedVersion(conditions: Preconditions, current: number, what: string): number | undefined {
  const header = conditions.ifMatch;
  if (header === undefined) return undefined;
  if (!namesVersion(header, current)) throw stale(what, current);
  return header.trim() === '*' ? undefined : current;
}

export function stale(what: string, current?: number): ScimError {
  const now = current === undefined ? '' : ` (it is now at ${etagOf(current)})`;
  return scimErrors.preconditionFailed(`${what} has changed since the version the request names${now}; read it again and resend.`);
}
