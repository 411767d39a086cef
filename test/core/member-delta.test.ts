/**
 * Member changes to one group, as IdPs send them during a sync (Entra up to 5 at once, a bench 16): each is a delta
 * the store queues with the group's other writes, so many share one commit on SQLite instead of one commit each,
 * and a change planned from the group (a rename, a filter on members) still sees every delta queued before it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createScim, type CallContext } from '../../src/core/scim.js';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { GroupCommit } from '../../src/store/sqlite/group-commit.js';
import { FEED_CHANNEL } from '../../src/core/model.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const patch = (...Operations: object[]) => ({ schemas: [PATCH_OP], Operations });

let store: SqliteStore;
let scim: ReturnType<typeof createScim>;
let ctx: CallContext;
let groupId: string;
let users: string[];

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  const org = await store.ensureOrganization('acme');
  scim = createScim({ store, registry: SchemaRegistry.create(), events: [FEED_CHANNEL] });
  ctx = { orgId: org.id, tokenId: 't', tokenName: 't', dialect: 'rfc', baseUrl: 'https://scim.example.com/scim/v2' };
  users = [];
  for (let i = 0; i < 32; i++) users.push((await scim.create(ctx, 'Users', { schemas: [USER], userName: `u${i}` })).resource.id as string);
  groupId = (await scim.create(ctx, 'Groups', { schemas: [GROUP], displayName: 'g', externalId: 'g-ext' })).resource.id as string;
});
afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
});

const memberIds = async () => (await store.members(ctx.orgId, groupId)).map((m) => m.value).sort();

describe('member changes to one group', () => {
  it('32 concurrent adds (Entra and Okta forms) share commits, and every member is there', async () => {
    const flush = vi.spyOn(GroupCommit.prototype as unknown as { flush: () => void }, 'flush');
    const results = await Promise.all(users.map((id, i) =>
      scim.patch(ctx, 'Groups', groupId, i % 2 ? patch({ op: 'Add', path: 'members', value: [{ value: id }] }) : patch({ op: 'add', path: 'members', value: [{ value: id, display: `u${i}` }] }))));
    expect(results.every((r) => r.noContent)).toBe(true);
    // one commit each would be 32 (each waiting for the one before); queued as deltas they share a few
    expect(flush.mock.calls.length).toBeLessThanOrEqual(4);
    expect(await memberIds()).toEqual([...users].sort());
    // versions: one a change, whatever commit each shared
    expect(new Set(results.map((r) => r.etag)).size).toBe(32);
  });

  it('adds, removes by filter, and a rename racing: no conflict, the rename kept, the members as the order of arrival leaves them', async () => {
    await scim.patch(ctx, 'Groups', groupId, patch({ op: 'add', path: 'members', value: users.slice(0, 8).map((value) => ({ value })) }));
    const work = [
      ...users.slice(8, 24).map((id) => scim.patch(ctx, 'Groups', groupId, patch({ op: 'add', path: 'members', value: [{ value: id }] }))),
      scim.patch(ctx, 'Groups', groupId, patch({ op: 'replace', path: 'displayName', value: 'renamed' })),
      ...users.slice(0, 4).map((id) => scim.patch(ctx, 'Groups', groupId, patch({ op: 'remove', path: `members[value eq "${id}"]` }))),
      // a filter the ids alone cannot answer: planned from the members, after the deltas queued before it
      scim.patch(ctx, 'Groups', groupId, patch({ op: 'remove', path: `members[value eq "${users[4]}" or type eq "Nobody"]` })),
    ];
    await Promise.all(work);
    expect(await memberIds()).toEqual(users.slice(5, 24).sort());
    const group = await scim.get(ctx, 'Groups', groupId, { excludedAttributes: 'members' });
    expect(group.resource.displayName).toBe('renamed');
  });

  it('a rename queued behind deltas plans once, from the state they left (it waits for their commit, not a retry)', async () => {
    const reads = vi.spyOn(store, 'getResource');
    const adds = users.slice(0, 16).map((id) => scim.patch(ctx, 'Groups', groupId, patch({ op: 'add', path: 'members', value: [{ value: id }] })));
    await new Promise((resolve) => setImmediate(resolve)); // the adds are queued, not yet committed
    await Promise.all([...adds, scim.patch(ctx, 'Groups', groupId, patch({ op: 'replace', path: 'displayName', value: 'renamed' }))]);
    // each add reads the group once (for its externalId), the rename once: a stale read would plan it twice
    expect(reads).toHaveBeenCalledTimes(17);
    expect(await memberIds()).toEqual(users.slice(0, 16).sort());
  });

  it('a delta records what it changed: the audit entry and one member event per member really added', async () => {
    await Promise.all([users[0], users[0], users[1]].map((id) => scim.patch(ctx, 'Groups', groupId, patch({ op: 'add', path: 'members', value: [{ value: id }] }))));
    const audit = (await store.listAudit({ orgId: ctx.orgId, resourceId: groupId, limit: 10 })).filter((a) => a.operation === 'patch');
    expect(audit.map((a) => a.status)).toEqual([204, 204, 204]);
    const added = (await store.readFeed(ctx.orgId, 0, 1000)).events.map((e) => e.event).filter((e) => e.type === 'group.member_added');
    expect(added.map((e) => [e.member?.id, e.resource.externalId])).toEqual([[users[0], 'g-ext'], [users[1], 'g-ext']]);
  });

  it('without events to name the group in, a delta reads nothing of it, and is audited all the same', async () => {
    const quiet = createScim({ store, registry: SchemaRegistry.create() });
    const reads = vi.spyOn(store, 'getResource');
    const added = await quiet.patch(ctx, 'Groups', groupId, patch({ op: 'add', path: 'members', value: [{ value: users[0] }] }));
    expect(added).toMatchObject({ noContent: true, etag: 'W/"2"' });
    await expect(quiet.patch(ctx, 'Groups', 'no-such-group', patch({ op: 'add', path: 'members', value: [{ value: users[1] }] }))).rejects.toMatchObject({ status: 404 });
    expect(reads).not.toHaveBeenCalled();
    expect(await memberIds()).toEqual([users[0]]);
    const audit = (await store.listAudit({ orgId: ctx.orgId, resourceType: 'Group', limit: 100 })).filter((a) => a.operation === 'patch');
    expect(audit.map((a) => [a.resourceId, a.status])).toEqual([[groupId, 204], ['no-such-group', 404]]);
  });

  it('an unknown member or group is refused as before, and writes nothing', async () => {
    await expect(scim.patch(ctx, 'Groups', groupId, patch({ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }))).rejects.toMatchObject({ status: 400 });
    await expect(scim.patch(ctx, 'Groups', 'no-such-group', patch({ op: 'add', path: 'members', value: [{ value: users[0] }] }))).rejects.toMatchObject({ status: 404 });
    expect(await memberIds()).toEqual([]);
  });
});

describe('member changes in a Bulk request', () => {
  const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
  const bulkPatch = (id: string, body: object, extra: object = {}) => ({ method: 'PATCH', path: `/Groups/${id}`, data: body, ...extra });
  let groups: string[];
  beforeEach(async () => {
    groups = [];
    for (let i = 0; i < 8; i++) groups.push((await scim.create(ctx, 'Groups', { schemas: [GROUP], displayName: `team${i}` })).resource.id as string);
  });
  const membersOf = async (id: string) => (await store.members(ctx.orgId, id)).map((m) => m.value).sort();

  it('PATCHes that only change the members of different groups go at once and share a commit; each answers its version', async () => {
    const flush = vi.spyOn(GroupCommit.prototype as unknown as { flush: () => void }, 'flush');
    const reads = vi.spyOn(store, 'members');
    const planned = vi.spyOn(store, 'modifyResource');
    const response = await scim.bulk(ctx, { schemas: [BULK], Operations: groups.map((id, i) => bulkPatch(id, patch({ op: 'add', path: 'members', value: users.slice(i * 4, i * 4 + 4).map((value) => ({ value })) }))) });
    expect(response.Operations.map((o) => [o.status, o.version])).toEqual(groups.map(() => ['200', 'W/"2"']));
    // one at a time, each would commit before the next began: 8 commits
    expect(flush.mock.calls.length).toBeLessThanOrEqual(2);
    // deltas, though a Bulk operation answers 200: no member read, nothing planned from the group's state
    expect(reads).not.toHaveBeenCalled();
    expect(planned).not.toHaveBeenCalled();
    for (const [i, id] of groups.entries()) expect(await membersOf(id)).toEqual(users.slice(i * 4, i * 4 + 4).sort());
  });

  it('one at a time: a second PATCH of the same group, one with a version, one with other attributes, and under failOnErrors', async () => {
    const add = (from: number, to: number) => patch({ op: 'add', path: 'members', value: users.slice(from, to).map((value) => ({ value })) });
    const flush = vi.spyOn(GroupCommit.prototype as unknown as { flush: () => void }, 'flush');
    const response = await scim.bulk(ctx, {
      schemas: [BULK],
      Operations: [
        bulkPatch(groups[0]!, add(0, 2)),
        bulkPatch(groups[0]!, patch({ op: 'remove', path: `members[value eq "${users[0]}"]` })),
        bulkPatch(groups[1]!, add(2, 4), { version: 'W/"1"' }),
        bulkPatch(groups[2]!, patch({ op: 'replace', path: 'displayName', value: 'renamed' }, { op: 'add', path: 'members', value: [{ value: users[4] }] })),
      ],
    });
    expect(response.Operations.map((o) => o.status)).toEqual(['200', '200', '200', '200']);
    expect(flush.mock.calls.length).toBe(4);
    expect(await membersOf(groups[0]!)).toEqual([users[1]]);
    expect(await membersOf(groups[1]!)).toEqual(users.slice(2, 4).sort());
    // failOnErrors 1: the first failure ends the request; the PATCH after it is neither run nor answered
    const stopped = await scim.bulk(ctx, {
      schemas: [BULK], failOnErrors: 1,
      Operations: [bulkPatch(groups[3]!, patch({ op: 'add', path: 'members', value: [{ value: 'nobody' }] })), bulkPatch(groups[4]!, add(5, 6))],
    });
    expect(stopped.Operations.map((o) => o.status)).toEqual(['400']);
    expect(await membersOf(groups[4]!)).toEqual([]);
  });
});
