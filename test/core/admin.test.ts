/**
 * The admin services (core/admin.ts) that the command line, the admin API and the console share: organizations are
 * made on purpose, names are checked, a scope sees only its organizations, secrets are never repeated, and every
 * change is in the audit log with who made it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdmin, EVERY_ORGANIZATION, type Admin } from '../../src/core/admin.js';
import { ScimError } from '../../src/core/errors.js';
import type { Store } from '../../src/core/ports.js';
import { authenticate, authenticateAdmin, BOOTSTRAP_TOKEN_NAME, ensureBootstrapToken } from '../../src/core/tokens.js';
import { openTestStore } from '../helpers.js';

const ops = { tokenName: 'ops (test)' };
const all = EVERY_ORGANIZATION;

/** The SCIM error `work` fails with. */
async function refusal(work: Promise<unknown>): Promise<ScimError> {
  const e = await work.then(() => undefined, (error: unknown) => error);
  expect(e).toBeInstanceOf(ScimError);
  return e as ScimError;
}

let store: Store;
let admin: Admin;
beforeEach(async () => {
  store = await openTestStore();
  admin = createAdmin(store);
});
afterEach(async () => {
  await store.close();
});

describe('organizations', () => {
  it('are made on purpose, with a name no other has in any case', async () => {
    const acme = await admin.createOrganization(ops, all, 'acme');
    expect((await admin.organizations(all)).map((o) => o.name)).toEqual(['acme']);
    expect((await refusal(admin.createOrganization(ops, all, 'ACME'))).status).toBe(409);
    for (const bad of ['', ' acme', 'acme ', 'a\u0000b', 'x'.repeat(101)]) expect((await refusal(admin.createOrganization(ops, all, bad))).status).toBe(400);
    expect((await admin.organizations(all)).map((o) => o.id)).toEqual([acme.id]);
  });

  it('are listed with what each holds, counted by one query of the store for all of them', async () => {
    const acme = await admin.createOrganization(ops, all, 'acme');
    await admin.createOrganization(ops, all, 'globex');
    await admin.createToken(ops, all, { organization: 'acme' });
    let counted = 0;
    const counting = createAdmin(new Proxy(store, {
      get: (target, name) => (name === 'organizationContents' ? (...args: [string?]) => (counted++, target.organizationContents(...args)) : Reflect.get(target, name, target)),
    }));
    expect((await counting.organizationsWithContents(all)).map((o) => [o.name, o.tokens, o.auditEntries])).toEqual([['acme', 1, 2], ['globex', 0, 1]]);
    expect(counted).toBe(1);
    expect((await counting.organizationsWithContents({ orgId: acme.id })).map((o) => o.name)).toEqual(['acme']);
  });

  it('a name that is not quite right is refused with the ones close to it, and nothing is made', async () => {
    await admin.createOrganization(ops, all, 'acme');
    await admin.createOrganization(ops, all, 'globex');
    const typo = await refusal(admin.createToken(ops, all, { organization: 'ACME' }));
    expect([typo.status, typo.detail]).toEqual([404, 'There is no organization "ACME". Did you mean "acme"?']);
    expect((await refusal(admin.createToken(ops, all, { organization: 'globx' }))).detail).toMatch(/Did you mean "globex"\?/);
    expect((await refusal(admin.tokens(all, { organization: 'initech' }))).detail).toMatch(/Create it first/);
    expect((await admin.organizations(all)).map((o) => o.name)).toEqual(['acme', 'globex']);
    expect(await store.listTokens()).toEqual([]);
  });

  it('rename keeps the tokens working; delete asks for the name again, says what it deletes and deletes only that', async () => {
    const acme = await admin.createOrganization(ops, all, 'acme');
    await admin.createOrganization(ops, all, 'globex');
    const { token } = await admin.createToken(ops, all, { organization: 'acme' });
    const { token: globexToken } = await admin.createToken(ops, all, { organization: 'globex' });
    await store.createResource(acme.id, 'User', 'u1', new Date().toISOString(), { attributes: { userName: 'u1' }, index: [], uniqueKeys: [{ attribute: 'userName', value: 'u1' }] });

    await admin.renameOrganization(ops, all, 'acme', 'acme-corp');
    expect((await authenticate(store, `Bearer ${token}`)).orgId).toBe(acme.id);

    expect((await admin.organizationContents(all, 'acme-corp')).contents).toEqual({ resources: { User: 1 }, tokens: 1, auditEntries: 3 });
    expect((await refusal(admin.deleteOrganization(ops, all, 'acme-corp', 'acme'))).status).toBe(400);
    expect(await store.getResource(acme.id, 'User', 'u1')).toBeDefined();

    expect(await admin.deleteOrganization(ops, all, 'acme-corp', 'acme-corp')).toEqual({ resources: { User: 1 }, tokens: 1, auditEntries: 3 });
    expect(await store.getResource(acme.id, 'User', 'u1')).toBeUndefined();
    expect((await refusal(authenticate(store, `Bearer ${token}`))).status).toBe(401);
    expect((await authenticate(store, `Bearer ${globexToken}`)).tokenName).toBe('token');
    expect((await admin.organizations(all)).map((o) => o.name)).toEqual(['globex']);
    // the name is free again, and its unique values with it
    const again = await admin.createOrganization(ops, all, 'acme-corp');
    await store.createResource(again.id, 'User', 'u1', new Date().toISOString(), { attributes: { userName: 'u1' }, index: [], uniqueKeys: [{ attribute: 'userName', value: 'u1' }] });
  });

  it('every change is in the audit log, with who made it', async () => {
    await admin.createOrganization(ops, all, 'acme');
    const { token, view } = await admin.createToken(ops, all, { organization: 'acme', name: 'entra' });
    await admin.revokeToken(ops, all, view.id);
    await admin.renameOrganization(ops, all, 'acme', 'acme-corp');
    const entries = (await admin.auditPage(all, {})).entries;
    expect(entries.map((e) => [e.operation, e.resourceType, e.tokenName, e.status, e.organization])).toEqual([
      ['create', 'Organization', 'ops (test)', 201, 'acme-corp'],
      ['create', 'Token', 'ops (test)', 201, 'acme-corp'],
      ['delete', 'Token', 'ops (test)', 204, 'acme-corp'],
      ['replace', 'Organization', 'ops (test)', 200, 'acme-corp'],
    ]);
    expect(entries[3]!.changes).toEqual([{ attribute: 'name', before: 'acme', after: 'acme-corp' }]);
    expect(JSON.stringify(entries)).not.toContain(token);
  });
});

describe('tokens', () => {
  it('a SCIM token without an organization is of `default`, made on first use; --admin without one is the operator\'s', async () => {
    const scim = await admin.createToken(ops, all, {});
    expect(scim.view).toMatchObject({ organization: 'default', scope: 'scim', dialect: 'rfc' });
    const operator = await admin.createToken(ops, all, { admin: true, name: 'root' });
    expect(operator.view).toMatchObject({ organization: null, scope: 'operator' });
    await admin.createOrganization(ops, all, 'acme');
    expect((await admin.createToken(ops, all, { admin: true, organization: 'acme' })).view).toMatchObject({ organization: 'acme', scope: 'admin' });
    expect((await refusal(admin.createToken(ops, all, { admin: true, dialect: 'entra' }))).status).toBe(400);
    expect((await refusal(admin.createToken(ops, all, { name: BOOTSTRAP_TOKEN_NAME }))).status).toBe(400);
    expect((await refusal(admin.createToken(ops, all, { dialect: 'nope' }))).detail).toMatch(/unknown dialect "nope"/);
  });

  it('token list of one organization lists only its tokens', async () => {
    await admin.createOrganization(ops, all, 'acme');
    await admin.createOrganization(ops, all, 'globex');
    await admin.createToken(ops, all, { organization: 'acme', name: 'a' });
    await admin.createToken(ops, all, { organization: 'globex', name: 'g' });
    expect((await admin.tokens(all, { organization: 'acme' })).map((t) => t.name)).toEqual(['a']);
    expect((await admin.tokens(all)).map((t) => t.name).sort()).toEqual(['a', 'g']);
  });

  it('revoke given a token itself refuses and never repeats it; an id that is none is 404', async () => {
    const { token, view } = await admin.createToken(ops, all, {});
    const chosen = 'a-secret-someone-chose-of-32-characters-or-more';
    await ensureBootstrapToken(store, chosen);
    for (const secret of [token, chosen]) {
      const e = await refusal(admin.revokeToken(ops, all, secret));
      expect(e.detail).toMatch(/That is a token, not a token id/);
      expect(e.detail).not.toContain(secret);
    }
    const notAnId = await refusal(admin.revokeToken(ops, all, 'some pasted text'));
    expect([notAnId.status, notAnId.detail.includes('some pasted text')]).toEqual([400, false]);
    expect((await refusal(admin.revokeToken(ops, all, '0123456789abcdef'))).status).toBe(404);
    expect((await authenticate(store, `Bearer ${token}`)).tokenId).toBe(view.id); // still active
    expect((await authenticate(store, `Bearer ${chosen}`)).tokenName).toBe(BOOTSTRAP_TOKEN_NAME);
  });
});

describe('an organization\'s admin', () => {
  it('sees and changes only its own organization, everywhere', async () => {
    const acme = await admin.createOrganization(ops, all, 'acme');
    await admin.createOrganization(ops, all, 'globex');
    const { token: acmeAdmin } = await admin.createToken(ops, all, { organization: 'acme', admin: true });
    await admin.createToken(ops, all, { organization: 'globex', name: 'globex-idp' });
    const { scope } = await authenticateAdmin(store, `Bearer ${acmeAdmin}`);
    expect(scope).toEqual({ orgId: acme.id });

    expect((await admin.organizations(scope)).map((o) => o.name)).toEqual(['acme']);
    expect((await admin.tokens(scope)).map((t) => t.organization)).toEqual(['acme']);
    // another organization is not there at all: no hint that it exists
    const hidden = await refusal(admin.tokens(scope, { organization: 'globex' }));
    expect([hidden.status, hidden.detail.includes('globex"?')]).toEqual([404, false]);
    expect((await refusal(admin.auditPage(scope, { organization: 'globex' }))).status).toBe(404);
    expect((await admin.auditPage(scope, {})).entries.every((e) => e.orgId === acme.id)).toBe(true);
    expect((await admin.createToken(ops, scope, { name: 'own' })).view).toMatchObject({ organization: 'acme', scope: 'scim' });
    expect((await refusal(admin.createToken(ops, scope, { organization: 'globex' }))).status).toBe(404);
    const globexToken = (await admin.tokens(all, { organization: 'globex' }))[0]!;
    expect((await refusal(admin.revokeToken(ops, scope, globexToken.id))).status).toBe(404);
    expect((await refusal(admin.createOrganization(ops, scope, 'initech'))).status).toBe(403);
    expect((await refusal(admin.deleteOrganization(ops, scope, 'acme', 'acme'))).status).toBe(403);
  });
});

describe('the audit log through the admin services', () => {
  it('--resource-type takes a type by its name or endpoint, in any case, singular or plural', async () => {
    const { SchemaRegistry } = await import('../../src/core/schema/registry.js');
    const withTypes = createAdmin(store, { registry: SchemaRegistry.create() });
    await store.appendAudit([{ at: new Date().toISOString(), operation: 'create', resourceType: 'User', status: 201, changes: [] }]);
    for (const given of ['User', 'users', 'USERS', 'user']) expect((await withTypes.auditPage(all, { resourceType: given })).entries).toHaveLength(1);
    expect((await withTypes.auditPage(all, { resourceType: 'Groups' })).entries).toHaveLength(0);
  });
});

describe('dead-lettered events', () => {
  it('retry of an event that is not dead-lettered says so', async () => {
    expect((await refusal(admin.retryEvents(all, 'no-such-event'))).status).toBe(404);
    expect(await admin.retryEvents(all)).toBe(0);
  });
});

describe('SCIMD_BOOTSTRAP_TOKEN', () => {
  it('must be at least 32 characters; a changed value revokes the one it replaces; the same value is kept', async () => {
    expect((await refusal(ensureBootstrapToken(store, 'abc'))).detail).toMatch(/at least 32 characters/);
    const first = 'first-bootstrap-token-of-32-chars-or-more';
    const second = 'second-bootstrap-token-of-32-chars-or-more';
    expect(await ensureBootstrapToken(store, first)).toEqual([]);
    expect(await ensureBootstrapToken(store, first)).toEqual([]);
    const firstId = (await authenticate(store, `Bearer ${first}`)).tokenId;
    expect(await ensureBootstrapToken(store, second)).toEqual([firstId]);
    expect((await refusal(authenticate(store, `Bearer ${first}`))).status).toBe(401);
    expect((await authenticate(store, `Bearer ${second}`)).tokenName).toBe(BOOTSTRAP_TOKEN_NAME);
    expect((await store.listTokens()).filter((t) => !t.revoked)).toHaveLength(1);
  });
});
