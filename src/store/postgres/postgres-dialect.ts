/** What PostgreSQL does differently in the shared SQL (see sql/dialect.ts). */
import type { SqlDialect } from '../sql/dialect.js';

/** Any number that names scimd's migrations among other users of pg_advisory_xact_lock on the database. */
const MIGRATION_LOCK = 0x5c1d_0001;
const FEED_LOCK = 0x5c1d_0002;
/** The channel on which a write of tokens tells every node to read them again (postgres-store.ts listens). */
export const TOKENS_CHANNEL = 'scimd_tokens';

export const POSTGRES: SqlDialect = {
  contains: (haystack, needle) => `strpos(${haystack}, ${needle}) > 0`,
  // the cast: length() is overloaded, and a bare parameter has no type to choose by
  endsWith: (haystack, needle) => `right(${haystack}, length(${needle}::text)) = ${needle}`,
  // attribute_str.str is COLLATE "C": comparisons and the index order are code point order, as in SQLite
  maxCodePoint: '\u{10FFFF}',
  membershipJoin: 'JOIN',
  unindexed: (column) => column,
  anyOf: (column, values, type) => ({ sql: `${column} = ANY(CAST(? AS ${type}[]))`, params: [values] }),
  // a b-tree entry must fit in a third of a page (2,704 bytes): 400 code points are at most 1,600 bytes
  stringPrefix: { column: 'str_prefix', length: 400 },
  jsonRows: (values, orderBy) => `json_agg(json_build_array(${values.join(', ')}) ORDER BY ${orderBy})`,
  memberPosition: 'position',
  tokensChanged: [{ sql: 'SELECT pg_notify(?, ?)', params: [TOKENS_CHANNEL, ''] }],
  // the identity columns are GENERATED ALWAYS
  overridingIdentity: ' OVERRIDING SYSTEM VALUE',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  // a round trip a statement: as many rows as the 65,535 parameters allow with room
  rowsPerInsert: 1000,
  // nodes starting at once wait for each other; a migration copies whole tables (minutes at a million users)
  feedLock: [{ sql: 'SELECT pg_advisory_xact_lock(?)', params: [FEED_LOCK] }],
  beforeMigrations: [
    { sql: 'SET LOCAL statement_timeout = 0', params: [] },
    { sql: 'SELECT pg_advisory_xact_lock(?)', params: [MIGRATION_LOCK] },
  ],
  uniqueValuesBetween: `SELECT r.seq, u.attribute, u.value FROM resources r JOIN unique_values u ON u.org_id = r.org_id AND u.resource_id = r.id
    WHERE r.seq > ? AND r.seq <= ? ORDER BY r.seq, u.attribute, u.value`,
  deleteUniqueValuesOf: 'DELETE FROM unique_values WHERE org_id = ?',
};
