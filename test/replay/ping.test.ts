/**
 * Ping Identity (PingOne and PingFederate SCIM provisioners), replayed from Ping's documentation (token dialect
 * `ping`). The pages document how the provisioner looks a user up before it creates or updates one: the filter
 * expression, with the value as a placeholder. They describe creates, updates, deprovisioning and group pushes in
 * prose without printing the requests, so only the lookups are replayed; the rest is not sourced.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type Replay } from './replay.js';

/** PingOne, "SCIM filter expressions": `username Eq "%s"`, the user identifier replacing `%s`. */
const PINGONE_FILTERS = 'https://docs.pingidentity.com/pingone/integrations/p1_scim_filter_expressions.html';
/** PingFederate SCIM Provisioner, "SCIM provisioner settings reference", field "Unique User Identifier". */
const PINGFEDERATE_SETTINGS = 'https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_scim_connector_settings_reference.html';

let r: Replay;
beforeEach(async () => {
  r = await replay('ping');
});
afterEach(() => r.server.close());

async function lookup(doc: string, filter: string): Promise<string[]> {
  const res = await r.send({ doc, method: 'GET', path: `/Users?filter=${filter}` });
  expect(res.status).toBe(200);
  return res.body.Resources.map((u: any) => u.id);
}

describe('Ping provisioner user lookups', () => {
  it('finds nobody before the create and the user after it, with each documented expression', async () => {
    // %s / <value> filled in as PingOne's example writes it, inside quotes
    const expressions = [
      [`${PINGONE_FILTERS} (Example filter expressions)`, 'username Eq "jsmith@example.com"'],
      [`${PINGFEDERATE_SETTINGS} (Unique User Identifier: userName)`, 'userName eq "jsmith@example.com"'],
      [`${PINGFEDERATE_SETTINGS} (Unique User Identifier: workEmail)`, 'emails eq "janet.smith@example.com"'],
    ] as const;
    for (const [doc, filter] of expressions) expect(await lookup(doc, filter)).toEqual([]);

    const created = await r.send({
      doc: 'fixture (the create request is not printed by the pages)',
      method: 'POST',
      path: '/Users',
      headers: { 'Content-Type': 'application/json' }, // FIELD-NOTES 9: PingFederate sends application/json
      body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'jsmith@example.com', emails: [{ value: 'janet.smith@example.com', type: 'work' }] },
    });
    expect(created.status).toBe(201);
    for (const [doc, filter] of expressions) expect(await lookup(doc, filter)).toEqual([created.body.id]);
  });
});
