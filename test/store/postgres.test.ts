/** The store contract on PostgreSQL, plus what only the PostgreSQL store has to guarantee. */
import { describe } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { describeStoreContract } from './contract.js';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';

const admin = postgresUrl();

describe.skipIf(!admin)('PostgreSQL', () => {
  describeStoreContract('PostgreSQL', async () => {
    const store = new PostgresStore(await freshPostgresDatabase(admin!));
    await store.migrate();
    return store;
  });
});
