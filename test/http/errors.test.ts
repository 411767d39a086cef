/** http/errors.ts: what a request failed with → its SCIM error. */
import { describe, expect, it } from 'vitest';
import { toScimError } from '../../src/http/errors.js';
import { QueryTimeout, StoreUnavailable } from '../../src/core/errors.js';

describe('toScimError', () => {
  it('the database being unavailable is 503 with Retry-After and a SCIM error body, not a 500', () => {
    const e = toScimError(new StoreUnavailable('the database is unavailable: connect ECONNREFUSED'), 1024);
    expect([e.status, e.headers]).toEqual([503, { 'Retry-After': '1' }]);
    expect(e.toJSON()).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '503',
      detail: expect.stringMatching(/^The database is unavailable; send the request again shortly/),
    });
  });

  it('a statement cancelled at the statement timeout, outside a list (which the core answers itself), is 503 too', () => {
    const e = toScimError(new QueryTimeout('the database cancelled a statement at the statement timeout'), 1024);
    expect([e.status, e.headers]).toEqual([503, { 'Retry-After': '1' }]);
  });

  it('any other error is a 500 that says nothing of its cause', () => {
    const e = toScimError(new Error('connect ECONNREFUSED 10.0.0.1:5432'), 1024);
    expect([e.status, e.detail]).toEqual([500, 'The server failed to process the request; it has been logged.']);
  });
});
