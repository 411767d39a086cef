/**
 * OneLogin, replayed from its own developer documentation (token dialect `onelogin`). OneLogin publishes the user
 * body it sends as a "SCIM JSON template" that the app owner pastes into the SCIM Provisioner app; the `{$…}`
 * placeholders are filled from the OneLogin user, here with sample values. The pages name the other calls (Get
 * User by userName, Update User, Patch Group, ...) without printing their requests, so only what is printed is
 * replayed: the connection check and the create. PATCH, group and delete requests are not replayed (not sourced).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type Replay } from './replay.js';

/** "Step 1. Define Your SCIM User Schema". */
const SCHEMA_PAGE = 'https://developers.onelogin.com/scim/define-user-schema';
/** "Step 2. Implement RESTful SCIM APIs for Your App", section "Example API Flow". */
const API_FLOW = 'https://developers.onelogin.com/scim/implement-scim-api#example-api-flow';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let r: Replay;
beforeEach(async () => {
  r = await replay('onelogin');
});
afterEach(() => r.server.close());

describe('OneLogin SCIM Provisioner (developers.onelogin.com/scim)', () => {
  it('the initial connection: a Get User by userName that matches nobody is an empty list, not an error', async () => {
    // API_FLOW, step 1: "a Get User by userName request using a userName filter value that it knows is
    // non-existent"; "respond with an empty array of users". The page describes the request, it does not print it:
    // this is the RFC 7644 form of a userName filter.
    const res = await r.send({ doc: `${API_FLOW} (1. Initial connection)`, method: 'GET', path: '/Users?filter=userName eq "non-existent-user@onelogin.example"' });
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(0);
    expect(res.body.Resources).toEqual([]);
  });

  it('creates a user from the OneLogin Core User Schema template (SCIM 1.1 core URN in "schemas")', async () => {
    const res = await r.send({
      doc: `${SCHEMA_PAGE} (OneLogin Core User Schema)`,
      method: 'POST',
      path: '/Users',
      body: {
        schemas: ['urn:scim:schemas:core:1.0'],
        userName: 'kelly.doe@onelogin.example', // {$parameters.scimusername}
        name: {
          givenName: 'Kelly', // {$user.firstname}
          familyName: 'Doe', // {$user.lastname}
          formatted: 'Kelly Doe', // {$user.display_name}
        },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'kelly.doe@onelogin.example',
      name: { givenName: 'Kelly', familyName: 'Doe', formatted: 'Kelly Doe' },
    });
    const found = await r.get('/Users?filter=userName eq "kelly.doe@onelogin.example"');
    expect(found.body.Resources.map((u: any) => u.id)).toEqual([res.body.id]);
  });

  it('creates a user from the OneLogin Enterprise User Schema template (single email object, SCIM 1.1 enterprise extension)', async () => {
    const manager = (await r.send({ doc: 'fixture', method: 'POST', path: '/Users', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'boss@onelogin.example' } })).body.id;
    const res = await r.send({
      doc: `${SCHEMA_PAGE} (OneLogin Enterprise User Schema)`,
      method: 'POST',
      path: '/Users',
      body: {
        schemas: ['urn:scim:schemas:core:1.0', 'urn:scim:schemas:extension:enterprise:1.0'],
        userName: 'kelly.doe@onelogin.example', // {$parameters.scimusername}
        name: {
          familyName: 'Doe', // {$user.lastname}
          givenName: 'Kelly', // {$user.firstname}
          formatted: 'Kelly Doe', // {$user.display_name}
        },
        emails: {
          value: 'kelly.doe@onelogin.example', // {$user.email}
          type: 'work',
          primary: true,
        },
        title: 'Engineer', // {$parameters.title}
        'urn:scim:schemas:extension:enterprise:1.0': {
          department: 'Platform', // {$parameters.department}
          manager: {
            managerId: manager, // {$parameters.external_manager_id}
            displayName: 'Boss Person', // {$user.manager_firstname} {$user.manager_lastname}
          },
        },
      },
    });
    expect(res.status).toBe(201);
    const u = (await r.get(`/Users/${res.body.id}`)).body;
    expect(u).toMatchObject({
      userName: 'kelly.doe@onelogin.example',
      emails: [{ value: 'kelly.doe@onelogin.example', type: 'work', primary: true }],
      title: 'Engineer',
      [ENTERPRISE]: { department: 'Platform', manager: { value: manager } },
    });
    expect(u.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE]);
  });
});
