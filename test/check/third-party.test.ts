/**
 * `scimd check` against a SCIM server no one on this project wrote: SCIMMY with its Express routers
 * (test/fixtures/scimmy-server.ts). The run must reach its end, and what fails must be exactly what the table
 * "scimd check against SCIMMY" of docs/client.md lists, each with the words the report gives for it: a new failure
 * (a check gone wrong, or SCIMMY changed) or one that went away makes this test fail, so the table stays true.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/check/checks.js';
import { IDPS, selected, type Idp, type Report } from '../../src/check/run.js';
import { main } from '../../src/cli/main.js';
import { startScimmyServer, type ScimmyServer } from '../fixtures/scimmy-server.js';

interface Row {
  readonly id: string;
  /** `every`, or the one --idp whose run has the check. */
  readonly idp: string;
  /** Words the report's reason for the failure holds. */
  readonly says: string;
}

/** The rows of docs/client.md's table "scimd check against SCIMMY": | `id` | idp | `words` | why |. */
function documented(): Row[] {
  const doc = readFileSync(new URL('../../docs/client.md', import.meta.url), 'utf8');
  const section = /^## scimd check against SCIMMY\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(doc)?.[1];
  if (section === undefined) throw new Error('docs/client.md has no section "scimd check against SCIMMY"');
  return [...section.matchAll(/^\| `([\w.]+)` \| (\w+) \| `([^`]+)` \| .+ \|$/gm)].map(([, id, idp, says]) => ({ id: id!, idp: idp!, says: says! }));
}

let server: ScimmyServer;
beforeAll(async () => {
  server = await startScimmyServer();
});
afterAll(() => server.close());

async function check(idp: Idp, ...more: string[]): Promise<{ code: number; report: Report }> {
  let out = '';
  const sink = (write: (s: string) => void) => new Writable({ write: (chunk, _, done) => (write(String(chunk)), done()) });
  const code = await main(['check', server.url, '--token', server.token, '--idp', idp, '--json', ...more], sink((s) => (out += s)), sink(() => {}));
  return { code, report: JSON.parse(out) as Report };
}

/** How many users and groups SCIMMY holds. */
async function held(): Promise<number> {
  let total = 0;
  for (const endpoint of ['Users', 'Groups']) {
    const res = await fetch(`${server.url}/${endpoint}`, { headers: { authorization: `Bearer ${server.token}` } });
    total += ((await res.json()) as { totalResults: number }).totalResults;
  }
  return total;
}

describe('scimd check against SCIMMY', () => {
  const rows = documented();

  it('the table names real checks, each once per --idp', () => {
    expect(rows.length).toBeGreaterThan(0);
    const ids = new Set(CHECKS.map((c) => c.id));
    expect(rows.filter((r) => !ids.has(r.id))).toEqual([]);
    expect(rows.filter((r) => r.idp !== 'every' && !IDPS.includes(r.idp as Idp))).toEqual([]);
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  });

  it.each(IDPS)('--idp %s runs every check to the end and fails exactly what docs/client.md explains', async (idp) => {
    const { code, report } = await check(idp);
    expect(report.results.map((r) => r.id)).toEqual(selected(CHECKS, idp, undefined).map((c) => c.id));
    const expected = rows.filter((r) => r.idp === 'every' || r.idp === idp);
    const failed = report.results.filter((r) => r.outcome === 'failed');
    expect(failed.map((r) => r.id).sort()).toEqual(expected.map((r) => r.id).sort());
    for (const row of expected) expect(failed.find((r) => r.id === row.id)?.reason, row.id).toContain(row.says);
    expect(code).toBe(failed.length > 0 ? 1 : 0);
    expect(report.leftBehind).toEqual([]);
    expect(await held()).toBe(0);
  });

  it('fails groups.scale (run only when named): one more member costs SCIMMY in proportion to the group', async () => {
    const { code, report } = await check('rfc', '--only', 'groups.scale');
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ id: 'groups.scale', outcome: 'failed', reason: expect.stringContaining('the cost grows with the group') });
    expect(code).toBe(1);
    expect(await held()).toBe(0);
  }, 180_000);

  it('says "not supported", not failed, for what SCIMMY does not advertise: ETags and cursors', async () => {
    const { report } = await check('rfc');
    const unsupported = report.results.filter((r) => r.outcome === 'not supported');
    expect(unsupported.map((r) => r.id).sort()).toEqual(['etag.ifMatch', 'etag.patchDelete', 'pagination.cursor']);
    for (const r of unsupported) expect(r.reason).toMatch(/does not advertise/);
  });
});
