/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode so readers never wait for the writer and other
 * processes (`scimd token create`) can use the same file while a server runs. better-sqlite3 is synchronous; the
 * methods are async to honour the Store contract that PostgreSQL shares, and because a large batch of creates is
 * written on the writer thread (writer-thread.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  StoreNotEmpty, UniquenessViolation, UnknownMembers,
  type ChangeRecord, type CreateManyOptions, type Keyset, type OutboxEvent, type Membership, type Organization, type PatchChange, type ResourcePage, type ResourceQuery,
  type ResourceRef, type ResourceWrite, type Store,
  type SnapshotRecord, type StoredResource, type TokenRecord, type UniqueKey,
} from '../store.js';
import { MIGRATIONS } from './migrations.js';
import type { IndexEntry } from '../../core/filter/index-entries.js';
import type { AuditEntry, AuditQuery, AuditRecord } from '../../core/audit.js';
import { AUDIT_COLUMNS, auditValues, listAudit } from '../sql/audit.js';
import { outboxRows } from '../sql/outbox.js';
import { listQueries, queryPaths } from '../sql/query-compiler.js';
import { indexRows, toAuditRecord, toOutboxEvent, toRef, toResource, toToken, type AuditRow, type IndexRow, type OutboxRow, type ResourceRow, type TokenRow } from '../sql/rows.js';
import { batches, created, EMPTINESS, importItems, nonEmptyTables, resourceWrite, rowInsert, snapshotSteps, type ResourceMeta } from '../sql/snapshot.js';
import { SQLITE } from './sqlite-dialect.js';
import { GroupCommit } from './group-commit.js';
import { WriterThread } from './writer-thread.js';

/** SQLite's default limit on bound parameters is 32766; chunks of 500 stay far below it. */
const CHUNK = 500;
/** Statements of request-shaped queries kept prepared (see query()). */
const QUERY_STATEMENTS = 256;
/** Rows a multi-row INSERT carries (5 to 14 parameters a row); the statements for each count are cached. */
const ROWS_PER_STATEMENT = 64;

/** What the creates of one transaction leave for createdWith to write at its end (index rows flat, 5 values each). */
interface CreatedRows {
  readonly str: unknown[];
  readonly num: unknown[];
  /** audit_log rows flat, in the order of AUDIT_COLUMNS. */
  readonly audit: unknown[];
  /** Unique values claimed, flat (scope, attribute's path id, value, resource_seq, …). */
  readonly unique: unknown[];
  /** Resources created, by index scope (an organization's resource type). */
  readonly counts: Map<number, { readonly orgId: string; readonly resourceType: string; n: number }>;
}

/** The index tables are attribute_str and attribute_num, each named after its value column. */
type IndexColumn = 'str' | 'num';

/**
 * A create as this store writes it, every value made (it crosses to the writer thread as plain data): the resources
 * row, the index rows flat (path id, value, ordinal, …), the unique values flat (attribute's path id, value, …), the
 * audit_log row and the outbox rows. A create's membership change is known before it is written (every member is
 * added, or an unknown one fails it), so its audit entry and member events are too.
 */
export interface CreateRow {
  /** seq (null: the next one), id, version, created, last_modified, display, data. */
  readonly resource: readonly unknown[];
  readonly strs: readonly unknown[];
  readonly nums: readonly unknown[];
  readonly unique: readonly unknown[];
  /** In the order of AUDIT_COLUMNS. */
  readonly audit?: readonly unknown[];
  /** Flat (id, channel, stream, payload, next_attempt, …). */
  readonly events: readonly unknown[];
  readonly membership?: Membership;
}

/** Creates of one resource type written together (createResources). */
export interface CreateBatch {
  readonly orgId: string;
  readonly resourceType: string;
  readonly scope: number;
  readonly rows: readonly CreateRow[];
  readonly stopAfterErrors?: number;
}

export type CreateOutcome = 'created' | UniquenessViolation | UnknownMembers;

export interface SqliteStoreOptions {
  /**
   * Where the writer thread's compiled entry is (writer-thread-entry.js), or false for none. By default the one
   * beside this module when it is compiled JavaScript; none when it runs as TypeScript (a test runner's transform,
   * which a worker thread does not have).
   */
  readonly writerThread?: URL | false;
  /** The fewest creates of one batch written on the writer thread (default WRITER_THREAD_MIN_ITEMS). */
  readonly writerThreadMinItems?: number;
}

/**
 * Below this many creates a batch is written on the event loop, where a lone write or a small batch loses nothing
 * to the hand-over (copying the batch, a message each way). Chosen, not measured: loads of 1,000-create batches
 * were, and gained (README, Performance).
 */
const WRITER_THREAD_MIN_ITEMS = 64;
const AUDIT_WIDTH = AUDIT_COLUMNS.split(',').length;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly queries = new Map<string, Database.Statement>();
  private readonly commits: GroupCommit;
  private readonly scopes = new Map<string, number>();
  private readonly paths = new Map<string, number>();

  private readonly writer: WriterThread | undefined;
  private readonly writerMinItems: number;

  constructor(private readonly filename: string, options: SqliteStoreOptions = {}) {
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    this.db = new Database(filename);
    this.db.pragma('journal_mode = WAL');
    // FULL: a write acknowledged to the client survives power loss, not only a process crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.commits = new GroupCommit(this.db);
    // another connection cannot open an in-memory database
    const entry = options.writerThread ?? (import.meta.url.endsWith('.js') && new URL('./writer-thread-entry.js', import.meta.url));
    this.writer = entry && filename !== ':memory:' ? new WriterThread(filename, entry) : undefined;
    this.writerMinItems = options.writerThreadMinItems ?? WRITER_THREAD_MIN_ITEMS;
  }

  /** A write, in the group commit (see group-commit.ts): atomic on its own, settled once it is on disk. */
  private write<T>(work: () => T): Promise<T> {
    return this.commits.run(work);
  }

  private sql(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  /**
   * A query compiled from a request (a filter's shape, an audit query's conditions), from a cache that keeps the
   * QUERY_STATEMENTS used last: the shapes in use are few, and preparing one costs as much as running it, but
   * every distinct filter shape is a statement, so the cache is bounded.
   */
  private query(text: string): Database.Statement {
    let s = this.queries.get(text);
    if (s) this.queries.delete(text);
    else {
      s = this.db.prepare(text);
      if (this.queries.size >= QUERY_STATEMENTS) this.queries.delete(this.queries.keys().next().value!);
    }
    this.queries.set(text, s); // the most recently used last
    return s;
  }

  async migrate(): Promise<void> {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)');
    this.db.transaction(() => {
      const done = new Set(
        (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      }
    }).immediate();
  }

  async ping(): Promise<void> {
    this.sql('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.writer?.close();
    if (this.db.open) this.db.close();
  }

  async ensureOrganization(name: string): Promise<Organization> {
    return this.db.transaction(() => {
      const found = this.sql('SELECT id, name, created FROM organizations WHERE name = ?').get(name) as Organization | undefined;
      if (found) return found;
      const org: Organization = { id: crypto.randomUUID(), name, created: new Date().toISOString() };
      this.sql('INSERT INTO organizations (id, name, created) VALUES (?, ?, ?)').run(org.id, org.name, org.created);
      return org;
    }).immediate();
  }

  async organizations(): Promise<Organization[]> {
    return this.sql('SELECT id, name, created FROM organizations ORDER BY created, name').all() as Organization[];
  }

  async createToken(t: TokenRecord): Promise<void> {
    this.run(rowInsert({ kind: 'token', ...t }, SQLITE));
  }

  private run({ sql, params }: { sql: string; params: readonly unknown[] }): void {
    this.sql(sql).run(...params);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const row = this.sql('SELECT * FROM tokens WHERE hash = ?').get(hash) as TokenRow | undefined;
    return row && toToken(row);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (this.sql('SELECT * FROM tokens ORDER BY created, id').all() as TokenRow[]).map(toToken);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    return this.sql('UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL').run(at, id).changes > 0;
  }

  async touchToken(id: string, at: string): Promise<void> {
    this.sql('UPDATE tokens SET last_used = ? WHERE id = ?').run(at, id);
  }

  async createResource(orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite): Promise<StoredResource> {
    const scope = this.scopeOf(orgId, resourceType);
    this.knowPaths([write]);
    const meta = created(at);
    const row = this.createRow(id, meta, write);
    await this.write(() => this.createdWith((rows) => this.insertResource(orgId, resourceType, scope, row, rows)));
    return stored(orgId, resourceType, meta, id, write);
  }

  async createResources(
    orgId: string,
    resourceType: string,
    at: string,
    items: readonly { readonly id: string; readonly write: ResourceWrite }[],
    options: CreateManyOptions = {},
  ): Promise<(StoredResource | UniquenessViolation | UnknownMembers)[]> {
    const scope = this.scopeOf(orgId, resourceType);
    this.knowPaths(items.map((i) => i.write));
    const meta = created(at);
    const batch: CreateBatch = {
      orgId, resourceType, scope,
      rows: items.map(({ id, write }) => this.createRow(id, meta, write)),
      ...(options.stopAfterErrors !== undefined ? { stopAfterErrors: options.stopAfterErrors } : {}),
    };
    // A large batch is written on the writer thread: the event loop meanwhile checks and plans the next request.
    const writer = items.length >= this.writerMinItems ? this.writer : undefined;
    const outcomes = writer
      ? await this.commits.exclusive(() => writer.write(batch))
      : await this.write(() => this.writeCreateBatch(batch));
    return outcomes.map((o, i) => (o === 'created' ? stored(orgId, resourceType, meta, items[i]!.id, items[i]!.write) : o));
  }

  /** Writes a batch of creates in a transaction of its own and commits it: the writer thread's way (writer-thread-entry.ts). */
  commitCreateBatch(batch: CreateBatch): CreateOutcome[] {
    return this.db.transaction(() => this.writeCreateBatch(batch)).immediate();
  }

  /**
   * Writes a batch of creates inside the caller's transaction, in one go when no item fails, without a savepoint per
   * item (a sixth of the time). When an item fails, that attempt rolls back whole and the batch is written again
   * item by item, so that each failure is its own item's.
   */
  private writeCreateBatch({ orgId, resourceType, scope, rows: batch, stopAfterErrors }: CreateBatch): CreateOutcome[] {
    const insert = (row: CreateRow, rows: CreatedRows): 'created' => (this.insertResource(orgId, resourceType, scope, row, rows), 'created');
    // nested in a transaction, a transaction function is a savepoint
    try {
      return this.db.transaction(() => this.createdWith((rows) => batch.map((row) => insert(row, rows))))();
    } catch (e) {
      if (!(e instanceof UniquenessViolation || e instanceof UnknownMembers)) throw e;
    }
    const one = this.db.transaction((row: CreateRow) => this.createdWith((rows) => insert(row, rows)));
    const stopAfter = stopAfterErrors ?? Infinity;
    const results: CreateOutcome[] = [];
    let failed = 0;
    for (const row of batch) {
      if (failed >= stopAfter) break;
      try {
        results.push(one(row));
      } catch (e) {
        if (!(e instanceof UniquenessViolation || e instanceof UnknownMembers)) throw e;
        results.push(e);
        failed++;
      }
    }
    return results;
  }

  /** A create as this store writes it (CreateRow). */
  private createRow(id: string, meta: ResourceMeta, write: ResourceWrite): CreateRow {
    const strs: unknown[] = [];
    const nums: unknown[] = [];
    for (const { path, ordinal, str, num } of write.index) {
      if (num === undefined) strs.push(this.pathId(path), str ?? '', ordinal);
      else nums.push(this.pathId(path), num, ordinal);
    }
    // a new group's members are all added (addMembers refuses the write when one is unknown)
    const added = write.membership ? [...new Set(write.membership.ids)] : [];
    const { record } = write;
    return {
      resource: [meta.position ?? null, id, meta.version, meta.created, meta.lastModified, write.display ?? null, JSON.stringify(write.attributes)],
      strs, nums,
      unique: write.uniqueKeys.flatMap((k) => [this.pathId(k.attribute), k.value]),
      ...(record?.audit ? { audit: auditValues({ entry: record.audit, version: meta.version, added, removed: [] }) } : {}),
      events: outboxValues(record, added, []),
      ...(write.membership ? { membership: write.membership } : {}),
    };
  }

  /**
   * Runs `create` (inside a transaction) and then writes the rows it collected: the creates' index rows, audit entries
   * and count in a few multi-row statements, not twenty-odd statements a resource. A throw writes none of them.
   */
  private createdWith<T>(create: (rows: CreatedRows) => T): T {
    const rows: CreatedRows = { str: [], num: [], audit: [], unique: [], counts: new Map() };
    const result = create(rows);
    this.claimUniqueValues(rows.unique);
    this.insertRowsOf('str', rows.str);
    this.insertRowsOf('num', rows.num);
    this.insertAuditValues(rows.audit);
    const count = this.sql('INSERT INTO resource_counts (org_id, resource_type, n) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n');
    for (const c of rows.counts.values()) count.run(c.orgId, c.resourceType, c.n);
    return result;
  }

  /** Call inside createdWith: a throw leaves nothing of this resource behind. */
  private insertResource(orgId: string, resourceType: string, scope: number, row: CreateRow, rows: CreatedRows): void {
    const { lastInsertRowid } = this.sql(
      `INSERT INTO resources (org_id, resource_type, seq, id, version, created, last_modified, display, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(orgId, resourceType, ...row.resource);
    const seq = Number(lastInsertRowid);
    for (let i = 0; i < row.strs.length; i += 3) rows.str.push(scope, row.strs[i], row.strs[i + 1], seq, row.strs[i + 2]);
    for (let i = 0; i < row.nums.length; i += 3) rows.num.push(scope, row.nums[i], row.nums[i + 1], seq, row.nums[i + 2]);
    for (let i = 0; i < row.unique.length; i += 2) rows.unique.push(scope, row.unique[i], row.unique[i + 1], seq);
    if (row.membership) this.addMembers(orgId, row.resource[1] as string /* the id */, row.membership);
    const counted = rows.counts.get(scope);
    if (counted) counted.n++;
    else rows.counts.set(scope, { orgId, resourceType, n: 1 });
    if (row.audit) rows.audit.push(...row.audit);
    this.insertEventValues(row.events);
  }

  async getResource(orgId: string, resourceType: string, id: string): Promise<StoredResource | undefined> {
    const row = this.sql('SELECT * FROM resources WHERE org_id = ? AND resource_type = ? AND id = ?').get(orgId, resourceType, id) as
      | ResourceRow
      | undefined;
    return row && toResource(row);
  }

  async replaceResource(
    orgId: string,
    resourceType: string,
    id: string,
    at: string,
    write: ResourceWrite,
    expectedVersion?: number,
  ): Promise<StoredResource | 'conflict' | undefined> {
    const scope = this.scopeOf(orgId, resourceType);
    this.knowPaths([write]);
    return this.write(() => {
      const current = this.versionOf(orgId, resourceType, id);
      if (current === undefined) return undefined;
      if (expectedVersion !== undefined && current.version !== expectedVersion) return 'conflict';
      const row = this.sql('UPDATE resources SET version = version + 1, last_modified = ?, display = ?, data = ? WHERE seq = ? RETURNING *')
        .get(at, write.display ?? null, JSON.stringify(write.attributes), current.seq) as ResourceRow;
      this.rewriteIndexAndKeys(row.seq, scope, write);
      const members = write.membership ? this.replaceMembers(orgId, id, write.membership) : { added: [], removed: [] };
      this.insertRecord(write.record, row.version, members.added, members.removed);
      return toResource(row);
    });
  }

  async patchResource(orgId: string, resourceType: string, id: string, at: string, change: PatchChange): Promise<StoredResource | 'conflict' | undefined> {
    const scope = this.scopeOf(orgId, resourceType);
    this.knowPaths([change.write ?? {}, { index: change.touch }]);
    return this.write(() => {
      const row = this.versionOf(orgId, resourceType, id);
      if (!row) return undefined;
      if (change.expectedVersion !== undefined && row.version !== change.expectedVersion) return 'conflict';
      let changed = false;
      if (change.write) {
        const w = change.write;
        this.sql('UPDATE resources SET display = ?, data = ? WHERE seq = ?').run(w.display ?? null, JSON.stringify(w.attributes), row.seq);
        this.rewriteIndexAndKeys(row.seq, scope, w);
        changed = true;
      }
      const m = change.members;
      const added: string[] = [];
      const removed: string[] = [];
      if (m) {
        const remove = this.sql('DELETE FROM group_members WHERE org_id = ? AND group_id = ? AND member_id = ?');
        // clearing before adding removes only those not added back, so replacing the members by the same set is no change
        const kept = new Set(m.add);
        const leaving = m.clear ? (this.sql('SELECT member_id FROM group_members WHERE org_id = ? AND group_id = ?').pluck().all(orgId, id) as string[]).filter((x) => !kept.has(x)) : m.remove;
        for (const member of leaving) if (remove.run(orgId, id, member).changes > 0) removed.push(member);
        if (m.add.length > 0) added.push(...this.addMembers(orgId, id, { ids: m.add, allowedTypes: m.allowedTypes }));
        changed = changed || added.length > 0 || removed.length > 0;
      }
      let result: ResourceRow;
      if (!changed) {
        result = this.sql('SELECT * FROM resources WHERE seq = ?').get(row.seq) as ResourceRow;
      } else {
        if (!change.write) this.replaceIndexEntries(row.seq, scope, change.touch);
        result = this.sql('UPDATE resources SET version = version + 1, last_modified = ? WHERE seq = ? RETURNING *').get(at, row.seq) as ResourceRow;
      }
      this.insertRecord(change.record, result.version, added, removed);
      return toResource(result);
    });
  }

  async deleteResource(orgId: string, resourceType: string, id: string, expectedVersion?: number, record?: ChangeRecord): Promise<boolean | 'conflict'> {
    return this.write(() => {
      const gone = this.versionOf(orgId, resourceType, id);
      if (!gone) return false;
      if (expectedVersion !== undefined && gone.version !== expectedVersion) return 'conflict';
      this.sql('DELETE FROM resources WHERE seq = ?').run(gone.seq);
      this.sql('UPDATE resource_counts SET n = n - 1 WHERE org_id = ? AND resource_type = ?').run(orgId, resourceType);
      this.sql('DELETE FROM attribute_str WHERE resource_seq = ?').run(gone.seq);
      this.sql('DELETE FROM attribute_num WHERE resource_seq = ?').run(gone.seq);
      this.sql('DELETE FROM unique_claims WHERE resource_seq = ?').run(gone.seq);
      this.sql('DELETE FROM group_members WHERE org_id = ? AND group_id = ?').run(orgId, id);
      this.sql('DELETE FROM group_members WHERE org_id = ? AND member_id = ?').run(orgId, id);
      this.insertRecord(record, gone.version, [], []);
      return true;
    });
  }

  async listResources(orgId: string, resourceType: string, query: ResourceQuery): Promise<ResourcePage> {
    const { count, page } = listQueries(orgId, resourceType, query, SQLITE, this.lookUpPaths(queryPaths(query)));
    return this.db.transaction(() => {
      const { total } = this.query(count.sql).get(...count.params) as { total: number };
      if (query.limit === 0) return { total, resources: [], keysets: [] };
      const rows = this.query(page.sql).all(...page.params) as (ResourceRow & { sort_key?: string | number | null })[];
      // a `before` page is read backwards from its anchor; give it back in the query's order
      if (query.before) rows.reverse();
      const keysets: Keyset[] = rows.map((r) => (query.sort ? { key: r.sort_key ?? null, position: r.seq } : { position: r.seq }));
      return { total, resources: rows.map(toResource), keysets };
    })();
  }

  async countRequests(key: string, window: number, n: number): Promise<number> {
    return this.write(() => {
      this.sql('DELETE FROM request_counts WHERE key = ? AND window < ?').run(key, window - 1);
      return (this.sql('INSERT INTO request_counts (key, window, n) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n RETURNING n')
        .get(key, window, n) as { n: number }).n;
    });
  }

  async secret(name: string): Promise<Buffer> {
    const read = () => this.sql('SELECT value FROM secrets WHERE name = ?').get(name) as { value: Buffer } | undefined;
    const found = read();
    if (found) return found.value;
    // another process may make it first: the first one written is the one
    this.sql('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING').run(name, randomBytes(32));
    return read()!.value;
  }

  // CROSS JOIN keeps the membership outermost: the relation is read by index, then each resource by id (without it
  // SQLite may walk every resource of the organization, which made creating a user O(users)).
  async members(orgId: string, groupId: string): Promise<ResourceRef[]> {
    const rows = this.sql(
      `SELECT m.member_id AS value, m.member_type AS resourceType, r.display AS display
       FROM group_members m CROSS JOIN resources r ON r.org_id = m.org_id AND r.resource_type = m.member_type AND r.id = m.member_id
       WHERE m.org_id = ? AND m.group_id = ? ORDER BY m.rowid`,
    ).all(orgId, groupId) as { value: string; resourceType: string; display: string | null }[];
    return rows.map(toRef);
  }

  async groupsOf(orgId: string, memberIds: readonly string[]): Promise<Map<string, ResourceRef[]>> {
    const out = new Map<string, ResourceRef[]>();
    for (let i = 0; i < memberIds.length; i += CHUNK) {
      const chunk = memberIds.slice(i, i + CHUNK);
      const rows = this.sql(
        `SELECT m.member_id AS member, m.group_id AS value, r.resource_type AS resourceType, r.display AS display
         FROM group_members m CROSS JOIN resources r ON r.org_id = m.org_id AND r.id = m.group_id
         WHERE m.org_id = ? AND m.member_id IN (${chunk.map(() => '?').join(', ')}) ORDER BY m.rowid`,
      ).all(orgId, ...chunk) as { member: string; value: string; resourceType: string; display: string | null }[];
      for (const { member, ...ref } of rows) {
        const list = out.get(member) ?? [];
        list.push(toRef(ref));
        out.set(member, list);
      }
    }
    return out;
  }

  /**
   * The index scope of (organization, resource type): made on first use in a transaction of its own, so that a
   * write rolled back cannot take away a scope already remembered (scopes are never deleted).
   */
  private scopeOf(orgId: string, resourceType: string): number {
    const key = `${orgId}\u0000${resourceType}`;
    let id = this.scopes.get(key);
    if (id === undefined) {
      id = this.db.transaction(() => {
        this.sql('INSERT INTO index_scopes (org_id, resource_type) VALUES (?, ?) ON CONFLICT DO NOTHING').run(orgId, resourceType);
        return this.sql('SELECT id FROM index_scopes WHERE org_id = ? AND resource_type = ?').pluck().get(orgId, resourceType) as number;
      }).immediate();
      this.scopes.set(key, id);
    }
    return id;
  }

  /**
   * Makes sure every path of the writes' index entries, and every attribute their unique values name, has its id in
   * index_paths (index rows and unique claims name them by it): new ones are added in a transaction of their own
   * before the write, and remembered only once committed, as scopes are.
   */
  private knowPaths(writes: readonly { readonly index?: readonly IndexEntry[]; readonly uniqueKeys?: readonly UniqueKey[] }[]): void {
    const missing = new Set<string>();
    for (const w of writes) {
      for (const e of w.index ?? []) if (!this.paths.has(e.path)) missing.add(e.path);
      for (const k of w.uniqueKeys ?? []) if (!this.paths.has(k.attribute)) missing.add(k.attribute);
    }
    if (missing.size === 0) return;
    const unknown = [...missing];
    const ids = this.db.transaction(() => unknown.map((p) => {
      this.sql('INSERT INTO index_paths (path) VALUES (?) ON CONFLICT DO NOTHING').run(p);
      return this.sql('SELECT id FROM index_paths WHERE path = ?').pluck().get(p) as number;
    })).immediate();
    unknown.forEach((p, k) => this.paths.set(p, ids[k]!));
  }

  /** The known index paths, with those of `paths` that another process has added since looked up. */
  private lookUpPaths(paths: readonly string[]): ReadonlyMap<string, number> {
    for (const p of paths) {
      if (this.paths.has(p)) continue;
      const id = this.sql('SELECT id FROM index_paths WHERE path = ?').pluck().get(p) as number | undefined;
      if (id !== undefined) this.paths.set(p, id);
    }
    return this.paths;
  }

  /** The id of an index path that knowPaths has made sure of. */
  private pathId(path: string): number {
    const id = this.paths.get(path);
    if (id === undefined) throw new Error(`index path "${path}" written before knowPaths`);
    return id;
  }

  /** Read inside the write transaction (BEGIN IMMEDIATE holds the write lock), so no other writer comes between. */
  private versionOf(orgId: string, resourceType: string, id: string): { seq: number; version: number } | undefined {
    return this.sql('SELECT seq, version FROM resources WHERE org_id = ? AND resource_type = ? AND id = ?').get(orgId, resourceType, id) as
      | { seq: number; version: number }
      | undefined;
  }

  /**
   * A changed document's index rows and unique values, replaced (a clash throws and rolls the write back). Only the
   * rows that differ are deleted and inserted: a PATCH of one attribute touches that attribute's rows and
   * meta.lastModified's, not the twenty-odd rows of every other value.
   */
  private rewriteIndexAndKeys(seq: number, scope: number, write: ResourceWrite): void {
    const { strs, nums } = indexRows(write.index);
    this.rewriteRows('str', seq, scope, strs);
    this.rewriteRows('num', seq, scope, nums);

    const held = this.sql('SELECT attribute, value FROM unique_claims WHERE resource_seq = ?').all(seq) as { attribute: number; value: string }[];
    const key = (attribute: number, value: string) => `${attribute}\u0000${value}`;
    const wanted = new Map(write.uniqueKeys.map((k) => [key(this.pathId(k.attribute), k.value), k]));
    const release = this.sql('DELETE FROM unique_claims WHERE scope = ? AND attribute = ? AND value = ?');
    for (const k of held) if (!wanted.delete(key(k.attribute, k.value))) release.run(scope, k.attribute, k.value);
    this.claimUniqueValues([...wanted.values()].flatMap((k) => [scope, this.pathId(k.attribute), k.value, seq]));
  }

  /** One index table's rows of a resource made `wanted`, deleting and inserting only those that differ. */
  private rewriteRows(column: IndexColumn, seq: number, scope: number, wanted: readonly IndexRow<unknown>[]): void {
    const key = (path: number, r: { ordinal: number; value: unknown }) => `${path}\u0000${r.ordinal}\u0000${String(r.value)}`;
    const old = this.sql(`SELECT path, ordinal, ${column} AS value FROM attribute_${column} WHERE resource_seq = ?`).all(seq) as { path: number; ordinal: number; value: unknown }[];
    const missing = new Map(wanted.map((r) => [key(this.pathId(r.path), r), r]));
    const drop = this.sql(`DELETE FROM attribute_${column} WHERE resource_seq = ? AND path = ? AND ordinal = ? AND ${column} = ?`);
    for (const r of old) if (!missing.delete(key(r.path, r))) drop.run(seq, r.path, r.ordinal, r.value);
    this.insertRows(column, seq, scope, [...missing.values()]);
  }

  /** The rows at the entries' (path, ordinal) replaced by the entries (a membership-only PATCH's lastModified). */
  private replaceIndexEntries(seq: number, scope: number, entries: readonly IndexEntry[]): void {
    for (const column of ['str', 'num'] as const) {
      const drop = this.sql(`DELETE FROM attribute_${column} WHERE resource_seq = ? AND path = ? AND ordinal = ?`);
      for (const e of entries) drop.run(seq, this.pathId(e.path), e.ordinal);
    }
    this.insertIndex(seq, scope, entries);
  }

  private insertIndex(seq: number, scope: number, entries: readonly IndexEntry[]): void {
    const { strs, nums } = indexRows(entries);
    this.insertRows('str', seq, scope, strs);
    this.insertRows('num', seq, scope, nums);
  }

  private insertRows(column: IndexColumn, seq: number, scope: number, rows: readonly IndexRow<unknown>[]): void {
    this.insertRowsOf(column, rows.flatMap((r) => [scope, this.pathId(r.path), r.value, seq, r.ordinal]));
  }

  /**
   * Index rows given flat (scope, path, value, resource_seq, ordinal, …). OR IGNORE: a value repeated within one
   * element is one row (the key is the whole row).
   */
  private insertRowsOf(column: IndexColumn, flat: readonly unknown[]): void {
    this.insertFlat(`INSERT OR IGNORE INTO attribute_${column} (scope, path, ${column}, resource_seq, ordinal)`, 5, flat);
  }

  /**
   * Rows given flat (`width` values each), ROWS_PER_STATEMENT a statement: one statement a row cost a third of a
   * Bulk load's index time in binding and stepping. Answers how many rows went in.
   */
  private insertFlat(insert: string, width: number, flat: readonly unknown[], onConflict = ''): number {
    if (flat.length === 0) return 0;
    const row = `(${Array<string>(width).fill('?').join(', ')})`;
    let changes = 0;
    for (let i = 0; i < flat.length; i += ROWS_PER_STATEMENT * width) {
      const chunk = flat.slice(i, i + ROWS_PER_STATEMENT * width);
      changes += this.sql(`${insert} VALUES ${Array<string>(chunk.length / width).fill(row).join(', ')}${onConflict}`).run(chunk).changes;
    }
    return changes;
  }

  /**
   * Unique values of a resource, or of a transaction's creates, given flat (scope, attribute's path id, value,
   * resource_seq), claimed in multi-row statements. When fewer rows went in than were given, some value is held
   * already (by another resource, or by an earlier create of the same batch): the first such one, in the creates'
   * order, is the violation (the throw rolls the transaction back; a batch is then written again item by item, which
   * names the right item).
   */
  private claimUniqueValues(flat: readonly unknown[]): void {
    const claimed = this.insertFlat('INSERT INTO unique_claims (scope, attribute, value, resource_seq)', 4, flat, ' ON CONFLICT DO NOTHING');
    if (claimed === flat.length / 4) return;
    const holder = this.sql('SELECT resource_seq FROM unique_claims WHERE scope = ? AND attribute = ? AND value = ?').pluck();
    for (let i = 0; i < flat.length; i += 4) {
      const [scope, attribute, value, seq] = flat.slice(i, i + 4) as [number, number, string, number];
      if (holder.get(scope, attribute, value) !== seq) {
        throw new UniquenessViolation(this.sql('SELECT path FROM index_paths WHERE id = ?').pluck().get(attribute) as string);
      }
    }
    throw new Error('unique values: fewer claimed than given, yet every one is held by its own resource');
  }

  /** Resolves member ids to their resource types; any id that names no allowed resource fails the whole write. */
  private resolveMembers(orgId: string, groupId: string, membership: Membership, ids: readonly string[]): Map<string, string> {
    const types = new Map<string, string>();
    const typeList = membership.allowedTypes.map(() => '?').join(', ');
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const rows = this.sql(
        `SELECT id, resource_type FROM resources WHERE org_id = ? AND id IN (${chunk.map(() => '?').join(', ')})
         AND resource_type IN (${typeList})`,
      ).all(orgId, ...chunk, ...membership.allowedTypes) as { id: string; resource_type: string }[];
      for (const r of rows) types.set(r.id, r.resource_type);
    }
    const unknown = ids.filter((m) => !types.has(m) || m === groupId);
    if (unknown.length > 0) throw new UnknownMembers(unknown);
    return types;
  }

  /** Returns the ids that were not members yet. */
  private addMembers(orgId: string, groupId: string, membership: Membership): string[] {
    const ids = [...new Set(membership.ids)];
    const types = this.resolveMembers(orgId, groupId, membership, ids);
    const insert = this.sql(
      'INSERT INTO group_members (org_id, group_id, member_id, member_type) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    return ids.filter((m) => insert.run(orgId, groupId, m, types.get(m)).changes > 0);
  }

  private replaceMembers(orgId: string, groupId: string, membership: Membership): { added: string[]; removed: string[] } {
    const wanted = new Set(membership.ids);
    const current = this.sql('SELECT member_id FROM group_members WHERE org_id = ? AND group_id = ?').pluck().all(orgId, groupId) as string[];
    const remove = this.sql('DELETE FROM group_members WHERE org_id = ? AND group_id = ? AND member_id = ?');
    const removed = current.filter((m) => !wanted.has(m));
    for (const m of removed) remove.run(orgId, groupId, m);
    return { added: this.addMembers(orgId, groupId, membership), removed };
  }

  /** A write's audit entry and events, with the version it left and the membership it really changed. */
  private insertRecord(record: ChangeRecord | undefined, version: number, added: readonly string[], removed: readonly string[]): void {
    if (record?.audit) this.insertAudit(record.audit, version, added, removed);
    this.insertEvents(record, added, removed);
  }

  private insertEvents(record: ChangeRecord | undefined, added: readonly string[], removed: readonly string[]): void {
    this.insertEventValues(outboxValues(record, added, removed));
  }

  private insertEventValues(flat: readonly unknown[]): void {
    this.insertFlat('INSERT INTO event_outbox (id, channel, stream, payload, next_attempt)', 5, flat);
  }

  private insertAudit(entry: AuditEntry, version: number | undefined, added: readonly string[], removed: readonly string[]): void {
    this.insertAuditValues(auditValues({ entry, version, added, removed }));
  }

  /** audit_log rows given flat, in the order of AUDIT_COLUMNS. */
  private insertAuditValues(flat: readonly unknown[]): void {
    this.insertFlat(`INSERT INTO audit_log (${AUDIT_COLUMNS})`, AUDIT_WIDTH, flat);
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    const flat = entries.flatMap((entry) => auditValues({ entry, version: undefined, added: [], removed: [] }));
    await this.write(() => this.insertAuditValues(flat));
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const { sql, params } = listAudit(query, SQLITE);
    return (this.query(sql).all(...params) as AuditRow[]).map(toAuditRecord);
  }

  async pruneAudit(before: string): Promise<number> {
    return this.sql('DELETE FROM audit_log WHERE at < ?').run(before).changes;
  }

  async claimEvents(now: string, leaseUntil: string, limit: number, channel = ''): Promise<OutboxEvent[]> {
    // IMMEDIATE: the read and the lease are one step for every process on the file
    return this.write(() => {
      const rows = this.sql(
        `SELECT o.seq, o.channel, o.payload, o.attempts, o.last_error FROM event_outbox o
         WHERE o.channel = ? AND o.delivered IS NULL AND o.dead IS NULL AND o.next_attempt <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
           AND NOT EXISTS (SELECT 1 FROM event_outbox p WHERE p.stream = o.stream AND p.delivered IS NULL AND p.dead IS NULL AND p.seq < o.seq)
         ORDER BY o.seq LIMIT ?`,
      ).all(channel, now, now, limit) as OutboxRow[];
      const lease = this.sql('UPDATE event_outbox SET lease_until = ? WHERE seq = ?');
      for (const r of rows) lease.run(leaseUntil, r.seq);
      return rows.map(toOutboxEvent);
    });
  }

  async completeEvents(seqs: readonly number[], at: string): Promise<void> {
    const done = this.sql('UPDATE event_outbox SET delivered = ?, lease_until = NULL WHERE seq = ? AND delivered IS NULL');
    await this.write(() => seqs.forEach((seq) => done.run(at, seq)));
  }

  async failEvent(seq: number, error: string, retryAt: string | undefined): Promise<void> {
    this.sql(
      `UPDATE event_outbox SET attempts = attempts + 1, last_error = ?, lease_until = NULL, next_attempt = coalesce(?, next_attempt),
         dead = CASE WHEN ? IS NULL THEN ? ELSE NULL END
       WHERE seq = ? AND delivered IS NULL`,
    ).run(error.slice(0, 1000), retryAt ?? null, retryAt ?? null, new Date().toISOString(), seq);
  }

  async deadEvents(limit: number): Promise<OutboxEvent[]> {
    return (this.sql('SELECT seq, channel, payload, attempts, last_error FROM event_outbox WHERE dead IS NOT NULL ORDER BY seq LIMIT ?').all(limit) as OutboxRow[]).map(toOutboxEvent);
  }

  async retryDeadEvents(eventId?: string): Promise<number> {
    const now = new Date().toISOString();
    return eventId === undefined
      ? this.sql('UPDATE event_outbox SET dead = NULL, attempts = 0, next_attempt = ? WHERE dead IS NOT NULL').run(now).changes
      : this.sql('UPDATE event_outbox SET dead = NULL, attempts = 0, next_attempt = ? WHERE dead IS NOT NULL AND id = ?').run(now, eventId).changes;
  }

  async pruneEvents(before: string): Promise<number> {
    return this.sql('DELETE FROM event_outbox WHERE delivered IS NOT NULL AND delivered < ?').run(before).changes;
  }

  async *exportSnapshot(): AsyncGenerator<SnapshotRecord> {
    // an in-memory database cannot be opened twice: it is read in one go, so no write on the connection comes between
    if (this.filename === ':memory:') return yield* [...readSnapshot(this.db)];
    // a read transaction on a connection of its own: WAL keeps its snapshot while the store's connection writes on
    const reader = new Database(this.filename, { readonly: true, fileMustExist: true });
    try {
      reader.pragma('busy_timeout = 5000');
      reader.exec('BEGIN');
      yield* readSnapshot(reader);
    } finally {
      reader.close();
    }
  }

  async importSnapshot(records: AsyncIterable<SnapshotRecord>): Promise<void> {
    let first = true;
    for await (const batch of batches(records)) {
      const items = importItems(batch);
      this.knowPaths(items.map((i) => (i.kind === 'resource' ? i : {})));
      this.db.transaction(() => {
        if (first) {
          const holds = nonEmptyTables(this.sql(EMPTINESS).get() as Record<string, number>);
          if (holds) throw new StoreNotEmpty(holds);
        }
        this.createdWith((rows) => {
          for (const item of items) {
            // the scope is made inside this transaction, after its organization (a failed restore starts again anew)
            if (item.kind === 'resource') {
              const row = this.createRow(item.id, item, resourceWrite(item));
              this.insertResource(item.orgId, item.resourceType, this.scopeOf(item.orgId, item.resourceType), row, rows);
            }
            else if (item.kind === 'members') this.addMembers(item.orgId, item.groupId, { ids: item.ids, allowedTypes: item.types });
            else this.run(rowInsert(item, SQLITE));
          }
        });
      }).immediate();
      first = false;
    }
  }
}

/** Runs the snapshot's reading steps on `db` (inside one read transaction, or synchronously in one go). */
/** The outbox rows of a write, flat (id, channel, stream, payload, next_attempt, …). */
function outboxValues(record: ChangeRecord | undefined, added: readonly string[], removed: readonly string[]): unknown[] {
  return record ? outboxRows(record, added, removed).flatMap((e) => [e.id, e.channel, e.stream, e.payload, e.at]) : [];
}

/** A created resource as the Store contract returns it. */
function stored(orgId: string, resourceType: string, meta: ResourceMeta, id: string, write: ResourceWrite): StoredResource {
  return { orgId, resourceType, id, version: meta.version, created: meta.created, lastModified: meta.lastModified, attributes: write.attributes };
}

function* readSnapshot(db: Database.Database): Generator<SnapshotRecord> {
  const steps = snapshotSteps(SQLITE);
  for (let step = steps.next(); !step.done;) {
    const s = step.value;
    if ('records' in s) yield* s.records;
    step = 'query' in s ? steps.next(db.prepare(s.query.sql).all(...s.query.params) as Record<string, unknown>[]) : steps.next();
  }
}

