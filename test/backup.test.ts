/** Backup files: header, records, counted trailer; gzip; written whole or not at all; damaged ones refused. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBackup, verifyBackup, writeBackup } from '../src/backup.js';
import type { SnapshotRecord } from '../src/core/model.js';

const RECORDS: SnapshotRecord[] = [
  { kind: 'organization', id: 'o1', name: 'acme', created: '2024-01-01T00:00:00.000Z' },
  { kind: 'secret', name: 'cursor', value: Buffer.alloc(32, 7).toString('base64') },
  { kind: 'token', id: 't1', orgId: 'o1', name: 'okta', dialect: 'okta', scope: 'scim', hash: 'a'.repeat(64), created: '2024-01-01T00:00:00.000Z' },
  {
    kind: 'resource', position: 1, orgId: 'o1', resourceType: 'User', id: 'u1', version: 2, created: '2024-01-01T00:00:00.000Z',
    lastModified: '2024-01-02T00:00:00.000Z', attributes: { userName: 'alice', note: 'a\nline break' }, display: 'alice',
    uniqueKeys: [{ attribute: 'userName', value: 'alice' }], index: [{ path: 'username', ordinal: 0, str: 'alice' }],
  },
];

async function* from(records: readonly SnapshotRecord[], failAfter = Infinity): AsyncGenerator<SnapshotRecord> {
  for (const [i, r] of records.entries()) {
    if (i === failAfter) throw new Error('the database went away');
    yield r;
  }
}

async function read(file: string): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  for await (const r of readBackup(file)) out.push(r);
  return out;
}

describe('backup files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'scimd-backup-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('NDJSON: a header, one record a line, a trailer with the counts; read back as written', async () => {
    const file = join(dir, 'b.ndjson');
    const counts = await writeBackup(file, from(RECORDS), 'sqlite');
    expect(counts).toEqual({ organization: 1, secret: 1, token: 1, resource: 1, member: 0, audit: 0, event: 0 });
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(RECORDS.length + 3); // header, records, trailer, and the last line end
    expect(JSON.parse(lines[0]!)).toEqual({ scimd: 'backup', format: 1, created: expect.any(String), source: 'sqlite' });
    expect(JSON.parse(lines[RECORDS.length + 1]!)).toEqual({ kind: 'end', counts });
    expect(await read(file)).toEqual(RECORDS);
    expect(await verifyBackup(file)).toEqual({ header: JSON.parse(lines[0]!), counts });
    expect(readdirSync(dir)).toEqual(['b.ndjson']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a name ending in .gz is gzipped, and read back the same', async () => {
    const file = join(dir, 'b.ndjson.gz');
    await writeBackup(file, from(RECORDS), 'postgres');
    const bytes = readFileSync(file);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect(JSON.parse(gunzipSync(bytes).toString('utf8').split('\n')[0]!)).toMatchObject({ source: 'postgres' });
    expect(await read(file)).toEqual(RECORDS);
  });

  it('a backup that fails part way leaves no file, not even a partial one, and an earlier backup of that name stays', async () => {
    const file = join(dir, 'b.ndjson');
    await expect(writeBackup(join(dir, 'new.ndjson'), from(RECORDS, 2), 'sqlite')).rejects.toThrow('the database went away');
    expect(readdirSync(dir)).toEqual([]);
    await writeBackup(file, from(RECORDS), 'sqlite');
    const before = readFileSync(file);
    await expect(writeBackup(file, from(RECORDS, 3), 'sqlite')).rejects.toThrow('the database went away');
    expect(readdirSync(dir)).toEqual(['b.ndjson']);
    expect(readFileSync(file)).toEqual(before);
  });

  describe('a damaged or cut-short file is refused, naming what is wrong', () => {
    let lines: string[];
    beforeEach(async () => {
      await writeBackup(join(dir, 'whole.ndjson'), from(RECORDS), 'sqlite');
      lines = readFileSync(join(dir, 'whole.ndjson'), 'utf8').split('\n');
    });
    const refused = async (text: string | Buffer, name = 'bad.ndjson') => {
      writeFileSync(join(dir, name), text);
      return (await verifyBackup(join(dir, name)).then(() => expect.unreachable('accepted'), (e: Error) => e)).message;
    };

    it('cut at a line end: no trailer', async () => {
      expect(await refused(lines.slice(0, 4).join('\n') + '\n')).toMatch(/has no trailer: the backup was cut short/);
    });

    it('cut inside a line', async () => {
      expect(await refused(lines.join('\n').slice(0, -40))).toMatch(/line 6 is not JSON/);
    });

    it('a trailer whose counts are not the records\'', async () => {
      expect(await refused([...lines.slice(0, 2), ...lines.slice(3)].join('\n'))).toMatch(/trailer counts do not match its records \(secret\)/);
    });

    it('not a backup, another format, a line after the trailer, an unknown kind, a record without a field', async () => {
      expect(await refused('')).toMatch(/not a scimd backup/);
      expect(await refused('{"hello":1}\n')).toMatch(/not a scimd backup/);
      expect(await refused([lines[0]!.replace('"format":1', '"format":2'), ...lines.slice(1)].join('\n'))).toMatch(/backup format 2 is not one this scimd reads/);
      expect(await refused([...lines.slice(0, -1), lines[1]!, ''].join('\n'))).toMatch(/line 7 follows the trailer/);
      expect(await refused([lines[0], '{"kind":"user"}', ...lines.slice(1)].join('\n'))).toMatch(/line 2 is no backup record \(kind "user"\)/);
      expect(await refused([lines[0], lines[1]!.replace('"name":"acme",', ''), ...lines.slice(2)].join('\n'))).toMatch(/line 2: organization record without name/);
    });

    it('a gzip file cut short', async () => {
      const gz = gzipSync(lines.join('\n'));
      expect(await refused(gz.subarray(0, gz.length - 10), 'bad.ndjson.gz')).toMatch(/is not a whole gzip file/);
    });
  });
});
