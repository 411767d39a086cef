/**
 * The PostgreSQL store, for several scimd nodes on one database. Every write is one transaction that the database
 * keeps correct under concurrency: unique values by primary key (`ON CONFLICT DO NOTHING` waits for a concurrent
 * claim to commit or roll back), versions by the `WHERE version = …` of the UPDATE itself, and membership references
 * by foreign keys plus a `FOR KEY SHARE` lock on each member, so a member cannot be deleted while it is being added.
 * Transactions that lose a deadlock are retried.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  UniquenessViolation, UnknownMembers,
  type ChangeRecord, type CreateManyOptions, type Keyset, type OutboxEvent, type Membership, type Organization, type PatchChange, type ResourcePage, type ResourceQuery,
  type ResourceRef, type ResourceWrite, type Store, type StoredResource, type TokenRecord, type UniqueKey,
} from '../store.js';
import type { IndexEntry } from '../../core/filter/index-entries.js';
import type { AuditEntry, AuditQuery, AuditRecord } from '../../core/audit.js';
import { insertAudit, listAudit } from '../sql/audit.js';
import { listQueries } from '../sql/query-compiler.js';
import { indexRows, toAuditRecord, toOutboxEvent, toRef, toResource, toToken, type AuditRow, type OutboxRow, type ResourceRow, type TokenRow } from '../sql/rows.js';
import { outboxRows } from '../sql/outbox.js';
import { POSTGRES } from './postgres-dialect.js';
import { MIGRATIONS } from './migrations.js';

export interface PostgresStoreOptions {
  /** Connections this process keeps open at most (pg's Pool `max`); see SCIMD_DB_POOL_SIZE. */
  readonly poolSize?: number;
}

/** Any number that names scimd's migrations among other users of pg_advisory_xact_lock on the database. */
const MIGRATION_LOCK = 0x5c1d_0001;
/** deadlock_detected, serialization_failure: the whole transaction may simply run again. */
const TRANSIENT = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

// seq, positions and counts are BIGINT; they stay far below 2^53, so they are read as numbers, not strings.
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format: 'text') => (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format))) as pg.CustomTypesConfig['getTypeParser'],
};

/** A connection inside a transaction; its parameters pass through `text` like the pool's. */
interface Client {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * PostgreSQL text cannot hold U+0000, which SCIM strings may: every string parameter carries U+FFFD in its place.
 * A document keeps it (JSON text escapes it); index entries, unique values and labels have U+FFFD, and a lookup of
 * an id with U+0000 finds nothing instead of failing.
 */
function text(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  return Array.isArray(value) ? value.map(text) : value;
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly scopes = new Map<string, number>();
  private closed = false;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    this.pool = new pg.Pool({ connectionString, max: options.poolSize ?? 10, types: TYPES });
    // an idle connection the server dropped: the next query opens a new one; without a listener it would crash us
    this.pool.on('error', () => {});
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, params.map(text));
  }

  /** Runs `work` in one transaction on one connection; a deadlock or serialization failure runs it again. */
  private async transaction<T>(work: (c: Client) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const c: Client = { query: (sql, params = []) => client.query(sql, params.map(text)) };
      let broken: Error | undefined;
      try {
        await client.query(begin);
        const result = await work(c);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        if (attempt < ATTEMPTS && TRANSIENT.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      } finally {
        client.release(broken);
      }
    }
  }

  async migrate(): Promise<void> {
    // One transaction under an advisory lock: nodes starting at once wait for each other, and each step is
    // applied once, entirely or not at all (PostgreSQL's DDL is transactional).
    await this.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)');
      const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      }
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  async ensureOrganization(name: string): Promise<Organization> {
    // concurrent first calls: one insert wins, every caller reads the winner
    await this.query('INSERT INTO organizations (id, name, created) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
      crypto.randomUUID(), name, new Date().toISOString(),
    ]);
    return (await this.query<Organization>('SELECT id, name, created FROM organizations WHERE name = $1', [name])).rows[0]!;
  }

  async organizations(): Promise<Organization[]> {
    return (await this.query<Organization>('SELECT id, name, created FROM organizations ORDER BY created, name')).rows;
  }

  async createToken(t: TokenRecord): Promise<void> {
    await this.query('INSERT INTO tokens (id, org_id, name, dialect, scope, hash, created, last_used, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
      t.id, t.orgId, t.name, t.dialect, t.scope, t.hash, t.created, t.lastUsed ?? null, t.revoked ?? null,
    ]);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const row = (await this.query<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [hash])).rows[0];
    return row && toToken(row);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.query<TokenRow>('SELECT * FROM tokens ORDER BY created, id')).rows.map(toToken);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    return ((await this.query('UPDATE tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL', [at, id])).rowCount ?? 0) > 0;
  }

  async touchToken(id: string, at: string): Promise<void> {
    await this.query('UPDATE tokens SET last_used = $1 WHERE id = $2', [at, id]);
  }

  async createResource(orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite): Promise<StoredResource> {
    const scope = await this.scopeOf(orgId, resourceType);
    return this.transaction(async (c) => {
      const created = await this.insertResource(c, orgId, resourceType, scope, id, at, write);
      await this.count(c, orgId, resourceType, 1);
      return created;
    });
  }

  async createResources(
    orgId: string,
    resourceType: string,
    at: string,
    items: readonly { readonly id: string; readonly write: ResourceWrite }[],
    options: CreateManyOptions = {},
  ): Promise<(StoredResource | UniquenessViolation | UnknownMembers)[]> {
    const scope = await this.scopeOf(orgId, resourceType);
    return this.transaction(async (c) => {
      const results: (StoredResource | UniquenessViolation | UnknownMembers)[] = [];
      let failed = 0;
      for (const { id, write } of items) {
        if (options.stopAfterErrors !== undefined && failed >= options.stopAfterErrors) break;
        // a savepoint per item: a failed item rolls back alone
        await c.query('SAVEPOINT item');
        try {
          results.push(await this.insertResource(c, orgId, resourceType, scope, id, at, write));
          await c.query('RELEASE SAVEPOINT item');
        } catch (e) {
          if (!(e instanceof UniquenessViolation || e instanceof UnknownMembers)) throw e;
          await c.query('ROLLBACK TO SAVEPOINT item');
          results.push(e);
          failed++;
        }
      }
      // counted once, last: the count row is locked from here to the commit, and a batch that held it while it
      // waited for a value a single create is claiming would deadlock with that create's own count
      await this.count(c, orgId, resourceType, results.filter((r) => !(r instanceof Error)).length);
      return results;
    });
  }

  /** Call inside a transaction: a throw leaves nothing of this resource behind. */
  private async insertResource(c: Client, orgId: string, resourceType: string, scope: number, id: string, at: string, write: ResourceWrite): Promise<StoredResource> {
    const { rows } = await c.query<{ seq: number }>(
      `INSERT INTO resources (org_id, resource_type, id, version, created, last_modified, display, data)
       VALUES ($1, $2, $3, 1, $4, $4, $5, $6) RETURNING seq`,
      [orgId, resourceType, id, at, write.display ?? null, JSON.stringify(write.attributes)],
    );
    await this.insertIndex(c, rows[0]!.seq, scope, write.index);
    await this.insertUniqueKeys(c, orgId, resourceType, id, write.uniqueKeys);
    const added = write.membership ? await this.addMembers(c, orgId, id, write.membership) : [];
    await this.insertRecord(c, write.record, 1, added, []);
    return { orgId, resourceType, id, version: 1, created: at, lastModified: at, attributes: write.attributes };
  }

  async getResource(orgId: string, resourceType: string, id: string): Promise<StoredResource | undefined> {
    const row = (await this.query<ResourceRow>('SELECT * FROM resources WHERE org_id = $1 AND resource_type = $2 AND id = $3', [orgId, resourceType, id])).rows[0];
    return row && toResource(row);
  }

  async replaceResource(
    orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite, expectedVersion?: number,
  ): Promise<StoredResource | 'conflict' | undefined> {
    const scope = await this.scopeOf(orgId, resourceType);
    return this.transaction(async (c) => {
      // the version is checked by the UPDATE itself: a concurrent write holds the row until it commits, and then
      // the condition is evaluated against its result
      const row = (await c.query<ResourceRow>(
        `UPDATE resources SET version = version + 1, last_modified = $4, display = $5, data = $6
         WHERE org_id = $1 AND resource_type = $2 AND id = $3 AND ($7::integer IS NULL OR version = $7) RETURNING *`,
        [orgId, resourceType, id, at, write.display ?? null, JSON.stringify(write.attributes), expectedVersion ?? null],
      )).rows[0];
      if (!row) return expectedVersion !== undefined && (await this.exists(c, orgId, resourceType, id)) ? 'conflict' : undefined;
      await this.rewriteIndexAndKeys(c, row.seq, orgId, resourceType, scope, id, write);
      const members = write.membership ? await this.replaceMembers(c, orgId, id, write.membership) : { added: [], removed: [] };
      await this.insertRecord(c, write.record, row.version, members.added, members.removed);
      return toResource(row);
    });
  }

  async patchResource(orgId: string, resourceType: string, id: string, at: string, change: PatchChange): Promise<StoredResource | 'conflict' | undefined> {
    const scope = await this.scopeOf(orgId, resourceType);
    return this.transaction(async (c) => {
      let seq: number;
      let changed = false;
      const expected = change.expectedVersion;
      if (change.write) {
        const w = change.write;
        // the version is checked by the UPDATE itself, as in replaceResource
        const row = (await c.query<{ seq: number }>(
          `UPDATE resources SET display = $4, data = $5
           WHERE org_id = $1 AND resource_type = $2 AND id = $3 AND ($6::integer IS NULL OR version = $6) RETURNING seq`,
          [orgId, resourceType, id, w.display ?? null, JSON.stringify(w.attributes), expected ?? null],
        )).rows[0];
        if (!row) return expected !== undefined && (await this.exists(c, orgId, resourceType, id)) ? 'conflict' : undefined;
        seq = row.seq;
        await this.rewriteIndexAndKeys(c, seq, orgId, resourceType, scope, id, w);
        changed = true;
      } else {
        // a membership-only change: the row lock orders it with concurrent writes to the same group, so the version
        // read here stays the stored one until this transaction ends
        const row = (await c.query<{ seq: number; version: number }>(
          'SELECT seq, version FROM resources WHERE org_id = $1 AND resource_type = $2 AND id = $3 FOR UPDATE', [orgId, resourceType, id],
        )).rows[0];
        if (!row) return undefined;
        if (expected !== undefined && row.version !== expected) return 'conflict';
        seq = row.seq;
      }
      const m = change.members;
      let added: string[] = [];
      let removed: string[] = [];
      if (m) {
        // clearing before adding removes only those not added back, so replacing the members by the same set is no change
        removed = (m.clear
          ? await c.query<{ member_id: string }>('DELETE FROM group_members WHERE org_id = $1 AND group_id = $2 AND NOT (member_id = ANY($3::text[])) RETURNING member_id', [orgId, id, m.add])
          : await c.query<{ member_id: string }>('DELETE FROM group_members WHERE org_id = $1 AND group_id = $2 AND member_id = ANY($3::text[]) RETURNING member_id', [orgId, id, m.remove])
        ).rows.map((r) => r.member_id);
        if (m.add.length > 0) added = await this.addMembers(c, orgId, id, { ids: m.add, allowedTypes: m.allowedTypes });
        changed = changed || added.length > 0 || removed.length > 0;
      }
      const result = changed ? await this.bumpVersion(c, seq, scope, at, change) : (await c.query<ResourceRow>('SELECT * FROM resources WHERE seq = $1', [seq])).rows[0]!;
      // recorded even when nothing changed (the request was made), with the version it left
      await this.insertRecord(c, change.record, result.version, added, removed);
      return toResource(result);
    });
  }

  /** A changed resource's new version (and, for a membership-only change, its index entries such as lastModified). */
  private async bumpVersion(c: Client, seq: number, scope: number, at: string, change: PatchChange): Promise<ResourceRow> {
    if (!change.write && change.touch.length > 0) {
      const keys = [seq, change.touch.map((e) => e.path), change.touch.map((e) => e.ordinal)];
      for (const table of ['attribute_str', 'attribute_num']) {
        await c.query(`DELETE FROM ${table} WHERE resource_seq = $1 AND (path, ordinal) IN (SELECT * FROM unnest($2::text[], $3::integer[]))`, keys);
      }
      await this.insertIndex(c, seq, scope, change.touch);
    }
    return (await c.query<ResourceRow>('UPDATE resources SET version = version + 1, last_modified = $2 WHERE seq = $1 RETURNING *', [seq, at])).rows[0]!;
  }

  async deleteResource(orgId: string, resourceType: string, id: string, expectedVersion?: number, record?: ChangeRecord): Promise<boolean | 'conflict'> {
    return this.transaction(async (c) => {
      // the foreign keys cascade to the resource's index rows, unique values and memberships (both sides)
      const gone = (await c.query<{ version: number }>(
        'DELETE FROM resources WHERE org_id = $1 AND resource_type = $2 AND id = $3 AND ($4::integer IS NULL OR version = $4) RETURNING version',
        [orgId, resourceType, id, expectedVersion ?? null],
      )).rows[0];
      if (!gone) return expectedVersion !== undefined && (await this.exists(c, orgId, resourceType, id)) ? 'conflict' : false;
      await this.insertRecord(c, record, gone.version, [], []);
      await this.count(c, orgId, resourceType, -1);
      return true;
    });
  }

  async listResources(orgId: string, resourceType: string, query: ResourceQuery): Promise<ResourcePage> {
    const { count, page } = listQueries(orgId, resourceType, query, POSTGRES);
    // one snapshot for the total and the page
    return this.transaction(async (c) => {
      const total = (await c.query<{ total: number }>(count.sql, count.params as unknown[])).rows[0]!.total;
      if (query.limit === 0) return { total, resources: [], keysets: [] };
      const rows = (await c.query<ResourceRow & { sort_key?: string | number | null }>(page.sql, page.params as unknown[])).rows;
      // a `before` page is read backwards from its anchor; give it back in the query's order
      if (query.before) rows.reverse();
      const keysets: Keyset[] = rows.map((r) => (query.sort ? { key: r.sort_key ?? null, position: r.seq } : { position: r.seq }));
      return { total, resources: rows.map(toResource), keysets };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  async countRequests(key: string, window: number, n: number): Promise<number> {
    return this.transaction(async (c) => {
      await c.query('DELETE FROM request_counts WHERE key = $1 AND "window" < $2', [key, window - 1]);
      // concurrent requests of one token, on any node, add to one row: each sees the total including its own
      const { rows } = await c.query<{ n: number }>(
        `INSERT INTO request_counts (key, "window", n) VALUES ($1, $2, $3)
         ON CONFLICT (key, "window") DO UPDATE SET n = request_counts.n + excluded.n RETURNING n`,
        [key, window, n],
      );
      return rows[0]!.n;
    });
  }

  async secret(name: string): Promise<Buffer> {
    const read = async () => (await this.query<{ value: Buffer }>('SELECT value FROM secrets WHERE name = $1', [name])).rows[0]?.value;
    const found = await read();
    if (found) return found;
    // another node may make it first: the first one written is the one
    await this.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING', [name, randomBytes(32)]);
    return (await read())!;
  }

  async members(orgId: string, groupId: string): Promise<ResourceRef[]> {
    const { rows } = await this.query<{ value: string; resourceType: string; display: string | null }>(
      `SELECT m.member_id AS value, m.member_type AS "resourceType", r.display AS display
       FROM group_members m JOIN resources r ON r.org_id = m.org_id AND r.id = m.member_id
       WHERE m.org_id = $1 AND m.group_id = $2 ORDER BY m.position`,
      [orgId, groupId],
    );
    return rows.map(toRef);
  }

  async groupsOf(orgId: string, memberIds: readonly string[]): Promise<Map<string, ResourceRef[]>> {
    const out = new Map<string, ResourceRef[]>();
    if (memberIds.length === 0) return out;
    const { rows } = await this.query<{ member: string; value: string; resourceType: string; display: string | null }>(
      `SELECT m.member_id AS member, m.group_id AS value, r.resource_type AS "resourceType", r.display AS display
       FROM group_members m JOIN resources r ON r.org_id = m.org_id AND r.id = m.group_id
       WHERE m.org_id = $1 AND m.member_id = ANY($2::text[]) ORDER BY m.position`,
      [orgId, memberIds],
    );
    for (const { member, ...ref } of rows) {
      const list = out.get(member) ?? [];
      list.push(toRef(ref));
      out.set(member, list);
    }
    return out;
  }

  /** Adds to the number of resources of the type; the last statement of a write (see createResources). */
  private async count(c: Client, orgId: string, resourceType: string, delta: number): Promise<void> {
    if (delta === 0) return;
    await c.query(
      `INSERT INTO resource_counts (org_id, resource_type, n) VALUES ($1, $2, $3)
       ON CONFLICT (org_id, resource_type) DO UPDATE SET n = resource_counts.n + $3`,
      [orgId, resourceType, delta],
    );
  }

  private async exists(c: Client, orgId: string, resourceType: string, id: string): Promise<boolean> {
    return ((await c.query('SELECT 1 FROM resources WHERE org_id = $1 AND resource_type = $2 AND id = $3', [orgId, resourceType, id])).rowCount ?? 0) > 0;
  }

  /** A changed document's index rows and unique values, replaced (a clash throws and rolls the write back). */
  private async rewriteIndexAndKeys(c: Client, seq: number, orgId: string, resourceType: string, scope: number, id: string, write: ResourceWrite): Promise<void> {
    await c.query('DELETE FROM attribute_str WHERE resource_seq = $1', [seq]);
    await c.query('DELETE FROM attribute_num WHERE resource_seq = $1', [seq]);
    await this.insertIndex(c, seq, scope, write.index);
    await c.query('DELETE FROM unique_values WHERE org_id = $1 AND resource_id = $2', [orgId, id]);
    await this.insertUniqueKeys(c, orgId, resourceType, id, write.uniqueKeys);
  }

  /** All of a resource's index rows in one statement per table. */
  private async insertIndex(c: Client, seq: number, scope: number, entries: readonly IndexEntry[]): Promise<void> {
    const { strs, nums } = indexRows(entries);
    for (const [table, column, type, rows] of [['attribute_str', 'str', 'text', strs], ['attribute_num', 'num', 'float8', nums]] as const) {
      if (rows.length === 0) continue;
      await c.query(
        `INSERT INTO ${table} (scope, resource_seq, path, ordinal, ${column})
         SELECT $1, $2, t.* FROM unnest($3::text[], $4::integer[], $5::${type}[]) AS t`,
        [scope, seq, rows.map((r) => r.path), rows.map((r) => r.ordinal), rows.map((r) => r.value)],
      );
    }
  }

  /**
   * The index scope of (organization, resource type): made on first use outside the write's transaction, so that a
   * write rolled back cannot take away a scope already remembered (scopes are never deleted). The SELECT is a
   * statement of its own: it sees a scope that a concurrent node committed while the INSERT waited for it.
   */
  private async scopeOf(orgId: string, resourceType: string): Promise<number> {
    const key = `${orgId}\u0000${resourceType}`;
    let id = this.scopes.get(key);
    if (id === undefined) {
      await this.query('INSERT INTO index_scopes (org_id, resource_type) VALUES ($1, $2) ON CONFLICT DO NOTHING', [orgId, resourceType]);
      id = (await this.query<{ id: number }>('SELECT id FROM index_scopes WHERE org_id = $1 AND resource_type = $2', [orgId, resourceType])).rows[0]!.id;
      this.scopes.set(key, id);
    }
    return id;
  }

  private async insertUniqueKeys(c: Client, orgId: string, resourceType: string, id: string, keys: readonly UniqueKey[]): Promise<void> {
    if (keys.length === 0) return;
    // a value another transaction is claiming makes this insert wait for it; a value taken is skipped, not returned
    const { rows } = await c.query<{ attribute: string; value: string }>(
      `INSERT INTO unique_values (org_id, resource_type, attribute, value, value_sha256, resource_id)
       SELECT $1, $2, k.attribute, k.value, sha256(convert_to(k.value, 'UTF8')), $3 FROM unnest($4::text[], $5::text[]) AS k (attribute, value)
       ON CONFLICT DO NOTHING RETURNING attribute, value`,
      [orgId, resourceType, id, keys.map((k) => k.attribute), keys.map((k) => k.value)],
    );
    const claimed = new Set(rows.map((r) => `${r.attribute}\0${r.value}`));
    // compared as stored (see `text`)
    const taken = keys.find((k) => !claimed.has(`${k.attribute}\0${text(k.value) as string}`));
    // throwing inside the transaction rolls back everything written so far in it
    if (taken) throw new UniquenessViolation(taken.attribute);
  }

  /**
   * Resolves member ids to their resource types and locks them (FOR KEY SHARE) until commit, so none can be deleted
   * meanwhile; any id that names no allowed resource fails the whole write.
   */
  private async resolveMembers(c: Client, orgId: string, groupId: string, membership: Membership, ids: readonly string[]): Promise<Map<string, string>> {
    const { rows } = await c.query<{ id: string; resource_type: string }>(
      `SELECT id, resource_type FROM resources
       WHERE org_id = $1 AND id = ANY($2::text[]) AND resource_type = ANY($3::text[]) FOR KEY SHARE`,
      [orgId, ids, membership.allowedTypes],
    );
    const types = new Map(rows.map((r) => [r.id, r.resource_type]));
    const unknown = ids.filter((m) => !types.has(m) || m === groupId);
    if (unknown.length > 0) throw new UnknownMembers(unknown);
    return types;
  }

  /** Returns the ids that were not members yet. */
  private async addMembers(c: Client, orgId: string, groupId: string, membership: Membership): Promise<string[]> {
    const ids = [...new Set(membership.ids)];
    if (ids.length === 0) return [];
    const types = await this.resolveMembers(c, orgId, groupId, membership, ids);
    const added = await c.query(
      `INSERT INTO group_members (org_id, group_id, member_id, member_type)
       SELECT $1, $2, m.id, m.type FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS m (id, type, n) ORDER BY m.n
       ON CONFLICT DO NOTHING RETURNING member_id`,
      [orgId, groupId, ids, ids.map((m) => types.get(m))],
    );
    return (added.rows as { member_id: string }[]).map((r) => r.member_id);
  }

  private async replaceMembers(c: Client, orgId: string, groupId: string, membership: Membership): Promise<{ added: string[]; removed: string[] }> {
    const ids = [...new Set(membership.ids)];
    // an unknown member among them throws in addMembers, which rolls this removal back with the rest
    const removed = await c.query<{ member_id: string }>(
      'DELETE FROM group_members WHERE org_id = $1 AND group_id = $2 AND NOT (member_id = ANY($3::text[])) RETURNING member_id', [orgId, groupId, ids],
    );
    return { added: await this.addMembers(c, orgId, groupId, membership), removed: removed.rows.map((r) => r.member_id) };
  }

  /** A write's audit entry and events, with the version it left and the membership it really changed. */
  private async insertRecord(c: Client, record: ChangeRecord | undefined, version: number, added: readonly string[], removed: readonly string[]): Promise<void> {
    if (!record) return;
    if (record.audit) await this.insertAudit(c, record.audit, version, added, removed);
    for (const row of outboxRows(record, added, removed)) {
      await c.query('INSERT INTO event_outbox (id, channel, stream, payload, next_attempt) VALUES ($1, $2, $3, $4, $5)', [row.id, row.channel, row.stream, row.payload, row.at]);
    }
  }

  /** An entry with the version the write left and the membership it really changed (shared SQL: sql/audit.ts). */
  private async insertAudit(c: Client, entry: AuditEntry, version: number | undefined, added: readonly string[], removed: readonly string[]): Promise<void> {
    const { sql, params } = insertAudit(entry, version, added, removed, POSTGRES);
    await c.query(sql, params);
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.transaction(async (c) => {
      for (const e of entries) await this.insertAudit(c, e, undefined, [], []);
    });
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const { sql, params } = listAudit(query, POSTGRES);
    return (await this.query<AuditRow>(sql, params as unknown[])).rows.map(toAuditRecord);
  }

  async pruneAudit(before: string): Promise<number> {
    return (await this.query('DELETE FROM audit_log WHERE at < $1', [before])).rowCount ?? 0;
  }

  async claimEvents(now: string, leaseUntil: string, limit: number, channel = ''): Promise<OutboxEvent[]> {
    // one statement: the rows are locked as they are chosen (SKIP LOCKED: another node's choice is passed over, and
    // a row it has just leased fails the conditions when re-checked), so no event is leased to two nodes at once
    const { rows } = await this.query<OutboxRow>(
      `UPDATE event_outbox SET lease_until = $2
       WHERE seq IN (
         SELECT o.seq FROM event_outbox o
         WHERE o.channel = $4 AND o.delivered IS NULL AND o.dead IS NULL AND o.next_attempt <= $1 AND (o.lease_until IS NULL OR o.lease_until < $1)
           AND NOT EXISTS (SELECT 1 FROM event_outbox p WHERE p.stream = o.stream AND p.delivered IS NULL AND p.dead IS NULL AND p.seq < o.seq)
         ORDER BY o.seq LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING seq, channel, payload, attempts, last_error`,
      [now, leaseUntil, limit, channel],
    );
    return rows.sort((a, b) => a.seq - b.seq).map(toOutboxEvent);
  }

  async completeEvents(seqs: readonly number[], at: string): Promise<void> {
    if (seqs.length === 0) return;
    await this.query('UPDATE event_outbox SET delivered = $2, lease_until = NULL WHERE seq = ANY($1::bigint[]) AND delivered IS NULL', [seqs, at]);
  }

  async failEvent(seq: number, error: string, retryAt: string | undefined): Promise<void> {
    await this.query(
      `UPDATE event_outbox SET attempts = attempts + 1, last_error = $2, lease_until = NULL, next_attempt = coalesce($3, next_attempt),
         dead = CASE WHEN $3::text IS NULL THEN $4 ELSE NULL END
       WHERE seq = $1 AND delivered IS NULL`,
      [seq, error.slice(0, 1000), retryAt ?? null, new Date().toISOString()],
    );
  }

  async deadEvents(limit: number): Promise<OutboxEvent[]> {
    const { rows } = await this.query<OutboxRow>('SELECT seq, channel, payload, attempts, last_error FROM event_outbox WHERE dead IS NOT NULL ORDER BY seq LIMIT $1', [limit]);
    return rows.map(toOutboxEvent);
  }

  async retryDeadEvents(eventId?: string): Promise<number> {
    const { rowCount } = await this.query(
      'UPDATE event_outbox SET dead = NULL, attempts = 0, next_attempt = $1 WHERE dead IS NOT NULL AND ($2::text IS NULL OR id = $2)',
      [new Date().toISOString(), eventId ?? null],
    );
    return rowCount ?? 0;
  }

  async pruneEvents(before: string): Promise<number> {
    return (await this.query('DELETE FROM event_outbox WHERE delivered IS NOT NULL AND delivered < $1', [before])).rowCount ?? 0;
  }
}
