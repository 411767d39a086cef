/**
 * The embedded store: SQLite through better-sqlite3 (sqlite-executor.ts). What the SQL stores share is
 * sql/sql-store.ts; this file is SQLite's write path. SQLite has one writer at a time, so a write reads and checks
 * inside its transaction (the group commit's); a large batch of creates is written on the writer thread.
 */
import type { ChangeRecord, CreateManyOptions, Membership, Modification, PatchChange, ResourceRef, ResourceWrite, StoredResource } from '../../core/model.js';
import { UniquenessViolation, UnknownMembers } from '../../core/errors.js';
import { auditValues, insertAuditValues } from '../sql/audit.js';
import { insertFlat } from '../sql/executor.js';
import { insertOutboxValues, outboxValues, recordChanges } from '../sql/outbox.js';
import { membersOf, touchRelated, type RelatedChange } from '../sql/relations.js';
import { memberGroupsColumn } from '../sql/query-compiler.js';
import { indexRows, toResource, type IndexRow, type ResourceRowWithGroups } from '../sql/rows.js';
import { created, resourceWrite, type ImportItem, type ResourceMeta } from '../sql/snapshot.js';
import { SqlStore } from '../sql/sql-store.js';
import type { Store } from '../../core/ports.js';
import { MIGRATIONS } from './migrations.js';
import { SQLITE } from './sqlite-dialect.js';
import { SqliteExecutor } from './sqlite-executor.js';
import { WriterThread } from './writer-thread.js';
import { KeyedLock } from './keyed-lock.js';
import type { CreateBatch, CreateOutcome, CreateRow } from './create-batch.js';

/** SQLite's default limit on bound parameters is 32766; chunks of 500 stay far below it. */
const CHUNK = 500;
/** How often a modification is planned again when another process wrote the resource meanwhile. */
const MODIFY_ATTEMPTS = 20;

const resourceKey = (orgId: string, resourceType: string, id: string) => `${orgId}\u0000${resourceType}\u0000${id}`;

/** What the creates of one transaction leave for createdWith to write at its end (flat rows, as CreateRow's). */
interface CreatedRows {
  /** Index rows flat (scope, path, value, resource_seq, ordinal, …). */
  readonly str: unknown[];
  readonly num: unknown[];
  /** audit_log rows flat, in the order of AUDIT_COLUMNS. */
  readonly audit: unknown[];
  /** event_outbox rows flat. */
  readonly events: unknown[];
  /** Unique values claimed, flat (scope, attribute's path id, value, resource_seq, …). */
  readonly unique: unknown[];
  /** Resources created, by index scope (an organization's resource type). */
  readonly counts: Map<number, { readonly orgId: string; readonly resourceType: string; n: number }>;
}

/** The index tables are attribute_str and attribute_num, each named after its value column. */
type IndexColumn = 'str' | 'num';

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

/** The written row's groups, after its other columns (RETURNING names the row as `resources`, with no alias). */
const RETURNING_GROUPS = `, ${memberGroupsColumn(SQLITE, 'resources')}`;

/**
 * Below this many creates a batch is written on the event loop, where a lone write or a small batch loses nothing
 * to the hand-over (copying the batch, a message each way). Chosen, not measured: loads of 1,000-create batches
 * were, and gained (docs/performance.md).
 */
const WRITER_THREAD_MIN_ITEMS = 64;

export class SqliteStore extends SqlStore implements Store {
  private readonly sqlite: SqliteExecutor;
  private readonly writer: WriterThread | undefined;
  private readonly writerMinItems: number;
  /** The modifications of one resource, one at a time (modifyResource). */
  private readonly modifying = new KeyedLock();
  /** Per resource, the last membership delta queued and not yet committed (patchResource). */
  private readonly deltas = new Map<string, Promise<unknown>>();

  constructor(filename: string, options: SqliteStoreOptions = {}) {
    const executor = new SqliteExecutor(filename);
    super(executor, MIGRATIONS, true);
    this.sqlite = executor;
    // another connection cannot open an in-memory database
    const entry = options.writerThread ?? (import.meta.url.endsWith('.js') && new URL('./writer-thread-entry.js', import.meta.url));
    this.writer = entry && filename !== ':memory:' ? new WriterThread(filename, entry) : undefined;
    this.writerMinItems = options.writerThreadMinItems ?? WRITER_THREAD_MIN_ITEMS;
  }

  /** Not ready once writes are refused (a failed sync): /readyz answers 503, and the node is taken out of service. */
  override async ping(): Promise<void> {
    const refused = this.sqlite.writesRefused;
    if (refused) throw refused;
    await super.ping();
  }

  private sql(text: string) {
    return this.sqlite.statement(text);
  }

  /** Rows given flat (`width` values each) in multi-row INSERTs; how many went in. */
  private insertFlat(insert: string, width: number, flat: readonly unknown[], onConflict = ''): number {
    return this.sqlite.runSync(insertFlat(insert, width, flat, SQLITE.rowsPerInsert, onConflict));
  }

  /**
   * Any commit to the file by another connection (another process, the writer thread) changes it. Read once a turn
   * of the event loop, not once a request: the requests answered in one turn arrived together.
   */
  protected override tokensChangedElsewhere(): number {
    if (this.versionThisTurn === undefined) {
      this.versionThisTurn = this.sqlite.dataVersion();
      setImmediate(() => (this.versionThisTurn = undefined));
    }
    return this.versionThisTurn;
  }

  private versionThisTurn: number | undefined;

  override async close(): Promise<void> {
    // the writes under way first (a batch for the thread is one of them), then the thread, then the connection
    await this.sqlite.settled();
    await this.writer?.close();
    await super.close();
  }

  async createResource(orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite): Promise<StoredResource> {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths([write]);
    const meta = created(at);
    const row = this.createRow(id, meta, write);
    await this.sqlite.transaction(() => this.createdWith((rows) => this.insertResource(orgId, resourceType, scope, row, rows)));
    return stored(orgId, resourceType, meta, id, write);
  }

  async createResources(orgId: string, resourceType: string, at: string, items: readonly { readonly id: string; readonly write: ResourceWrite }[], options: CreateManyOptions = {}) {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths(items.map((i) => i.write));
    const meta = created(at);
    const batch: CreateBatch = {
      orgId, resourceType, scope,
      rows: items.map(({ id, write }) => this.createRow(id, meta, write)),
      ...(options.stopAfterErrors !== undefined ? { stopAfterErrors: options.stopAfterErrors } : {}),
    };
    // A large batch is written on the writer thread: the event loop meanwhile checks and plans the next request.
    const writer = items.length >= this.writerMinItems ? this.writer : undefined;
    const outcomes = writer
      ? await this.sqlite.exclusive(() => writer.write(batch))
      : await this.sqlite.transaction(() => this.writeCreateBatch(batch));
    return outcomes.map((o, i) => (o === 'created' ? stored(orgId, resourceType, meta, items[i]!.id, items[i]!.write) : o));
  }

  /** Writes a batch of creates in a transaction of its own and commits it: the writer thread's way (writer-thread-entry.ts). */
  commitCreateBatch(batch: CreateBatch): CreateOutcome[] {
    return this.sqlite.commitNow(() => this.writeCreateBatch(batch));
  }

  /**
   * Writes a batch of creates inside the caller's transaction, in one go when no item fails, without a savepoint per
   * item (a sixth of the time). When an item fails, that attempt rolls back whole and the batch is written again
   * item by item, so that each failure is its own item's.
   */
  private writeCreateBatch({ orgId, resourceType, scope, rows: batch, stopAfterErrors }: CreateBatch): CreateOutcome[] {
    const { db } = this.sqlite;
    const insert = (row: CreateRow, rows: CreatedRows): 'created' => (this.insertResource(orgId, resourceType, scope, row, rows), 'created');
    // nested in a transaction, a transaction function is a savepoint
    try {
      return db.transaction(() => this.createdWith((rows) => batch.map((row) => insert(row, rows))))();
    } catch (e) {
      if (!(e instanceof UniquenessViolation || e instanceof UnknownMembers)) throw e;
    }
    const one = db.transaction((row: CreateRow) => this.createdWith((rows) => insert(row, rows)));
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
      resource: {
        seq: meta.position ?? null, id, version: meta.version, created: meta.created, lastModified: meta.lastModified,
        display: write.display ?? null, data: JSON.stringify(write.attributes),
      },
      strs, nums,
      unique: write.uniqueKeys.flatMap((k) => [this.pathId(k.attribute), k.value]),
      ...(record?.audit ? { audit: auditValues({ entry: record.audit, version: meta.version, added, removed: [] }) } : {}),
      events: outboxValues(record, added, []),
      ...(write.membership ? { membership: write.membership } : {}),
    };
  }

  /**
   * Runs `create` (inside a transaction) and then writes the rows it collected: the creates' index rows, unique
   * values, audit entries, events and counts in a few multi-row statements, not twenty-odd statements a resource.
   * A throw writes none of them.
   */
  private createdWith<T>(create: (rows: CreatedRows) => T): T {
    const rows: CreatedRows = { str: [], num: [], audit: [], events: [], unique: [], counts: new Map() };
    const result = create(rows);
    this.claimUniqueValues(rows.unique);
    this.insertRowsOf('str', rows.str);
    this.insertRowsOf('num', rows.num);
    this.sqlite.runSync(insertAuditValues(rows.audit, SQLITE));
    this.sqlite.runSync(insertOutboxValues(rows.events, SQLITE));
    const count = this.sql('INSERT INTO resource_counts (org_id, resource_type, n) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n');
    for (const c of rows.counts.values()) count.run(c.orgId, c.resourceType, c.n);
    return result;
  }

  /** Call inside createdWith: a throw leaves nothing of this resource behind. */
  private insertResource(orgId: string, resourceType: string, scope: number, row: CreateRow, rows: CreatedRows): void {
    const r = row.resource;
    const { lastInsertRowid } = this.sql(
      `INSERT INTO resources (org_id, resource_type, seq, id, version, created, last_modified, display, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(orgId, resourceType, r.seq, r.id, r.version, r.created, r.lastModified, r.display, r.data);
    const seq = Number(lastInsertRowid);
    for (let i = 0; i < row.strs.length; i += 3) rows.str.push(scope, row.strs[i], row.strs[i + 1], seq, row.strs[i + 2]);
    for (let i = 0; i < row.nums.length; i += 3) rows.num.push(scope, row.nums[i], row.nums[i + 1], seq, row.nums[i + 2]);
    for (let i = 0; i < row.unique.length; i += 2) rows.unique.push(scope, row.unique[i], row.unique[i + 1], seq);
    if (row.membership) {
      const added = this.addMembers(orgId, r.id, row.membership);
      this.touchRelated(orgId, r.id, { added, removed: [], related: false }, r.lastModified);
    }
    const counted = rows.counts.get(scope);
    if (counted) counted.n++;
    else rows.counts.set(scope, { orgId, resourceType, n: 1 });
    if (row.audit) rows.audit.push(...row.audit);
    rows.events.push(...row.events);
  }

  async replaceResource(orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite, expectedVersion?: number, withGroups = false) {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths([write]);
    return this.sqlite.transaction(() => {
      const current = this.versionOf(orgId, resourceType, id);
      if (current === undefined) return undefined;
      if (expectedVersion !== undefined && current.version !== expectedVersion) return 'conflict';
      const row = this.writeDocument(current.seq, at, write, withGroups);
      this.rewriteIndexAndKeys(row.seq, scope, write);
      const members = write.membership ? this.replaceMembers(orgId, id, write.membership) : { added: [], removed: [] };
      this.touchRelated(orgId, id, { ...members, related: (write.display ?? null) !== current.display }, at);
      this.insertRecord(write.record, row.version, members.added, members.removed);
      return toResource(row);
    });
  }

  /**
   * Without `expectedVersion` (a membership delta, which holds on whatever version it lands): queued in order with
   * the resource's other writes, but holding them only until it is queued, not until its commit, so a run of them
   * shares one commit; a plan that comes next (modifyResource) first waits for them to be committed.
   */
  async patchResource(orgId: string, resourceType: string, id: string, at: string, change: PatchChange): Promise<StoredResource | 'conflict' | undefined> {
    if (change.expectedVersion !== undefined) return (await this.queuePatch(orgId, resourceType, id, at, change))();
    const key = resourceKey(orgId, resourceType, id);
    const written = (await this.modifying.run(key, async () => {
      const queued = (await this.queuePatch(orgId, resourceType, id, at, change))();
      this.deltas.set(key, queued);
      return [queued];
    }))[0];
    try {
      return await written;
    } finally {
      if (this.deltas.get(key) === written) this.deltas.delete(key);
    }
  }

  /** Makes ready what a patch needs (scope, index paths), then returns what queues it: synchronously, when called. */
  private async queuePatch(orgId: string, resourceType: string, id: string, at: string, change: PatchChange): Promise<() => Promise<StoredResource | 'conflict' | undefined>> {
    const scope = await this.scopeOf(orgId, resourceType);
    if (change.write) await this.knowPaths([change.write]);
    return () => this.sqlite.transaction(() => {
      const row = this.versionOf(orgId, resourceType, id);
      if (!row) return undefined;
      if (change.expectedVersion !== undefined && row.version !== change.expectedVersion) return 'conflict';
      const relabelled = change.write !== undefined && (change.write.display ?? null) !== row.display;
      const groups = change.withGroups ? RETURNING_GROUPS : '';
      let result: ResourceRowWithGroups | undefined;
      if (change.write) {
        result = this.writeDocument(row.seq, at, change.write, change.withGroups);
        this.rewriteIndexAndKeys(row.seq, scope, change.write);
      }
      const m = change.members;
      const added: string[] = [];
      const removed: string[] = [];
      if (m) {
        const remove = this.sql('DELETE FROM group_members WHERE org_id = ? AND group_id = ? AND member_id = ?');
        // clearing before adding removes only those not added back, so replacing the members by the same set is no change
        const kept = new Set(m.add);
        const leaving = m.clear ? this.memberIds(orgId, id).filter((x) => !kept.has(x)) : m.remove;
        for (const member of leaving) if (remove.run(orgId, id, member).changes > 0) removed.push(member);
        if (m.add.length > 0) added.push(...this.addMembers(orgId, id, { ids: m.add, allowedTypes: m.allowedTypes }));
      }
      // members alone changed: a new version all the same, moved with the members added or removed
      this.touchRelated(orgId, id, { added, removed, related: relabelled, self: !result && added.length + removed.length > 0 }, at);
      result ??= this.sql(`SELECT *${groups} FROM resources WHERE seq = ?`).get(row.seq) as ResourceRowWithGroups;
      this.insertRecord(change.record, result.version, added, removed);
      return toResource(result);
    });
  }

  async deleteResource(orgId: string, resourceType: string, id: string, expectedVersion?: number, record?: ChangeRecord): Promise<boolean | 'conflict'> {
    return this.sqlite.transaction(() => {
      const gone = this.versionOf(orgId, resourceType, id);
      if (!gone) return false;
      if (expectedVersion !== undefined && gone.version !== expectedVersion) return 'conflict';
      // its members no longer show it in their groups, nor its groups it in their members
      this.touchRelated(orgId, id, { added: [], removed: [], related: true }, new Date().toISOString());
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

  /** A resource's new document, as its next version (and its groups, when asked). */
  private writeDocument(seq: number, at: string, write: ResourceWrite, withGroups = false): ResourceRowWithGroups {
    return this.sql(`UPDATE resources SET version = version + 1, last_modified = ?, display = ?, data = ? WHERE seq = ? RETURNING *${withGroups ? RETURNING_GROUPS : ''}`)
      .get(at, write.display ?? null, JSON.stringify(write.attributes), seq) as ResourceRowWithGroups;
  }

  /** Read inside the write transaction (BEGIN IMMEDIATE holds the write lock), so no other writer comes between. */
  private versionOf(orgId: string, resourceType: string, id: string): { seq: number; version: number; display: string | null } | undefined {
    return this.sql('SELECT seq, version, display FROM resources WHERE org_id = ? AND resource_type = ? AND id = ?').get(orgId, resourceType, id) as
      | { seq: number; version: number; display: string | null }
      | undefined;
  }

  private memberIds(orgId: string, groupId: string): string[] {
    return this.sqlite.runSync(membersOf(orgId, groupId)).map((m) => m.member_id);
  }

  /** Touches the resources on the other side of a write's membership changes (sql/relations.ts). */
  private touchRelated(orgId: string, id: string, change: RelatedChange, at: string): void {
    this.sqlite.runSync(touchRelated(orgId, id, change, at, SQLITE));
  }

  /**
   * One plan a resource at a time in this process, from the resource as it then stands, written only onto that
   * version: a write of another process in between (several servers on one file) makes it plan again.
   */
  async modifyResource(
    orgId: string,
    resourceType: string,
    id: string,
    plan: (current: StoredResource, members: () => Promise<ResourceRef[]>) => Promise<Modification>,
  ): Promise<StoredResource | 'conflict' | undefined> {
    const key = resourceKey(orgId, resourceType, id);
    return this.modifying.run(key, async () => {
      // the deltas queued before this plan are part of the state it plans from
      await this.deltas.get(key)?.catch(() => undefined);
      for (let attempt = 0; attempt < MODIFY_ATTEMPTS; attempt++) {
        const current = await this.getResource(orgId, resourceType, id);
        if (!current) return undefined;
        const m = await plan(current, () => this.members(orgId, id));
        const done = m.kind === 'replace'
          ? await this.replaceResource(orgId, resourceType, id, m.at, m.write, current.version, m.withGroups)
          : m.kind === 'patch'
            ? await this.patchResource(orgId, resourceType, id, m.at, { ...m.change, expectedVersion: current.version })
            : await this.deleteResource(orgId, resourceType, id, current.version, m.record);
        if (done !== 'conflict') return done === true ? current : done === false ? undefined : done;
      }
      return 'conflict';
    });
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
   * Unique values of a resource, or of a transaction's creates, given flat (scope, attribute's path id, value,
   * resource_seq), claimed in multi-row statements. When fewer rows went in than were given, some value is held
   * already (by another resource, or by an earlier create of the same batch): the first such one, in the creates'
   * order, is the violation (the throw rolls the transaction back; a batch is then written again item by item, which
   * names the right item).
   */
  private claimUniqueValues(flat: readonly unknown[]): void {
    const claimed = this.insertFlat('INSERT INTO unique_claims (scope, attribute, value, resource_seq)', 4, flat, ' ON CONFLICT DO NOTHING');
    if (claimed === flat.length / 4) return;
    const holder = this.sql('SELECT resource_seq FROM unique_claims WHERE scope = ? AND attribute = ? AND value = ?');
    for (let i = 0; i < flat.length; i += 4) {
      const [scope, attribute, value, seq] = flat.slice(i, i + 4) as [number, number, string, number];
      if ((holder.get(scope, attribute, value) as { resource_seq: number }).resource_seq !== seq) {
        throw new UniquenessViolation((this.sql('SELECT path FROM index_paths WHERE id = ?').get(attribute) as { path: string }).path);
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
    const current = this.memberIds(orgId, groupId);
    const remove = this.sql('DELETE FROM group_members WHERE org_id = ? AND group_id = ? AND member_id = ?');
    const removed = current.filter((m) => !wanted.has(m));
    for (const m of removed) remove.run(orgId, groupId, m);
    return { added: this.addMembers(orgId, groupId, membership), removed };
  }

  /** A write's audit entry and events, with the version it left and the membership it really changed. */
  private insertRecord(record: ChangeRecord | undefined, version: number, added: readonly string[], removed: readonly string[]): void {
    this.sqlite.runSync(recordChanges([{ record, version, added, removed }], SQLITE));
  }

  protected async importBatch(items: readonly ImportItem[], first: boolean): Promise<void> {
    const scopes = new Map<string, number>();
    await this.sqlite.transaction(() => {
      if (first) this.sqlite.runSync(this.checkEmpty());
      this.createdWith((rows) => {
        for (const item of items) {
          // the scope is made inside this transaction, after its organization (a failed restore starts again anew)
          if (item.kind === 'resource') {
            const scope = this.sqlite.runSync(this.scopeIn(item.orgId, item.resourceType, scopes));
            this.insertResource(item.orgId, item.resourceType, scope, this.createRow(item.id, item, resourceWrite(item)), rows);
          } else if (item.kind === 'members') this.addMembers(item.orgId, item.groupId, { ids: item.ids, allowedTypes: item.types });
          else this.sqlite.runSync(this.insertRow(item));
        }
      });
    });
    this.rememberScopes(scopes);
  }
}

/** A created resource as the Store contract returns it. */
function stored(orgId: string, resourceType: string, meta: ResourceMeta, id: string, write: ResourceWrite): StoredResource {
  return { orgId, resourceType, id, version: meta.version, created: meta.created, lastModified: meta.lastModified, attributes: write.attributes };
}
