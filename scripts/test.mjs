#!/usr/bin/env node
// The project's whole test command (`npm test`): builds, runs the Vitest suites, then runs the conformance suites
// that others wrote (../shared/conformance) against a live `scimd serve`, and ends with "N passed, N failed".
//
// Conformance failures that belong to work not done yet are listed, with the issue they wait for, in
// test/conformance/known-gaps.json; any other failure fails the run, and so does a listed gap that now passes
// (so the list only ever shrinks). `--update-known-gaps` rewrites the list from a run (review the diff!).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPostgresDatabase, postgresBinaries, startPostgres } from '../test/postgres-cluster.mjs';
import { GAPS_FILE, SHARED, SUITES, capture, judge, knownGaps, runSuite } from '../test/conformance/suites.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const updateGaps = process.argv.includes('--update-known-gaps');
const work = mkdtempSync(join(tmpdir(), 'scimd-test-'));
const totals = { passed: 0, failed: 0, skipped: 0 };

function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
}

// 1. Build: the CLI tests and the conformance server run the compiled `scimd`.
if (run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']).status !== 0) {
  console.log('build failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// 2. One throw-away PostgreSQL cluster for the whole run: the Vitest PostgreSQL project and the conformance suites
// on PostgreSQL. Without binaries the PostgreSQL part is skipped, loudly, outside CI; in CI that fails the run.
const pgBin = postgresBinaries();
const cluster = pgBin ? await startPostgres(pgBin) : undefined;
process.on('exit', () => cluster?.stop());
if (!cluster) {
  console.log(process.env.CI === 'true' ? 'PostgreSQL: no binaries found and CI=true: failing' : 'PostgreSQL tests SKIPPED: no PostgreSQL binaries found (install postgresql or set PGBIN)');
  if (process.env.CI === 'true') totals.failed += 1;
}
const stores = cluster ? ['sqlite', 'postgres'] : ['sqlite'];

// 3. Unit, store-contract, HTTP and CLI tests (the server tests once per store: Vitest projects, vitest.config.ts).
const vitestReport = join(work, 'vitest.json');
const vitest = run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestReport}`], {
  env: { ...process.env, SCIMD_TEST_BUILT: 'true', ...(cluster ? { SCIMD_TEST_POSTGRES_URL: cluster.url } : {}) },
});
if (existsSync(vitestReport)) {
  const r = JSON.parse(readFileSync(vitestReport, 'utf8'));
  totals.passed += r.numPassedTests;
  totals.failed += r.numFailedTests + (vitest.status !== 0 && r.numFailedTests === 0 ? 1 : 0);
  totals.skipped += r.numPendingTests + r.numTodoTests;
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  // outside CI, PostgreSQL tests are skipped when the machine has no PostgreSQL binaries: say so where it is seen
  // (with a cluster, a skipped test is one that runs in the other project only, as its name says)
  const skippedPg = r.testResults.flatMap((f) => f.assertionResults).filter((t) => t.status !== 'passed' && t.status !== 'failed' && /PostgreSQL|postgres/.test(t.fullName)).length;
  if (skippedPg > 0 && !cluster) console.log(`vitest: ${skippedPg} PostgreSQL tests SKIPPED (no PostgreSQL binaries found; install postgresql or set PGBIN)`);
} else {
  console.log('vitest: no report (it crashed)');
  totals.failed += 1;
}

// 4. Conformance suites against a live server, on each store (the packaged adapters run them in Vitest:
// test/package/package.test.ts).
if (!existsSync(SHARED)) {
  console.log(`conformance: SKIPPED, ../shared/conformance is not beside the project (${SHARED}); CI always has it`);
} else {
  const gaps = knownGaps();
  const newGaps = {};
  for (const store of stores) for (const suite of SUITES) {
    const bootstrap = `conformance-${randomBytes(16).toString('hex')}`;
    const { base, stop, db } = await startServer(bootstrap, store);
    let output;
    try {
      // the token alone is on stdout (stderr says which database the command opened)
      const token = suite.dialect ? (await capture(process.execPath, [join(root, 'bin', 'scimd.js'), 'token', 'create', '--dialect', suite.dialect], { SCIMD_DATABASE: db }, false)).trim() : bootstrap;
      output = await runSuite(suite, base, token);
    } finally {
      await stop();
    }
    const { passed, failed, gapCount, failures, gapsHere } = judge(suite.name, output, gaps);
    newGaps[suite.name] = { ...newGaps[suite.name], ...gapsHere };
    const name = `${suite.name} on ${store}`;
    for (const f of failures) console.log(`  FAIL conformance ${name}: ${f}`);
    console.log(`conformance ${name}: ${passed} passed, ${failed} failed, ${gapCount} known gaps (test/conformance/known-gaps.json)`);
    totals.passed += passed;
    totals.failed += failed;
  }
  if (updateGaps) {
    writeFileSync(GAPS_FILE, `${JSON.stringify(newGaps, null, 2)}\n`);
    console.log(`wrote ${GAPS_FILE}`);
  }
}

rmSync(work, { recursive: true, force: true });
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed > 0 ? 1 : 0);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startServer(token, store) {
  const port = await freePort();
  const db = store === 'postgres' ? await freshPostgresDatabase(cluster.url) : join(work, `conformance-${port}.db`);
  const child = spawn(process.execPath, [join(root, 'bin', 'scimd.js'), 'serve'], {
    cwd: root,
    env: { ...process.env, SCIMD_PORT: String(port), SCIMD_HOST: '127.0.0.1', SCIMD_DATABASE: db, SCIMD_BOOTSTRAP_TOKEN: token, SCIMD_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    db,
    base: `http://127.0.0.1:${port}/scim/v2`,
    stop: () => new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    }),
  };
}
