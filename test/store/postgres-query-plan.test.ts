/**
 * The indexed filter forms stay index searches on PostgreSQL too: EXPLAIN of the SQL the store runs is asserted.
 * PostgreSQL plans by statistics, so the directory gets 20,000 filler users in 2,000 groups (written by SQL, in a
 * second) that the filters do not select, and sequential scans are turned off (enable_seqscan = off makes them a last resort).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { POSTGRES } from '../../src/store/postgres/postgres-dialect.js';
import { listQueries } from '../../src/store/sql/query-compiler.js';
import { numberedPlaceholders } from '../../src/store/sql/dialect.js';
import { createScim, type CallContext } from '../../src/core/scim.js';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { loadSchemaBundle } from '../../src/schema-files.js';
import { parseFilter } from '../../src/core/filter/parser.js';
import { bindFilter } from '../../src/core/filter/bind.js';
import type { ResourceQuery } from '../../src/core/model.js';
import { STUDENT, STUDENT_BUNDLE, USER, group } from '../helpers.js';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';

const admin = postgresUrl();
const registry = SchemaRegistry.create({ bundles: [loadSchemaBundle(STUDENT_BUNDLE)] });

describe.skipIf(!admin)('EXPLAIN on PostgreSQL', () => {
  let store: PostgresStore;
  let raw: pg.Client;
  let orgId: string;

  beforeAll(async () => {
    const url = await freshPostgresDatabase(admin!);
    store = new PostgresStore(url);
    await store.migrate();
    orgId = (await store.ensureOrganization('plan')).id;
    const scim = createScim({ store, registry });
    const ctx: CallContext = { orgId, tokenId: 't', tokenName: 't', dialect: 'rfc', baseUrl: 'https://x/scim/v2' };
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { resource } = await scim.create(ctx, 'Users', {
        schemas: [USER], userName: `u${i}`, externalId: `e${i}`, active: i % 2 === 0, ...(i % 10 === 0 ? { title: 'Dr' } : {}),
        emails: [{ value: `u${i}@example.com` }], [STUDENT]: { studentNumber: `s${i}`, faculty: `f${i % 5}` },
      });
      ids.push(resource.id as string);
    }
    await scim.create(ctx, 'Groups', group('g', ids.slice(0, 10)));
    raw = new pg.Client({ connectionString: url });
    await raw.connect();
    // enough fillers that walking every resource in key order costs more than fetching the matches by key (with
    // fewer, PostgreSQL's costing of LIMIT can prefer the walk for a filter matching a few dozen)
    await raw.query(
      `INSERT INTO resources (org_id, resource_type, id, version, created, last_modified, data)
       SELECT $1, 'User', 'filler-' || i, 1, '2019-01-01T00:00:00Z', '2019-01-01T00:00:00Z', '{}' FROM generate_series(1, 60000) AS i`,
      [orgId],
    );
    // the paths are in index_paths already: the 50 users above have values at each
    const fillers = `FROM resources r JOIN index_scopes s ON s.org_id = r.org_id AND s.resource_type = r.resource_type`;
    await raw.query(
      `INSERT INTO attribute_str (scope, path, str, resource_seq, ordinal)
       SELECT s.id, ip.id, p.path || r.id, r.seq, 0 ${fillers}, (VALUES ('username'), ('emails.value'), ('externalid'), ($1)) AS p (path)
       JOIN index_paths ip ON ip.path = p.path WHERE r.id LIKE 'filler-%'`,
      [`${STUDENT.toLowerCase()}:faculty`],
    );
    await raw.query(
      `INSERT INTO attribute_num (scope, path, num, resource_seq, ordinal)
       SELECT s.id, ip.id, p.num, r.seq, 0 ${fillers}, (VALUES ('active', 0::float8), ('meta.lastmodified', 1546300800000)) AS p (path, num)
       JOIN index_paths ip ON ip.path = p.path WHERE r.id LIKE 'filler-%'`,
    );
    await raw.query(
      `INSERT INTO resources (org_id, resource_type, id, version, created, last_modified, data)
       SELECT $1, 'Group', 'filler-group-' || i, 1, '2019-01-01T00:00:00Z', '2019-01-01T00:00:00Z', '{}' FROM generate_series(1, 2000) AS i`,
      [orgId],
    );
    await raw.query(
      `INSERT INTO group_members (org_id, group_id, member_id, member_type)
       SELECT $1, 'filler-group-' || (i % 2000 + 1), 'filler-' || i, 'User' FROM generate_series(1, 20000) AS i`,
      [orgId],
    );
    // statistics from every row rather than a random sample, so the planner's choice is the same on every run
    await raw.query('SET default_statistics_target = 10000');
    await raw.query('VACUUM ANALYZE');
    await raw.query('SET enable_seqscan = off');
  });
  afterAll(async () => {
    await raw?.end();
    await store?.close();
  });

  async function explain(resourceType: string, query: ResourceQuery): Promise<string> {
    // the index paths' ids, as the store looks them up before compiling
    const paths = new Map((await raw.query<{ path: string; id: number }>('SELECT path, id FROM index_paths')).rows.map((r) => [r.path, r.id]));
    const { page } = listQueries(orgId, resourceType, query, POSTGRES, paths);
    const { rows } = await raw.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${numberedPlaceholders(page.sql)}`, page.params as unknown[]);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  }

  const filtered = (resourceType: string, filter: string) =>
    explain(resourceType, { filter: bindFilter(registry.resourceType(resourceType)!, parseFilter(filter)), offset: 0, limit: 10 });

  it.each([
    ['userName eq "u1"', 'attribute_str', /str_prefix = /],
    ['emails.value eq "u1@example.com"', 'attribute_str', /str_prefix = /],
    ['externalId eq "e1"', 'attribute_str', /str_prefix = /],
    [`${STUDENT}:faculty eq "f1"`, 'attribute_str', /str_prefix = /],
    ['userName sw "u1"', 'attribute_str', /str_prefix >= .*str_prefix < /],
    // longer than the indexed prefix: the prefix is searched, then str checked
    [`userName eq "${'u'.repeat(450)}"`, 'attribute_str', /str_prefix = /],
    ['meta.lastModified gt "2020-01-01T00:00:00Z"', 'attribute_num', /num > /],
    ['active eq true', 'attribute_num', /num = /],
    ['title pr', 'attribute_str', /path = /],
    ['emails pr', 'attribute_str', /path = /],
  ])('%s is an index search of %s', async (filter, table, condition) => {
    const plan = await filtered('User', filter);
    const cond = new RegExp(String.raw`Index (?:Only )?Scan using ${table}_value on ${table} a[^\n]*\n\s*Index Cond: ([^\n]*)`).exec(plan)?.[1];
    expect(cond, plan).toBeDefined();
    expect(cond).toMatch(/scope = .*path = /);
    // the organization and resource type become the scope once, by the index_scopes key
    expect(plan).toMatch(/Index (Only )?Scan using index_scopes_org_id_resource_type_key on index_scopes/);
    expect(cond).toMatch(condition);
    // each matching resource is then fetched by its key, not found among all of the organization's
    expect(plan).toMatch(/Index Scan using resources_(pkey|listing) on resources r[^\n]*\n\s*Index Cond: [^\n]*seq = a\.resource_seq/);
    expect(plan).not.toMatch(/Seq Scan|Bitmap/);
  });

  it('a path that no resource has a value at is answered without reading any index', async () => {
    expect(await filtered('User', 'nickName pr')).toMatch(/One-Time Filter: false/);
  });

  it('members.value eq searches the membership by member, then each group by id', async () => {
    const plan = await filtered('Group', 'members.value eq "x"');
    expect(plan).toMatch(/Index Only Scan using group_members_member on group_members m[^\n]*\n\s+Index Cond: \(\(org_id = [^\n]*member_id = /);
    expect(plan).toMatch(/Index (Only )?Scan using resources_(identity|by_id) on resources g[^\n]*\n\s+Index Cond: [^\n]*id = m\.group_id/);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it('a cursor page seeks from its anchor in the listing index, with no sort: deep pages cost what the first does', async () => {
    const plan = await explain('User', { offset: 0, limit: 100, after: { position: 40 } });
    // resources_pkey when the planner expects the organization's rows to be most of the table
    expect(plan).toMatch(/Index Scan using resources_(listing|pkey) on resources r[^\n]*\n\s+Index Cond: [^\n]*seq > /);
    expect(plan).not.toMatch(/Seq Scan|Sort/);
  });
});
