/**
 * `scimd serve`: the SCIM server on the configured database, with event delivery, rate limits and retention, until
 * SIGTERM or SIGINT lets the requests and deliveries in flight finish.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { ConfigError, isPostgresUrl, loadConfig, SETTINGS, type Config, type Flags } from '../config.js';
import { FEED_CHANNEL } from '../core/model.js';
import type { Store } from '../core/ports.js';
import { ensureBootstrapToken } from '../core/tokens.js';
import { createScim } from '../core/scim.js';
import { buildServer, SCIM_PREFIX } from '../http/server.js';
import { createMetrics, serveMetrics } from '../http/metrics.js';
import { rateLimiter } from '../http/rate-limit.js';
import { registryFromFiles } from '../schema-files.js';
import { startDelivery } from '../events/dispatcher.js';
import { webhookDeliverer } from '../events/webhook.js';
import { parse, type Io } from './args.js';
import { describeDatabase, openDatabase } from './database.js';

/** The flags of serve: those of the settings (config.ts) that have one. */
const SERVER_FLAGS = Object.fromEntries(SETTINGS.flatMap((s) => (s.flag ? [[s.flag, { type: 'string' }]] : []))) as Record<keyof Flags, { type: 'string' }>;

export async function serve(args: string[], io: Io): Promise<number> {
  const parsed = parse('serve', args, SERVER_FLAGS, { min: 0, max: 0 }, io);
  if (!parsed) return 0;
  const config = loadConfig(process.env, parsed.values as Flags);
  let registry;
  try {
    registry = registryFromFiles(config.schemaFiles);
  } catch (e) {
    throw new ConfigError(`SCIMD_SCHEMAS (or --schemas): ${(e as Error).message}`);
  }
  const store = await openDatabase(config, io);
  const revoked = config.bootstrapToken ? await ensureBootstrapToken(store, config.bootstrapToken) : [];
  const scim = createScim({
    store,
    registry,
    maxResults: config.maxResults,
    cursorTimeoutSeconds: config.cursorTimeoutSeconds,
    bulk: { maxOperations: config.bulkMaxOperations, maxPayloadSize: config.bulkMaxPayloadBytes },
    audit: config.audit,
    // one outbox channel per endpoint: each is delivered on its own, so one receiver being down holds back no other
    events: [...config.webhooks.map((w) => w.url), ...(config.eventFeed ? [FEED_CHANNEL] : [])],
  });
  const metrics = config.metricsPort !== undefined ? createMetrics({ store, webhooks: config.webhooks.map((w) => w.url) }) : undefined;
  const rateLimit = config.rateLimit > 0 ? rateLimiter({ store, perSecond: config.rateLimit }) : undefined;
  const refusalLimit = config.authFailureLimit > 0 ? rateLimiter({ store, perSecond: config.authFailureLimit }) : undefined;
  const app = buildServer({
    scim,
    store,
    audit: config.audit,
    webhooks: config.webhooks.map((w) => w.url),
    bodyLimit: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutSeconds * 1000,
    ...(rateLimit ? { rateLimit } : {}),
    ...(refusalLimit ? { refusalLimit } : {}),
    ...(config.trustProxy !== undefined ? { trustProxy: config.trustProxy } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    ...(metrics ? { metrics } : {}),
    // written as the event loop allows, not one blocking write a line (a request): pino flushes it at exit
    logger: { level: config.logLevel, redact: ['req.headers.authorization'], stream: pino.destination({ dest: 1, sync: false }) },
  });

  for (const id of revoked) app.log.warn({ token: id }, 'SCIMD_BOOTSTRAP_TOKEN changed: the bootstrap token it replaced is revoked');

  const deliveries = config.webhooks.map((hook, i) =>
    startDelivery({
      store,
      channel: hook.url,
      deliver: webhookDeliverer(hook),
      maxAttempts: config.eventMaxAttempts,
      leaseSeconds: config.eventLeaseSeconds,
      onFailure: (err, event, dead) => {
        app.log.warn({ err, event: event?.id, webhook: hook.url, dead }, dead ? 'event dead-lettered' : 'event delivery failed');
        if (event) metrics?.delivery(i, dead ? 'dead' : 'failed');
      },
      onDelivered: (events) => metrics?.delivery(i, 'delivered', events),
    }),
  );

  let metricsServer: Server | undefined;
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    metricsServer?.close();
    await app.close(); // stops accepting, waits for in-flight requests
    await app.drain(); // and for those whose client has gone away
    await Promise.all(deliveries.map((d) => d.stop())); // lets deliveries in flight finish; the rest stay in the outbox
    await rateLimit?.stop();
    await refusalLimit?.stop();
    await store.close();
    app.log.info({ signal }, 'scimd stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  // retention: audit entries, delivered events and expired console grants go, at start and every hour (any node may do it)
  const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
  const prune = async () => {
    try {
      if (config.auditRetentionDays > 0) await store.pruneAudit(ago(config.auditRetentionDays));
      if (config.eventRetentionDays > 0) await store.pruneEvents(ago(config.eventRetentionDays));
      await store.pruneGrants(ago(1)); // console links and sessions a day past their expiry
    } catch (err) {
      app.log.warn({ err }, 'retention failed');
    }
  };
  await prune();
  setInterval(() => void prune(), 3_600_000).unref();
  // the metrics first: a port that is taken stops the start before SCIM is served at all
  if (metrics) {
    try {
      metricsServer = await serveMetrics(metrics, config.metricsPort!, config.host);
    } catch (e) {
      throw new ConfigError(`cannot serve metrics on SCIMD_HOST ${config.host}, SCIMD_METRICS_PORT ${config.metricsPort}: ${(e as Error).message}`);
    }
    const { port } = metricsServer.address() as AddressInfo;
    app.log.info({ metrics: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/metrics` }, 'serving Prometheus metrics');
  }
  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    throw listenRefusal(config, e);
  }
  await announce(app.log, store, config, address);
  return new Promise<number>(() => {}); // runs until a signal ends the process
}

/**
 * What an operator needs to see at start, in the log: where SCIM is served, on which store (never a password), how
 * many organizations and tokens it holds, and, with no active SCIM token, how to make one.
 */
async function announce(log: { info(o: object, msg: string): void; warn(o: object, msg: string): void }, store: Store, config: Config, address: string): Promise<void> {
  const scimUrl = `${config.publicUrl ? config.publicUrl.replace(/\/+$/, '') : address}${SCIM_PREFIX}`;
  const database = describeDatabase(config.database);
  const organizations = await store.organizations();
  const active = (await store.listTokens()).filter((t) => !t.revoked);
  const count = (...kinds: string[]) => active.filter((t) => kinds.includes(t.scope)).length;
  const tokens = { scim: count('scim'), admin: count('admin', 'operator'), oauthClients: count('client'), trustedIssuers: count('issuer') };
  const listening = config.publicUrl ? { listening: address } : {};
  log.info(
    { scimUrl, ...listening, database, organizations: organizations.length, tokens },
    `scimd serving SCIM at ${scimUrl} on the ${database}: ${plural(organizations.length, 'organization')}, ${plural(tokens.scim, 'active SCIM token')}, ${plural(tokens.admin, 'admin token')}${tokens.oauthClients > 0 ? `, ${plural(tokens.oauthClients, 'OAuth client')}` : ''}${tokens.trustedIssuers > 0 ? `, ${plural(tokens.trustedIssuers, 'trusted issuer')}` : ''}`,
  );
  // any way in for an IdP will do
  if (tokens.scim + tokens.oauthClients + tokens.trustedIssuers > 0) return;
  // the command, runnable as printed: the SQLite file by its path; a PostgreSQL URL (it may hold a password) not at all
  const org = organizations.length === 1 && organizations[0]!.name !== 'default' ? ` --org ${shellWord(organizations[0]!.name)}` : organizations.length > 1 ? ' --org NAME' : '';
  const command = isPostgresUrl(config.database) ? `scimd token create${org}` : `scimd token create${org} --database ${shellWord(config.database)}`;
  const where = isPostgresUrl(config.database) ? ' (with the server\'s SCIMD_DATABASE)' : '';
  log.warn({ command }, `no active SCIM token: every SCIM request will be refused until one is made with: ${command}${where}`);
}

/** A word as a shell reads it back: as is when it is plain, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w./@:+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Why the server could not listen, said of the setting that decides it. */
function listenRefusal(config: Pick<Config, 'port' | 'host'>, error: unknown): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const said = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`SCIMD_PORT (or --port) is ${config.port}, on which another process already listens at ${config.host} (${code}); stop it or choose another port`);
    case 'EACCES':
      return new ConfigError(`SCIMD_PORT (or --port) is ${config.port}, which this user may not listen on (${code}; ports below 1024 need privileges)`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`SCIMD_HOST (or --host) is ${config.host}, which is no address of this machine (${said}); 127.0.0.1 or 0.0.0.0 always are`);
    default:
      return new ConfigError(`cannot listen on SCIMD_HOST ${config.host}, SCIMD_PORT ${config.port}: ${said}`);
  }
}
