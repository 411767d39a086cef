/** examples/hono-feed: SCIM in a Hono route, and an application view kept by reading the events feed, across a restart. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { testDatabase, user } from '../helpers.js';

const APP = fileURLToPath(new URL('../../examples/hono-feed/app.mjs', import.meta.url));
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

it('the Hono example serves SCIM and learns of every change from the feed, going on after a restart where it stopped', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = { ...process.env, SCIMD_DATABASE: await testDatabase('hono-feed'), DATA_DIR: mkdtempSync(join(tmpdir(), 'scimd-hono-feed-')), PORT: String(port) };
  const start = async () => {
    const child = spawn(process.execPath, [APP], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    for (let i = 0; i < 500 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
    return { child, out: () => out };
  };
  const base = `http://127.0.0.1:${port}`;
  let app: { child: ChildProcess; out: () => string } = await start();
  try {
    const token = /shown once\): (\S+)/.exec(app.out())?.[1];
    expect(token).toBeDefined();
    const scim = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${base}/scim/v2${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: r.status, headers: r.headers, body: r.status === 204 ? undefined : await r.json() };
    };
    const allowed = async (userName: string) => ((await (await fetch(`${base}/may-sign-in/${userName}`)).json()) as { allowed: boolean }).allowed;

    const ada = await scim('POST', '/Users', user('ada', { active: true }));
    expect([ada.status, ada.headers.get('location')]).toEqual([201, `${base}/scim/v2/Users/${ada.body.id}`]);
    expect((await scim('GET', '/Users?filter=userName%20eq%20%22ada%22')).body.totalResults).toBe(1);
    await expect.poll(() => allowed('ada'), { timeout: 5000 }).toBe(true);

    // killed and started again: it goes on from the cursor it saved, and its token is the one made at first
    const exited = new Promise((r) => app.child.once('exit', r));
    app.child.kill('SIGKILL');
    await exited;
    app = await start();
    expect(app.out()).not.toContain('shown once');
    expect((await scim('PATCH', `/Users/${ada.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] })).status).toBe(200);
    await expect.poll(() => allowed('ada'), { timeout: 5000 }).toBe(false);
    expect((await scim('POST', '/Users', user('bob', { active: true }))).status).toBe(201);
    await expect.poll(() => allowed('bob'), { timeout: 5000 }).toBe(true);
    expect((await scim('GET', '/nowhere')).status).toBe(404);
  } finally {
    app.child.kill('SIGKILL');
  }
}, 60_000);
