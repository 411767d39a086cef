/**
 * Backup files (`scimd backup` / `scimd restore`): a store's snapshot as NDJSON, gzipped when the name ends in `.gz`.
 * The first line is a header, then one record a line, and the last line a trailer with the count of each kind, so a
 * file cut short is told from a complete one. A backup is written to a temporary file renamed when complete: a failed
 * one leaves nothing that looks like a backup.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { SnapshotKind, SnapshotRecord } from './core/model.js';

export const FORMAT = 1;

export interface BackupHeader {
  readonly scimd: 'backup';
  readonly format: number;
  readonly created: string;
  readonly source: 'sqlite' | 'postgres';
}

export type BackupCounts = Record<SnapshotKind, number>;

/** The fields each kind of record must have (what importing it writes into NOT NULL columns). */
const REQUIRED: Readonly<Record<SnapshotKind, readonly string[]>> = {
  organization: ['id', 'name', 'created'],
  secret: ['name', 'value'],
  token: ['id', 'name', 'dialect', 'hash', 'scope', 'created'],
  resource: ['orgId', 'resourceType', 'id', 'position', 'version', 'created', 'lastModified', 'attributes', 'uniqueKeys', 'index'],
  member: ['orgId', 'groupId', 'memberId', 'memberType'],
  audit: ['seq', 'at', 'operation', 'status', 'changes'],
  event: ['seq', 'channel', 'event', 'attempts', 'nextAttempt'],
};

const KINDS = Object.keys(REQUIRED) as SnapshotKind[];

export function emptyCounts(): BackupCounts {
  return Object.fromEntries(KINDS.map((k) => [k, 0])) as BackupCounts;
}

const NOUNS: Readonly<Record<SnapshotKind, [string, string]>> = {
  organization: ['organization', 'organizations'],
  secret: ['secret', 'secrets'],
  token: ['token', 'tokens'],
  resource: ['resource', 'resources'],
  member: ['group member', 'group members'],
  audit: ['audit entry', 'audit entries'],
  event: ['undelivered event', 'undelivered events'],
};

/** "2 organizations, 1 secret, …" for the one-line summaries. */
export function describeCounts(counts: BackupCounts): string {
  return KINDS.map((k) => `${counts[k]} ${NOUNS[k][counts[k] === 1 ? 0 : 1]}`).join(', ');
}

/** The NDJSON lines of a backup: header, records (counted into `counts` as they pass), trailer. */
export async function* backupLines(records: AsyncIterable<SnapshotRecord>, header: BackupHeader, counts: BackupCounts): AsyncGenerator<string> {
  yield `${JSON.stringify(header)}\n`;
  for await (const r of records) {
    counts[r.kind]++;
    yield `${JSON.stringify(r)}\n`;
  }
  yield `${JSON.stringify({ kind: 'end', counts })}\n`;
}

/** A line after the header: a record, or the trailer (`end`). Throws on anything else, naming the line. */
export function parseLine(line: string, n: number): SnapshotRecord | { kind: 'end'; counts: BackupCounts } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`line ${n} is not JSON: the backup is damaged or cut short`);
  }
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind === 'end') return value as { kind: 'end'; counts: BackupCounts };
  if (typeof kind !== 'string' || !(kind in REQUIRED)) throw new Error(`line ${n} is no backup record (kind ${JSON.stringify(kind)})`);
  const missing = REQUIRED[kind as SnapshotKind].filter((f) => (value as Record<string, unknown>)[f] === undefined);
  if (missing.length > 0) throw new Error(`line ${n}: ${kind} record without ${missing.join(', ')}`);
  return value as SnapshotRecord;
}

export function parseHeader(line: string | undefined): BackupHeader {
  let header: Partial<BackupHeader> | undefined;
  try {
    header = line === undefined ? undefined : (JSON.parse(line) as Partial<BackupHeader>);
  } catch {
    /* reported below */
  }
  if (header?.scimd !== 'backup') throw new Error('not a scimd backup (its first line is no scimd backup header)');
  if (header.format !== FORMAT) throw new Error(`backup format ${String(header.format)} is not one this scimd reads (${FORMAT})`);
  return header as BackupHeader;
}

/**
 * Writes a backup of `records` to `file` (`-`: stdout, never gzipped) and returns the counts. A file is complete
 * when it appears: it is written beside, flushed to disk, then renamed over `file`.
 */
export async function writeBackup(file: string, records: AsyncIterable<SnapshotRecord>, source: BackupHeader['source'], stdout: NodeJS.WritableStream = process.stdout): Promise<BackupCounts> {
  const counts = emptyCounts();
  const lines = Readable.from(backupLines(records, { scimd: 'backup', format: FORMAT, created: new Date().toISOString(), source }, counts));
  if (file === '-') {
    await pipeline(lines, stdout, { end: false });
    return counts;
  }
  const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  await writable(file);
  try {
    // readable by its owner only: it holds the directory's personal data and the server's signing secrets
    const to = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
    await (file.endsWith('.gz') ? pipeline(lines, createGzip(), to) : pipeline(lines, to));
    const written = await open(partial, 'r');
    await written.sync().finally(() => written.close());
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    // a file system's refusal (EACCES, ENOSPC, …), said of `file`: the temporary file's name means nothing to the caller
    if (typeof (error as { syscall?: unknown }).syscall === 'string') {
      const said = (error as Error).message.replace(/, \w+ '[^']*'$/, '');
      throw new Error(`cannot write the backup to ${file}: ${said} (writing in ${dirname(file)})`);
    }
    throw error;
  }
  return counts;
}

/**
 * Refuses, naming the backup file, a place no backup can be written to: a missing directory, a file standing where
 * the directory should be, the name of a directory. (Writing would fail anyway, but naming the temporary file the
 * backup is written to first.)
 */
async function writable(file: string): Promise<void> {
  const dir = dirname(file);
  const at = await stat(dir).catch(() => undefined);
  if (!at) throw new Error(`cannot write the backup to ${file}: the directory ${dir} does not exist (make it first)`);
  if (!at.isDirectory()) throw new Error(`cannot write the backup to ${file}: ${dir} is not a directory`);
  if ((await stat(file).catch(() => undefined))?.isDirectory()) throw new Error(`cannot write the backup to ${file}: it is a directory; name a file in it`);
}

/**
 * The records of a backup file, checked as they are read: the header first, every record well formed, and at the
 * end a trailer whose counts are those read (else it throws: a file cut short must not pass for a whole one).
 */
export async function* readBackup(file: string, onHeader: (header: BackupHeader) => void = () => {}): AsyncGenerator<SnapshotRecord, BackupCounts> {
  const input = createReadStream(file);
  const stream = file.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  input.on('error', (e) => stream.destroy(e));
  const counts = emptyCounts();
  let n = 0;
  let trailer: BackupCounts | undefined;
  try {
    for await (const line of lines(stream)) {
      n++;
      if (n === 1) {
        onHeader(parseHeader(line));
        continue;
      }
      if (trailer) throw new Error(`line ${n} follows the trailer: the backup is damaged`);
      const r = parseLine(line, n);
      if (r.kind === 'end') trailer = r.counts;
      else {
        counts[r.kind]++;
        yield r;
      }
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'Z_BUF_ERROR' || (error as { code?: string }).code === 'Z_DATA_ERROR') {
      throw new Error(`${file} is not a whole gzip file: the backup is damaged or cut short`);
    }
    throw error;
  }
  if (n === 0) parseHeader(undefined);
  if (!trailer) throw new Error(`${file} has no trailer: the backup was cut short (${n} lines); it cannot be restored`);
  const differ = KINDS.filter((k) => (trailer![k] ?? 0) !== counts[k]);
  if (differ.length > 0) throw new Error(`${file}'s trailer counts do not match its records (${differ.join(', ')}): the backup is damaged`);
  return counts;
}

/** Reads a whole backup file, checking it as readBackup does, without writing anything; its header and counts. */
export async function verifyBackup(file: string): Promise<{ header: BackupHeader; counts: BackupCounts }> {
  let header: BackupHeader | undefined;
  const records = readBackup(file, (h) => (header = h));
  for (;;) {
    const next = await records.next();
    if (next.done) return { header: header!, counts: next.value };
  }
}

/** The lines of a text stream, without their line ends; a long line is joined once, not per chunk. */
async function* lines(stream: Readable): AsyncGenerator<string> {
  let pending: string[] = [];
  for await (const chunk of stream.setEncoding('utf8') as AsyncIterable<string>) {
    const parts = chunk.split('\n');
    if (parts.length === 1) {
      pending.push(chunk);
      continue;
    }
    yield pending.join('') + parts[0];
    for (let i = 1; i < parts.length - 1; i++) yield parts[i]!;
    pending = [parts[parts.length - 1]!];
  }
  const rest = pending.join('');
  if (rest !== '') yield rest;
}
