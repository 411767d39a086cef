/**
 * Configuration: `SCIMD_*` environment variables, overridden by command-line flags. The README's configuration
 * table lists exactly these.
 */
import { resolve } from 'node:path';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** A PostgreSQL URL (`postgres://` or `postgresql://`), else a SQLite file path (or `sqlite:PATH`). */
  readonly database: string;
  /** PostgreSQL only: connections each process keeps open at most. */
  readonly databasePoolSize: number;
  /** PostgreSQL only: seconds to wait for a connection before answering 503. */
  readonly databaseConnectTimeoutSeconds: number;
  /** PostgreSQL only: seconds one statement may run before the server cancels it (0: no limit). */
  readonly databaseStatementTimeoutSeconds: number;
  readonly publicUrl?: string;
  readonly bootstrapToken?: string;
  /** Schema bundle files (custom extensions and resource types). */
  readonly schemaFiles: readonly string[];
  readonly maxBodyBytes: number;
  /** Seconds a client may take to send a whole request. */
  readonly requestTimeoutSeconds: number;
  /** Requests per second one token may make, across all nodes (0: no limit). */
  readonly rateLimit: number;
  /** Refused authentications per client address and second before 429 (and no more audit entries); 0: no limit. */
  readonly authFailureLimit: number;
  /** Proxies to believe for X-Forwarded-For/-Proto: `true` (all), or a comma-separated list of addresses/CIDRs. */
  readonly trustProxy?: boolean | string;
  readonly maxResults: number;
  readonly cursorTimeoutSeconds: number;
  /** RFC 7644 §3.7.4 limits of one Bulk request, advertised in ServiceProviderConfig. */
  readonly bulkMaxOperations: number;
  readonly bulkMaxPayloadBytes: number;
  /** Record every state-changing request in the audit log, and keep entries this many days (0: forever). */
  readonly audit: boolean;
  readonly auditRetentionDays: number;
  /** Where lifecycle events are delivered, each endpoint on its own (none: no events are written). */
  readonly webhooks: readonly { readonly url: string; readonly secret: string }[];
  readonly eventMaxAttempts: number;
  readonly eventLeaseSeconds: number;
  readonly eventRetentionDays: number;
  readonly logLevel: string;
}

export type Flags = Partial<Record<'port' | 'host' | 'database' | 'public-url' | 'schemas' | 'log-level', string>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer ≥ ${min}; got "${raw}"`);
  return n;
}

function toggle(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (/^(on|true|1|yes)$/i.test(raw)) return true;
  if (/^(off|false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be on or off; got "${raw}"`);
}

export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

/** A PostgreSQL URL as given; a SQLite file as an absolute path. */
export function databasePath(database: string): string {
  return isPostgresUrl(database) ? database : resolve(database.replace(/^sqlite:/i, ''));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Flags = {}): Config {
  const pick = (flag: keyof Flags, variable: string) => flags[flag] ?? env[variable];
  const publicUrl = pick('public-url', 'SCIMD_PUBLIC_URL');
  if (publicUrl !== undefined && publicUrl !== '' && !/^https?:\/\/[^/\s]+(\/\S*)?$/i.test(publicUrl)) {
    throw new ConfigError(`SCIMD_PUBLIC_URL must be an absolute http(s) URL such as https://scim.example.com; got "${publicUrl}"`);
  }
  const config: { -readonly [K in keyof Config]: Config[K] } = {
    port: integer('SCIMD_PORT', pick('port', 'SCIMD_PORT'), 8080, 0),
    host: pick('host', 'SCIMD_HOST') || '127.0.0.1',
    database: databasePath(pick('database', 'SCIMD_DATABASE') || './data/scimd.db'),
    databasePoolSize: integer('SCIMD_DB_POOL_SIZE', env.SCIMD_DB_POOL_SIZE, 10, 1),
    databaseConnectTimeoutSeconds: integer('SCIMD_DB_CONNECT_TIMEOUT', env.SCIMD_DB_CONNECT_TIMEOUT, 5, 1),
    databaseStatementTimeoutSeconds: integer('SCIMD_DB_STATEMENT_TIMEOUT', env.SCIMD_DB_STATEMENT_TIMEOUT, 30, 0),
    schemaFiles: (pick('schemas', 'SCIMD_SCHEMAS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    maxBodyBytes: integer('SCIMD_MAX_BODY_BYTES', env.SCIMD_MAX_BODY_BYTES, 1_048_576, 1024),
    requestTimeoutSeconds: integer('SCIMD_REQUEST_TIMEOUT', env.SCIMD_REQUEST_TIMEOUT, 60, 1),
    rateLimit: integer('SCIMD_RATE_LIMIT', env.SCIMD_RATE_LIMIT, 50_000, 0),
    authFailureLimit: integer('SCIMD_AUTH_FAILURE_LIMIT', env.SCIMD_AUTH_FAILURE_LIMIT, 20, 0),
    maxResults: integer('SCIMD_MAX_RESULTS', env.SCIMD_MAX_RESULTS, 1000, 1),
    cursorTimeoutSeconds: integer('SCIMD_CURSOR_TIMEOUT', env.SCIMD_CURSOR_TIMEOUT, 3600, 1),
    bulkMaxOperations: integer('SCIMD_BULK_MAX_OPERATIONS', env.SCIMD_BULK_MAX_OPERATIONS, 1000, 1),
    bulkMaxPayloadBytes: integer('SCIMD_BULK_MAX_PAYLOAD_BYTES', env.SCIMD_BULK_MAX_PAYLOAD_BYTES, 4_194_304, 1024),
    audit: toggle('SCIMD_AUDIT', env.SCIMD_AUDIT, true),
    auditRetentionDays: integer('SCIMD_AUDIT_RETENTION_DAYS', env.SCIMD_AUDIT_RETENTION_DAYS, 90, 0),
    eventMaxAttempts: integer('SCIMD_EVENT_MAX_ATTEMPTS', env.SCIMD_EVENT_MAX_ATTEMPTS, 15, 1),
    eventLeaseSeconds: integer('SCIMD_EVENT_LEASE_SECONDS', env.SCIMD_EVENT_LEASE_SECONDS, 60, 1),
    eventRetentionDays: integer('SCIMD_EVENT_RETENTION_DAYS', env.SCIMD_EVENT_RETENTION_DAYS, 7, 0),
    webhooks: [],
    logLevel: pick('log-level', 'SCIMD_LOG_LEVEL') || 'info',
  };
  if (publicUrl) config.publicUrl = publicUrl;
  const trust = env.SCIMD_TRUST_PROXY;
  if (trust) config.trustProxy = /^(true|on|yes|1)$/i.test(trust) ? true : trust;
  const hookUrls = (env.SCIMD_WEBHOOK_URL ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  for (const url of hookUrls) if (!/^https?:\/\/\S+$/i.test(url)) throw new ConfigError(`SCIMD_WEBHOOK_URL must list http(s) URLs; got "${url}"`);
  const secret = env.SCIMD_WEBHOOK_SECRET ?? '';
  if (hookUrls.length > 0 && secret.length < 16) throw new ConfigError('SCIMD_WEBHOOK_SECRET must be set, at least 16 characters, when SCIMD_WEBHOOK_URL is');
  config.webhooks = hookUrls.map((url) => ({ url, secret }));
  if (env.SCIMD_BOOTSTRAP_TOKEN) config.bootstrapToken = env.SCIMD_BOOTSTRAP_TOKEN;
  return config;
}
