/**
 * PostgreSQL as the shared SQL reaches it (sql/executor.ts): a pg Pool, its parameters and errors translated at this
 * edge. A driver error meaning the database is unreachable becomes StoreUnavailable, a statement cancelled at the
 * statement timeout QueryTimeout; a transaction that loses a deadlock is run again.
 */
import pg from 'pg';
import { QueryTimeout, StoreUnavailable } from '../../core/errors.js';
import { numberedPlaceholders, type SqlFragment } from '../sql/dialect.js';
import type { Program, Result, Row, SqlExecutor, Statement } from '../sql/executor.js';
import type { PoolStats } from '../../core/ports.js';
import { POSTGRES } from './postgres-dialect.js';

export interface PostgresOptions {
  /** Connections this process keeps open at most (pg's Pool `max`); see SCIMD_DB_POOL_SIZE. */
  readonly poolSize?: number;
  /** How long a connection (or a free pooled one) is waited for before StoreUnavailable; see SCIMD_DB_CONNECT_TIMEOUT. */
  readonly connectTimeoutSeconds?: number;
  /**
   * How long one statement may run before the server cancels it (QueryTimeout), so that a runaway query cannot hold
   * a connection of the pool; 0 for no limit. Default 30 s; see SCIMD_DB_STATEMENT_TIMEOUT. Migrations and ANALYZE
   * run without it.
   */
  readonly statementTimeoutMs?: number;
}

/**
 * A prepared statement whose result type a migration changed (a node that prepared `SELECT *` before another node
 * added a column): prepared again under a new name (step), and the transaction it failed run again.
 */
const STALE_PLAN = '0A000';
/** deadlock_detected, serialization_failure, a stale plan: the whole transaction may simply run again. */
const TRANSIENT = new Set(['40P01', '40001', STALE_PLAN]);
const ATTEMPTS = 5;

/**
 * SQLSTATEs of a server going, gone or out of room for now: class 08 (connection exception), 57P01–57P03 (shutdown,
 * cannot connect now), class 53 (insufficient resources: too many connections, out of memory, disk full), which a
 * client should send again later rather than report as scimd's fault.
 */
const UNAVAILABLE_STATE = /^(08|53|57P0[123])/;
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** pg's own errors for a dropped connection and for the connect timeout, which carry no code. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

function translate(error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // query_canceled: by the statement timeout (scimd cancels nothing else)
  if (code === '57014') return new QueryTimeout(`the database cancelled a statement at the statement timeout: ${String(message)}`, { cause: error });
  const unavailable = (typeof code === 'string' && (UNAVAILABLE_STATE.test(code) || UNAVAILABLE_SOCKET.has(code)))
    || (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message));
  return unavailable ? new StoreUnavailable(`the database is unavailable: ${String(message)}`, { cause: error }) : error;
}

// seq, positions and counts are BIGINT; they stay far below 2^53, so they are read as numbers, not strings.
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format: 'text') => (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format))) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * PostgreSQL text cannot hold U+0000, which SCIM strings may: every string parameter carries U+FFFD in its place.
 * A document keeps it (JSON text escapes it); index entries, unique values and labels have U+FFFD, and a lookup of
 * an id with U+0000 finds nothing instead of failing.
 */
export function text(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  return Array.isArray(value) ? value.map(text) : value;
}

/** A connection inside a transaction; its parameters pass through `text` like the pool's. */
export interface Client {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string | pg.QueryConfig, params?: readonly unknown[]): Promise<pg.QueryResult<R>>;
}

/** Named prepared statements at most: a bound on what each connection keeps, over every filter shape clients send. */
const PREPARED = 256;

/**
 * Notifications of one channel, heard on a connection of its own, listening again a second after a loss. `heard`
 * counts them (and each start, since what came while not listening is unknown); undefined while not listening.
 */
export class ChannelListener {
  private client: pg.Client | undefined;
  private count = 0;
  private listening = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly connect: () => pg.Client,
    private readonly channel: string,
  ) {
    this.start();
  }

  get heard(): number | undefined {
    return this.listening ? this.count : undefined;
  }

  private start(): void {
    const client = this.connect();
    this.client = client;
    const lost = () => {
      if (this.client !== client) return;
      this.listening = false;
      this.client = undefined;
      client.end().catch(() => {});
      if (!this.closed) this.retry = setTimeout(() => this.start(), 1000).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => this.count++);
    client.connect().then(() => client.query(`LISTEN ${this.channel}`)).then(() => {
      if (this.client !== client) return;
      this.count++;
      this.listening = true;
    }, lost);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}

export class PostgresExecutor implements SqlExecutor {
  readonly dialect = POSTGRES;
  private readonly pool: pg.Pool;
  /** Shared statements as PostgreSQL reads them (`$1…` for `?`), by their text. */
  private readonly numbered = new Map<string, string>();
  private readonly asClient: Client = { query: (sql, params = []) => this.query(sql, params) };

  constructor(
    private readonly connectionString: string,
    private readonly options: PostgresOptions = {},
  ) {
    // without a connect timeout, requests would hang while the server is unreachable instead of failing with 503
    const statementTimeout = options.statementTimeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: (options.connectTimeoutSeconds ?? 5) * 1000,
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
      types: TYPES,
    });
    // A connection the server drops emits 'error' on its client, idle or in use (once per failure: the message, then
    // the closed socket); an 'error' without a listener would crash the process. The failing query sees the error
    // itself, and the pool replaces the connection.
    this.pool.on('error', () => {});
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  /** Listens to `channel` (NOTIFY) on a connection beside the pool's; close the listener before the executor. */
  listen(channel: string): ChannelListener {
    const connect = () => new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: (this.options.connectTimeoutSeconds ?? 5) * 1000 });
    return new ChannelListener(connect, channel);
  }

  /** One statement on a pooled connection, outside any transaction. */
  async query<R extends pg.QueryResultRow>(sql: string | pg.QueryConfig, params: readonly unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params.map(text));
    } catch (error) {
      throw translate(error);
    }
  }

  /**
   * Runs `work` in one transaction on one connection; a deadlock or serialization failure runs it again. A lost
   * connection does not: it may have been lost during COMMIT, after the write was applied, so it is StoreUnavailable.
   */
  async transaction<T>(work: (c: Client) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    try {
      return await this.retrying(work, begin);
    } catch (error) {
      throw translate(error);
    }
  }

  private async retrying<T>(work: (c: Client) => Promise<T>, begin: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const c: Client = { query: (sql, params = []) => client.query(sql, params.map(text)) };
      let broken: Error | undefined;
      try {
        await client.query(begin);
        const result = await work(c);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        if (attempt < ATTEMPTS && TRANSIENT.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      } finally {
        client.release(broken);
      }
    }
  }

  /** Runs a program on `c` (a transaction's connection, or the pool). */
  async runOn<T>(c: Client, program: Program<T>): Promise<T> {
    for (let next = program.next(); ; ) {
      if (next.done) return next.value;
      next = program.next(await this.step(c, next.value));
    }
  }

  private async step(c: Client, s: Statement): Promise<Result> {
    const sql = s.script ? s.sql : this.placeholders(s.sql);
    let result: pg.QueryResult;
    try {
      result = await c.query(s.recurs ? this.prepared(sql) : sql, s.params);
    } catch (error) {
      if (!s.recurs || (error as { code?: string }).code !== STALE_PLAN) throw error;
      this.names.set(sql, `scimd_${this.preparedCount++}`);
      // inside a transaction, which the failure ended, the transaction runs again (TRANSIENT)
      if (c !== this.asClient) throw error;
      result = await c.query(this.prepared(sql), s.params);
    }
    return { rows: result.rows as Row[], changes: result.rowCount ?? 0 };
  }

  /**
   * A recurring statement as a named prepared statement, which each connection parses once and, after five runs,
   * plans once unless its values make PostgreSQL plan each run better (a user read with its groups planned in 0.2 ms
   * and ran in 0.07; a userName lookup's page 0.7 ms in all, 0.23 prepared); at most PREPARED of them, then unnamed.
   */
  private prepared(sql: string): string | pg.QueryConfig {
    let name = this.names.get(sql);
    if (name === undefined) {
      if (this.names.size >= PREPARED) return sql;
      name = `scimd_${this.preparedCount++}`;
      this.names.set(sql, name);
    }
    return { name, text: sql };
  }

  private readonly names = new Map<string, string>();
  private preparedCount = 0;

  private placeholders(sql: string): string {
    let numbered = this.numbered.get(sql);
    if (numbered === undefined) {
      numbered = numberedPlaceholders(sql);
      if (this.numbered.size >= 1024) this.numbered.clear(); // filters make statements of their own shape: bounded
      this.numbered.set(sql, numbered);
    }
    return numbered;
  }

  read<T>(program: Program<T>): Promise<T> {
    return this.runOn(this.asClient, program);
  }

  snapshot<T>(program: Program<T>): Promise<T> {
    return this.transaction((c) => this.runOn(c, program), 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  write<T>(program: Program<T>): Promise<T> {
    return this.transaction((c) => this.runOn(c, program));
  }

  async *readSession<T>(use: (query: (s: SqlFragment) => Promise<Row[]>) => AsyncGenerator<T>): AsyncGenerator<T> {
    // one connection, one snapshot for every batch; writers on other connections neither see it nor wait for it
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      yield* use(async (s) => (await client.query(this.placeholders(s.sql), s.params.map(text))).rows as Row[]);
    } finally {
      // read only: ending it by ROLLBACK loses nothing, also when the reader stopped early
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      client.release(broken);
    }
  }

  poolStats(): PoolStats {
    return { open: this.pool.totalCount, idle: this.pool.idleCount, max: this.pool.options.max, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

