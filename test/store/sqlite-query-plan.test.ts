/**
 * The indexed filter forms stay index searches: EXPLAIN QUERY PLAN of the SQL the SQLite store runs is asserted,
 * so a later change cannot silently fall back to scanning every value.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { SQLITE } from '../../src/store/sqlite/sqlite-dialect.js';
import { listQueries } from '../../src/store/sql/query-compiler.js';
import { createScim, type CallContext } from '../../src/core/scim.js';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { loadSchemaBundle } from '../../src/schema-files.js';
import { parseFilter } from '../../src/core/filter/parser.js';
import { bindFilter } from '../../src/core/filter/bind.js';
import { STUDENT, STUDENT_BUNDLE, USER } from '../helpers.js';

const registry = SchemaRegistry.create({ bundles: [loadSchemaBundle(STUDENT_BUNDLE)] });
const file = join(mkdtempSync(join(tmpdir(), 'scimd-plan-')), 'plan.db');
let store: SqliteStore;
let raw: Database.Database;
let orgId: string;

beforeAll(async () => {
  store = new SqliteStore(file);
  await store.migrate();
  orgId = (await store.ensureOrganization('plan')).id;
  const scim = createScim({ store, registry });
  const ctx: CallContext = { orgId, tokenId: 't', tokenName: 't', dialect: 'rfc', baseUrl: 'https://x/scim/v2' };
  for (let i = 0; i < 50; i++) {
    await scim.create(ctx, 'Users', { schemas: [USER], userName: `u${i}`, externalId: `e${i}`, emails: [{ value: `u${i}@example.com` }], [STUDENT]: { studentNumber: `s${i}`, faculty: `f${i % 5}` } });
  }
  raw = new Database(file, { readonly: true });
});
afterAll(async () => {
  raw.close();
  await store.close();
});

/** The index paths' ids, as the store looks them up before compiling. */
const paths = () => new Map((raw.prepare('SELECT path, id FROM index_paths').all() as { path: string; id: number }[]).map((r) => [r.path, r.id]));

function plan(resourceType: string, filter: string): string {
  const rt = registry.resourceType(resourceType)!;
  const { page } = listQueries(orgId, resourceType, { filter: bindFilter(rt, parseFilter(filter)), offset: 0, limit: 10 }, SQLITE, paths());
  const rows = raw.prepare(`EXPLAIN QUERY PLAN ${page.sql}`).all(...page.params) as { detail: string }[];
  return rows.map((r) => r.detail).join('\n');
}

// a is attribute_str or attribute_num (by the column searched): each WITHOUT ROWID, its primary key the index
const EQ = '(scope=? AND path=? AND str=?)';

describe('EXPLAIN QUERY PLAN of indexed filter forms (SQLite)', () => {
  it.each([
    ['userName eq "u1"', `PRIMARY KEY ${EQ}`],
    ['emails.value eq "u1@example.com"', `PRIMARY KEY ${EQ}`],
    ['externalId eq "e1"', `PRIMARY KEY ${EQ}`],
    [`${STUDENT}:faculty eq "f1"`, `PRIMARY KEY ${EQ}`],
    ['userName sw "u1"', 'PRIMARY KEY (scope=? AND path=? AND str>? AND str<?)'],
    ['meta.lastModified gt "2020-01-01T00:00:00Z"', 'PRIMARY KEY (scope=? AND path=? AND num>?)'],
    ['active eq true', 'PRIMARY KEY (scope=? AND path=? AND num=?)'],
  ])('%s searches %s', (filter, expected) => {
    const p = plan('User', filter);
    expect(p).toContain(`SEARCH a USING ${expected}`);
    expect(p).toContain('SEARCH r USING INTEGER PRIMARY KEY (rowid=?)');
    // the organization and resource type become the scope once, by the index_scopes key
    expect(p).toContain('SEARCH index_scopes USING COVERING INDEX sqlite_autoindex_index_scopes_1 (org_id=? AND resource_type=?)');
    expect(p).not.toMatch(/SCAN/);
  });

  it('title pr searches one attribute path of one index', () => {
    const p = plan('User', 'title pr');
    expect(p).toContain('SEARCH a USING PRIMARY KEY (scope=? AND path=?)');
    expect(p).not.toMatch(/SCAN/);
  });

  it('a complex attribute\'s pr searches its markers in the string table', () => {
    const p = plan('User', 'emails pr');
    expect(p).toContain('SEARCH a USING PRIMARY KEY (scope=? AND path=?)');
    expect(p).not.toMatch(/SCAN/);
  });

  it('members.value eq searches the membership by member, then each group by id', () => {
    const p = plan('Group', 'members.value eq "x"');
    expect(p).toContain('SEARCH m USING COVERING INDEX group_members_member (org_id=? AND member_id=?)');
    expect(p).toContain('SEARCH g USING COVERING INDEX resources_identity (org_id=? AND resource_type=? AND id=?)');
    expect(p).not.toMatch(/SCAN/);
  });
});

describe('EXPLAIN QUERY PLAN of paging (SQLite)', () => {
  it('a cursor page seeks from its anchor in the listing index: deep pages cost what the first does', () => {
    const { page } = listQueries(orgId, 'User', { offset: 0, limit: 100, after: { position: 40 } }, SQLITE, paths());
    const p = (raw.prepare(`EXPLAIN QUERY PLAN ${page.sql}`).all(...page.params) as { detail: string }[]).map((r) => r.detail).join('\n');
    expect(p).toContain('SEARCH r USING INDEX resources_listing (org_id=? AND resource_type=? AND rowid>?)');
    expect(p).not.toMatch(/SCAN|TEMP B-TREE/);
  });
});
