/**
 * The command line's words: each command's usage, and its arguments checked against it. A mistake in the words
 * (an unknown option, a missing or stray argument) ends the command with its usage and exit code 2; `--help` prints
 * the usage and exits 0.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DIALECTS } from '../core/tokens.js';

export interface Io {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** Answers typed at a prompt (a terminal's stdin), when there is one. */
  readonly ask?: (question: string) => Promise<string>;
}

export const COMMANDS: Readonly<Record<string, { readonly usage: string; readonly about: string }>> = {
  serve: {
    usage: 'scimd serve [--port N] [--host H] [--database FILE|URL] [--public-url URL] [--schemas FILES] [--log-level L]',
    about: 'serves SCIM at /scim/v2 (with /healthz, /readyz and the admin API at /admin/api)',
  },
  org: {
    usage: 'scimd org create NAME\n  scimd org list [--json]\n  scimd org rename NAME NEW_NAME\n  scimd org delete NAME [--confirm NAME]',
    about: 'organizations: each has its own users, groups and tokens; delete asks for the name again',
  },
  token: {
    usage: `scimd token create [--org NAME] [--name NAME] [--dialect ${DIALECTS.join('|')} | --admin]\n` +
      '                    [--scopes "scim:read scim:write"] [--expires 90d|TIME] [--oauth-client]\n' +
      '  scimd token create --trust-issuer ISS --audience AUD (--jwks-url URL | --public-key FILE) [--claims NAME=VALUE,…] [--org NAME] [--scopes S]\n' +
      '  scimd token list [--org NAME] [--json]\n  scimd token revoke ID',
    about: 'bearer tokens: create prints the new token alone on stdout (shown once); --admin makes an admin token, of --org or, without it, ' +
      'of every organization; --scopes limits a SCIM token (scim:read, scim:write, or per endpoint: scim:read:Users); --expires ends it (default: never); ' +
      '--oauth-client makes an OAuth client instead, whose id and secret get access tokens at POST /oauth/token; ' +
      '--trust-issuer makes the organization take the JWTs that issuer signs for the audience (prints the id)',
  },
  audit: {
    usage: 'scimd audit [--org NAME] [--since T] [--until T] [--resource-type T] [--resource-id ID] [--token ID]\n' +
      '              [--outcome success|failure] [--limit N] [--follow]',
    about: 'the audit log as NDJSON (T: an ISO time, or 15m, 24h, 7d ago); --follow prints new entries as they come',
  },
  events: {
    usage: 'scimd events dead [--json]\n  scimd events retry [EVENT_ID]',
    about: 'dead-lettered events: list them; deliver them again (one, or all)',
  },
  migrate: { usage: 'scimd migrate [--database FILE|URL]', about: 'applies pending database migrations (serve does too)' },
  backup: { usage: 'scimd backup FILE|-', about: 'a consistent backup of the database (FILE.gz: gzipped; -: to stdout)' },
  restore: { usage: 'scimd restore FILE', about: 'restores a backup into the database, which must be new and empty' },
  check: {
    usage: 'scimd check URL (--token T | --token-file FILE) [--idp rfc|entra|okta] [--json] [--junit FILE] [--only CHECK,…]',
    about: 'checks the conformance of any SCIM server at URL (its base, e.g. https://host/scim/v2): a scored report of\n' +
      'what each check sent, what came back and the RFC section it rests on; it makes only resources of its own and\n' +
      'removes them, even when stopped; exit code 1 when a check failed; SCIMD_CHECK_TOKEN may hold the token instead\n' +
      '(--token shows in the process list)',
  },
  sync: {
    usage: 'scimd sync FILE|--from URL [--from-token T|--from-token-file F] --url URL (--token T|--token-file F)\n' +
      '             [--match ATTR] [--map COL=ATTR,…|FILE.json] [--department-groups] [--on-missing deactivate|delete|keep]\n' +
      '             [--allow-empty] [--dry-run] [--rps N] [--no-bulk] [--concurrency N] [--json]',
    about: 'makes the SCIM server at --url hold what a CSV export, a JSON/NDJSON file of SCIM resources or another SCIM\n' +
      'server says: creates, PATCHes only what differs, and deactivates (or deletes, or keeps) the provisioned users\n' +
      'the source no longer has; members added and removed one by one. Matched by externalId (or --match); the plan\n' +
      'is recomputed from the target each run, so a second run changes nothing and an interrupted one is finished\n' +
      'by the next; --dry-run prints the plan; exit code 1 when a change failed, 130 when stopped',
  },
};

export const USAGE = `scimd: a SCIM 2.0 provisioning server

usage:
${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}
  scimd --version
  scimd help COMMAND                     what a command does

Run every command but check and sync where the server runs, with the same SCIMD_DATABASE (each says which database it opens).
Settings also come from SCIMD_* environment variables; see docs/configuration.md.`;

/** The words were wrong: the command's usage is printed, and it exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, readonly command: string) {
    super(message);
  }
}

export function commandUsage(command: string): string {
  const c = COMMANDS[command];
  return c ? `usage:\n  ${c.usage}\n\n${c.about}` : USAGE;
}

/**
 * The arguments of `command`: options as declared (plus --help), and between `min` and `max` positionals. Undefined
 * when --help was asked for (the usage has been printed).
 */
type Options = Record<string, { readonly type: 'string' | 'boolean' }>;
type Values<O extends Options> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };

export function parse<O extends Options>(
  command: string,
  args: string[],
  options: O,
  positionals: { min: number; max: number },
  io: Io,
): { values: Values<O>; positionals: string[] } | undefined {
  if (args.includes('--help') || args.includes('-h')) {
    io.err.write(`${commandUsage(command)}\n`);
    return undefined;
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message, command);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`${command} needs more arguments`, command);
  if (n > positionals.max) throw new UsageError(`unexpected argument "${parsed.positionals[positionals.max]}"`, command);
  return { values: parsed.values as Values<O>, positionals: parsed.positionals };
}

/**
 * A bearer token from `--X` (the flag's value), else `--X-file` (its first line: files end with a newline), else an
 * environment variable; undefined when none gives one. The last two keep it out of the process list, where a flag
 * shows to every user of the machine.
 */
export function bearerToken(command: string, flag: string | undefined, file: string | undefined, env?: { name: string; value: string | undefined }, option = 'token'): string | undefined {
  if (flag !== undefined && file !== undefined) throw new UsageError(`give the token once: --${option} or --${option}-file`, command);
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').split(/\r?\n/)[0]!.trim() || undefined;
    } catch (e) {
      throw new UsageError(`--${option}-file ${file} cannot be read: ${(e as Error).message}`, command);
    }
  }
  return (flag ?? env?.value) || undefined;
}
