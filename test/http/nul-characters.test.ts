/**
 * U+0000 is a valid JSON string character, and PostgreSQL text cannot hold it: on every store a request that carries
 * it gets the answer it gets without it (never a 500), and a document keeps it as sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS, USER, storeAvailable, testServer, type TestServer } from '../helpers.js';

describe.each(STORE_KINDS.map((store) => [store]))('U+0000 on %s', (store) => {
  if (!storeAvailable(store)) {
    it.skip('PostgreSQL tests skipped: no PostgreSQL binaries (see test/global-setup.ts)', () => {});
    return;
  }
  let s: TestServer;
  beforeAll(async () => {
    s = await testServer({ store });
  });
  afterAll(() => s?.close());

  it.each([['GET', '/Users/%00'], ['DELETE', '/Users/a%00b'], ['PUT', '/Users/%00'], ['DELETE', '/%00/x']])('%s %s is 404', async (method, url) => {
    const res = await s.request(method, url, method === 'PUT' ? { schemas: [USER], userName: 'x' } : undefined);
    expect(res.status, res.text).toBe(404);
  });

  it('a value with U+0000 is stored as sent, unique, and its resource found by id', async () => {
    const created = await s.request('POST', '/Users', { schemas: [USER], userName: 'a\u0000b', title: 'x\u0000y' });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ userName: 'a\u0000b', title: 'x\u0000y' });
    expect((await s.request('GET', `/Users/${created.body.id}`)).body).toMatchObject({ userName: 'a\u0000b', title: 'x\u0000y' });
    expect((await s.request('POST', '/Users', { schemas: [USER], userName: 'A\u0000B' })).status).toBe(409);
    const group = await s.request('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g\u0000', members: [{ value: created.body.id }] });
    expect(group.status, group.text).toBe(201);
    expect(group.body.members).toMatchObject([{ value: created.body.id }]);
  });
});
