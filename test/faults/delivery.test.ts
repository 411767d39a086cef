/**
 * Event delivery across processes (issue #7): killing the server mid-delivery loses no event (its leases run out and
 * the restarted server delivers them), and two servers on one database never deliver one event twice.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { user, testDatabase } from '../helpers.js';
import { serveProcess, type ServerProcess } from '../process.js';
import { startReceiver, type Receiver } from '../webhook-receiver.js';

/** SCIMD_BOOTSTRAP_TOKEN: at least 32 characters. */
const TOKEN = 'delivery-token-of-at-least-32-characters';

const SECRET = 'delivery-test-secret-0123456789';
let receiver: Receiver;
const servers: ServerProcess[] = [];
beforeEach(async () => {
  receiver = await startReceiver(SECRET);
});
afterEach(async () => {
  for (const s of servers.splice(0)) s.child.kill('SIGKILL');
  await receiver.close();
});

const hook = (extra: Record<string, string> = {}) => ({ SCIMD_WEBHOOK_URL: receiver.url, SCIMD_WEBHOOK_SECRET: SECRET, ...extra });
const database = () => testDatabase('delivery');

it('SIGKILL while deliveries are in flight loses nothing: after a restart every event arrives', async () => {
  const db = await database();
  const env = hook({ SCIMD_EVENT_LEASE_SECONDS: '1' });
  let server = await serveProcess(db, TOKEN, env);
  servers.push(server);
  receiver.holdMs = 400; // deliveries stay in flight
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await server.request('POST', '/Users', user(`crash-${i}`))).body.id);
  for (let i = 0; i < 100 && receiver.attempts === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(receiver.attempts).toBeGreaterThan(0);
  server.child.kill('SIGKILL');
  const before = new Set(receiver.received.map((e) => e.id)).size;
  expect(before).toBeLessThan(20); // the kill really cut deliveries short
  receiver.holdMs = 0;
  server = await serveProcess(db, TOKEN, env);
  servers.push(server);
  await receiver.waitFor(20);
  expect(new Set(receiver.received.map((e) => e.resource.id))).toEqual(new Set(ids));
});

it('two servers on one database deliver each event exactly once when nothing fails', async () => {
  const db = await database();
  const a = await serveProcess(db, TOKEN, hook());
  servers.push(a);
  const b = await serveProcess(db, TOKEN, hook());
  servers.push(b);
  await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).request('POST', '/Users', user(`twin-${i}`))));
  await receiver.waitFor(60);
  await new Promise((r) => setTimeout(r, 1500)); // time for any duplicate to arrive
  expect(receiver.received).toHaveLength(60);
  expect(new Set(receiver.received.map((e) => e.id)).size).toBe(60);
});

it('two webhook endpoints are delivered on their own: one being down holds back nothing of the other', async () => {
  const second = await startReceiver(SECRET);
  try {
    second.down = true;
    const server = await serveProcess(await database(), TOKEN, { SCIMD_WEBHOOK_URL: `${receiver.url},${second.url}`, SCIMD_WEBHOOK_SECRET: SECRET });
    servers.push(server);
    for (let i = 0; i < 5; i++) await server.request('POST', '/Users', user(`both-${i}`));
    await receiver.waitFor(5);
    // each endpoint is delivered on its own: the down one is tried too, in its own time
    await expect.poll(() => second.attempts, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(second.received).toEqual([]);
    second.down = false;
    await second.waitFor(5, 30_000); // its retry comes after the backoff
    expect(new Set(second.received.map((e) => e.id))).toEqual(new Set(receiver.received.map((e) => e.id)));
  } finally {
    await second.close();
  }
});
