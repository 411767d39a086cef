/**
 * How the SQL written once (sql-store.ts and its neighbours) reaches a database. Work of several statements is a
 * program: a generator that yields each statement and is resumed with its result. So one program runs synchronously
 * on SQLite (inside a group commit's transaction, which must not await: better-sqlite3 is synchronous) and
 * asynchronously on PostgreSQL, and neither store writes the logic again.
 */
import type { SqlDialect, SqlFragment } from './dialect.js';

export type Row = Record<string, unknown>;

/** A statement's result: its rows (a query's, or a RETURNING clause's) and how many rows it changed. */
export interface Result<R = Row> {
  readonly rows: R[];
  readonly changes: number;
}

/**
 * A statement as a program yields it; `script`: several statements without parameters (migrations); `recurs`: its
 * text comes again and again (written in the code, or a list query of a shape clients repeat), so a database may
 * keep its plan.
 */
export type Statement = SqlFragment & { readonly script?: boolean; readonly recurs?: boolean };

export type Program<T> = Generator<Statement, T, Result>;

/** Runs one statement inside a program: `const { rows } = yield* statement<TokenRow>('SELECT … WHERE hash = ?', hash)`. */
export function* statement<R = Row>(sql: string, ...params: unknown[]): Generator<Statement, Result<R>, Result> {
  return (yield { sql, params, recurs: true }) as Result<R>;
}

/** Runs a fragment built elsewhere (the query compiler's, the audit log's). */
export function* run<R = Row>(fragment: Statement): Generator<Statement, Result<R>, Result> {
  return (yield fragment) as Result<R>;
}

/** A program of one statement, returning its rows. */
export function* rowsOf<R = Row>(sql: string, ...params: unknown[]): Program<R[]> {
  return (yield { sql, params, recurs: true }).rows as R[];
}

/** Rows given flat (`width` values each) inserted by multi-row INSERTs of at most `perStatement` rows; how many went in. */
export function* insertFlat(insert: string, width: number, flat: readonly unknown[], perStatement: number, onConflict = ''): Program<number> {
  if (flat.length === 0) return 0;
  const row = `(${Array<string>(width).fill('?').join(', ')})`;
  let changes = 0;
  for (let i = 0; i < flat.length; i += perStatement * width) {
    const chunk = flat.slice(i, i + perStatement * width);
    changes += (yield { sql: `${insert} VALUES ${Array<string>(chunk.length / width).fill(row).join(', ')}${onConflict}`, params: chunk }).changes;
  }
  return changes;
}

/** A database as the shared SQL uses it. */
export interface SqlExecutor {
  readonly dialect: SqlDialect;
  /** Runs reads; each statement sees the database as it is when it runs. */
  read<T>(program: Program<T>): Promise<T>;
  /** Runs reads that must all see one snapshot (a page and its total). */
  snapshot<T>(program: Program<T>): Promise<T>;
  /**
   * Runs a program as one atomic write, settled once it is durable: on SQLite a savepoint of the group commit (so
   * no write ever waits for the lock outside it), on PostgreSQL a transaction, run again after a deadlock.
   */
  write<T>(program: Program<T>): Promise<T>;
  /**
   * Reads in one long read-only snapshot that writers neither wait for nor change (a backup): `use` runs its
   * queries through the function it is given while the caller consumes what it yields.
   */
  readSession<T>(use: (query: (s: SqlFragment) => Promise<Row[]>) => AsyncGenerator<T>): AsyncGenerator<T>;
  close(): Promise<void>;
}
