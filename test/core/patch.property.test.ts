/**
 * Properties of PATCH: a random group and a random sequence of member operations give, in the store, the members a
 * plain set model of RFC 7644 §3.5.2 gives; a random user and a random sequence of attribute operations give what a
 * plain model gives, and the attribute index follows (filters find the patched values).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScim, type CallContext } from '../../src/core/scim.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ScimError } from '../../src/core/errors.js';
import { GROUP, USER } from '../helpers.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
let store: SqliteStore;
let scim: ReturnType<typeof createScim>;
let ctx: CallContext;
let users: string[];

beforeAll(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  const org = await store.ensureOrganization('p');
  scim = createScim({ store });
  ctx = { orgId: org.id, tokenId: 't', tokenName: 't', dialect: 'rfc', baseUrl: 'https://x/scim/v2' };
  users = [];
  for (let i = 0; i < 6; i++) users.push((await scim.create(ctx, 'Users', { schemas: [USER], userName: `member${i}` })).resource.id as string);
});
afterAll(() => store.close());

type MemberOp =
  | { kind: 'add'; ids: number[] }
  | { kind: 'removeFilter'; ids: number[] }
  | { kind: 'removeValue'; ids: number[] }
  | { kind: 'replace'; ids: number[] }
  | { kind: 'removeAll' };

const someIds = fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 });
const memberOp: fc.Arbitrary<MemberOp> = fc.oneof(
  someIds.map((ids) => ({ kind: 'add' as const, ids })),
  someIds.map((ids) => ({ kind: 'removeFilter' as const, ids })),
  someIds.map((ids) => ({ kind: 'removeValue' as const, ids })),
  fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }).map((ids) => ({ kind: 'replace' as const, ids })),
  fc.constant({ kind: 'removeAll' as const }),
);

function toOperation(op: MemberOp): object {
  const values = (ids: number[]) => ids.map((i) => ({ value: users[i] }));
  switch (op.kind) {
    case 'add':
      return { op: 'add', path: 'members', value: values(op.ids) };
    case 'removeFilter':
      return { op: 'remove', path: `members[${op.ids.map((i) => `value eq "${users[i]}"`).join(' or ')}]` };
    case 'removeValue':
      return { op: 'Remove', path: 'members', value: values(op.ids) };
    case 'replace':
      return { op: 'replace', path: 'members', value: values(op.ids) };
    case 'removeAll':
      return { op: 'remove', path: 'members' };
  }
}

function model(start: Set<number>, ops: MemberOp[]): Set<number> {
  let m = new Set(start);
  for (const op of ops) {
    if (op.kind === 'add') op.ids.forEach((i) => m.add(i));
    else if (op.kind === 'removeFilter' || op.kind === 'removeValue') op.ids.forEach((i) => m.delete(i));
    else if (op.kind === 'replace') m = new Set(op.ids);
    else m = new Set();
  }
  return m;
}

describe('PATCH of group members ≡ a set model', () => {
  it('holds for 10,000 random groups and operation sequences; the version moves exactly when the members change', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 6 }), fc.array(fc.array(memberOp, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }), async (start, requests) => {
        const created = await scim.create(ctx, 'Groups', { schemas: [GROUP], displayName: 'g', members: start.map((i) => ({ value: users[i] })) });
        const id = created.resource.id as string;
        let expected = new Set(start);
        let version = 1;
        for (const ops of requests) {
          const next = model(expected, ops);
          const r = await scim.patch(ctx, 'Groups', id, { schemas: [PATCH], Operations: ops.map(toOperation) });
          const changed = next.size !== expected.size || [...next].some((i) => !expected.has(i));
          if (changed) version++;
          expect(r.etag).toBe(`W/"${version}"`);
          expected = next;
        }
        const members = await store.members(ctx.orgId, id);
        expect(members.map((m) => m.value).sort()).toEqual([...expected].map((i) => users[i]).sort());
        await scim.delete(ctx, 'Groups', id);
      }),
      { numRuns: 10_000, seed: 4242 },
    );
  }, 600_000);
});

type UserOp =
  | { kind: 'set'; attr: 'title' | 'nickName'; value: string; op: 'add' | 'replace' }
  | { kind: 'unset'; attr: 'title' | 'nickName' }
  | { kind: 'active'; value: boolean | 'True' | 'False' }
  | { kind: 'addEmail'; value: string; type: 'work' | 'home' }
  | { kind: 'removeEmails'; type: 'work' | 'home' }
  | { kind: 'replaceEmailValue'; type: 'work' | 'home'; value: string };

const word = fc.constantFrom('a', 'b', 'Ab', 'c@x', 'é');
const userOp: fc.Arbitrary<UserOp> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), attr: fc.constantFrom('title' as const, 'nickName' as const), value: word, op: fc.constantFrom('add' as const, 'replace' as const) }),
  fc.record({ kind: fc.constant('unset' as const), attr: fc.constantFrom('title' as const, 'nickName' as const) }),
  fc.record({ kind: fc.constant('active' as const), value: fc.constantFrom(true, false, 'True' as const, 'False' as const) }),
  fc.record({ kind: fc.constant('addEmail' as const), value: word, type: fc.constantFrom('work' as const, 'home' as const) }),
  fc.record({ kind: fc.constant('removeEmails' as const), type: fc.constantFrom('work' as const, 'home' as const) }),
  fc.record({ kind: fc.constant('replaceEmailValue' as const), type: fc.constantFrom('work' as const, 'home' as const), value: word }),
);

function userOperation(op: UserOp): object {
  switch (op.kind) {
    case 'set':
      return { op: op.op, path: op.attr, value: op.value };
    case 'unset':
      return { op: 'remove', path: op.attr };
    case 'active':
      return { op: 'Replace', value: { active: op.value } };
    case 'addEmail':
      return { op: 'add', path: 'emails', value: [{ value: op.value, type: op.type }] };
    case 'removeEmails':
      return { op: 'remove', path: `emails[type eq "${op.type}"]` };
    case 'replaceEmailValue':
      return { op: 'replace', path: `emails[type eq "${op.type}"].value`, value: op.value };
  }
}

/** A plain model of §3.5.2 for these shapes; undefined means the request must fail (noTarget) and change nothing. */
function applyUser(state: Record<string, any>, ops: UserOp[]): Record<string, any> | undefined {
  const s = structuredClone(state);
  for (const op of ops) {
    if (op.kind === 'set') s[op.attr] = op.value;
    else if (op.kind === 'unset') delete s[op.attr];
    else if (op.kind === 'active') s.active = op.value === true || op.value === 'True';
    else if (op.kind === 'addEmail') {
      const emails = s.emails ?? [];
      if (!emails.some((e: any) => e.value === op.value && e.type === op.type)) emails.push({ value: op.value, type: op.type });
      s.emails = emails;
    } else if (op.kind === 'removeEmails') {
      s.emails = (s.emails ?? []).filter((e: any) => e.type !== op.type);
      if (s.emails.length === 0) delete s.emails;
    } else {
      const matched = (s.emails ?? []).filter((e: any) => e.type === op.type);
      if (matched.length === 0) return undefined;
      for (const e of matched) e.value = op.value;
    }
  }
  return s;
}

describe('PATCH of user attributes ≡ a plain model, with the index following', () => {
  it('holds for 2,000 random users and operation sequences', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(userOp, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }), async (requests) => {
        const userName = `u${n++}`;
        const id = (await scim.create(ctx, 'Users', { schemas: [USER], userName })).resource.id as string;
        let state: Record<string, any> = { userName };
        for (const ops of requests) {
          const next = applyUser(state, ops);
          const before = await scim.get(ctx, 'Users', id);
          try {
            await scim.patch(ctx, 'Users', id, { schemas: [PATCH], Operations: ops.map(userOperation) });
            expect(next, JSON.stringify(ops)).toBeDefined();
            state = next!;
          } catch (e) {
            expect(e).toBeInstanceOf(ScimError);
            expect((e as ScimError).scimType).toBe('noTarget');
            expect(next).toBeUndefined();
            expect((await scim.get(ctx, 'Users', id)).resource).toEqual(before.resource); // atomic: nothing changed
          }
        }
        const got = (await scim.get(ctx, 'Users', id)).resource;
        const { schemas: _s, id: _i, meta: _m, ...attributes } = got;
        expect(attributes).toEqual(state);
        for (const email of state.emails ?? []) {
          const found = await scim.list(ctx, 'Users', { filter: `emails[type eq "${email.type}" and value eq ${JSON.stringify(email.value)}] and userName eq "${userName}"` });
          expect(found.totalResults).toBe(1);
        }
        if (state.title !== undefined) expect((await scim.list(ctx, 'Users', { filter: `title eq ${JSON.stringify(state.title)} and userName eq "${userName}"` })).totalResults).toBe(1);
        else expect((await scim.list(ctx, 'Users', { filter: `title pr and userName eq "${userName}"` })).totalResults).toBe(0);
      }),
      { numRuns: 2_000, seed: 777 },
    );
  }, 600_000);
});
