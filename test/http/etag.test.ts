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
    expect((await s.request('PATCH', `/Groups/${g.id}`, add, { 'if-match': g.meta.version })).status).toBe(200);
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
