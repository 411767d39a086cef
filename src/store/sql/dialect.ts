/**
 * What differs between the SQL databases, for the SQL written once in this folder: every statement is written with
 * `?` parameters and standard SQL; a dialect (sqlite/sqlite-dialect.ts, postgres/postgres-dialect.ts) supplies the
 * few expressions that differ, and its executor the placeholders.
 */

/** A statement (or part of one) and its parameters, in the order of its `?`s. Values never enter the SQL text. */
export interface SqlFragment {
  readonly sql: string;
  readonly params: readonly unknown[];
}

export interface SqlDialect {
  /** A boolean expression: `haystack` contains `needle` (both already case-folded where needed). */
  contains(haystack: string, needle: string): string;
  /** A boolean expression: `haystack` ends with `needle`. */
  endsWith(haystack: string, needle: string): string;
  /** The highest code point, appended to a prefix to bound a range scan for `sw`. */
  readonly maxCodePoint: string;
  /** A join that keeps the membership table outermost, so a member id is looked up by index, not per group. */
  readonly membershipJoin: string;
  /** The column, written so the planner does not drive the query from an index on it (SQLite's unary `+`). */
  unindexed(column: string): string;
  /**
   * `column` is one of `values`: SQLite `IN (?, ?, …)`, PostgreSQL `= ANY(?)` with one array parameter (of SQL type
   * `type`), which keeps one statement text whatever the count.
   */
  anyOf(column: string, values: readonly unknown[], type: 'text' | 'bigint'): SqlFragment;
  /**
   * A column of attribute_str holding the first `length` code points of `str`, indexed instead of `str` where
   * index entries have a size limit (PostgreSQL's b-tree). Comparisons use it alone for shorter values (exact:
   * such a value compares with a string as with the string's prefix) and as a range bound before checking `str`
   * for longer ones.
   */
  readonly stringPrefix?: { readonly column: string; readonly length: number };
  /**
   * An aggregate: the rows' `values` as a JSON array of arrays, in `orderBy` order (SQLite gives text, PostgreSQL
   * json, which the driver parses; PostgreSQL's is NULL over no rows).
   */
  jsonRows(values: readonly string[], orderBy: string): string;
  /** The column of group_members that orders a group's members as they were added. */
  readonly memberPosition: string;
  /** Written between an INSERT's columns and VALUES to set an identity column (seq) to a given value. */
  readonly overridingIdentity: string;
  /** Ends a subquery that chooses rows to update, so that concurrent writers pass over each other's rows. */
  readonly skipLocked: string;
  /** The most rows one multi-row INSERT carries. */
  readonly rowsPerInsert: number;
  /**
   * Statements a write of tokens (or of the organization names they carry) ends with, telling the other processes
   * to read them again (PostgreSQL: a notification at commit; SQLite: none, its data_version tells them).
   */
  readonly tokensChanged: readonly SqlFragment[];
  /** Statements that make a write the only one placing feed events until it commits (SQLite: it is already). */
  readonly feedLock: readonly SqlFragment[];
  /** Statements that open the migrations' transaction (PostgreSQL: no statement timeout; one migrator at a time). */
  readonly beforeMigrations: readonly SqlFragment[];
  /**
   * The unique values of the resources whose seq is in (?, ?], as (seq, attribute, value) in that order: the stores
   * keep them differently (SQLite keyed by integers, PostgreSQL by name with a digest of the value).
   */
  readonly uniqueValuesBetween: string;
  /** Deletes the unique values of one organization's resources (its id the one parameter). */
  readonly deleteUniqueValuesOf: string;
}

/** `?` → `$1`, `$2`, … in order, outside string literals (PostgreSQL's positional parameters). */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/'(?:[^']|'')*'|\?/g, (m) => (m === '?' ? `$${++n}` : m));
}
