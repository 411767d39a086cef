/**
 * scimd/client against a live scimd over HTTP (SQLite, and PostgreSQL in the postgres project): CRUD of users, groups
 * and a custom resource type, projection, filters that a hostile value cannot widen, every page by cursor and by
 * index, PATCH, Bulk in chunks with bulkId references across them, ETags and typed errors.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkRequest, bulkRef, filter, parseFilter, patchOp, ScimClient, ScimClientError, ScimError, type ScimResource } from '../../src/client/index.js';
import { testServer, USER, GROUP, type TestServer } from '../helpers.js';

const DEVICE = 'urn:example:params:scim:schemas:core:2.0:Device';
const MAX_OPERATIONS = 3;
const MAX_PAYLOAD = 1500;

/** A bundle with a resource type of its own, to show the client works on any endpoint. */
function deviceBundle(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'scimd-client-')), 'device.json');
  writeFileSync(file, JSON.stringify({
    schemas: [{ id: DEVICE, name: 'Device', attributes: [
      { name: 'serialNumber', type: 'string', multiValued: false, required: true, caseExact: true, mutability: 'readWrite', returned: 'default', uniqueness: 'server' },
      { name: 'model', type: 'string', multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none' },
    ] }],
    resourceTypes: [{ id: 'Device', name: 'Device', endpoint: '/Devices', schema: DEVICE, schemaExtensions: [] }],
  }));
  return file;
}

let srv: TestServer;
let client: ScimClient;
/** The requests the client sent, as "METHOD path?query" with their bodies. */
const sent: { line: string; body: string | undefined }[] = [];

beforeAll(async () => {
  srv = await testServer({ schemaFiles: [deviceBundle()], bulk: { maxOperations: MAX_OPERATIONS, maxPayloadSize: MAX_PAYLOAD } });
  const address = await srv.app.listen({ port: 0, host: '127.0.0.1' });
  const recording: typeof fetch = (input, init) => {
    const url = new URL(String(input));
    sent.push({ line: `${init?.method ?? 'GET'} ${url.pathname.replace('/scim/v2', '')}${url.search}`, body: init?.body as string | undefined });
    return fetch(input, init);
  };
  client = new ScimClient({ baseUrl: `${address}/scim/v2`, credentials: { bearer: srv.token }, fetch: recording });
});
afterAll(() => srv.close());

/** What `run` sent. */
async function requestsOf(run: () => Promise<unknown>): Promise<typeof sent> {
  const from = sent.length;
  await run();
  return sent.slice(from);
}

async function thrown(run: () => Promise<unknown>): Promise<ScimClientError> {
  const e = await run().then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ScimClientError);
  return e as ScimClientError;
}

describe('discovery', () => {
  it('reads what scimd advertises', async () => {
    const { features, resourceTypes, schemas } = await client.discover();
    expect(features).toMatchObject({ patch: true, etag: true, bulk: { supported: true, maxOperations: MAX_OPERATIONS, maxPayloadSize: MAX_PAYLOAD }, pagination: { cursor: true, index: true } });
    expect(resourceTypes.map((r) => r.endpoint)).toEqual(expect.arrayContaining(['/Users', '/Groups', '/Devices']));
    expect(schemas.map((s) => s.id)).toContain(DEVICE);
  });
});

describe('CRUD', () => {
  it('creates, reads, replaces and deletes a user, with its version each time', async () => {
    const created = await client.users.create({ schemas: [USER], userName: 'crud@example.com', active: true, emails: [{ value: 'crud@example.com', type: 'work' }] });
    expect(created.resource).toMatchObject({ id: expect.any(String), userName: 'crud@example.com' });
    expect(created.version).toBe(created.resource.meta?.version);
    const id = created.resource.id;
    expect((await client.users.get(id)).resource.emails).toEqual([{ value: 'crud@example.com', type: 'work' }]);
    const replaced = await client.users.replace(id, { schemas: [USER], userName: 'crud@example.com', active: false });
    expect(replaced.resource.active).toBe(false);
    expect(replaced.version).not.toBe(created.version);
    await client.users.delete(id);
    const gone = await thrown(() => client.users.get(id));
    expect(gone).toMatchObject({ status: 404, method: 'GET' });
    expect(gone.url).toContain(`/Users/${id}`);
  });

  it('asks for attributes and excludedAttributes', async () => {
    const { resource } = await client.users.create({ schemas: [USER], userName: 'projected', displayName: 'P', emails: [{ value: 'p@example.com' }] });
    const only = (await client.users.get(resource.id, { attributes: ['userName'] })).resource;
    expect(Object.keys(only).sort()).toEqual(['id', 'schemas', 'userName']);
    const without = (await client.users.get(resource.id, { excludedAttributes: ['emails', 'displayName'] })).resource;
    expect(without).not.toHaveProperty('emails');
    expect(without).not.toHaveProperty('displayName');
    expect(without.userName).toBe('projected');
  });

  it('works on a custom resource type', async () => {
    const devices = client.resources<ScimResource & { serialNumber: string; model?: string }>('Devices');
    const { resource } = await devices.create({ schemas: [DEVICE], serialNumber: 'SN-1', model: 'X' });
    expect((await devices.get(resource.id)).resource.serialNumber).toBe('SN-1');
    const page = await devices.list({ filter: filter.eq('serialNumber', 'SN-1') });
    expect(page.Resources.map((d) => d.id)).toEqual([resource.id]);
    await devices.delete(resource.id);
  });

  it('answers every error as a ScimClientError with status, scimType, detail and the request', async () => {
    await client.users.create({ schemas: [USER], userName: 'taken' });
    const e = await thrown(() => client.users.create({ schemas: [USER], userName: 'TAKEN' }));
    expect(e).toMatchObject({ status: 409, scimType: 'uniqueness', method: 'POST' });
    expect(e.detail).toContain('userName');
    const bad = await thrown(() => client.users.list({ filter: parseFilter('nickName gt true') }));
    expect(bad).toMatchObject({ status: 400, scimType: 'invalidFilter', method: 'GET' });
  });
});

describe('filters', () => {
  it('a value with quotes, backslashes and filter syntax matches only itself', async () => {
    const names = ['o"hara', 'back\\slash', 'x" or userName pr or userName eq "y', 'plain'];
    for (const userName of names) await client.users.create({ schemas: [USER], userName });
    for (const userName of names) {
      const page = await client.users.list({ filter: filter.eq('userName', userName) });
      expect(page.Resources.map((u) => u.userName)).toEqual([userName]);
    }
    // a hostile value that would widen a concatenated filter to every user matches nobody
    const hostile = await client.users.list({ filter: filter.eq('userName', 'nobody" or userName pr or userName eq "') });
    expect(hostile.totalResults).toBe(0);
    expect(() => filter.eq('userName pr or userName', 'x')).toThrow(ScimError);
  });

  it('and, or, not, value paths, pr, sw, co and gt reach the server as written', async () => {
    await client.users.create({ schemas: [USER], userName: 'f-ann', title: 'Eng', emails: [{ value: 'ann@work.example', type: 'work' }] });
    await client.users.create({ schemas: [USER], userName: 'f-bob', emails: [{ value: 'bob@home.example', type: 'home' }] });
    await client.users.create({ schemas: [USER], userName: 'f-cat', title: 'Ops' });
    const names = async (f: ReturnType<typeof filter.eq>) => (await client.users.list({ filter: filter.and(filter.sw('userName', 'f-'), f) })).Resources.map((u) => u.userName).sort();
    expect(await names(filter.has('emails', filter.and(filter.eq('type', 'work'), filter.co('value', '@work'))))).toEqual(['f-ann']);
    expect(await names(filter.or(filter.eq('title', 'Ops'), filter.has('emails', filter.eq('type', 'home'))))).toEqual(['f-bob', 'f-cat']);
    expect(await names(filter.not(filter.pr('title')))).toEqual(['f-bob']);
    expect(await names(filter.gt('userName', 'f-b'))).toEqual(['f-bob', 'f-cat']);
  });
});

describe('iteration', () => {
  const prefix = 'page-';
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) await client.users.create({ schemas: [USER], userName: `${prefix}${i}` });
  });

  it.each(['cursor', 'index'] as const)('reads every page by %s', async (paging) => {
    const seen: string[] = [];
    const requests = await requestsOf(async () => {
      for await (const u of client.users.all({ filter: filter.sw('userName', prefix), count: 3 }, { paging })) seen.push(u.userName);
    });
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `${prefix}${i}`));
    const lists = requests.filter((r) => r.line.startsWith('GET /Users?'));
    expect(lists).toHaveLength(3);
    expect(lists.every((r) => r.line.includes(paging === 'cursor' ? 'cursor=' : 'startIndex='))).toBe(true);
  });

  it('sends sortBy and sortOrder', async () => {
    const page = await client.users.list({ filter: filter.sw('userName', prefix), sortBy: 'userName', sortOrder: 'descending', count: 3 });
    expect(page.Resources.map((u) => u.userName)).toEqual([6, 5, 4].map((i) => `${prefix}${i}`));
    expect(page.totalResults).toBe(7);
  });

  it('pages by cursor by default, as scimd advertises it', async () => {
    const requests = await requestsOf(async () => {
      for await (const page of client.users.pages({ filter: filter.sw('userName', prefix), count: 5 })) expect(page.Resources.length).toBeGreaterThan(0);
    });
    expect(requests.filter((r) => r.line.startsWith('GET /Users?')).map((r) => new URL(`http://x${r.line.slice(4)}`).searchParams.has('cursor'))).toEqual([true, true]);
  });
});

describe('PATCH', () => {
  it('replaces, adds by value filter and removes, on users and group members', async () => {
    const { resource: u } = await client.users.create({ schemas: [USER], userName: 'patched', emails: [{ value: 'old@work.example', type: 'work' }] });
    const { resource: other } = await client.users.create({ schemas: [USER], userName: 'patched-2' });
    const done = await client.users.patch(u.id, patchOp()
      .replace('active', false)
      .replace({ attribute: 'emails', filter: filter.eq('type', 'work'), subAttribute: 'value' }, 'new@work.example')
      .add(null, { displayName: 'Patched' }));
    expect(done.resource).toMatchObject({ active: false, displayName: 'Patched', emails: [{ value: 'new@work.example', type: 'work' }] });
    expect(done.version).toBe(done.resource?.meta?.version);

    const { resource: g } = await client.groups.create({ schemas: [GROUP], displayName: 'patched group', members: [{ value: u.id }] });
    const members = await client.groups.patch(g.id, patchOp().add('members', [{ value: other.id }]).remove({ attribute: 'members', filter: filter.eq('value', u.id) }));
    expect(members.resource).toBeUndefined(); // scimd answers a group PATCH 204, with the version
    expect(members.version).toMatch(/^W\/"\d+"$/);
    expect((await client.groups.get(g.id)).resource.members?.map((m) => m.value)).toEqual([other.id]);
  });
});

describe('Bulk', () => {
  it('sends a large request in chunks within maxOperations and maxPayloadSize, resolving bulkIds across them', async () => {
    const request = new BulkRequest();
    for (let i = 0; i < 8; i++) request.post('Users', { schemas: [USER], userName: `bulk-${i}`, displayName: 'x'.repeat(200) }, `u${i}`);
    request.post('Groups', { schemas: [GROUP], displayName: 'bulk group', members: [{ value: bulkRef('u0') }, { value: bulkRef('u7') }] }, 'g');
    request.patch('Groups', bulkRef('g'), patchOp().add('members', [{ value: bulkRef('u3') }]));
    let outcomes: Awaited<ReturnType<typeof client.bulk>> = [];
    const requests = (await requestsOf(async () => (outcomes = await client.bulk(request)))).filter((r) => r.line === 'POST /Bulk');
    expect(requests.length).toBeGreaterThanOrEqual(4);
    for (const r of requests) {
      expect(Buffer.byteLength(r.body!)).toBeLessThanOrEqual(MAX_PAYLOAD);
      expect(JSON.parse(r.body!).Operations.length).toBeLessThanOrEqual(MAX_OPERATIONS);
    }
    expect(outcomes.map((o) => o.status)).toEqual([...Array(9).fill(201), 200]);
    const ids = new Map(outcomes.map((o) => [o.bulkId, o.id]));
    // a chunk names a POST of an earlier chunk by the id it got, never by its bulkId
    const defined = new Set<string>();
    for (const r of requests) {
      for (const bulkId of defined) expect(r.body).not.toContain(`"bulkId:${bulkId}"`);
      for (const op of JSON.parse(r.body!).Operations) if (op.bulkId) defined.add(op.bulkId);
    }
    expect(requests.find((r) => r.body!.includes('bulk group'))!.body).toContain(`"value":"${ids.get('u0')}"`);
    const group = (await client.groups.get(ids.get('g')!)).resource;
    expect(group.members?.map((m) => m.value).sort()).toEqual([ids.get('u0'), ids.get('u3'), ids.get('u7')].sort());
  });

  it('counts failOnErrors across chunks and sends no chunk after it is reached', async () => {
    await client.users.create({ schemas: [USER], userName: 'bulk-dup' });
    const request = new BulkRequest();
    for (let i = 0; i < 7; i++) request.post('Users', { schemas: [USER], userName: i === 1 || i === 4 ? 'bulk-dup' : `bulk-f${i}` });
    let outcomes: Awaited<ReturnType<typeof client.bulk>> = [];
    const requests = (await requestsOf(async () => (outcomes = await client.bulk(request, { failOnErrors: 2 })))).filter((r) => r.line === 'POST /Bulk');
    expect(requests).toHaveLength(2);
    expect(outcomes.map((o) => o.status)).toEqual([201, 409, 201, 201, 409]);
    expect(outcomes[1]!.error).toMatchObject({ status: 409, scimType: 'uniqueness' });
    expect((await client.users.list({ filter: filter.sw('userName', 'bulk-f') })).totalResults).toBe(3);
  });

  it('refuses, before sending anything, an operation larger than maxPayloadSize', async () => {
    const request = new BulkRequest().post('Users', { schemas: [USER], userName: 'huge', displayName: 'x'.repeat(MAX_PAYLOAD) });
    const requests = await requestsOf(() => client.bulk(request).then(() => expect.unreachable(), (e: unknown) => {
      expect(e).toBeInstanceOf(ScimError);
      expect(e).toMatchObject({ status: 413, scimType: 'tooLarge' });
    }));
    expect(requests.filter((r) => r.line === 'POST /Bulk')).toEqual([]);
  });

  it('refuses, before sending anything, a reference to a later POST that would land in another chunk', async () => {
    const request = new BulkRequest().post('Groups', { schemas: [GROUP], displayName: 'early', members: [{ value: bulkRef('late') }] });
    for (let i = 0; i < 3; i++) request.post('Users', { schemas: [USER], userName: `late-${i}` }, i === 2 ? 'late' : undefined);
    const requests = await requestsOf(() => client.bulk(request).then(() => expect.unreachable(), (e: unknown) => {
      expect(e).toMatchObject({ status: 400, scimType: 'invalidValue' });
    }));
    expect(requests.filter((r) => r.line === 'POST /Bulk')).toEqual([]);
  });
});

describe('ETags', () => {
  it('replace, patch and delete with a stale ifMatch answer 412; with the current one they succeed', async () => {
    const { resource, version: v1 } = await client.users.create({ schemas: [USER], userName: 'etag' });
    const { version: v2 } = await client.users.patch(resource.id, patchOp().replace('displayName', 'two'), { ifMatch: v1! });
    expect(v2).not.toBe(v1);
    expect(await thrown(() => client.users.replace(resource.id, { schemas: [USER], userName: 'etag' }, { ifMatch: v1! }))).toMatchObject({ status: 412, method: 'PUT' });
    expect(await thrown(() => client.users.patch(resource.id, patchOp().replace('displayName', 'x'), { ifMatch: v1! }))).toMatchObject({ status: 412, method: 'PATCH' });
    expect(await thrown(() => client.users.delete(resource.id, { ifMatch: v1! }))).toMatchObject({ status: 412, method: 'DELETE' });
    await client.users.delete(resource.id, { ifMatch: v2! });
  });
});
