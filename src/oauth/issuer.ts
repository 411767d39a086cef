/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) served by scimd: an organization's OAuth client (a token record of
 * kind `client`, made and revoked as tokens are) trades its id and secret for a short-lived access token, a JWT of
 * RFC 9068's profile signed with this database's current key (keys.ts), carrying the organization, the client and its
 * scopes. A SCIM request with such a token is verified by signature alone: no database read. Revoking the client stops
 * new tokens at once; one already issued lives out its ACCESS_TOKEN_SECONDS.
 */
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ScimError } from '../core/errors.js';
import { allows, parseScopes, SCIM_READ, SCIM_WRITE } from '../core/scopes.js';
import { authenticateClient, isDialect, type AccessTokenVerifier, type AuthenticateOptions, type RequestContext } from '../core/tokens.js';
import type { AuditLog, SecretStore, TokenStore } from '../core/ports.js';
import { isOwnKid, SigningKeys } from './keys.js';
import { invalidToken, TrustedIssuers } from './trusted.js';

/** Fifteen minutes: an IdP asks again when it is up, and a revoked client's last token ends soon after. */
export const ACCESS_TOKEN_SECONDS = 900;
/** The clocks of the nodes sharing a database may differ by this much. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** An error of the token endpoint, in RFC 6749 §5.2's terms. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope' | 'temporarily_unavailable',
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
  }

  toJSON() {
    return { error: this.error, error_description: this.description };
  }
}

export interface TokenRequest {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The scopes asked for, space-separated; by default all the client has. */
  readonly scope?: string;
  /** The issuer and the audience the token names: scimd's public URL and its SCIM base URL. */
  readonly issuer: string;
  readonly audience: string;
}

export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
}

const text = (payload: JWTPayload, claim: string): string | undefined => (typeof payload[claim] === 'string' ? (payload[claim] as string) : undefined);

export type OAuth = ReturnType<typeof createOAuth>;

export interface OAuthOptions {
  /** How often a trusted issuer's JWKS may be fetched again for an unknown key (default 5 s). */
  readonly jwksCooldownMs?: number;
}

export function createOAuth(store: TokenStore & AuditLog & SecretStore, options: OAuthOptions = {}) {
  const keys = new SigningKeys(store);
  const trusted = new TrustedIssuers(store, options.jwksCooldownMs);

  const verifier: AccessTokenVerifier = {
    /** scimd's own access tokens, by their kid; else the JWTs of the issuers organizations trust. */
    async verify(token: string, now: Date): Promise<RequestContext> {
      let kid: string | undefined;
      try {
        kid = decodeProtectedHeader(token).kid;
      } catch {
        throw invalidToken('it is not a JWT');
      }
      if (!isOwnKid(kid)) {
        const caller = await trusted.verify(token, now);
        if (caller) return caller;
        throw invalidToken('it is not signed by this server nor by an issuer an organization here trusts');
      }
      // outside the try: a database that is away is not the token's fault
      const key = await keys.named(kid, now);
      if (!key) throw invalidToken('it is not signed by this server (unknown key)');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key.publicKey, {
          algorithms: ['ES256'], typ: 'at+jwt', currentDate: now, clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['exp', 'iat', 'client_id', 'org', 'scope'],
        }));
      } catch (e) {
        if (e instanceof joseErrors.JWTExpired) throw invalidToken('it expired; get a new one from the token endpoint');
        if (e instanceof joseErrors.JOSEError) throw invalidToken(e.message.replace(/\.$/, ''));
        throw e;
      }
      const [org, clientId, scope, name, dialect] = ['org', 'client_id', 'scope', 'name', 'dialect'].map((c) => text(payload, c));
      if (org === undefined || clientId === undefined || scope === undefined) throw invalidToken('its claims are not those scimd issues');
      const orgName = text(payload, 'org_name');
      return {
        orgId: org,
        ...(orgName !== undefined ? { orgName } : {}),
        tokenId: clientId,
        tokenName: name ?? clientId,
        dialect: dialect !== undefined && isDialect(dialect) ? dialect : 'rfc',
        scopes: scope.split(' ').filter(Boolean),
      };
    },
  };

  return {
    keys,
    verifier,

    /** The token endpoint's grant: a signed access token for a client that proves itself, of at most its scopes. */
    async issue(request: TokenRequest, options: AuthenticateOptions = {}): Promise<TokenResponse> {
      const now = options.now ?? new Date();
      let client;
      try {
        client = await authenticateClient(store, request.clientId, request.clientSecret, { ...options, now });
      } catch (e) {
        if (!(e instanceof ScimError)) throw e;
        if (e.status === 429) throw new OAuthError(429, 'temporarily_unavailable', e.detail, e.headers);
        throw new OAuthError(401, 'invalid_client', e.detail, { 'WWW-Authenticate': 'Basic realm="scimd"' });
      }
      const granted = client.scopes ?? [SCIM_READ, SCIM_WRITE];
      let scopes = granted;
      if (request.scope !== undefined) {
        try {
          scopes = parseScopes(request.scope);
        } catch (e) {
          throw new OAuthError(400, 'invalid_scope', (e as ScimError).detail);
        }
        const beyond = scopes.filter((s) => {
          const [, access, endpoint] = s.split(':') as [string, 'read' | 'write', string | undefined];
          return !allows(granted, access, endpoint);
        });
        if (beyond.length > 0) throw new OAuthError(400, 'invalid_scope', `This client may not have ${beyond.join(' ')}; it has ${granted.join(' ')}.`);
      }
      const key = await keys.current(now);
      const iat = Math.floor(now.getTime() / 1000);
      const accessToken = await new SignJWT({
        client_id: client.id, scope: scopes.join(' '), org: client.orgId!, ...(client.orgName !== undefined ? { org_name: client.orgName } : {}),
        name: client.name, dialect: client.dialect,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
        .setIssuer(request.issuer).setAudience(request.audience).setSubject(client.id).setJti(randomUUID())
        .setIssuedAt(iat).setExpirationTime(iat + ACCESS_TOKEN_SECONDS)
        .sign(key.privateKey);
      return { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: scopes.join(' ') };
    },
  };
}
