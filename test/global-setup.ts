/**
 * Once per Vitest run: builds (the CLI tests run the built `scimd` binary), and starts the throw-away PostgreSQL
 * cluster the PostgreSQL tests share (stopped by the returned teardown).
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { postgresBinaries, startPostgres } from './postgres.js';

export default async function setup(project: TestProject): Promise<() => void> {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
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
