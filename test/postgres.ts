/**
 * A throw-away PostgreSQL cluster for the tests, started from the machine's binaries by the Vitest global setup
 * (`startPostgres`) and stopped at the end. Test files get a database of their own with `freshPostgresDatabase()`.
 * Without PostgreSQL binaries the PostgreSQL tests are skipped outside CI, and the run fails in CI (CI=true).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster's admin URL (database `postgres`); undefined when PostgreSQL tests are skipped. */
    postgresUrl: string | undefined;
  }
}

/** The directory of initdb/pg_ctl: PGBIN, else the newest Debian/Ubuntu installation, else the PATH. */
export function postgresBinaries(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  if (process.env.PGBIN) return has(process.env.PGBIN) ? process.env.PGBIN : undefined;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => has(join(debian, v, 'bin'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  return found ? join(found, '..') : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningPostgres {
  readonly url: string;
  stop(): void;
}

/** initdb into a temporary directory and start a server on a free loopback port (as `postgres` when we are root). */
export async function startPostgres(bin: string): Promise<RunningPostgres> {
  // PostgreSQL refuses to run as root: run its binaries as the postgres user, which must own the data directory.
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'scimd-pg-'));
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, { stdio: 'pipe', cwd: dir });
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
  const port = await freePort();
  // Durability is worthless for a throw-away cluster and costs most of the time; TCP on loopback only.
  const options = [
    `-p ${port}`, '-c listen_addresses=127.0.0.1', "-c unix_socket_directories=''", '-c fsync=off', '-c synchronous_commit=off',
    '-c full_page_writes=off', '-c max_connections=300', '-c shared_buffers=128MB',
    // the deadlock-retry test waits for detection once per round
    '-c deadlock_timeout=100ms',
  ].join(' ');
  run('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'server.log'), '-o', options]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run('pg_ctl', ['stop', '-m', 'immediate', '-D', data]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The test cluster's admin URL, or undefined when PostgreSQL tests are skipped (never in CI). */
export function postgresUrl(): string | undefined {
  return inject('postgresUrl');
}

/** A new, empty database on the test cluster; its URL. */
export async function freshPostgresDatabase(adminUrl: string): Promise<string> {
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
