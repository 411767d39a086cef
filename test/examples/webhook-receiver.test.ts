/** The webhook example of docs/events.md, run as documented: scimd serve delivering to examples/webhook-receiver. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { user, testDatabase } from '../helpers.js';
import { serveProcess } from '../process.js';

const RECEIVER = fileURLToPath(new URL('../../examples/webhook-receiver/receiver.mjs', import.meta.url));
const SECRET = 'change-me-to-a-long-random-string';

it('deactivating a user makes the example application revoke their sessions; a forged delivery is refused', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const app = spawn(process.execPath, [RECEIVER], { env: { ...process.env, SCIMD_WEBHOOK_SECRET: SECRET, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  app.stdout!.on('data', (d) => (out += d));
  const db = await testDatabase('example');
  const scimd = await serveProcess(db, 'webhook-token-of-at-least-32-characters', { SCIMD_WEBHOOK_URL: `http://127.0.0.1:${port}/scim-events`, SCIMD_WEBHOOK_SECRET: SECRET });
  try {
    for (let i = 0; i < 100 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
    const forged = await fetch(`http://127.0.0.1:${port}/scim-events`, { method: 'POST', headers: { 'scimd-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` }, body: '{"id":"x","type":"user.deleted","resource":{"id":"victim"}}' });
    expect(forged.status).toBe(401);
    const id = (await scimd.request('POST', '/Users', user('leaver', { active: true }))).body.id;
    for (let i = 0; i < 2; i++) expect((await fetch(`http://127.0.0.1:${port}/sessions`, { method: 'POST', body: JSON.stringify({ user: id }) })).status).toBe(201);
    await scimd.request('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
    for (let i = 0; i < 200 && !out.includes('revoked'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(out).toContain(`revoked 2 session(s) of user ${id} (user.deactivated)`);
    expect(out).not.toContain('victim');
  } finally {
    scimd.child.kill('SIGKILL');
    app.kill('SIGKILL');
  }
});
