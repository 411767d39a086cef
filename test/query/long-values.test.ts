/**
 * Values of any length are stored, unique and found, on every store. PostgreSQL's b-tree entries have a size limit
 * (2,704 bytes), so its index holds a 400-code-point prefix of each string: these cases sit on either side of it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindFilter } from '../../src/core/filter/bind.js';
import { parseFilter } from '../../src/core/filter/parser.js';
import { matches } from '../../src/core/filter/evaluate.js';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { STORE_KINDS, USER, storeAvailable, testServer, type TestServer } from '../helpers.js';

const users = SchemaRegistry.create().resourceType('User')!;
const long = randomBytes(1500).toString('base64'); // 2,000 characters that do not compress
const emoji = Array.from({ length: 1000 }, (_, i) => String.fromCodePoint(0x1f300 + ((i * 7919) % 0x300))).join(''); // 4,000 bytes
const TITLES: Record<string, string | undefined> = {
  long,
  longer: `${long}z`,
  // differs from long in its last character even case-folded (title is caseExact false): 'A' would fold to 'a'
  sibling: `${long.slice(0, -1)}${long.at(-1)!.toLowerCase() === 'a' ? 'b' : 'a'}`,
  at399: long.slice(0, 399),
  at400: long.slice(0, 400),
  at401: long.slice(0, 401),
  emoji,
  none: undefined,
};
const FILTERS = [
  ...[long, `${long}z`, long.slice(0, 399), long.slice(0, 400), long.slice(0, 401), emoji, long.toUpperCase()].flatMap((v) =>
    ['eq', 'sw', 'gt', 'ge', 'lt', 'le', 'co', 'ew', 'ne'].map((op) => `title ${op} ${JSON.stringify(v)}`)),
  `title sw ${JSON.stringify(long.slice(0, 1000))}`,
  `title ew ${JSON.stringify(long.slice(-500))}`,
  `title co ${JSON.stringify(long.slice(300, 900))}`,
  'title pr',
];

describe.each(STORE_KINDS.map((store) => [store]))('long values on %s', (store) => {
  if (!storeAvailable(store)) {
    it.skip('PostgreSQL tests skipped: no PostgreSQL binaries (see test/global-setup.ts)', () => {});
    return;
  }
  let s: TestServer;
  const rendered: Record<string, unknown>[] = [];

  beforeAll(async () => {
    s = await testServer({ store });
    for (const [userName, title] of Object.entries(TITLES)) {
      const res = await s.request('POST', '/Users', { schemas: [USER], userName, ...(title === undefined ? {} : { title }) });
      expect(res.status, res.text).toBe(201);
      rendered.push(res.body);
    }
  });
  afterAll(() => s?.close());

  it.each(FILTERS.map((f) => [f.length > 60 ? `${f.slice(0, 60)}… (${f.length} characters)` : f, f]))('%s: SQL ≡ the evaluator', async (_, filter) => {
    const res = await s.request('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter, count: 100 });
    expect(res.status, res.text).toBe(200);
    const fromSql = (res.body.Resources as { userName: string }[]).map((r) => r.userName).sort();
    const bound = bindFilter(users, parseFilter(filter));
    expect(fromSql).toEqual(rendered.filter((r) => matches(bound, r)).map((r) => r.userName as string).sort());
  });

  it('the prefix boundary: eq and sw find exactly the values they name', async () => {
    const find = async (filter: string) =>
      ((await s.request('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter, count: 100 })).body
        .Resources as { userName: string }[]).map((r) => r.userName).sort();
    expect(await find(`title eq ${JSON.stringify(long.slice(0, 399))}`)).toEqual(['at399']);
    expect(await find(`title eq ${JSON.stringify(long.slice(0, 400))}`)).toEqual(['at400']);
    expect(await find(`title eq ${JSON.stringify(long)}`)).toEqual(['long']);
    expect(await find(`title sw ${JSON.stringify(long.slice(0, 401))}`)).toEqual(['at401', 'long', 'longer', 'sibling'].sort());
    expect(await find(`title sw ${JSON.stringify(long)}`)).toEqual(['long', 'longer']);
  });

  it('a long unique value is unique like a short one (case-insensitively for userName)', async () => {
    expect((await s.request('POST', '/Users', { schemas: [USER], userName: long })).status).toBe(201);
    const again = await s.request('POST', '/Users', { schemas: [USER], userName: long.toUpperCase() });
    expect(again.status).toBe(409);
    expect(again.body.scimType).toBe('uniqueness');
    expect((await s.request('POST', '/Users', { schemas: [USER], userName: `${long}!` })).status).toBe(201);
  });
});
