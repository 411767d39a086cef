#!/usr/bin/env node
// npm run bench [-- --sizes 10000,1000000 (or --sizes= for the load alone)] [--duration 5] [--connections 16] [--load 100000]
//                [--runs 3] [--bulk-in-flight 2] [--load-slices 5] [--sync 5000] [--quick]
//                [--store postgres [--postgres URL] [--nodes 3]]
// Builds a directory of N users per size on the embedded store (or PostgreSQL), serves it with `scimd serve`, drives
// it with autocannon over loopback, and reports requests/s, p50/p99 latency, errors and peak server memory for each
// scenario, each as a ratio to a bare Fastify endpoint measured just before it (--runs runs: the median of the runs'
// ratios is reported, since this machine's speed drifts by a third within an hour, and within a run). On SQLite a
// run also measures the floor of a read: Fastify answering GET /Users/{id} with one statement on the same file
// (bench/floor-server.mjs): what a server on this stack that reads the database for every GET can reach here. Then
// it loads --load users into an empty directory through single POSTs and through Bulk (1,000 a request) (--load 0:
// not measured); then syncs a CSV of --sync users (5,000; 0: not measured) into an empty directory with `scimd sync`,
// through Bulk and through single requests (--no-bulk). On PostgreSQL it also measures the largest directory served
// by 1 and by --nodes scimd processes at once. Writes bench/results/*.{json,md}.
//
// PostgreSQL: databases are made on the server --postgres names (an admin URL), else on a throw-away cluster started
// from the machine's binaries with PostgreSQL's durable defaults (fsync on: a write acknowledged once on disk, as on SQLite).
import { fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const root = fileURLToPath(new URL('..', import.meta.url));
const { createScim, createToken, openStore, ensureBootstrapToken, registryFromFiles } = await import(join(root, 'dist', 'index.js'));
const { freshPostgresDatabase, postgresBinaries, startPostgres } = await import(join(root, 'test', 'postgres-cluster.mjs'));

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    load: { type: 'string', default: '100000' },
    'bulk-in-flight': { type: 'string', default: '2' },
    'load-slices': { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
    store: { type: 'string', default: 'sqlite' },
    postgres: { type: 'string' },
    nodes: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    sync: { type: 'string', default: '5000' },
  },
});
if (!['sqlite', 'postgres'].includes(values.store)) throw new Error(`--store is sqlite or postgres, not ${values.store}`);
const onPostgres = values.store === 'postgres';
const loadSize = values.quick ? 10_000 : Number(values.load);
const sizes = (values.quick ? '10000' : values.sizes).split(',').filter(Boolean).map(Number); // --sizes= : the load alone
const duration = values.quick ? 2 : Number(values.duration);
const connections = Number(values.connections);
const runs = Math.max(1, Number(values.runs));
// SCIMD_BOOTSTRAP_TOKEN wants 32 characters or more
const TOKEN = 'bench-token-of-at-least-32-characters';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const STUDENT = 'urn:example:params:scim:schemas:extension:university:2.0:Student';
const schemaFile = join(root, 'examples', 'student', 'student.json');
const work = mkdtempSync(join(tmpdir(), 'scimd-bench-'));
const q = (filter) => encodeURIComponent(filter);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let cluster;
if (onPostgres && !values.postgres) {
  const bin = postgresBinaries();
  if (!bin) throw new Error('--store postgres: no PostgreSQL binaries found (install postgresql, set PGBIN, or pass --postgres URL)');
  cluster = await startPostgres(bin, { durable: true });
  process.on('exit', () => cluster.stop());
  // interrupted, the run still stops its cluster (the 'exit' handlers do not run on a signal)
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
}
const adminUrl = values.postgres ?? cluster?.url;

/** A new, empty database for one part of the run: a SQLite file in the work directory, or a PostgreSQL database. */
const newDatabase = (name) => (onPostgres ? freshPostgresDatabase(adminUrl) : join(work, `${name}.db`));

/** Frees a database's disk once its part of the run is done. */
async function dropDatabase(database) {
  if (!onPostgres) return rmSync(database, { force: true });
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${new URL(database).pathname.slice(1)} WITH (FORCE)`);
  await admin.end();
}

/**
 * PATCHes that add a user who is not a member, then remove them again: one membership row changes each time. As IdPs
 * send them: no query parameters, so the answer is what the token's dialect gets by default.
 */
function memberChurn(groupId, outsiders, token) {
  let next = 0;
  const pending = [];
  return {
    method: 'PATCH',
    path: `/scim/v2/Groups/${groupId}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    setupRequest: (req) => {
      const op = pending.length > 0 && (pending.length >= 8 || Math.random() < 0.5)
        ? { op: 'remove', path: `members[value eq "${pending.shift()}"]` }
        : { op: 'add', path: 'members', value: [{ value: (pending.push(outsiders[next++ % outsiders.length]), pending[pending.length - 1]) }] };
      return { ...req, body: JSON.stringify({ schemas: [PATCH_OP], Operations: [op] }) };
    },
  };
}
const pick = (n) => Math.floor(Math.random() * n);

function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(url) {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

function peakRssMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The i-th user of a directory: core attributes, a work email and the Student extension. */
function userBody(i) {
  return {
    schemas: [USER, STUDENT],
    userName: `user${i}@example.com`,
    externalId: `ext-${i}`,
    name: { givenName: `Given${i % 997}`, familyName: `Family${i}` },
    displayName: `User ${i}`,
    active: i % 10 !== 0,
    emails: [{ value: `user${i}@example.com`, type: 'work', primary: true }],
    [STUDENT]: { studentNumber: `s${i}`, faculty: `f${i % 20}` },
  };
}

/** `scimd serve` on a database (made and given the bench token if new); resolves once it answers. */
async function startServer(file, env = {}) {
  const store = await openStore(file);
  await ensureBootstrapToken(store, TOKEN);
  await store.close();
  const port = await freePort();
  // started as deploy/ and `npm start` start it: the young generation held to 8 MiB (docs/deployment.md#memory)
  const child = spawn(process.execPath, ['--max-semi-space-size=4', join(root, 'bin', 'scimd.js'), 'serve'], {
    // the default log level (a line a request, as deployed), the log itself discarded
    env: { ...process.env, SCIMD_PORT: String(port), SCIMD_DATABASE: file, SCIMD_SCHEMAS: schemaFile, SCIMD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(`http://127.0.0.1:${port}/healthz`);
  return { port, child };
}

/**
 * Loads n users into two empty directories, one through single POSTs (with the run's connections) and one through
 * Bulk (1,000 POST operations a request, --bulk-in-flight requests at once, 2 by default: each already carries a
 * thousand users; 4 loaded as fast within the machine's drift, and 16 at once 30% slower, only waiting for the one
 * writer while their bodies take memory), and checks that every user arrived. The two ways take turns in
 * --load-slices slices (both servers stay up; the idle one costs nothing): this machine's speed drifts by a third
 * within the hour, and two loads run a minute apart measured that drift as much as the ways' difference.
 */
async function runLoad(n) {
  const slices = Math.max(1, Number(values['load-slices']));
  const perSlice = Math.ceil(n / slices / 1000) * 1000; // Bulk requests stay whole
  const ways = [
    ['single POSTs', connections, (users) => ({ amount: users.length, request: { method: 'POST', path: '/scim/v2/Users', setupRequest: (req) => ({ ...req, body: JSON.stringify(userBody(users.next())) }) } })],
    ['Bulk, 1,000 users a request', Number(values['bulk-in-flight']), (users) => ({
      amount: Math.ceil(users.length / 1000),
      request: {
        method: 'POST',
        path: '/scim/v2/Bulk',
        setupRequest: (req) => {
          const Operations = [];
          for (let k = 0; k < 1000 && users.left() > 0; k++) {
            const i = users.next();
            Operations.push({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: userBody(i) });
          }
          return { ...req, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations }) };
        },
      },
    })],
  ];
  const servers = [];
  for (const [way, inFlight, load] of ways) {
    const file = await newDatabase(`load-${servers.length}`);
    servers.push({ way, inFlight, load, file, ...(await startServer(file)), errors: 0, sliceSeconds: [] });
  }
  for (let from = 0; from < n; from += perSlice) {
    const to = Math.min(n, from + perSlice);
    for (const w of servers) {
      process.stderr.write(`[bench] loading users ${from}–${to - 1} of ${n} through ${w.way}…\n`);
      let i = from;
      const { amount, request } = w.load({ length: to - from, next: () => i++, left: () => to - i });
      const started = performance.now();
      const run = autocannon({
        url: `http://127.0.0.1:${w.port}`,
        connections: Math.min(w.inFlight, amount),
        amount,
        timeout: 120,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
        requests: [request],
      });
      // timed to the last response: autocannon itself finishes on its next one-second tick
      let lastResponse = started;
      run.on('response', () => (lastResponse = performance.now()));
      const result = await run;
      w.sliceSeconds.push((lastResponse - started) / 1000);
      w.errors += result.errors + result.timeouts + result.non2xx;
    }
  }
  const measured = [];
  for (const w of servers) {
    const count = await fetch(`http://127.0.0.1:${w.port}/scim/v2/Users?count=0`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const loaded = (await count.json()).totalResults;
    const rss = peakRssMiB(w.child.pid);
    await stopServer(w.child);
    await dropDatabase(w.file);
    if (loaded !== n) throw new Error(`${w.way}: ${loaded} of ${n} users arrived`);
    const seconds = w.sliceSeconds.reduce((a, b) => a + b, 0);
    measured.push({ way: w.way, connections: w.inFlight, usersPerSecond: n / seconds, seconds, errors: w.errors, peakRssMiB: rss, sliceSeconds: w.sliceSeconds });
  }
  const [single, bulk] = measured;
  return { size: n, ways: measured, ratio: single.seconds / bulk.seconds, sliceRatios: single.sliceSeconds.map((t, k) => t / bulk.sliceSeconds[k]) };
}

/** The dataset: n users (core, emails, enterprise-free, Student extension) and one group of min(n, 10,000) members. */
async function buildDataset(n, file) {
  const store = await openStore(file);
  await ensureBootstrapToken(store, TOKEN);
  const org = (await store.organizations())[0];
  const scim = createScim({ store, registry: registryFromFiles([schemaFile]) });
  const ctx = { orgId: org.id, tokenId: 'bench', tokenName: 'bench', dialect: 'rfc', baseUrl: 'http://127.0.0.1/scim/v2' };
  const started = performance.now();
  const ids = [];
  for (let base = 0; base < n; base += 1000) {
    const batch = [];
    for (let i = base; i < Math.min(n, base + 1000); i++) batch.push(userBody(i));
    for (const r of await scim.createMany(ctx, 'Users', batch)) {
      if (!r.id) throw new Error(`dataset: ${r.detail}`);
      if (ids.length < 5000 || Math.random() < 0.001) ids.push(r.id);
    }
  }
  const loadSeconds = (performance.now() - started) / 1000;
  // groups of 10, 10,000 and 100,000 members (as the directory allows); the last 1,000 users are in none of them,
  // so the membership scenarios add and remove them
  const sizes = [...new Set([10, 10_000, 100_000].map((k) => Math.min(k, n - 1000)).filter((k) => k > 0))];
  const listed = (await store.listResources(org.id, 'User', { offset: 0, limit: n })).resources.map((r) => r.id);
  const groups = [];
  for (const size of sizes) {
    const [g] = await scim.createMany(ctx, 'Groups', [{ schemas: [GROUP], displayName: `Group of ${size}`, members: listed.slice(0, size).map((value) => ({ value })) }]);
    groups.push({ id: g.id, size });
  }
  // the tokens of the IdPs whose PATCH answers differ by default: rfc (the bootstrap token), Okta, Entra
  const tokens = { rfc: TOKEN };
  for (const dialect of ['okta', 'entra']) tokens[dialect] = (await createToken(store, { orgId: org.id, name: dialect, dialect })).token;
  await store.close();
  return { orgId: org.id, ids, groups, outsiders: listed.slice(n - 1000), loadSeconds, tokens };
}

async function cannon(port, request, label, conns = connections) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: conns,
    duration,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json', ...request.headers },
    requests: [request],
  });
  const errors = result.errors + result.timeouts + result.non2xx;
  return { scenario: label, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors };
}

async function cursorPaging(port, n) {
  const pageSize = 1000;
  const times = [];
  let url = `/scim/v2/Users?count=${pageSize}&cursor&attributes=userName`;
  let seen = 0;
  let total;
  while (url) {
    const t = performance.now();
    const r = await fetch(`http://127.0.0.1:${port}${url}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = await r.json();
    times.push(performance.now() - t);
    seen += body.Resources.length;
    total ??= body.totalResults;
    url = body.nextCursor ? `/scim/v2/Users?count=${pageSize}&cursor=${body.nextCursor}&attributes=userName` : null;
  }
  if (seen !== total || total < n) throw new Error(`cursor paging saw ${seen} of ${total} users`);
  const k = Math.min(10, Math.floor(times.length / 2)) || 1;
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { pages: times.length, firstMs: mean(times.slice(0, k)), lastMs: mean(times.slice(-k)) };
}

async function runSize(n, last) {
  const file = await newDatabase(`bench-${n}`);
  process.stderr.write(`[bench] building ${n} users…\n`);
  const data = await buildDataset(n, file);
  const { port, child: server } = await startServer(file);
  const basePort = await freePort();
  const baseline = fork(join(root, 'bench', 'baseline-server.mjs'), { env: { ...process.env, PORT: String(basePort) }, stdio: 'inherit' });
  await waitFor(`http://127.0.0.1:${basePort}/`);
  // on SQLite, the floor of a read beside it: Fastify and one statement on the same file (bench/floor-server.mjs)
  const floorPort = onPostgres ? undefined : await freePort();
  const floor = floorPort && fork(join(root, 'bench', 'floor-server.mjs'), { env: { ...process.env, PORT: String(floorPort), DB: file, ORG: data.orgId, TOKEN }, stdio: 'inherit' });
  if (floorPort) await waitFor(`http://127.0.0.1:${floorPort}/healthz`);
  const id = () => data.ids[pick(data.ids.length)];
  const i = () => pick(n);
  const get = (path) => ({ method: 'GET', setupRequest: (req) => ({ ...req, path: path() }) });
  const rows = [];
  process.stderr.write(`[bench] ${n}: measuring (${duration}s a scenario, ${connections} connections)…\n`);
  const bare = () => cannon(basePort, { method: 'GET', path: '/scim/v2/Users' }, 'bare Fastify (canned ListResponse)');
  const scenarios = [
    ['GET /Users/{id}', get(() => `/scim/v2/Users/${id()}`)],
    ['filter userName eq', get(() => `/scim/v2/Users?filter=${q(`userName eq "user${i()}@example.com"`)}`)],
    ['filter emails.value eq', get(() => `/scim/v2/Users?filter=${q(`emails.value eq "user${i()}@example.com"`)}`)],
    ['filter externalId eq', get(() => `/scim/v2/Users?filter=${q(`externalId eq "ext-${i()}"`)}`)],
    ['filter custom extension eq', get(() => `/scim/v2/Users?filter=${q(`${STUDENT}:studentNumber eq "s${i()}"`)}`)],
    ['filter userName sw', get(() => `/scim/v2/Users?filter=${q(`userName sw "user${i()}@"`)}`)],
    ['list page of 100', get(() => `/scim/v2/Users?startIndex=1&count=100`)],
    ...data.groups.map((g) => [`GET group (${g.size} members) excludedAttributes=members`, get(() => `/scim/v2/Groups/${g.id}?excludedAttributes=members`)]),
    [
      'PATCH user (replace title)',
      { method: 'PATCH', setupRequest: (req) => ({ ...req, path: `/scim/v2/Users/${id()}`, body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: `t${pick(1000)}` }] }) }) },
    ],
    ...data.groups.flatMap((g) => Object.entries(data.tokens).map(([dialect, token]) => [`add or remove one member (group of ${g.size}, ${dialect} token)`, memberChurn(g.id, data.outsiders, token)])),
    [
      'create user (POST)',
      {
        method: 'POST',
        path: '/scim/v2/Users',
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ schemas: [USER], userName: `new-${Date.now()}-${Math.random()}@example.com`, active: true }) }),
      },
    ],
  ];
  // reads first, on the dataset as built; the write scenarios last. Each scenario's ratio is to the baseline measured
  // just before it (the machine's speed moves within a run, not only between runs); the bare row is the run's median
  // baseline. The row reported is the run of the median ratio.
  const paging = await cursorPaging(port, n);
  const served = [
    ...(floorPort ? [['floor: bare Fastify + one SQLite read (GET /Users/{id})', get(() => `/scim/v2/Users/${id()}`), floorPort]] : []),
    ...scenarios.map(([label, request]) => [label, request, port]),
  ];
  const measured = [];
  for (let run = 0; run < runs; run++) {
    process.stderr.write(`[bench] ${n}: run ${run + 1} of ${runs}…\n`);
    const bases = [];
    const timed = [];
    for (const [label, request, target] of served) {
      const base = await bare();
      bases.push(base);
      const row = await cannon(target, request, label);
      timed.push({ ...row, ratio: row.rps / base.rps });
    }
    const base = [...bases].sort((a, b) => a.rps - b.rps)[Math.floor(bases.length / 2)];
    measured.push([{ ...base, ratio: 1 }, ...timed]);
  }
  for (let k = 0; k < measured[0].length; k++) rows.push(median(measured.map((m) => m[k]), runs));
  const rss = peakRssMiB(server.pid);
  await stopServer(server);
  // what the audit log and the event outbox cost a write: the same writes with events delivered to a local
  // webhook, and with neither audit nor events
  const writes = scenarios.filter(([l]) => /^(PATCH user|create user)/.test(l));
  const sink = createHttpServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  for (const [suffix, env] of [
    ['audit and events on', { SCIMD_WEBHOOK_URL: `http://127.0.0.1:${sink.address().port}/`, SCIMD_WEBHOOK_SECRET: 'bench-webhook-secret' }],
    ['audit and events off', { SCIMD_AUDIT: 'off' }],
  ]) {
    const variant = await startServer(file, env);
    for (const [label, request] of writes) {
      const base = await bare();
      const row = await cannon(variant.port, request, `${label}, ${suffix}`);
      rows.push({ ...row, ratio: row.rps / base.rps });
    }
    await stopServer(variant.child);
  }
  sink.close();
  const nodes = onPostgres && last ? await scaleOut(file, scenarios.filter(([l]) => /^(GET \/Users|filter userName eq|PATCH user|create user)/.test(l))) : undefined;
  baseline.kill('SIGTERM');
  floor?.kill('SIGTERM');
  await dropDatabase(file);
  return { size: n, runs, loadUsersPerSecond: n / data.loadSeconds, rows, paging, peakRssMiB: rss, nodes };
}

/** The row of the run with the median ratio, with every run's ratio beside it. */
function median(rows, n) {
  const sorted = [...rows].sort((a, b) => a.ratio - b.ratio);
  return { ...sorted[Math.floor((n - 1) / 2)], ratios: rows.map((r) => r.ratio) };
}

function stopServer(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** The same scenarios served by 1 and by --nodes processes on one database, the connections shared out among them. */
async function scaleOut(file, scenarios) {
  const out = [];
  for (const count of [1, Number(values.nodes)]) {
    const servers = [];
    for (let k = 0; k < count; k++) servers.push(await startServer(file));
    for (const [label, request] of scenarios) {
      const share = (k) => Math.floor(connections / count) + (k < connections % count ? 1 : 0);
      const results = await Promise.all(servers.map((srv, k) => cannon(srv.port, request, label, share(k))));
      out.push({ nodes: count, scenario: label, rps: results.reduce((a, r) => a + r.rps, 0), p99: Math.max(...results.map((r) => r.p99)), errors: results.reduce((a, r) => a + r.errors, 0) });
    }
    for (const srv of servers) await stopServer(srv.child);
  }
  return out;
}

/**
 * `scimd sync` of an n-row HR export (managers, a team each) into an empty directory, through Bulk and through single
 * requests (8 at once), each into its own server, the two ways taking turns --runs times (the median run of each is
 * reported). A server is not started for a sync: each first syncs 1,000 other rows into a second organization, as a
 * running server has served other requests. Reported for each way: the changes' rate (users over the seconds from the
 * first change sent to the last answer, which the summary gives) and the whole command's wall time (process start,
 * reading the CSV and the target included, which both ways spend alike).
 */
async function runSync(n) {
  const header = 'employee_id,email,first_name,last_name,display_name,title,department,manager,status,groups';
  const writeExport = (file, rows, prefix) => {
    const lines = Array.from({ length: rows }, (_, i) => [`${prefix}${i}`, `${prefix.toLowerCase()}user${i}@example.com`, `Given${i % 997}`, `Family${i}`, `User ${i}`, `Title ${i % 7}`, `Dept${i % 5}`, i === 0 ? '' : `${prefix}${Math.floor(i / 10)}`, 'active', `Team${i % 8}`].join(','));
    writeFileSync(file, `${header}\n${lines.join('\n')}\n`);
    return file;
  };
  const csv = writeExport(join(work, 'sync.csv'), n, 'E');
  const warmCsv = writeExport(join(work, 'warm-up.csv'), 1000, 'W');
  const WARM_TOKEN = 'warm-up-token-of-at-least-32-characters';
  const command = (port, file, token, flags) => new Promise((resolve, reject) => {
    const cli = spawn(process.execPath, [join(root, 'bin', 'scimd.js'), 'sync', file, '--url', `http://127.0.0.1:${port}/scim/v2`, '--token', token, '--json', ...flags], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    cli.stdout.on('data', (d) => (text += d));
    cli.on('exit', (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`scimd sync exited ${code}: ${text}`))));
  });
  const ways = [['Bulk', []], ['single requests (8 at once)', ['--no-bulk']]];
  const measured = ways.map(() => []);
  for (let run = 0; run < runs; run++) {
    for (const [k, [way, flags]] of ways.entries()) {
      const file = await newDatabase(`sync-${run}-${k}`);
      const store = await openStore(file);
      const warm = await store.ensureOrganization('warm-up');
      await createToken(store, { orgId: warm.id, secret: WARM_TOKEN, name: 'warm-up' });
      await store.close();
      const { port, child } = await startServer(file);
      process.stderr.write(`[bench] syncing ${n} users through ${way} (run ${run + 1} of ${runs})…\n`);
      await command(port, warmCsv, WARM_TOKEN, flags);
      const started = performance.now();
      const summary = await command(port, csv, TOKEN, flags);
      const seconds = (performance.now() - started) / 1000;
      await stopServer(child);
      await dropDatabase(file);
      if (summary.users.created !== n) throw new Error(`sync through ${way}: ${summary.users.created} of ${n} users created`);
      measured[k].push({ way, seconds, applySeconds: summary.seconds, usersPerSecond: n / summary.seconds, requests: summary.requests });
    }
  }
  const middle = (list) => [...list].sort((a, b) => a.applySeconds - b.applySeconds)[Math.floor(list.length / 2)];
  const rows = measured.map((list) => ({ ...middle(list), runs: list.map((m) => m.applySeconds) }));
  return { size: n, runs, ways: rows, ratio: rows[1].applySeconds / rows[0].applySeconds, wallRatio: rows[1].seconds / rows[0].seconds };
}

const results = [];
for (const [k, n] of sizes.entries()) results.push(await runSize(n, k === sizes.length - 1));
const load = loadSize > 0 ? await runLoad(loadSize) : undefined;
const syncSize = Number(values.sync);
const synced = syncSize > 0 ? await runSync(syncSize) : undefined;

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
let md = `# scimd benchmark\n\n${new Date().toISOString()} · ${connections} connections · ${duration} s a scenario · ${onPostgres ? `PostgreSQL${values.postgres ? '' : ' (a throw-away cluster, durable settings)'}` : 'embedded store (SQLite)'}\n`;
for (const r of results) {
  md += `\n## ${r.size.toLocaleString('en')} users (median of ${r.runs} runs)\n\n| scenario | req/s | ratio to bare Fastify | ratios of the runs | p50 ms | p99 ms | errors |\n|---|---:|---:|---|---:|---:|---:|\n`;
  for (const row of r.rows) md += `| ${row.scenario} | ${fmt(row.rps)} | ${fmt(row.ratio, 2)} | ${(row.ratios ?? [row.ratio]).map((x) => fmt(x, 2)).join(' ')} | ${fmt(row.p50, 1)} | ${fmt(row.p99, 1)} | ${row.errors} |\n`;
  const floorRow = r.rows.find((row) => row.scenario.startsWith('floor:'));
  const get = r.rows.find((row) => row.scenario === 'GET /Users/{id}');
  // each ratio is to the baseline measured just before it: their quotient compares the GET's rate with the floor's,
  // each against the machine's speed of its own moment
  if (floorRow && get) md += `\nGET /Users/{id} served at ${get.ratios.map((x, k) => fmt(x / floorRow.ratios[k], 2)).join(', ')} of the floor's rate in the ${r.runs} runs.\n`;
  md += `\nCursor paging of all ${r.size.toLocaleString('en')} users, 1,000 a page: ${r.paging.pages} pages, first pages ${fmt(r.paging.firstMs, 1)} ms, last pages ${fmt(r.paging.lastMs, 1)} ms each (ratio ${fmt(r.paging.lastMs / r.paging.firstMs, 2)}).\n`;
  md += `Dataset load through createMany: ${fmt(r.loadUsersPerSecond)} users/s. Peak server RSS: ${fmt(r.peakRssMiB, 1)} MiB.\n`;
}
if (results.length > 1) {
  const [small, large] = [results[0], results[results.length - 1]];
  // The machine's speed drifts between the two sizes' runs (minutes apart): the bare-Fastify baseline of each size
  // measures it, so the scenario's ratio to its own baseline is compared as well as its raw requests/s.
  md += `\n## Scaling: ${large.size.toLocaleString('en')} vs ${small.size.toLocaleString('en')} users (1.00 = no slower; baseline ${fmt(large.rows[0].rps)} vs ${fmt(small.rows[0].rps)} req/s)\n\n| scenario | req/s ratio | ratio of the ratios to bare Fastify |\n|---|---:|---:|\n`;
  for (const row of large.rows.slice(1)) {
    const sized = (label) => label.replace(/\((group of )?\d+( members)?\)/, '(n)'); // group sizes differ between runs
    const before = small.rows.find((x) => sized(x.scenario) === sized(row.scenario));
    if (before) md += `| ${row.scenario} | ${fmt(row.rps / before.rps, 2)} | ${fmt(row.ratio / before.ratio, 2)} |\n`;
  }
}
for (const r of results.filter((x) => x.nodes)) {
  md += `\n## ${r.size.toLocaleString('en')} users served by 1 and by ${values.nodes} scimd processes on one PostgreSQL (${connections} connections shared out)\n\n| scenario | 1 node req/s | ${values.nodes} nodes req/s | ${values.nodes} / 1 | p99 ms (${values.nodes} nodes) | errors |\n|---|---:|---:|---:|---:|---:|\n`;
  for (const one of r.nodes.filter((x) => x.nodes === 1)) {
    const many = r.nodes.find((x) => x.nodes !== 1 && x.scenario === one.scenario);
    md += `| ${one.scenario} | ${fmt(one.rps)} | ${fmt(many.rps)} | ${fmt(many.rps / one.rps, 2)} | ${fmt(many.p99, 1)} | ${one.errors + many.errors} |\n`;
  }
}
if (load) {
  md += `\n## Loading ${load.size.toLocaleString('en')} users into an empty directory\n\n| way | connections | users/s | seconds | errors | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|\n`;
  for (const w of load.ways) md += `| ${w.way} | ${w.connections} | ${fmt(w.usersPerSecond)} | ${fmt(w.seconds, 1)} | ${w.errors} | ${fmt(w.peakRssMiB, 1)} |\n`;
  md += `\nBulk loads ${fmt(load.ratio, 1)}× as many users per second as single POSTs (the two ways took turns in ${load.sliceRatios.length} slices; Bulk / single in each: ${load.sliceRatios.map((r) => fmt(r, 1)).join(', ')}).\n`;
}
if (synced) {
  md += `\n## scimd sync of ${synced.size.toLocaleString('en')} CSV rows into an empty directory (median of ${synced.runs} runs)\n\n| way | users/s | seconds changing | of the runs | whole command, seconds | requests |\n|---|---:|---:|---|---:|---:|\n`;
  for (const w of synced.ways) md += `| ${w.way} | ${fmt(w.usersPerSecond)} | ${fmt(w.applySeconds, 2)} | ${w.runs.map((x) => fmt(x, 2)).join(' ')} | ${fmt(w.seconds, 1)} | ${w.requests} |\n`;
  md += `\nThrough Bulk, sync makes ${fmt(synced.ratio, 1)}× as many users a second as through single requests (the whole command, reading the CSV and the target included: ${fmt(synced.wallRatio, 1)}× as fast).\n`;
}
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(join(root, 'bench', 'results', `${stamp}.json`), JSON.stringify({ sizes: results, load, sync: synced }, null, 2));
writeFileSync(join(root, 'bench', 'results', `${stamp}.md`), md);
console.log(md);
rmSync(work, { recursive: true, force: true });
