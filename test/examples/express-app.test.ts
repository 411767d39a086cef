/** examples/express-app, started as a user would and provisioned as an IdP would: sessions end when a user is deactivated, groups become teams. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { group, testDatabase, user } from '../helpers.js';

const APP = fileURLToPath(new URL('../../examples/express-app/app.mjs', import.meta.url));
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

it('an IdP provisions the Express example: login works, a group is a team with its members, deactivation ends the session within a second', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [APP], { env: { ...process.env, SCIMD_DATABASE: await testDatabase('express-app'), DATA_DIR: mkdtempSync(join(tmpdir(), 'scimd-express-app-')), PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 500 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
    const token = /shown once\): (\S+)/.exec(out)?.[1];
    expect(token).toBeDefined();
    const scim = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${base}/scim/v2${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: r.status, headers: r.headers, body: r.status === 204 ? undefined : await r.json() };
    };

    const created = await scim('POST', '/Users', user('ada', { active: true, displayName: 'Ada' }));
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${base}/scim/v2/Users/${created.body.id}`);
    const bob = (await scim('POST', '/Users', user('bob', { active: true }))).body.id;
    expect((await scim('POST', '/Groups', group('Engineering', [created.body.id, bob]))).status).toBe(201);

    const login = async (userName: string) => fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userName }) });
    let session: Response | undefined;
    await expect.poll(async () => (session = await login('ada')).status, { timeout: 5000 }).toBe(201); // once the hook has run
    const cookie = session!.headers.get('set-cookie')!.split(';')[0]!;
    const me = () => fetch(`${base}/me`, { headers: { cookie } });
    await expect.poll(async () => (await me()).json(), { timeout: 5000 }).toEqual({ userName: 'ada', teams: ['Engineering'] });
    await expect.poll(async () => (await fetch(`${base}/teams`)).json(), { timeout: 5000 }).toEqual([{ name: 'Engineering', members: ['ada', 'bob'] }]);

    const deactivated = Date.now();
    expect((await scim('PATCH', `/Users/${created.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] })).status).toBe(200);
    await expect.poll(async () => (await me()).status, { timeout: 1000, interval: 20 }).toBe(401);
    expect(Date.now() - deactivated).toBeLessThan(1000);
    expect((await login('ada')).status).toBe(403);
    expect(out).toContain(`user ${created.body.id} deactivated: 1 session(s) ended`);

    // a member removed in the IdP leaves the team
    expect((await scim('PATCH', `/Groups/${(await scim('GET', '/Groups')).body.Resources[0].id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${bob}"]` }] })).status).toBeLessThan(300);
    await expect.poll(async () => (await fetch(`${base}/teams`)).json(), { timeout: 5000 }).toEqual([{ name: 'Engineering', members: ['ada'] }]);
  } finally {
    child.kill('SIGKILL');
  }
}, 60_000);
