/**
 * Snapshots (Store.exportSnapshot / importSnapshot) for both SQL stores: what to read, in which order and batches,
 * and the rows as records; the INSERTs of the plain rows. Pure: a store drives the reading steps on its own
 * connection inside one read transaction, and runs the INSERTs in its own write transactions.
 */
import type { IndexEntry } from '../../core/model.js';
import type { LifecycleEvent } from '../../core/events.js';
import type { ResourceWrite, SnapshotRecord, UniqueKey } from '../../core/model.js';
import { restoredAudit } from './audit.js';
import { outboxStream } from './outbox.js';
import type { SqlDialect, SqlFragment } from './dialect.js';
import { toAuditRecord, toResource, toToken, type AuditRow, type ResourceRow, type TokenRow } from './rows.js';

/** Rows read, and records written, per statement or transaction: bounded memory whatever the directory's size. */
export const SNAPSHOT_BATCH = 1000;

type Row = Record<string, unknown>;

/** One step of reading a snapshot: a query whose rows are to be sent back, or records ready to hand out. */
export type SnapshotStep = { readonly query: SqlFragment } | { readonly records: readonly SnapshotRecord[] };

/**
 * The reading of a whole snapshot as steps (run each query and send its rows to `next`), in keyset batches. Every
 * query must see the same snapshot: the caller runs them all in one read transaction.
 */
export function* snapshotSteps(dialect: SqlDialect, batch = SNAPSHOT_BATCH): Generator<SnapshotStep, void, Row[]> {
  function* run<R>(sql: string, ...params: unknown[]): Generator<SnapshotStep, R[], Row[]> {
    return (yield { query: { sql, params } }) as R[];
  }
  /** `<columns> FROM <table> WHERE [<condition> AND]` read in batches of its `key` column, each row one record. */
  function* pages<R>(key: string, select: string, record: (row: R) => SnapshotRecord): Generator<SnapshotStep, void, Row[]> {
    for (let after = 0; ;) {
      const rows = yield* run<R & { page_key: number }>(`SELECT ${key} AS page_key, ${select} ${key} > ? ORDER BY ${key} LIMIT ?`, after, batch);
      if (rows.length === 0) return;
      yield { records: rows.map(record) };
      after = rows[rows.length - 1]!.page_key;
    }
  }

  const orgs = yield* run<{ id: string; name: string; created: string }>('SELECT id, name, created FROM organizations ORDER BY created, name');
  yield { records: orgs.map((o) => ({ kind: 'organization', id: o.id, name: o.name, created: o.created })) };
  const secrets = yield* run<{ name: string; value: Buffer }>('SELECT name, value FROM secrets ORDER BY name');
  yield { records: secrets.map((s) => ({ kind: 'secret', name: s.name, value: Buffer.from(s.value).toString('base64') })) };
  const tokens = yield* run<TokenRow>('SELECT * FROM tokens ORDER BY created, id');
  yield { records: tokens.map((t) => ({ kind: 'token', ...toToken(t) })) };

  for (let after = 0; ;) {
    const rows = yield* run<ResourceRow>('SELECT * FROM resources WHERE seq > ? ORDER BY seq LIMIT ?', after, batch);
    if (rows.length === 0) break;
    const last = rows[rows.length - 1]!.seq;
    // the two index tables as one list of entries (a complex value's marker is its '' string row: see indexRows)
    const index = yield* run<IndexRow>(
      `SELECT a.resource_seq AS resource_seq, p.path AS path, a.ordinal AS ordinal, a.str AS str, CAST(NULL AS DOUBLE PRECISION) AS num
       FROM attribute_str a JOIN index_paths p ON p.id = a.path WHERE a.resource_seq > ? AND a.resource_seq <= ?
       UNION ALL SELECT a.resource_seq, p.path, a.ordinal, NULL, a.num
       FROM attribute_num a JOIN index_paths p ON p.id = a.path WHERE a.resource_seq > ? AND a.resource_seq <= ?
       ORDER BY resource_seq, path, ordinal, str, num`,
      after, last, after, last,
    );
    const keys = yield* run<{ seq: number } & UniqueKey>(dialect.uniqueValuesBetween, after, last);
    yield { records: resourceRecords(rows, index, keys) };
    after = last;
  }
  yield* pages<{ org_id: string; group_id: string; member_id: string; member_type: string }>(
    dialect.memberPosition,
    'org_id, group_id, member_id, member_type FROM group_members WHERE',
    (m) => ({ kind: 'member', orgId: m.org_id, groupId: m.group_id, memberId: m.member_id, memberType: m.member_type }),
  );
  yield* pages<AuditRow>('seq', '* FROM audit_log WHERE', (a) => ({ kind: 'audit', ...toAuditRecord(a) }));
  // delivered events are done with; a lease belongs to a process of the source
  yield* pages<EventRow>('seq', 'seq, channel, payload, attempts, next_attempt, last_error, dead FROM event_outbox WHERE delivered IS NULL AND', (e) => ({
    kind: 'event', seq: e.seq, channel: e.channel, event: JSON.parse(e.payload) as LifecycleEvent, attempts: e.attempts, nextAttempt: e.next_attempt,
    ...(e.last_error !== null ? { lastError: e.last_error } : {}),
    ...(e.dead !== null ? { dead: e.dead } : {}),
  }));
}

interface IndexRow {
  resource_seq: number;
  path: string;
  ordinal: number;
  str: string | null;
  num: number | null;
}

interface EventRow {
  seq: number;
  channel: string;
  payload: string;
  attempts: number;
  next_attempt: string;
  last_error: string | null;
  dead: string | null;
}

function resourceRecords(rows: readonly (ResourceRow)[], index: readonly IndexRow[], keys: readonly ({ seq: number } & UniqueKey)[]): SnapshotRecord[] {
  const entries = groupBy(index, (e) => e.resource_seq, (e): IndexEntry => ({
    path: e.path, ordinal: e.ordinal, ...(e.str !== null ? { str: e.str } : {}), ...(e.num !== null ? { num: e.num } : {}),
  }));
  const unique = groupBy(keys, (k) => k.seq, (k): UniqueKey => ({ attribute: k.attribute, value: k.value }));
  return rows.map((r) => ({
    kind: 'resource', position: r.seq, ...toResource(r), ...(r.display !== null ? { display: r.display } : {}),
    uniqueKeys: unique.get(r.seq) ?? [], index: entries.get(r.seq) ?? [],
  }));
}

function groupBy<T, V>(items: readonly T[], key: (item: T) => number, value: (item: T) => V): Map<number, V[]> {
  const out = new Map<number, V[]>();
  for (const item of items) {
    const list = out.get(key(item)) ?? [];
    list.push(value(item));
    out.set(key(item), list);
  }
  return out;
}

/** Whether a store holds anything: one row (0/1) per table a snapshot fills. */
export const EMPTINESS = `SELECT ${['organizations', 'secrets', 'tokens', 'resources', 'audit_log', 'event_outbox']
  .map((t) => `(SELECT count(*) FROM (SELECT 1 FROM ${t} LIMIT 1) AS x) AS ${t}`).join(', ')}`;

/** The tables the EMPTINESS row names as not empty, for StoreNotEmpty; '' when the store is empty. */
export function nonEmptyTables(row: Record<string, number>): string {
  return Object.entries(row).filter(([, n]) => Number(n) > 0).map(([t]) => t.replace('_', ' ')).join(', ');
}

/** How a store writes a resource: a new one (version 1 at `at`), or one restored as it was, at its position. */
export interface ResourceMeta {
  readonly position?: number;
  readonly version: number;
  readonly created: string;
  readonly lastModified: string;
}

export const created = (at: string): ResourceMeta => ({ version: 1, created: at, lastModified: at });

/** Records as a store imports them: a resource with the write it is (no membership: members come after every resource). */
export type ImportItem =
  | Exclude<SnapshotRecord, { kind: 'member' }>
  /** Consecutive members of one group, added in one step, in their order. */
  | { readonly kind: 'members'; readonly orgId: string; readonly groupId: string; readonly ids: string[]; readonly types: string[] };

export function importItems(batch: readonly SnapshotRecord[]): ImportItem[] {
  const out: ImportItem[] = [];
  for (const r of batch) {
    const last = out[out.length - 1];
    if (r.kind !== 'member') out.push(r);
    else if (last?.kind === 'members' && last.orgId === r.orgId && last.groupId === r.groupId) {
      last.ids.push(r.memberId);
      if (!last.types.includes(r.memberType)) last.types.push(r.memberType);
    } else out.push({ kind: 'members', orgId: r.orgId, groupId: r.groupId, ids: [r.memberId], types: [r.memberType] });
  }
  return out;
}

/** The write that stores a resource record as it was: its document, label, unique keys and index entries. */
export function resourceWrite(r: Extract<SnapshotRecord, { kind: 'resource' }>): ResourceWrite {
  return { attributes: r.attributes, uniqueKeys: r.uniqueKeys, index: r.index, ...(r.display !== undefined ? { display: r.display } : {}) };
}

/** The INSERT of a record that is one plain row (resources and members go through a store's write path). */
export function rowInsert(r: Exclude<ImportItem, { kind: 'resource' | 'members' }>, dialect: SqlDialect): SqlFragment {
  const insert = (table: string, values: Record<string, unknown>, overriding = ''): SqlFragment => ({
    sql: `INSERT INTO ${table} (${Object.keys(values).join(', ')})${overriding} VALUES (${Object.keys(values).map(() => '?').join(', ')})`,
    params: Object.values(values),
  });
  switch (r.kind) {
    case 'organization':
      return insert('organizations', { id: r.id, name: r.name, created: r.created });
    case 'secret':
      return insert('secrets', { name: r.name, value: Buffer.from(r.value, 'base64') });
    case 'token':
      return insert('tokens', {
        id: r.id, org_id: r.orgId ?? null, name: r.name, dialect: r.dialect, scope: r.scope, scopes: Array.isArray(r.scopes) ? r.scopes.join(' ') : null,
        hash: r.hash, created: r.created, expires: r.expires ?? null, config: r.issuer ? JSON.stringify(r.issuer) : null,
        last_used: r.lastUsed ?? null, revoked: r.revoked ?? null,
      });
    case 'audit':
      return restoredAudit(r.seq, { entry: r, version: r.version, added: [], removed: [] }, dialect);
    case 'event':
      return insert('event_outbox', {
        seq: r.seq, id: r.event.id, channel: r.channel, stream: outboxStream(r.channel, r.event), payload: JSON.stringify(r.event),
        attempts: r.attempts, next_attempt: r.nextAttempt, last_error: r.lastError ?? null, dead: r.dead ?? null,
      }, dialect.overridingIdentity);
  }
}

/** Groups records into batches of `size`; always at least one (possibly empty), so an import checks its target even then. */
export async function* batches<T>(records: AsyncIterable<T>, size = SNAPSHOT_BATCH): AsyncGenerator<T[]> {
  let batch: T[] = [];
  let yielded = false;
  for await (const r of records) {
    batch.push(r);
    if (batch.length === size) {
      yield batch;
      batch = [];
      yielded = true;
    }
  }
  if (batch.length > 0 || !yielded) yield batch;
}
