/**
 * Faults (issue #8): a server killed with SIGKILL in the middle of a sustained write load, then restarted on the same
 * database, has every write it acknowledged and nothing half-applied (SQLite WAL with synchronous=FULL; each write
 * one transaction with its index rows, unique values and memberships).
 */
import { expect, it } from 'vitest';
import { group, user, testDatabase } from '../helpers.js';
import { serveProcess, type ServerProcess } from '../process.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

it('SIGKILL during a sustained write load loses no acknowledged write and leaves nothing half-applied', async () => {
  const db = await testDatabase('crash');
  const token = 'crash-token';
  let server: ServerProcess = await serveProcess(db, token);
  const groupId = (await server.request('POST', '/Groups', group('everyone'))).body.id as string;
  const users = new Map<string, string>(); // acknowledged creates: userName → id
  const members = new Set<string>(); // acknowledged member adds
  const titled = new Set<string>(); // acknowledged PATCHes of title
  let killed = false;

  // each worker: create a user, add them to the group, change their title; until the server is gone
  const worker = async (w: number) => {
    for (let i = 0; i < 100_000 && !killed; i++) {
      try {
        const created = await server.request('POST', '/Users', user(`w${w}-${i}`, { title: 'before' }));
        expect(created.status).toBe(201);
        const id = created.body.id as string;
        users.set(`w${w}-${i}`, id);
        if ((await server.request('PATCH', `/Groups/${groupId}?excludedAttributes=members`, patch({ op: 'add', path: 'members', value: [{ value: id }] }))).status === 200) {
          members.add(id);
        }
        if ((await server.request('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'after' }))).status === 200) titled.add(id);
      } catch (e) {
        if (killed) return; // the connection died with the server
        throw e;
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, 1500));
  killed = true;
  server.child.kill('SIGKILL');
  await Promise.all(workers);
  expect(users.size).toBeGreaterThan(20); // the load was really running when the server died

  server = await serveProcess(db, token);
  try {
    // every acknowledged write is there
    for (const [userName, id] of users) {
      const got = await server.request('GET', `/Users/${id}`);
      expect([got.status, got.body.userName]).toEqual([200, userName]);
      if (titled.has(id)) expect(got.body.title).toBe('after');
    }
    const g = (await server.request('GET', `/Groups/${groupId}`)).body;
    const present = new Set<string>((g.members ?? []).map((m: { value: string }) => m.value));
    for (const id of members) expect(present.has(id)).toBe(true);

    // nothing half-applied: every stored user is found by its index entries and holds its unique value once,
    // and every member the group has is a stored user
    const listed: { id: string; userName: string }[] = [];
    for (let start = 1; ; start += 1000) {
      const page = (await server.request('GET', `/Users?startIndex=${start}&count=1000&attributes=userName`)).body;
      listed.push(...page.Resources);
      if (listed.length >= page.totalResults) break;
    }
    expect(listed.length).toBeGreaterThanOrEqual(users.size);
    for (const u of listed) {
      const found = (await server.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${u.userName}"`)}&attributes=id`)).body;
      expect(found.Resources.map((r: { id: string }) => r.id)).toEqual([u.id]);
    }
    const stored = new Set(listed.map((u) => u.id));
    for (const id of present) expect(stored.has(id)).toBe(true);
    // and the server takes writes again
    expect((await server.request('POST', '/Users', user('after-restart'))).status).toBe(201);
  } finally {
    server.child.kill('SIGKILL');
  }
}, 120_000);
