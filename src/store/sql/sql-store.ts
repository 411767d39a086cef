/**
 * What the two SQL stores share, written once over an executor (executor.ts): every port but the write path of
 * resources — organizations, tokens, secrets, the audit log, the outbox, request counts, the reads of resources and
 * members, migrations, snapshots, and the caches of index scopes and paths. A store (sqlite/, postgres/) adds its
 * write path, its dialect and its migrations.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditEntry, AuditQuery, AuditRecord } from '../../core/audit.js';
import { StoreNotEmpty } from '../../core/errors.js';
import type {
  ConsoleGrant, Delivery, EventBacklog, FeedSlice, IndexEntry, Keyset, Organization, OrganizationContents, OutboxEvent, ResourcePage, ResourceQuery, ResourceRef, SnapshotRecord, StoredResource, TokenRecord, FoundToken, UniqueKey,
} from '../../core/model.js';
import { FEED_CHANNEL } from '../../core/model.js';
import type { LifecycleEvent } from '../../core/events.js';
import type { Store } from '../../core/ports.js';
import { auditValues, insertAuditValues, listAudit } from './audit.js';
import { rowsOf, run, statement, type Program, type SqlExecutor } from './executor.js';
import { listQueries, memberGroupsColumn, queryPaths } from './query-compiler.js';
import {
  RESOURCE_COLUMNS, toAuditRecord, toGrant, toOutboxEvent, toReadResource, toRef, toToken,
  type AuditRow, type GrantRow, type OutboxRow, type ReadResourceRow, type TokenRow,
} from './rows.js';
import { batches, EMPTINESS, importItems, nonEmptyTables, rowInsert, snapshotSteps, type ImportItem } from './snapshot.js';

/** A versioned schema step; a store's list is append only (a released step is never edited). */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const scopeKey = (orgId: string, resourceType: string) => `${orgId}\u0000${resourceType}`;

const NO_CONTENTS: OrganizationContents = { resources: {}, tokens: 0, auditEntries: 0 };

/** What each organization holds (or only the one of that id), counted in one grouped statement. */
function* contentsOf(orgId?: string): Program<Map<string, OrganizationContents>> {
  const of = (column: string) => (orgId === undefined ? `${column} IS NOT NULL` : `${column} = ?`);
  const { rows } = yield* statement<{ org_id: string; what: string; resource_type: string | null; n: number | string }>(
    `SELECT id AS org_id, 'organization' AS what, NULL AS resource_type, 0 AS n FROM organizations WHERE ${of('id')}
     UNION ALL SELECT org_id, 'resources', resource_type, n FROM resource_counts WHERE n > 0 AND ${of('org_id')}
     UNION ALL SELECT org_id, 'tokens', NULL, count(*) FROM tokens WHERE ${of('org_id')} GROUP BY org_id
     UNION ALL SELECT org_id, 'audit', NULL, count(*) FROM audit_log WHERE ${of('org_id')} GROUP BY org_id
     ORDER BY resource_type`,
    ...(orgId === undefined ? [] : [orgId, orgId, orgId, orgId]),
  );
  const contents = new Map<string, { resources: Record<string, number>; tokens: number; auditEntries: number }>();
  for (const row of rows) {
    const c = contents.get(row.org_id) ?? { ...NO_CONTENTS, resources: {} };
    contents.set(row.org_id, c);
    if (row.what === 'resources') c.resources[row.resource_type!] = Number(row.n);
    else if (row.what === 'tokens') c.tokens = Number(row.n);
    else if (row.what === 'audit') c.auditEntries = Number(row.n);
  }
  return contents;
}

/** Ids per statement where a list of them is bound one parameter each (SQLite's limit is 32,766). */
const CHUNK = 500;
/** Tokens kept read (findTokenByHash): more than any one server's clients use. */
const TOKENS_KEPT = 10_000;
/** The most feed events placed in one write; a reader that finds more placed later reads on. */
const FEED_PLACING_BATCH = 5000;

/** A row of a list page: the resource, its sort key when sorted, its groups when asked for. */
type PageRow = ReadResourceRow & { sort_key?: string | number | null };

/** The writes of resources: each store's own (they are where the databases differ most). */
type WritePath = 'createResource' | 'createResources' | 'replaceResource' | 'patchResource' | 'deleteResource' | 'modifyResource';

export abstract class SqlStore implements Omit<Store, WritePath> {
  /** Index scopes ((organization, resource type) as a small integer) and index paths, as committed: never deleted. */
  private readonly scopes = new Map<string, number>();
  private readonly paths = new Map<string, number>();

  /**
   * `uniqueKeysByPath`: the store keys unique values by the index_paths id of their attribute (SQLite), so knowPaths
   * makes those ids too.
   */
  constructor(
    protected readonly x: SqlExecutor,
    private readonly migrations: readonly Migration[],
    private readonly uniqueKeysByPath: boolean,
  ) {}

  /** Writes one batch of a snapshot in a transaction of its own; the first checks that the store is empty (checkEmpty). */
  protected abstract importBatch(items: readonly ImportItem[], first: boolean): Promise<void>;

  /** Every pending migration, in one write, so processes starting at once apply each step once. */
  async migrate(): Promise<void> {
    const { migrations, x } = this;
    await x.write((function* () {
      for (const s of x.dialect.beforeMigrations) yield s;
      yield* statement('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)');
      const done = new Set((yield* statement<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        yield { sql: m.sql, params: [], script: true };
        yield* statement('INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)', m.version, m.name, new Date().toISOString());
      }
    })());
  }

  async ping(): Promise<void> {
    await this.x.read(rowsOf('SELECT 1'));
  }

  async close(): Promise<void> {
    await this.x.close();
  }

  async ensureOrganization(name: string): Promise<Organization> {
    // concurrent first calls: one insert wins, every caller reads the winner
    return this.x.write((function* () {
      yield* statement('INSERT INTO organizations (id, name, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', randomUUID(), name, new Date().toISOString());
      return (yield* statement<Organization>('SELECT id, name, created FROM organizations WHERE name = ?', name)).rows[0]!;
    })());
  }

  organizations(): Promise<Organization[]> {
    return this.x.read(rowsOf<Organization>('SELECT id, name, created FROM organizations ORDER BY created, name'));
  }

  async createOrganization(org: Organization): Promise<boolean> {
    const { changes } = await this.x.write(statement(
      'INSERT INTO organizations (id, name, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', org.id, org.name, org.created,
    ));
    return changes > 0;
  }

  async renameOrganization(id: string, name: string): Promise<boolean | 'taken'> {
    const { dialect } = this.x;
    // a token read carries its organization's name
    return this.changingTokens(this.x.write((function* () {
      if ((yield* statement('SELECT 1 FROM organizations WHERE name = ? AND id <> ?', name, id)).rows.length > 0) return 'taken' as const;
      const renamed = (yield* statement('UPDATE organizations SET name = ? WHERE id = ?', name, id)).changes > 0;
      for (const s of dialect.tokensChanged) yield* run(s);
      return renamed;
    })()));
  }

  organizationContents(id?: string): Promise<ReadonlyMap<string, OrganizationContents>> {
    return this.x.snapshot(contentsOf(id));
  }

  async deleteOrganization(id: string): Promise<OrganizationContents | undefined> {
    const { dialect } = this.x;
    const deleted = await this.changingTokens(this.x.write((function* () {
      if ((yield* statement('SELECT 1 FROM organizations WHERE id = ?', id)).rows.length === 0) return undefined;
      const contents = (yield* contentsOf(id)).get(id) ?? NO_CONTENTS;
      const scopes = 'scope IN (SELECT id FROM index_scopes WHERE org_id = ?)';
      for (const sql of [
        'DELETE FROM group_members WHERE org_id = ?',
        `DELETE FROM attribute_str WHERE ${scopes}`,
        `DELETE FROM attribute_num WHERE ${scopes}`,
        dialect.deleteUniqueValuesOf,
        'DELETE FROM resources WHERE org_id = ?',
        'DELETE FROM resource_counts WHERE org_id = ?',
        'DELETE FROM index_scopes WHERE org_id = ?',
        'DELETE FROM tokens WHERE org_id = ?',
        'DELETE FROM console_grants WHERE org_id = ?',
        'DELETE FROM audit_log WHERE org_id = ?',
        'DELETE FROM organizations WHERE id = ?',
      ]) yield* statement(sql, id);
      for (const s of dialect.tokensChanged) yield* run(s);
      return contents;
    })()));
    for (const key of this.scopes.keys()) if (key.startsWith(scopeKey(id, ''))) this.scopes.delete(key);
    return deleted;
  }

  async createToken(t: TokenRecord): Promise<void> {
    const { dialect } = this.x;
    await this.changingTokens(this.x.write((function* () {
      yield* run(rowInsert({ kind: 'token', ...t }, dialect));
      for (const s of dialect.tokensChanged) yield* run(s);
    })()));
  }

  /**
   * Tokens as last read, by digest: every request looks its token up, and tokens rarely change. Kept only while the
   * store can tell that no other process changed them (tokensChangedElsewhere), and emptied by its own changes, so a
   * revocation holds on the next request here, and on other nodes as soon as they hear of it.
   */
  private readonly tokens = new Map<string, FoundToken>();
  /** Every token, as listTokens() last read them: kept the same way (trusted issuers are looked up in it). */
  private allTokens: TokenRecord[] | undefined;
  /** tokensChangedElsewhere() when the tokens kept were read. */
  private tokensSeen: number | undefined;
  /** The changes to tokens made through this store, counted: a read they overtook is not kept. */
  private tokensChangedHere = 0;

  /**
   * A number that changes whenever another process may have changed the tokens (SQLite: another connection
   * committed; PostgreSQL: a notification came), or undefined when the store cannot tell: then nothing is kept.
   */
  protected tokensChangedElsewhere(): number | undefined {
    return undefined;
  }

  /** A change to the tokens made here: once it is done (or failed), what was kept is read again. */
  private async changingTokens<T>(change: Promise<T>): Promise<T> {
    try {
      return await change;
    } finally {
      this.tokensChangedHere++;
      this.tokens.clear();
      this.allTokens = undefined;
    }
  }

  /** Forgets what was kept when another process may have changed the tokens since; what tokensChangedElsewhere says now. */
  private keptTokensChecked(): number | undefined {
    const elsewhere = this.tokensChangedElsewhere();
    if (elsewhere === undefined || elsewhere !== this.tokensSeen) {
      this.tokens.clear();
      this.allTokens = undefined;
      this.tokensSeen = elsewhere;
    }
    return elsewhere;
  }

  async findTokenByHash(hash: string): Promise<FoundToken | undefined> {
    const elsewhere = this.keptTokensChecked();
    const known = this.tokens.get(hash);
    if (known) return known;
    const here = this.tokensChangedHere;
    // the organization's name in the same read: authentication puts it in the caller's context, for events
    const sql = 'SELECT tokens.*, organizations.name AS org_name FROM tokens LEFT JOIN organizations ON organizations.id = tokens.org_id WHERE tokens.hash = ?';
    const [row] = await this.x.read(rowsOf<TokenRow & { org_name: string | null }>(sql, hash));
    const found = row && (row.org_name !== null ? { ...toToken(row), orgName: row.org_name } : toToken(row));
    // kept when nothing changed the tokens while it was read; only tokens that exist (made-up ones must not fill it)
    const unchanged = elsewhere !== undefined && this.tokensChangedElsewhere() === elsewhere && this.tokensChangedHere === here;
    if (found && unchanged && this.tokens.size < TOKENS_KEPT) this.tokens.set(hash, found);
    return found;
  }

  async listTokens(orgId?: string): Promise<TokenRecord[]> {
    if (orgId !== undefined) return (await this.x.read(rowsOf<TokenRow>('SELECT * FROM tokens WHERE org_id = ? ORDER BY created, id', orgId))).map(toToken);
    const elsewhere = this.keptTokensChecked();
    if (this.allTokens) return [...this.allTokens];
    const here = this.tokensChangedHere;
    const all = (await this.x.read(rowsOf<TokenRow>('SELECT * FROM tokens ORDER BY created, id'))).map(toToken);
    if (elsewhere !== undefined && this.tokensChangedElsewhere() === elsewhere && this.tokensChangedHere === here) this.allTokens = all;
    return [...all];
  }

  async createGrant(g: ConsoleGrant): Promise<void> {
    await this.x.write(statement(
      'INSERT INTO console_grants (id, hash, kind, org_id, created, expires, created_by, last_seen, csrf, link_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      g.id, g.hash, g.kind, g.orgId ?? null, g.created, g.expires, g.createdBy, g.lastSeen ?? null, g.csrf ?? null, g.linkId ?? null,
    ));
  }

  async findGrant(hash: string): Promise<ConsoleGrant | undefined> {
    const [row] = await this.x.read(rowsOf<GrantRow>('SELECT * FROM console_grants WHERE hash = ?', hash));
    return row && toGrant(row);
  }

  async useGrant(id: string, at: string): Promise<boolean> {
    return (await this.x.write(statement('UPDATE console_grants SET used = ? WHERE id = ? AND used IS NULL', at, id))).changes > 0;
  }

  async touchGrant(id: string, at: string): Promise<void> {
    await this.x.write(statement('UPDATE console_grants SET last_seen = ? WHERE id = ?', at, id));
  }

  async revokeGrant(id: string, at: string): Promise<boolean> {
    return this.x.write((function* () {
      const { changes } = yield* statement('UPDATE console_grants SET revoked = ? WHERE id = ? AND revoked IS NULL', at, id);
      // the sessions a link opened end with it
      if (changes > 0) yield* statement('UPDATE console_grants SET revoked = ? WHERE link_id = ? AND revoked IS NULL', at, id);
      return changes > 0;
    })());
  }

  async pruneGrants(before: string): Promise<number> {
    return (await this.x.write(statement('DELETE FROM console_grants WHERE expires < ?', before))).changes;
  }

  async listGrants(kind: ConsoleGrant['kind'], orgId: string | undefined): Promise<ConsoleGrant[]> {
    const sql = `SELECT * FROM console_grants WHERE kind = ? AND ${orgId === undefined ? 'org_id IS NULL' : 'org_id = ?'} ORDER BY created DESC, id`;
    return (await this.x.read(rowsOf<GrantRow>(sql, kind, ...(orgId === undefined ? [] : [orgId])))).map(toGrant);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    const { dialect } = this.x;
    return this.changingTokens(this.x.write((function* () {
      const revoked = (yield* statement('UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL', at, id)).changes > 0;
      for (const s of dialect.tokensChanged) yield* run(s);
      return revoked;
    })()));
  }

  /** Other processes are not told: a last use they kept older only makes them record the next one sooner. */
  async touchToken(id: string, at: string): Promise<void> {
    await this.changingTokens(this.x.write(statement('UPDATE tokens SET last_used = ? WHERE id = ?', at, id)));
  }

  async getResource(orgId: string, resourceType: string, id: string, withGroups = false): Promise<StoredResource | undefined> {
    const [row] = await this.x.read(rowsOf<ReadResourceRow>(
      withGroups ? this.withGroupsSql : `SELECT ${RESOURCE_COLUMNS} FROM resources r WHERE r.org_id = ? AND r.resource_type = ? AND r.id = ?`,
      orgId, resourceType, id,
    ));
    return row && toReadResource(orgId, resourceType, row);
  }

  /** A resource and, in the same statement (one round trip), the groups it is a member of. */
  private get withGroupsSql(): string {
    return (this.withGroupsText ??= `SELECT ${RESOURCE_COLUMNS}, ${memberGroupsColumn(this.x.dialect)} FROM resources r WHERE r.org_id = ? AND r.resource_type = ? AND r.id = ?`);
  }

  private withGroupsText: string | undefined;

  async listResources(orgId: string, resourceType: string, query: ResourceQuery): Promise<ResourcePage> {
    const { count, page } = listQueries(orgId, resourceType, query, this.x.dialect, await this.lookUpPaths(queryPaths(query)));
    const pageOf = (rows: PageRow[], total: number): ResourcePage => {
      // a `before` page is read backwards from its anchor; give it back in the query's order
      if (query.before) rows.reverse();
      const keysets: Keyset[] = rows.map((r) => (query.sort ? { key: r.sort_key ?? null, position: r.seq } : { position: r.seq }));
      return { total, resources: rows.map((r) => toReadResource(orgId, resourceType, r)), keysets };
    };
    // A filtered first page (the lookups IdPs send, by userName or externalId: 0 or 1 match) is read alone, one
    // statement: when it has room to spare it holds every match, and its length is the total.
    const first = query.offset === 0 && !query.after && !query.before && query.limit > 0;
    if (first && query.filter) {
      const rows = await this.x.read(run<PageRow>({ ...page, recurs: true }));
      if (rows.rows.length < query.limit) return pageOf(rows.rows, rows.rows.length);
    }
    // else the total and the page in one snapshot
    return this.x.snapshot((function* () {
      const total = Number((yield* run<{ total: number }>({ ...count, recurs: true })).rows[0]!.total);
      if (query.limit === 0) return { total, resources: [], keysets: [] };
      return pageOf((yield* run<PageRow>({ ...page, recurs: true })).rows, total);
    })());
  }

  members(orgId: string, groupId: string): Promise<ResourceRef[]> {
    return this.x.read(this.membersIn(orgId, groupId));
  }

  /**
   * A group's members, in the order they were added; a program, so that a write can read them in its own
   * transaction. The relation is read from outermost (the dialect's membershipJoin): by index, then each resource by
   * id (else SQLite may walk every resource of the organization, which made creating a user O(users)).
   */
  protected *membersIn(orgId: string, groupId: string): Program<ResourceRef[]> {
    const rows = yield* rowsOf<{ value: string; resourceType: string; display: string | null }>(
      `SELECT m.member_id AS "value", m.member_type AS "resourceType", r.display AS display
       FROM group_members m ${this.x.dialect.membershipJoin} resources r ON r.org_id = m.org_id AND r.resource_type = m.member_type AND r.id = m.member_id
       WHERE m.org_id = ? AND m.group_id = ? ORDER BY m.${this.x.dialect.memberPosition}`,
      orgId, groupId,
    );
    return rows.map(toRef);
  }

  async groupsOf(orgId: string, memberIds: readonly string[]): Promise<Map<string, ResourceRef[]>> {
    const out = new Map<string, ResourceRef[]>();
    const { dialect } = this.x;
    for (let i = 0; i < memberIds.length; i += CHUNK) {
      const ids = dialect.anyOf('m.member_id', memberIds.slice(i, i + CHUNK), 'text');
      const rows = await this.x.read(rowsOf<{ member: string; value: string; resourceType: string; display: string | null }>(
        `SELECT m.member_id AS member, m.group_id AS "value", r.resource_type AS "resourceType", r.display AS display
         FROM group_members m ${dialect.membershipJoin} resources r ON r.org_id = m.org_id AND r.id = m.group_id
         WHERE m.org_id = ? AND ${ids.sql} ORDER BY m.${dialect.memberPosition}`,
        orgId, ...ids.params,
      ));
      for (const { member, ...ref } of rows) {
        const list = out.get(member) ?? [];
        list.push(toRef(ref));
        out.set(member, list);
      }
    }
    return out;
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const flat = entries.flatMap((entry) => auditValues({ entry, version: undefined, added: [], removed: [] }));
    await this.x.write(insertAuditValues(flat, this.x.dialect));
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return (await this.x.read(run<AuditRow>(listAudit(query)))).rows.map(toAuditRecord);
  }

  async pruneAudit(before: string): Promise<number> {
    return (await this.x.write(statement('DELETE FROM audit_log WHERE at < ?', before))).changes;
  }

  async claimEvents(now: string, leaseUntil: string, limit: number, channel = ''): Promise<OutboxEvent[]> {
    // One statement: the events are chosen and leased at once, so no two processes lease one event (PostgreSQL's
    // SKIP LOCKED passes over another node's choice; SQLite has one writer at a time).
    const { rows } = await this.x.write(statement<OutboxRow>(
      `UPDATE event_outbox SET lease_until = ?
       WHERE seq IN (
         SELECT o.seq FROM event_outbox o
         WHERE o.channel = ? AND o.delivered IS NULL AND o.dead IS NULL AND o.next_attempt <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
           AND NOT EXISTS (SELECT 1 FROM event_outbox p WHERE p.stream = o.stream AND p.delivered IS NULL AND p.dead IS NULL AND p.seq < o.seq)
         ORDER BY o.seq LIMIT ?${this.x.dialect.skipLocked})
       RETURNING seq, channel, payload, attempts, last_error`,
      leaseUntil, channel, now, now, limit,
    ));
    return rows.sort((a, b) => a.seq - b.seq).map(toOutboxEvent);
  }

  async completeEvents(seqs: readonly number[], at: string): Promise<void> {
    const { dialect } = this.x;
    await this.x.write((function* () {
      for (let i = 0; i < seqs.length; i += CHUNK) {
        const which = dialect.anyOf('seq', seqs.slice(i, i + CHUNK), 'bigint');
        yield* statement(`UPDATE event_outbox SET delivered = ?, lease_until = NULL WHERE ${which.sql} AND delivered IS NULL`, at, ...which.params);
      }
    })());
  }

  async failEvent(seq: number, error: string, retryAt: string | undefined): Promise<void> {
    await this.x.write(statement(
      `UPDATE event_outbox SET attempts = attempts + 1, last_error = ?, lease_until = NULL, next_attempt = coalesce(?, next_attempt),
         dead = CASE WHEN CAST(? AS TEXT) IS NULL THEN ? ELSE NULL END
       WHERE seq = ? AND delivered IS NULL`,
      error.slice(0, 1000), retryAt ?? null, retryAt ?? null, new Date().toISOString(), seq,
    ));
  }

  async deadEvents(limit: number): Promise<OutboxEvent[]> {
    const rows = await this.x.read(rowsOf<OutboxRow>('SELECT seq, channel, payload, attempts, last_error FROM event_outbox WHERE dead IS NOT NULL ORDER BY seq LIMIT ?', limit));
    return rows.map(toOutboxEvent);
  }

  async eventBacklog(): Promise<EventBacklog[]> {
    // the undelivered rows only (a partial index holds them): what a receiver being away leaves, not the history
    const rows = await this.x.read(rowsOf<{ channel: string; pending: number | string; dead: number | string }>(
      'SELECT channel, count(*) - count(dead) AS pending, count(dead) AS dead FROM event_outbox WHERE delivered IS NULL GROUP BY channel ORDER BY channel',
    ));
    return rows.map((r) => ({ channel: r.channel, pending: Number(r.pending), dead: Number(r.dead) }));
  }

  async recentDeliveries(orgId: string, limit: number): Promise<Delivery[]> {
    const rows = await this.x.read(rowsOf<OutboxRow & { delivered: string | null; dead: string | null; next_attempt: string }>(
      `SELECT seq, channel, payload, attempts, last_error, delivered, dead, next_attempt FROM event_outbox
       WHERE org_id = ? AND channel <> ? ORDER BY seq DESC LIMIT ?`,
      orgId, FEED_CHANNEL, limit,
    ));
    return rows.map((r) => ({
      ...toOutboxEvent(r),
      state: r.delivered !== null ? 'delivered' : r.dead !== null ? 'dead' : 'pending',
      when: r.delivered ?? r.dead ?? r.next_attempt,
    }));
  }

  async retryDeadEvents(eventId?: string): Promise<number> {
    const { changes } = await this.x.write(statement(
      'UPDATE event_outbox SET dead = NULL, attempts = 0, next_attempt = ? WHERE dead IS NOT NULL AND (CAST(? AS TEXT) IS NULL OR id = ?)',
      new Date().toISOString(), eventId ?? null, eventId ?? null,
    ));
    return changes;
  }

  async pruneEvents(before: string): Promise<number> {
    return this.x.write((function* () {
      let n = (yield* statement('DELETE FROM event_outbox WHERE delivered IS NOT NULL AND delivered < ? AND feed_position IS NULL', before)).changes;
      // the feed by place, never by time alone (nodes' clocks differ): its places stay one unbroken run, and the newest
      // stays, so that a reader can tell that the places after its own were pruned
      const [edge] = yield* rowsOf<{ upto: number | null; top: number | null }>(
        `SELECT (SELECT max(feed_position) FROM event_outbox WHERE feed_position IS NOT NULL AND delivered < ?) AS upto,
                (SELECT max(feed_position) FROM event_outbox WHERE feed_position IS NOT NULL) AS top`,
        before,
      );
      if (edge?.upto != null && edge.top != null) n += (yield* statement('DELETE FROM event_outbox WHERE feed_position <= ?', Math.min(edge.upto, edge.top - 1))).changes;
      return n;
    })());
  }

  async readFeed(orgId: string | undefined, after: number, limit: number): Promise<FeedSlice> {
    const { x } = this;
    const pending = await x.read(rowsOf('SELECT 1 FROM event_outbox WHERE channel = ? AND delivered IS NULL AND dead IS NULL LIMIT 1', FEED_CHANNEL));
    if (pending.length > 0) {
      await x.write((function* () {
        // one placer at a time; the highest place is read after the lock, so it includes every earlier placer's
        for (const s of x.dialect.feedLock) yield s;
        const [placed] = yield* rowsOf<{ top: number }>('SELECT coalesce(max(feed_position), 0) AS top FROM event_outbox WHERE feed_position IS NOT NULL');
        yield* statement(
          `UPDATE event_outbox SET feed_position = p.place, delivered = ?
           FROM (SELECT seq, ? + row_number() OVER (ORDER BY seq) AS place FROM event_outbox
                 WHERE channel = ? AND delivered IS NULL AND dead IS NULL ORDER BY seq LIMIT ?) AS p
           WHERE event_outbox.seq = p.seq`,
          new Date().toISOString(), placed?.top ?? 0, FEED_CHANNEL, FEED_PLACING_BATCH,
        );
      })());
    }
    // the bounds first: every place up to `top` is committed when it is read, so the events below it are all there
    const [bounds] = await x.read(rowsOf<{ top: number | null; oldest: number | null }>(
      `SELECT (SELECT max(feed_position) FROM event_outbox WHERE feed_position IS NOT NULL) AS top,
              (SELECT min(feed_position) FROM event_outbox WHERE feed_position IS NOT NULL) AS oldest`,
    ));
    const top = bounds?.top ?? 0;
    const rows = await x.read(rowsOf<{ feed_position: number; payload: string }>(
      `SELECT feed_position, payload FROM event_outbox
       WHERE feed_position > ? AND feed_position <= ?${orgId === undefined ? '' : ' AND org_id = ?'} ORDER BY feed_position LIMIT ?`,
      after, top, ...(orgId === undefined ? [] : [orgId]), limit,
    ));
    return {
      events: rows.map((r) => ({ position: r.feed_position, event: JSON.parse(r.payload) as LifecycleEvent })),
      top,
      oldest: bounds?.oldest ?? top + 1,
    };
  }

  async countRequests(key: string, window: number, n: number): Promise<number> {
    return this.x.write((function* () {
      yield* statement('DELETE FROM request_counts WHERE key = ? AND "window" < ?', key, window - 1);
      // concurrent requests of one token, on any node, add to one row: each sees the total including its own
      const { rows } = yield* statement<{ n: number }>(
        `INSERT INTO request_counts (key, "window", n) VALUES (?, ?, ?)
         ON CONFLICT (key, "window") DO UPDATE SET n = request_counts.n + excluded.n RETURNING n`,
        key, window, n,
      );
      return Number(rows[0]!.n);
    })());
  }

  async secret(name: string): Promise<Buffer> {
    const read = rowsOf<{ value: Uint8Array }>('SELECT value FROM secrets WHERE name = ?', name);
    const [found] = await this.x.read(read);
    if (found) return Buffer.from(found.value);
    // another process may make it first: the first one written is the one
    const [made] = await this.x.write((function* () {
      yield* statement('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING', name, randomBytes(32));
      return yield* rowsOf<{ value: Uint8Array }>('SELECT value FROM secrets WHERE name = ?', name);
    })());
    return Buffer.from(made!.value);
  }

  async *exportSnapshot(): AsyncGenerator<SnapshotRecord> {
    const { dialect } = this.x;
    yield* this.x.readSession(async function* (query) {
      const steps = snapshotSteps(dialect);
      for (let step = steps.next(); !step.done;) {
        const s = step.value;
        if ('records' in s) yield* s.records;
        step = 'query' in s ? steps.next(await query(s.query)) : steps.next();
      }
    });
  }

  async importSnapshot(records: AsyncIterable<SnapshotRecord>): Promise<void> {
    let first = true;
    for await (const batch of batches(records)) {
      const items = importItems(batch);
      await this.knowPaths(items.map((i) => (i.kind === 'resource' ? i : {})));
      await this.importBatch(items, first);
      first = false;
    }
  }

  /** For importBatch, inside its transaction: refuses (StoreNotEmpty) a store that holds anything. */
  protected *checkEmpty(): Program<void> {
    const holds = nonEmptyTables((yield* statement<Record<string, number>>(EMPTINESS)).rows[0]!);
    if (holds) throw new StoreNotEmpty(holds);
  }

  /** For importBatch, inside its transaction: a record that is one plain row (not a resource, not members). */
  protected insertRow(item: Exclude<ImportItem, { kind: 'resource' | 'members' }>): Program<unknown> {
    return run(rowInsert(item, this.x.dialect));
  }

  /**
   * The index scope of (organization, resource type): made on first use in a write of its own, and remembered only
   * once committed (an id remembered from a write rolled back could be given to another scope).
   */
  protected async scopeOf(orgId: string, resourceType: string): Promise<number> {
    const known = this.scopes.get(scopeKey(orgId, resourceType));
    if (known !== undefined) return known;
    const made = new Map<string, number>();
    const id = await this.x.write(this.scopeIn(orgId, resourceType, made));
    this.rememberScopes(made);
    return id;
  }

  /**
   * The scope made (or found) by a program run in the caller's transaction, which remembers what it made in `made`
   * (rememberScopes, once committed): a restore makes its scopes after the organizations it has just written
   * (PostgreSQL's scopes reference them). A scope another process is making is waited for by the INSERT and found by
   * the SELECT, a statement of its own.
   */
  protected *scopeIn(orgId: string, resourceType: string, made: Map<string, number>): Program<number> {
    const key = scopeKey(orgId, resourceType);
    const known = this.scopes.get(key) ?? made.get(key);
    if (known !== undefined) return known;
    yield* statement('INSERT INTO index_scopes (org_id, resource_type) VALUES (?, ?) ON CONFLICT DO NOTHING', orgId, resourceType);
    const id = Number((yield* statement<{ id: number }>('SELECT id FROM index_scopes WHERE org_id = ? AND resource_type = ?', orgId, resourceType)).rows[0]!.id);
    made.set(key, id);
    return id;
  }

  protected rememberScopes(made: ReadonlyMap<string, number>): void {
    for (const [key, id] of made) this.scopes.set(key, id);
  }

  /**
   * Makes sure every path of the writes' index entries (and, where unique values are keyed by it, every attribute
   * of their unique keys) has its id in index_paths: new ones are added in a write of their own before the write
   * that needs them, and remembered once committed, as scopes are.
   */
  protected async knowPaths(writes: readonly { readonly index?: readonly IndexEntry[]; readonly uniqueKeys?: readonly UniqueKey[] }[]): Promise<void> {
    const unknown = this.unknownPaths(writes);
    if (unknown.length === 0) return;
    const { dialect } = this.x;
    const rows = await this.x.write((function* () {
      yield* statement(`INSERT INTO index_paths (path) VALUES ${unknown.map(() => '(?)').join(', ')} ON CONFLICT DO NOTHING`, ...unknown);
      const which = dialect.anyOf('path', unknown, 'text');
      return yield* rowsOf<{ id: number; path: string }>(`SELECT id, path FROM index_paths WHERE ${which.sql}`, ...which.params);
    })());
    for (const r of rows) this.paths.set(r.path, Number(r.id));
  }

  /** The paths of the writes that knowPaths has not made sure of yet, in one order everywhere (no deadlock between two processes adding them). */
  protected unknownPaths(writes: readonly { readonly index?: readonly IndexEntry[]; readonly uniqueKeys?: readonly UniqueKey[] }[]): string[] {
    const missing = new Set<string>();
    for (const w of writes) {
      for (const e of w.index ?? []) if (!this.paths.has(e.path)) missing.add(e.path);
      if (this.uniqueKeysByPath) for (const k of w.uniqueKeys ?? []) if (!this.paths.has(k.attribute)) missing.add(k.attribute);
    }
    return [...missing].sort();
  }

  /** The known index paths, with those of `paths` that another process has added since looked up. */
  protected async lookUpPaths(paths: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const unknown = paths.filter((p) => !this.paths.has(p));
    if (unknown.length > 0) {
      const which = this.x.dialect.anyOf('path', unknown, 'text');
      const rows = await this.x.read(rowsOf<{ id: number; path: string }>(`SELECT id, path FROM index_paths WHERE ${which.sql}`, ...which.params));
      for (const r of rows) this.paths.set(r.path, Number(r.id));
    }
    return this.paths;
  }

  /** The id of an index path that knowPaths has made sure of. */
  protected pathId(path: string): number {
    const id = this.paths.get(path);
    if (id === undefined) throw new Error(`index path "${path}" written before knowPaths`);
    return id;
  }
}
