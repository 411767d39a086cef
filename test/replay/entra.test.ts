/**
 * Microsoft Entra ID, replayed from its own documentation (token dialect `entra`). The pages' example ids
 * ("5171a35d82074e068ce2", "f648f8d5ea4e4cd38e9c", ...) stand for the ids this server assigned.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type Replay } from './replay.js';

/** "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID". */
const TUTORIAL = 'https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups';
/** "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra user provisioning service". */
const KNOWN_ISSUES = 'https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility';
const FLAGS = `${KNOWN_ISSUES}#flags-to-alter-the-scim-behavior`;

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let r: Replay;
beforeEach(async () => {
  r = await replay('entra');
});
afterEach(() => r.server.close());

/** Create User, request (TUTORIAL#create-user). */
const createUser = {
  doc: `${TUTORIAL}#create-user`,
  method: 'POST',
  path: '/Users',
  body: {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
    externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
    userName: 'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee',
    active: true,
    emails: [{ primary: true, type: 'work', value: 'Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com' }],
    meta: { resourceType: 'User' },
    name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    roles: [],
  },
} as const;

async function createdUser(): Promise<string> {
  const res = await r.send(createUser);
  expect(res.status).toBe(201);
  return res.body.id;
}

async function userNamed(userName: string): Promise<string> {
  const res = await r.send({ doc: 'fixture', method: 'POST', path: '/Users', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName } });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('Entra ID user lifecycle (TUTORIAL, "User Operations")', () => {
  it('Test Connection and "Get User by query - Zero results": 200 with an empty ListResponse', async () => {
    const res = await r.send({ doc: `${TUTORIAL}#get-user-by-query---zero-results`, method: 'GET', path: '/Users?filter=userName eq "non-existent user"' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, startIndex: 1 });
    expect(res.body.Resources ?? []).toEqual([]);
  });

  it('filter, create, get, update multi- and single-valued, disable, delete', async () => {
    // Get User by query: the user is not there yet, so Entra creates it.
    const query = { doc: `${TUTORIAL}#get-user-by-query`, method: 'GET', path: '/Users?filter=userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"' } as const;
    expect((await r.send(query)).body.totalResults).toBe(0);

    const created = await r.send(createUser);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee',
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      active: true,
      emails: [{ value: 'Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com', type: 'work', primary: true }],
      meta: { resourceType: 'User' },
    });
    expect(created.body.roles).toBeUndefined(); // an empty list is no value
    const id = created.body.id;

    const found = await r.send(query);
    expect(found.status).toBe(200);
    expect(found.body.totalResults).toBe(1);
    expect(found.body.Resources[0].id).toBe(id);

    const got = await r.send({ doc: `${TUTORIAL}#get-user`, method: 'GET', path: `/Users/${id}` });
    expect([got.status, got.body.userName]).toEqual([200, 'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee']);

    const multi = await r.send({
      doc: `${TUTORIAL}#update-user-multi-valued-properties`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
          { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
        ],
      },
    });
    expect(multi.status).toBe(204); // entra dialect: PATCH answers 204 (the Group Operations notes)
    const afterMulti = (await r.get(`/Users/${id}`)).body;
    expect(afterMulti.emails).toEqual([{ value: 'updatedEmail@microsoft.com', type: 'work', primary: true }]);
    expect(afterMulti.name).toEqual({ formatted: 'givenName familyName', familyName: 'updatedFamilyName', givenName: 'givenName' });

    const single = await r.send({
      doc: `${TUTORIAL}#update-user-single-valued-properties`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'userName', value: '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com' }] },
    });
    expect(single.status).toBe(204);
    expect((await r.get(`/Users/${id}`)).body.userName).toBe('5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com');

    const disable = await r.send({
      doc: `${TUTORIAL}#disable-user`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { Operations: [{ op: 'Replace', path: 'active', value: false }], schemas: [PATCH_OP] },
    });
    expect(disable.status).toBe(204);
    // "The user object should be returned in a request whether or not the user is active."
    expect((await r.get(`/Users/${id}`)).body.active).toBe(false);
    const byName = await r.get('/Users?filter=userName eq "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"');
    expect(byName.body.Resources.map((u: any) => [u.id, u.active])).toEqual([[id, false]]);

    const del = await r.send({ doc: `${TUTORIAL}#delete-user`, method: 'DELETE', path: `/Users/${id}` });
    expect([del.status, del.text]).toEqual([204, '']);
    const gone = await r.send({ doc: `${TUTORIAL}#get-user`, method: 'GET', path: `/Users/${id}` });
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
  });
});

describe('Entra ID dialect rule: a work email that is not there yet', () => {
  it('"Replace" on emails[type eq "work"].value creates the work email for an entra token; the RFC answers noTarget', async () => {
    const step = (id: string) => ({
      doc: `${TUTORIAL}#update-user-multi-valued-properties`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' }] },
    } as const);
    const id = await userNamed('no-mail-yet@testuser.com');
    expect((await r.send(step(id))).status).toBe(204);
    expect((await r.get(`/Users/${id}`)).body.emails).toEqual([{ type: 'work', value: 'updatedEmail@microsoft.com' }]);

    // the same request from an rfc token: 400 noTarget, nothing changed (RFC 7644 §3.5.2.3)
    const other = await userNamed('rfc-client@testuser.com');
    const rfc = await r.server.request('PATCH', `/Users/${other}`, step(other).body);
    expect([rfc.status, rfc.body.scimType]).toEqual([400, 'noTarget']);
    expect((await r.get(`/Users/${other}`)).body.emails).toBeUndefined();
  });
});

describe('Entra ID group lifecycle (TUTORIAL, "Group Operations")', () => {
  it('create, get without members, get by displayName, rename, add and remove members, delete', async () => {
    const member = await userNamed('member@testuser.com');
    const created = await r.send({
      doc: `${TUTORIAL}#create-group`,
      method: 'POST',
      path: '/Groups',
      body: {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'displayName',
        meta: { resourceType: 'Group' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', displayName: 'displayName' });
    const id = created.body.id;

    const got = await r.send({ doc: `${TUTORIAL}#get-group`, method: 'GET', path: `/Groups/${id}?excludedAttributes=members` });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, displayName: 'displayName' });
    expect(got.body).not.toHaveProperty('members');

    const byName = await r.send({ doc: `${TUTORIAL}#get-group-by-displayname`, method: 'GET', path: '/Groups?excludedAttributes=members&filter=displayName eq "displayName"' });
    expect(byName.status).toBe(200);
    expect(byName.body.totalResults).toBe(1);
    expect(byName.body.Resources[0].id).toBe(id);

    const renamed = await r.send({
      doc: `${TUTORIAL}#update-group-non-member-attributes`,
      method: 'PATCH',
      path: `/Groups/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'displayName', value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName' }] },
    });
    expect(renamed.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body.displayName).toBe('1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName');

    const added = await r.send({
      doc: `${TUTORIAL}#update-group-add-members`,
      method: 'PATCH',
      path: `/Groups/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: member }] }] },
    });
    expect(added.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body.members.map((m: any) => m.value)).toEqual([member]);
    expect((await r.get(`/Users/${member}`)).body.groups.map((g: any) => g.value)).toEqual([id]);

    const removed = await r.send({
      doc: `${TUTORIAL}#update-group-remove-members`,
      method: 'PATCH',
      path: `/Groups/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: member }] }] },
    });
    expect(removed.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body.members).toBeUndefined();

    const del = await r.send({ doc: `${TUTORIAL}#delete-group`, method: 'DELETE', path: `/Groups/${id}` });
    expect(del.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).status).toBe(404);
  });

  it('removing one member with a value list keeps the others (the request a literal reading would wipe the group with)', async () => {
    const [keep, drop] = [await userNamed('keep@testuser.com'), await userNamed('drop@testuser.com')];
    const id = (await r.send({ doc: 'fixture', method: 'POST', path: '/Groups', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g', members: [{ value: keep }, { value: drop }] } })).body.id;
    const removed = await r.send({
      doc: `${TUTORIAL}#update-group-remove-members`,
      method: 'PATCH',
      path: `/Groups/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: drop }] }] },
    });
    expect(removed.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body.members.map((m: any) => m.value)).toEqual([keep]);
  });
});

describe('Entra ID requests with and without the aadOptscim062020 flag (KNOWN_ISSUES, "Flags to alter the SCIM behavior")', () => {
  it('disables a user with "False" as a string (without the flag) and with false (with it)', async () => {
    const id = await createdUser();
    const without = await r.send({
      doc: `${FLAGS} (Requests made to disable users, without feature flag)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
    });
    expect(without.status).toBe(204);
    expect((await r.get(`/Users/${id}`)).body.active).toBe(false);

    await r.send({ doc: 'fixture', method: 'PATCH', path: `/Users/${id}`, body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] } });
    const withFlag = await r.send({
      doc: `${FLAGS} (Requests made to disable users, with feature flag)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
    });
    expect(withFlag.status).toBe(204);
    expect((await r.get(`/Users/${id}`)).body.active).toBe(false);
  });

  it('adds a single-value string attribute, as "Add" and as "add"', async () => {
    const id = await createdUser();
    for (const [flag, op] of [['without', 'Add'], ['with', 'add']] as const) {
      const res = await r.send({
        doc: `${FLAGS} (Requests made to add a single-value string attribute, ${flag} feature flag)`,
        method: 'PATCH',
        path: `/Users/${id}`,
        body: { schemas: [PATCH_OP], Operations: [{ op, path: 'nickName', value: 'Babs' }] },
      });
      expect(res.status).toBe(204);
      expect((await r.get(`/Users/${id}`)).body.nickName).toBe('Babs');
    }
  });

  it('replaces multiple attributes one path at a time (without the flag)', async () => {
    const id = await createdUser();
    const res = await r.send({
      doc: `${FLAGS} (Requests to replace multiple attributes, without feature flag)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Replace', path: 'displayName', value: 'Pvlo' },
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@test.microsoft.com' },
          { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
          { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
          { op: 'Replace', path: 'externalId', value: 'Eqpj' },
          { op: 'Replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', value: 'Eqpj' },
        ],
      },
    });
    expect(res.status).toBe(204);
    const u = (await r.get(`/Users/${id}`)).body;
    expect(u).toMatchObject({
      displayName: 'Pvlo',
      emails: [{ value: 'TestBcwqnm@test.microsoft.com', type: 'work', primary: true }],
      name: { givenName: 'Gtfd', familyName: 'Pkqf' },
      externalId: 'Eqpj',
      [ENTERPRISE]: { employeeNumber: 'Eqpj' },
    });
  });

  it('replaces multiple attributes with a path-less value of dotted and URN-qualified keys (with the flag)', async () => {
    const id = await createdUser();
    const res = await r.send({
      doc: `${FLAGS} (Requests to replace multiple attributes, with feature flag)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'replace', path: 'emails[type eq "work"].value', value: 'TestMhvaes@test.microsoft.com' },
          {
            op: 'replace',
            value: {
              displayName: 'Bjfe',
              'name.givenName': 'Kkom',
              'name.familyName': 'Unua',
              'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber': 'Aklq',
            },
          },
        ],
      },
    });
    expect(res.status).toBe(204);
    const u = (await r.get(`/Users/${id}`)).body;
    expect(u).toMatchObject({
      displayName: 'Bjfe',
      emails: [{ value: 'TestMhvaes@test.microsoft.com', type: 'work', primary: true }],
      name: { formatted: 'givenName familyName', givenName: 'Kkom', familyName: 'Unua' },
      [ENTERPRISE]: { employeeNumber: 'Aklq' },
    });
  });

  it('removes a group member with a value list (without the flag) and with a value filter (with it)', async () => {
    const [a, b, c] = [await userNamed('a@testuser.com'), await userNamed('b@testuser.com'), await userNamed('c@testuser.com')];
    const id = (await r.send({ doc: 'fixture', method: 'POST', path: '/Groups', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g', members: [{ value: a }, { value: b }, { value: c }] } })).body.id;
    const without = await r.send({
      doc: `${FLAGS} (Requests made to remove a group member, without feature flag)`,
      method: 'PATCH',
      path: `/Groups/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ value: a }] }] },
    });
    expect(without.status).toBe(204);
    const withFlag = await r.send({
      doc: `${FLAGS} (Requests made to remove a group member, with feature flag)`,
      method: 'PATCH',
      path: `/Groups/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${b}"]` }] },
    });
    expect(withFlag.status).toBe(204);
    expect((await r.get(`/Groups/${id}`)).body.members.map((m: any) => m.value)).toEqual([c]);
  });
});

describe('Entra ID provisioning examples (TUTORIAL, "Handling provisioning and deprovisioning of users")', () => {
  it('Examples 1–6: query by unquoted externalId, provision, read, add a manager, deprovision', async () => {
    const manager = await userNamed('manager@testuser.com');
    const query = await r.send({ doc: `${TUTORIAL}#handling-provisioning-and-deprovisioning-of-users (Example 1)`, method: 'GET', path: '/Users?filter=externalId eq jyoung' });
    expect([query.status, query.body.totalResults]).toEqual([200, 0]);

    // Example 2 as printed: its enterprise URN lacks the ":" before "User", and nulls stand for unassigned values.
    const created = await r.send({
      doc: `${TUTORIAL}#handling-provisioning-and-deprovisioning-of-users (Example 2)`,
      method: 'POST',
      path: '/Users',
      headers: { 'Content-type': 'application/scim+json' },
      body: {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User'],
        externalId: 'jyoung',
        userName: 'jyoung@testuser.com',
        active: true,
        addresses: null,
        displayName: 'Joy Young',
        emails: [{ type: 'work', value: 'jyoung@Contoso.com', primary: true }],
        meta: { resourceType: 'User' },
        name: { familyName: 'Young', givenName: 'Joy' },
        phoneNumbers: null,
        preferredLanguage: null,
        title: null,
        department: null,
        manager: null,
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.body).toMatchObject({ externalId: 'jyoung', userName: 'jyoung@testuser.com', displayName: 'Joy Young', name: { familyName: 'Young', givenName: 'Joy' } });
    for (const unassigned of ['addresses', 'phoneNumbers', 'preferredLanguage', 'title']) expect(created.body).not.toHaveProperty(unassigned);
    expect((await r.get('/Users?filter=externalId eq "jyoung"')).body.totalResults).toBe(1);

    const got = await r.send({ doc: `${TUTORIAL}#handling-provisioning-and-deprovisioning-of-users (Example 3)`, method: 'GET', path: `/Users/${id}` });
    expect([got.status, got.body.id]).toEqual([200, id]);

    // Example 5: "manager" without its URN, and its value as a one-element list of {$ref, value}.
    const patched = await r.send({
      doc: `${TUTORIAL}#handling-provisioning-and-deprovisioning-of-users (Example 5)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      headers: { 'Content-type': 'application/scim+json' },
      body: {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Add', path: 'manager', value: [{ $ref: `http://.../scim/Users/${manager}`, value: manager }] }],
      },
    });
    expect(patched.status).toBe(204);
    expect((await r.get(`/Users/${id}`)).body[ENTERPRISE].manager).toMatchObject({ value: manager });

    const del = await r.send({ doc: `${TUTORIAL}#handling-provisioning-and-deprovisioning-of-users (Example 6)`, method: 'DELETE', path: `/Users/${id}` });
    expect(del.status).toBe(204);
    expect((await r.get(`/Users/${id}`)).status).toBe(404);
  });
});
