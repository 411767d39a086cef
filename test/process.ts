/** A real `scimd serve` process on a database file, for tests of what crosses processes (races, crashes). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/scimd.js', import.meta.url));

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly base: string;
  /** Sends a SCIM request with the token; the body is parsed when there is one. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
}

/**
 * A port nobody listens on, for a child process to listen on. Not one the OS hands out (listen(0) and outgoing
 * connections take from its ephemeral range, 32768 and up): a port it gave one test and got back could be given to a
 * test in another worker before the first child listens. Each Vitest worker draws from a range of its own below it,
 * and checks that the port is free.
 */
let drawn = 0;
export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID ?? 0) % 24;
  for (let tries = 0; tries < 500; tries++) {
    const port = 20_000 + worker * 500 + (drawn++ % 500);
    if (await listenable(port)) return port;
  }
  throw new Error('no free port in this worker\'s range');
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function serveProcess(db: string, token: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, SCIMD_DATABASE: db, SCIMD_PORT: String(port), SCIMD_BOOTSTRAP_TOKEN: token, SCIMD_LOG_LEVEL: 'error', ...env },
    // stderr kept (its last lines): a start that fails says why in the test's failure
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  const base = `http://127.0.0.1:${port}/scim/v2`;
  const request: ServerProcess['request'] = async (method, path, body, headers = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return { child, base, request };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`scimd serve did not start (exit code ${child.exitCode}) on port ${port}: ${stderr.trim() || 'nothing on stderr'}`);
}
