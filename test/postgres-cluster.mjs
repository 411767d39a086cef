// A throw-away PostgreSQL cluster started from the machine's binaries. Plain JavaScript so that both the project's
// test command (scripts/test.mjs, which runs the conformance suites on PostgreSQL too) and the Vitest global setup
// use it; one cluster serves a whole `npm test` (its URL passes to Vitest in SCIMD_TEST_POSTGRES_URL).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The directory of initdb/pg_ctl: PGBIN, else the newest Debian/Ubuntu installation, else the PATH. */
export function postgresBinaries() {
  const has = (dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  if (process.env.PGBIN) return has(process.env.PGBIN) ? process.env.PGBIN : undefined;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => has(join(debian, v, 'bin'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  return found ? join(found, '..') : undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * initdb into a temporary directory and start a server on a free loopback port (as `postgres` when we are root).
 * `durable: true` keeps PostgreSQL's own flush-to-disk settings (for the benchmark, to compare with SQLite's
 * synchronous=FULL); the tests turn them off.
 */
export async function startPostgres(bin, { durable = false } = {}) {
  // PostgreSQL refuses to run as root: run its binaries as the postgres user, which must own the data directory.
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'scimd-pg-'));
  if (asRoot) {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const run = (cmd, args) =>
    execFileSync(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, { stdio: 'pipe', cwd: dir });
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
  const port = await freePort();
  // Durability is worthless for a throw-away test cluster and costs most of the time; TCP on loopback only.
  const options = [
    `-p ${port}`, '-c listen_addresses=127.0.0.1', "-c unix_socket_directories=''",
    ...(durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    '-c max_connections=500', '-c shared_buffers=128MB',
    // the deadlock-retry test waits for detection once per round
    '-c deadlock_timeout=100ms',
  ].join(' ');
  const start = () => run('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'server.log'), '-o', options]);
  const stop = () => run('pg_ctl', ['stop', '-m', 'immediate', '-D', data]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    /** Stops the server (as a crash would) and keeps the data directory: `start()` brings it back. */
    halt: stop,
    start,
    stop: () => {
      try {
        stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A new, empty database on the cluster at `adminUrl`; its URL. */
export async function freshPostgresDatabase(adminUrl) {
  const name = `scimd_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
