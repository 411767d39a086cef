/** Opens the store SCIMD_DATABASE names (a postgres:// URL, else a SQLite file) and brings its schema up to date. */
import type { Store } from '../core/ports.js';
import { isPostgresUrl } from '../config.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export async function openStore(database: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const store = isPostgresUrl(database) ? new PostgresStore(database, options) : new SqliteStore(database);
  try {
    await store.migrate();
  } catch (error) {
    // an open pool would keep the process alive after the error is reported
    await store.close();
    throw error;
  }
  return store;
}
