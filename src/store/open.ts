/** Opens the store SCIMD_DATABASE names and brings its schema up to date. */
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export async function openStore(databasePath: string): Promise<Store> {
  const store = new SqliteStore(databasePath);
  await store.migrate();
  return store;
}
