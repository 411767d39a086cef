/**
 * The client adapts to what a server lacks. A local proxy in front of a live scimd advertises no PATCH, no Bulk, no
 * cursors (and, in one case, no ETags) and refuses PATCH and /Bulk: PATCH becomes read, apply, PUT with If-Match;
 * Bulk becomes single requests with bulkIds resolved; pages go by index. A fake list shows paging that copes with
 * servers answering fewer resources than asked and a totalResults that grows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkRequest, bulkRef, filter, patchOp, ScimClient, ScimClientError } from '../../src/client/index.js';
import { testServer, user, group, USER, type TestServer } from '../helpers.js';
import { localServer, type LocalServer } from './local-server.js';

let srv: TestServer;
let proxies: LocalServer[] = [];
/** Called before a PUT is passed on: a writer coming between the client's read and its write. */
let beforePut: ((path: string) => Promise<void>) | undefined;

/** A proxy to scimd that advertises no PATCH, Bulk or cursors (nor ETags when `etag` is false) and refuses them. */
async function limitedServer(etag = true): Promise<{ proxy: LocalServer; client: ScimClient }> {
  const proxy = await localServer(async (req) => {
    if (req.method === 'PATCH' || req.url.startsWith('/scim/v2/Bulk')) return { status: 501, body: { status: '501', detail: 'not here' } };
    if (req.method === 'PUT') await beforePut?.(req.url);
    const condition: Record<string, string> = req.headers['if-match'] ? { 'if-match': String(req.headers['if-match']) } : {};
    const res = await srv.request(req.method, req.url, req.body === '' ? undefined : req.body, condition);
    let body: unknown = res.text;
    if (req.url === '/scim/v2/ServiceProviderConfig') {
      body = { ...res.body, patch: { supported: false }, bulk: { supported: false }, etag: { supported: etag } };
      delete (body as Record<string, unknown>).pagination;
    }
    const version = res.headers.etag;
    const headers: Record<string, string> = typeof version === 'string' ? { etag: version } : {};
    return { status: res.status, headers, body };
  });
  proxies.push(proxy);
  return { proxy, client: new ScimClient({ baseUrl: `${proxy.url}/scim/v2`, credentials: { bearer: srv.token } }) };
}

/** The requests since `from`, but the discovery ones. */
const lines = (proxy: LocalServer, from: number) =>
  proxy.requests.slice(from).map((r) => `${r.method} ${r.url.replace('/scim/v2', '')}`).filter((l) => !/^GET \/(ServiceProviderConfig|ResourceTypes|Schemas)$/.test(l));

const NOTE = 'urn:example:params:scim:schemas:core:2.0:Note';

/** A resource type with an attribute returned only when asked for, which a PUT without it would clear. */
function noteBundle(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'scimd-client-')), 'note.json');
  const attribute = (name: string, returned: string) => ({ name, type: 'string', multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned, uniqueness: 'none' });
  writeFileSync(file, JSON.stringify({
    schemas: [{ id: NOTE, name: 'Note', attributes: [attribute('title', 'default'), attribute('body', 'request')] }],
    resourceTypes: [{ id: 'Note', name: 'Note', endpoint: '/Notes', schema: NOTE, schemaExtensions: [] }],
  }));
  return file;
}

beforeAll(async () => {
  srv = await testServer({ schemaFiles: [noteBundle()] });
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
  await srv.close();
});

describe('a server without PATCH', () => {
  it('gets the PATCH as a read, the operations applied here, and a PUT with If-Match', async () => {
    const { proxy, client } = await limitedServer();
    expect((await client.discover()).features).toMatchObject({ patch: false, bulk: { supported: false }, pagination: { cursor: false, index: true } });
    const id = (await srv.request('POST', '/Users', user('fallback', { emails: [{ value: 'a@work.example', type: 'work' }] }))).body.id;
    const from = proxy.requests.length;
    const done = await client.users.patch(id, patchOp().replace({ attribute: 'emails', filter: filter.eq('type', 'work'), subAttribute: 'value' }, 'b@work.example').replace('active', false));
    expect(lines(proxy, from)).toEqual([`GET /Users/${id}`, `PUT /Users/${id}`]);
    expect(proxy.requests.at(-1)!.headers['if-match']).toBe('W/"1"');
    expect(done.resource).toMatchObject({ active: false, emails: [{ value: 'b@work.example', type: 'work' }] });
    expect(done.version).toBe('W/"2"');
  });

  it('changes group members as the PATCH says', async () => {
    const { client } = await limitedServer();
    const [a, b, c] = await Promise.all(['m-a', 'm-b', 'm-c'].map(async (n) => (await srv.request('POST', '/Users', user(n))).body.id as string));
    const g = (await srv.request('POST', '/Groups', group('fallback group', [a!, b!]))).body.id;
    await client.groups.patch(g, patchOp().add('members', [{ value: c }]).remove({ attribute: 'members', filter: filter.eq('value', a!) }));
    expect((await srv.request('GET', `/Groups/${g}`)).body.members.map((m: { value: string }) => m.value).sort()).toEqual([b, c].sort());
  });

  it('reads and applies again when another writer came between (412), and keeps both changes', async () => {
    const { proxy, client } = await limitedServer();
    const id = (await srv.request('POST', '/Users', user('raced'))).body.id;
    beforePut = async () => {
      beforePut = undefined;
      await srv.request('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'other writer' }] });
    };
    const from = proxy.requests.length;
    await client.users.patch(id, patchOp().replace('displayName', 'mine'));
    expect(lines(proxy, from)).toEqual([`GET /Users/${id}`, `PUT /Users/${id}`, `GET /Users/${id}`, `PUT /Users/${id}`]);
    expect((await srv.request('GET', `/Users/${id}`)).body).toMatchObject({ title: 'other writer', displayName: 'mine' });
  });

  it('with the caller\'s ifMatch, a stale version is 412 and not retried', async () => {
    const { proxy, client } = await limitedServer();
    const id = (await srv.request('POST', '/Users', user('stale'))).body.id;
    await srv.request('PUT', `/Users/${id}`, user('stale', { title: 'v2' }));
    const from = proxy.requests.length;
    const e = await client.users.patch(id, patchOp().replace('displayName', 'x'), { ifMatch: 'W/"1"' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ScimClientError);
    expect(e).toMatchObject({ status: 412, method: 'PUT' });
    expect(lines(proxy, from)).toEqual([`GET /Users/${id}`, `PUT /Users/${id}`]);
  });

  it('reads the attributes returned only on request too, so that the PUT keeps them', async () => {
    const { proxy, client } = await limitedServer();
    const id = (await srv.request('POST', '/Notes', { schemas: [NOTE], title: 'one', body: 'kept' })).body.id;
    const from = proxy.requests.length;
    await client.resources('Notes').patch(id, patchOp().replace('title', 'two'));
    expect(lines(proxy, from)).toEqual([`GET /Notes/${id}?attributes=title%2Cbody`, `PUT /Notes/${id}`]);
    expect((await srv.request('GET', `/Notes/${id}?attributes=body,title`)).body).toMatchObject({ title: 'two', body: 'kept' });
  });

  it('sends no If-Match when the server has no ETags', async () => {
    const { proxy, client } = await limitedServer(false);
    const id = (await srv.request('POST', '/Users', user('no-etag'))).body.id;
    await client.users.patch(id, patchOp().replace('displayName', 'x'));
    expect(proxy.requests.at(-1)).toMatchObject({ method: 'PUT' });
    expect(proxy.requests.at(-1)!.headers['if-match']).toBeUndefined();
  });
});

describe('a server without Bulk', () => {
  it('gets single requests in order, with bulkIds replaced by the ids the POSTs got', async () => {
    const { proxy, client } = await limitedServer();
    const request = new BulkRequest()
      .post('Users', user('single-1'), 'u1')
      .post('Users', user('single-2'), 'u2')
      .post('Users', user('single-3'), 'u3')
      .post('Groups', group('single group', [bulkRef('u1')]), 'g')
      .patch('Groups', bulkRef('g'), patchOp().add('members', [{ value: bulkRef('u2') }]))
      .put('Users', bulkRef('u1'), user('single-1', { title: 'put' }))
      .delete('Users', bulkRef('u3'), { version: 'W/"1"' })
      .post('Users', user('single-1'));
    const from = proxy.requests.length;
    const outcomes = await client.bulk(request);
    expect(outcomes.map((o) => o.status)).toEqual([201, 201, 201, 201, 200, 200, 204, 409]);
    expect(outcomes[7]!.error).toMatchObject({ status: 409, scimType: 'uniqueness' });
    const ids = new Map(outcomes.map((o) => [o.bulkId, o.id]));
    const [u1, u3, g] = [ids.get('u1'), ids.get('u3'), ids.get('g')];
    expect(lines(proxy, from)).toEqual(['POST /Users', 'POST /Users', 'POST /Users', 'POST /Groups', `GET /Groups/${g}`, `PUT /Groups/${g}`, `PUT /Users/${u1}`, `DELETE /Users/${u3}`, 'POST /Users']);
    expect(proxy.requests.find((r) => r.method === 'DELETE')!.headers['if-match']).toBe('W/"1"');
    const members = (await srv.request('GET', `/Groups/${g}`)).body.members.map((m: { value: string }) => m.value);
    expect(members.sort()).toEqual([u1, ids.get('u2')].sort());
    expect((await srv.request('GET', `/Users/${u1}`)).body.title).toBe('put');
    expect((await srv.request('GET', `/Users/${u3}`)).status).toBe(404);
  });

  it('stops at failOnErrors', async () => {
    const { client } = await limitedServer();
    const request = new BulkRequest().post('Users', user('single-1')).post('Users', user('single-1')).post('Users', user('fail-never-made'));
    const outcomes = await client.bulk(request, { failOnErrors: 2 });
    expect(outcomes.map((o) => o.status)).toEqual([409, 409]);
    expect((await srv.request('GET', `/Users?filter=${encodeURIComponent('userName eq "fail-never-made"')}`)).body.totalResults).toBe(0);
  });
});

describe('paging without cursors', () => {
  it('goes by startIndex', async () => {
    const { proxy, client } = await limitedServer();
    for (let i = 0; i < 5; i++) await srv.request('POST', '/Users', user(`index-${i}`));
    const from = proxy.requests.length;
    const names: string[] = [];
    for await (const u of client.users.all({ filter: filter.sw('userName', 'index-'), count: 2 })) names.push(u.userName);
    expect(names).toEqual([0, 1, 2, 3, 4].map((i) => `index-${i}`));
    expect(lines(proxy, from).map((l) => new URL(`http://x${l.slice(4)}`).searchParams.get('startIndex'))).toEqual(['1', '3', '5']);
  });

  it('moves on by what a page holds, however few, and reads totalResults afresh on each page', async () => {
    const items = Array.from({ length: 7 }, (_, i) => ({ schemas: [USER], id: `r${i}`, userName: `r${i}` }));
    const fake = await localServer((req) => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname.endsWith('/ServiceProviderConfig')) return { status: 200, body: { schemas: [], filter: { supported: true, maxResults: 50 } } };
      if (!url.pathname.endsWith('/Users')) return { status: 404 };
      const start = Number(url.searchParams.get('startIndex'));
      // at most 2 a page, whatever was asked; and one user more appears after the first page
      if (start > 1 && items.length === 7) items.push({ schemas: [USER], id: 'r7', userName: 'r7' });
      const page = items.slice(start - 1, start - 1 + Math.min(2, Number(url.searchParams.get('count'))));
      return { status: 200, body: { schemas: [], totalResults: items.length, startIndex: start, itemsPerPage: page.length, Resources: page } };
    });
    proxies.push(fake);
    const client = new ScimClient({ baseUrl: `${fake.url}/scim/v2` });
    const ids: string[] = [];
    for await (const u of client.users.all({ count: 5 })) ids.push(u.id);
    expect(ids).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
    const counts = fake.requests.filter((r) => r.url.includes('/Users')).map((r) => new URL(r.url, 'http://x').searchParams.get('count'));
    expect(counts.every((c) => c === '5')).toBe(true);
  });
});
