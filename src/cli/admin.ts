/**
 * The administration commands — `org`, `token`, `audit`, `events` — each a translation of the admin services
 * (core/admin.ts) into words and lines. The command line acts as the server's operator; it is recorded in the audit
 * log as "command line" with the user that ran it.
 */
import { userInfo } from 'node:os';
import { createAdmin, EVERY_ORGANIZATION, type Admin, type AdminActor, type AuditPage } from '../core/admin.js';
import { MAX_AUDIT_PAGE, parseAuditQuery, type AuditParams } from '../core/audit-query.js';
import { createConsole, SIGN_IN_TTL_SECONDS } from '../core/console.js';
import { readFileSync } from 'node:fs';
import type { OrganizationContents, TrustedIssuer } from '../core/model.js';
import type { Store } from '../core/ports.js';
import type { Config } from '../config.js';
import { parse, UsageError, type Io } from './args.js';
import { configWith, openDatabase } from './database.js';
import { registryFromFiles } from '../schema-files.js';

const scope = EVERY_ORGANIZATION;

function actor(): AdminActor {
  let who = 'command line';
  try {
    who = `command line (${userInfo().username})`;
  } catch {
    // no user name in this environment (some containers): the command line it is
  }
  return { tokenName: who };
}

/** Runs `work` with the admin services over the configured database, closing it after. */
async function withAdmin<T>(database: string | undefined, io: Io, work: (admin: Admin, store: Store, config: Config) => Promise<T>): Promise<T> {
  const config = configWith(database);
  const store = await openDatabase(config, io);
  try {
    // the endpoints a token's scopes may name are the served schemas'
    return await work(createAdmin(store, { registry: registryFromFiles(config.schemaFiles) }), store, config);
  } finally {
    await store.close();
  }
}

/** "15m", "2h", "3d" or seconds, as seconds. */
function duration(text: string): number {
  const m = /^([1-9][0-9]{0,6})([smhd]?)$/.exec(text);
  if (!m) throw new UsageError(`--ttl takes a duration such as 15m, 2h or 3d; got "${text}"`, 'console');
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

/** Prints a one-time sign-in link to the console: the operator's, or with --org one organization's admin's. */
export async function consoleCommand(args: string[], io: Io): Promise<number> {
  const parsed = parse('console', args, { org: { type: 'string' }, ttl: { type: 'string' }, database: { type: 'string' } }, { min: 1, max: 1 }, io);
  if (!parsed) return 0;
  const { values, positionals: [sub] } = parsed;
  if (sub !== 'link') throw new UsageError(`console needs link; got "${sub}"`, 'console');
  const ttl = values.ttl === undefined ? SIGN_IN_TTL_SECONDS : duration(values.ttl);
  return withAdmin(values.database, io, async (admin, store, config) => {
    const org = values.org === undefined ? undefined : await admin.organization(scope, values.org);
    const { secret, link } = await createConsole(store).signInLink(actor().tokenName!, org, ttl);
    const base = config.publicUrl?.replace(/\/+$/, '') ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
    io.err.write(`scimd: a one-time sign-in link for ${org ? `the admin of ${org.name}` : 'the operator'}, valid until ${link.expires}; shown once, on stdout:\n`);
    io.out.write(`${base}/console/signin#${secret}\n`);
    return 0;
  });
}

/** `--trust-issuer ISS --audience AUD (--jwks-url URL | --public-key FILE) [--claims NAME=VALUE,…]`, as the admin services take it. */
function trustOf(values: { 'trust-issuer'?: string; audience?: string; 'jwks-url'?: string; 'public-key'?: string; claims?: string }): TrustedIssuer {
  if (values.audience === undefined) throw new UsageError('--trust-issuer needs --audience: the `aud` its tokens carry for this server', 'token');
  let publicKey: string | undefined;
  if (values['public-key'] !== undefined) {
    try {
      publicKey = readFileSync(values['public-key'], 'utf8');
    } catch (e) {
      throw new UsageError(`--public-key ${values['public-key']}: ${(e as Error).message}`, 'token');
    }
  }
  const claims: Record<string, string> = {};
  for (const pair of values.claims?.split(',') ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--claims: "${pair}" is not NAME=VALUE`, 'token');
    claims[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return {
    issuer: values['trust-issuer']!, audience: values.audience,
    ...(values['jwks-url'] !== undefined ? { jwksUrl: values['jwks-url'] } : {}),
    ...(publicKey !== undefined ? { publicKey } : {}),
    ...(Object.keys(claims).length > 0 ? { claims } : {}),
  };
}

/** "1,234 Users, 5 Groups, 2 tokens, 98 audit entries" */
function describeContents(c: OrganizationContents): string {
  const plural = (n: number, one: string, many: string) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
  const resources = Object.entries(c.resources).map(([type, n]) => plural(n, type, `${type}s`));
  return [...(resources.length ? resources : ['no resources']), plural(c.tokens, 'token', 'tokens'), plural(c.auditEntries, 'audit entry', 'audit entries')].join(', ');
}

export async function org(args: string[], io: Io): Promise<number> {
  const parsed = parse('org', args, { database: { type: 'string' }, json: { type: 'boolean' }, confirm: { type: 'string' } }, { min: 1, max: 3 }, io);
  if (!parsed) return 0;
  const { values, positionals: [sub, name, newName] } = parsed;
  const arity: Record<string, number> = { create: 2, list: 1, rename: 3, delete: 2 };
  if (!(sub! in arity)) throw new UsageError(`org needs create, list, rename or delete; got "${sub}"`, 'org');
  if (parsed.positionals.length !== arity[sub!]) throw new UsageError(`org ${sub} takes ${arity[sub!]! - 1} argument${arity[sub!] === 2 ? '' : 's'}`, 'org');
  return withAdmin(values.database, io, async (admin) => {
    switch (sub) {
      case 'create': {
        const made = await admin.createOrganization(actor(), scope, name!);
        io.err.write(`scimd: organization ${made.name} created (id ${made.id}); make its IdP a token with: scimd token create --org ${JSON.stringify(made.name)}\n`);
        return 0;
      }
      case 'list': {
        const rows = await admin.organizationsWithContents(scope);
        if (values.json) io.out.write(`${JSON.stringify(rows, null, 2)}\n`);
        else {
          io.out.write('NAME\tID\tCREATED\tCONTENTS\n');
          for (const o of rows) io.out.write(`${[o.name, o.id, o.created, describeContents(o)].join('\t')}\n`);
        }
        return 0;
      }
      case 'rename': {
        await admin.renameOrganization(actor(), scope, name!, newName!);
        io.err.write(`scimd: organization ${name} is now ${newName}; its tokens go on working\n`);
        return 0;
      }
      default: {
        const { contents } = await admin.organizationContents(scope, name!);
        let confirmation = values.confirm;
        const warning = `This deletes the organization ${name} and everything in it: ${describeContents(contents)}. It cannot be undone.`;
        if (confirmation === undefined) {
          if (!io.ask) {
            io.err.write(`scimd: ${warning}\nscimd: to go ahead, run it again with --confirm ${JSON.stringify(name)}\n`);
            return 2;
          }
          confirmation = await io.ask(`${warning}\nType the organization's name to confirm: `);
        }
        const deleted = await admin.deleteOrganization(actor(), scope, name!, confirmation);
        io.err.write(`scimd: deleted the organization ${name}: ${describeContents(deleted)}\n`);
        return 0;
      }
    }
  });
}

export async function token(args: string[], io: Io): Promise<number> {
  const parsed = parse('token', args, {
    org: { type: 'string' }, name: { type: 'string' }, dialect: { type: 'string' }, database: { type: 'string' }, json: { type: 'boolean' }, admin: { type: 'boolean' },
    scopes: { type: 'string' }, expires: { type: 'string' }, 'oauth-client': { type: 'boolean' },
    'trust-issuer': { type: 'string' }, audience: { type: 'string' }, 'jwks-url': { type: 'string' }, 'public-key': { type: 'string' }, claims: { type: 'string' },
  }, { min: 1, max: 2 }, io);
  if (!parsed) return 0;
  const { values, positionals: [sub, id] } = parsed;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') throw new UsageError(`token needs create, list or revoke; got "${sub}"`, 'token');
  if ((sub === 'revoke') !== (id !== undefined)) throw new UsageError(sub === 'revoke' ? 'token revoke needs the token ID (see `scimd token list`)' : `unexpected argument "${id}"`, 'token');
  return withAdmin(values.database, io, async (admin) => {
    if (sub === 'create') {
      const { token: secret, view } = await admin.createToken(actor(), scope, {
        ...(values.org !== undefined ? { organization: values.org } : {}),
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.dialect !== undefined ? { dialect: values.dialect } : {}),
        ...(values.admin ? { admin: true } : {}),
        ...(values.scopes !== undefined ? { scopes: values.scopes } : {}),
        ...(values['oauth-client'] ? { oauthClient: true } : {}),
        ...(values.expires !== undefined ? { expires: values.expires } : {}),
        ...(values['trust-issuer'] !== undefined ? { trust: trustOf(values) } : {}),
      });
      if (view.scope === 'issuer') {
        io.err.write(`scimd: organization ${view.organization} now trusts the JWTs of ${view.issuer!.issuer} for ${view.issuer!.audience}` +
          `${view.scopes ? `, up to ${view.scopes.join(' ')}` : ''}; revoke with scimd token revoke ${view.id}\n`);
        io.out.write(`${view.id}\n`);
        return 0;
      }
      const whose = view.organization === null ? 'the operator (every organization)' : `organization ${view.organization}`;
      const may = view.scopes ? `, ${view.scopes.join(' ')}` : '';
      const until = view.expires ? `, valid until ${view.expires}` : '';
      if (view.scope === 'client') {
        io.err.write(`scimd: OAuth client "${view.name}" of ${whose}${may}${until}; client_id ${view.id}; its client_secret shown once, on stdout. ` +
          'Access tokens: POST /oauth/token with grant_type=client_credentials\n');
      } else {
        io.err.write(`scimd: ${view.scope} token ${view.id} "${view.name}" of ${whose}${may}${until}; shown once, on stdout:\n`);
      }
      io.out.write(`${secret}\n`);
      return 0;
    }
    if (sub === 'list') {
      const tokens = await admin.tokens(scope, values.org !== undefined ? { organization: values.org } : {});
      if (values.json) io.out.write(`${JSON.stringify(tokens, null, 2)}\n`);
      else {
        io.out.write('ID\tORGANIZATION\tNAME\tDIALECT\tSCOPE\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tREVOKED\n');
        for (const t of tokens) {
          io.out.write(`${[t.id, t.organization ?? '*', t.name, t.dialect, t.scope, t.scopes?.join(' ') ?? '-', t.created, t.expires ?? 'never', t.lastUsed ?? '-', t.revoked ?? '-'].join('\t')}\n`);
        }
        // the IdP's provisioning stops when its token does: say so while there is time to rotate it
        for (const t of tokens) if (t.expiryWarning) io.err.write(`scimd: token ${t.id} "${t.name}" ${t.expiryWarning}\n`);
      }
      return 0;
    }
    const revoked = await admin.revokeToken(actor(), scope, id!);
    io.err.write(`scimd: token ${revoked.id} "${revoked.name}" revoked; its next request is refused\n`);
    return 0;
  });
}

/** How far back by time `scimd audit --follow` looks for entries that became visible late. */
const FOLLOW_LOOKBACK_MS = 120_000;

/** Prints matching audit entries as NDJSON, all of them (page by page); with --follow, then new ones as they come. */
export async function audit(args: string[], io: Io): Promise<number> {
  const parsed = parse('audit', args, {
    org: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, 'resource-type': { type: 'string' }, 'resource-id': { type: 'string' },
    token: { type: 'string' }, outcome: { type: 'string' }, limit: { type: 'string' }, follow: { type: 'boolean' }, database: { type: 'string' },
  }, { min: 0, max: 0 }, io);
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit)) throw new UsageError(`--limit must be a whole number of at least 1; got "${values.limit}"`, 'audit');
  const params: AuditParams = {
    ...(values.org !== undefined ? { organization: values.org } : {}),
    ...(values.since !== undefined ? { since: values.since } : {}),
    ...(values.until !== undefined ? { until: values.until } : {}),
    ...(values['resource-type'] !== undefined ? { resourceType: values['resource-type'] } : {}),
    ...(values['resource-id'] !== undefined ? { resourceId: values['resource-id'] } : {}),
    ...(values.token !== undefined ? { tokenId: values.token } : {}),
    ...(values.outcome !== undefined ? { outcome: values.outcome } : {}),
  };
  // the parameters are checked before the database is opened
  const floor = parseAuditQuery(params, new Date()).since;
  let stopped = false;
  const stop = () => (stopped = true);
  process.once('SIGINT', stop).once('SIGTERM', stop);
  return withAdmin(values.database, io, async (admin) => {
    // While following, entries may become visible out of order (PostgreSQL numbers an entry when it is written and
    // shows it when its transaction commits): each poll looks back FOLLOW_LOOKBACK_MS by time and skips what it printed.
    const printed = new Map<number, number>(); // seq → when printed
    let left = values.limit === undefined ? Infinity : Number(values.limit);
    const print = (page: AuditPage) => {
      for (const e of page.entries) {
        if (printed.has(e.seq) || left <= 0) continue;
        io.out.write(`${JSON.stringify(e)}\n`);
        left--;
        if (values.follow) printed.set(e.seq, Date.now());
      }
    };
    /** Prints every matching entry after `after` (all pages). */
    const drain = async (query: AuditParams) => {
      for (let after: number | undefined; ;) {
        const page = await admin.auditPage(scope, { ...query, ...(after !== undefined ? { after: String(after) } : {}), limit: String(MAX_AUDIT_PAGE) });
        print(page);
        after = page.entries[page.entries.length - 1]?.seq ?? after;
        if (page.next === undefined || left <= 0 || stopped) return;
      }
    };
    await drain(params);
    while (values.follow && left > 0 && !stopped) {
      await new Promise((r) => setTimeout(r, 1000));
      const lookback = new Date(Date.now() - FOLLOW_LOOKBACK_MS).toISOString();
      await drain({ ...params, since: floor !== undefined && floor > lookback ? floor : lookback });
      for (const [seq, at] of printed) if (at < Date.now() - 2 * FOLLOW_LOOKBACK_MS) printed.delete(seq);
    }
    return 0;
  });
}

export async function events(args: string[], io: Io): Promise<number> {
  const parsed = parse('events', args, { database: { type: 'string' }, json: { type: 'boolean' } }, { min: 1, max: 2 }, io);
  if (!parsed) return 0;
  const { values, positionals: [sub, id] } = parsed;
  if (sub !== 'dead' && sub !== 'retry') throw new UsageError(`events needs dead or retry; got "${sub}"`, 'events');
  if (sub === 'dead' && id !== undefined) throw new UsageError(`unexpected argument "${id}"`, 'events');
  return withAdmin(values.database, io, async (admin) => {
    if (sub === 'dead') {
      const dead = await admin.deadEvents(scope);
      if (values.json) io.out.write(`${JSON.stringify(dead.map((d) => ({ ...d.event, channel: d.channel, attempts: d.attempts, lastError: d.lastError ?? null })), null, 2)}\n`);
      else if (dead.length === 0) io.err.write('scimd: no dead-lettered events\n');
      else {
        io.out.write('EVENT ID\tTYPE\tRESOURCE TYPE\tRESOURCE ID\tWEBHOOK\tATTEMPTS\tLAST ERROR\n');
        for (const d of dead) io.out.write(`${[d.event.id, d.event.type, d.event.resource.type, d.event.resource.id, d.channel || '-', d.attempts, d.lastError ?? '-'].join('\t')}\n`);
      }
      return 0;
    }
    const n = await admin.retryEvents(scope, id);
    io.err.write(`scimd: ${n} dead-lettered event${n === 1 ? '' : 's'} queued for delivery again\n`);
    return 0;
  });
}
