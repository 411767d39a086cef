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
 * A port nobody listens on, from the OS. A random one may be taken (by another test's server, or as the ephemeral
 * port of a connection), and the health check would then find the wrong server.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function serveProcess(db: string, token: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, SCIMD_DATABASE: db, SCIMD_PORT: String(port), SCIMD_BOOTSTRAP_TOKEN: token, SCIMD_LOG_LEVEL: 'error', ...env },
    stdio: 'ignore',
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
  throw new Error(`scimd serve did not start (exit code ${child.exitCode})`);
}
