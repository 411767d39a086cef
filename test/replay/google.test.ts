/**
 * Google Workspace / Cloud Identity automated user provisioning, replayed from Google's own help pages (token dialect
 * `google`). Google publishes no request-level documentation of what it sends: no method, path, header or body is
 * printed on support.google.com, and no page for app developers or partners describes its SCIM client. Its help
 * pages say what provisioning does: changes to users in the Admin console (add, modify, delete) are saved to the
 * app; it "operates on active, suspended, or deleted users only"; and, per app, an admin chooses what happens when
 * the app is turned off for a user or the user is suspended or deleted in Google (suspend and/or delete the
 * account in the app). Each step below cites that sentence and sends the RFC 7644 form of the operation, saying so.
 *
 * Not sourced: every method, path and body; which attributes Google sends (its pages say only that the app's
 * attributes are mapped to Google directory attributes, per app); whether a modify is PATCH or PUT; that "suspend"
 * reaches a SCIM server as `active: false` (that is RFC 7643's meaning of `active`, not Google's word); the
 * lookup before a create; groups (the pages name groups only as a scope that limits who is provisioned). Third-party
 * guides (e.g. one saying "Google fires a probe against /scim/v2/Users?count=1") are not replayed. Google's pages
 * list preconfigured catalog apps; that custom SAML apps get SCIM provisioning is not documented there.
 *
 * No dialect rule: nothing documented contradicts the RFC.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type Replay } from './replay.js';

/**
 * Google Workspace Admin Help, "About automated user provisioning". The stored support.google.com copy has "you can
 * automatically save changes to user identities in the Google Admin console for all supported apps" and "operates on
 * active, suspended, or deleted users only"; the "add, modify, or delete" sentence quoted below is in the page's
 * current version (read from a copy under the same path on another host, and in Google's own Portuguese rendering
 * at knowledge.workspace.google.com/admin/users/advanced/about-automated-user-provisioning).
 */
const ABOUT = 'https://support.google.com/a/answer/7681608';
/** Cloud Identity Help, "Automated user provisioning and deprovisioning". */
const CLOUD_IDENTITY = 'https://support.google.com/cloudidentity/topic/7661972';
/**
 * Google Workspace Admin Help, automated provisioning for one catalog app (Dropbox Business), step "Decide how long
 * users have access to the app after the app is turned off for them or their Google Workspace account is suspended
 * or deleted". Its text was read from a copy served by another host under the same path (/a/answer/7291648).
 * Dropbox's connector is authorized with OAuth ("Click Authorize"), so the page does not show Google speaking SCIM;
 * it is cited only for Google's deprovisioning choices, which the Admin console offers per app.
 */
const DEPROVISIONING = 'https://support.google.com/a/answer/7291648 (Set up automated user provisioning: deprovisioning options)';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let r: Replay;
beforeEach(async () => {
  r = await replay('google');
});
afterEach(() => r.server.close());

/**
 * A user from the Google directory attributes the pages name when they ask for the app's attributes to be mapped
 * (primary email, first name, last name); the SCIM body is the RFC 7643 §4.1 form, not Google's (unprinted).
 */
const alex = { schemas: [USER], userName: 'alex@example.com', name: { givenName: 'Alex', familyName: 'Doe' }, emails: [{ value: 'alex@example.com', primary: true }] };

describe('Google automated user provisioning (ABOUT, CLOUD_IDENTITY)', () => {
  it('adds, modifies and deletes a user as the Admin console does', async () => {
    // ABOUT: "you can add, modify, or delete a user in the Admin console and that user's info will be added,
    // modified, or deleted from the third-party application as well"; CLOUD_IDENTITY: "automatically save any
    // changes to users' identities in the Google Admin console". Add: the RFC 7644 §3.3 create.
    const add = await r.send({ doc: `${ABOUT} (added)`, method: 'POST', path: '/Users', body: alex });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ userName: 'alex@example.com', name: { givenName: 'Alex', familyName: 'Doe' } });
    const id = add.body.id;

    // Modify: the RFC 7644 §3.5.2.3 replace (PATCH or PUT is not said)
    const modify = await r.send({
      doc: `${ABOUT} (modified)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'name.familyName', value: 'Doe-Smith' }] },
    });
    expect(modify.status).toBe(200); // google follows the RFC: 200 with the resource
    expect(modify.body.name).toEqual({ givenName: 'Alex', familyName: 'Doe-Smith' });

    // A primary email changed in Google: the same replace on the RFC form of the mapped attributes
    const rename = await r.send({
      doc: `${ABOUT} (modified)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'replace', path: 'userName', value: 'alex.doe@example.com' },
          { op: 'replace', path: 'emails[primary eq true].value', value: 'alex.doe@example.com' },
        ],
      },
    });
    expect(rename.status).toBe(200);
    expect([rename.body.userName, rename.body.emails]).toEqual(['alex.doe@example.com', [{ value: 'alex.doe@example.com', primary: true }]]);

    // Delete: the RFC 7644 §3.6 delete
    const del = await r.send({ doc: `${ABOUT} (deleted)`, method: 'DELETE', path: `/Users/${id}` });
    expect([del.status, del.text]).toEqual([204, '']);
    expect((await r.get(`/Users/${id}`)).status).toBe(404);
    // re-adding the same person later is a plain create again (FIELD-NOTES 11: no tombstone blocks it)
    expect((await r.send({ doc: `${ABOUT} (added)`, method: 'POST', path: '/Users', body: alex })).status).toBe(201);
  });
});

describe('Google deprovisioning options (DEPROVISIONING; ABOUT: "operates on active, suspended, or deleted users only")', () => {
  it('"suspend their account" in the app: the user is inactive, still readable and findable, and can come back', async () => {
    const id = (await r.send({ doc: `${ABOUT} (added)`, method: 'POST', path: '/Users', body: alex })).body.id;
    // DEPROVISIONING: for "When an app is turned off for a user", "When a user is suspended from Google" and "When a
    // user is deleted from Google", the admin may "suspend" the account in the app. The request is not printed: the
    // RFC 7643 §4.1.1 `active` set to false with an RFC 7644 §3.5.2.3 replace.
    const suspend = await r.send({
      doc: `${DEPROVISIONING} (suspend)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
    });
    expect([suspend.status, suspend.body.active]).toEqual([200, false]);
    expect((await r.get(`/Users/${id}`)).body.active).toBe(false);
    const byName = await r.get('/Users?filter=userName eq "alex@example.com"');
    expect(byName.body.Resources.map((u: any) => [u.id, u.active])).toEqual([[id, false]]);

    // Reactivation is not described by the pages (ABOUT only says provisioning operates on active users too): the
    // RFC form, checking that a suspended user can be made active again
    const restore = await r.send({
      doc: `${ABOUT} (active, suspended, or deleted users)`,
      method: 'PATCH',
      path: `/Users/${id}`,
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] },
    });
    expect([restore.status, restore.body.active]).toEqual([200, true]);
  });

  it('"suspend and then hard delete": the suspended user is deleted later', async () => {
    const id = (await r.send({ doc: `${ABOUT} (added)`, method: 'POST', path: '/Users', body: alex })).body.id;
    // DEPROVISIONING: "You can decide to suspend and then hard delete their account ... Or, just suspend or hard
    // delete them", each after a chosen delay. RFC forms: replace active, then DELETE.
    await r.send({ doc: `${DEPROVISIONING} (suspend)`, method: 'PATCH', path: `/Users/${id}`, body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] } });
    const del = await r.send({ doc: `${DEPROVISIONING} (hard delete)`, method: 'DELETE', path: `/Users/${id}` });
    expect([del.status, del.text]).toEqual([204, '']);
    expect((await r.get('/Users?filter=userName eq "alex@example.com"')).body.totalResults).toBe(0);
  });
});
