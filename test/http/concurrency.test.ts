/**
 * Concurrency (issues #5, #6, #21): uniqueness, If-Match and membership hold when requests race, because the database
 * enforces them inside each write; writers of one resource queue rather than fail; cursors carry no node state. Run in one process, and across three `scimd serve`
 * processes sharing one database: a SQLite file, or (Vitest project `postgres`) one PostgreSQL database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { group, testServer, user, testDatabase } from '../helpers.js';
import { serveProcess } from '../process.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type Send = (i: number, method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any }>;

function tally(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

/** The races, against any way of sending requests; `i` picks the server where there are several. */
function races(name: string, open: () => Promise<{ send: Send; close: () => Promise<void> }>) {
  describe(name, () => {
    let send: Send;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ send, close } = await open());
    });
    afterAll(() => close());

    it('200 concurrent creates of one userName (in varying case): exactly one 201, the rest 409 uniqueness', async () => {
      const name = `racer-${Math.random().toString(36).slice(2)}`;
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => send(i, 'POST', '/Users', user(i % 2 ? name : name.toUpperCase()))));
      expect(tally(results.map((r) => r.status))).toEqual({ 201: 1, 409: 199 });
      expect(results.filter((r) => r.status === 409).every((r) => r.body.scimType === 'uniqueness')).toBe(true);
      const found = await send(0, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`);
      expect(found.body.totalResults).toBe(1);
    });

    it('50 concurrent If-Match PATCHes from the same version: exactly one succeeds, 49 are 412', async () => {
      const created = (await send(0, 'POST', '/Users', user(`etag-${Math.random().toString(36).slice(2)}`))).body;
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
        send(i, 'PATCH', `/Users/${created.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: `writer ${i}` }] }, { 'if-match': created.meta.version }),
      ));
      expect(tally(results.map((r) => r.status))).toEqual({ 200: 1, 412: 49 });
      const winner = results.find((r) => r.status === 200)!.body;
      const now = (await send(1, 'GET', `/Users/${created.id}`)).body;
      expect([now.title, now.meta.version]).toEqual([winner.title, 'W/"2"']);
    });

    it('50 concurrent single-member adds to one group: all 50 are members after', async () => {
      const users = await Promise.all(Array.from({ length: 50 }, async (_, i) => (await send(i, 'POST', '/Users', user(`m-${i}-${Math.random().toString(36).slice(2)}`))).body.id as string));
      const g = (await send(0, 'POST', '/Groups', group(`g-${Math.random().toString(36).slice(2)}`))).body;
      const results = await Promise.all(users.map((id, i) =>
        send(i, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] }),
      ));
      // a group's PATCH answers 204 (its representation would carry every member)
      expect(results.every((r) => r.status === 204)).toBe(true);
      const members = (await send(1, 'GET', `/Groups/${g.id}`)).body.members.map((m: { value: string }) => m.value);
      expect(new Set(members)).toEqual(new Set(users));
      expect((await send(0, 'GET', `/Groups/${g.id}`)).body.meta.version).toBe('W/"51"');
    });

    it('25 concurrent removes and 25 concurrent adds on one group: exactly the expected members after', async () => {
      const make = (tag: string) => Promise.all(Array.from({ length: 25 }, async (_, i) => (await send(i, 'POST', '/Users', user(`${tag}-${i}-${Math.random().toString(36).slice(2)}`))).body.id as string));
      const [stay, leave, join] = await Promise.all([make('stay'), make('leave'), make('join')]);
      const g = (await send(0, 'POST', '/Groups', group(`mix-${Math.random().toString(36).slice(2)}`, [...stay, ...leave]))).body;
      const op = (o: 'add' | 'remove', id: string) =>
        o === 'add' ? { op: 'add', path: 'members', value: [{ value: id }] } : { op: 'remove', path: `members[value eq "${id}"]` };
      const changes = [...leave.map((id) => op('remove', id)), ...join.map((id) => op('add', id))];
      const results = await Promise.all(changes.map((o, i) => send(i, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [o] })));
      expect(results.every((r) => r.status === 204)).toBe(true);
      const members = (await send(2, 'GET', `/Groups/${g.id}`)).body.members.map((m: { value: string }) => m.value);
      expect(new Set(members)).toEqual(new Set([...stay, ...join]));
    });

    // Writers on one resource queue instead of failing (issue 21): none is answered 409 without If-Match, none loses
    // another's change, and each 2xx answer shows the state its own request left.
    const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

    it('16 writers adding distinct emails to one user, 5 each: no 409, every email there, each answer shows its own', async () => {
      const u = (await send(0, 'POST', '/Users', user(`emails-${Math.random().toString(36).slice(2)}`))).body;
      const email = (w: number, k: number) => `w${w}-${k}@example.com`;
      const results = await Promise.all(Array.from({ length: 16 }, async (_, w) => {
        const answers = [];
        for (let k = 0; k < 5; k++) answers.push({ k, r: await send(w, 'PATCH', `/Users/${u.id}`, patch({ op: 'add', path: 'emails', value: [{ value: email(w, k) }] })) });
        return answers.map(({ k, r }) => ({ w, k, r }));
      }));
      const all = results.flat();
      expect(tally(all.map((a) => a.r.status))).toEqual({ 200: 80 });
      expect(all.every(({ w, k, r }) => r.body.emails.some((e: { value: string }) => e.value === email(w, k)))).toBe(true);
      const after = (await send(1, 'GET', `/Users/${u.id}`)).body;
      expect(new Set(after.emails.map((e: { value: string }) => e.value))).toEqual(new Set(all.map(({ w, k }) => email(w, k))));
      expect(after.meta.version).toBe('W/"81"');
    });

    it('PUTs and PATCHes racing on one user (8 + 8, 3 rounds), and active true/false: no 409, each answer its own', async () => {
      const name = `racing-${Math.random().toString(36).slice(2)}`;
      const u = (await send(0, 'POST', '/Users', user(name))).body;
      const results = await Promise.all(Array.from({ length: 16 }, async (_, w) => {
        const answers = [];
        for (let round = 0; round < 3; round++) {
          const title = `w${w}-r${round}`;
          const r = w % 2
            ? await send(w, 'PUT', `/Users/${u.id}`, user(name, { title, active: round % 2 === 0 }))
            : await send(w, 'PATCH', `/Users/${u.id}`, patch({ op: 'replace', path: 'title', value: title }, { op: 'replace', value: { active: round % 2 === 0 } }));
          answers.push({ title, active: round % 2 === 0, r });
        }
        return answers;
      }));
      const all = results.flat();
      expect(tally(all.map((a) => a.r.status))).toEqual({ 200: 48 });
      expect(all.filter((a) => a.r.body.title !== a.title || a.r.body.active !== a.active).map((a) => a.title)).toEqual([]);
      // one version each, and no two answers claim the same
      expect(new Set(all.map((a) => a.r.body.meta.version)).size).toBe(48);
    });

    it('16 writers on one group: member adds and removes and renames, no 409, each answer its own', async () => {
      const members = await Promise.all(Array.from({ length: 16 }, async (_, i) => (await send(i, 'POST', '/Users', user(`gm-${i}-${Math.random().toString(36).slice(2)}`))).body.id as string));
      const g = (await send(0, 'POST', '/Groups', group(`busy-${Math.random().toString(36).slice(2)}`))).body;
      // asking for attributes has a group's PATCH answer with the group (else 204)
      const at = `/Groups/${g.id}?attributes=displayName,members`;
      const results = await Promise.all(members.map(async (id, w) => {
        const answers = [];
        for (let round = 0; round < 3; round++) {
          const name = `busy-w${w}-r${round}`;
          answers.push({ check: 'add', id, r: await send(w, 'PATCH', at, patch({ op: 'add', path: 'members', value: [{ value: id }] })) });
          answers.push({ check: 'rename', name, r: await send(w, 'PATCH', at, patch({ op: 'replace', path: 'displayName', value: name })) });
          if (round < 2) answers.push({ check: 'remove', id, r: await send(w, 'PATCH', at, patch({ op: 'remove', path: `members[value eq "${id}"]` })) });
        }
        return answers;
      }));
      const all = results.flat();
      expect(tally(all.map((a) => a.r.status))).toEqual({ 200: 16 * 8 });
      const own = (a: (typeof all)[number]) => {
        const body = a.r.body;
        if (a.check === 'rename') return body.displayName === a.name;
        const has = (body.members ?? []).some((m: { value: string }) => m.value === a.id);
        return a.check === 'add' ? has : !has;
      };
      expect(all.filter((a) => !own(a)).length).toBe(0);
      const after = (await send(1, 'GET', `/Groups/${g.id}`)).body;
      expect(new Set(after.members.map((m: { value: string }) => m.value))).toEqual(new Set(members));
    });

    it('a cursor page from one server is continued on the others, and the pages hold every user once', async () => {
      const tag = `cur${Math.random().toString(36).slice(2, 8)}`;
      const ids = await Promise.all(Array.from({ length: 23 }, async (_, i) => (await send(i, 'POST', '/Users', user(`${tag}-${i}`))).body.id as string));
      const filter = encodeURIComponent(`userName sw "${tag}-"`);
      const seen: string[] = [];
      let page = (await send(0, 'GET', `/Users?filter=${filter}&count=5&cursor`)).body;
      for (let i = 1; ; i++) {
        seen.push(...page.Resources.map((r: { id: string }) => r.id));
        if (!page.nextCursor) break;
        page = (await send(i, 'GET', `/Users?filter=${filter}&count=5&cursor=${encodeURIComponent(page.nextCursor)}`)).body;
      }
      expect(seen).toHaveLength(23);
      expect(new Set(seen)).toEqual(new Set(ids));
    });
  });
}

races('one process', async () => {
  const s = await testServer();
  return { send: (_i, method, path, body, headers) => s.request(method, path, body, headers), close: () => s.close() };
});

races('three scimd processes on one database', async () => {
  const db = await testDatabase('race');
  const token = 'race-token-of-at-least-32-characters';
  // one after the other: the first makes the database and the bootstrap token, the others find them
  const servers = [await serveProcess(db, token)];
  servers.push(await serveProcess(db, token), await serveProcess(db, token));
  const send: Send = (i, method, path, body, headers) => servers[i % 3]!.request(method, path, body, headers);
  return { send, close: async () => servers.forEach((s) => s.child.kill('SIGKILL')) };
});
