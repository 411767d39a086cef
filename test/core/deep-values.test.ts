/**
 * Values nested thousands of levels deep given to the core directly, as a library caller may (no HTTP handler bounds
 * them first): refused with 400 like any other wrong value, never a stack overflow's 500; in a Bulk request only the
 * operation that carries one fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScim, type CallContext } from '../../src/core/scim.js';
import { ScimError } from '../../src/core/errors.js';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const LEVELS = 20_000;

/** Arrays or objects nested `LEVELS` deep (JSON.parse builds them without recursion). */
const deepArray = () => JSON.parse('['.repeat(LEVELS) + '"bulkId:x"' + ']'.repeat(LEVELS)) as unknown;
const deepObject = () => JSON.parse('{"value":'.repeat(LEVELS) + '"x"' + '}'.repeat(LEVELS)) as unknown;

let store: SqliteStore;
let scim: ReturnType<typeof createScim>;
let ctx: CallContext;
let userId: string;
let groupId: string;
beforeAll(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  const org = await store.ensureOrganization('acme');
  scim = createScim({ store, registry: SchemaRegistry.create() });
  ctx = { orgId: org.id, tokenId: 't', tokenName: 't', dialect: 'rfc', baseUrl: 'https://scim.example.com/scim/v2' };
  userId = (await scim.create(ctx, 'Users', { schemas: [USER], userName: 'alice' })).resource.id as string;
  groupId = (await scim.create(ctx, 'Groups', { schemas: [GROUP], displayName: 'g' })).resource.id as string;
});
afterAll(() => store.close());

async function refusal(run: () => Promise<unknown>): Promise<ScimError> {
  const e = await run().then(() => undefined, (x: unknown) => x);
  expect(e, String(e)).toBeInstanceOf(ScimError);
  return e as ScimError;
}

describe.each([['arrays', deepArray], ['objects', deepObject]])('%s nested 20,000 deep, given to createScim directly', (_kind, deep) => {
  it('in a typed attribute, an extension attribute or a group\'s members: 400 invalidValue, the value shown cut short', async () => {
    const bodies: [string, unknown][] = [
      ['Users', { schemas: [USER], userName: 'b', title: deep() }],
      ['Users', { schemas: [USER], userName: 'b', emails: deep() }],
      ['Users', { schemas: [USER, ENTERPRISE], userName: 'b', [ENTERPRISE]: { manager: deep() } }],
      ['Groups', { schemas: [GROUP], displayName: 'h', members: deep() }],
    ];
    for (const [endpoint, body] of bodies) {
      const e = await refusal(() => scim.create(ctx, endpoint, body));
      expect([e.status, e.scimType]).toEqual([400, 'invalidValue']);
      expect(e.detail.length).toBeLessThan(400);
    }
  });

  it('in a PATCH value, with and without a path: 400', async () => {
    for (const operation of [{ op: 'replace', path: 'title', value: deep() }, { op: 'add', path: 'members', value: deep() }, { op: 'replace', value: { title: deep() } }]) {
      const endpoint = operation.path === 'members' ? 'Groups' : 'Users';
      const e = await refusal(() => scim.patch(ctx, endpoint, endpoint === 'Groups' ? groupId : userId, { schemas: [PATCH_OP], Operations: [operation] }));
      expect(e.status).toBe(400);
    }
    const e = await refusal(() => scim.patch(ctx, 'Users', userId, { schemas: [PATCH_OP], Operations: [{ op: deep(), path: 'title', value: 'x' }] }));
    expect([e.status, e.scimType]).toEqual([400, 'invalidSyntax']);
  });

  it('in a Bulk operation\'s data: that operation fails with 400 invalidSyntax, the others stand', async () => {
    const response = await scim.bulk(ctx, {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'x', data: { schemas: [USER], userName: `before-${_kind}` } },
        { method: 'POST', path: '/Users', bulkId: 'y', data: { schemas: [USER], userName: 'deep', title: deep() } },
        { method: 'PATCH', path: `/Users/${userId}`, data: deep() },
        { method: 'POST', path: '/Users', data: { schemas: [USER], userName: `after-${_kind}` } },
      ],
    });
    expect(response.Operations.map((o) => o.status)).toEqual(['201', '400', '400', '201']);
    expect(response.Operations[1]!.response).toMatchObject({ scimType: 'invalidSyntax', detail: expect.stringContaining('Operations[1].data nests deeper than 64 levels') });
  });
});
