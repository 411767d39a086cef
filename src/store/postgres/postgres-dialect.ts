/** What PostgreSQL does differently in the shared SQL (see sql/query-compiler.ts). */
import { numberedPlaceholders, type SqlDialect } from '../sql/query-compiler.js';

export const POSTGRES: SqlDialect = {
  contains: (haystack, needle) => `strpos(${haystack}, ${needle}) > 0`,
  // the cast: length() is overloaded, and a bare parameter has no type to choose by
  endsWith: (haystack, needle) => `right(${haystack}, length(${needle}::text)) = ${needle}`,
  // attribute_str.str is COLLATE "C": comparisons and the index order are code point order, as in SQLite
  maxCodePoint: '\u{10FFFF}',
  membershipJoin: 'JOIN',
  unindexed: (column) => column,
  placeholders: numberedPlaceholders,
  // a b-tree entry must fit in a third of a page (2,704 bytes): 400 code points are at most 1,600 bytes
  stringPrefix: { column: 'str_prefix', length: 400 },
  memberPosition: 'position',
  // the identity columns are GENERATED ALWAYS
  overridingIdentity: ' OVERRIDING SYSTEM VALUE',
  uniqueValuesBetween: `SELECT r.seq, u.attribute, u.value FROM resources r JOIN unique_values u ON u.org_id = r.org_id AND u.resource_id = r.id
    WHERE r.seq > ? AND r.seq <= ? ORDER BY r.seq, u.attribute, u.value`,
};
