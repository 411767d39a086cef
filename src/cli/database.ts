/**
 * Opening the database a command works on, saying which one (a command run in the wrong directory or with another
 * SCIMD_DATABASE would otherwise work on a database the server does not use), and the commands on the database as
 * a whole: migrate, backup, restore.
 */
import { existsSync } from 'node:fs';
import { describeCounts, readBackup, verifyBackup, writeBackup } from '../backup.js';
import { isPostgresUrl, loadConfig, type Config, type Flags } from '../config.js';
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

/** Opens (and migrates) the configured database, first saying on stderr which one, and whether it is new. */
export async function openDatabase(config: Config, io: Io): Promise<Store> {
  const fresh = !isPostgresUrl(config.database) && !existsSync(config.database);
  io.err.write(`scimd: database: ${describeDatabase(config.database)}${fresh ? ' (new: it did not exist, and is created empty)' : ''}\n`);
  return openStore(config.database, {
    poolSize: config.databasePoolSize,
    connectTimeoutSeconds: config.databaseConnectTimeoutSeconds,
    statementTimeoutMs: config.databaseStatementTimeoutSeconds * 1000,
  });
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
