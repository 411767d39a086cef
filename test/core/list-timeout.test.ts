/** A list whose filter the database cancels at its statement timeout is the client's to narrow: 400 tooMany. */
import { describe, expect, it } from 'vitest';
import { createScim } from '../../src/core/scim.js';
import { ScimError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/core/ports.js';
import { QueryTimeout } from '../../src/core/errors.js';

describe('a list cancelled at the statement timeout', () => {
  it('is 400 tooMany for a filtered list, a search and a list across types; nothing else about the store changes', async () => {
    const inner = new SqliteStore(':memory:');
    await inner.migrate();
    const org = await inner.ensureOrganization('acme');
    // the store as PostgreSQL behaves when a filter runs past SCIMD_DB_STATEMENT_TIMEOUT
    const store = new Proxy(inner, {
      get: (target, name, receiver) =>
        name === 'listResources' ? async () => Promise.reject(new QueryTimeout('cancelled at the statement timeout')) : Reflect.get(target, name, receiver),
    }) as Store;
    const scim = createScim({ store });
    const ctx = { orgId: org.id, tokenId: 't', tokenName: 't', dialect: 'rfc' as const, baseUrl: 'https://scim.example.com/scim/v2' };
    const failures = [
      scim.list(ctx, 'Users', { filter: 'userName co "a"' }),
      scim.search(ctx, 'Users', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName co "a"' }),
      scim.listAll(ctx, { filter: 'userName co "a"' }),
    ];
    for (const failure of failures) {
      const e = await failure.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ScimError);
      expect((e as ScimError).toJSON()).toMatchObject({ status: '400', scimType: 'tooMany', detail: expect.stringMatching(/narrow it/) });
    }
    const created = await scim.create(ctx, 'Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'alice' });
    expect(created.resource.userName).toBe('alice');
    await inner.close();
  });
});
