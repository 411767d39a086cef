/**
 * How the client authenticates (RFC 7644 §2): a bearer token (RFC 6750), HTTP Basic (RFC 7617), or an OAuth 2.0
 * client-credentials grant (RFC 6749 §4.4) whose access token is cached until shortly before it expires and fetched
 * again once when the server answers 401 (revoked or expired early).
 */
import { answerError, ScimTransportError } from './errors.js';

export interface ClientCredentials {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string;
}

export type Credentials =
  | { readonly bearer: string }
  | { readonly basic: { readonly username: string; readonly password: string } }
  | { readonly clientCredentials: ClientCredentials };

export interface Authorizer {
  /** The Authorization header value for the next request. */
  header(): Promise<string | undefined>;
  /** After a 401: forgets what was cached; true when asking again may succeed. */
  renew(): boolean;
}

/** A token is fetched again this long before the expiry the token endpoint gave, so none is sent as it expires. */
const EXPIRY_MARGIN_MS = 30_000;

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export function authorizer(credentials: Credentials | undefined, fetchFn: typeof fetch, now: () => number = Date.now): Authorizer {
  if (credentials === undefined) return { header: async () => undefined, renew: () => false };
  if ('bearer' in credentials) return { header: async () => `Bearer ${credentials.bearer}`, renew: () => false };
  if ('basic' in credentials) {
    const value = basic(credentials.basic.username, credentials.basic.password);
    return { header: async () => value, renew: () => false };
  }
  const grant = credentials.clientCredentials;
  let cached: { token: Promise<string>; expires: number } | undefined;
  const fetchToken = async (): Promise<{ token: string; expires: number }> => {
    const request = { method: 'POST', url: grant.tokenUrl };
    const form = new URLSearchParams({ grant_type: 'client_credentials', ...(grant.scope !== undefined ? { scope: grant.scope } : {}) });
    let res: Response;
    try {
      res = await fetchFn(grant.tokenUrl, {
        method: 'POST',
        // RFC 6749 §2.3.1: the client's id and secret, form-encoded, as HTTP Basic credentials
        headers: { authorization: basic(encodeURIComponent(grant.clientId), encodeURIComponent(grant.clientSecret)), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
      });
    } catch (e) {
      throw new ScimTransportError(request, e);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: reported as text below
    }
    const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (!res.ok || typeof o.access_token !== 'string') throw answerError(request, res.status, body);
    const lifetime = typeof o.expires_in === 'number' ? o.expires_in * 1000 : Infinity;
    return { token: o.access_token, expires: now() + lifetime - EXPIRY_MARGIN_MS };
  };
  return {
    header: async () => {
      if (cached === undefined || now() >= cached.expires) {
        // one request for a token however many SCIM requests wait for it
        const pending = fetchToken();
        const entry = { token: pending.then((t) => t.token), expires: Infinity };
        cached = entry;
        pending.then((t) => (entry.expires = t.expires), () => cached === entry && (cached = undefined));
      }
      return `Bearer ${await cached.token}`;
    },
    renew: () => {
      cached = undefined;
      return true;
    },
  };
}
