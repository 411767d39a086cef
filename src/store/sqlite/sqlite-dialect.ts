/** What SQLite does differently in the shared SQL (see sql/dialect.ts). */
import type { SqlDialect } from '../sql/dialect.js';

export const SQLITE: SqlDialect = {
  contains: (haystack, needle) => `instr(${haystack}, ${needle}) > 0`,
  endsWith: (haystack, needle) => `substr(${haystack}, length(${haystack}) - length(${needle}) + 1) = ${needle} AND length(${haystack}) >= length(${needle})`,
  maxCodePoint: '\u{10FFFF}',
  // SQLite's CROSS JOIN fixes the join order (https://sqlite.org/optoverview.html#crossjoin).
  membershipJoin: 'CROSS JOIN',
  // the unary + keeps SQLite from walking every resource of the type through its identity index
  unindexed: (column) => `+${column}`,
  anyOf: (column, values) => ({ sql: `${column} IN (${values.map(() => '?').join(', ')})`, params: values }),
  jsonRows: (values, orderBy) => `json_group_array(json_array(${values.join(', ')}) ORDER BY ${orderBy})`,
  memberPosition: 'rowid',
  tokensChanged: [],
  overridingIdentity: '',
  // one writer at a time: nothing to pass over
  skipLocked: '',
  // measured: one statement a row cost a third of a Bulk load's index time in binding and stepping
  rowsPerInsert: 64,
  feedLock: [],
  beforeMigrations: [],
  uniqueValuesBetween: `SELECT u.resource_seq AS seq, p.path AS attribute, u.value FROM unique_claims u JOIN index_paths p ON p.id = u.attribute
    WHERE u.resource_seq > ? AND u.resource_seq <= ? ORDER BY u.resource_seq, p.path, u.value`,
  deleteUniqueValuesOf: 'DELETE FROM unique_claims WHERE scope IN (SELECT id FROM index_scopes WHERE org_id = ?)',
};
