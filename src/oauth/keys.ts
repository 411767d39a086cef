/**
 * The keys scimd signs its access tokens with (ES256), one for each period of ROTATION_MS, kept in the database as a
 * secret of that period: every node of one database signs with the same key in the same period and rotates at the
 * same moment, with no election and no table of its own, and a restored backup keeps them. The JWKS publishes the
 * key before, the current one and the next, so a token signed just before a rotation, or by a node whose clock runs
 * a little ahead, still verifies. A key is read from the database once per period and process; after that a token is
 * verified in memory.
 */
import { createECDH, createHash } from 'node:crypto';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { SecretStore } from '../core/ports.js';

/** A week: far longer than any access token lives, so two published keys always cover every token in use. */
export const ROTATION_MS = 7 * 86_400_000;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public key as the JWKS publishes it. */
  readonly jwk: JWK;
}

const KID = /^scimd-(\d{1,9})$/;

/** Whether a key id names one of scimd's own keys (rather than a trusted issuer's). */
export const isOwnKid = (kid: string | undefined): boolean => KID.test(kid ?? '');

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** A P-256 key whose private scalar is drawn from the secret (hashed again in the vanishing case it is out of range). */
function keyPair(secret: Buffer): { d: Buffer; x: Buffer; y: Buffer } {
  for (let d = secret; ; d = createHash('sha256').update(d).digest()) {
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(d);
    } catch {
      continue;
    }
    const point = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
    return { d, x: point.subarray(1, 33), y: point.subarray(33, 65) };
  }
}

export class SigningKeys {
  private readonly keys = new Map<number, Promise<SigningKey>>();

  constructor(private readonly store: SecretStore) {}

  /** The period a time falls in. */
  static period(at: Date): number {
    return Math.floor(at.getTime() / ROTATION_MS);
  }

  /** The key to sign with now. */
  current(now: Date): Promise<SigningKey> {
    return this.of(SigningKeys.period(now));
  }

  /** The key a token names by `kid`, when it is one this node would publish now; else undefined. */
  async named(kid: string | undefined, now: Date): Promise<SigningKey | undefined> {
    const period = Number(KID.exec(kid ?? '')?.[1] ?? NaN);
    if (!Number.isInteger(period) || Math.abs(period - SigningKeys.period(now)) > 1) return undefined;
    return this.of(period);
  }

  /** The JSON Web Key Set (RFC 7517 §5) of the keys a token may be signed with now. */
  async jwks(now: Date): Promise<{ keys: JWK[] }> {
    const period = SigningKeys.period(now);
    const keys = await Promise.all([period - 1, period, period + 1].map((p) => this.of(p)));
    return { keys: keys.map((k) => k.jwk) };
  }

  private of(period: number): Promise<SigningKey> {
    let key = this.keys.get(period);
    if (!key) {
      key = this.load(period);
      // a read that failed (the database was away) is tried again by the next request
      key.catch(() => this.keys.delete(period));
      this.keys.set(period, key);
      // the periods no token can name any more are forgotten
      for (const p of this.keys.keys()) if (p < period - 2) this.keys.delete(p);
    }
    return key;
  }

  private async load(period: number): Promise<SigningKey> {
    const kid = `scimd-${period}`;
    const { d, x, y } = keyPair(await this.store.secret(`oauth-signing-key-${period}`));
    const jwk: JWK = { kty: 'EC', crv: 'P-256', x: base64url(x), y: base64url(y), kid, alg: 'ES256', use: 'sig' };
    const [privateKey, publicKey] = await Promise.all([
      importJWK({ ...jwk, d: base64url(d) }, 'ES256') as Promise<CryptoKey>,
      importJWK(jwk, 'ES256') as Promise<CryptoKey>,
    ]);
    return { kid, privateKey, publicKey, jwk };
  }
}
