// The conformance suites that others wrote (../shared/conformance), how to run one against a live SCIM server, and
// how to judge its output against test/conformance/known-gaps.json. `npm test` runs them against `scimd serve` on
// each store (scripts/test.mjs) and through each packaged adapter (test/package/package.test.ts).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const SHARED = join(root, '..', 'shared', 'conformance');
export const GAPS_FILE = join(root, 'test', 'conformance', 'known-gaps.json');

export const SUITES = [
  { name: 'filters', args: (base, token) => [join(SHARED, 'run-vectors.mjs'), '--base', base, '--token', token, '--only', 'filters'] },
  { name: 'patch', args: (base, token) => [join(SHARED, 'run-vectors.mjs'), '--base', base, '--token', token, '--only', 'patch'] },
  { name: 'okta-spec', args: (base, token) => [join(SHARED, 'run-runscope.mjs'), '--base', base, '--token', token, '--seed', join(SHARED, 'okta', 'Okta-SCIM-20-SPEC-Test.json')] },
  // Microsoft's collection expects Entra ID's behaviour (e.g. 204 from PATCH): it runs with an entra-dialect token
  { name: 'azure', dialect: 'entra', args: (base, token) => [join(root, 'scripts', 'run-newman.mjs'), '--base', base, '--token', token, '--collection', join(SHARED, 'azure', 'PostmanCollection.json')] },
];

export function knownGaps() {
  return existsSync(GAPS_FILE) ? JSON.parse(readFileSync(GAPS_FILE, 'utf8')) : {};
}

/** A command's output: stdout, and stderr after it unless `withStderr` is false. */
export function capture(cmd, args, env = {}, withStderr = true) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', withStderr ? 'pipe' : 'ignore'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    if (withStderr) child.stderr.on('data', (d) => (out += d));
    child.on('exit', () => resolve(out));
  });
}

/** Runs one suite against the SCIM root `base` with `token`; its output, for `judge`. */
export function runSuite(suite, base, token) {
  return capture(process.execPath, suite.args(base, token));
}

/**
 * A suite's output judged against its known gaps: a failure not listed fails, and so does a listed gap that now
 * passes (the list only ever shrinks), and so does a run that reported nothing. `gapsHere` is what the list would
 * hold after this run (new failures keyed, for `--update-known-gaps`).
 */
export function judge(suiteName, output, gaps) {
  const known = gaps[suiteName] ?? {};
  const isKnown = (label) => Object.keys(known).find((k) => label === k || label.startsWith(`${k} `));
  let passed = 0, failed = 0, gapCount = 0;
  const failures = [], stale = new Set();
  const gapsHere = {};
  for (const line of output.split('\n')) {
    const m = /^(PASS|FAIL) (.*)$/.exec(line);
    if (!m) continue;
    const label = m[2];
    const key = isKnown(label);
    if (m[1] === 'PASS') {
      passed++;
      if (key) stale.add(key);
    } else if (key) {
      gapCount++;
      gapsHere[key] = known[key];
    } else {
      failed++;
      failures.push(label);
      gapsHere[gapKey(suiteName, label)] = 'TODO: say which issue this waits for';
    }
  }
  // A listed gap with no failure left is stale: the work is done, so the list must shrink.
  // (the gaps are the same on every store and adapter: one that passes on one only fails the run too)
  const staleKeys = [...stale].filter((k) => !(k in gapsHere));
  for (const key of staleKeys) failures.push(`now passes, remove from known-gaps.json: ${key}`);
  const silent = passed + failed + gapCount === 0;
  if (silent) failures.push(`the runner reported nothing:\n${output.slice(-2000)}`);
  return { passed, failed: failed + staleKeys.length + (silent ? 1 : 0), gapCount, failures, gapsHere };
}

/** The stable part of a runner's label: a vector id, or an assertion without its random values. */
function gapKey(suite, label) {
  if (suite === 'filters' || suite === 'patch') return label.split(' [')[0];
  // "<step> :: <assertion> (<why>)": the why, and any random value in it, is not part of the key
  const at = label.indexOf(' :: ');
  const tail = label.slice(at + 4);
  return label.slice(0, at + 4) + (tail.includes(' (') ? tail.slice(0, tail.indexOf(' (')) : tail);
}
