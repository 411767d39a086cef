/**
 * The `scimd` command line: `serve`, `token create|list|revoke`, `audit`, `events`, `migrate`, `backup`, `restore`.
 * Output meant for scripts (a new token, a backup to `-`) goes alone to stdout; everything else goes to stderr.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { isPostgresUrl, loadConfig, SETTINGS, type Config, type Flags } from '../config.js';
import { describeCounts, readBackup, verifyBackup, writeBackup } from '../backup.js';
import { openStore } from '../store/open.js';
import { createToken, DIALECTS, ensureBootstrapToken } from '../core/tokens.js';
import { createScim } from '../core/scim.js';
import { buildServer } from '../http/server.js';
import { registryFromFiles } from '../schema-files.js';
import { auditPage, MAX_AUDIT_PAGE, parseAuditQuery } from '../core/audit-query.js';
import { startDelivery } from '../events/dispatcher.js';
import { webhookDeliverer } from '../events/webhook.js';
import { rateLimiter } from '../http/rate-limit.js';

const USAGE = `scimd: a SCIM 2.0 provisioning server

usage:
  scimd serve [--port N] [--host H] [--database FILE|URL] [--public-url URL] [--schemas FILES] [--log-level L]
  scimd token create [--org NAME] [--name NAME] [--dialect ${DIALECTS.join('|')}] [--admin]   prints the new token
  scimd token list [--json]
  scimd token revoke ID
  scimd audit [--org NAME] [--since T] [--until T] [--resource-type T] [--resource-id ID] [--token ID]
              [--outcome success|failure] [--limit N] [--follow]   the audit log as NDJSON (T: ISO time or 15m, 24h, 7d)
  scimd events dead [--json]             the dead-lettered events
  scimd events retry [EVENT_ID]          delivers dead-lettered events again (one, or all)
  scimd migrate [--database FILE|URL]
  scimd backup FILE|-                    a consistent backup of the database (FILE.gz: gzipped; -: to stdout)
  scimd restore FILE                     restores a backup into the database, which must be new and empty
  scimd --version

Settings also come from SCIMD_* environment variables; see docs/configuration.md.`;

/** The flags of serve and migrate: those of the settings (config.ts) that have one. */
const SERVER_FLAGS = Object.fromEntries(SETTINGS.flatMap((s) => (s.flag ? [[s.flag, { type: 'string' }]] : []))) as Record<keyof Flags, { type: 'string' }>;

export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(parse(rest, SERVER_FLAGS).values as Flags);
    case 'token':
      return token(rest, out, err);
    case 'audit':
      return audit(rest, out);
    case 'events':
      return events(rest, out, err);
    case 'migrate': {
      const config = loadConfig(process.env, parse(rest, SERVER_FLAGS).values as Flags);
      const store = await open(config);
      await store.close();
      err.write('scimd: the database is up to date\n');
      return 0;
    }
    case 'backup':
      return backup(rest, out, err);
    case 'restore':
      return restore(rest, err);
    case '--version':
    case 'version':
      out.write(`${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      err.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      err.write(`scimd: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

function open(config: Config) {
  return openStore(config.database, {
    poolSize: config.databasePoolSize,
    connectTimeoutSeconds: config.databaseConnectTimeoutSeconds,
    statementTimeoutMs: config.databaseStatementTimeoutSeconds * 1000,
  });
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function token(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(args, {
    org: { type: 'string' },
    name: { type: 'string' },
    dialect: { type: 'string' },
    database: { type: 'string' },
    json: { type: 'boolean' },
    admin: { type: 'boolean' },
  });
  const [sub, id] = positionals;
  const config = loadConfig(process.env, { ...(values.database ? { database: values.database } : {}) });
  const store = await open(config);
  try {
    switch (sub) {
      case 'create': {
        const { token: secret } = await createToken(store, {
          ...(values.org ? { organization: values.org } : {}),
          ...(values.name ? { name: values.name } : {}),
          ...(values.dialect ? { dialect: values.dialect } : {}),
          ...(values.admin ? { scope: 'admin' as const } : {}),
        });
        out.write(`${secret}\n`);
        return 0;
      }
      case 'list': {
        const orgs = new Map((await store.organizations()).map((o) => [o.id, o.name]));
        const tokens = (await store.listTokens()).map((t) => ({
          id: t.id,
          organization: orgs.get(t.orgId) ?? t.orgId,
          name: t.name,
          dialect: t.dialect,
          scope: t.scope,
          created: t.created,
          lastUsed: t.lastUsed ?? null,
          revoked: t.revoked ?? null,
        }));
        if (values.json) out.write(`${JSON.stringify(tokens, null, 2)}\n`);
        else {
          out.write('ID\tORGANIZATION\tNAME\tDIALECT\tSCOPE\tCREATED\tLAST USED\tREVOKED\n');
          for (const t of tokens) out.write(`${[t.id, t.organization, t.name, t.dialect, t.scope, t.created, t.lastUsed ?? '-', t.revoked ?? '-'].join('\t')}\n`);
        }
        return 0;
      }
      case 'revoke': {
        if (!id) {
          err.write('scimd: token revoke needs the token ID (see `scimd token list`)\n');
          return 2;
        }
        if (!(await store.revokeToken(id, new Date().toISOString()))) {
          err.write(`scimd: no active token with ID ${id}\n`);
          return 1;
        }
        err.write(`scimd: token ${id} revoked\n`);
        return 0;
      }
      default:
        err.write(`scimd: token needs create, list or revoke\n\n${USAGE}\n`);
        return 2;
    }
  } finally {
    await store.close();
  }
}

/** Prints matching audit entries as NDJSON, all of them (page by page); with --follow, then new ones as they come. */
async function audit(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parse(args, {
    org: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    'resource-type': { type: 'string' },
    'resource-id': { type: 'string' },
    token: { type: 'string' },
    outcome: { type: 'string' },
    limit: { type: 'string' },
    follow: { type: 'boolean' },
    database: { type: 'string' },
  });
  if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit)) throw new Error(`--limit must be a whole number of at least 1; got "${values.limit}"`);
  const config = loadConfig(process.env, { ...(values.database ? { database: values.database } : {}) });
  const store = await open(config);
  const params = {
    ...(values.org ? { organization: values.org } : {}),
    ...(values.since ? { since: values.since } : {}),
    ...(values.until ? { until: values.until } : {}),
    ...(values['resource-type'] ? { resourceType: values['resource-type'] } : {}),
    ...(values['resource-id'] ? { resourceId: values['resource-id'] } : {}),
    ...(values.token ? { tokenId: values.token } : {}),
    ...(values.outcome ? { outcome: values.outcome } : {}),
  };
  let stopped = false;
  const stop = () => (stopped = true);
  process.once('SIGINT', stop).once('SIGTERM', stop);
  // While following, entries may become visible out of order (PostgreSQL numbers an entry when it is written and
  // shows it when its transaction commits): each poll looks back FOLLOW_LOOKBACK_MS by time and skips what it printed.
  const printed = new Map<number, number>(); // seq → when printed
  let left = values.limit === undefined ? Infinity : Number(values.limit);
  const print = (page: Awaited<ReturnType<typeof auditPage>>) => {
    for (const e of page.entries) {
      if (printed.has(e.seq) || left <= 0) continue;
      out.write(`${JSON.stringify(e)}\n`);
      left--;
      if (values.follow) printed.set(e.seq, Date.now());
    }
  };
  /** Prints every matching entry after `after` (all pages); returns the last seq seen. */
  const drain = async (query: typeof params & { since?: string }, after?: number): Promise<number | undefined> => {
    for (;;) {
      const page = await auditPage(store, { ...query, ...(after !== undefined ? { after: String(after) } : {}), limit: String(MAX_AUDIT_PAGE) });
      print(page);
      after = page.entries[page.entries.length - 1]?.seq ?? after;
      if (page.next === undefined || left <= 0 || stopped) return after;
    }
  };
  try {
    const floor = parseAuditQuery({ ...(params.since ? { since: params.since } : {}) }, new Date()).since;
    await drain(params);
    while (values.follow && left > 0 && !stopped) {
      await new Promise((r) => setTimeout(r, 1000));
      const lookback = new Date(Date.now() - FOLLOW_LOOKBACK_MS).toISOString();
      await drain({ ...params, since: floor !== undefined && floor > lookback ? floor : lookback });
      for (const [seq, at] of printed) if (at < Date.now() - 2 * FOLLOW_LOOKBACK_MS) printed.delete(seq);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** How far back by time `scimd audit --follow` looks for entries that became visible late. */
const FOLLOW_LOOKBACK_MS = 120_000;

async function events(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(args, { database: { type: 'string' }, json: { type: 'boolean' } });
  const [sub, id] = positionals;
  const config = loadConfig(process.env, { ...(values.database ? { database: values.database } : {}) });
  const store = await open(config);
  try {
    if (sub === 'dead') {
      const dead = await store.deadEvents(10_000);
      if (values.json) out.write(`${JSON.stringify(dead.map((d) => ({ ...d.event, channel: d.channel, attempts: d.attempts, lastError: d.lastError ?? null })), null, 2)}\n`);
      else for (const d of dead) out.write(`${[d.event.id, d.event.type, d.event.resource.type, d.event.resource.id, d.channel || '-', d.attempts, d.lastError ?? '-'].join('\t')}\n`);
      return 0;
    }
    if (sub === 'retry') {
      const n = await store.retryDeadEvents(id);
      err.write(`scimd: ${n} dead-lettered event${n === 1 ? '' : 's'} queued for delivery again\n`);
      return id !== undefined && n === 0 ? 1 : 0;
    }
    err.write(`scimd: events needs dead or retry\n\n${USAGE}\n`);
    return 2;
  } finally {
    await store.close();
  }
}

/** Writes the database's snapshot (one read transaction; writers go on meanwhile) to a backup file. */
async function backup(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(args, { database: { type: 'string' } });
  const [file] = positionals;
  if (!file || positionals.length > 1) {
    err.write('scimd: backup needs one FILE to write (FILE.gz to gzip it, - for stdout)\n');
    return 2;
  }
  const config = loadConfig(process.env, { ...(values.database ? { database: values.database } : {}) });
  const store = await open(config);
  try {
    const counts = await writeBackup(file, store.exportSnapshot(), isPostgresUrl(config.database) ? 'postgres' : 'sqlite', out);
    err.write(`scimd: backed up ${describeCounts(counts)}${file === '-' ? '' : ` to ${file}`}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** Checks a whole backup file first, then writes it into the (migrated, empty) database. */
async function restore(args: string[], err: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(args, { database: { type: 'string' } });
  const [file] = positionals;
  if (!file || file === '-' || positionals.length > 1) {
    err.write('scimd: restore needs one backup FILE (not stdin: it is read twice, checked whole before anything is written)\n');
    return 2;
  }
  const config = loadConfig(process.env, { ...(values.database ? { database: values.database } : {}) });
  // a damaged or cut-short file is refused before the target is even opened
  const { header, counts } = await verifyBackup(file);
  const store = await open(config);
  try {
    await store.importSnapshot(readBackup(file));
  } finally {
    await store.close();
  }
  err.write(`scimd: restored ${describeCounts(counts)} from ${file} (a ${header.source} backup of ${header.created})\n`);
  return 0;
}

async function serve(flags: Flags): Promise<number> {
  const config = loadConfig(process.env, flags);
  const registry = registryFromFiles(config.schemaFiles);
  const store = await open(config);
  if (config.bootstrapToken) await ensureBootstrapToken(store, config.bootstrapToken);
  const scim = createScim({
    store,
    registry,
    maxResults: config.maxResults,
    cursorTimeoutSeconds: config.cursorTimeoutSeconds,
    bulk: { maxOperations: config.bulkMaxOperations, maxPayloadSize: config.bulkMaxPayloadBytes },
    audit: config.audit,
    // one outbox channel per endpoint: each is delivered on its own, so one receiver being down holds back no other
    events: config.webhooks.map((w) => w.url),
  });
  const rateLimit = config.rateLimit > 0 ? rateLimiter({ store, perSecond: config.rateLimit }) : undefined;
  const refusalLimit = config.authFailureLimit > 0 ? rateLimiter({ store, perSecond: config.authFailureLimit }) : undefined;
  const app = buildServer({
    scim,
    store,
    audit: config.audit,
    bodyLimit: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutSeconds * 1000,
    ...(rateLimit ? { rateLimit } : {}),
    ...(refusalLimit ? { refusalLimit } : {}),
    ...(config.trustProxy !== undefined ? { trustProxy: config.trustProxy } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    logger: { level: config.logLevel, redact: ['req.headers.authorization'] },
  });

  const deliveries = config.webhooks.map((hook) =>
    startDelivery({
      store,
      channel: hook.url,
      deliver: webhookDeliverer(hook),
      maxAttempts: config.eventMaxAttempts,
      leaseSeconds: config.eventLeaseSeconds,
      onFailure: (err, event, dead) => app.log.warn({ err, event: event?.id, webhook: hook.url, dead }, dead ? 'event dead-lettered' : 'event delivery failed'),
    }),
  );

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    await app.close(); // stops accepting, waits for in-flight requests
    await app.drain(); // and for those whose client has gone away
    await Promise.all(deliveries.map((d) => d.stop())); // lets deliveries in flight finish; the rest stay in the outbox
    await rateLimit?.stop();
    await refusalLimit?.stop();
    await store.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  // retention: audit entries and delivered events past their age go, at start and every hour (any node may do it)
  const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
  const prune = async () => {
    try {
      if (config.auditRetentionDays > 0) await store.pruneAudit(ago(config.auditRetentionDays));
      if (config.eventRetentionDays > 0) await store.pruneEvents(ago(config.eventRetentionDays));
    } catch (err) {
      app.log.warn({ err }, 'retention failed');
    }
  };
  await prune();
  setInterval(() => void prune(), 3_600_000).unref();
  await app.listen({ port: config.port, host: config.host });
  return new Promise<number>(() => {}); // runs until a signal ends the process
}
