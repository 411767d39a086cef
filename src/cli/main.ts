/**
 * The `scimd` command line: `serve`, `token create|list|revoke`, `migrate`. Output meant for scripts (a new token)
 * goes alone to stdout; everything else goes to stderr.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { loadConfig, type Flags } from '../config.js';
import { openStore } from '../store/open.js';
import { createToken, DIALECTS, ensureBootstrapToken } from '../core/tokens.js';
import { createScim } from '../core/scim.js';
import { buildServer } from '../http/server.js';
import { registryFromFiles } from '../schema-files.js';
import { auditPage, MAX_AUDIT_PAGE } from '../core/audit-query.js';

const USAGE = `scimd: a SCIM 2.0 provisioning server

usage:
  scimd serve [--port N] [--host H] [--database FILE|URL] [--public-url URL] [--schemas FILES] [--log-level L]
  scimd token create [--org NAME] [--name NAME] [--dialect ${DIALECTS.join('|')}] [--admin]   prints the new token
  scimd token list [--json]
  scimd token revoke ID
  scimd audit [--org NAME] [--since T] [--until T] [--resource-type T] [--resource-id ID] [--token ID]
              [--outcome success|failure] [--limit N] [--follow]   the audit log as NDJSON (T: ISO time or 15m, 24h, 7d)
  scimd migrate [--database FILE|URL]
  scimd --version

Settings also come from SCIMD_* environment variables; see the README's configuration table.`;

const SERVER_FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  database: { type: 'string' },
  'public-url': { type: 'string' },
  schemas: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(parse(rest, SERVER_FLAGS).values as Flags);
    case 'token':
      return token(rest, out, err);
    case 'audit':
      return audit(rest, out);
    case 'migrate': {
      const config = loadConfig(process.env, parse(rest, SERVER_FLAGS).values as Flags);
      const store = await openStore(config.database, { poolSize: config.databasePoolSize });
      await store.close();
      err.write('scimd: the database is up to date\n');
      return 0;
    }
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
  const store = await openStore(config.database, { poolSize: config.databasePoolSize });
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
  const store = await openStore(config.database, { poolSize: config.databasePoolSize });
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
  try {
    let left = values.limit === undefined ? Infinity : Number(values.limit);
    let after: number | undefined;
    for (;;) {
      const page = await auditPage(store, { ...params, ...(after !== undefined ? { after: String(after) } : {}), limit: String(Math.min(MAX_AUDIT_PAGE, left)) });
      for (const e of page.entries) out.write(`${JSON.stringify(e)}\n`);
      left -= page.entries.length;
      after = page.entries[page.entries.length - 1]?.seq ?? after;
      if (left <= 0 || stopped) return 0;
      if (page.next === undefined) {
        if (!values.follow) return 0;
        await new Promise((r) => setTimeout(r, 1000));
        if (stopped) return 0;
      }
    }
  } finally {
    await store.close();
  }
}

async function serve(flags: Flags): Promise<number> {
  const config = loadConfig(process.env, flags);
  const registry = registryFromFiles(config.schemaFiles);
  const store = await openStore(config.database, { poolSize: config.databasePoolSize });
  if (config.bootstrapToken) await ensureBootstrapToken(store, config.bootstrapToken);
  const scim = createScim({
    store,
    registry,
    maxResults: config.maxResults,
    cursorTimeoutSeconds: config.cursorTimeoutSeconds,
    bulk: { maxOperations: config.bulkMaxOperations, maxPayloadSize: config.bulkMaxPayloadBytes },
    audit: config.audit,
  });
  const app = buildServer({
    scim,
    store,
    audit: config.audit,
    bodyLimit: config.maxBodyBytes,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    logger: { level: config.logLevel, redact: ['req.headers.authorization'] },
  });

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    await app.close(); // stops accepting, waits for in-flight requests
    await store.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  // retention: entries older than SCIMD_AUDIT_RETENTION_DAYS go, at start and every hour (any node may do it)
  if (config.auditRetentionDays > 0) {
    const prune = () =>
      store.pruneAudit(new Date(Date.now() - config.auditRetentionDays * 86_400_000).toISOString()).catch((e: unknown) => app.log.warn({ err: e }, 'audit retention failed'));
    await prune();
    setInterval(() => void prune(), 3_600_000).unref();
  }
  await app.listen({ port: config.port, host: config.host });
  return new Promise<number>(() => {}); // runs until a signal ends the process
}
