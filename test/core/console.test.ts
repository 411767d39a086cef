/** Console sessions end when idle or old, whatever the cookie says; links die by their expiry. */
import { afterEach, expect, it } from 'vitest';
import { createConsole, quickSearch, SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS } from '../../src/core/console.js';
import { parseFilter } from '../../src/core/filter/parser.js';
import { connectionTest, stepPath } from '../../src/core/connection-test.js';
import type { Filter } from '../../src/core/filter/ast.js';
import type { Store } from '../../src/core/ports.js';
import { openTestStore } from '../helpers.js';

let store: Store | undefined;
afterEach(() => store?.close());

function clock() {
  let t = Date.parse('2026-12-01T09:00:00Z');
  return { now: () => new Date(t), advance: (seconds: number) => void (t += seconds * 1000) };
}

it('a session ends after its idle timeout, and after its absolute one however busy it is', async () => {
  store = await openTestStore();
  const c = clock();
  const console = createConsole(store, c);
  const { secret } = await console.signInLink('test', undefined);
  const idle = await console.signIn(secret);
  c.advance(SESSION_IDLE_SECONDS - 5);
  await expect(console.session(idle.session)).resolves.toMatchObject({ scope: { all: true } }); // seen: idle time starts again
  c.advance(SESSION_IDLE_SECONDS - 5);
  await expect(console.session(idle.session)).resolves.toBeDefined();
  c.advance(SESSION_IDLE_SECONDS + 1);
  await expect(console.session(idle.session)).rejects.toMatchObject({ status: 401 });

  const { secret: second } = await console.signInLink('test', undefined);
  const busy = await console.signIn(second);
  for (let t = 0; t < SESSION_ABSOLUTE_SECONDS; t += SESSION_IDLE_SECONDS / 2) {
    await expect(console.session(busy.session)).resolves.toBeDefined();
    c.advance(SESSION_IDLE_SECONDS / 2);
  }
  await expect(console.session(busy.session)).rejects.toMatchObject({ status: 401 });
});

it("a user the application names: that scope, a CSRF token derived from who they are and their session, nothing else", async () => {
  store = await openTestStore();
  const console = createConsole(store);
  const acme = await store.ensureOrganization('acme');
  const ada = await console.authorized({ role: 'org-admin', orgId: acme.id, actor: 'ada@acme.test', session: 's1' });
  expect(ada).toMatchObject({ scope: { orgId: acme.id }, organization: 'acme', actor: 'ada@acme.test' });
  const again = await createConsole(store).authorized({ role: 'org-admin', orgId: acme.id, actor: 'ada@acme.test', session: 's1' });
  expect(again.csrf).toBe(ada.csrf); // on any process, with nothing kept
  const others = [
    { role: 'org-admin', orgId: acme.id, actor: 'ada@acme.test', session: 's2' },
    { role: 'org-admin', orgId: acme.id, actor: 'bob@acme.test', session: 's1' },
    { role: 'operator', actor: 'ada@acme.test', session: 's1' },
  ] as const;
  for (const user of others) expect((await console.authorized(user)).csrf).not.toBe(ada.csrf);
  expect(await console.authorized({ role: 'operator', actor: 'olga' })).toMatchObject({ scope: { all: true } });
  await expect(console.authorized({ role: 'org-admin', orgId: 'gone', actor: 'x' })).rejects.toMatchObject({ status: 403 });
  await expect(console.authorized({ role: 'admin', actor: 'x' } as never)).rejects.toThrow(/unknown role "admin"/);
  await expect(console.authorized({ role: 'operator', actor: ' ' })).rejects.toThrow(/actor/);
});

it('a sign-in link dies at its expiry; the organization of a session is its link\'s', async () => {
  store = await openTestStore();
  const c = clock();
  const console = createConsole(store, c);
  const acme = await store.ensureOrganization('acme');
  const { secret } = await console.signInLink('test', acme, 600);
  c.advance(601);
  await expect(console.signIn(secret)).rejects.toMatchObject({ status: 401 });
  const { secret: fresh } = await console.signInLink('test', acme, 600);
  const session = await console.session((await console.signIn(fresh)).session);
  expect(session).toMatchObject({ scope: { orgId: acme.id }, organization: 'acme' });
  await expect(console.signInLink('test', acme, 5)).rejects.toMatchObject({ status: 400 });
});

it('the plain search box is a filter no input can reshape', () => {
  const leaves = (f: Filter): Filter[] => (f.kind === 'or' || f.kind === 'and' ? [...leaves(f.left), ...leaves(f.right)] : [f]);
  for (const q of ['ada', '" or userName pr or "', 'a\\"b', ' x ']) {
    const compared = leaves(parseFilter(quickSearch('Users', q)));
    expect(compared.map((f) => (f.kind === 'compare' ? [f.op, f.value] : f.kind))).toEqual([['sw', q.trim()], ['sw', q.trim()], ['co', q.trim()]]);
  }
  expect(quickSearch('Groups', 'Eng')).toBe('displayName sw "Eng" or externalId eq "Eng"');
});

it('each IdP\'s connection test accepts only the answers that IdP accepts', () => {
  const [entra] = connectionTest('entra');
  expect(entra!.check(200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0 })).toBe(true);
  expect(entra!.check(200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 1 })).toBe(false); // a probe user found
  expect(entra!.check(401, {})).toBe(false);
  expect(entra!.check(200, { Resources: [] })).toBe(false); // not a ListResponse
  const jumpcloud = connectionTest('jumpcloud');
  expect(jumpcloud[0]!.check(201, { id: 'u1' })).toBe(true);
  expect(jumpcloud[0]!.check(200, { id: 'u1' })).toBe(false);
  expect(stepPath(jumpcloud[2]!, new Map([['user', 'a/b']]))).toBe('/Users/a%2Fb');
  // each test probes with a name of its own, so it never meets a real user
  expect(connectionTest('entra')[0]!.path).not.toBe(entra!.path);
});
