/**
 * JumpCloud, replayed from its own support articles (token dialect `jumpcloud`). JumpCloud prints no SCIM request:
 * its "Identity Management using a Custom SCIM Integration" article describes, in prose, what JumpCloud does (a
 * connection test that creates a test user and a test group and deletes them; a lookup that decides between create
 * and update; create, update, deactivate and delete of users; create, update and delete of groups), and its
 * connector articles describe how groups are taken over, renamed and deleted. Each step below cites the sentence it
 * replays; since no method, path or body is printed, every request is the RFC 7644 form of the described operation,
 * and says so. What the articles leave open is not sourced and not replayed as JumpCloud's: which attributes the
 * bodies carry beyond those the mapping tables name, whether an update is a PATCH or a PUT, and the PATCH shape of a
 * member change (one app vendor reports "Azure AD-style" removals; see the last test, which is labelled as such).
 *
 * No dialect rule: the only documented divergence from plain create/update/delete (deactivate the test user when
 * DELETE is unsupported) does not arise, since scimd supports DELETE, and every request here is valid RFC.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type Replay } from './replay.js';

/**
 * "Identity Management using a Custom SCIM Integration" (the stored copy read is the article's WordPress rendering,
 * https://jumpcloud.com/wp-json/wp/v2/support/76256, whose sections are named below).
 */
const CUSTOM_SCIM = 'https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration';
const CONSIDERATIONS = `${CUSTOM_SCIM} (Important Considerations)`;
const USER_EVENTS = `${CUSTOM_SCIM} (SCIM DI User Events)`;
const GROUP_EVENTS = `${CUSTOM_SCIM} (SCIM DI Group Events)`;
/**
 * A JumpCloud connector article (its Heap connector) whose "Group Management Considerations" and attribute tables
 * describe JumpCloud's side of group sync; the custom SCIM article's copy read here shows no such section.
 */
const CONNECTOR = 'https://jumpcloud.com/wp-json/wp/v2/support/85119';
const GROUP_SYNC = `${CONNECTOR} (Group Management Considerations: Group Provisioning and Syncing)`;
const GROUP_DELETION = `${CONNECTOR} (Group Management Considerations: Group Deletion)`;
/**
 * "Troubleshoot Custom SCIM Integrations", linked from CUSTOM_SCIM. Its text was read from a copy of that page
 * served by another host (same path, /support/troubleshoot-custom-scim-integrations), not from jumpcloud.com itself.
 */
const TROUBLESHOOT = 'https://jumpcloud.com/support/troubleshoot-custom-scim-integrations';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let r: Replay;
beforeEach(async () => {
  r = await replay('jumpcloud');
});
afterEach(() => r.server.close());

/** A user as the connector article's User Attributes table maps it: username, firstname, lastname (RFC body). */
function userBody(userName: string, givenName = 'Test', familyName = 'User') {
  return { schemas: [USER], userName, name: { givenName, familyName } };
}

async function created(userName: string): Promise<string> {
  const res = await r.send({ doc: 'fixture', method: 'POST', path: '/Users', body: userBody(userName) });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('JumpCloud custom SCIM connection test (CUSTOM_SCIM, Important Considerations)', () => {
  it('creates a test user and a test group, then deletes both, since scimd supports DELETE', async () => {
    // "A test user and test group are created to test the integration." "You provide a test user account". The
    // requests are not printed: RFC 7644 §3.3 creates.
    const user = await r.send({ doc: CONSIDERATIONS, method: 'POST', path: '/Users', body: userBody('jc.test.user@example.com') });
    expect(user.status).toBe(201);
    // TROUBLESHOOT: "We only support the id as type string"
    expect(typeof user.body.id).toBe('string');
    // "Empty groups are not created" (GROUP_SYNC): the RFC form of a create with its member (whether JumpCloud puts
    // the members in the POST or adds them with a PATCH right after is not said; the PATCH form is replayed below)
    const group = await r.send({
      doc: `${CONSIDERATIONS} + ${GROUP_SYNC} (Empty groups are not created)`,
      method: 'POST',
      path: '/Groups',
      body: { schemas: [GROUP], displayName: 'JumpCloud Test Group', members: [{ value: user.body.id }] },
    });
    expect(group.status).toBe(201);
    expect(typeof group.body.id).toBe('string');
    expect(group.body.members.map((m: any) => m.value)).toEqual([user.body.id]);

    // "Both will be deleted if the DELETE method is supported by the service provider." (RFC 7644 §3.6)
    const delGroup = await r.send({ doc: CONSIDERATIONS, method: 'DELETE', path: `/Groups/${group.body.id}` });
    expect([delGroup.status, delGroup.text]).toEqual([204, '']);
    const delUser = await r.send({ doc: CONSIDERATIONS, method: 'DELETE', path: `/Users/${user.body.id}` });
    expect([delUser.status, delUser.text]).toEqual([204, '']);
    expect((await r.get(`/Users/${user.body.id}`)).status).toBe(404);
    expect((await r.get(`/Groups/${group.body.id}`)).status).toBe(404);

    // the test can be run again with the same test email: a deleted user leaves no tombstone (FIELD-NOTES 11)
    const again = await r.send({ doc: CONSIDERATIONS, method: 'POST', path: '/Users', body: userBody('jc.test.user@example.com') });
    expect(again.status).toBe(201);
  });

  it('a test email that belongs to an existing user fails the test: 409 uniqueness, nothing overwritten', async () => {
    // TROUBLESHOOT: "You are using an existing user's email address to test the SCIM integration. You must use a
    // new and unique user's email for the test to succeed." The create that fails is the RFC form; the 409 is RFC
    // 7644 §3.3.
    const existing = await created('jc.test.user@example.com');
    const res = await r.send({ doc: `${CONSIDERATIONS} + ${TROUBLESHOOT}`, method: 'POST', path: '/Users', body: userBody('jc.test.user@example.com', 'Other', 'Person') });
    expect([res.status, res.body.scimType]).toEqual([409, 'uniqueness']);
    expect((await r.get(`/Users/${existing}`)).body.name).toEqual({ givenName: 'Test', familyName: 'User' });
  });
});

describe('JumpCloud user lifecycle (CUSTOM_SCIM, SCIM DI User Events)', () => {
  it('looks the user up, creates, updates, deactivates and deletes', async () => {
    // user_lookup_provision: JumpCloud looks "up a user to determine if the user needs to be created or updated".
    // The lookup is not printed: the RFC 7644 §3.4.2.2 userName filter (username maps to userName, CONNECTOR).
    const lookup = { doc: `${USER_EVENTS} (user_lookup_provision)`, method: 'GET', path: '/Users?filter=userName eq "kim.lee@example.com"' } as const;
    const none = await r.send(lookup);
    expect(none.status).toBe(200);
    expect([none.body.totalResults, none.body.Resources]).toEqual([0, []]);

    // user_create_provision: "tries to create a new user" (RFC 7644 §3.3)
    const create = await r.send({ doc: `${USER_EVENTS} (user_create_provision)`, method: 'POST', path: '/Users', body: userBody('kim.lee@example.com', 'Kim', 'Lee') });
    expect(create.status).toBe(201);
    const id = create.body.id;
    const found = await r.send(lookup);
    expect(found.body.Resources.map((u: any) => u.id)).toEqual([id]);

    // user_update_provision: "tries to update an existing user". PATCH or PUT is not said; the RFC 7644 §3.5.2.3
    // replace of the changed attribute.
    const update = await r.send({
      doc: `${USER_EVENTS} (user_update_provision)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'name.familyName', value: 'Lee-Park' }] },
    });
    expect(update.status).toBe(200); // jumpcloud follows the RFC: 200 with the resource
    expect(update.body.name).toEqual({ givenName: 'Kim', familyName: 'Lee-Park' });

    // user_deprovision: "tries to change an existing user to inactive" (RFC 7643 §4.1.1 `active`)
    const deactivate = await r.send({
      doc: `${USER_EVENTS} (user_deprovision)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
    });
    expect([deactivate.status, deactivate.body.active]).toEqual([200, false]);
    // an inactive user is still found by the lookup, so JumpCloud updates it rather than creating a second one
    const inactive = await r.send(lookup);
    expect(inactive.body.Resources.map((u: any) => [u.id, u.active])).toEqual([[id, false]]);

    // user_delete_provision: "tries to delete an existing user" (RFC 7644 §3.6)
    const del = await r.send({ doc: `${USER_EVENTS} (user_delete_provision)`, method: 'DELETE', path: `/Users/${id}` });
    expect([del.status, del.text]).toEqual([204, '']);
    expect((await r.send(lookup)).body.totalResults).toBe(0);
  });
});

describe('JumpCloud group sync (CUSTOM_SCIM, SCIM DI Group Events; CONNECTOR, Group Management Considerations)', () => {
  it('takes over a group of the same name, syncs its members, renames it and deletes it', async () => {
    const kim = await created('kim.lee@example.com');
    const sam = await created('sam.roe@example.com');
    const existing = (await r.send({ doc: 'fixture (a group the application already has)', method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: 'Engineering' } })).body.id;

    // "JumpCloud takes over management of existing groups in the application when the user group name in JumpCloud
    // matches the name of the group in the application" (name maps to displayName, CONNECTOR's Group Attributes).
    // How it finds the group is not printed: the RFC 7644 §3.4.2.2 displayName filter.
    const byName = await r.send({ doc: `${GROUP_SYNC} (takeover by name)`, method: 'GET', path: '/Groups?filter=displayName eq "Engineering"' });
    expect(byName.status).toBe(200);
    expect(byName.body.Resources.map((g: any) => g.id)).toEqual([existing]);

    // group_update_provision / "Syncing occurs whenever there is a membership or group change event": the RFC
    // 7644 §3.5.2.1 add of members (the shape JumpCloud sends is not printed)
    const add = await r.send({
      doc: `${GROUP_EVENTS} (group_update_provision)`,
      method: 'PATCH',
      path: `/Groups/${existing}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: kim }, { value: sam }] }] },
    });
    // a group's PATCH answers 204 (RFC 7644 §3.5.2): the group would carry every member
    expect(add.status).toBe(204);
    expect((await r.get(`/Groups/${existing}`)).body.members.map((m: any) => m.value).sort()).toEqual([kim, sam].sort());
    // a member leaving: the RFC 7644 §3.5.2.2 remove with a value filter
    const remove = await r.send({
      doc: `${GROUP_EVENTS} (group_update_provision)`,
      method: 'PATCH',
      path: `/Groups/${existing}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${sam}"]` }] },
    });
    expect(remove.status).toBe(204);
    expect((await r.get(`/Groups/${existing}`)).body.members.map((m: any) => m.value)).toEqual([kim]);

    // "Group renaming is supported": the RFC 7644 §3.5.2.3 replace of displayName
    const rename = await r.send({
      doc: `${GROUP_SYNC} (Group renaming is supported)`,
      method: 'PATCH',
      path: `/Groups/${existing}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Platform Engineering' }] },
    });
    expect(rename.status).toBe(204);
    const renamed = (await r.get(`/Groups/${existing}`)).body;
    expect([renamed.displayName, renamed.members.map((m: any) => m.value)]).toEqual(['Platform Engineering', [kim]]);

    // group_delete_provision; "Managed groups deleted in JumpCloud are deleted in the application" (RFC 7644 §3.6)
    const del = await r.send({ doc: `${GROUP_DELETION} + ${GROUP_EVENTS} (group_delete_provision)`, method: 'DELETE', path: `/Groups/${existing}` });
    expect([del.status, del.text]).toEqual([204, '']);
    expect((await r.get(`/Groups/${existing}`)).status).toBe(404);
    // the users stay; they no longer list the group
    expect((await r.get(`/Users/${kim}`)).body.groups).toBeUndefined();
  });

  it('a group disassociated from the application: the group is left as-is, its members are deactivated', async () => {
    // "If a user group is disassociated from the application in JumpCloud, syncing immediately stops and the group is
    // left as-is in the application. All members of that user group are deactivated in the application unless they
    // are associated with another active application group". Each deactivation is the RFC form of user_deprovision.
    const kim = await created('kim.lee@example.com');
    const group = (await r.send({ doc: 'fixture', method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: 'Contractors', members: [{ value: kim }] } })).body.id;
    const res = await r.send({
      doc: `${GROUP_SYNC} (disassociated group) + ${USER_EVENTS} (user_deprovision)`,
      method: 'PATCH',
      path: `/Users/${kim}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
    });
    expect([res.status, res.body.active]).toEqual([200, false]);
    const left = (await r.get(`/Groups/${group}`)).body;
    expect([left.displayName, left.members.map((m: any) => m.value)]).toEqual(['Contractors', [kim]]);
  });
});

describe('not sourced from JumpCloud: a third-party report of its member-removal shape', () => {
  it('"Azure AD-style" removal {"op":"remove","path":"members","value":[{"value":id}]} removes only that member', async () => {
    // Not JumpCloud's documentation: an app vendor's setup page (https://app.uni-moni.com/en/kb/sso-setup-jumpcloud)
    // says "JC uses a slightly different PATCH format for group members (Azure AD-style value=[{value:uid}] without
    // an RFC filter)". scimd reads that form for every client (normalize.ts, removeByValue), so no dialect rule is
    // needed; this checks a jumpcloud token gets it.
    const kim = await created('kim.lee@example.com');
    const sam = await created('sam.roe@example.com');
    const group = (await r.send({ doc: 'fixture', method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: 'Engineering', members: [{ value: kim }, { value: sam }] } })).body.id;
    const res = await r.send({
      doc: 'third-party report (uni-moni), not a JumpCloud page',
      method: 'PATCH',
      path: `/Groups/${group}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'members', value: [{ value: sam }] }] },
    });
    expect(res.status).toBe(204);
    expect((await r.get(`/Groups/${group}`)).body.members.map((m: any) => m.value)).toEqual([kim]);
  });
});
