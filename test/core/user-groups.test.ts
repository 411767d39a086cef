/**
 * A user is shown with its groups (RFC 7643 §4.1.2). A filtered page, which is what IdPs' lookups by userName or
 * externalId are, reads them with the page, in its one statement; a page of all users, or a sorted one, reads them
 * after it for the whole page; a user just created is in none, and they are not read; a user written reads them in
 * the statement that writes it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createScim, type CallContext } from '../../src/core/scim.js';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let store: SqliteStore;
let scim: ReturnType<typeof createScim>;
let ctx: CallContext;
const ids: Record<string, string> = {};

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  const org = await store.ensureOrganization('acme');
  scim = createScim({ store, registry: SchemaRegistry.create() });
  ctx = { orgId: org.id, tokenId: 't', tokenName: 't', dialect: 'rfc', baseUrl: 'https://scim.example.com/scim/v2' };
  for (const name of ['carol', 'alice', 'bob']) ids[name] = (await scim.create(ctx, 'Users', { schemas: [USER], userName: name })).resource.id as string;
  for (const [group, members] of [['Staff', ['alice', 'bob']], ['Admins', ['alice']]] as const) {
    ids[group] = (await scim.create(ctx, 'Groups', { schemas: [GROUP], displayName: group, members: members.map((m) => ({ value: ids[m] })) })).resource.id as string;
  }
});
afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
});

const groupsShown = (resources: readonly Record<string, unknown>[]) =>
  Object.fromEntries(resources.map((r) => [r.userName, ((r.groups ?? []) as { display: string; type: string; $ref: string }[]).map((g) => `${g.display} ${g.type} ${g.$ref.split('/').slice(-2).join('/')}`)]));

describe('the groups of users shown', () => {
  it('a filtered page reads them with the page; an unfiltered or sorted one after it, for the whole page; all show the same', async () => {
    const groupsOf = vi.spyOn(store, 'groupsOf');
    const alice = [`Staff direct Groups/${ids.Staff}`, `Admins direct Groups/${ids.Admins}`];
    const bob = [`Staff direct Groups/${ids.Staff}`];
    expect(groupsShown((await scim.list(ctx, 'Users', { filter: 'userName eq "alice"' })).Resources)).toEqual({ alice });
    expect(groupsShown((await scim.list(ctx, 'Users', { filter: 'userName ne "alice"', cursor: '', count: '1' })).Resources)).toEqual({ carol: [] });
    expect(groupsOf).not.toHaveBeenCalled();
    const all = { carol: [], alice, bob };
    expect(groupsShown((await scim.list(ctx, 'Users', {})).Resources)).toEqual(all);
    expect(groupsOf).toHaveBeenCalledTimes(1);
    const sorted = await scim.list(ctx, 'Users', { filter: 'userName pr', sortBy: 'userName' });
    expect(sorted.Resources.map((r) => r.userName)).toEqual(['alice', 'bob', 'carol']);
    expect(groupsShown(sorted.Resources)).toEqual(all);
    expect(groupsOf).toHaveBeenCalledTimes(2);
  });

  it('not shown, they are not read', async () => {
    const groupsOf = vi.spyOn(store, 'groupsOf');
    const listed = await scim.list(ctx, 'Users', { excludedAttributes: 'groups' });
    expect(listed.Resources.every((r) => r.groups === undefined)).toBe(true);
    const sorted = await scim.list(ctx, 'Users', { sortBy: 'userName', attributes: 'userName' });
    expect(sorted.Resources.every((r) => r.groups === undefined)).toBe(true);
    expect(groupsOf).not.toHaveBeenCalled();
  });

  it('a user just created is in none: its answer shows none and reads none', async () => {
    const groupsOf = vi.spyOn(store, 'groupsOf');
    const created = await scim.create(ctx, 'Users', { schemas: [USER], userName: 'dave' });
    expect(created.resource.groups).toBeUndefined();
    expect(groupsOf).not.toHaveBeenCalled();
    expect((await scim.get(ctx, 'Users', created.resource.id as string)).resource.groups).toBeUndefined();
    expect((await scim.get(ctx, 'Users', ids.alice!)).resource.groups).toHaveLength(2);
  });

  it("a user PATCHed or replaced answers with its groups, read by the write's own statement", async () => {
    const groupsOf = vi.spyOn(store, 'groupsOf');
    const alice = [`Staff direct Groups/${ids.Staff}`, `Admins direct Groups/${ids.Admins}`];
    const op = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Boss' }] };
    const patched = await scim.patch(ctx, 'Users', ids.alice!, op);
    expect(groupsShown([patched.resource])).toEqual({ alice });
    const replaced = await scim.replace(ctx, 'Users', ids.alice!, { schemas: [USER], userName: 'alice', title: 'CEO' });
    expect(groupsShown([replaced.resource])).toEqual({ alice });
    expect(groupsOf).not.toHaveBeenCalled();
    // not shown, not read
    const without = await scim.patch(ctx, 'Users', ids.alice!, op, { excludedAttributes: 'groups' });
    expect(without.resource.groups).toBeUndefined();
    expect(groupsOf).not.toHaveBeenCalled();
  });
});
