/**
 * The write load of the fault tests, and what must hold after the fault: every write the server acknowledged is
 * there, and nothing is half-applied.
 */
import { expect } from 'vitest';
import { group, user } from '../helpers.js';
import type { ServerProcess } from '../process.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

export interface WriteLoad {
  readonly groupId: string;
  /** Acknowledged creates: userName → id. */
  readonly users: Map<string, string>;
  /** Acknowledged member adds. */
  readonly members: Set<string>;
  /** Acknowledged PATCHes of title. */
  readonly titled: Set<string>;
  /** Every answer other than success, counted by status. */
  readonly refused: Map<number, number>;
  /** Stops the workers (a request left without an answer then ends its worker); resolves when they have stopped. */
  stop(): Promise<void>;
}

/** Eight workers, each in turn: create a user, add them to a group, change their title; until stopped. */
export async function startWriteLoad(server: ServerProcess): Promise<WriteLoad> {
  const groupId = (await server.request('POST', '/Groups', group('everyone'))).body.id as string;
  const users = new Map<string, string>();
  const members = new Set<string>();
  const titled = new Set<string>();
  const refused = new Map<number, number>();
  let running = true;
  const ok = (status: number, success: number) => {
    if (status === success) return true;
    refused.set(status, (refused.get(status) ?? 0) + 1);
    return false;
  };
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      try {
        const created = await server.request('POST', '/Users', user(`w${w}-${i}`, { title: 'before' }));
        if (!ok(created.status, 201)) continue;
        const id = created.body.id as string;
        users.set(`w${w}-${i}`, id);
        const added = await server.request('PATCH', `/Groups/${groupId}?excludedAttributes=members`, patch({ op: 'add', path: 'members', value: [{ value: id }] }));
        if (ok(added.status, 200)) members.add(id);
        if (ok((await server.request('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'after' }))).status, 200)) titled.add(id);
      } catch (e) {
        if (!running) return; // the connection died with the server
        throw e;
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  return {
    groupId, users, members, titled, refused,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

/** Every write the load had acknowledged is on `server`, and nothing is half-applied. */
export async function expectAcknowledgedWrites(server: ServerProcess, load: WriteLoad): Promise<void> {
  for (const [userName, id] of load.users) {
    const got = await server.request('GET', `/Users/${id}`);
    expect([got.status, got.body.userName]).toEqual([200, userName]);
    if (load.titled.has(id)) expect(got.body.title).toBe('after');
  }
  const g = (await server.request('GET', `/Groups/${load.groupId}`)).body;
  const present = new Set<string>((g.members ?? []).map((m: { value: string }) => m.value));
  for (const id of load.members) expect(present.has(id)).toBe(true);

  // nothing half-applied: every stored user is found by its index entries and holds its unique value once, and
  // every member the group has is a stored user
  const listed: { id: string; userName: string }[] = [];
  for (let start = 1; ; start += 1000) {
    const page = (await server.request('GET', `/Users?startIndex=${start}&count=1000&attributes=userName`)).body;
    listed.push(...page.Resources);
    if (listed.length >= page.totalResults) break;
  }
  expect(listed.length).toBeGreaterThanOrEqual(load.users.size);
  for (const u of listed) {
    const found = (await server.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${u.userName}"`)}&attributes=id`)).body;
    expect(found.Resources.map((r: { id: string }) => r.id)).toEqual([u.id]);
  }
  const stored = new Set(listed.map((u) => u.id));
  for (const id of present) expect(stored.has(id)).toBe(true);
}

/** Waits until `ready()` holds (a loaded machine may take a while), failing after `ms`. */
export async function until(ready: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
