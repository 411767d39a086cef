/** How a command names the database it opens: enough to tell it apart, never its password. */
import { describe, expect, it } from 'vitest';
import { describeDatabase } from '../../src/cli/database.js';

describe('describeDatabase', () => {
  it('names a PostgreSQL database by its host, port, name and user, never its password', () => {
    const said = describeDatabase('postgres://scimd:s3cr%40t@db.example.com:5432/scim_prod?sslmode=require');
    expect(said).toBe('PostgreSQL database scim_prod on db.example.com:5432 as scimd');
    expect(said).not.toMatch(/s3cr/);
    expect(describeDatabase('postgresql://db/scimd')).toBe('PostgreSQL database scimd on db');
  });

  it('names a SQLite file by its path', () => {
    expect(describeDatabase('/var/lib/scimd/scimd.db')).toBe('SQLite file /var/lib/scimd/scimd.db');
  });
});
