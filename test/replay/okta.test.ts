/**
 * Okta, replayed from its own documentation (token dialect `okta`): "SCIM 2.0 Protocol Reference". The page's
 * example ids stand for the ids this server assigned: "23a35c27-23d3-4c03-b4c5-6443c09e7173" for the user it
 * creates, "89bb1940-b905-4575-9e7f-6f887cfb368e" for a second user, "abf4dd94-a4c0-4f67-89c9-76b03340cb9b" for
 * the group.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type Replay } from './replay.js';

const REFERENCE = 'https://developer.okta.com/docs/reference/scim/scim-20/';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** Every request on the page carries these headers (Authorization is the replay's bearer token). */
const OKTA = { 'User-Agent': 'Okta SCIM Client 1.0.0' };

let r: Replay;
beforeEach(async () => {
  r = await replay('okta');
});
afterEach(() => r.server.close());

const createUser = {
  doc: `${REFERENCE}#create-the-user`,
  method: 'POST',
  path: '/scim/v2/Users',
  headers: OKTA,
  body: {
    schemas: [USER],
    userName: 'test.user@okta.local',
    name: { givenName: 'Test', familyName: 'User' },
    emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
    displayName: 'Test User',
    locale: 'en-US',
    externalId: '00ujl29u0le5T6Aj10h7',
    groups: [],
    password: '1mz050nq',
    active: true,
  },
} as const;

async function otherUser(): Promise<string> {
  const res = await r.send({ doc: 'fixture', method: 'POST', path: '/Users', body: { schemas: [USER], userName: 'other.user@okta.local' } });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('Okta user lifecycle (REFERENCE, "SCIM User operations")', () => {
  it('filters by userName, creates, lists, reads, updates with PUT, deactivates with PATCH', async () => {
    const lookup = {
      doc: `${REFERENCE}#determine-if-the-user-already-exists`,
      method: 'GET',
      path: '/scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100',
      headers: OKTA,
    } as const;
    const exists = await r.send(lookup);
    expect(exists.status).toBe(200);
    expect(exists.body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

    const created = await r.send(createUser);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      schemas: [USER],
      userName: 'test.user@okta.local',
      name: { givenName: 'Test', familyName: 'User' },
      emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
      displayName: 'Test User',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      active: true,
      meta: { resourceType: 'User' },
    });
    expect(created.body).not.toHaveProperty('password');
    const id = created.body.id;

    // the same filter now finds the user: Okta matches it instead of creating it again
    const again = await r.send(lookup);
    expect(again.body.totalResults).toBe(1);
    expect(again.body.Resources[0].id).toBe(id);
    // a second create is 409 with an error body, which stops Okta's provisioning job
    const conflict = await r.send(createUser);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', scimType: 'uniqueness' });

    const listed = await r.send({ doc: `${REFERENCE}#retrieve-users`, method: 'GET', path: '/scim/v2/Users?startIndex=1&count=100', headers: OKTA });
    expect(listed.body).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    // "The itemsPerPage, startIndex, and totalResults values need to be exchanged as integers"
    for (const k of ['totalResults', 'startIndex', 'itemsPerPage']) expect(typeof listed.body[k]).toBe('number');

    const read = await r.send({ doc: `${REFERENCE}#retrieve-a-specific-user`, method: 'GET', path: `/scim/v2/Users/${id}`, headers: OKTA });
    expect([read.status, read.body.userName, read.body.active]).toEqual([200, 'test.user@okta.local', true]);

    // Update a specific User (PUT): Okta reads the user, changes the attributes, and sends the whole body back.
    const put = await r.send({
      doc: `${REFERENCE}#update-a-specific-user-put`,
      method: 'PUT',
      path: `/scim/v2/Users/${id}`,
      headers: OKTA,
      body: {
        schemas: [USER],
        id,
        userName: 'test.user@okta.local',
        name: { givenName: 'Another', middleName: 'Excited', familyName: 'User' },
        emails: [{ primary: true, value: 'test.user@okta.local', type: 'work', display: 'test.user@okta.local' }],
        active: true,
        groups: [],
        meta: { resourceType: 'User' },
      },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      id,
      userName: 'test.user@okta.local',
      name: { givenName: 'Another', middleName: 'Excited', familyName: 'User' },
      emails: [{ primary: true, value: 'test.user@okta.local', type: 'work', display: 'test.user@okta.local' }],
      active: true,
    });
    // PUT replaces: what the body omits (displayName, locale, externalId) is gone; the password is kept
    const afterPut = (await r.get(`/Users/${id}`)).body;
    for (const omitted of ['displayName', 'locale', 'externalId']) expect(afterPut).not.toHaveProperty(omitted);

    const deactivated = await r.send({
      doc: `${REFERENCE}#update-a-specific-user-patch`,
      method: 'PATCH',
      path: `/scim/v2/Users/${id}`,
      headers: OKTA,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] },
    });
    expect(deactivated.status).toBe(200); // "The response from the SCIM server needs to be the updated User object"
    expect(deactivated.body).toMatchObject({ id, userName: 'test.user@okta.local', active: false });
    // Okta never deletes users (#delete-users): the deactivated user stays readable and findable
    expect((await r.get(`/Users/${id}`)).body.active).toBe(false);
    expect((await r.get('/Users?filter=userName eq "test.user@okta.local"')).body.Resources[0].active).toBe(false);
  });
});

describe('Okta group push (REFERENCE, "SCIM Group operations")', () => {
  it('creates, lists, reads, renames (repeating id), changes membership, pushes the whole list, deletes', async () => {
    const user = (await r.send(createUser)).body.id;
    const other = await otherUser();

    const created = await r.send({
      doc: `${REFERENCE}#create-groups`,
      method: 'POST',
      path: '/scim/v2/Groups',
      headers: OKTA,
      body: { schemas: [GROUP], displayName: 'Test SCIMv2', members: [] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ schemas: [GROUP], displayName: 'Test SCIMv2', meta: { resourceType: 'Group' } });
    const id = created.body.id;

    const listed = await r.send({ doc: `${REFERENCE}#retrieve-groups`, method: 'GET', path: '/scim/v2/Groups?startIndex=1&count=100', headers: OKTA });
    expect(listed.body.Resources.map((g: any) => g.id)).toEqual([id]);
    const read = await r.send({ doc: `${REFERENCE}#retrieve-specific-groups`, method: 'GET', path: `/scim/v2/Groups/${id}`, headers: OKTA });
    expect([read.status, read.body.displayName]).toEqual([200, 'Test SCIMv2']);

    // "Update a specific Group name": a path-less replace that repeats the group's read-only id
    const renamed = await r.send({
      doc: `${REFERENCE}#update-a-specific-group-name`,
      method: 'PATCH',
      path: `/scim/v2/Groups/${id}`,
      headers: OKTA,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { id, displayName: 'Test SCIMv20' } }] },
    });
    // a group's PATCH answers 204 (Okta takes 200 with the group or 204; the group would carry every member)
    expect(renamed.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body).toMatchObject({ id, displayName: 'Test SCIMv20' });

    // "Update specific Group membership": remove one user (here not a member yet: idempotent), add another
    const membershipStep = {
      doc: `${REFERENCE}#update-specific-group-membership`,
      method: 'PATCH',
      path: `/scim/v2/Groups/${id}`,
      headers: OKTA,
      body: {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'remove', path: `members[value eq "${other}"]` },
          { op: 'add', path: 'members', value: [{ value: user, display: 'test.user@okta.local' }] },
        ],
      },
    } as const;
    const membership = await r.send(membershipStep);
    expect(membership.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body.members.map((m: any) => m.value)).toEqual([user]);

    // the same request again, now that `other` is a member: it leaves, `user` stays once
    await r.send({ doc: 'fixture', method: 'PATCH', path: `/Groups/${id}`, body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: other }] }] } });
    const again = await r.send(membershipStep);
    expect(again.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body.members.map((m: any) => m.value)).toEqual([user]);

    // a full push of the membership with replace
    const pushed = await r.send({
      doc: `${REFERENCE}#update-specific-group-membership (full push with replace)`,
      method: 'PATCH',
      path: `/scim/v2/Groups/${id}`,
      headers: OKTA,
      body: {
        schemas: [PATCH_OP],
        Operations: [
          {
            op: 'replace',
            path: 'members',
            value: [
              { value: user, display: 'test.user@okta.local' },
              { value: other, display: 'test.user@okta.local' },
            ],
          },
        ],
      },
    });
    expect(pushed.status).toBe(204);
    const members = (await r.get(`/Groups/${id}`)).body.members;
    // display is derived from the member itself (its userName), not taken from the request
    expect(members.map((m: any) => [m.value, m.display])).toEqual([[user, 'Test User'], [other, 'other.user@okta.local']]);
    expect((await r.get(`/Users/${other}`)).body.groups.map((g: any) => g.value)).toEqual([id]);

    const deleted = await r.send({ doc: `${REFERENCE}#delete-a-specific-group`, method: 'DELETE', path: `/scim/v2/Groups/${id}`, headers: OKTA });
    expect([deleted.status, deleted.text]).toEqual([204, '']);
    expect((await r.get(`/Groups/${id}`)).status).toBe(404);
    expect((await r.get(`/Users/${user}`)).body.groups).toBeUndefined();
  });
});
