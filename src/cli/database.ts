/**
 * Opening the database a command works on, saying which one (a command run in the wrong directory or with another
 * SCIMD_DATABASE would otherwise work on a database the server does not use), and the commands on the database as
 * a whole: migrate, backup, restore.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeCounts, readBackup, verifyBackup, writeBackup } from '../backup.js';
import { ConfigError, isPostgresUrl, loadConfig, type Config, type Flags } from '../config.js';
import type { Store } from '../core/ports.js';
import { openStore } from '../store/open.js';
import { parse, type Io } from './args.js';

/** The database as a person can tell it apart: a SQLite file's path, or PostgreSQL's host and database (no password). */
export function describeDatabase(database: string): string {
  if (!isPostgresUrl(database)) return `SQLite file ${database}`;
  try {
    const url = new URL(database);
    const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(the user\'s default)';
    return `PostgreSQL database ${name} on ${url.hostname}${url.port ? `:${url.port}` : ''}${url.username ? ` as ${decodeURIComponent(url.username)}` : ''}`;
  } catch {
    return 'PostgreSQL (a URL that does not parse)';
  }
}

/** Where the database comes from, for messages: the variable, or the flag that wins over it. */
const DATABASE_SETTING = 'SCIMD_DATABASE (or --database)';

/** What a file system path is, if anything: the stat, or undefined when nothing is there (or it cannot be seen). */
function statOf(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** An error's message in one line, with its code where the message does not already say it. */
function reason(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/**
 * Why the SQLite file could not be opened, named by the setting and the path: SQLite itself says only "unable to
 * open database file" (for a directory, a directory it cannot write to or make, a full or read-only disk alike).
 */
function sqliteRefusal(path: string, error: unknown): string {
  const at = `${DATABASE_SETTING} is ${path}`;
  const code = (error as { code?: unknown } | null)?.code;
  if (statOf(path)?.isDirectory()) return `${at}, a directory: name a SQLite file, such as ${join(path, 'scimd.db')}`;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return `${at}, which is not a SQLite database (SQLite says: ${reason(error)}): name scimd's database file, or a path where none exists yet to create one`;
  }
  let dir = dirname(path);
  while (!statOf(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statOf(dir)?.isDirectory()) return `${at}, but ${dir} is a file, not a directory, so the database cannot be made there (${reason(error)})`;
  const user = process.getuid?.() ?? '?';
  const where = dir === dirname(path) ? `its directory ${dir}` : `${dir}, to make its directory ${dirname(path)}`;
  return `${at}, which cannot be opened for writing (${reason(error)}): the user scimd runs as (uid ${user}) must be able to write the file and ${where}`;
}

/**
 * Opens (and migrates) the configured database, first saying on stderr which one, and whether it is new. A failure
 * to open it is a ConfigError that names the setting and the database (never a PostgreSQL password).
 */
export async function openDatabase(config: Config, io: Io): Promise<Store> {
  const postgres = isPostgresUrl(config.database);
  const fresh = !postgres && !existsSync(config.database);
  io.err.write(`scimd: database: ${describeDatabase(config.database)}${fresh ? ' (new: it did not exist, and is created empty)' : ''}\n`);
  try {
    return await openStore(config.database, {
      poolSize: config.databasePoolSize,
      connectTimeoutSeconds: config.databaseConnectTimeoutSeconds,
      statementTimeoutMs: config.databaseStatementTimeoutSeconds * 1000,
    });
  } catch (error) {
    if (!postgres) throw new ConfigError(sqliteRefusal(config.database, error));
    throw new ConfigError(`${DATABASE_SETTING} names the ${describeDatabase(config.database)}, which cannot be opened: ${withoutPassword(reason(error), config.database)}`);
  }
}

/** A message with a PostgreSQL URL's password (as written, and decoded) masked, should a driver ever quote it. */
function withoutPassword(message: string, url: string): string {
  let password = '';
  try {
    password = new URL(url).password;
  } catch {
    return message;
  }
  if (password === '') return message;
  let out = message.replaceAll(password, '***');
  try {
    out = out.replaceAll(decodeURIComponent(password), '***');
  } catch {
    // a malformed escape: the password as written is masked
  }
  return out;
}

/** The configuration of a command that takes --database. */
export function configWith(database: string | undefined, flags: Flags = {}): Config {
  return loadConfig(process.env, { ...flags, ...(database !== undefined ? { database } : {}) });
}

export async function migrate(args: string[], io: Io): Promise<number> {
  const parsed = parse('migrate', args, { database: { type: 'string' } }, { min: 0, max: 0 }, io);
  if (!parsed) return 0;
  const store = await openDatabase(configWith(parsed.values.database), io);
  await store.close();
  io.err.write('scimd: the database is up to date\n');
  return 0;
}

/** Writes the database's snapshot (one read transaction; writers go on meanwhile) to a backup file. */
export async function backup(args: string[], io: Io): Promise<number> {
  const parsed = parse('backup', args, { database: { type: 'string' } }, { min: 0, max: 1 }, io);
  if (!parsed) return 0;
  const [file] = parsed.positionals;
  if (!file) {
    io.err.write('scimd: backup needs one FILE to write (FILE.gz to gzip it, - for stdout)\n');
    return 2;
  }
  const config = configWith(parsed.values.database);
  const store = await openDatabase(config, io);
  try {
    const counts = await writeBackup(file, store.exportSnapshot(), isPostgresUrl(config.database) ? 'postgres' : 'sqlite', io.out);
    io.err.write(`scimd: backed up ${describeCounts(counts)}${file === '-' ? '' : ` to ${file}`}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** Checks a whole backup file first, then writes it into the (migrated, empty) database. */
export async function restore(args: string[], io: Io): Promise<number> {
  const parsed = parse('restore', args, { database: { type: 'string' } }, { min: 0, max: 1 }, io);
  if (!parsed) return 0;
  const [file] = parsed.positionals;
  if (!file || file === '-') {
    io.err.write('scimd: restore needs one backup FILE (not stdin: it is read twice, checked whole before anything is written)\n');
    return 2;
  }
  const config = configWith(parsed.values.database);
  // a damaged or cut-short file is refused before the target is even opened
  const { header, counts } = await verifyBackup(file);
  const store = await openDatabase(config, io);
  try {
    await store.importSnapshot(readBackup(file));
  } finally {
    await store.close();
  }
  io.err.write(`scimd: restored ${describeCounts(counts)} from ${file} (a ${header.source} backup of ${header.created})\n`);
  return 0;
}
