/**
 * What a SCIM token may do, as OAuth scopes (RFC 6749 §3.3): `scim:read` and `scim:write` for every resource type,
 * or `scim:read:Users`, `scim:write:Groups`… for one endpoint. Reads are GET, list, `/.search` and discovery; writes
 * are POST, PUT, PATCH and DELETE, each Bulk operation on its own. Write does not imply read: an IdP reads before it
 * writes, so its token has both (the default). A request outside its scopes is refused with 403 and RFC 6750's
 * `insufficient_scope`, naming the scope it needed; nothing is read or changed.
 */
import { ScimError, scimErrors } from './errors.js';

export type Access = 'read' | 'write';

export const SCIM_READ = 'scim:read';
export const SCIM_WRITE = 'scim:write';
/** What a SCIM token may do when made without scopes, and what every token made before scopes existed may. */
export const FULL_ACCESS: readonly string[] = [SCIM_READ, SCIM_WRITE];

const SCOPE = /^scim:(read|write)(?::([A-Za-z][A-Za-z0-9_-]*))?$/;

/**
 * The scopes a token is made with, from a list or a space-separated string (OAuth's form), checked and without
 * repeats. `endpoints` (the server's resource endpoints, such as `Users`) names those a per-type scope may name;
 * a scope is refused when it names another, spelt as the endpoint is.
 */
export function parseScopes(given: string | readonly string[], endpoints?: readonly string[]): string[] {
  const words = (typeof given === 'string' ? given.split(/[\s,]+/) : given).filter((w) => w !== '');
  if (words.length === 0) throw scimErrors.invalidValue(`A token needs at least one scope: ${SCIM_READ}, ${SCIM_WRITE}, or one of them for one endpoint (${SCIM_READ}:Users).`);
  const scopes: string[] = [];
  for (const word of words) {
    const m = typeof word === 'string' ? SCOPE.exec(word) : null;
    if (!m) throw scimErrors.invalidValue(`"${String(word)}" is not a scope: use ${SCIM_READ}, ${SCIM_WRITE}, or one of them for one endpoint (${SCIM_READ}:Users, ${SCIM_WRITE}:Groups).`);
    let scope = word;
    if (m[2] !== undefined && endpoints !== undefined) {
      const endpoint = endpoints.find((e) => e.toLowerCase() === m[2]!.toLowerCase());
      if (endpoint === undefined) throw scimErrors.invalidValue(`The scope "${word}" names no endpoint of this server; its endpoints are ${endpoints.join(', ')}.`);
      scope = `scim:${m[1]}:${endpoint}`;
    }
    if (!scopes.includes(scope)) scopes.push(scope);
  }
  return scopes;
}

/** Whether scopes allow an access to an endpoint (none named: to every endpoint). Undefined scopes allow everything. */
export function allows(scopes: readonly string[] | undefined, access: Access, endpoint?: string): boolean {
  if (scopes === undefined) return true;
  const whole = `scim:${access}`;
  if (endpoint === undefined) return scopes.includes(whole);
  return scopes.includes(whole) || scopes.includes(`${whole}:${endpoint}`);
}

/** Whether scopes allow some read: what discovery needs (a token for Users alone may still read the schemas). */
export function readsAnything(scopes: readonly string[] | undefined): boolean {
  return scopes === undefined || scopes.some((s) => s.startsWith(SCIM_READ));
}

/** RFC 6750 §3.1: 403 with `insufficient_scope` and the scope that would do. */
export function insufficientScope(needed: string, scopes: readonly string[]): ScimError {
  const has = scopes.length === 0 ? 'none' : scopes.join(' ');
  return new ScimError(403, undefined, `This token lacks the scope ${needed}; it has ${has}.`, {
    'WWW-Authenticate': `Bearer realm="scimd", error="insufficient_scope", scope="${needed.split(' ')[0]}"`,
  });
}

/** Throws 403 unless scopes allow the access (to the endpoint, when named). */
export function requireScope(scopes: readonly string[] | undefined, access: Access, endpoint?: string): void {
  if (allows(scopes, access, endpoint)) return;
  throw insufficientScope(endpoint === undefined ? `scim:${access}` : `scim:${access}:${endpoint} (or scim:${access})`, scopes ?? []);
}
