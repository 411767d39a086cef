import { defineConfig } from 'vitest/config';
import { postgresBinaries } from './test/postgres-cluster.mjs';

// Every test runs on the embedded store; the tests that go through a server (HTTP, the client, `scimd check`, IdP
// replays, faults, examples) run again on PostgreSQL (project `postgres`). Without PostgreSQL binaries that project is left out, loudly,
// outside CI; in CI the global setup fails the run instead.
const SERVER_TESTS = [
  'test/http/**/*.test.ts', 'test/client/live.test.ts', 'test/client/fallbacks.test.ts', 'test/cli/check.test.ts',
  'test/replay/**/*.test.ts', 'test/faults/**/*.test.ts', 'test/examples/**/*.test.ts',
];
const withPostgres = process.env.CI === 'true' || process.env.SCIMD_TEST_POSTGRES_URL !== undefined || postgresBinaries() !== undefined;

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'] } },
      ...(withPostgres ? [{ extends: true, test: { name: 'postgres', include: SERVER_TESTS, env: { SCIMD_TEST_STORE: 'postgres' } } }] : []),
    ],
  },
});
