/**
 * The OAuth endpoints, as a plain request → response function: the token endpoint (RFC 6749 §4.4, client credentials,
 * the client authenticated by HTTP Basic or by the form's client_id and client_secret, §2.3.1), the signing keys
 * (RFC 7517 JWKS) and the authorization server's metadata (RFC 8414). Answers in OAuth's terms (§5.1, §5.2), not
 * SCIM's; the grant itself is src/oauth/issuer.ts.
 */
import { OAuthError, type OAuth } from '../oauth/issuer.js';
import { SCIM_READ, SCIM_WRITE } from '../core/scopes.js';
import { ScimError } from '../core/errors.js';
import { authenticateOptions, failure, finish, single, type HttpRequest, type HttpResponse, type ScimHandler } from './handler.js';
import type { RateLimiter } from './rate-limit.js';

/** A token request is a short form: anything longer is not one. */
const FORM_LIMIT = 8192;

export interface OAuthHandlerOptions {
  readonly oauth: OAuth;
  /** Public base URL; without it, each request's origin. */
  readonly publicUrl?: string;
  /** Where the SCIM API is, below the public base (the tokens' audience). */
  readonly scimPath: string;
  readonly audit?: boolean;
  readonly refusalLimit?: RateLimiter;
  readonly onError?: (error: unknown, request: HttpRequest) => void;
}

export const OAUTH_PATHS = { token: '/oauth/token', jwks: '/oauth/jwks', metadata: '/.well-known/oauth-authorization-server' } as const;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({
  status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
});

/** RFC 6749 §5.1: token responses and their errors are never cached. */
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** The form's parameters; one sent twice is refused (§3.2). */
function formOf(request: HttpRequest, text: string): Map<string, string> {
  const type = single(request.headers['content-type'])?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError(400, 'invalid_request', 'Send the token request as application/x-www-form-urlencoded (RFC 6749 §4.4.2).');
  }
  const form = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (form.has(name)) throw new OAuthError(400, 'invalid_request', `The parameter ${name} is sent more than once.`);
    form.set(name, value);
  }
  return form;
}

/** The client's id and secret: from HTTP Basic (its parts form-encoded, §2.3.1) or from the form, not both. */
function clientOf(request: HttpRequest, form: Map<string, string>): { clientId: string; clientSecret: string } {
  const authorization = single(request.headers.authorization);
  const inForm = form.has('client_id') || form.has('client_secret');
  if (authorization !== undefined) {
    if (inForm) throw new OAuthError(400, 'invalid_request', 'Authenticate the client one way: HTTP Basic or client_id and client_secret in the form, not both.');
    const m = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(authorization);
    const pair = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const at = pair.indexOf(':');
    if (at < 0) throw new OAuthError(401, 'invalid_client', 'Use HTTP Basic with the client id and secret: "Authorization: Basic base64(id:secret)".', { 'WWW-Authenticate': 'Basic realm="scimd"' });
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        throw new OAuthError(401, 'invalid_client', 'The client id or secret of the Basic credentials is not form-encoded.', { 'WWW-Authenticate': 'Basic realm="scimd"' });
      }
    };
    return { clientId: decode(pair.slice(0, at)), clientSecret: decode(pair.slice(at + 1)) };
  }
  const clientId = form.get('client_id');
  const clientSecret = form.get('client_secret');
  if (!clientId || !clientSecret) throw new OAuthError(401, 'invalid_client', 'The client is not authenticated: send HTTP Basic, or client_id and client_secret.', { 'WWW-Authenticate': 'Basic realm="scimd"' });
  return { clientId, clientSecret };
}

export function createOAuthHandler(options: OAuthHandlerOptions): ScimHandler {
  const { oauth } = options;
  const publicBase = options.publicUrl?.replace(/\/+$/, '');
  const issuerOf = (request: HttpRequest) => publicBase ?? request.origin;

  const token = async (request: HttpRequest): Promise<HttpResponse> => {
    if (request.method.toUpperCase() !== 'POST') return json(405, { error: 'invalid_request', error_description: 'The token endpoint takes POST.' }, { allow: 'POST' });
    let text: string;
    try {
      text = await request.readBody(FORM_LIMIT);
    } catch (e) {
      // the body's refusals (too large, a length that lies) in OAuth's terms; anything else is no client's doing
      if (e instanceof ScimError) throw new OAuthError(400, 'invalid_request', e.detail);
      throw e;
    }
    const form = formOf(request, text);
    const client = clientOf(request, form);
    const grant = form.get('grant_type');
    if (grant === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is missing; scimd grants client_credentials.');
    if (grant !== 'client_credentials') throw new OAuthError(400, 'unsupported_grant_type', `scimd grants client_credentials, not ${grant}.`);
    const scope = form.get('scope');
    const issued = await oauth.issue(
      { ...client, ...(scope !== undefined ? { scope } : {}), issuer: issuerOf(request), audience: `${issuerOf(request)}${options.scimPath}` },
      authenticateOptions(options, request),
    );
    return json(200, issued, NO_STORE);
  };

  const routes: Record<string, (request: HttpRequest) => Promise<HttpResponse>> = {
    [OAUTH_PATHS.token]: token,
    [OAUTH_PATHS.jwks]: async () => json(200, await oauth.keys.jwks(new Date()), { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=300' }),
    [OAUTH_PATHS.metadata]: async (request) => {
      const issuer = issuerOf(request);
      return json(200, {
        issuer,
        token_endpoint: `${issuer}${OAUTH_PATHS.token}`,
        jwks_uri: `${issuer}${OAUTH_PATHS.jwks}`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: [SCIM_READ, SCIM_WRITE],
        response_types_supported: [],
      }, { 'cache-control': 'max-age=300' });
    },
  };

  return async function handleOAuthRequest(request: HttpRequest): Promise<HttpResponse> {
    const method = request.method.toUpperCase();
    const route = routes[request.path.replace(/\/+$/, '')];
    try {
      if (!route) throw new OAuthError(404, 'invalid_request', `There is no OAuth endpoint at ${request.path}.`);
      if (route !== token && method !== 'GET' && method !== 'HEAD') return finish(method, request, json(405, { error: 'invalid_request', error_description: 'This endpoint takes GET.' }, { allow: 'GET, HEAD' }));
      return finish(method, request, await route(request));
    } catch (e) {
      if (e instanceof OAuthError) return finish(method, request, json(e.status, e, { ...NO_STORE, ...e.headers }));
      return finish(method, request, failure(e, FORM_LIMIT, request, options.onError));
    }
  };
}
