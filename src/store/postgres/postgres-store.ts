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
  QueryTimeout, StoreNotEmpty, StoreUnavailable, UniquenessViolation, UnknownMembers,
  type ChangeRecord, type CreateManyOptions, type Keyset, type OutboxEvent, type Membership, type Organization, type PatchChange, type ResourcePage, type ResourceQuery,
  type ResourceRef, type ResourceWrite, type SnapshotRecord, type Store, type StoredResource, type TokenRecord, type UniqueKey,
} from '../store.js';
import type { IndexEntry } from '../../core/filter/index-entries.js';
import type { AuditEntry, AuditQuery, AuditRecord } from '../../core/audit.js';
import { insertAudit, listAudit, type AuditWrite } from '../sql/audit.js';
import { listQueries, queryPaths } from '../sql/query-compiler.js';
import { indexRows, toAuditRecord, toOutboxEvent, toRef, toResource, toToken, type AuditRow, type OutboxRow, type ResourceRow, type TokenRow } from '../sql/rows.js';
import { outboxRows } from '../sql/outbox.js';
import { batches, created, EMPTINESS, importItems, nonEmptyTables, resourceWrite, rowInsert, snapshotSteps, type ImportItem, type ResourceMeta } from '../sql/snapshot.js';
import { POSTGRES } from './postgres-dialect.js';
import { MIGRATIONS } from './migrations.js';

export interface PostgresStoreOptions {
  /** Connections this process keeps open at most (pg's Pool `max`); see SCIMD_DB_POOL_SIZE. */
  readonly poolSize?: number;
  /** How long a connection (or a free pooled one) is waited for before StoreUnavailable; see SCIMD_DB_CONNECT_TIMEOUT. */
  readonly connectTimeoutSeconds?: number;
  /**
   * How long one statement may run before the server cancels it (QueryTimeout), so that a runaway query cannot hold
   * a connection of the pool; 0 for no limit. Default 30 s; see SCIMD_DB_STATEMENT_TIMEOUT. Migrations and ANALYZE
   * run without it.
   */
  readonly statementTimeoutMs?: number;
}

/** Any number that names scimd's migrations among other users of pg_advisory_xact_lock on the database. */
const MIGRATION_LOCK = 0x5c1d_0001;
/** deadlock_detected, serialization_failure: the whole transaction may simply run again. */
const TRANSIENT = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

/**
 * SQLSTATEs of a server going, gone or out of room for now: class 08 (connection exception), 57P01–57P03 (shutdown,
 * cannot connect now), class 53 (insufficient resources: too many connections, out of memory, disk full), which a
 * client should send again later rather than report as scimd's fault.
 */
const UNAVAILABLE_STATE = /^(08|53|57P0[123])/;
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** pg's own errors for a dropped connection and for the connect timeout, which carry no code. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * The store's edge: a driver error meaning the database is unreachable becomes StoreUnavailable, a statement
 * cancelled at the statement timeout QueryTimeout; others pass as they are.
 */
function translate(error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // query_canceled: by the statement timeout (scimd cancels nothing else)
  if (code === '57014') return new QueryTimeout(`the database cancelled a statement at the statement timeout: ${String(message)}`, { cause: error });
  const unavailable = (typeof code === 'string' && (UNAVAILABLE_STATE.test(code) || UNAVAILABLE_SOCKET.has(code)))
    || (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message));
  return unavailable ? new StoreUnavailable(`the database is unavailable: ${String(message)}`, { cause: error }) : error;
}

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
  private readonly paths = new Map<string, number>();
  private closed = false;
  /** Statistics upkeep (see grew): resources created here since the last ANALYZE, and the size it found. */
  private created = 0;
  private analyzedSize = 0;
  private analyzing: Promise<void> | undefined;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    // without a connect timeout, requests would hang while the server is unreachable instead of failing with 503
    const statementTimeout = options.statementTimeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: (options.connectTimeoutSeconds ?? 5) * 1000,
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
      types: TYPES,
    });
    // A connection the server drops emits 'error' on its client, idle or in use (once per failure: the message, then
    // the closed socket); an 'error' without a listener would crash the process. The failing query sees the error
    // itself, and the pool replaces the connection.
    this.pool.on('error', () => {});
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params.map(text));
    } catch (error) {
      throw translate(error);
    }
  }

  /**
   * Runs `work` in one transaction on one connection; a deadlock or serialization failure runs it again. A lost
   * connection does not: it may have been lost during COMMIT, after the write was applied, so it is StoreUnavailable.
   */
  private async transaction<T>(work: (c: Client) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    try {
      return await this.retrying(work, begin);
    } catch (error) {
      throw translate(error);
    }
  }

  private async retrying<T>(work: (c: Client) => Promise<T>, begin: string): Promise<T> {
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
      // a migration copies whole tables (an index upgrade at a million users takes minutes): no statement timeout
      await c.query('SET LOCAL statement_timeout = 0');
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
    await this.analyzing;
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
    const { sql, params } = rowInsert({ kind: 'token', ...t }, POSTGRES);
    await this.query(sql, [...params]);
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
    await this.knowPaths(write.index);
    const resource = await this.transaction(async (c) => {
      const written = await this.insertResource(c, orgId, resourceType, scope, id, created(at), write);
      await this.count(c, orgId, resourceType, 1);
      return written;
    });
    this.grew(1);
    return resource;
  }

  async createResources(
    orgId: string,
    resourceType: string,
    at: string,
    items: readonly { readonly id: string; readonly write: ResourceWrite }[],
    options: CreateManyOptions = {},
  ): Promise<(StoredResource | UniquenessViolation | UnknownMembers)[]> {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths(items.flatMap((i) => i.write.index));
    const results = await this.transaction(async (c) => {
      // Most batches have no bad item: write them in a few statements for all of them (round trips per batch, not
      // per item). When an item fails, that attempt rolls back whole and the batch is written again
      // item by item. Groups go item by item: their members are checked and locked one group at a time.
      if (items.length > 1 && items.every((item) => !item.write.membership)) {
        await c.query('SAVEPOINT batch');
        try {
          const written = await this.insertBatch(c, orgId, resourceType, scope, at, items);
          await c.query('RELEASE SAVEPOINT batch');
          await this.count(c, orgId, resourceType, written.length);
          return written;
        } catch (e) {
          if (!(e instanceof UniquenessViolation)) throw e;
          await c.query('ROLLBACK TO SAVEPOINT batch');
        }
      }
      const results: (StoredResource | UniquenessViolation | UnknownMembers)[] = [];
      let failed = 0;
      for (const { id, write } of items) {
        if (options.stopAfterErrors !== undefined && failed >= options.stopAfterErrors) break;
        // a savepoint per item: a failed item rolls back alone
        await c.query('SAVEPOINT item');
        try {
          results.push(await this.insertResource(c, orgId, resourceType, scope, id, created(at), write));
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
    this.grew(results.filter((r) => !(r instanceof Error)).length);
    return results;
  }

  /**
   * Counts resources this process created, and refreshes the planner's statistics (ANALYZE, in the background) once
   * they are a fifth more than the directory had at the last refresh (at least 1,000). Without statistics, right after
   * a first load and before autovacuum comes round (a minute or more), PostgreSQL plans a filter as a scan of every
   * resource: 30 ms at 10,000 users, seconds at a million.
   */
  private grew(n: number): void {
    this.created += n;
    if (this.analyzing || this.created < Math.max(1000, this.analyzedSize / 5)) return;
    this.created = 0;
    this.analyzing = (async () => {
      try {
        await this.transaction(async (c) => {
          await c.query('SET LOCAL statement_timeout = 0'); // it reads a sample of every table: long at scale
          await c.query('ANALYZE resources, attribute_str, attribute_num, unique_values, group_members');
        });
        this.analyzedSize = (await this.query<{ n: number }>("SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'resources'")).rows[0]?.n ?? 0;
      } catch {
        // statistics are an optimisation: autovacuum refreshes them anyway
      } finally {
        this.analyzing = undefined;
      }
    })();
  }

  /** Resources without members, all in one statement per table; a taken unique value throws (roll back to retry). */
  private async insertBatch(
    c: Client, orgId: string, resourceType: string, scope: number, at: string, items: readonly { readonly id: string; readonly write: ResourceWrite }[],
  ): Promise<StoredResource[]> {
    const { rows } = await c.query<{ seq: number; id: string }>(
      `INSERT INTO resources (org_id, resource_type, id, version, created, last_modified, display, data)
       SELECT $1, $2, t.id, 1, $3, $3, t.display, t.data FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS t (id, display, data, n)
       ORDER BY t.n RETURNING seq, id`,
      [orgId, resourceType, at, items.map((i) => i.id), items.map((i) => i.write.display ?? null), items.map((i) => JSON.stringify(i.write.attributes))],
    );
    const seqOf = new Map(rows.map((r) => [r.id, r.seq]));
    await this.insertIndex(c, scope, items.map((i) => ({ seq: seqOf.get(i.id)!, entries: i.write.index })));
    const taken = await this.claimUniqueKeys(c, orgId, resourceType, items.flatMap((i) => i.write.uniqueKeys.map((k) => ({ id: i.id, ...k }))));
    if (taken) throw new UniquenessViolation(taken.attribute);
    await this.insertRecords(c, items.map((i) => ({ record: i.write.record, version: 1, added: [], removed: [] })));
    return items.map(({ id, write }) => ({ orgId, resourceType, id, version: 1, created: at, lastModified: at, attributes: write.attributes }));
  }

  /** Call inside a transaction: a throw leaves nothing of this resource behind. */
  private async insertResource(c: Client, orgId: string, resourceType: string, scope: number, id: string, meta: ResourceMeta, write: ResourceWrite): Promise<StoredResource> {
    const values = [orgId, resourceType, id, meta.version, meta.created, meta.lastModified, write.display ?? null, JSON.stringify(write.attributes)];
    const { rows } = await c.query<{ seq: number }>(
      meta.position === undefined
        ? `INSERT INTO resources (org_id, resource_type, id, version, created, last_modified, display, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq`
        : `INSERT INTO resources (org_id, resource_type, id, version, created, last_modified, display, data, seq) OVERRIDING SYSTEM VALUE
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq`,
      meta.position === undefined ? values : [...values, meta.position],
    );
    await this.insertIndex(c, scope, [{ seq: rows[0]!.seq, entries: write.index }]);
    await this.insertUniqueKeys(c, orgId, resourceType, id, write.uniqueKeys);
    const added = write.membership ? await this.addMembers(c, orgId, id, write.membership) : [];
    await this.insertRecord(c, write.record, meta.version, added, []);
    return { orgId, resourceType, id, version: meta.version, created: meta.created, lastModified: meta.lastModified, attributes: write.attributes };
  }

  async getResource(orgId: string, resourceType: string, id: string): Promise<StoredResource | undefined> {
    const row = (await this.query<ResourceRow>('SELECT * FROM resources WHERE org_id = $1 AND resource_type = $2 AND id = $3', [orgId, resourceType, id])).rows[0];
    return row && toResource(row);
  }

  async replaceResource(
    orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite, expectedVersion?: number,
  ): Promise<StoredResource | 'conflict' | undefined> {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths(write.index);
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
    await this.knowPaths([...(change.write?.index ?? []), ...change.touch]);
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
      const keys = [seq, change.touch.map((e) => this.pathId(e.path)), change.touch.map((e) => e.ordinal)];
      for (const table of ['attribute_str', 'attribute_num']) {
        await c.query(`DELETE FROM ${table} WHERE resource_seq = $1 AND (path, ordinal) IN (SELECT * FROM unnest($2::integer[], $3::integer[]))`, keys);
      }
      await this.insertIndex(c, scope, [{ seq, entries: change.touch }]);
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
    const { count, page } = listQueries(orgId, resourceType, query, POSTGRES, await this.lookUpPaths(queryPaths(query)));
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
    await this.insertIndex(c, scope, [{ seq, entries: write.index }]);
    await c.query('DELETE FROM unique_values WHERE org_id = $1 AND resource_id = $2', [orgId, id]);
    await this.insertUniqueKeys(c, orgId, resourceType, id, write.uniqueKeys);
  }

  /** The index rows of any number of resources of one scope, in one statement per table. */
  private async insertIndex(c: Client, scope: number, resources: readonly { seq: number; entries: readonly IndexEntry[] }[]): Promise<void> {
    const split = resources.map((r) => ({ seq: r.seq, ...indexRows(r.entries) }));
    for (const [table, column, type, kind] of [['attribute_str', 'str', 'text', 'strs'], ['attribute_num', 'num', 'float8', 'nums']] as const) {
      const rows = split.flatMap((r) => r[kind].map((x) => ({ seq: r.seq, ...x })));
      if (rows.length === 0) continue;
      await c.query(
        `INSERT INTO ${table} (scope, resource_seq, path, ordinal, ${column})
         SELECT $1, t.* FROM unnest($2::bigint[], $3::integer[], $4::integer[], $5::${type}[]) AS t`,
        [scope, rows.map((r) => r.seq), rows.map((r) => this.pathId(r.path)), rows.map((r) => r.ordinal), rows.map((r) => r.value)],
      );
    }
  }

  /**
   * The index scope of (organization, resource type): made on first use outside the write's transaction, so that a
   * write rolled back cannot take away a scope already remembered (scopes are never deleted). The SELECT is a
   * statement of its own: it sees a scope that a concurrent node committed while the INSERT waited for it. A restore
   * makes its scopes inside its own transaction (`c`), after the organizations it has just written.
   */
  private async scopeOf(orgId: string, resourceType: string, inside?: Client): Promise<number> {
    const c: Client = inside ?? { query: (sql, params = []) => this.query(sql, [...params]) };
    const key = `${orgId}\u0000${resourceType}`;
    let id = this.scopes.get(key);
    if (id === undefined) {
      await c.query('INSERT INTO index_scopes (org_id, resource_type) VALUES ($1, $2) ON CONFLICT DO NOTHING', [orgId, resourceType]);
      id = (await c.query<{ id: number }>('SELECT id FROM index_scopes WHERE org_id = $1 AND resource_type = $2', [orgId, resourceType])).rows[0]!.id;
      this.scopes.set(key, id);
    }
    return id;
  }

  /**
   * Makes sure every path of the entries has its id in index_paths (index rows name their path by it): new paths
   * are added outside the write's transaction and remembered once committed, as scopes are; the SELECT sees a path
   * that a concurrent node committed while the INSERT waited for it.
   */
  private async knowPaths(entries: readonly IndexEntry[]): Promise<void> {
    const unknown = [...new Set(entries.map((e) => e.path))].filter((p) => !this.paths.has(p));
    if (unknown.length === 0) return;
    await this.query('INSERT INTO index_paths (path) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING', [unknown]);
    await this.lookUpPaths(unknown);
  }

  /** The known index paths, with those of `paths` that another node has added since looked up. */
  private async lookUpPaths(paths: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const unknown = paths.filter((p) => !this.paths.has(p));
    if (unknown.length > 0) {
      const rows = (await this.query<{ id: number; path: string }>('SELECT id, path FROM index_paths WHERE path = ANY($1::text[])', [unknown])).rows;
      for (const r of rows) this.paths.set(r.path, r.id);
    }
    return this.paths;
  }

  /** The id of an index path that knowPaths has made sure of. */
  private pathId(path: string): number {
    const id = this.paths.get(path);
    if (id === undefined) throw new Error(`index path "${path}" written before knowPaths`);
    return id;
  }

  private async insertUniqueKeys(c: Client, orgId: string, resourceType: string, id: string, keys: readonly UniqueKey[]): Promise<void> {
    const taken = await this.claimUniqueKeys(c, orgId, resourceType, keys.map((k) => ({ id, ...k })));
    // throwing inside the transaction rolls back everything written so far in it
    if (taken) throw new UniquenessViolation(taken.attribute);
  }

  /** Claims the unique values of any number of resources; the first that was taken, if any. */
  private async claimUniqueKeys(c: Client, orgId: string, resourceType: string, keys: readonly (UniqueKey & { id: string })[]): Promise<UniqueKey | undefined> {
    if (keys.length === 0) return undefined;
    // a value another transaction is claiming makes this insert wait for it; a value taken is skipped, not returned.
    // Claimed in one order everywhere, so two batches wait on each other's values without deadlocking.
    keys = [...keys].sort((a, b) => (a.attribute < b.attribute ? -1 : a.attribute > b.attribute ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    const { rows } = await c.query<{ attribute: string; value: string; resource_id: string }>(
      `INSERT INTO unique_values (org_id, resource_type, attribute, value, value_sha256, resource_id)
       SELECT $1, $2, k.attribute, k.value, sha256(convert_to(k.value, 'UTF8')), k.id FROM unnest($3::text[], $4::text[], $5::text[]) AS k (attribute, value, id)
       ON CONFLICT DO NOTHING RETURNING attribute, value, resource_id`,
      [orgId, resourceType, keys.map((k) => k.attribute), keys.map((k) => k.value), keys.map((k) => k.id)],
    );
    const claimed = new Set(rows.map((r) => `${r.resource_id}\0${r.attribute}\0${r.value}`));
    // compared as stored (see `text`)
    return keys.find((k) => !claimed.has(`${k.id}\0${k.attribute}\0${text(k.value) as string}`));
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
    await this.insertRecords(c, [{ record, version, added, removed }]);
  }

  /** The audit entries and events of any number of writes, in one statement each (shared SQL: sql/audit.ts). */
  private async insertRecords(c: Client, writes: readonly { record: ChangeRecord | undefined; version: number; added: readonly string[]; removed: readonly string[] }[]): Promise<void> {
    const audits = writes.flatMap((w) => (w.record?.audit ? [{ entry: w.record.audit, version: w.version, added: w.added, removed: w.removed }] : []));
    if (audits.length > 0) await this.insertAudit(c, audits);
    const events = writes.flatMap((w) => (w.record ? outboxRows(w.record, w.added, w.removed) : []));
    if (events.length === 0) return;
    await c.query(
      `INSERT INTO event_outbox (id, channel, stream, payload, next_attempt)
       SELECT e.id, e.channel, e.stream, e.payload, e.at FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS e (id, channel, stream, payload, at, n)
       ORDER BY e.n`,
      [events.map((e) => e.id), events.map((e) => e.channel), events.map((e) => e.stream), events.map((e) => e.payload), events.map((e) => e.at)],
    );
  }

  /** In chunks: a statement takes at most 65,535 parameters (14 an entry). */
  private async insertAudit(c: Client, rows: readonly AuditWrite[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 4000) {
      const { sql, params } = insertAudit(rows.slice(i, i + 4000), POSTGRES);
      await c.query(sql, params as unknown[]);
    }
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.transaction((c) => this.insertAudit(c, entries.map((entry) => ({ entry, version: undefined, added: [], removed: [] }))));
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

  async *exportSnapshot(): AsyncGenerator<SnapshotRecord> {
    // one connection, one snapshot for every batch; writers on other connections neither see it nor wait for it
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const steps = snapshotSteps(POSTGRES);
      for (let step = steps.next(); !step.done;) {
        const s = step.value;
        if ('records' in s) yield* s.records;
        step = 'query' in s ? steps.next((await client.query(s.query.sql, [...s.query.params])).rows) : steps.next();
      }
    } finally {
      // read only: ending it by ROLLBACK loses nothing, also when the reader stopped early
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      client.release(broken);
    }
  }

  async importSnapshot(records: AsyncIterable<SnapshotRecord>): Promise<void> {
    let first = true;
    for await (const batch of batches(records)) {
      const items = importItems(batch);
      await this.knowPaths(items.flatMap((i) => (i.kind === 'resource' ? i.index : [])));
      await this.transaction(async (c) => {
        if (first) {
          const holds = nonEmptyTables((await c.query<Record<string, number>>(EMPTINESS)).rows[0]!);
          if (holds) throw new StoreNotEmpty(holds);
        }
        await this.importBatch(c, items);
      });
      first = false;
    }
  }

  private async importBatch(c: Client, items: readonly ImportItem[]): Promise<void> {
    const counts = new Map<string, { orgId: string; resourceType: string; n: number }>();
    for (const item of items) {
      if (item.kind === 'resource') {
        const scope = await this.scopeOf(item.orgId, item.resourceType, c);
        await this.insertResource(c, item.orgId, item.resourceType, scope, item.id, item, resourceWrite(item));
        const key = `${item.orgId}\u0000${item.resourceType}`;
        counts.set(key, { orgId: item.orgId, resourceType: item.resourceType, n: (counts.get(key)?.n ?? 0) + 1 });
      } else if (item.kind === 'members') await this.addMembers(c, item.orgId, item.groupId, { ids: item.ids, allowedTypes: item.types });
      else {
        const { sql, params } = rowInsert(item, POSTGRES);
        await c.query(sql, params);
      }
    }
    for (const { orgId, resourceType, n } of counts.values()) await this.count(c, orgId, resourceType, n);
    // rows were written with their own seq: the next new row must come after them
    for (const table of ['resources', 'audit_log', 'event_outbox']) {
      await c.query(`SELECT setval(pg_get_serial_sequence('${table}', 'seq'), max(seq)) FROM ${table} HAVING max(seq) IS NOT NULL`);
    }
  }
}
