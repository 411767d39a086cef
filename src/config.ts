/**
 * Configuration: `SCIMD_*` environment variables, overridden by command-line flags. `SETTINGS` describes each one
 * once; `loadConfig` reads them through it, and the table of docs/configuration.md is generated from it
 * (`npm run docs:config`; test/docs.test.ts fails when the two differ).
 */
import { BOOTSTRAP_TOKEN_MIN_LENGTH } from './core/tokens.js';
import { isIP } from 'node:net';
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
  readonly eventFeed: boolean;
  readonly logLevel: string;
  /** Where Prometheus metrics are served (GET /metrics, on SCIMD_HOST); none when unset. */
  readonly metricsPort?: number;
  /** `scimd check` only: the bearer token of the server it checks, when not given by a flag. */
  readonly checkToken?: string;
}

export type Flags = Partial<Record<'port' | 'host' | 'database' | 'public-url' | 'schemas' | 'log-level', string>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max?: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
    throw new ConfigError(`${name} must be an integer ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`}; got "${raw}"`);
  }
  return n;
}

/** A value as an error message may show it: a URL's password (`//user:password@`) hidden. */
function shown(raw: string): string {
  return raw.replace(/(\/\/[^/@\s:]*:)[^@/\s]*@/g, '$1***@');
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

/** What the settings are read into: `Config`, but for the webhooks, made of two settings (`loadConfig` pairs them). */
interface Fields extends Omit<Config, 'webhooks'> {
  readonly webhookUrls: readonly string[];
  readonly webhookSecret: string;
}

/** One setting: where it comes from, what the docs say of it, and how its text becomes a field of `Fields`. */
export type Setting = {
  [K in keyof Fields]-?: {
    readonly variable: `SCIMD_${string}`;
    /** The command-line flag (without `--`) that wins over the variable. */
    readonly flag?: keyof Flags;
    readonly key: K;
    /** The default as the docs show it (Markdown). */
    readonly default: string;
    /** What it does, as the docs say it (Markdown; links are relative to docs/). */
    readonly meaning: string;
    /** The variable's (or flag's) text → the field; undefined leaves an optional field unset. */
    readonly parse: (raw: string | undefined, variable: string) => Fields[K];
  };
}[keyof Fields];

/** An integer of at least `min` (and at most `max`); `fallback` when unset or empty. */
function whole(fallback: number, min: number, max?: number) {
  return { default: `\`${fallback}\``, parse: (raw: string | undefined, variable: string) => integer(variable, raw, fallback, min, max) };
}

/** The levels pino knows (Fastify's logger); another is refused at start rather than by pino, in its words. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The proxy names Fastify's trustProxy (proxy-addr) takes for ranges of addresses. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Whether `entry` is an address, a CIDR (`10.0.0.0/8`, `fd00::/8`), an address with a netmask, or a range's name. */
function isProxy(entry: string): boolean {
  if (PROXY_RANGES.has(entry)) return true;
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return false;
  if (slash === -1) return true;
  const mask = entry.slice(slash + 1);
  if (/^\d{1,3}$/.test(mask)) return Number(mask) <= (version === 4 ? 32 : 128);
  return version === 4 && isIP(mask) === 4;
}

/**
 * SCIMD_TRUST_PROXY as Fastify's trustProxy takes it, checked here rather than by Fastify at the first request: on or
 * off, or the proxies. Not a hop count: Fastify 5 trusts no proxy for one (it cannot check the nearest), so a count
 * would silently believe nothing.
 */
function trustProxy(raw: string | undefined, variable: string): boolean | string | undefined {
  const value = raw?.trim() ?? '';
  if (value === '' || /^(false|off|no|0)$/i.test(value)) return undefined;
  if (/^(true|on|yes|1)$/i.test(value)) return true;
  const proxies = list(value);
  const wrong = proxies.find((entry) => !isProxy(entry));
  if (/^\d+$/.test(value)) {
    throw new ConfigError(`${variable} is "${raw}", a hop count, which Fastify does not honour (it trusts no proxy for one); give true, or the proxies' addresses or CIDRs`);
  }
  if (wrong !== undefined || proxies.length === 0) {
    throw new ConfigError(
      `${variable} must be true, false, or the proxies' addresses or CIDRs separated by commas (10.0.0.0/8, 127.0.0.1, loopback); got "${raw}"${wrong !== undefined && wrong !== value ? `, in which "${wrong}" is none of these` : ''}`,
    );
  }
  return proxies.join(',');
}

/** `on` or `off` (also true/false, 1/0, yes/no); `fallback` when unset or empty. */
function onOff(fallback: boolean) {
  return { default: fallback ? '`on`' : '`off`', parse: (raw: string | undefined, variable: string) => toggle(variable, raw, fallback) };
}

/** Text as given, `fallback` when unset or empty, through `convert`. */
function text(fallback: string, convert: (value: string) => string = (value) => value) {
  return { default: `\`${fallback}\``, parse: (raw: string | undefined) => convert(raw || fallback) };
}

/** A comma-separated list, its items trimmed, empty ones dropped. */
function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** Every setting, in the order the docs list them. */
export const SETTINGS: readonly Setting[] = [
  {
    variable: 'SCIMD_PORT', flag: 'port', key: 'port', ...whole(8080, 0, 65_535),
    meaning: 'TCP port (`0`: any free one; the log says which)',
  },
  {
    variable: 'SCIMD_HOST', flag: 'host', key: 'host', ...text('127.0.0.1'),
    meaning: 'address to listen on; `0.0.0.0` to accept connections from other hosts (e.g. in a container)',
  },
  {
    variable: 'SCIMD_DATABASE', flag: 'database', key: 'database', ...text('./data/scimd.db', databasePath),
    meaning:
      'a `postgres://` or `postgresql://` URL selects PostgreSQL (see [PostgreSQL](#postgresql)); anything else is the ' +
      'SQLite file (created with its directory; `sqlite:PATH` also accepted)',
  },
  {
    variable: 'SCIMD_DB_POOL_SIZE', key: 'databasePoolSize', ...whole(10, 1),
    meaning: 'PostgreSQL only: connections each scimd process keeps open at most (see [Pool sizing](#pool-sizing))',
  },
  {
    variable: 'SCIMD_DB_CONNECT_TIMEOUT', key: 'databaseConnectTimeoutSeconds', ...whole(5, 1),
    meaning:
      'PostgreSQL only: seconds a request waits for a database connection (a new one, or a free one of the pool) ' +
      'before it is answered 503 (see [Database outages](deployment.md#database-outages))',
  },
  {
    variable: 'SCIMD_DB_STATEMENT_TIMEOUT', key: 'databaseStatementTimeoutSeconds', ...whole(30, 0),
    meaning:
      'PostgreSQL only: seconds one SQL statement may run before the server cancels it, so a runaway query cannot ' +
      'hold a pooled connection; a list whose filter ran that long is answered 400 `tooMany`, anything else 503; ' +
      '`0` for no limit (migrations and ANALYZE never have one)',
  },
  {
    variable: 'SCIMD_PUBLIC_URL', flag: 'public-url', key: 'publicUrl', default: "derived from each request's `Host`",
    parse: (raw, variable) => {
      if (raw && !/^https?:\/\/[^/\s]+(\/\S*)?$/i.test(raw)) {
        throw new ConfigError(`${variable} must be an absolute http(s) URL such as https://scim.example.com; got "${shown(raw)}"`);
      }
      return raw || undefined;
    },
    meaning:
      'the external base URL (`https://scim.example.com`); `meta.location`, `Location` and `$ref` URLs are built ' +
      'from it',
  },
  {
    variable: 'SCIMD_BOOTSTRAP_TOKEN', key: 'bootstrapToken', default: 'none',
    parse: (raw, variable) => {
      if (raw && raw.length < BOOTSTRAP_TOKEN_MIN_LENGTH) {
        throw new ConfigError(`${variable} must be at least ${BOOTSTRAP_TOKEN_MIN_LENGTH} characters (it has ${raw.length}): a short secret can be guessed; make one with: openssl rand -base64 32`);
      }
      return raw || undefined;
    },
    meaning:
      `if set (at least ${BOOTSTRAP_TOKEN_MIN_LENGTH} characters), this exact token is ensured for the \`default\` organization ` +
      'at start (for automation); a changed value revokes the one it replaces; start fails if it was revoked',
  },
  {
    variable: 'SCIMD_SCHEMAS', flag: 'schemas', key: 'schemaFiles', default: 'none', parse: list,
    meaning:
      'comma-separated schema bundle files with custom extensions or resource types (see ' +
      '[`examples/student`](../examples/student))',
  },
  {
    variable: 'SCIMD_MAX_BODY_BYTES', key: 'maxBodyBytes', ...whole(1_048_576, 1024),
    meaning: 'largest request body; larger is 413',
  },
  {
    variable: 'SCIMD_RATE_LIMIT', key: 'rateLimit', ...whole(50_000, 0),
    meaning:
      'requests per second one token may make, counted across every node on the database; more is 429 with ' +
      '`Retry-After: 1`; `0`: no limit (see [Rate limits](audit-and-admin.md#rate-limits))',
  },
  {
    variable: 'SCIMD_AUTH_FAILURE_LIMIT', key: 'authFailureLimit', ...whole(20, 0),
    meaning:
      'refused authentications (unknown, revoked or wrong-scope tokens) per client address and second, across every ' +
      'node; past it 429 and no audit entry; `0`: no limit (see [Rate limits](audit-and-admin.md#rate-limits))',
  },
  {
    variable: 'SCIMD_REQUEST_TIMEOUT', key: 'requestTimeoutSeconds', ...whole(60, 1),
    meaning: 'seconds a client may take to send a whole request; a slower one is answered 408 and its connection closed',
  },
  {
    variable: 'SCIMD_MAX_RESULTS', key: 'maxResults', ...whole(1000, 1),
    meaning:
      'most resources in one list response (`count` is clamped to it; advertised as `filter.maxResults` and ' +
      '`pagination.maxPageSize`)',
  },
  {
    variable: 'SCIMD_CURSOR_TIMEOUT', key: 'cursorTimeoutSeconds', ...whole(3600, 1),
    meaning: 'seconds a pagination cursor stays valid (`pagination.cursorTimeout`); after it, 400 `expiredCursor`',
  },
  {
    variable: 'SCIMD_BULK_MAX_OPERATIONS', key: 'bulkMaxOperations', ...whole(1000, 1),
    meaning: 'most operations in one Bulk request (`bulk.maxOperations`); more is 413 `tooLarge`',
  },
  {
    variable: 'SCIMD_BULK_MAX_PAYLOAD_BYTES', key: 'bulkMaxPayloadBytes', ...whole(4_194_304, 1024),
    meaning:
      'largest Bulk request body (`bulk.maxPayloadSize`; it may exceed `SCIMD_MAX_BODY_BYTES`); larger is 413 `tooLarge`',
  },
  {
    variable: 'SCIMD_AUDIT', key: 'audit', ...onOff(true),
    meaning:
      'record every state-changing SCIM request and refused authentication in the audit log (`off` only to measure ' +
      'its cost)',
  },
  {
    variable: 'SCIMD_AUDIT_RETENTION_DAYS', key: 'auditRetentionDays', ...whole(90, 0),
    meaning: 'audit entries older than this are deleted (at start and hourly); `0` keeps them forever',
  },
  {
    variable: 'SCIMD_WEBHOOK_URL', key: 'webhookUrls', default: 'none',
    parse: (raw, variable) => {
      const urls = list(raw);
      for (const url of urls) if (!/^https?:\/\/\S+$/i.test(url)) throw new ConfigError(`${variable} must list http(s) URLs; got "${shown(url)}"`);
      return urls;
    },
    meaning:
      'where lifecycle events are POSTed: one URL, or several separated by commas (each gets every event and is ' +
      'delivered on its own); without it (or `SCIMD_EVENT_FEED`) no events are written',
  },
  {
    variable: 'SCIMD_WEBHOOK_SECRET', key: 'webhookSecret', default: 'none', parse: (raw) => raw ?? '',
    meaning:
      'the HMAC key deliveries are signed with (at least 16 characters; required with `SCIMD_WEBHOOK_URL`)',
  },
  {
    variable: 'SCIMD_EVENT_FEED', key: 'eventFeed', ...onOff(false),
    meaning:
      'keep an events feed that applications read with a cursor (`GET /admin/api/events?after=…`, an admin or ' +
      'operator token): every event once, in order',
  },
  {
    variable: 'SCIMD_EVENT_MAX_ATTEMPTS', key: 'eventMaxAttempts', ...whole(15, 1),
    meaning:
      'delivery attempts before an event is dead-lettered (`scimd events retry` sends it again); backoff doubles ' +
      'from 1 s to at most 1 h, with jitter',
  },
  {
    variable: 'SCIMD_EVENT_LEASE_SECONDS', key: 'eventLeaseSeconds', ...whole(60, 1),
    meaning: 'how long a node holds an event it is delivering; if the node dies, another delivers it after this',
  },
  {
    variable: 'SCIMD_EVENT_RETENTION_DAYS', key: 'eventRetentionDays', ...whole(7, 0),
    meaning: 'delivered events, and the feed\'s events, are deleted after this many days (`0`: kept)',
  },
  {
    variable: 'SCIMD_TRUST_PROXY', key: 'trustProxy', default: 'none', parse: trustProxy,
    meaning:
      "behind a proxy or load balancer: `true`, or the proxies' addresses/CIDRs separated by commas (`10.0.0.0/8,127.0.0.1`; " +
      'also `loopback`, `linklocal`, `uniquelocal`), whose `X-Forwarded-For`/`-Proto` are believed for the client address ' +
      '(audit log) and scheme; anything else (a hop count too: Fastify would believe no proxy) is refused at start',
  },
  {
    variable: 'SCIMD_LOG_LEVEL', flag: 'log-level', key: 'logLevel', default: '`info`',
    parse: (raw, variable) => {
      const level = (raw || 'info').toLowerCase();
      if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`${variable} must be one of ${LOG_LEVELS.join(', ')}; got "${raw}"`);
      return level;
    },
    meaning: `pino level: ${LOG_LEVELS.map((l) => `\`${l}\``).join(', ')} (any case)`,
  },
  {
    variable: 'SCIMD_METRICS_PORT', key: 'metricsPort', default: 'none',
    parse: (raw, variable) => (raw === undefined || raw === '' ? undefined : integer(variable, raw, 0, 0, 65_535)),
    meaning:
      'serve Prometheus metrics at `GET /metrics` on this port (on `SCIMD_HOST`, without authentication: publish it ' +
      'only to your monitoring; see [Metrics](deployment.md#metrics)); unset: no metrics',
  },
  {
    variable: 'SCIMD_CHECK_TOKEN', key: 'checkToken', default: 'none', parse: (raw) => raw || undefined,
    meaning:
      '`scimd check` only: the bearer token of the server it checks, when neither `--token` nor `--token-file` is ' +
      'given (a token on the command line shows in the process list; see [Conformance check](cli.md#conformance-check))',
  },
];

/**
 * The settings: each from its flag, else its `SCIMD_*` variable (from `SETTINGS`, nothing else), checked; the
 * webhook URLs then paired with their secret.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Flags = {}): Config {
  const fields: Partial<Record<keyof Fields, unknown>> = {};
  for (const setting of SETTINGS) {
    const flag = setting.flag === undefined ? undefined : flags[setting.flag];
    // a refusal names what was set: the flag when it was given, else the variable
    const value = setting.parse(flag ?? env[setting.variable], flag !== undefined ? `--${setting.flag}` : setting.variable);
    if (value !== undefined) fields[setting.key] = value;
  }
  const { webhookUrls, webhookSecret, ...config } = fields as Fields;
  if (webhookUrls.length > 0 && webhookSecret.length < 16) throw new ConfigError('SCIMD_WEBHOOK_SECRET must be set, at least 16 characters, when SCIMD_WEBHOOK_URL is');
  return { ...config, webhooks: webhookUrls.map((url) => ({ url, secret: webhookSecret })) };
}

/** The table of docs/configuration.md, as Markdown: one row a setting (`npm run docs:config` writes it there). */
export function settingsTable(): string {
  const cell = (markdown: string) => markdown.replaceAll('|', '\\|');
  const rows = SETTINGS.map((s) => [`\`${s.variable}\``, s.flag ? `\`--${s.flag}\`` : '', cell(s.default), cell(s.meaning)]);
  return [['variable', 'flag', 'default', 'meaning'], ['---', '---', '---', '---'], ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
