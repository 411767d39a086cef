/**
 * Once per Vitest project: builds (the CLI and process tests run the built `scimd` binary) unless `npm test` already
 * did, and provides the throw-away PostgreSQL cluster the PostgreSQL tests share: the one `npm test` started
 * (SCIMD_TEST_POSTGRES_URL), else one started here and stopped by the returned teardown.
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { postgresBinaries, startPostgres } from './postgres-cluster.mjs';

export default async function setup(project: TestProject): Promise<() => void> {
  if (process.env.SCIMD_TEST_BUILT !== 'true') {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  }
  if (process.env.SCIMD_TEST_POSTGRES_URL) {
    project.provide('postgresUrl', process.env.SCIMD_TEST_POSTGRES_URL);
    return () => {};
  }
  const bin = postgresBinaries();
  if (!bin) {
    // CI must run every PostgreSQL test: missing binaries fail the run there instead of skipping silently.
    if (process.env.CI === 'true') throw new Error('CI=true but no PostgreSQL binaries (initdb, pg_ctl) were found: install postgresql or set PGBIN');
    console.log('\n*** PostgreSQL tests SKIPPED: no PostgreSQL binaries found (install postgresql or set PGBIN) ***\n');
    project.provide('postgresUrl', undefined);
    return () => {};
  }
  const started = Date.now();
  const cluster = await startPostgres(bin);
  console.log(`PostgreSQL test cluster from ${bin} at ${cluster.url} (started in ${Date.now() - started} ms)`);
  project.provide('postgresUrl', cluster.url);
  return () => cluster.stop();
}
