/**
 * The throw-away PostgreSQL cluster of the tests (test/postgres-cluster.mjs), started by `npm test` or else by the
 * Vitest global setup. Test files get a database of their own with `freshPostgresDatabase()`.
 * Without PostgreSQL binaries the PostgreSQL tests are skipped outside CI, and the run fails in CI (CI=true).
 */
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster's admin URL (database `postgres`); undefined when PostgreSQL tests are skipped. */
    postgresUrl: string | undefined;
  }
}

export { freshPostgresDatabase, postgresBinaries, startPostgres, type RunningPostgres } from './postgres-cluster.mjs';

/** The test cluster's admin URL, or undefined when PostgreSQL tests are skipped (never in CI). */
export function postgresUrl(): string | undefined {
  return inject('postgresUrl');
}
