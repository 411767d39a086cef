/**
 * The PostgreSQL store, for several scimd nodes on one database (postgres-executor.ts). What the SQL stores share
 * is sql/sql-store.ts; this file is PostgreSQL's write path. Every write is one transaction that the database keeps
 * correct under concurrency: unique values by primary key (`ON CONFLICT DO NOTHING` waits for a concurrent claim to
 * commit or roll back), versions by the `WHERE version = …` of the UPDATE itself, and membership references by
 * foreign keys plus a `FOR KEY SHARE` lock on each member, so a member cannot be deleted while it is being added.
 */
import type { ChangeRecord, CreateManyOptions, IndexEntry, Membership, Modification, PatchChange, ResourceRef, ResourceWrite, StoredResource, UniqueKey } from '../../core/model.js';
import { UniquenessViolation, UnknownMembers } from '../../core/errors.js';
import { recordChanges } from '../sql/outbox.js';
import { touchRelated, type RelatedChange } from '../sql/relations.js';
import { memberGroupsColumn } from '../sql/query-compiler.js';
import { indexRows, toResource, type ResourceRow, type ResourceRowWithGroups } from '../sql/rows.js';
import { created, resourceWrite, type ImportItem, type ResourceMeta } from '../sql/snapshot.js';
import { SqlStore } from '../sql/sql-store.js';
import type { PoolStats, Store } from '../../core/ports.js';
import { MIGRATIONS } from './migrations.js';
import { POSTGRES, TOKENS_CHANNEL } from './postgres-dialect.js';
import { ChannelListener, PostgresExecutor, text, type Client, type PostgresOptions } from './postgres-executor.js';

export type PostgresStoreOptions = PostgresOptions;

/** The written row's groups, after its other columns (a subquery of RETURNING names the row as `resources`). */
const RETURNING_GROUPS = `, ${memberGroupsColumn(POSTGRES, 'resources')}`;

export class PostgresStore extends SqlStore implements Store {
  private readonly pg: PostgresExecutor;
  private closed = false;
  /** Statistics upkeep (see grew): resources created here since the last ANALYZE, and the size it found. */
  private created = 0;
  private analyzedSize = 0;
  private analyzing: Promise<void> | undefined;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    const executor = new PostgresExecutor(connectionString, options);
    super(executor, MIGRATIONS, false);
    this.pg = executor;
  }

  poolStats(): PoolStats {
    return this.pg.poolStats();
  }

  private transaction<T>(work: (c: Client) => Promise<T>): Promise<T> {
    return this.pg.transaction(work);
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tokenNews?.close();
    await this.analyzing;
    await super.close();
  }

  /** Token writes on any node notify (POSTGRES.tokensChanged); heard from the first token lookup on. */
  private tokenNews: ChannelListener | undefined;

  protected override tokensChangedElsewhere(): number | undefined {
    if (this.closed) return undefined;
    return (this.tokenNews ??= this.pg.listen(TOKENS_CHANNEL)).heard;
  }

  async createResource(orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite): Promise<StoredResource> {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths([write]);
    const resource = await this.transaction(async (c) => {
      const written = await this.insertResource(c, orgId, resourceType, scope, id, created(at), write);
      await this.count(c, orgId, resourceType, 1);
      return written;
    });
    this.grew(1);
    return resource;
  }

  async createResources(orgId: string, resourceType: string, at: string, items: readonly { readonly id: string; readonly write: ResourceWrite }[], options: CreateManyOptions = {}) {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths(items.map((i) => i.write));
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
        this.analyzedSize = (await this.pg.query<{ n: number }>("SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'resources'")).rows[0]?.n ?? 0;
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
    if (added.length > 0) await this.touchRelated(c, orgId, id, { added, removed: [], related: false }, meta.lastModified);
    await this.insertRecords(c, [{ record: write.record, version: meta.version, added, removed: [] }]);
    return { orgId, resourceType, id, version: meta.version, created: meta.created, lastModified: meta.lastModified, attributes: write.attributes };
  }

  /**
   * The resource's row, locked until the transaction ends: writers of one resource queue here. NO KEY: a group adding
   * it as a member (FOR KEY SHARE) need not wait; a delete takes the stronger lock itself.
   */
  private async lockRow(c: Client, orgId: string, resourceType: string, id: string): Promise<ResourceRow | undefined> {
    return (await c.query<ResourceRow>('SELECT * FROM resources WHERE org_id = $1 AND resource_type = $2 AND id = $3 FOR NO KEY UPDATE', [orgId, resourceType, id])).rows[0];
  }

  async replaceResource(orgId: string, resourceType: string, id: string, at: string, write: ResourceWrite, expectedVersion?: number) {
    const scope = await this.scopeOf(orgId, resourceType);
    await this.knowPaths([write]);
    return this.transaction(async (c) => {
      const row = await this.lockRow(c, orgId, resourceType, id);
      if (!row) return undefined;
      if (expectedVersion !== undefined && row.version !== expectedVersion) return 'conflict';
      return this.replaceRow(c, row, scope, at, write);
    });
  }

  async patchResource(orgId: string, resourceType: string, id: string, at: string, change: PatchChange): Promise<StoredResource | 'conflict' | undefined> {
    const scope = await this.scopeOf(orgId, resourceType);
    if (change.write) await this.knowPaths([change.write]);
    return this.transaction(async (c) => {
      const row = await this.lockRow(c, orgId, resourceType, id);
      if (!row) return undefined;
      if (change.expectedVersion !== undefined && row.version !== change.expectedVersion) return 'conflict';
      return this.patchRow(c, row, scope, at, change);
    });
  }

  async deleteResource(orgId: string, resourceType: string, id: string, expectedVersion?: number, record?: ChangeRecord): Promise<boolean | 'conflict'> {
    return this.transaction(async (c) => {
      const row = await this.lockRow(c, orgId, resourceType, id);
      if (!row) return false;
      if (expectedVersion !== undefined && row.version !== expectedVersion) return 'conflict';
      await this.deleteRow(c, row, record);
      return true;
    });
  }

  /**
   * The plan runs in the write's transaction, holding the resource's row lock from the read to the commit: a
   * concurrent writer of the resource (on any node) waits for it, then plans from what it left. Paths the plan's
   * write needs that are not known yet are added in a transaction of their own, the lock given up meanwhile, and
   * the plan made again: at most once for each new path in a process's life.
   */
  async modifyResource(
    orgId: string,
    resourceType: string,
    id: string,
    plan: (current: StoredResource, members: () => Promise<ResourceRef[]>) => Promise<Modification>,
  ): Promise<StoredResource | undefined> {
    const scope = await this.scopeOf(orgId, resourceType);
    for (;;) {
      let missing: string[] = [];
      const done = await this.transaction(async (c) => {
        const row = await this.lockRow(c, orgId, resourceType, id);
        if (!row) return undefined;
        const m = await plan(toResource(row), () => this.pg.runOn(c, this.membersIn(orgId, id)));
        if (m.kind === 'delete') {
          await this.deleteRow(c, row, m.record);
          return toResource(row);
        }
        missing = this.unknownPaths([m.kind === 'replace' ? m.write : m.change.write ?? {}]);
        if (missing.length > 0) return 'paths unknown' as const;
        return m.kind === 'replace' ? this.replaceRow(c, row, scope, m.at, m.write, m.withGroups) : this.patchRow(c, row, scope, m.at, m.change);
      });
      if (done !== 'paths unknown') return done;
      await this.knowPaths([{ index: missing.map((path) => ({ path, ordinal: 0 })) }]);
    }
  }

  private async replaceRow(c: Client, current: ResourceRow, scope: number, at: string, write: ResourceWrite, withGroups = false): Promise<StoredResource> {
    const { org_id: orgId, resource_type: resourceType, id } = current;
    const row = await this.writeDocument(c, current.seq, at, write, withGroups);
    await this.rewriteIndexAndKeys(c, row.seq, orgId, resourceType, scope, id, write);
    const members = write.membership ? await this.replaceMembers(c, orgId, id, write.membership) : { added: [], removed: [] };
    await this.touchRelated(c, orgId, id, { ...members, related: (write.display ?? null) !== current.display }, at);
    await this.insertRecords(c, [{ record: write.record, version: row.version, added: members.added, removed: members.removed }]);
    return toResource(row);
  }

  private async patchRow(c: Client, current: ResourceRow, scope: number, at: string, change: PatchChange): Promise<StoredResource> {
    const { org_id: orgId, resource_type: resourceType, id, seq } = current;
    let written: ResourceRow | undefined;
    if (change.write) {
      written = await this.writeDocument(c, seq, at, change.write, change.withGroups);
      await this.rewriteIndexAndKeys(c, seq, orgId, resourceType, scope, id, change.write);
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
    }
    // members alone changed: a new version all the same, moved with the members added or removed
    const self = !written && added.length + removed.length > 0;
    await this.touchRelated(c, orgId, id, { added, removed, related: change.write !== undefined && (change.write.display ?? null) !== current.display, self }, at);
    const result = written ?? (self ? (await c.query<ResourceRowWithGroups>(`SELECT *${change.withGroups ? RETURNING_GROUPS : ''} FROM resources WHERE seq = $1`, [seq])).rows[0]! : current);
    // recorded even when nothing changed (the request was made), with the version it left
    await this.insertRecords(c, [{ record: change.record, version: result.version, added, removed }]);
    return toResource(result);
  }

  /** A resource's new document, as its next version (and its groups, when asked). */
  private async writeDocument(c: Client, seq: number, at: string, write: ResourceWrite, withGroups = false): Promise<ResourceRowWithGroups> {
    const sql = `UPDATE resources SET version = version + 1, last_modified = $2, display = $3, data = $4 WHERE seq = $1 RETURNING *${withGroups ? RETURNING_GROUPS : ''}`;
    return (await c.query<ResourceRowWithGroups>(sql, [seq, at, write.display ?? null, JSON.stringify(write.attributes)])).rows[0]!;
  }

  private async deleteRow(c: Client, row: ResourceRow, record: ChangeRecord | undefined): Promise<void> {
    // its members no longer show it in their groups, nor its groups it in their members
    await this.touchRelated(c, row.org_id, row.id, { added: [], removed: [], related: true }, new Date().toISOString());
    // the foreign keys cascade to the resource's index rows, unique values and memberships (both sides)
    await c.query('DELETE FROM resources WHERE seq = $1', [row.seq]);
    await this.insertRecords(c, [{ record, version: row.version, added: [], removed: [] }]);
    await this.count(c, row.org_id, row.resource_type, -1);
  }

  /** Touches the resources on the other side of a write's membership changes (sql/relations.ts). */
  private async touchRelated(c: Client, orgId: string, id: string, change: RelatedChange, at: string): Promise<void> {
    await this.pg.runOn(c, touchRelated(orgId, id, change, at, POSTGRES));
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

  /** A record's audit entry and events (sql/outbox.ts), with the version it left and the membership it really changed. */
  private async insertRecords(c: Client, writes: readonly { record: ChangeRecord | undefined; version: number; added: readonly string[]; removed: readonly string[] }[]): Promise<void> {
    await this.pg.runOn(c, recordChanges(writes, POSTGRES));
  }

  protected async importBatch(items: readonly ImportItem[], first: boolean): Promise<void> {
    const scopes = new Map<string, number>();
    await this.transaction(async (c) => {
      if (first) await this.pg.runOn(c, this.checkEmpty());
      const counts = new Map<string, { orgId: string; resourceType: string; n: number }>();
      for (const item of items) {
        if (item.kind === 'resource') {
          // the scope is made inside this transaction, after its organization (a failed restore starts again anew)
          const scope = await this.pg.runOn(c, this.scopeIn(item.orgId, item.resourceType, scopes));
          await this.insertResource(c, item.orgId, item.resourceType, scope, item.id, item, resourceWrite(item));
          const key = `${item.orgId}\u0000${item.resourceType}`;
          counts.set(key, { orgId: item.orgId, resourceType: item.resourceType, n: (counts.get(key)?.n ?? 0) + 1 });
        } else if (item.kind === 'members') await this.addMembers(c, item.orgId, item.groupId, { ids: item.ids, allowedTypes: item.types });
        else await this.pg.runOn(c, this.insertRow(item));
      }
      for (const { orgId, resourceType, n } of counts.values()) await this.count(c, orgId, resourceType, n);
      // rows were written with their own seq: the next new row must come after them
      for (const table of ['resources', 'audit_log', 'event_outbox']) {
        await c.query(`SELECT setval(pg_get_serial_sequence('${table}', 'seq'), max(seq)) FROM ${table} HAVING max(seq) IS NOT NULL`);
      }
    });
    this.rememberScopes(scopes);
  }
}
