/**
 * Faults (issue #8): a server killed with SIGKILL in the middle of a sustained write load, then restarted on the same
 * database, has every write it acknowledged and nothing half-applied (SQLite WAL, a write acknowledged once the WAL file
 * is synced after its commit; each write one transaction with its index rows, unique values and memberships).
 */
import { expect, it } from 'vitest';
import { user, testDatabase } from '../helpers.js';
import { serveProcess, type ServerProcess } from '../process.js';
import { expectAcknowledgedWrites, startWriteLoad, until } from './write-load.js';

it('SIGKILL during a sustained write load loses no acknowledged write and leaves nothing half-applied', async () => {
  const db = await testDatabase('crash');
  const token = 'crash-token-of-at-least-32-characters';
  let server: ServerProcess = await serveProcess(db, token);
  const load = await startWriteLoad(server);
  // the load is really running (however busy the machine), and goes on a little while the server dies
  await until(() => load.users.size > 20);
  await new Promise((r) => setTimeout(r, 200));
  const stopped = load.stop();
  server.child.kill('SIGKILL');
  await stopped;
  expect(load.users.size).toBeGreaterThan(20); // the load was really running when the server died
  expect([...load.refused]).toEqual([]); // until then every request succeeded

  server = await serveProcess(db, token);
  try {
    await expectAcknowledgedWrites(server, load);
    // and the server takes writes again
    expect((await server.request('POST', '/Users', user('after-restart'))).status).toBe(201);
  } finally {
    server.child.kill('SIGKILL');
  }
}, 120_000);
