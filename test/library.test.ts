/** createScimd: the events feed under concurrent writers, in-process hooks, and the read API, on both stores. */
import { afterEach, describe, expect, it } from 'vitest';
import { createScimd, type Scimd } from '../src/library.js';
import type { CallContext } from '../src/core/scim.js';
import type { LifecycleEvent } from '../src/core/events.js';
import type { Store } from '../src/core/ports.js';
import { openTestStore, STORE_KINDS, storeAvailable } from './helpers.js';
import { createFetchHandler } from '../src/http/fetch.js';
import { EVERY_ORGANIZATION } from '../src/core/admin.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ctxOf = (orgId: string): CallContext => ({ orgId, tokenId: 't', tokenName: 'test', dialect: 'rfc', baseUrl: 'https://scim.example.com/scim/v2' });

describe.each(STORE_KINDS)('createScimd on %s', (kind) => {
  let store: Store | undefined;
  let scimd: Scimd | undefined;
  afterEach(async () => {
    await scimd?.close();
    await store?.close();
    scimd = undefined;
    store = undefined;
  });

  const open = async (options: Omit<Parameters<typeof createScimd>[0], 'store'>) => {
    store = await openTestStore(kind);
    scimd = createScimd({ store, ...options });
    const org = await store.ensureOrganization('acme');
    return { scimd, org, ctx: ctxOf(org.id) };
  };

  it.skipIf(!storeAvailable(kind))('the feed: 4 concurrent writers × 2,000 changes, one reader polling all along reads every event once, in the order each was made', async () => {
    const { scimd, org, ctx } = await open({ feed: true });
    const other = await store!.ensureOrganization('globex');
    const writers = 4;
    const changes = 2000;
    const users = await Promise.all(Array.from({ length: writers }, async (_, w) => (await scimd.scim.create(ctx, 'Users', { schemas: [USER], userName: `writer-${w}`, displayName: 'start' })).resource.id as string));
    await scimd.scim.create(ctxOf(other.id), 'Users', { schemas: [USER], userName: 'elsewhere' }); // another organization's: not in acme's feed
    let writing = true;
    const read: (LifecycleEvent & { cursor: string })[] = [];
    const reader = (async () => {
      let after: string | undefined;
      for (;;) {
        const done = !writing; // read once more after the writers finished: then everything is committed
        const page = await scimd.feed({ orgId: org.id, after, limit: 300 });
        read.push(...page.events);
        after = page.cursor;
        if (done && !page.more) return;
        if (!page.more) await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await Promise.all(users.map(async (id, w) => {
      for (let i = 0; i < changes; i++) await scimd.scim.patch(ctx, 'Users', id, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: `w${w}-${i}` }] });
    }));
    writing = false;
    await reader;

    expect(read.map((e) => e.organization).every((o) => o === org.id)).toBe(true);
    expect(new Set(read.map((e) => e.id)).size).toBe(read.length); // no event twice
    expect(read.filter((e) => e.type === 'user.created')).toHaveLength(writers);
    for (const [w, id] of users.entries()) {
      const values = read.filter((e) => e.resource.id === id && e.type === 'user.updated').map((e) => e.changes[0]?.after);
      expect(values).toEqual(Array.from({ length: changes }, (_, i) => `w${w}-${i}`)); // every change, in its order
    }
    expect(read.map((e) => Number(e.cursor))).toEqual([...read.map((e) => Number(e.cursor))].sort((a, b) => a - b));
  }, 180_000);

  it.skipIf(!storeAvailable(kind))('hooks run after commit with the typed event; a hook that throws is run again', async () => {
    const seen: string[] = [];
    let failures = 1;
    const { scimd, ctx } = await open({
      on: {
        'user.deactivated': (event) => void seen.push(`deactivated ${event.resource.id}`),
        'group.member_added': async (event) => {
          if (failures-- > 0) throw new Error('the application was busy');
          seen.push(`added ${event.member.id}`);
        },
      },
      hookDelivery: { pollMs: 10, backoff: () => 10 },
    });
    const all: string[] = [];
    scimd.onEvent('*', (event) => void all.push(event.type));
    const user = (await scimd.scim.create(ctx, 'Users', { schemas: [USER], userName: 'alice' })).resource.id as string;
    await scimd.scim.create(ctx, 'Groups', { schemas: [GROUP], displayName: 'team', members: [{ value: user }] });
    await scimd.scim.patch(ctx, 'Users', user, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
    await expect.poll(() => seen.slice().sort(), { timeout: 5000 }).toEqual([`added ${user}`, `deactivated ${user}`]);
    await expect.poll(() => all.slice().sort(), { timeout: 5000 }).toEqual(['group.created', 'group.member_added', 'user.created', 'user.deactivated']);
  });

  it.skipIf(!storeAvailable(kind))('the read API: users, groups, a user\'s groups, a group\'s members a page at a time; another organization\'s are not there', async () => {
    const { scimd, org, ctx } = await open({ publicUrl: 'https://app.example.com/scim/v2' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await scimd.scim.create(ctx, 'Users', { schemas: [USER], userName: `user-${i}`, active: i !== 2 })).resource.id as string);
    const team = (await scimd.scim.create(ctx, 'Groups', { schemas: [GROUP], displayName: 'team', members: ids.slice(0, 4).map((value) => ({ value })) })).resource.id as string;
    const other = await store!.ensureOrganization('globex');
    const dir = scimd.directory(org.id);
    expect(await dir.getUser(ids[2]!)).toMatchObject({ userName: 'user-2', active: false, meta: { location: `https://app.example.com/scim/v2/Users/${ids[2]}` } });
    expect((await dir.listUsers({ filter: 'active eq false' })).Resources.map((u) => u.userName)).toEqual(['user-2']);
    expect((await dir.listGroups()).totalResults).toBe(1);
    expect((await dir.getGroup(team, { excludedAttributes: 'members' })).members).toBeUndefined();
    expect((await dir.groupsOf(ids[0]!)).map((g) => g.value)).toEqual([team]);
    expect(await dir.groupsOf(ids[4]!)).toEqual([]);
    const first = await dir.membersOf(team, { count: 3, cursor: '' });
    expect(first.Resources).toHaveLength(3);
    const second = await dir.membersOf(team, { count: 3, cursor: first.nextCursor as string });
    expect([...first.Resources, ...second.Resources].map((u) => u.id).sort()).toEqual(ids.slice(0, 4).sort());
    await expect(dir.membersOf('no-such-group')).rejects.toMatchObject({ status: 404 });
    await expect(scimd.directory(other.id).getUser(ids[0]!)).rejects.toMatchObject({ status: 404 });
  });

  it.skipIf(!storeAvailable(kind))('OAuth: an application mounts scimd.oauth at its root; its clients\' access tokens are taken by scimd.handler', async () => {
    const { scimd } = await open({ publicUrl: 'https://app.example.com' });
    const site = createFetchHandler({ handler: scimd.oauth });
    const scim = createFetchHandler({ handler: scimd.handler, prefix: '/scim/v2' });
    const { token: secret, view } = await scimd.admin.createToken({ tokenName: 'setup' }, EVERY_ORGANIZATION, { organization: 'acme', oauthClient: true, scopes: 'scim:read' });
    const granted = await site(new Request('https://app.example.com/oauth/token', {
      method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: view.id, client_secret: secret }),
    }));
    expect(granted.status).toBe(200);
    const { access_token: token } = (await granted.json()) as { access_token: string };
    const read = await scim(new Request('https://app.example.com/scim/v2/Users', { headers: { authorization: `Bearer ${token}` } }));
    expect(read.status).toBe(200);
    const write = await scim(new Request('https://app.example.com/scim/v2/Users', {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, body: JSON.stringify({ schemas: [USER], userName: 'x' }),
    }));
    expect(write.status).toBe(403);
    expect((await site(new Request('https://app.example.com/oauth/jwks'))).status).toBe(200);
  });

  it.skipIf(!storeAvailable(kind))('refuses hooks and the feed it was not made to keep, rather than losing events', async () => {
    const { scimd } = await open({});
    expect(() => scimd.onEvent('user.deleted', () => undefined)).toThrow(/without hooks/);
    await expect(scimd.feed()).rejects.toThrow(/without the events feed/);
  });
});
