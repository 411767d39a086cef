/**
 * `scimd sync` into a SCIM server no one on this project wrote: SCIMMY (test/fixtures/scimmy-server.ts). 200 CSV rows
 * with managers and groups arrive, a second run changes nothing, and edits and removals are exactly that many
 * updates and deactivations: through Bulk, which SCIMMY advertises, and through single requests (--no-bulk).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ScimClient } from '../../src/client/index.js';
import type { Summary } from '../../src/sync/index.js';
import { startScimmyServer, type ScimmyServer } from '../fixtures/scimmy-server.js';

const dir = mkdtempSync(join(tmpdir(), 'scimd-sync-scimmy-'));
const HEADER = 'employee_id,email,first_name,last_name,title,department,manager,status,groups';
const row = (i: number, title = `Title ${i % 3}`) =>
  [`E${i}`, `user${i}@example.com`, `Given${i}`, `Family${i}`, title, `Dept${i % 4}`, i === 0 ? '' : `E${Math.floor(i / 10)}`, 'active', `All;Team${i % 3}`].join(',');

let server: ScimmyServer;
beforeAll(async () => {
  server = await startScimmyServer();
});
afterAll(() => server.close());

async function sync(rows: string[], ...flags: string[]): Promise<{ code: number; summary: Summary; err: string }> {
  const file = join(dir, `people-${rows.length}.csv`);
  writeFileSync(file, `${HEADER}\n${rows.join('\n')}\n`);
  let out = '';
  let err = '';
  const sink = (write: (s: string) => void) => new Writable({ write: (chunk, _, done) => (write(String(chunk)), done()) });
  const code = await main(['sync', file, '--url', server.url, '--token', server.token, '--json', ...flags], sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, summary: JSON.parse(out) as Summary, err };
}

describe('scimd sync into SCIMMY', () => {
  const rows = Array.from({ length: 200 }, (_, i) => row(i));

  it('creates 200 users with their managers and groups; a second run changes nothing', async () => {
    const first = await sync(rows);
    expect(first.summary.failures).toEqual([]);
    expect(first.code).toBe(0);
    expect(first.summary.bulk).toBe(true);
    expect([first.summary.users.created, first.summary.groups.created]).toEqual([200, 4]);
    const client = new ScimClient({ baseUrl: server.url, credentials: { bearer: server.token } });
    const users = [];
    for await (const u of client.users.all()) users.push(u);
    expect(new Set(users.map((u) => u.externalId)).size).toBe(200);
    const byKey = new Map(users.map((u) => [u.externalId, u]));
    const e25 = byKey.get('E25')!;
    expect(e25['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']).toMatchObject({ department: 'Dept1', manager: { value: byKey.get('E2')!.id } });
    const groups = [];
    for await (const g of client.groups.all()) groups.push(g);
    expect(groups.find((g) => g.displayName === 'All')!.members).toHaveLength(200);

    const second = await sync(rows);
    expect([second.code, second.summary.requests, second.summary.users.unchanged, second.summary.groups.unchanged]).toEqual([0, 0, 200, 4]);
  });

  it('after 3 rows edited and 2 deleted, through single requests: exactly 3 updates and 2 deactivations, then nothing', async () => {
    const edited = rows.flatMap((r, i) => (i === 7 || i === 150 ? [] : [[1, 42, 199].includes(i) ? row(i, 'Promoted') : r]));
    const { code, summary } = await sync(edited, '--no-bulk');
    expect(summary.failures).toEqual([]);
    expect(summary.bulk).toBe(false);
    expect(code).toBe(0);
    expect(summary.users).toMatchObject({ created: 0, updated: 3, deactivated: 2, unchanged: 195 });
    expect((await sync(edited, '--no-bulk')).summary.requests).toBe(0);
  });
});
