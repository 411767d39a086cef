/**
 * JWTs signed by an issuer an organization trusts (an IdP, a gateway): a token record of scope `issuer` names the
 * `iss`, the `aud` and where the keys are. A JWT whose `iss` and `aud` one of them names is verified with that
 * issuer's keys by jose: a JWKS fetched and kept (fetched again for a `kid` it does not hold, at most once in
 * COOLDOWN_MS), or a public key given; its claims as configured; then the caller is that organization, with the
 * scopes the token asks for (`scope`, `scp` or `roles`) that the issuer may grant, or all it may when it asks none.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, importJWK, importSPKI, jwtVerify, type CryptoKey, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { scimErrors } from '../core/errors.js';
import { allows, parseScopes } from '../core/scopes.js';
import { invalidTokenError, isDialect, noteUse, type RequestContext } from '../core/tokens.js';
import type { TokenRecord, TrustedIssuer } from '../core/model.js';
import type { TokenStore } from '../core/ports.js';

/** What an issuer may sign with: asymmetric algorithms only (a shared secret is no issuer's alone), never `none`. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** A JWKS is fetched again for an unknown `kid` at most this often: a flood of made-up kids costs one fetch. */
const COOLDOWN_MS = 5_000;
/** And kept at most this long. */
const CACHE_MAX_AGE_MS = 10 * 60_000;
const CLOCK_TOLERANCE_SECONDS = 30;

type KeySource = JWTVerifyGetKey;

/** The issuer's keys could not be read: not the token's fault, so 503 and the client tries again. */
class KeysUnavailable extends Error {}

/** A JWT refused (RFC 6750 §3.1), scimd's own or an issuer's. */
export const invalidToken = (why: string) => invalidTokenError(`The access token is not valid: ${why}.`, why);

/** The scim:* scopes a token asks for, in whichever claim its issuer writes them. */
function askedScopes(payload: JWTPayload): string[] {
  const words = [payload.scope, payload.scp, payload.roles].flatMap((v) => (typeof v === 'string' ? v.split(' ') : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []));
  return words.filter((w) => w.startsWith('scim:')).flatMap((w) => {
    try {
      return parseScopes(w);
    } catch {
      return [];
    }
  });
}

export class TrustedIssuers {
  private readonly keys = new Map<string, KeySource>();

  constructor(private readonly store: Pick<TokenStore, 'listTokens' | 'touchToken'>, private readonly cooldownMs = COOLDOWN_MS) {}

  /** The caller of a JWT a trusted issuer signed; undefined when no organization trusts its `iss` for its `aud`. */
  async verify(token: string, now: Date): Promise<RequestContext | undefined> {
    let claimed: JWTPayload;
    try {
      claimed = decodeJwt(token);
    } catch {
      return undefined;
    }
    const audiences = typeof claimed.aud === 'string' ? [claimed.aud] : Array.isArray(claimed.aud) ? claimed.aud : [];
    if (typeof claimed.iss !== 'string' || audiences.length === 0) return undefined;
    const at = now.getTime();
    const trusting = (await this.store.listTokens()).filter((t) => t.scope === 'issuer' && !t.revoked && !(t.expires !== undefined && Date.parse(t.expires) <= at)
      && t.issuer !== undefined && t.issuer.issuer === claimed.iss && audiences.includes(t.issuer.audience));
    // a token for the audiences of two organizations would be either's: it is neither's
    if (new Set(trusting.map((t) => t.orgId)).size > 1) throw invalidToken('its audiences are trusted by more than one organization');
    const record = trusting[0];
    if (!record?.issuer) return undefined;
    const trust = record.issuer;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySource(record), {
        issuer: trust.issuer, audience: trust.audience, algorithms: ALGORITHMS, currentDate: now, clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ['exp'],
      }));
    } catch (e) {
      if (e instanceof KeysUnavailable) throw scimErrors.unavailable(`The keys of the issuer ${trust.issuer} cannot be read just now (${e.message}); try again.`);
      if (e instanceof joseErrors.JWTExpired) throw invalidToken('it expired');
      if (e instanceof joseErrors.JOSEError) throw invalidToken(e.message.replace(/\.$/, ''));
      throw e;
    }
    for (const [claim, value] of Object.entries(trust.claims ?? {})) {
      if (payload[claim] !== value) throw invalidToken(`its "${claim}" claim is not the one ${record.name} requires`);
    }
    // the console's "last used" of the trust, as of a token scimd keeps
    await noteUse(this.store, record, now);
    const granted = record.scopes ?? [];
    const asked = askedScopes(payload);
    const scopes = asked.length === 0 ? granted : asked.filter((s) => {
      const [, access, endpoint] = s.split(':') as [string, 'read' | 'write', string | undefined];
      return allows(granted, access, endpoint);
    });
    return {
      orgId: record.orgId!,
      tokenId: record.id,
      tokenName: typeof payload.sub === 'string' ? `${record.name} (${payload.sub})`.slice(0, 200) : record.name,
      dialect: isDialect(record.dialect) ? record.dialect : 'rfc',
      scopes,
    };
  }

  /** The issuer's keys: kept per record (a changed configuration is a new record). */
  private keySource(record: TokenRecord): KeySource {
    let source = this.keys.get(record.id);
    if (!source) {
      source = record.issuer!.jwksUrl !== undefined ? this.remote(record.issuer!.jwksUrl) : this.given(record.issuer!);
      this.keys.set(record.id, source);
    }
    return source;
  }

  private remote(url: string): KeySource {
    const jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: this.cooldownMs, cacheMaxAge: CACHE_MAX_AGE_MS, timeoutDuration: 5_000 });
    return async (header, token) => {
      try {
        return await jwks(header, token);
      } catch (e) {
        // a key it does not have is the token's fault; an issuer that does not answer is not
        if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWKSMultipleMatchingKeys || e instanceof joseErrors.JOSEAlgNotAllowed) throw e;
        throw new KeysUnavailable(e instanceof Error ? e.message : String(e));
      }
    };
  }

  private given(trust: TrustedIssuer): KeySource {
    const key = trust.publicKey!;
    const byAlg = new Map<string, Promise<CryptoKey>>();
    return async (header) => {
      const alg = header.alg ?? '';
      let imported = byAlg.get(alg);
      if (!imported) {
        imported = key.startsWith('{') ? (importJWK(JSON.parse(key) as JWK, alg) as Promise<CryptoKey>) : importSPKI(key, alg);
        byAlg.set(alg, imported);
      }
      try {
        return await imported;
      } catch {
        byAlg.delete(alg);
        throw new joseErrors.JOSENotSupported(`the issuer's public key is not one for ${alg}`);
      }
    };
  }
}
