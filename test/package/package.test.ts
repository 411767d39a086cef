/**
 * The package as a user gets it: `npm pack`, installed with `npm install <tarball> express hono @hono/node-server
 * fastify` (from the registry) into an empty project outside the repository; the apps docs/library.md shows, run
 * as written, serve SCIM and pass the shared conformance suites; every subpath resolves, with its types; the CLI runs
 * as a dependency (`npx scimd`) and from a global-style link. The project is kept in the temporary directory between
 * runs (keyed by this checkout and the dependencies), so only a changed tarball is installed again.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, SUITES, judge, knownGaps, runSuite } from '../conformance/suites.mjs';
import { freePort } from '../process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; exports: Record<string, string | Record<string, string>>; dependencies: Record<string, string> };
/** What the test installs beside scimd, as a user following docs/library.md would. */
const FRAMEWORKS = ['express@5', 'hono@4', '@hono/node-server@1', 'fastify@5'];
const haveShared = existsSync(SHARED);

const project = join(tmpdir(), `scimd-package-${createHash('sha256').update(JSON.stringify([root, pkg.dependencies, FRAMEWORKS, process.version])).digest('hex').slice(0, 16)}`);
const work = mkdtempSync(join(tmpdir(), 'scimd-package-run-'));
let packed: { filename: string; shasum: string; files: { path: string }[] };

const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(() => {
  // the build is fresh (npm test or the global setup made it); packing again would rewrite dist/ under other tests
  [packed] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], root));
  const stamp = join(project, 'installed-tarball');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === packed.shasum) return;
  mkdirSync(project, { recursive: true });
  if (!existsSync(join(project, 'package.json'))) writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scimd-package-test', private: true, type: 'module' }));
  for (const old of readdirSync(project).filter((f) => f.endsWith('.tgz'))) rmSync(join(project, old));
  // named by its content, so that npm installs a changed tarball over the last one
  const tarball = `scimd-${packed.shasum}.tgz`;
  execFileSync('cp', [join(work, packed.filename), join(project, tarball)]);
  npm(['install', '--no-audit', '--no-fund', `./${tarball}`, ...FRAMEWORKS], project);
  writeFileSync(stamp, packed.shasum);
}, 15 * 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the tarball', () => {
  it('ships the compiled code with its types, the builtin schemas, the migrations, the writer thread, the CLI and the console\'s browser code; no other sources, no tests', () => {
    const files = new Set(packed.files.map((f) => f.path));
    const targets = Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t))).map((t) => t.replace(/^\.\//, ''));
    const needed = ['bin/scimd.js', 'dist/cli/main.js', 'dist/core/schema/builtin/user.json', 'dist/store/sqlite/migrations.js', 'dist/store/postgres/migrations.js', 'dist/store/sqlite/writer-thread-entry.js', 'src/console/ui/console.js', 'src/console/ui/console.css', ...targets];
    expect(needed.filter((f) => !files.has(f))).toEqual([]);
    // the console's browser code is served as written (no build step); nothing else of src/ ships
    expect([...files].filter((f) => /^(src|test|scripts)\/|\.map$/.test(f) && !f.startsWith('src/console/ui/'))).toEqual([]);
  });

  it('every entry point loads, and type-checks under NodeNext resolution with its own types', () => {
    const entries = { scimd: ['createScim', 'openStore', 'createScimHandler'], 'scimd/node': ['createNodeHandler'], 'scimd/fetch': ['createFetchHandler'], 'scimd/fastify': ['default'], 'scimd/sqlite': ['SqliteStore'], 'scimd/postgres': ['PostgresStore'] };
    const script = Object.entries(entries).map(([entry, names]) => `console.log(${JSON.stringify(entry)}, Object.keys(await import(${JSON.stringify(entry)})).filter((k) => ${JSON.stringify(names)}.includes(k)).length);`).join('\n');
    writeFileSync(join(project, 'entries.mjs'), script);
    expect(execFileSync(process.execPath, ['entries.mjs'], { cwd: project, encoding: 'utf8' }).trim().split('\n')).toEqual(Object.entries(entries).map(([e, n]) => `${e} ${n.length}`));
    writeFileSync(join(project, 'typed.mts'), `
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createScim, createScimd, openStore, type ConsoleUser, type Scim, type ScimHandler } from 'scimd';
import { createNodeHandler, type NodeHandler } from 'scimd/node';
import { createFetchHandler, type FetchHandler } from 'scimd/fetch';
import scimd, { type ScimPluginOptions } from 'scimd/fastify';
import { SqliteStore } from 'scimd/sqlite';
import { PostgresStore } from 'scimd/postgres';
const store: SqliteStore = new SqliteStore(':memory:');
const scim: Scim = createScim({ store });
const node: NodeHandler = createNodeHandler({ scim, store, bodyLimit: 1, prefix: '/scim/v2' });
const fetchHandler: FetchHandler = createFetchHandler({ scim, store, bodyLimit: 1 });
const plugin: ScimPluginOptions = { handler: (async () => ({ status: 204, headers: {} })) satisfies ScimHandler };
// @ts-expect-error: the options are checked (bodyLimit is a number)
createNodeHandler({ scim, store, bodyLimit: '1' });
const admin: ConsoleUser = { role: 'org-admin', orgId: 'id', actor: 'ada@example.com' };
const consoleHandler: NodeHandler = createNodeHandler({ handler: createScimd({ store, console: { authorize: async (request) => (request.headers.cookie ? admin : null) } }).console });
// @ts-expect-error: an organization's admin names the organization
createScimd({ store, console: { authorize: async () => ({ role: 'org-admin', actor: 'x' }) } });
export { node, fetchHandler, plugin, scimd, PostgresStore, openStore, consoleHandler };
export const listener: (req: IncomingMessage, res: ServerResponse) => void = node;
`);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // no skipLibCheck: scimd's declarations and those they import (fastify, pg, better-sqlite3) must resolve too
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', 'typed.mts'];
    const check = spawnSync(process.execPath, [tsc, ...flags], { cwd: project, encoding: 'utf8' });
    expect([check.status, check.stdout]).toEqual([0, '']);
  });

  it('the CLI runs as a dependency (npx scimd) and from a global-style link, from any directory', () => {
    expect(npm(['exec', '--no', '--', 'scimd', '--version'], project).trim()).toBe(pkg.version);
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(join(project, 'node_modules', 'scimd', 'bin', 'scimd.js'), join(bin, 'scimd'));
    expect(execFileSync(join(bin, 'scimd'), ['--version'], { cwd: tmpdir(), encoding: 'utf8' }).trim()).toBe(pkg.version);
  });
});

/** The examples of docs/library.md that are marked to be run, by file name. */
function documentedApps(): Map<string, string> {
  const markdown = readFileSync(join(root, 'docs', 'library.md'), 'utf8');
  return new Map([...markdown.matchAll(/<!-- tested: (\S+) -->\n```js\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!]));
}

/**
 * Runs the app of docs/library.md marked `file` on a new database (`prepare` is given it first), once `probe`
 * (a path) answers: its process and origin.
 */
async function startDocumentedApp(file: string, probe: string, prepare: (db: string) => void = () => {}): Promise<{ app: ChildProcess; origin: string }> {
  const source = documentedApps().get(file);
  if (source === undefined) throw new Error(`docs/library.md has no example marked <!-- tested: ${file} -->`);
  writeFileSync(join(project, file), source);
  const db = join(work, `${file}-${randomBytes(4).toString('hex')}.db`);
  prepare(db);
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const app = spawn(process.execPath, [file], { cwd: project, env: { ...process.env, PORT: String(port), SCIMD_DATABASE: db }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  app.stdout!.on('data', (d) => (output += d));
  app.stderr!.on('data', (d) => (output += d));
  for (let i = 0; i < 200 && app.exitCode === null; i++) {
    try {
      await fetch(`${origin}${probe}`);
      return { app, origin };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${file} did not start: ${output}`);
}

describe.each(['express.mjs', 'hono.mjs', 'fastify.mjs'])('the %s app of docs/library.md', (file) => {
  let app: ChildProcess;
  let base: string;
  let token: string;
  beforeAll(async () => {
    let origin: string;
    ({ app, origin } = await startDocumentedApp(file, '/scim/v2/ServiceProviderConfig', (db) => {
      // a token made by the installed CLI, on the app's database
      token = execFileSync('npm', ['exec', '--no', '--', 'scimd', 'token', 'create', '--name', 'conformance'], { cwd: project, env: { ...process.env, SCIMD_DATABASE: db }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    }));
    base = `${origin}/scim/v2`;
  }, 60_000);
  afterAll(() => void app?.kill());

  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });

  if (haveShared) {
    it.each(SUITES.filter((s) => !s.dialect).map((s) => [s.name, s] as const))('passes the %s conformance suite', async (_name, suite) => {
      const { passed, failures } = judge(suite.name, await runSuite(suite, base, token), knownGaps());
      expect(failures).toEqual([]);
      expect(passed).toBeGreaterThan(0);
    });
  } else {
    it.skip(`SKIPPED: the conformance suites, ../shared/conformance is not beside the project (${SHARED}); CI always has it`, () => {});
  }

  // after the suites: Okta's SPEC test expects the first user listed to be the one it seeds
  it('serves SCIM under its mount: Location is the full URL, and a Bulk of 64 creates goes through the writer thread', async () => {
    const created = await send('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `${file}-located` });
    const body = await created.json();
    expect([created.status, created.headers.get('location')]).toEqual([201, `${base}/Users/${body.id}`]);
    expect((await send('GET', '')).status).toBe(200);
    const Operations = Array.from({ length: 64 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `${file}-bulk-${i}` } }));
    const bulk = await send('POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations });
    const statuses = ((await bulk.json()).Operations as { status: string }[]).map((o) => o.status);
    expect([bulk.status, statuses]).toEqual([200, Operations.map(() => '201')]);
  });
});

describe.each(['console-express.mjs', 'console-hono.mjs'])('the %s app of docs/library.md', (file) => {
  let app: ChildProcess;
  let origin: string;
  beforeAll(async () => {
    ({ app, origin } = await startDocumentedApp(file, '/admin/scim/'));
  }, 60_000);
  afterAll(() => void app?.kill());

  const api = (path: string, init: RequestInit = {}) => fetch(`${origin}/admin/scim/api${path}`, init);

  it('serves the console under /admin/scim to the user its sign-in maps to the operator, and no one else', async () => {
    const shell = await fetch(`${origin}/admin/scim/o/acme/users`);
    expect([shell.status, await shell.text()]).toEqual([200, expect.stringContaining('data-base="/admin/scim" data-api="/admin/scim/api"')]);
    expect((await fetch(`${origin}/admin/scim/assets/console.js`)).status).toBe(200);
    expect((await api('/session')).status).toBe(403);
    const cookie = 'session=demo-session';
    const session = await (await api('/session', { headers: { cookie } })).json();
    expect(session).toMatchObject({ role: 'operator', scimBaseUrl: `${origin}/scim/v2` });
    const create = (headers: Record<string, string>) => api('/organizations', { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{"name":"acme"}' });
    expect((await create({})).status).toBe(403);
    expect((await create({ 'x-csrf-token': session.csrf })).status).toBe(201);
    const log = await (await api('/audit?resourceType=Organization', { headers: { cookie } })).json();
    expect(log.entries.map((e: { tokenName: string }) => e.tokenName)).toEqual(['ops@example.com']);
  });
});
