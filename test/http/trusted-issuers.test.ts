/**
 * JWTs from an issuer an organization trusts (issue #23 point 4): a local test issuer serves its JWKS here; its tokens
 * are taken for the organization with the scopes it may grant, and the trust is seen used; a wrong audience, a wrong
 * key, `alg: none`, an expired token and a missing required claim are 401; a key it rotates in is fetched; an issuer
 * that does not answer is 503.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import { testServer, testToken, user, type TestServer } from '../helpers.js';
import { createOAuth } from '../../src/oauth/issuer.js';

const ISSUER = 'https://idp.test/tenant-1';
const AUDIENCE = 'https://scim.example.com/scim/v2';

let s: TestServer;
let operator: string;
let jwksServer: Server;
let jwksUrl: string;
/** What the test issuer publishes, and how often it was asked. */
let published: JWK[];
let fetches: number;
let k1: { privateKey: CryptoKey; publicKey: CryptoKey };

beforeEach(async () => {
  s = await testServer();
  operator = (await testToken(s.store, { name: 'ops', scope: 'operator' })).token;
  k1 = await generateKeyPair('RS256', { extractable: true });
  published = [{ ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }];
  fetches = 0;
  jwksServer = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks`;
});
afterEach(async () => {
  await new Promise((resolve) => jwksServer.close(resolve));
  await s.close();
});

const as = (token: string) => ({ authorization: `Bearer ${token}` });

async function trust(body: Record<string, unknown>, trustIssuer: Record<string, unknown> = {}) {
  return s.request('POST', '/admin/api/organizations/default/tokens', {
    name: 'gateway', trustIssuer: { issuer: ISSUER, audience: AUDIENCE, jwksUrl, claims: { tid: 'tenant-1' }, ...trustIssuer }, ...body,
  }, as(operator));
}

function jwt(claims: Record<string, unknown> = {}, options: { kid?: string; key?: CryptoKey; alg?: string; aud?: string; iss?: string; exp?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tid: 'tenant-1', sub: 'provisioning-svc', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'k1' })
    .setIssuer(options.iss ?? ISSUER).setAudience(options.aud ?? AUDIENCE).setIssuedAt(now).setExpirationTime(options.exp ?? now + 300)
    .sign(options.key ?? k1.privateKey);
}

describe('a trusted issuer\'s JWTs', () => {
  it('are taken for its organization, with the scopes it may grant, narrowed by those the token asks; the audit log names it', async () => {
    const made = await trust({ scopes: 'scim:read scim:write:Users' });
    expect(made.status).toBe(201);
    expect(made.body.token).toBe(''); // no secret of its own
    expect(made.body.view).toMatchObject({ scope: 'issuer', issuer: { issuer: ISSUER, audience: AUDIENCE, jwksUrl, claims: { tid: 'tenant-1' } } });
    const lastUsed = async () => (await s.request('GET', '/admin/api/organizations/default/tokens', undefined, as(operator))).body
      .find((t: { id: string }) => t.id === made.body.view.id).lastUsed;
    expect(await lastUsed()).toBeNull();

    const token = await jwt();
    expect((await s.request('GET', '/Users', undefined, as(token))).status).toBe(200);
    // the console sees the trust used, as it sees a token scimd keeps
    expect(await lastUsed()).toEqual(expect.any(String));
    expect((await s.request('POST', '/Users', user('from.gateway'), as(token))).status).toBe(201);
    expect((await s.request('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g' }, as(token))).status).toBe(403);
    // a token that asks for less gets less; one that asks only for what the issuer may not grant gets nothing
    expect((await s.request('POST', '/Users', user('reader'), as(await jwt({ scope: 'scim:read' })))).status).toBe(403);
    expect((await s.request('GET', '/Users', undefined, as(await jwt({ scp: ['scim:write:Groups'] })))).status).toBe(403);

    const entries = (await s.request('GET', '/admin/api/audit', undefined, as(operator))).body.entries as any[];
    expect(entries.find((e) => e.operation === 'create' && e.status === 201 && e.resourceType === 'User')).toMatchObject({ tokenId: made.body.view.id, tokenName: 'gateway (provisioning-svc)' });
    // ServiceProviderConfig says so
    const spc = (await s.request('GET', '/ServiceProviderConfig')).body;
    expect(spc.authenticationSchemes.map((x: any) => x.name)).toContain(`JWT from ${ISSUER}`);
  });

  it('are refused with 401 invalid_token: another audience, another key, alg none, HS256, expired, the required claim wrong or missing', async () => {
    await trust({});
    const other = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, RegExp][] = [
      ['another audience', await jwt({}, { aud: 'https://elsewhere.example/scim' }), /nor by an issuer an organization here trusts/],
      ['another issuer', await jwt({}, { iss: 'https://evil.example' }), /nor by an issuer an organization here trusts/],
      ['signed by another key under its kid', await jwt({}, { key: other.privateKey }), /signature verification failed/],
      ['alg none', new UnsecuredJWT({ tid: 'tenant-1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime(now + 300).encode(), /"alg" \(Algorithm\) Header Parameter value not allowed|not allowed/],
      ['HS256 with the public key as the secret', await new SignJWT({ tid: 'tenant-1' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime(now + 300).sign(new TextEncoder().encode(JSON.stringify(published[0]))), /not allowed/],
      ['expired', await jwt({}, { exp: now - 120 }), /it expired/],
      ['the tenant claim of another tenant', await jwt({ tid: 'tenant-2' }), /"tid" claim is not the one gateway requires/],
      ['no tenant claim', await jwt({ tid: undefined }), /"tid" claim/],
      ['no expiry', await new SignJWT({ tid: 'tenant-1' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).sign(k1.privateKey), /"exp" claim/],
    ];
    for (const [label, token, detail] of cases) {
      const res = await s.request('GET', '/Users', undefined, as(token));
      expect.soft(res.status, label).toBe(401);
      expect.soft(res.body?.detail, label).toMatch(detail);
      expect.soft(String(res.headers['www-authenticate']), label).toMatch(/error="invalid_token"/);
    }
    expect((await s.request('GET', '/Users', undefined, as(await jwt()))).status).toBe(200);
  });

  it('a key the issuer rotates in is fetched; a flood of made-up kids fetches at most once per cooldown', async () => {
    const made = await trust({});
    const oauth = createOAuth(s.store, { jwksCooldownMs: 0 });
    await expect(oauth.verifier.verify(await jwt(), new Date())).resolves.toMatchObject({ tokenId: made.body.view.id });
    const k2 = await generateKeyPair('ES256', { extractable: true });
    published = [...published, { ...(await exportJWK(k2.publicKey)), kid: 'k2', alg: 'ES256' }];
    const before = fetches;
    await expect(oauth.verifier.verify(await jwt({}, { kid: 'k2', key: k2.privateKey, alg: 'ES256' }), new Date())).resolves.toMatchObject({ tokenId: made.body.view.id });
    expect(fetches).toBe(before + 1);

    // through the server (a 5 s cooldown): twenty made-up kids after a fetch cost no fetch
    expect((await s.request('GET', '/Users', undefined, as(await jwt()))).status).toBe(200);
    const settled = fetches;
    for (let i = 0; i < 20; i++) expect((await s.request('GET', '/Users', undefined, as(await jwt({}, { kid: `made-up-${i}` })))).status).toBe(401);
    expect(fetches).toBe(settled);
  });

  it('an issuer whose keys cannot be fetched makes a 503 to try again, never a 500 nor a 401', async () => {
    await trust({}, { jwksUrl: 'http://127.0.0.1:9/jwks' }); // nothing listens on port 9
    const res = await s.request('GET', '/Users', undefined, as(await jwt()));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.detail).toMatch(/^The keys of the issuer https:\/\/idp.test\/tenant-1 cannot be read just now/);
  });

  it('a token whose audiences two organizations trust is neither\'s', async () => {
    await trust({});
    await s.store.ensureOrganization('globex');
    const other = await s.request('POST', '/admin/api/organizations/globex/tokens', { name: 'globex-gw', trustIssuer: { issuer: ISSUER, audience: 'https://globex.example/scim', jwksUrl } }, as(operator));
    expect(other.status).toBe(201);
    const both = await new SignJWT({ tid: 'tenant-1' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER)
      .setAudience([AUDIENCE, 'https://globex.example/scim']).setExpirationTime('5m').sign(k1.privateKey);
    const res = await s.request('GET', '/Users', undefined, as(both));
    expect([res.status, res.body.detail]).toEqual([401, 'The access token is not valid: its audiences are trusted by more than one organization.']);
    expect((await s.request('GET', '/Users', undefined, as(await jwt()))).status).toBe(200);
  });

  it('a public key given instead of a JWKS (PEM), and revoking the trust refuses its tokens at once', async () => {
    const es = await generateKeyPair('ES256', { extractable: true });
    const made = await trust({}, { jwksUrl: undefined, publicKey: await exportSPKI(es.publicKey), claims: undefined });
    expect(made.status).toBe(201);
    const token = await jwt({}, { key: es.privateKey, alg: 'ES256', kid: 'any' });
    expect((await s.request('GET', '/Users', undefined, as(token))).status).toBe(200);
    expect((await s.request('POST', `/admin/api/tokens/${made.body.view.id}/revoke`, {}, as(operator))).status).toBe(200);
    expect((await s.request('GET', '/Users', undefined, as(token))).status).toBe(401);
  });
});

describe('trusting an issuer', () => {
  it('refuses what cannot be verified, a private key, JWKS in clear from afar, and an issuer and audience another organization trusts', async () => {
    expect((await trust({})).status).toBe(201);
    const es = await generateKeyPair('ES256', { extractable: true });
    const before = (await s.store.listTokens()).length;
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ audience: undefined }, 400, /needs "audience"/],
      [{ issuer: '' }, 400, /needs "issuer"/],
      [{ jwksUrl: undefined }, 400, /needs its keys/],
      [{ publicKey: await exportSPKI(es.publicKey) }, 400, /needs its keys/],
      [{ jwksUrl: 'http://keys.example.com/jwks' }, 400, /must be an https:\/\/ URL/],
      [{ jwksUrl: 'not a url' }, 400, /must be an https:\/\/ URL/],
      [{ jwksUrl: undefined, publicKey: await exportPKCS8(es.privateKey) }, 400, /That is a private key/],
      [{ jwksUrl: undefined, publicKey: JSON.stringify(await exportJWK(es.privateKey)) }, 400, /That is a private key/],
      [{ jwksUrl: undefined, publicKey: 'hello' }, 400, /must be a PEM public key/],
      [{ claims: { tid: 7 } }, 400, /"claims" must be an object/],
      [{}, 409, /already trusted for the audience/],
    ];
    for (const [change, status, detail] of cases) {
      const res = await trust({}, change);
      expect.soft(res.status, JSON.stringify(change)).toBe(status);
      expect.soft(res.body.detail, JSON.stringify(change)).toMatch(detail);
    }
    const notObject = await s.request('POST', '/admin/api/organizations/default/tokens', { name: 'x', trustIssuer: 'https://idp.test' }, as(operator));
    expect([notObject.status, notObject.body.scimType]).toEqual([400, 'invalidValue']);
    expect((await s.store.listTokens()).length).toBe(before);
  });
});
