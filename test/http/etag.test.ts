/** Versioning (RFC 7644 §3.14): weak ETags from the version, If-Match on PUT/PATCH/DELETE, If-None-Match on GET. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { group, testServer, user, type TestServer } from '../helpers.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const replaceTitle = (title: string) => ({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: title }] });

let s: TestServer;
let id: string;
beforeEach(async () => {
  s = await testServer();
  id = (await s.request('POST', '/Users', user('bjensen', { title: 'v1' }))).body.id;
  await s.request('PATCH', `/Users/${id}`, replaceTitle('v2')); // now at version 2
});
afterEach(() => s.close());

describe('ETag on every resource response', () => {
  it('GET, POST, PUT and PATCH carry ETag W/"version", equal to meta.version', async () => {
    const got = await s.request('GET', `/Users/${id}`);
    expect([got.headers.etag, got.body.meta.version]).toEqual(['W/"2"', 'W/"2"']);
    const put = await s.request('PUT', `/Users/${id}`, user('bjensen', { title: 'v3' }));
    expect([put.headers.etag, put.body.meta.version]).toEqual(['W/"3"', 'W/"3"']);
    const listed = await s.request('GET', '/Users');
    expect(listed.body.Resources[0].meta.version).toBe('W/"3"');
  });
});

describe('If-Match', () => {
  it.each([
    ['the current weak tag', 'W/"2"'],
    ['the current tag written strong', '"2"'],
    ['a list naming the current version', 'W/"1", W/"2"'],
    ['*', '*'],
    ['the RFC examples\' escaped form', 'W\\/"2"'],
  ])('PATCH, PUT and DELETE proceed with %s', async (_name, header) => {
    const patched = await s.request('PATCH', `/Users/${id}`, replaceTitle('v3'), { 'if-match': header });
    expect([patched.status, patched.headers.etag]).toEqual([200, 'W/"3"']);
    const putHeader = header.replace('2', '3');
    const put = await s.request('PUT', `/Users/${id}`, user('bjensen', { title: 'v4' }), { 'if-match': putHeader });
    expect([put.status, put.headers.etag]).toEqual([200, 'W/"4"']);
    const deleted = await s.request('DELETE', `/Users/${id}`, undefined, { 'if-match': header.replace('2', '4') });
    expect(deleted.status).toBe(204);
  });

  it.each([
    ['an older version', 'W/"1"'],
    ['a newer version', 'W/"3"'],
    ['a tag this server never issued', '"abc"'],
  ])('PATCH, PUT and DELETE with %s are 412 and change nothing', async (_name, header) => {
    const before = await s.snapshot();
    for (const [method, body] of [['PATCH', replaceTitle('x')], ['PUT', user('bjensen', { title: 'x' })], ['DELETE', undefined]] as const) {
      const r = await s.request(method, `/Users/${id}`, body, { 'if-match': header });
      expect([method, r.status, r.body.schemas[0], r.body.scimType]).toEqual([method, 412, 'urn:ietf:params:scim:api:messages:2.0:Error', undefined]);
      expect(r.body.detail).toContain('W/"2"');
    }
    expect(await s.snapshot()).toBe(before);
  });

  it('a membership-only PATCH is held to If-Match too', async () => {
    const g = (await s.request('POST', '/Groups', group('g'))).body;
    const add = { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] };
    expect((await s.request('PATCH', `/Groups/${g.id}`, add, { 'if-match': 'W/"7"' })).status).toBe(412);
    expect((await s.request('GET', `/Groups/${g.id}`)).body.members).toBeUndefined();
    expect((await s.request('PATCH', `/Groups/${g.id}`, add, { 'if-match': g.meta.version })).status).toBe(204);
  });

  it('a missing resource is 404, not 412, whatever If-Match says', async () => {
    const r = await s.request('PATCH', '/Users/nope', replaceTitle('x'), { 'if-match': '*' });
    expect(r.status).toBe(404);
    expect((await s.request('DELETE', '/Users/nope', undefined, { 'if-match': 'W/"1"' })).status).toBe(404);
  });
});

describe('If-None-Match', () => {
  it('GET naming the current version is 304 with the ETag and no body; another version is 200', async () => {
    const same = await s.request('GET', `/Users/${id}`, undefined, { 'if-none-match': 'W/"2"' });
    expect([same.status, same.headers.etag, same.text]).toEqual([304, 'W/"2"', '']);
    expect((await s.request('GET', `/Users/${id}`, undefined, { 'if-none-match': '*' })).status).toBe(304);
    const older = await s.request('GET', `/Users/${id}`, undefined, { 'if-none-match': 'W/"1"' });
    expect([older.status, older.body.title]).toEqual([200, 'v2']);
    await s.request('PATCH', `/Users/${id}`, replaceTitle('v3'));
    expect((await s.request('GET', `/Users/${id}`, undefined, { 'if-none-match': 'W/"2"' })).status).toBe(200);
  });
});

describe('a representation that changes through the membership relation has a new version', () => {
  const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });
  /** The user's version, and whether an If-None-Match on the version before is answered 304 (it must not be). */
  async function changed(userId: string, before: string): Promise<string> {
    const got = await s.request('GET', `/Users/${userId}`, undefined, { 'if-none-match': before });
    expect(got.status).toBe(200);
    expect(got.headers.etag).not.toBe(before);
    expect(got.body.meta.version).toBe(got.headers.etag);
    return got.headers.etag as string;
  }
  const etag = async (path: string) => (await s.request('GET', path)).headers.etag as string;

  it('a member\'s ETag and lastModified move when it joins or leaves a group, the group is renamed or deleted', async () => {
    let tag = await etag(`/Users/${id}`);
    const lastModified = (await s.request('GET', `/Users/${id}`)).body.meta.lastModified;
    const g = (await s.request('POST', '/Groups', group('Guides', [id]))).body;
    tag = await changed(id, tag);
    const joined = (await s.request('GET', `/Users/${id}`)).body;
    expect(joined.groups.map((x: { display: string }) => x.display)).toEqual(['Guides']);
    expect(joined.meta.lastModified > lastModified).toBe(true);
    // the index moved with it: a filter on lastModified finds the user by its new time
    const since = encodeURIComponent(`meta.lastModified ge "${joined.meta.lastModified}"`);
    expect((await s.request('GET', `/Users?filter=${since}`)).body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);

    await s.request('PATCH', `/Groups/${g.id}`, patch({ op: 'replace', path: 'displayName', value: 'Tour Guides' }));
    tag = await changed(id, tag);
    await s.request('PATCH', `/Groups/${g.id}`, patch({ op: 'remove', path: `members[value eq "${id}"]` }));
    tag = await changed(id, tag);
    await s.request('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: id }] }));
    tag = await changed(id, tag);
    await s.request('PUT', `/Groups/${g.id}`, group('Tour Guides', []));
    tag = await changed(id, tag);
    await s.request('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: id }] }));
    tag = await changed(id, tag);
    await s.request('DELETE', `/Groups/${g.id}`);
    await changed(id, tag);
  });

  it('a group\'s ETag moves when a member is renamed or deleted; a change that touches no one else moves only its own', async () => {
    const other = (await s.request('POST', '/Users', user('other'))).body.id;
    const g = (await s.request('POST', '/Groups', group('Guides', [id, other]))).body;
    const bystander = (await s.request('POST', '/Groups', group('Bystanders'))).body;
    let tag = await etag(`/Groups/${g.id}`);
    const bystanderTag = await etag(`/Groups/${bystander.id}`);
    await s.request('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'userName', value: 'babs' }));
    let now = await etag(`/Groups/${g.id}`);
    expect(now).not.toBe(tag);
    expect((await s.request('GET', `/Groups/${g.id}`)).body.members.find((m: { value: string }) => m.value === id).display).toBe('babs');
    tag = now;
    await s.request('PATCH', `/Users/${id}`, replaceTitle('not a label'));
    expect(await etag(`/Groups/${g.id}`)).toBe(tag);
    await s.request('DELETE', `/Users/${other}`);
    now = await etag(`/Groups/${g.id}`);
    expect(now).not.toBe(tag);
    expect(await etag(`/Groups/${bystander.id}`)).toBe(bystanderTag);
  });
});
