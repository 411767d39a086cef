/**
 * The `scimd` command line. Output meant for scripts (a new token, a backup to `-`, listings) goes alone to stdout;
 * everything else goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { COMMANDS, commandUsage, UsageError, USAGE, type Io } from './args.js';

type Command = (args: string[], io: Io) => Promise<number>;
/**
 * Each command's module, loaded when it runs: `scimd sync` or `scimd token create` need not load the server, the
 * database drivers and the client all at once (every command took ~0.45 s to start, `--help` too).
 */
const RUN: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./serve.js')).serve,
  org: async () => (await import('./admin.js')).org,
  token: async () => (await import('./admin.js')).token,
  console: async () => (await import('./admin.js')).consoleCommand,
  audit: async () => (await import('./admin.js')).audit,
  events: async () => (await import('./admin.js')).events,
  migrate: async () => (await import('./database.js')).migrate,
  backup: async () => (await import('./database.js')).backup,
  restore: async () => (await import('./database.js')).restore,
  check: async () => (await import('./check.js')).check,
  sync: async () => (await import('./sync.js')).syncCommand,
};

/** A question answered on a terminal's stdin; none when stdin is not a terminal (scripts confirm with flags). */
function terminalPrompt(err: NodeJS.WritableStream): Io['ask'] {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: err });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  };
}

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  const ask = terminalPrompt(err);
  const io: Io = { out, err, ...(ask ? { ask } : {}) };
  if (command === '--version' || command === 'version') {
    out.write(`${version()}\n`);
    return 0;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const about = rest[0];
    if (about !== undefined && !COMMANDS[about]) return unknown(about, err);
    err.write(`${about ? commandUsage(about) : USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const load = RUN[command];
  if (!load) return unknown(command, err);
  const run = await load();
  try {
    return await run(rest, io);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`scimd: ${e.message}\n${commandUsage(e.command)}\n`);
    return 2;
  }
}

function unknown(command: string, err: NodeJS.WritableStream): number {
  err.write(`scimd: unknown command "${command}"\n\n${USAGE}\n`);
  return 2;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
