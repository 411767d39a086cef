/**
 * The store contract suite: every Store implementation must pass it. A test file calls
 * `describeStoreContract(name, open)`; each test gets a fresh, migrated store from `open()` and closes it after.
 * The assertions follow the documented behaviour in src/store/store.ts, not any one implementation.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Attributes, Membership, Organization, ResourcePage, ResourceQuery, ResourceRef, ResourceWrite, SnapshotRecord, StoredResource, TokenRecord } from '../../src/core/model.js';
import { FEED_CHANNEL, type FeedSlice } from '../../src/core/model.js';
import type { Store } from '../../src/core/ports.js';
import { StoreNotEmpty, UniquenessViolation, UnknownMembers } from '../../src/core/errors.js';
import type { AuditEntry, AuditQuery } from '../../src/core/audit.js';
import type { LifecycleEvent } from '../../src/core/events.js';
import type { BoundFilter, Target } from '../../src/core/filter/bound.js';
import type { IndexEntry } from '../../src/core/model.js';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const MEMBER_TYPES = ['User', 'Group'] as const;

/** The groups of one member, through the batch lookup. */
async function groupsOf(store: Store, orgId: string, memberId: string) {
  return (await store.groupsOf(orgId, [memberId])).get(memberId) ?? [];
}

/** A distinct, increasing ISO timestamp per second offset. */
function at(second: number): string {
  return new Date(Date.UTC(2024, 0, 1, 0, 0, second)).toISOString();
}

function userWrite(userName: string, options: { display?: string; extra?: Attributes; externalId?: string } = {}): ResourceWrite {
  return {
    attributes: { schemas: [USER_SCHEMA], userName, ...(options.externalId ? { externalId: options.externalId } : {}), ...options.extra },
    index: [], uniqueKeys: [
      { attribute: 'userName', value: userName.toLowerCase() },
      ...(options.externalId ? [{ attribute: 'externalId', value: options.externalId }] : []),
    ],
    ...(options.display !== undefined ? { display: options.display } : { display: userName }),
  };
}

function groupWrite(
  displayName: string,
  members?: readonly string[],
  options: { allowedTypes?: readonly string[]; uniqueKeys?: boolean; extra?: Attributes } = {},
): ResourceWrite {
  const membership: Membership | undefined = members && { ids: members, allowedTypes: options.allowedTypes ?? MEMBER_TYPES };
  return {
    attributes: { schemas: [GROUP_SCHEMA], displayName, ...options.extra },
    index: [], uniqueKeys: options.uniqueKeys ? [{ attribute: 'displayName', value: displayName.toLowerCase() }] : [],
    display: displayName,
    ...(membership ? { membership } : {}),
  };
}

/** The rejection of a promise that must reject; fails the test when it fulfils. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.unreachable('expected the promise to reject, but it fulfilled');
}

async function expectUniquenessViolation(promise: Promise<unknown>, attribute: string): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(UniquenessViolation);
  expect((error as UniquenessViolation).attribute).toBe(attribute);
}

async function expectUnknownMembers(promise: Promise<unknown>, ids: readonly string[]): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(UnknownMembers);
  expect([...(error as UnknownMembers).ids].sort()).toEqual([...ids].sort());
}

/** A write's result that must be the stored resource (not 'conflict', not absent). */
function written(result: StoredResource | 'conflict' | undefined): StoredResource {
  if (result === undefined || result === 'conflict') return expect.unreachable(`expected the stored resource, got ${String(result)}`);
  return result;
}

function values(refs: readonly ResourceRef[]): string[] {
  return refs.map((r) => r.value);
}

function byId<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

/** The index entries of a user's userName and emails, as core/filter/index-entries.ts makes them. */
function userIndex(userName: string, emails: readonly string[] = []): IndexEntry[] {
  return [
    { path: 'username', ordinal: 0, str: userName.toLowerCase() },
    ...emails.flatMap((e, ordinal) => [{ path: 'emails', ordinal }, { path: 'emails.value', ordinal, str: e.toLowerCase() }]),
  ];
}

/** `key eq value` on a string attribute, bound as core/filter/bind.ts binds it. */
function eqFilter(key: string, value: string): BoundFilter {
  const [attribute, subAttribute] = key.split('.');
  return {
    kind: 'compare', op: 'eq', value: value.toLowerCase(),
    target: { key, source: 'attribute', attribute: attribute!, ...(subAttribute ? { subAttribute } : {}), kind: 'string', caseExact: false, dateTime: false, multiValued: !!subAttribute },
  };
}

export function describeStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let org: Organization;
    let other: Organization;

    beforeEach(async () => {
      store = await open();
      org = await store.ensureOrganization('acme');
      other = await store.ensureOrganization('globex');
    });

    afterEach(async () => {
      await store?.close();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('organizations', () => {
      it('ensureOrganization is idempotent by name and returns the same id', async () => {
        const again = await store.ensureOrganization('acme');
        expect(again).toEqual(org);
        expect(again.id).toBe(org.id);
        expect(org.name).toBe('acme');
        expect(typeof org.created).toBe('string');
        expect(other.id).not.toBe(org.id);
      });

      it('organizations() lists each organization once', async () => {
        await store.ensureOrganization('acme');
        await store.ensureOrganization('globex');
        const initech = await store.ensureOrganization('initech');
        const all = await store.organizations();
        expect(all).toHaveLength(3);
        expect(byId(all)).toEqual(byId([org, other, initech]));
      });

      it('organizationContents() counts what every organization holds, an empty one too; with an id, that one only', async () => {
        const empty = await store.ensureOrganization('empty');
        const at = new Date().toISOString();
        for (const id of ['u1', 'u2']) await store.createResource(org.id, 'User', id, at, { attributes: { userName: id }, index: [], uniqueKeys: [] });
        await store.createResource(other.id, 'Group', 'g1', at, { attributes: { displayName: 'g1' }, index: [], uniqueKeys: [] });
        await store.createToken({ id: '00000000000000a1', hash: 'h-a1', orgId: org.id, name: 't', dialect: 'rfc', scope: 'scim', created: at });
        await store.createToken({ id: '00000000000000a2', hash: 'h-a2', name: 'operator', dialect: 'rfc', scope: 'operator', created: at });
        await store.appendAudit([{ at, operation: 'create', status: 201, changes: [], orgId: org.id }, { at, operation: 'create', status: 201, changes: [] }]);
        const every = await store.organizationContents();
        expect(Object.fromEntries(every)).toEqual({
          [org.id]: { resources: { User: 2 }, tokens: 1, auditEntries: 1 },
          [other.id]: { resources: { Group: 1 }, tokens: 0, auditEntries: 0 },
          [empty.id]: { resources: {}, tokens: 0, auditEntries: 0 },
        });
        expect(Object.fromEntries(await store.organizationContents(other.id))).toEqual({ [other.id]: { resources: { Group: 1 }, tokens: 0, auditEntries: 0 } });
      });
    });

    describe('secrets', () => {
      it('secret(name) is 32 random bytes, made once and then the same, different per name', async () => {
        const a = await store.secret('cursor');
        expect(a).toHaveLength(32);
        expect(await store.secret('cursor')).toEqual(a);
        expect(await store.secret('other')).not.toEqual(a);
      });
    });

    describe('tokens', () => {
      const full = (): TokenRecord => ({
        id: 'tok-full',
        orgId: org.id,
        name: 'okta provisioning',
        dialect: 'okta',
        scope: 'admin',
        hash: 'a'.repeat(64),
        created: at(1),
        expires: at(30),
        lastUsed: at(2),
        revoked: at(3),
      });
      const bare = (): TokenRecord => ({
        id: 'tok-bare',
        orgId: other.id,
        name: 'entra',
        dialect: 'entra',
        scope: 'scim',
        hash: 'b'.repeat(64),
        created: at(4),
      });

      it('createToken/findTokenByHash round-trip every field', async () => {
        await store.createToken(full());
        await store.createToken(bare());
        // with the organization's name, read with it: authentication gives it to the caller's context, for events
        expect(await store.findTokenByHash('a'.repeat(64))).toEqual({ ...full(), orgName: 'acme' });
        // a SCIM token written without scopes (as every one before scopes) may read and write
        const found = await store.findTokenByHash('b'.repeat(64));
        expect(found).toEqual({ ...bare(), scopes: ['scim:read', 'scim:write'], orgName: 'globex' });
        expect(found?.lastUsed).toBeUndefined();
        expect(found?.revoked).toBeUndefined();
        expect(found?.expires).toBeUndefined();
        const scoped: TokenRecord = { ...bare(), id: 'tok-scoped', hash: 'e'.repeat(64), scopes: ['scim:read:Users'], expires: at(40) };
        await store.createToken(scoped);
        expect(await store.findTokenByHash('e'.repeat(64))).toEqual({ ...scoped, orgName: 'globex' });
      });

      it('findTokenByHash of an unknown hash is undefined', async () => {
        await store.createToken(bare());
        expect(await store.findTokenByHash('c'.repeat(64))).toBeUndefined();
      });

      it('revokeToken sets revoked and returns true once, false after and for unknown ids', async () => {
        await store.createToken(bare());
        expect(await store.revokeToken('tok-bare', at(10))).toBe(true);
        expect((await store.findTokenByHash('b'.repeat(64)))?.revoked).toBe(at(10));
        expect(await store.revokeToken('tok-bare', at(11))).toBe(false);
        expect((await store.findTokenByHash('b'.repeat(64)))?.revoked).toBe(at(10));
        expect(await store.revokeToken('no-such-token', at(12))).toBe(false);
      });

      it('touchToken sets lastUsed', async () => {
        await store.createToken(bare());
        await store.touchToken('tok-bare', at(20));
        expect((await store.findTokenByHash('b'.repeat(64)))?.lastUsed).toBe(at(20));
        await store.touchToken('tok-bare', at(21));
        const touched = await store.findTokenByHash('b'.repeat(64));
        expect(touched).toEqual({ ...bare(), scopes: ['scim:read', 'scim:write'], orgName: 'globex', lastUsed: at(21) });
      });

      it('listTokens lists every token of every organization', async () => {
        const third: TokenRecord = { ...bare(), id: 'tok-third', orgId: org.id, hash: 'd'.repeat(64), scopes: ['scim:read'], created: at(5) };
        await store.createToken(full());
        await store.createToken(bare());
        await store.createToken(third);
        const all = await store.listTokens();
        expect(all).toHaveLength(3);
        expect(byId(all)).toEqual(byId([full(), { ...bare(), scopes: ['scim:read', 'scim:write'] }, third]));
        // of one organization
        expect((await store.listTokens(org.id)).map((t) => t.id)).toEqual(['tok-full', 'tok-third']);
        expect((await store.listTokens(other.id)).map((t) => t.id)).toEqual(['tok-bare']);
      });
    });

    describe('resources', () => {
      it('createResource returns version 1, created == lastModified == the given time, attributes as given', async () => {
        const write = userWrite('alice', { extra: { name: { givenName: 'Alice' }, emails: [{ value: 'a@example.com', primary: true }] } });
        const created = await store.createResource(org.id, 'User', 'u1', at(1), write);
        expect(created).toEqual({
          orgId: org.id,
          resourceType: 'User',
          id: 'u1',
          version: 1,
          created: at(1),
          lastModified: at(1),
          attributes: write.attributes,
        });
      });

      it('getResource returns the created resource', async () => {
        const created = await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice', { extra: { active: true } }));
        expect(await store.getResource(org.id, 'User', 'u1')).toEqual(created);
      });

      it('getResource with the wrong organization, resource type or id is undefined', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        expect(await store.getResource(other.id, 'User', 'u1')).toBeUndefined();
        expect(await store.getResource(org.id, 'Group', 'u1')).toBeUndefined();
        expect(await store.getResource(org.id, 'User', 'u2')).toBeUndefined();
        expect(await store.getResource(org.id, 'User', 'u1')).toBeDefined();
      });

      it('replaceResource bumps the version by 1 each time and updates lastModified and attributes, not created', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice', { extra: { title: 'Engineer' } }));
        const second = userWrite('alice', { extra: { nickName: 'Al' } });
        const v2 = written(await store.replaceResource(org.id, 'User', 'u1', at(2), second));
        expect(v2).toEqual({
          orgId: org.id, resourceType: 'User', id: 'u1', version: 2, created: at(1), lastModified: at(2), attributes: second.attributes,
        });
        expect(v2?.attributes).not.toHaveProperty('title');
        expect(await store.getResource(org.id, 'User', 'u1')).toEqual(v2);

        const third = userWrite('alice', { extra: { nickName: 'Ally' } });
        const v3 = written(await store.replaceResource(org.id, 'User', 'u1', at(3), third));
        expect(v3?.version).toBe(3);
        expect(v3?.created).toBe(at(1));
        expect(v3?.lastModified).toBe(at(3));
        expect(v3?.attributes).toEqual(third.attributes);
        expect(await store.getResource(org.id, 'User', 'u1')).toEqual(v3);
      });

      it('replaceResource of a missing resource is undefined and creates nothing', async () => {
        expect(await store.replaceResource(org.id, 'User', 'nope', at(2), userWrite('ghost'))).toBeUndefined();
        expect(await store.getResource(org.id, 'User', 'nope')).toBeUndefined();
        expect((await store.listResources(org.id, 'User', { offset: 0, limit: 10 })).total).toBe(0);
      });

      it('replaceResource and deleteResource are scoped by organization and resource type', async () => {
        const created = await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        expect(await store.replaceResource(other.id, 'User', 'u1', at(2), userWrite('mallory'))).toBeUndefined();
        expect(await store.replaceResource(org.id, 'Group', 'u1', at(2), groupWrite('mallory'))).toBeUndefined();
        expect(await store.deleteResource(other.id, 'User', 'u1')).toBe(false);
        expect(await store.deleteResource(org.id, 'Group', 'u1')).toBe(false);
        expect(await store.getResource(org.id, 'User', 'u1')).toEqual(created);
      });

      it('deleteResource returns true, then false', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        expect(await store.deleteResource(org.id, 'User', 'u1')).toBe(true);
        expect(await store.getResource(org.id, 'User', 'u1')).toBeUndefined();
        expect(await store.deleteResource(org.id, 'User', 'u1')).toBe(false);
        expect(await store.deleteResource(org.id, 'User', 'never-existed')).toBe(false);
      });

      describe('listResources', () => {
        // Ids deliberately out of lexical order, so ordering by id would be caught.
        const ids = ['m', 'c', 'x', 'a', 'k'];

        beforeEach(async () => {
          for (const [i, id] of ids.entries()) await store.createResource(org.id, 'User', id, at(i + 1), userWrite(`user-${id}`));
        });

        it('returns every resource in creation order with the correct total', async () => {
          const page = await store.listResources(org.id, 'User', { offset: 0, limit: 100 });
          expect(page.total).toBe(5);
          expect(page.resources.map((r) => r.id)).toEqual(ids);
          for (const r of page.resources) expect(r).toEqual(await store.getResource(org.id, 'User', r.id));
        });

        it('keeps the order stable across replaces and deletes', async () => {
          await store.replaceResource(org.id, 'User', 'c', at(10), userWrite('user-c', { extra: { title: 'changed' } }));
          await store.replaceResource(org.id, 'User', 'm', at(11), userWrite('user-m', { extra: { title: 'changed' } }));
          const first = await store.listResources(org.id, 'User', { offset: 0, limit: 100 });
          expect(first.resources.map((r) => r.id)).toEqual(ids);
          expect(await store.listResources(org.id, 'User', { offset: 0, limit: 100 })).toEqual(first);
          await store.deleteResource(org.id, 'User', 'x');
          const after = await store.listResources(org.id, 'User', { offset: 0, limit: 100 });
          expect(after.total).toBe(4);
          expect(after.resources.map((r) => r.id)).toEqual(['m', 'c', 'a', 'k']);
        });

        it('respects offset and limit', async () => {
          const middle = await store.listResources(org.id, 'User', { offset: 1, limit: 2 });
          expect(middle.total).toBe(5);
          expect(middle.resources.map((r) => r.id)).toEqual(['c', 'x']);
          const tail = await store.listResources(org.id, 'User', { offset: 4, limit: 10 });
          expect(tail.total).toBe(5);
          expect(tail.resources.map((r) => r.id)).toEqual(['k']);
          const head = await store.listResources(org.id, 'User', { offset: 0, limit: 1 });
          expect(head.resources.map((r) => r.id)).toEqual(['m']);
          const beyond = await store.listResources(org.id, 'User', { offset: 10, limit: 10 });
          expect(beyond).toEqual({ total: 5, resources: [], keysets: [] });
        });

        it('limit 0 returns the total with no resources', async () => {
          expect(await store.listResources(org.id, 'User', { offset: 0, limit: 0 })).toEqual({ total: 5, resources: [], keysets: [] });
          expect(await store.listResources(org.id, 'User', { offset: 3, limit: 0 })).toEqual({ total: 5, resources: [], keysets: [] });
        });

        it('gives each listed resource a keyset; after/before seek from one in creation order', async () => {
          const all = await store.listResources(org.id, 'User', { offset: 0, limit: 100 });
          expect(all.keysets).toHaveLength(all.resources.length);
          const third = all.keysets[2]!;
          const after = await store.listResources(org.id, 'User', { offset: 0, limit: 100, after: third });
          expect(after.resources.map((r) => r.id)).toEqual(all.resources.slice(3).map((r) => r.id));
          expect(after.total).toBe(all.total); // the total counts every match, not only those after the anchor
          const before = await store.listResources(org.id, 'User', { offset: 0, limit: 2, before: third });
          expect(before.resources.map((r) => r.id)).toEqual(all.resources.slice(0, 2).map((r) => r.id));
        });

        it('is scoped by organization and resource type', async () => {
          await store.createResource(other.id, 'User', 'o1', at(20), userWrite('other-1'));
          await store.createResource(other.id, 'User', 'o2', at(21), userWrite('other-2'));
          await store.createResource(org.id, 'Group', 'g1', at(22), groupWrite('admins'));
          const users = await store.listResources(org.id, 'User', { offset: 0, limit: 100 });
          expect(users.total).toBe(5);
          expect(users.resources.map((r) => r.id)).toEqual(ids);
          const otherUsers = await store.listResources(other.id, 'User', { offset: 0, limit: 100 });
          expect(otherUsers.total).toBe(2);
          expect(otherUsers.resources.map((r) => r.id)).toEqual(['o1', 'o2']);
          expect(otherUsers.resources.every((r) => r.orgId === other.id && r.resourceType === 'User')).toBe(true);
          const groups = await store.listResources(org.id, 'Group', { offset: 0, limit: 100 });
          expect(groups.total).toBe(1);
          expect(groups.resources.map((r) => r.id)).toEqual(['g1']);
          expect(await store.listResources(other.id, 'Group', { offset: 0, limit: 100 })).toEqual({ total: 0, resources: [], keysets: [] });
        });
      });
    });

    describe('the attribute index', () => {
      const tag: Target = { key: 'tags', source: 'attribute', attribute: 'tags', kind: 'string', caseExact: true, dateTime: false, multiValued: true };
      const tagged = (value: string): ResourceQuery => ({ filter: { kind: 'compare', target: tag, op: 'eq', value }, offset: 0, limit: 10 });
      const withTags = (write: ResourceWrite, ...values: string[]): ResourceWrite => ({ ...write, index: values.map((str) => ({ path: 'tags', ordinal: 0, str })) });

      it('holds a value repeated within one element once, and finds the resource by it', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), withTags(userWrite('one'), 'x', 'x', 'y'));
        expect((await store.listResources(org.id, 'User', tagged('x'))).resources.map((r) => r.id)).toEqual(['u1']);
        written(await store.replaceResource(org.id, 'User', 'u1', at(2), withTags(userWrite('one'), 'y', 'y')));
        expect((await store.listResources(org.id, 'User', tagged('x'))).total).toBe(0);
        expect((await store.listResources(org.id, 'User', tagged('y'))).resources.map((r) => r.id)).toEqual(['u1']);
      });

      it('a membership-only change moves the lastModified of the group and of the members it added or removed', async () => {
        const modified: Target = { key: 'meta.lastmodified', source: 'attribute', attribute: 'meta', subAttribute: 'lastModified', kind: 'number', caseExact: false, dateTime: true, multiValued: false };
        const stamped = (second: number): ResourceQuery => ({ filter: { kind: 'compare', target: modified, op: 'eq', value: Date.parse(at(second)) }, offset: 0, limit: 10 });
        const stampedAt = (write: ResourceWrite, second: number): ResourceWrite => ({ ...write, index: [{ path: 'meta.lastmodified', ordinal: 0, num: Date.parse(at(second)) }] });
        await store.createResource(org.id, 'User', 'u1', at(1), stampedAt(userWrite('one'), 1));
        await store.createResource(org.id, 'User', 'u2', at(1), stampedAt(userWrite('two'), 1));
        await store.createResource(org.id, 'Group', 'g1', at(2), stampedAt(groupWrite('admins'), 2));
        const members = { clear: false, add: ['u1'], remove: [], allowedTypes: MEMBER_TYPES };
        const patched = written(await store.patchResource(org.id, 'Group', 'g1', at(3), { members }));
        expect(patched).toMatchObject({ version: 2, lastModified: at(3) });
        expect((await store.listResources(org.id, 'Group', stamped(2))).total).toBe(0);
        expect((await store.listResources(org.id, 'Group', stamped(3))).resources.map((r) => r.id)).toEqual(['g1']);
        expect((await store.listResources(org.id, 'User', stamped(3))).resources.map((r) => [r.id, r.version, r.lastModified])).toEqual([['u1', 2, at(3)]]);
        expect((await store.listResources(org.id, 'User', stamped(1))).resources.map((r) => r.id)).toEqual(['u2']);
      });

      it('indexes a resource type whose first write was rolled back', async () => {
        await expectUnknownMembers(store.createResource(org.id, 'Group', 'g0', at(1), withTags(groupWrite('none', ['nobody']), 'x')), ['nobody']);
        await store.createResource(org.id, 'Group', 'g1', at(2), withTags(groupWrite('admins'), 'x'));
        expect((await store.listResources(org.id, 'Group', tagged('x'))).resources.map((r) => r.id)).toEqual(['g1']);
      });
    });

    describe('createResources', () => {
      it('writes each item atomically on its own: failures take their place in the result, the rest are stored', async () => {
        await store.createResource(org.id, 'User', 'u0', at(1), userWrite('taken'));
        const results = await store.createResources(org.id, 'User', at(2), [
          { id: 'u1', write: userWrite('one') },
          { id: 'u2', write: userWrite('TAKEN') },
          { id: 'u3', write: userWrite('two') },
          { id: 'u4', write: userWrite('two') },
        ]);
        expect(results[0]).toMatchObject({ id: 'u1', version: 1, created: at(2) });
        expect(results[1]).toBeInstanceOf(UniquenessViolation);
        expect(results[2]).toMatchObject({ id: 'u3' });
        expect(results[3]).toBeInstanceOf(UniquenessViolation); // taken by an earlier item of the same call
        const listed = await store.listResources(org.id, 'User', { offset: 0, limit: 10 });
        expect(listed.resources.map((r) => r.id)).toEqual(['u0', 'u1', 'u3']);
        const groups = await store.createResources(org.id, 'Group', at(3), [
          { id: 'g1', write: groupWrite('ok', ['u1']) },
          { id: 'g2', write: groupWrite('bad', ['u1', 'nope']) },
        ]);
        expect(groups[1]).toBeInstanceOf(UnknownMembers);
        expect(await store.getResource(org.id, 'Group', 'g2')).toBeUndefined();
        expect((await store.members(org.id, 'g1')).map((m) => m.value)).toEqual(['u1']);
        expect(await groupsOf(store, org.id, 'u1')).toHaveLength(1);
      });

      it('writes every index row, audit entry and count of a batch larger than one statement carries', async () => {
        const rec = (id: string) => ({ audit: { at: at(2), orgId: org.id, operation: 'create' as const, resourceType: 'User', resourceId: id, status: 201, changes: [] } });
        const many = Array.from({ length: 150 }, (_, i) => ({
          id: `u${i}`,
          write: { ...userWrite(`user${i}`), index: userIndex(`user${i}`, [`user${i}@example.com`]), record: rec(`u${i}`) },
        }));
        // one resource with more index rows than one statement carries, written alone and then replaced
        const emails = Array.from({ length: 100 }, (_, i) => `many${i}@example.com`);
        await store.createResource(org.id, 'User', 'wide', at(1), { ...userWrite('wide'), index: userIndex('wide', emails) });
        expect(await store.createResources(org.id, 'User', at(2), many)).toHaveLength(150);
        await store.replaceResource(org.id, 'User', 'wide', at(3), { ...userWrite('wide'), index: userIndex('wide', [...emails, 'last@example.com']) });
        const ids = async (filter: BoundFilter) => (await store.listResources(org.id, 'User', { filter, offset: 0, limit: 10 })).resources.map((r) => r.id);
        for (const i of [0, 63, 64, 149]) expect(await ids(eqFilter('emails.value', `user${i}@example.com`))).toEqual([`u${i}`]);
        expect(await ids(eqFilter('emails.value', 'many99@example.com'))).toEqual(['wide']);
        expect(await ids(eqFilter('emails.value', 'last@example.com'))).toEqual(['wide']);
        expect((await store.listResources(org.id, 'User', { offset: 0, limit: 1 })).total).toBe(151);
        expect((await store.listAudit({ limit: 200 })).map((r) => r.resourceId)).toEqual(many.map((m) => m.id));
      });

      it('names the right item and key of a clash deep in a batch whose unique values take several statements', async () => {
        await store.createResource(org.id, 'User', 'held', at(1), userWrite('holder', { externalId: 'ext-held' }));
        // two keys an item: 200 values, more than one statement claims; item 70 clashes on its second key (an
        // existing holder's), item 90 on its first (an earlier item's), and so does the last item
        const many = Array.from({ length: 100 }, (_, i) => ({
          id: `u${i}`,
          write: userWrite(i === 90 ? 'user3' : `user${i}`, { externalId: i === 70 ? 'ext-held' : `ext-${i}` }),
        }));
        many.push({ id: 'u119', write: userWrite('user119', { externalId: 'ext-119' }) });
        many.push({ id: 'u120', write: userWrite('user119', { externalId: 'ext-120' }) });
        const results = await store.createResources(org.id, 'User', at(2), many);
        const failures = results.flatMap((r, i) => (r instanceof UniquenessViolation ? [[many[i]!.id, r.attribute]] : []));
        expect(failures).toEqual([['u70', 'externalId'], ['u90', 'userName'], ['u120', 'userName']]);
        // the failed items left no value taken: each can be created once its clash is gone
        expect((await store.createResource(org.id, 'User', 'u70', at(3), userWrite('user70', { externalId: 'ext-70' }))).id).toBe('u70');
        expect((await store.createResource(org.id, 'User', 'u90', at(3), userWrite('user90', { externalId: 'ext-90' }))).id).toBe('u90');
        expect((await store.listResources(org.id, 'User', { offset: 0, limit: 0 })).total).toBe(1 + 99 + 1 + 1);
        // and with stopAfterErrors, the batch ends at its first failure, in order
        const stopped = await store.createResources(org.id, 'User', at(4), [
          { id: 'v1', write: userWrite('fresh1') }, { id: 'v2', write: userWrite('user5') }, { id: 'v3', write: userWrite('fresh3') },
        ], { stopAfterErrors: 1 });
        expect(stopped.map((r) => (r instanceof UniquenessViolation ? r.attribute : (r as { id: string }).id))).toEqual(['v1', 'userName']);
        expect(await store.getResource(org.id, 'User', 'v3')).toBeUndefined();
      });

      it('queries of more distinct shapes than a store keeps prepared all answer, and again after others came between', async () => {
        await store.createResources(org.id, 'User', at(1), Array.from({ length: 40 }, (_, i) => ({
          id: `u${i}`, write: { ...userWrite(`user${i}`), index: userIndex(`user${i}`, [`user${i}@example.com`]) },
        })));
        // 40 lengths × 2 attributes × 4 orders: 320 shapes, each its own SQL text
        const shapes: { n: number; key: string; order: 'none' | 'ascending' | 'descending' | 'before' }[] = [];
        for (let n = 1; n <= 40; n++) {
          for (const key of ['username', 'emails.value']) {
            for (const order of ['none', 'ascending', 'descending', 'before'] as const) shapes.push({ n, key, order });
          }
        }
        const run = async ({ n, key, order }: (typeof shapes)[number]): Promise<number[]> => {
          const terms = Array.from({ length: n }, (_, i) => eqFilter(key, key === 'username' ? `user${i}` : `user${i}@example.com`));
          const filter = terms.reduce((left, right): BoundFilter => ({ kind: 'or', left, right }));
          const first = terms[0]!;
          const sort = (order === 'ascending' || order === 'descending') && first.kind === 'compare' ? { target: first.target, descending: order === 'descending' } : undefined;
          const page = await store.listResources(org.id, 'User', { filter, ...(sort ? { sort } : {}), ...(order === 'before' ? { before: { position: Number.MAX_SAFE_INTEGER } } : {}), offset: 0, limit: 50 });
          return [page.total, page.resources.length];
        };
        for (const shape of shapes) expect(await run(shape)).toEqual([shape.n, shape.n]);
        for (const shape of shapes.slice(0, 8)) expect(await run(shape)).toEqual([shape.n, shape.n]);
      });
    });

    describe('versions (If-Match is checked inside the write)', () => {
      it('replaceResource with the current expectedVersion writes; with another one it is a conflict and writes nothing', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        expect(await store.replaceResource(org.id, 'User', 'u1', at(2), userWrite('alice', { extra: { title: 'A' } }), 2)).toBe('conflict');
        expect((await store.getResource(org.id, 'User', 'u1'))?.version).toBe(1);
        expect(written(await store.replaceResource(org.id, 'User', 'u1', at(2), userWrite('alice', { extra: { title: 'A' } }), 1)).version).toBe(2);
        expect(await store.replaceResource(org.id, 'User', 'u1', at(3), userWrite('alicia'), 1)).toBe('conflict');
        // the refused write claimed no unique value
        expect(written(await store.createResource(org.id, 'User', 'u2', at(4), userWrite('alicia'))).version).toBe(1);
        expect(await store.replaceResource(org.id, 'User', 'nope', at(5), userWrite('ghost'), 1)).toBeUndefined();
      });

      it('deleteResource with a stale expectedVersion is a conflict and deletes nothing', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await store.replaceResource(org.id, 'User', 'u1', at(2), userWrite('alice'));
        expect(await store.deleteResource(org.id, 'User', 'u1', 1)).toBe('conflict');
        expect(await store.getResource(org.id, 'User', 'u1')).toBeDefined();
        expect(await store.deleteResource(org.id, 'User', 'u1', 2)).toBe(true);
        expect(await store.deleteResource(org.id, 'User', 'u1', 2)).toBe(false);
      });

      it('patchResource checks expectedVersion when given, for a document and for a membership delta alike', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await store.createResource(org.id, 'User', 'u2', at(2), userWrite('bob'));
        await store.createResource(org.id, 'Group', 'g1', at(3), groupWrite('Admins', ['u1']));
        const add = (ids: string[]) => ({ clear: false, add: ids, remove: [], allowedTypes: MEMBER_TYPES });
        expect(await store.patchResource(org.id, 'Group', 'g1', at(4), { expectedVersion: 2, members: add(['u2']) })).toBe('conflict');
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u1']);
        const renamed = await store.patchResource(org.id, 'Group', 'g1', at(5), { expectedVersion: 1, write: groupWrite('Admins 2') });
        expect(renamed).toMatchObject({ version: 2, attributes: { displayName: 'Admins 2' } });
        expect(await store.patchResource(org.id, 'Group', 'g1', at(6), { expectedVersion: 1, write: groupWrite('Admins 3') })).toBe('conflict');
        // without expectedVersion a delta applies on whatever version is current
        expect(await store.patchResource(org.id, 'Group', 'g1', at(7), { members: add(['u2']) })).toMatchObject({ version: 3 });
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u1', 'u2']);
        // adding a present member changes nothing, so the version stays
        expect(await store.patchResource(org.id, 'Group', 'g1', at(8), { members: add(['u2']) })).toMatchObject({ version: 3 });
        expect(await store.patchResource(org.id, 'Group', 'nope', at(9), { members: add(['u2']) })).toBeUndefined();
      });

      it('patchResource applies a membership delta of k members without the others: remove, clear and re-add', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await store.createResource(org.id, 'User', 'u2', at(2), userWrite('bob'));
        await store.createResource(org.id, 'User', 'u3', at(3), userWrite('carol'));
        await store.createResource(org.id, 'Group', 'g1', at(4), groupWrite('Admins', ['u1', 'u2']));
        const change = (clear: boolean, add: string[], remove: string[]) => ({ members: { clear, add, remove, allowedTypes: MEMBER_TYPES } });
        await store.patchResource(org.id, 'Group', 'g1', at(5), change(false, [], ['u1', 'u3']));
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u2']);
        await store.patchResource(org.id, 'Group', 'g1', at(6), change(true, ['u3', 'u2'], []));
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u2', 'u3']);
        await expectUnknownMembers(store.patchResource(org.id, 'Group', 'g1', at(7), change(false, ['u1', 'ghost'], [])), ['ghost']);
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u2', 'u3']);
      });

      it('createResources with stopAfterErrors attempts nothing after that many failures', async () => {
        await store.createResource(org.id, 'User', 'u0', at(1), userWrite('taken'));
        const results = await store.createResources(org.id, 'User', at(2), [
          { id: 'u1', write: userWrite('one') },
          { id: 'u2', write: userWrite('taken') },
          { id: 'u3', write: userWrite('two') },
          { id: 'u4', write: userWrite('TAKEN') },
          { id: 'u5', write: userWrite('three') },
        ], { stopAfterErrors: 2 });
        expect(results).toHaveLength(4);
        expect(results[3]).toBeInstanceOf(UniquenessViolation);
        const listed = await store.listResources(org.id, 'User', { offset: 0, limit: 10 });
        expect(listed.resources.map((r) => r.id)).toEqual(['u0', 'u1', 'u3']);
      });
    });

    describe('audit log', () => {
      const entry = (operation: AuditEntry['operation'], extra: Partial<AuditEntry> = {}): AuditEntry => ({
        at: at(1), orgId: org.id, tokenId: 't1', tokenName: 'okta', requestId: 'r1', clientAddress: '127.0.0.1',
        operation, resourceType: 'User', status: 201, changes: [{ attribute: 'title', after: 'x' }], ...extra,
      });
      const rec = (...args: Parameters<typeof entry>) => ({ audit: entry(...args) });

      it('a write records its entry in the same transaction, with the version it left', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), { ...userWrite('alice'), record: rec('create', { resourceId: 'u1' }) });
        await store.replaceResource(org.id, 'User', 'u1', at(2), { ...userWrite('alice'), record: rec('replace', { resourceId: 'u1', status: 200 }) });
        await store.patchResource(org.id, 'User', 'u1', at(3), { expectedVersion: 2, write: userWrite('alice'), record: rec('patch', { resourceId: 'u1', status: 200 }) });
        await store.deleteResource(org.id, 'User', 'u1', 3, rec('delete', { resourceId: 'u1', status: 204 }));
        const log = await store.listAudit({ limit: 10 });
        expect(log.map((r) => [r.operation, r.resourceId, r.version, r.status])).toEqual([
          ['create', 'u1', 1, 201], ['replace', 'u1', 2, 200], ['patch', 'u1', 3, 200], ['delete', 'u1', 3, 204],
        ]);
        expect(log[0]).toEqual({ seq: log[0]!.seq, ...entry('create', { resourceId: 'u1' }), version: 1 });
        expect(log.map((r) => r.seq)).toEqual([...log.map((r) => r.seq)].sort((a, b) => a - b));
      });

      it('a refused write records nothing: uniqueness, unknown members, a version conflict', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u2', at(2), { ...userWrite('alice'), record: rec('create') }), 'userName');
        await expectUnknownMembers(store.createResource(org.id, 'Group', 'g1', at(2), { ...groupWrite('g', ['nope']), record: rec('create') }), ['nope']);
        expect(await store.replaceResource(org.id, 'User', 'u1', at(3), { ...userWrite('alice'), record: rec('replace') }, 7)).toBe('conflict');
        expect(await store.deleteResource(org.id, 'User', 'u1', 7, rec('delete'))).toBe('conflict');
        const [ok, bad] = await store.createResources(org.id, 'User', at(4), [
          { id: 'u3', write: { ...userWrite('carol'), record: rec('create', { resourceId: 'u3' }) } },
          { id: 'u4', write: { ...userWrite('ALICE'), record: rec('create', { resourceId: 'u4' }) } },
        ]);
        expect([ok, bad?.constructor.name]).toMatchObject([{ id: 'u3' }, 'UniquenessViolation']);
        expect((await store.listAudit({ limit: 10 })).map((r) => r.resourceId)).toEqual(['u3']);
      });

      it('a group write records the members it really added and removed, counted', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await store.createResource(org.id, 'User', 'u2', at(2), userWrite('bob'));
        await store.createResource(org.id, 'Group', 'g1', at(3), { ...groupWrite('g', ['u1', 'u1']), record: rec('create', { resourceType: 'Group', changes: [] }) });
        const members = (add: string[], remove: string[]) => ({ clear: false, add, remove, allowedTypes: MEMBER_TYPES });
        await store.patchResource(org.id, 'Group', 'g1', at(4), { members: members(['u1', 'u2'], []), record: rec('patch', { changes: [] }) });
        await store.patchResource(org.id, 'Group', 'g1', at(5), { members: members([], ['u1', 'u9']), record: rec('patch', { changes: [] }) });
        await store.replaceResource(org.id, 'Group', 'g1', at(6), { ...groupWrite('g', ['u1']), record: rec('replace', { changes: [] }) });
        const log = await store.listAudit({ limit: 10 });
        expect(log.map((r) => r.changes)).toEqual([
          [{ attribute: 'members', added: ['u1'], addedCount: 1 }],
          [{ attribute: 'members', added: ['u2'], addedCount: 1 }],
          [{ attribute: 'members', removed: ['u1'], removedCount: 1 }],
          [{ attribute: 'members', added: ['u1'], addedCount: 1, removed: ['u2'], removedCount: 1 }],
        ]);
        // the PATCH that changed nothing is recorded too, at the version it left
        await store.patchResource(org.id, 'Group', 'g1', at(7), { members: members(['u1'], []), record: rec('patch', { changes: [] }) });
        const last = (await store.listAudit({ afterSeq: log[3]!.seq, limit: 10 }))[0]!;
        expect([last.changes, last.version]).toEqual([[], log[3]!.version]);
      });

      it('appendAudit records entries of failures; listAudit filters; pruneAudit deletes old entries', async () => {
        await store.appendAudit([
          entry('create', { at: at(1), status: 400, scimType: 'invalidValue', detail: 'bad', changes: [] }),
          entry('authenticate', { at: at(2), orgId: undefined, tokenId: undefined, tokenName: undefined, resourceType: undefined, status: 401, changes: [] }),
          entry('patch', { at: at(3), orgId: other.id, tokenId: 't2', resourceType: 'Group', resourceId: 'g9', status: 404, changes: [] }),
        ]);
        await store.createResource(org.id, 'User', 'u1', at(4), { ...userWrite('alice'), record: rec('create', { at: at(4), resourceId: 'u1' }) });
        const ops = async (q: Partial<AuditQuery>) => (await store.listAudit({ limit: 10, ...q })).map((r) => r.operation);
        expect(await ops({})).toEqual(['create', 'authenticate', 'patch', 'create']);
        expect((await store.listAudit({ limit: 10 }))[1]).not.toHaveProperty('orgId');
        expect(await ops({ outcome: 'failure' })).toEqual(['create', 'authenticate', 'patch']);
        expect(await ops({ outcome: 'success' })).toEqual(['create']);
        expect(await ops({ orgId: other.id })).toEqual(['patch']);
        expect(await ops({ tokenId: 't2' })).toEqual(['patch']);
        expect(await ops({ resourceType: 'User', resourceId: 'u1' })).toEqual(['create']);
        expect(await ops({ since: at(2), until: at(4) })).toEqual(['authenticate', 'patch']);
        expect(await ops({ limit: 2 })).toEqual(['create', 'authenticate']);
        const first = (await store.listAudit({ limit: 1 }))[0]!;
        expect(await ops({ afterSeq: first.seq })).toEqual(['authenticate', 'patch', 'create']);
        expect(await store.pruneAudit(at(3))).toBe(2);
        expect(await ops({})).toEqual(['patch', 'create']);
      });
    });

    describe('event outbox', () => {
      const event = (type: string, resourceId: string, at = 1): LifecycleEvent => ({
        id: `${type}-${resourceId}-${at}`, type: type as LifecycleEvent['type'], at: `2024-01-01T00:00:0${at}.000Z`, organization: org.id,
        resource: { type: 'User', id: resourceId }, changes: [],
      });
      const soon = '2024-01-01T00:01:00.000Z';
      const later = '2024-01-01T00:02:00.000Z';
      const claimed = async (now = soon, limit = 10) => (await store.claimEvents(now, later, limit)).map((e) => e.event.id);

      it('events given with a write are in the outbox with it; a refused write leaves none', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), { ...userWrite('alice'), record: { events: [event('user.created', 'u1')] } });
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u2', at(2), { ...userWrite('alice'), record: { events: [event('user.created', 'u2')] } }), 'userName');
        expect(await store.replaceResource(org.id, 'User', 'u1', at(3), { ...userWrite('alice'), record: { events: [event('user.updated', 'u1')] } }, 9)).toBe('conflict');
        await store.deleteResource(org.id, 'User', 'u1', 1, { events: [event('user.deleted', 'u1', 4)] });
        expect(await claimed()).toEqual(['user.created-u1-1']);
      });

      it('member events: one per member the write really added or removed', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await store.createResource(org.id, 'User', 'u2', at(2), userWrite('bob'));
        const base = { at: at(3), organization: org.id, resource: { type: 'Group', id: 'g1', externalId: 'ext-g1' } };
        await store.createResource(org.id, 'Group', 'g1', at(3), { ...groupWrite('g', ['u1']), record: { memberEvents: base } });
        const members = (add: string[], remove: string[]) => ({ clear: false, add, remove, allowedTypes: MEMBER_TYPES });
        await store.patchResource(org.id, 'Group', 'g1', at(4), { members: members(['u1', 'u2'], []), record: { memberEvents: base } });
        await store.patchResource(org.id, 'Group', 'g1', at(5), { members: members([], ['u1', 'u9']), record: { memberEvents: base } });
        const all: string[] = [];
        for (let round = 0; round < 5; round++) {
          for (const e of await store.claimEvents(soon, later, 10)) {
            all.push(`${e.event.type} ${e.event.member?.id} ${e.event.resource.externalId}`);
            await store.completeEvents([e.seq], soon);
          }
        }
        expect(all).toEqual(['group.member_added u1 ext-g1', 'group.member_added u2 ext-g1', 'group.member_removed u1 ext-g1']);
      });

      it('claims only the oldest pending event of each resource, not leased ones, not before their time', async () => {
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: { events: [event('user.created', 'a', 1), event('user.updated', 'a', 2)] } });
        await store.createResource(org.id, 'User', 'b', at(2), { ...userWrite('b'), record: { events: [event('user.created', 'b', 3)] } });
        expect(await claimed('2024-01-01T00:00:02.500Z')).toEqual(['user.created-a-1']); // b's is not due yet
        expect(await claimed()).toEqual(['user.created-b-3']); // a's first is leased, a's second waits for it
        const [a1] = await store.claimEvents('2024-01-01T00:02:30.000Z', '2024-01-01T00:09:00.000Z', 10); // the lease ran out: claimed again
        expect(a1?.event.id).toBe('user.created-a-1');
        await store.completeEvents([a1!.seq], later);
        // b's lease ran out too, unreported: it is claimed again (at least once)
        expect(await claimed('2024-01-01T00:09:30.000Z')).toEqual(['user.updated-a-2', 'user.created-b-3']);
      });

      it('a failure is retried from its time; without one it is dead, and retryDeadEvents brings it back', async () => {
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: { events: [event('user.created', 'a', 1), event('user.updated', 'a', 2)] } });
        let [e] = await store.claimEvents(soon, soon, 10);
        await store.failEvent(e!.seq, 'HTTP 503', later);
        expect(await claimed(soon)).toEqual([]); // not before its retry time, and the next waits
        [e] = await store.claimEvents(later, later, 10);
        expect([e!.event.id, e!.attempts, e!.lastError]).toEqual(['user.created-a-1', 1, 'HTTP 503']);
        await store.failEvent(e!.seq, 'HTTP 500', undefined);
        expect((await store.deadEvents(10)).map((d) => [d.event.id, d.attempts, d.lastError])).toEqual([['user.created-a-1', 2, 'HTTP 500']]);
        // a dead event no longer holds up its resource's next one
        expect(await claimed('2024-01-01T00:03:00.000Z')).toEqual(['user.updated-a-2']);
        expect(await store.retryDeadEvents('nope')).toBe(0);
        expect(await store.retryDeadEvents('user.created-a-1')).toBe(1);
        expect(await store.deadEvents(10)).toEqual([]);
        expect(await claimed('2999-01-01T00:00:00.000Z')).toEqual(['user.created-a-1']);
      });

      it('completeEvents marks a batch delivered at once; the next events of those resources become due', async () => {
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: { events: [event('user.created', 'a', 1), event('user.updated', 'a', 2)] } });
        await store.createResource(org.id, 'User', 'b', at(2), { ...userWrite('b'), record: { events: [event('user.created', 'b', 3), event('user.updated', 'b', 4)] } });
        const batch = await store.claimEvents(soon, later, 10);
        expect(batch.map((e) => e.event.id)).toEqual(['user.created-a-1', 'user.created-b-3']);
        await store.completeEvents(batch.map((e) => e.seq), soon);
        await store.completeEvents([], soon);
        expect(await claimed()).toEqual(['user.updated-a-2', 'user.updated-b-4']);
      });

      it('channels: each event is in the outbox once per channel, and each channel is claimed and held back on its own', async () => {
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: { events: [event('user.created', 'a', 1), event('user.updated', 'a', 2)], channels: ['hook-1', 'hook-2'] } });
        expect(await claimed()).toEqual([]); // the default channel has none
        const one = await store.claimEvents(soon, later, 10, 'hook-1');
        expect(one.map((e) => [e.channel, e.event.id])).toEqual([['hook-1', 'user.created-a-1']]);
        await store.failEvent(one[0]!.seq, 'down', later); // hook-1's receiver is down: its next event waits…
        const two = await store.claimEvents(soon, later, 10, 'hook-2'); // …but hook-2's does not
        expect(two.map((e) => [e.channel, e.event.id])).toEqual([['hook-2', 'user.created-a-1']]);
        await store.completeEvents([two[0]!.seq], soon);
        expect((await store.claimEvents(soon, later, 10, 'hook-2')).map((e) => e.event.id)).toEqual(['user.updated-a-2']);
        expect(await store.claimEvents(soon, later, 10, 'hook-1')).toEqual([]);
      });

      it('eventBacklog: per channel, the events still to be delivered and the dead-lettered; delivered and fed ones are no backlog', async () => {
        expect(await store.eventBacklog()).toEqual([]);
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: { events: [event('user.created', 'a', 1), event('user.updated', 'a', 2)], channels: ['hook-1', 'hook-2', FEED_CHANNEL] } });
        await store.readFeed(undefined, 0, 10); // the feed's events are placed: read, not waiting
        const [first] = await store.claimEvents(soon, later, 10, 'hook-1');
        await store.failEvent(first!.seq, 'HTTP 500', undefined);
        const [other] = await store.claimEvents(soon, later, 10, 'hook-2');
        await store.completeEvents([other!.seq], soon);
        expect(await store.eventBacklog()).toEqual([{ channel: 'hook-1', pending: 1, dead: 1 }, { channel: 'hook-2', pending: 1, dead: 0 }]);
        expect(await store.retryDeadEvents()).toBe(1);
        expect(await store.eventBacklog()).toEqual([{ channel: 'hook-1', pending: 2, dead: 0 }, { channel: 'hook-2', pending: 1, dead: 0 }]);
      });

      it('recentDeliveries: one organization\'s events on the delivery channels, newest first, as they stand', async () => {
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: { events: [event('user.created', 'a', 1), event('user.updated', 'a', 2)], channels: ['hook', FEED_CHANNEL] } });
        await store.createResource(other.id, 'User', 'x', at(2), { ...userWrite('x'), record: { events: [{ ...event('user.created', 'x', 3), organization: other.id }], channels: ['hook'] } });
        const [first] = await store.claimEvents(soon, later, 10, 'hook');
        await store.completeEvents([first!.seq], soon);
        const [second] = await store.claimEvents(soon, later, 10, 'hook');
        await store.failEvent(second!.seq, 'HTTP 503', undefined);
        const recent = await store.recentDeliveries(org.id, 10);
        expect(recent.map((d) => [d.event.id, d.channel, d.state, d.attempts, d.lastError ?? null])).toEqual([
          ['user.updated-a-2', 'hook', 'dead', 1, 'HTTP 503'], ['user.created-a-1', 'hook', 'delivered', 0, null],
        ]);
        expect(recent[1]!.when).toBe(soon);
        expect((await store.recentDeliveries(other.id, 10)).map((d) => [d.event.id, d.state])).toEqual([['user.created-x-3', 'pending']]);
        expect(await store.recentDeliveries(org.id, 1)).toHaveLength(1);
      });

      it('pruneEvents deletes delivered events only', async () => {
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: { events: [event('user.created', 'a', 1)] } });
        await store.createResource(org.id, 'User', 'b', at(2), { ...userWrite('b'), record: { events: [event('user.created', 'b', 2)] } });
        const [first] = await store.claimEvents(soon, later, 1);
        await store.completeEvents([first!.seq], soon);
        expect(await store.pruneEvents('2999-01-01T00:00:00.000Z')).toBe(1);
        expect(await claimed('2999-01-01T00:00:00.000Z')).toEqual(['user.created-b-2']);
      });
    });

    describe('events feed (FEED_CHANNEL)', () => {
      const feedEvent = (type: string, resourceId: string, orgId: string, n: number): LifecycleEvent => ({
        id: `${type}-${resourceId}-${n}`, type: type as LifecycleEvent['type'], at: at(n), organization: orgId, resource: { type: 'User', id: resourceId }, changes: [],
      });
      const fed = (events: LifecycleEvent[]) => ({ events, channels: [FEED_CHANNEL] });
      const ids = (slice: FeedSlice) => slice.events.map((e) => e.event.id);

      it('places committed events once, in order, one sequence for every organization; reads one organization or all', async () => {
        expect(await store.readFeed(undefined, 0, 10)).toEqual({ events: [], top: 0, oldest: 1 });
        await store.createResource(org.id, 'User', 'a', at(1), { ...userWrite('a'), record: fed([feedEvent('user.created', 'a', org.id, 1)]) });
        await store.createResource(other.id, 'User', 'x', at(2), { ...userWrite('x'), record: fed([feedEvent('user.created', 'x', other.id, 2)]) });
        await store.createResources(org.id, 'User', at(3), [
          { id: 'b', write: { ...userWrite('b'), record: fed([feedEvent('user.created', 'b', org.id, 3)]) } },
          { id: 'c', write: { ...userWrite('c'), record: fed([feedEvent('user.created', 'c', org.id, 4), feedEvent('user.updated', 'c', org.id, 5)]) } },
        ]);
        const all = await store.readFeed(undefined, 0, 10);
        expect(ids(all)).toEqual(['user.created-a-1', 'user.created-x-2', 'user.created-b-3', 'user.created-c-4', 'user.updated-c-5']);
        expect(all.events.map((e) => e.position)).toEqual([1, 2, 3, 4, 5]);
        expect([all.top, all.oldest]).toEqual([5, 1]);
        // one organization's, after a place, at most `limit`
        expect(ids(await store.readFeed(org.id, 0, 2))).toEqual(['user.created-a-1', 'user.created-b-3']);
        expect((await store.readFeed(org.id, 3, 10)).events.map((e) => e.position)).toEqual([4, 5]);
        expect(ids(await store.readFeed(other.id, 2, 10))).toEqual([]);
        // places do not move: read again, the same; a later event comes after them
        await store.deleteResource(org.id, 'User', 'a', undefined, fed([feedEvent('user.deleted', 'a', org.id, 6)]));
        const again = await store.readFeed(org.id, 0, 10);
        expect(again.events.map((e) => [e.position, e.event.id])).toEqual([[1, 'user.created-a-1'], [3, 'user.created-b-3'], [4, 'user.created-c-4'], [5, 'user.updated-c-5'], [6, 'user.deleted-a-6']]);
        // the feed is no delivery channel: nothing of it is claimed, nor dead
        expect(await store.claimEvents('2999-01-01T00:00:00.000Z', '2999-01-01T00:01:00.000Z', 10)).toEqual([]);
      });

      it('a refused write places nothing; member events are placed like the rest', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u2', at(2), { ...userWrite('alice'), record: fed([feedEvent('user.created', 'u2', org.id, 2)]) }), 'userName');
        const base = { at: at(3), organization: org.id, resource: { type: 'Group', id: 'g1' } };
        await store.createResource(org.id, 'Group', 'g1', at(3), { ...groupWrite('g', ['u1']), record: { memberEvents: base, channels: [FEED_CHANNEL] } });
        const slice = await store.readFeed(org.id, 0, 10);
        expect(slice.events.map((e) => `${e.event.type} ${e.event.member?.id}`)).toEqual(['group.member_added u1']);
      });

      it('pruning takes the oldest places only, and keeps the newest, so a reader can tell what it missed', async () => {
        for (let n = 1; n <= 4; n++) await store.createResource(org.id, 'User', `u${n}`, at(n), { ...userWrite(`u${n}`), record: fed([feedEvent('user.created', `u${n}`, org.id, n)]) });
        expect((await store.readFeed(undefined, 0, 10)).top).toBe(4);
        await store.pruneEvents('2999-01-01T00:00:00.000Z'); // everything is old: all but the newest go
        expect(await store.readFeed(undefined, 0, 10)).toMatchObject({ top: 4, oldest: 4 });
        await store.createResource(org.id, 'User', 'u5', at(5), { ...userWrite('u5'), record: fed([feedEvent('user.created', 'u5', org.id, 5)]) });
        const slice = await store.readFeed(org.id, 3, 10);
        expect(slice.events.map((e) => e.position)).toEqual([4, 5]);
        expect([slice.top, slice.oldest]).toEqual([5, 4]);
      });
    });

    describe('console grants', () => {
      const grant = (id: string, kind: 'signin' | 'setup' | 'session', expires: string, extra: object = {}) => ({ id, hash: `h-${id}`, kind, created: at(1), expires, createdBy: 'test', ...extra });
      it('a one-time link is used once; revoking a link ends its sessions; expired grants are pruned', async () => {
        await store.createGrant(grant('l1', 'signin', '2030-01-01T00:00:00.000Z', { orgId: org.id }));
        await store.createGrant(grant('s1', 'session', '2030-01-01T00:00:00.000Z', { orgId: org.id, linkId: 'l1', csrf: 'c', lastSeen: at(2) }));
        await store.createGrant(grant('old', 'session', '2020-01-01T00:00:00.000Z'));
        expect(await store.findGrant('h-s1')).toMatchObject({ id: 's1', kind: 'session', orgId: org.id, linkId: 'l1', csrf: 'c', lastSeen: at(2) });
        expect([await store.useGrant('l1', at(3)), await store.useGrant('l1', at(4))]).toEqual([true, false]);
        expect((await store.listGrants('signin', org.id)).map((g) => [g.id, g.used])).toEqual([['l1', at(3)]]);
        expect(await store.listGrants('signin', undefined)).toEqual([]);
        expect(await store.revokeGrant('l1', at(5))).toBe(true);
        expect(await store.revokeGrant('l1', at(6))).toBe(false);
        expect((await store.findGrant('h-s1'))?.revoked).toBe(at(5));
        expect(await store.pruneGrants('2025-01-01T00:00:00.000Z')).toBe(1);
        expect(await store.findGrant('h-old')).toBeUndefined();
        expect(await store.findGrant('h-l1')).toBeDefined();
      });
    });

    describe('snapshots (scimd backup / restore)', () => {
      const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
      const audit = (requestId: string, extra: Partial<AuditEntry> = {}): AuditEntry => ({
        at: at(1), orgId: org.id, tokenId: 't1', tokenName: 'okta', requestId, operation: 'create', resourceType: 'User', status: 201, changes: [], ...extra,
      });
      const event = (id: string, resourceId: string): LifecycleEvent => ({
        id, type: 'user.updated', at: at(1), organization: org.id, resource: { type: 'User', id: resourceId }, changes: [],
      });
      const user = (userName: string, emails: string[], extra: Attributes = {}): ResourceWrite => ({
        ...userWrite(userName, { extra: { emails: emails.map((value) => ({ value })), ...extra } }), index: userIndex(userName, emails),
      });
      const soon = '2024-01-01T00:01:00.000Z';
      const later = '2024-01-01T00:02:00.000Z';

      /** A directory with everything a snapshot carries, in both organizations. */
      async function fill(s: Store): Promise<void> {
        await s.secret('cursor');
        await s.createToken({ id: 'tok-1', orgId: org.id, name: 'okta', dialect: 'okta', scope: 'scim', scopes: ['scim:read:Users', 'scim:write:Users'], hash: 'a'.repeat(64), created: at(1), expires: at(9), lastUsed: at(2) });
        await s.createToken({ id: 'tok-2', orgId: other.id, name: 'ops', dialect: 'rfc', scope: 'admin', hash: 'b'.repeat(64), created: at(3), revoked: at(4) });
        await s.createResource(org.id, 'User', 'u1', at(1), { ...user('alice', ['alice@example.com', 'al@example.org'], { [ENTERPRISE]: { employeeNumber: '701984' } }), record: { audit: audit('r1'), events: [event('e1', 'u1')] } });
        await s.createResource(org.id, 'User', 'u2', at(2), { ...user('bob', ['bob@example.com']), record: { events: [event('e2', 'u2'), event('e3', 'u2')] } });
        await s.createResource(other.id, 'User', 'x1', at(3), user('alice', ['alice@globex.example']));
        await s.createResource(org.id, 'Group', 'g1', at(4), { ...groupWrite('Admins', ['u2', 'u1'], { uniqueKeys: true }), record: { audit: audit('r2', { resourceType: 'Group' }) } });
        await s.createResource(org.id, 'Group', 'g2', at(5), groupWrite('Everyone', ['g1']));
        // a member created after its group: members are restored after every resource
        await s.createResource(org.id, 'User', 'u3', at(6), user('carol', []));
        await s.patchResource(org.id, 'Group', 'g1', at(7), { members: { clear: false, add: ['u3'], remove: [], allowedTypes: MEMBER_TYPES } });
        await s.replaceResource(org.id, 'User', 'u1', at(8), { ...user('alice', ['alice@example.com'], { title: 'CTO' }), record: { audit: audit('r3', { operation: 'replace', status: 200 }) } });
        await s.appendAudit([audit('r4', { status: 409, scimType: 'uniqueness', detail: 'taken' })]);
        // u1's event delivered (not carried), u2's first one dead (carried, and no longer holding back the second)
        for (const e of await s.claimEvents(soon, later, 10)) {
          if (e.event.id === 'e1') await s.completeEvents([e.seq], soon);
          else await s.failEvent(e.seq, 'HTTP 500', undefined);
        }
      }

      it('a directory exported and imported into a new store is the same directory', async () => {
        await fill(store);
        const target = await open();
        try {
          const records = await collect(store.exportSnapshot());
          expect(records.map((r) => r.kind)).toEqual([
            'organization', 'organization', 'secret', 'token', 'token', ...Array(6).fill('resource'), ...Array(4).fill('member'), ...Array(4).fill('audit'), 'event', 'event',
          ]);
          // a token's scopes and expiry go with it
          expect(records.find((r) => r.kind === 'token' && r.id === 'tok-1')).toMatchObject({ scopes: ['scim:read:Users', 'scim:write:Users'], expires: at(9) });
          await target.importSnapshot(from(records));
          expect(await collect(target.exportSnapshot())).toEqual(records);

          for (const [o, type, id] of [[org.id, 'User', 'u1'], [org.id, 'Group', 'g1'], [other.id, 'User', 'x1']] as const) {
            expect(await target.getResource(o, type, id)).toEqual(await store.getResource(o, type, id));
          }
          expect(await target.members(org.id, 'g1')).toEqual(await store.members(org.id, 'g1'));
          expect(values(await target.members(org.id, 'g1'))).toEqual(['u2', 'u1', 'u3']);
          expect(await target.groupsOf(org.id, ['u1', 'g1'])).toEqual(await store.groupsOf(org.id, ['u1', 'g1']));
          expect(await target.organizations()).toEqual(await store.organizations());
          expect(await target.listTokens()).toEqual(await store.listTokens());
          expect((await target.findTokenByHash('b'.repeat(64)))?.revoked).toBe(at(4));
          expect(await target.secret('cursor')).toEqual(await store.secret('cursor'));
          expect(await target.listAudit({ limit: 100 })).toEqual(await store.listAudit({ limit: 100 }));
          expect(await target.deadEvents(10)).toEqual(await store.deadEvents(10));
          expect((await target.claimEvents(later, later, 10)).map((e) => [e.seq, e.event.id])).toEqual((await store.claimEvents(later, later, 10)).map((e) => [e.seq, e.event.id]));

          // filters, counts and uniqueness answer as in the source
          const ids = async (s: Store, filter?: BoundFilter, orgId = org.id) =>
            (await s.listResources(orgId, 'User', { offset: 0, limit: 10, ...(filter ? { filter } : {}) })).resources.map((r) => r.id);
          for (const f of [eqFilter('username', 'ALICE'), eqFilter('emails.value', 'bob@example.com'), eqFilter('emails.value', 'al@example.org')]) {
            expect(await ids(target, f)).toEqual(await ids(store, f));
          }
          expect(await ids(target, eqFilter('username', 'alice'))).toEqual(['u1']);
          expect(await ids(target, eqFilter('emails.value', 'alice@globex.example'), other.id)).toEqual(['x1']);
          for (const [o, type] of [[org.id, 'User'], [org.id, 'Group'], [other.id, 'User']] as const) {
            expect((await target.listResources(o, type, { offset: 0, limit: 0 })).total).toBe((await store.listResources(o, type, { offset: 0, limit: 0 })).total);
          }
          await expectUniquenessViolation(target.createResource(org.id, 'User', 'u9', at(9), userWrite('Carol')), 'userName');
          await expectUniquenessViolation(target.createResource(org.id, 'Group', 'g9', at(9), groupWrite('admins', [], { uniqueKeys: true })), 'displayName');

          // new rows come after the restored ones: positions (cursors name them) and the audit log go on in order
          await target.createResource(org.id, 'User', 'u9', at(9), user('dave', []));
          const listed = await target.listResources(org.id, 'User', { offset: 0, limit: 10 });
          expect(listed.resources.map((r) => r.id)).toEqual(['u1', 'u2', 'u3', 'u9']);
          expect(listed.keysets.map((k) => k.position)).toEqual([...(await store.listResources(org.id, 'User', { offset: 0, limit: 10 })).keysets.map((k) => k.position), listed.keysets[3]!.position]);
          expect(listed.keysets[3]!.position).toBeGreaterThan(listed.keysets[2]!.position);
          await target.appendAudit([audit('r5')]);
          const log = await target.listAudit({ limit: 100 });
          expect(log.map((e) => e.requestId)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
        } finally {
          await target.close();
        }
      });

      it('importSnapshot into a store that holds anything is refused, and writes nothing', async () => {
        await fill(store);
        const records = await collect(store.exportSnapshot());
        const target = await open();
        try {
          await target.ensureOrganization('initech');
          const before = await collect(target.exportSnapshot());
          const error = await rejection(target.importSnapshot(from(records)));
          expect(error).toBeInstanceOf(StoreNotEmpty);
          expect((error as Error).message).toMatch(/not empty \(it holds organizations\)/);
          expect(await collect(target.exportSnapshot())).toEqual(before);
          expect(await rejection(store.importSnapshot(from(records)))).toBeInstanceOf(StoreNotEmpty);
        } finally {
          await target.close();
        }
      });

      it('a snapshot naming a member that is no resource is refused, and its batch writes nothing', async () => {
        const target = await open();
        try {
          const records: SnapshotRecord[] = [
            { kind: 'organization', ...org },
            { kind: 'resource', position: 1, ...(await store.createResource(org.id, 'Group', 'g1', at(1), groupWrite('g'))), uniqueKeys: [], index: [] },
            { kind: 'member', orgId: org.id, groupId: 'g1', memberId: 'ghost', memberType: 'User' },
          ];
          await expectUnknownMembers(target.importSnapshot(from(records)), ['ghost']);
          expect(await target.organizations()).toEqual([]);
        } finally {
          await target.close();
        }
      });

      it('writes made while a snapshot is being read are not in it', async () => {
        await fill(store);
        const reading = store.exportSnapshot()[Symbol.asyncIterator]();
        const first = await reading.next();
        expect(first.value).toMatchObject({ kind: 'organization' });
        await store.createResource(org.id, 'User', 'late', at(20), { ...user('late', []), record: { audit: audit('late'), events: [event('late', 'late')] } });
        await store.createToken({ id: 'tok-late', orgId: org.id, name: 'late', dialect: 'rfc', scope: 'scim', hash: 'c'.repeat(64), created: at(20) });
        await store.ensureOrganization('late');
        const rest: SnapshotRecord[] = [];
        for (let next = await reading.next(); !next.done; next = await reading.next()) rest.push(next.value);
        expect(JSON.stringify(rest)).not.toContain('late');
        expect(rest.filter((r) => r.kind === 'resource')).toHaveLength(6);
        expect(await store.getResource(org.id, 'User', 'late')).toBeDefined();
      });
    });

    describe('uniqueness', () => {
      it('a second create with the same unique key throws UniquenessViolation and writes nothing', async () => {
        const first = await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u2', at(2), userWrite('alice')), 'userName');
        expect(await store.getResource(org.id, 'User', 'u2')).toBeUndefined();
        expect(await store.getResource(org.id, 'User', 'u1')).toEqual(first);
        expect((await store.listResources(org.id, 'User', { offset: 0, limit: 10 })).total).toBe(1);
      });

      it('a violation on a later key leaves none of the earlier keys taken', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice', { externalId: 'ext-1' }));
        // userName 'bob' is free, externalId 'ext-1' is not: nothing of u2 may stay behind.
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u2', at(2), userWrite('bob', { externalId: 'ext-1' })), 'externalId');
        expect(await store.getResource(org.id, 'User', 'u2')).toBeUndefined();
        const bob = await store.createResource(org.id, 'User', 'u3', at(3), userWrite('bob', { externalId: 'ext-2' }));
        expect(bob.version).toBe(1);
        expect((await store.listResources(org.id, 'User', { offset: 0, limit: 10 })).total).toBe(2);
      });

      it('the same key is allowed in another organization and another resource type', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        const inOther = await store.createResource(other.id, 'User', 'u2', at(2), userWrite('alice'));
        expect(inOther.version).toBe(1);
        const asGroup = await store.createResource(org.id, 'Group', 'g1', at(3), {
          attributes: { schemas: [GROUP_SCHEMA], displayName: 'alice' },
          index: [], uniqueKeys: [{ attribute: 'userName', value: 'alice' }],
        });
        expect(asGroup.version).toBe(1);
        expect(await store.getResource(other.id, 'User', 'u2')).toEqual(inOther);
        expect(await store.getResource(org.id, 'Group', 'g1')).toEqual(asGroup);
      });

      it('after deleting the holder, the value can be reused', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        expect(await store.deleteResource(org.id, 'User', 'u1')).toBe(true);
        const reused = await store.createResource(org.id, 'User', 'u2', at(2), userWrite('alice'));
        expect(reused.id).toBe('u2');
        expect(await store.getResource(org.id, 'User', 'u2')).toEqual(reused);
      });

      it('replace onto a value taken by another resource throws UniquenessViolation and leaves the resource unchanged', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        const bob = await store.createResource(org.id, 'User', 'u2', at(2), userWrite('bob', { extra: { title: 'Builder' } }));
        await expectUniquenessViolation(store.replaceResource(org.id, 'User', 'u2', at(3), userWrite('alice')), 'userName');
        const after = await store.getResource(org.id, 'User', 'u2');
        expect(after).toEqual(bob);
        expect(after?.version).toBe(1);
        expect(after?.attributes).toEqual(bob.attributes);
        // u2 still holds 'bob' and u1 still holds 'alice'.
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u3', at(4), userWrite('bob')), 'userName');
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u4', at(5), userWrite('alice')), 'userName');
      });

      it('replacing a resource keeping its own unique value works', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        const replaced = written(await store.replaceResource(org.id, 'User', 'u1', at(2), userWrite('alice', { extra: { title: 'CTO' } })));
        expect(replaced?.version).toBe(2);
        expect(replaced?.attributes).toMatchObject({ userName: 'alice', title: 'CTO' });
        // ...and the value is still held.
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u2', at(3), userWrite('alice')), 'userName');
      });

      it('a value given up by a replace becomes free', async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice'));
        await store.replaceResource(org.id, 'User', 'u1', at(2), userWrite('alicia'));
        const taker = await store.createResource(org.id, 'User', 'u2', at(3), userWrite('alice'));
        expect(taker.version).toBe(1);
        await expectUniquenessViolation(store.createResource(org.id, 'User', 'u3', at(4), userWrite('alicia')), 'userName');
      });

      it('20 concurrent creates of one value: exactly one fulfils', async () => {
        const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
        const outcomes = await Promise.all(
          ids.map((id, i) =>
            store.createResource(org.id, 'User', id, at(i), userWrite('contested')).then(
              (resource) => ({ ok: true as const, resource }),
              (error: unknown) => ({ ok: false as const, error }),
            ),
          ),
        );
        const winners = outcomes.filter((o) => o.ok);
        const losers = outcomes.filter((o) => !o.ok);
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(19);
        for (const l of losers) expect(l.error).toBeInstanceOf(UniquenessViolation);
        const page = await store.listResources(org.id, 'User', { offset: 0, limit: 100 });
        expect(page.total).toBe(1);
        expect(page.resources.map((r) => r.id)).toEqual(winners.map((w) => w.resource.id));
      });
    });

    describe('membership', () => {
      beforeEach(async () => {
        await store.createResource(org.id, 'User', 'u1', at(1), userWrite('alice', { display: 'Alice' }));
        await store.createResource(org.id, 'User', 'u2', at(2), userWrite('bob', { display: 'Bob' }));
        await store.createResource(org.id, 'User', 'u3', at(3), userWrite('carol', { display: 'Carol' }));
        await store.createResource(org.id, 'User', 'u4', at(4), userWrite('dave', { display: 'Dave' }));
        await store.createResource(other.id, 'User', 'x1', at(5), userWrite('xavier', { display: 'Xavier' }));
      });

      const ref = (value: string, resourceType: string, display: string): ResourceRef => ({ value, resourceType, display });

      it('create stores members; members() returns them in insertion order with value, resourceType and display', async () => {
        const g = await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u2', 'u1', 'u3']));
        expect(g.version).toBe(1);
        expect(await store.members(org.id, 'g1')).toEqual([ref('u2', 'User', 'Bob'), ref('u1', 'User', 'Alice'), ref('u3', 'User', 'Carol')]);
      });

      it('groupsOf answers for many members in one call, each in insertion order', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u2']));
        await store.createResource(org.id, 'Group', 'g2', at(11), groupWrite('Staff', ['u1']));
        const all = await store.groupsOf(org.id, ['u1', 'u2', 'u3']);
        expect(all.get('u1')?.map((r) => r.value)).toEqual(['g1', 'g2']);
        expect(all.get('u2')?.map((r) => r.value)).toEqual(['g1']);
        expect(all.get('u3') ?? []).toEqual([]);
      });

      it('groupsOf(member) returns the group', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u2']));
        await store.createResource(org.id, 'Group', 'g2', at(11), groupWrite('Staff', ['u1']));
        expect(await groupsOf(store, org.id, 'u1')).toEqual([ref('g1', 'Group', 'Admins'), ref('g2', 'Group', 'Staff')]);
        expect(await groupsOf(store, org.id, 'u2')).toEqual([ref('g1', 'Group', 'Admins')]);
        expect(await groupsOf(store, org.id, 'u3')).toEqual([]);
        expect(await groupsOf(store, other.id, 'u1')).toEqual([]);
        expect(await store.members(other.id, 'g1')).toEqual([]);
      });

      it('getResource with its groups reads them as groupsOf does, in one statement; without, none', async () => {
        await store.createResource(org.id, 'Group', 'g2', at(10), groupWrite('Staff', ['u1']));
        await store.createResource(org.id, 'Group', 'g1', at(11), groupWrite('Admins', ['u1', 'u2']));
        // a group without a display (none was written) keeps its ref without one
        const { display: _none, ...noDisplay } = groupWrite('x', ['u1']);
        await store.createResource(org.id, 'Group', 'g3', at(12), noDisplay);
        for (const id of ['u1', 'u2', 'u3']) {
          const read = await store.getResource(org.id, 'User', id, true);
          expect(read?.groups, id).toEqual(await groupsOf(store, org.id, id));
          expect(read, id).toMatchObject({ ...(await store.getResource(org.id, 'User', id)) });
        }
        expect((await store.getResource(org.id, 'User', 'u1', true))?.groups?.map((r) => r.value)).toEqual(['g2', 'g1', 'g3']);
        expect((await store.getResource(org.id, 'User', 'u1'))?.groups).toBeUndefined();
        expect(await store.getResource(other.id, 'User', 'u1', true)).toBeUndefined();
      });

      it('a page in creation order read with its groups has each resource\'s as groupsOf gives them; a sorted page, none', async () => {
        await store.createResource(org.id, 'Group', 'g2', at(10), groupWrite('Staff', ['u1', 'u3']));
        await store.createResource(org.id, 'Group', 'g1', at(11), groupWrite('Admins', ['u1', 'u2']));
        const expected = async (ids: string[]) => Promise.all(ids.map(async (id) => ({ id, groups: await groupsOf(store, org.id, id) })));
        const shown = (page: ResourcePage) => page.resources.map((r) => ({ id: r.id, groups: r.groups }));
        const all = await store.listResources(org.id, 'User', { offset: 0, limit: 10, withGroups: true });
        expect(shown(all)).toEqual(await expected(['u1', 'u2', 'u3', 'u4']));
        expect(shown(all)[0]!.groups?.map((r) => r.value)).toEqual(['g2', 'g1']);
        // a page further on, and one read backwards from a keyset, have theirs too
        expect(shown(await store.listResources(org.id, 'User', { offset: 1, limit: 2, withGroups: true }))).toEqual(await expected(['u2', 'u3']));
        const before = await store.listResources(org.id, 'User', { offset: 0, limit: 2, before: all.keysets[3]!, withGroups: true });
        expect(shown(before)).toEqual(await expected(['u2', 'u3']));
        // without asking, and sorted, none are read
        expect((await store.listResources(org.id, 'User', { offset: 0, limit: 10 })).resources.every((r) => r.groups === undefined)).toBe(true);
        const sort = { target: { key: 'username', source: 'attribute', attribute: 'userName', kind: 'string', caseExact: false, dateTime: false, multiValued: false } as Target, descending: false };
        expect((await store.listResources(org.id, 'User', { offset: 0, limit: 10, sort, withGroups: true })).resources.every((r) => r.groups === undefined)).toBe(true);
      });

      it('a modification asked for groups answers with them, read by its write; not asked, none', async () => {
        await store.createResource(org.id, 'Group', 'g2', at(10), groupWrite('Staff', ['u1', 'u3']));
        await store.createResource(org.id, 'Group', 'g1', at(11), groupWrite('Admins', ['u1', 'u2']));
        const expected = await groupsOf(store, org.id, 'u1');
        expect(expected.map((r) => r.value)).toEqual(['g2', 'g1']);
        const { version } = (await store.getResource(org.id, 'User', 'u1'))!; // each group's creation moved it
        const patch = (n: number, withGroups: boolean) => store.modifyResource(org.id, 'User', 'u1', async () => ({
          kind: 'patch', at: at(n), change: { write: userWrite('alice', { extra: { title: `t${n}` } }), ...(withGroups ? { withGroups } : {}) },
        }));
        expect(await patch(12, true)).toMatchObject({ version: version + 1, attributes: { title: 't12' }, groups: expected });
        expect((await patch(13, false)) as StoredResource).not.toHaveProperty('groups');
        const replaced = await store.modifyResource(org.id, 'User', 'u1', async () => ({ kind: 'replace', at: at(14), write: userWrite('alice'), withGroups: true }));
        expect(replaced).toMatchObject({ version: version + 3, groups: expected });
        // a user in no group: an empty list, not none
        expect(await store.modifyResource(org.id, 'User', 'u4', async () => ({ kind: 'replace', at: at(15), write: userWrite('dave'), withGroups: true }))).toMatchObject({ groups: [] });
      });

      it('display follows the member\'s latest ResourceWrite.display; absent display stays absent', async () => {
        await store.createResource(org.id, 'User', 'u5', at(6), { attributes: { schemas: [USER_SCHEMA], userName: 'eve' }, index: [], uniqueKeys: [] });
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u5']));
        const before = await store.members(org.id, 'g1');
        expect(values(before)).toEqual(['u1', 'u5']);
        expect(before[1]?.display).toBeUndefined();
        await store.replaceResource(org.id, 'User', 'u1', at(11), userWrite('alice', { display: 'Alice Smith' }));
        expect((await store.members(org.id, 'g1'))[0]).toEqual(ref('u1', 'User', 'Alice Smith'));
        await store.replaceResource(org.id, 'Group', 'g1', at(12), groupWrite('Administrators'));
        expect(await groupsOf(store, org.id, 'u1')).toEqual([ref('g1', 'Group', 'Administrators')]);
      });

      it('duplicate ids in one write are stored once', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u2', 'u1', 'u2', 'u1']));
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u1', 'u2']);
        expect(await groupsOf(store, org.id, 'u1')).toHaveLength(1);
        await store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Admins', ['u3', 'u1', 'u3']));
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u1', 'u3']);
        expect(await groupsOf(store, org.id, 'u3')).toHaveLength(1);
      });

      describe('bad member ids on create throw UnknownMembers listing exactly them and write nothing', () => {
        /** `groups`: the groups that existed before the failed create. */
        async function expectNothingWritten(groups: readonly string[] = []): Promise<void> {
          expect(await store.getResource(org.id, 'Group', 'g1')).toBeUndefined();
          expect(await store.members(org.id, 'g1')).toEqual([]);
          for (const u of ['u1', 'u2', 'u3', 'u4']) expect(await groupsOf(store, org.id, u)).toEqual([]);
          expect(await groupsOf(store, other.id, 'x1')).toEqual([]);
          const listed = await store.listResources(org.id, 'Group', { offset: 0, limit: 100 });
          expect(listed.total).toBe(groups.length);
          expect(listed.resources.map((r) => r.id)).toEqual(groups);
          // The group's unique value was not kept either.
          const later = await store.createResource(org.id, 'Group', 'g9', at(99), groupWrite('Admins', [], { uniqueKeys: true }));
          expect(later.version).toBe(1);
        }

        it('an unknown id', async () => {
          await expectUnknownMembers(
            store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'nope'], { uniqueKeys: true })),
            ['nope'],
          );
          await expectNothingWritten();
        });

        it('an id of another organization', async () => {
          await expectUnknownMembers(
            store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['x1', 'u1'], { uniqueKeys: true })),
            ['x1'],
          );
          await expectNothingWritten();
        });

        it('an id of a disallowed type', async () => {
          await store.createResource(org.id, 'Group', 'g0', at(9), groupWrite('Everyone'));
          await expectUnknownMembers(
            store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'g0'], { allowedTypes: ['User'], uniqueKeys: true })),
            ['g0'],
          );
          expect(await groupsOf(store, org.id, 'g0')).toEqual([]);
          await expectNothingWritten(['g0']);
        });

        it('the group\'s own id', async () => {
          await expectUnknownMembers(
            store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['g1', 'u1'], { uniqueKeys: true })),
            ['g1'],
          );
          await expectNothingWritten();
        });

        it('several bad ids at once are all listed, and only they', async () => {
          await store.createResource(org.id, 'Group', 'g0', at(9), groupWrite('Everyone'));
          await expectUnknownMembers(
            store.createResource(
              org.id, 'Group', 'g1', at(10),
              groupWrite('Admins', ['u1', 'nope', 'x1', 'u2', 'g0', 'g1'], { allowedTypes: ['User'], uniqueKeys: true }),
            ),
            ['nope', 'x1', 'g0', 'g1'],
          );
          expect(await groupsOf(store, org.id, 'g0')).toEqual([]);
          await expectNothingWritten(['g0']);
        });
      });

      describe('bad member ids on replace throw UnknownMembers and leave membership and version unchanged', () => {
        let before: Awaited<ReturnType<Store['getResource']>>;

        beforeEach(async () => {
          await store.createResource(org.id, 'Group', 'g0', at(9), groupWrite('Everyone'));
          before = await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u2', 'u1']));
        });

        async function expectUnchanged(): Promise<void> {
          expect(await store.getResource(org.id, 'Group', 'g1')).toEqual(before);
          expect(values(await store.members(org.id, 'g1'))).toEqual(['u2', 'u1']);
          expect(values(await groupsOf(store, org.id, 'u1'))).toEqual(['g1']);
          expect(values(await groupsOf(store, org.id, 'u2'))).toEqual(['g1']);
          expect(await groupsOf(store, org.id, 'u3')).toEqual([]);
        }

        it('an unknown id', async () => {
          await expectUnknownMembers(store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Renamed', ['u3', 'nope'])), ['nope']);
          await expectUnchanged();
        });

        it('an id of another organization', async () => {
          await expectUnknownMembers(store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Renamed', ['u1', 'x1'])), ['x1']);
          await expectUnchanged();
        });

        it('an id of a disallowed type', async () => {
          await expectUnknownMembers(
            store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Renamed', ['u3', 'g0'], { allowedTypes: ['User'] })),
            ['g0'],
          );
          await expectUnchanged();
        });

        it('the group\'s own id', async () => {
          await expectUnknownMembers(store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Renamed', ['u3', 'g1'])), ['g1']);
          await expectUnchanged();
        });
      });

      it('replace with a new list removes absent members, adds new ones and keeps the existing ones\' order', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u2', 'u3']));
        const replaced = written(await store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Admins', ['u3', 'u4', 'u1'])));
        expect(replaced?.version).toBe(2);
        expect(await store.members(org.id, 'g1')).toEqual([ref('u1', 'User', 'Alice'), ref('u3', 'User', 'Carol'), ref('u4', 'User', 'Dave')]);
        expect(await groupsOf(store, org.id, 'u2')).toEqual([]);
        expect(values(await groupsOf(store, org.id, 'u4'))).toEqual(['g1']);
      });

      it('replace with an empty list removes every member', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u2']));
        await store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Admins', []));
        expect(await store.members(org.id, 'g1')).toEqual([]);
        expect(await groupsOf(store, org.id, 'u1')).toEqual([]);
      });

      it('replace without membership leaves members untouched', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u2', 'u1']));
        const replaced = written(await store.replaceResource(org.id, 'Group', 'g1', at(11), groupWrite('Admins', undefined, { extra: { externalId: 'e' } })));
        expect(replaced?.version).toBe(2);
        expect(replaced?.attributes).toMatchObject({ externalId: 'e' });
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u2', 'u1']);
        expect(values(await groupsOf(store, org.id, 'u1'))).toEqual(['g1']);
      });

      it('deleting a user removes it from every group', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u2']));
        await store.createResource(org.id, 'Group', 'g2', at(11), groupWrite('Staff', ['u1']));
        expect(await store.deleteResource(org.id, 'User', 'u1')).toBe(true);
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u2']);
        expect(await store.members(org.id, 'g2')).toEqual([]);
        expect(await groupsOf(store, org.id, 'u1')).toEqual([]);
        // No stale membership survives: a new resource under the same id is in no group.
        await store.createResource(org.id, 'User', 'u1', at(12), userWrite('alice2', { display: 'Alice II' }));
        expect(values(await store.members(org.id, 'g1'))).toEqual(['u2']);
        expect(await store.members(org.id, 'g2')).toEqual([]);
        expect(await groupsOf(store, org.id, 'u1')).toEqual([]);
      });

      it('deleting a group removes its membership rows', async () => {
        await store.createResource(org.id, 'Group', 'g1', at(10), groupWrite('Admins', ['u1', 'u2']));
        await store.createResource(org.id, 'Group', 'g2', at(11), groupWrite('Staff', ['u1']));
        expect(await store.deleteResource(org.id, 'Group', 'g1')).toBe(true);
        expect(await store.members(org.id, 'g1')).toEqual([]);
        expect(await groupsOf(store, org.id, 'u2')).toEqual([]);
        expect(values(await groupsOf(store, org.id, 'u1'))).toEqual(['g2']);
        // No stale membership survives: a new group under the same id starts empty.
        await store.createResource(org.id, 'Group', 'g1', at(12), groupWrite('Admins again'));
        expect(await store.members(org.id, 'g1')).toEqual([]);
        expect(await groupsOf(store, org.id, 'u2')).toEqual([]);
      });

      it('nested groups: a Group can be a member', async () => {
        await store.createResource(org.id, 'Group', 'inner', at(10), groupWrite('Inner', ['u1']));
        await store.createResource(org.id, 'Group', 'outer', at(11), groupWrite('Outer', ['inner', 'u2']));
        expect(await store.members(org.id, 'outer')).toEqual([ref('inner', 'Group', 'Inner'), ref('u2', 'User', 'Bob')]);
        expect(await groupsOf(store, org.id, 'inner')).toEqual([ref('outer', 'Group', 'Outer')]);
        // groupsOf is direct membership only.
        expect(values(await groupsOf(store, org.id, 'u1'))).toEqual(['inner']);
        // Deleting the inner group removes it from the outer one.
        expect(await store.deleteResource(org.id, 'Group', 'inner')).toBe(true);
        expect(values(await store.members(org.id, 'outer'))).toEqual(['u2']);
      });
    });
  });
}
