/**
 * The plan: the least changes that make the target hold what the source says. Creates, updates of only the
 * attributes that differ, missing users deactivated only when provisioned, unchanged counted; members added and
 * removed one by one (never a list replaced); and, for any source and target, carrying the plan out and planning
 * again gives nothing to do.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plan, SyncInputError, type Change, type Desired, type DesiredUser, type TargetResource, type TargetState } from '../../src/sync/index.js';
import { laterSteps, userSteps } from '../../src/sync/apply.js';
import { resolved } from '../../src/core/bulk.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const wanted = (key: string, extra: Record<string, unknown> = {}, more: Partial<DesiredUser> = {}): DesiredUser =>
  ({ key, attributes: { schemas: [USER], externalId: key, userName: `${key}@x`, active: true, ...extra }, cleared: [], ...more });
const held = (id: string, key: string | undefined, extra: Record<string, unknown> = {}): TargetResource =>
  ({ id, schemas: [USER], ...(key !== undefined ? { externalId: key } : {}), userName: `${key ?? id}@x`, active: true, meta: { version: 'W/"1"' }, ...extra });

describe('plan', () => {
  it('creates, updates only what differs, deactivates the provisioned users that left, and counts the rest unchanged', () => {
    const desired: Desired = {
      users: [
        wanted('E1', { title: 'CEO', name: { givenName: 'Ann' }, emails: [{ value: 'a@x', type: 'work' }] }),
        wanted('E2', { title: 'Lead', name: { givenName: 'Bob', familyName: 'Ray' }, [ENT]: { department: 'Eng' } }, { cleared: ['nickName', 'displayName'] }),
        wanted('E3'),
      ],
    };
    const target: TargetState = {
      users: [
        // a server adds sub-attributes (primary, display): not a difference
        held('1', 'E1', { title: 'CEO', name: { givenName: 'Ann', formatted: 'Ann' }, emails: [{ value: 'a@x', type: 'work', primary: true }] }),
        held('2', 'E2', { title: 'Engineer', name: { givenName: 'Bob', familyName: 'Ray' }, nickName: 'bobby', [ENT]: { department: 'Eng', costCenter: 'C' } }),
        held('4', 'E4'),
        held('5', 'E5', { active: false }),
        held('6', undefined), // made by hand: never touched
      ],
      groups: [],
    };
    const p = plan(desired, target);
    expect(p.changes).toEqual([
      { action: 'update', type: 'User', key: 'E2', id: '2', operations: [{ op: 'replace', path: 'title', value: 'Lead' }, { op: 'remove', path: 'nickName' }], attributes: ['title', 'nickName'] },
      { action: 'create', type: 'User', key: 'E3', body: wanted('E3').attributes },
      { action: 'deactivate', type: 'User', key: 'E4', id: '4', operations: [{ op: 'replace', path: 'active', value: false }], attributes: ['active'] },
    ]);
    expect(p.unchanged).toEqual({ users: 2, groups: 0 });
    expect(plan(desired, target, { onMissing: 'delete' }).changes.filter((c) => c.action === 'delete').map((c) => c.id)).toEqual(['4', '5']);
    expect(plan(desired, target, { onMissing: 'keep' }).changes.map((c) => c.action)).toEqual(['update', 'create']);
  });

  it('sets a manager by id, or after the run creates them; an unknown one is a warning, not a change', () => {
    const desired: Desired = { users: [wanted('E1'), wanted('E2', {}, { manager: 'E1' }), wanted('E3', {}, { manager: 'E9' }), wanted('E4', {}, { manager: 'E5' }), wanted('E5')] };
    const target: TargetState = { users: [held('1', 'E1'), held('3', 'E3'), held('4', 'E4')], groups: [] };
    const p = plan(desired, target);
    expect(p.changes).toEqual([
      { action: 'create', type: 'User', key: 'E2', body: { ...wanted('E2').attributes, [ENT]: { manager: { value: '1' } } } },
      { action: 'update', type: 'User', key: 'E4', id: '4', operations: [], attributes: [`${ENT}:manager`], manager: 'E5' },
      { action: 'create', type: 'User', key: 'E5', body: wanted('E5').attributes },
    ]);
    expect(p.warnings).toEqual(['user E3: manager "E9" is neither in the source nor on the target; the manager is left as it is']);
  });

  it('changes group membership by the members that differ: provisioned users only, never the whole list', () => {
    const desired: Desired = {
      users: [wanted('E1'), wanted('E2'), wanted('E3')],
      groups: [{ key: 'All', displayName: 'All', members: ['E1', 'E3', 'E7'] }, { key: 'New', displayName: 'New', members: ['E2', 'E3'] }, { key: 'Same', displayName: 'Same', members: ['E1'] }],
    };
    const target: TargetState = {
      users: [held('1', 'E1'), held('2', 'E2'), held('4', 'E4'), held('9', undefined)],
      groups: [
        // E1 stays, E2 and E4 (provisioned) leave, the hand-made user 9 and a nested group stay; E3 is created and joins
        { id: 'g1', externalId: 'All', displayName: 'All', members: [{ value: '1' }, { value: '2' }, { value: '4' }, { value: '9' }, { value: 'g3', type: 'Group' }] },
        { id: 'g2', externalId: 'Same', displayName: 'Same', members: [{ value: '1' }] },
        { id: 'g3', displayName: 'Hand-made' },
        { id: 'g4', externalId: 'Gone', displayName: 'Gone', members: [{ value: '1' }] },
      ],
    };
    const p = plan(desired, target);
    const groups = p.changes.filter((c) => c.type === 'Group');
    expect(groups).toEqual([
      { action: 'update', type: 'Group', key: 'All', id: 'g1', operations: [], attributes: ['members'], addMembers: [{ key: 'E3' }], removeMembers: ['2', '4'] },
      { action: 'create', type: 'Group', key: 'New', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], externalId: 'New', displayName: 'New' }, addMembers: [{ key: 'E2', id: '2' }, { key: 'E3' }] },
    ]);
    expect(p.unchanged.groups).toBe(2); // Same, and Gone (a group has no "active")
    expect(p.warnings).toEqual(['group All: member "E7" is neither in the source nor on the target; not added']);
    expect(plan(desired, target, { onMissing: 'delete' }).changes.filter((c) => c.action === 'delete').map((c) => c.id)).toEqual(['4', 'g4']);
    // the requests: one add of the new member, one remove a member by a value filter
    const steps = laterSteps(p, (key) => (key === 'E3' ? '3' : undefined));
    expect(steps.map((s) => [s.op.method, s.op.path, (s.op.data as { Operations?: unknown[] }).Operations ?? (s.op.data as { members?: unknown }).members])).toEqual([
      ['POST', '/Groups', [{ value: '2' }, { value: '3' }]],
      ['PATCH', '/Groups/g1', [{ op: 'add', path: 'members', value: [{ value: '3' }] }]],
      ['PATCH', '/Groups/g1', [{ op: 'remove', path: 'members[value eq "2"]' }, { op: 'remove', path: 'members[value eq "4"]' }]],
    ]);
  });

  it('creates the new groups before any PATCH adds their further members: one run of POSTs for a Bulk server', () => {
    const users = Array.from({ length: 1200 }, (_, i) => wanted(`E${i}`));
    const keys = users.map((u) => u.key);
    const p = plan({ users, groups: [{ key: 'A', displayName: 'A', members: keys }, { key: 'B', displayName: 'B', members: keys }] }, { users: [], groups: [] });
    const steps = laterSteps(p, (key) => `id-${key}`);
    // 1,200 members: 500 in each POST, then two PATCHes of 500 and 200 each
    expect(steps.map((s) => `${s.op.method} ${s.op.path}`)).toEqual([
      'POST /Groups', 'POST /Groups',
      'PATCH /Groups/bulkId:group0', 'PATCH /Groups/bulkId:group0', 'PATCH /Groups/bulkId:group1', 'PATCH /Groups/bulkId:group1',
    ]);
    expect(steps.map((s) => s.op.bulkId)).toEqual(['group0', 'group1', undefined, undefined, undefined, undefined]);
  });

  it('refuses a source that would deactivate everything, or names a key twice; a key the target holds twice is a conflict', () => {
    const target: TargetState = { users: [held('1', 'E1'), held('2', 'E2'), held('3', 'E2')], groups: [] };
    expect(() => plan({ users: [] }, target)).toThrow(SyncInputError);
    expect(plan({ users: [] }, target, { allowEmpty: true }).changes.map((c) => c.key)).toEqual(['E1']);
    expect(plan({ users: [] }, target, { onMissing: 'keep' }).changes).toEqual([]);
    expect(() => plan({ users: [wanted('E1'), wanted('E1')] }, target)).toThrow(/E1/);
    const p = plan({ users: [wanted('E1'), wanted('E2', { title: 'x' })] }, target);
    expect(p.changes).toEqual([]);
    expect(p.conflicts).toEqual([{ type: 'User', key: 'E2', detail: 'more than one user of the target has externalId "E2"; neither is touched' }]);
  });

  it('matches by userName in any case when asked', () => {
    const p = plan({ users: [{ key: 'ann@x', attributes: { schemas: [USER], userName: 'Ann@X', title: 't' }, cleared: [] }] }, { users: [{ id: '1', userName: 'ann@X', title: 't' }], groups: [] }, { match: 'userName' });
    expect(p.changes).toEqual([]);
    expect(p.unchanged.users).toBe(1);
  });
});

/** The target after a plan is carried out, as a server would hold it (each request as scimd applies it). */
function carryOut(target: TargetState, p: ReturnType<typeof plan>): TargetState {
  const users = new Map(target.users.map((u) => [u.id, structuredClone(u) as Record<string, unknown> & TargetResource]));
  const groups = new Map(target.groups.map((g) => [g.id, structuredClone(g) as Record<string, unknown> & TargetResource]));
  let next = 0;
  const created = new Map<string, string>();
  const set = (doc: Record<string, unknown>, path: string, value: unknown) => {
    if (path.startsWith('urn:')) {
      const at = path.lastIndexOf(':');
      const ext = { ...(doc[path.slice(0, at)] as object | undefined) } as Record<string, unknown>;
      if (value === undefined) delete ext[path.slice(at + 1)];
      else ext[path.slice(at + 1)] = value;
      doc[path.slice(0, at)] = ext;
      return;
    }
    const [name, sub] = path.split('.') as [string, string | undefined];
    if (sub === undefined) {
      if (value === undefined) delete doc[name];
      else doc[name] = value;
      return;
    }
    const complex = { ...(doc[name] as object | undefined) } as Record<string, unknown>;
    if (value === undefined) delete complex[sub];
    else complex[sub] = value;
    doc[name] = complex;
  };
  const byBulkId = new Map<string, string>();
  const run = (steps: ReturnType<typeof userSteps>['steps']) => {
    for (const { change, op } of steps) {
      const store = change.type === 'User' ? users : groups;
      // a manager named by the bulkId of a POST before it
      const data = resolved(op.data, byBulkId) as Record<string, unknown> & { Operations?: { op: string; path: string; value?: unknown }[] };
      if (op.method === 'POST') {
        const id = `new${next++}`;
        store.set(id, { ...structuredClone(data), id } as never);
        if (change.type === 'User') created.set(change.key, id);
        if (op.bulkId !== undefined) byBulkId.set(op.bulkId, id);
        continue;
      }
      const last = op.path.split('/')[2]!;
      const id = last.startsWith('bulkId:') ? byBulkId.get(last.slice(7))! : decodeURIComponent(last);
      if (op.method === 'DELETE') {
        store.delete(id);
        continue;
      }
      const doc = store.get(id)!;
      for (const o of data.Operations!) {
        if (o.path === 'members' && o.op === 'add') doc.members = [...((doc.members as unknown[]) ?? []), ...(o.value as unknown[])];
        else if (o.path.startsWith('members[')) {
          const gone = JSON.parse(o.path.slice('members[value eq '.length, -1)) as string;
          doc.members = (doc.members as { value: string }[]).filter((m) => m.value !== gone);
        } else {
          expect(o.path).not.toBe('members');
          set(doc, o.path, o.op === 'remove' ? undefined : structuredClone(o.value));
        }
      }
    }
  };
  const { steps, inlined } = userSteps(p);
  run(steps);
  run(laterSteps(p, (key) => created.get(key), inlined));
  return { users: [...users.values()], groups: [...groups.values()] };
}

const keys = fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5');
const text = fc.constantFrom('a', 'b', 'c');
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const attributes = fc.record({
  title: maybe(text),
  name: maybe(fc.record({ givenName: text, familyName: maybe(text) }, { requiredKeys: ['givenName'] })),
  emails: maybe(fc.uniqueArray(fc.record({ value: text, type: fc.constantFrom('work', 'home') }), { selector: (e) => e.type, minLength: 1, maxLength: 2 })),
  active: fc.boolean(),
  [ENT]: maybe(fc.record({ department: text })),
});
const strip = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const desiredArb: fc.Arbitrary<Desired> = fc.record({
  users: fc.uniqueArray(fc.record({ key: keys, attrs: attributes, manager: maybe(keys), cleared: fc.subarray(['nickName', 'title', `${ENT}:costCenter`]) }), { selector: (u) => u.key, minLength: 1 })
    .map((us) => us.map((u): DesiredUser => {
      const attrs = strip({ schemas: [USER], externalId: u.key, userName: `${u.key}@x`, ...u.attrs });
      return { key: u.key, attributes: attrs, cleared: u.cleared.filter((c) => !(c in attrs)), ...(u.manager !== undefined ? { manager: u.manager } : {}) };
    })),
  groups: maybe(fc.uniqueArray(fc.record({ key: fc.constantFrom('g0', 'g1', 'g2'), members: fc.subarray(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']) }), { selector: (g) => g.key })
    .map((gs) => gs.map((g) => ({ key: g.key, displayName: `G ${g.key}`, members: g.members })))),
}).map((d) => strip(d) as unknown as Desired);

const targetArb: fc.Arbitrary<TargetState> = fc.record({
  users: fc.uniqueArray(fc.record({ key: maybe(keys), attrs: attributes, nickName: maybe(text), id: fc.integer({ min: 0, max: 99 }) }), { selector: (u) => u.key ?? `none${u.id}` }),
  groups: fc.uniqueArray(fc.record({ key: maybe(fc.constantFrom('g0', 'g1', 'g3')), name: text, members: fc.subarray(['u0', 'u1', 'u2', 'u3']) }), { selector: (g) => g.key ?? g.name }),
}).map(({ users, groups }) => ({
  users: users.map((u, i) => strip({ id: `u${i}`, schemas: [USER], externalId: u.key, userName: `${u.key ?? i}@x`, nickName: u.nickName, ...u.attrs }) as TargetResource),
  groups: groups.map((g, i) => strip({ id: `g${i}`, externalId: g.key, displayName: g.name, members: g.members.filter((m) => Number(m.slice(1)) < users.length).map((value) => ({ value })) }) as TargetResource),
}));

describe('plan (properties)', () => {
  it('carried out, leaves nothing to do: a second run changes nothing', () => {
    fc.assert(fc.property(desiredArb, targetArb, fc.constantFrom('deactivate' as const, 'delete' as const, 'keep' as const), (desired, target, onMissing) => {
      const first = plan(desired, target, { onMissing, allowEmpty: true });
      const second = plan(desired, carryOut(target, first), { onMissing, allowEmpty: true });
      expect(second.changes).toEqual([]);
    }), { numRuns: 300 });
  });

  it('never touches a resource without externalId, and only removes members that are provisioned users', () => {
    fc.assert(fc.property(desiredArb, targetArb, (desired, target) => {
      const provisioned = new Set(target.users.filter((u) => u.externalId !== undefined).map((u) => u.id));
      const unmanaged = new Set([...target.users, ...target.groups].filter((r) => r.externalId === undefined).map((r) => r.id));
      for (const c of plan(desired, target, { onMissing: 'delete', allowEmpty: true }).changes as Change[]) {
        if (c.id !== undefined) expect(unmanaged.has(c.id)).toBe(false);
        for (const id of c.removeMembers ?? []) expect(provisioned.has(id)).toBe(true);
      }
    }), { numRuns: 300 });
  });
});
