/**
 * What each identity provider's own connection test sends ("Test Connection" in Entra, "Test Connector
 * Configuration" in Okta, JumpCloud's test user and group…), as steps the console runs through the SCIM handler with
 * a token's context, so an admin sees before going live what the IdP will see. Pure: the steps and their verdicts.
 */
import { randomUUID } from 'node:crypto';
import type { Dialect } from './tokens.js';

export interface ConnectionStep {
  /** What the IdP does, in its documentation's words. */
  readonly name: string;
  readonly method: string;
  /** Below the SCIM root, with its query. */
  readonly path: string;
  readonly body?: unknown;
  /** The answer the IdP accepts, in words, and the check. */
  readonly expect: string;
  readonly check: (status: number, body: any) => boolean;
  /** Keep the answer's `id` under this name, for later steps' paths (`{user}`). */
  readonly keep?: string;
}

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const isList = (body: any) => Array.isArray(body?.schemas) && body.schemas.includes('urn:ietf:params:scim:api:messages:2.0:ListResponse');

const discovery: ConnectionStep = {
  name: 'Read the service provider configuration',
  method: 'GET', path: '/ServiceProviderConfig',
  expect: '200 with the ServiceProviderConfig schema',
  check: (status, body) => status === 200 && Array.isArray(body?.schemas),
};

/** The steps of `dialect`'s connection test; the unique names keep the test's own resources apart from real ones. */
export function connectionTest(dialect: Dialect): ConnectionStep[] {
  const probe = `scimd-connection-test-${randomUUID()}`;
  switch (dialect) {
    case 'entra':
      return [{
        name: 'Test Connection: query a user that does not exist',
        method: 'GET', path: `/Users?filter=${encodeURIComponent(`userName eq "${probe}"`)}`,
        expect: '200 with an empty ListResponse (totalResults 0)',
        check: (status, body) => status === 200 && isList(body) && body.totalResults === 0,
      }];
    case 'okta':
      return [
        {
          name: 'Test Connector Configuration: list users',
          method: 'GET', path: '/Users?startIndex=1&count=2',
          expect: '200 with a ListResponse',
          check: (status, body) => status === 200 && isList(body),
        },
        {
          name: 'Look a user up by userName before creating it',
          method: 'GET', path: `/Users?filter=${encodeURIComponent(`userName eq "${probe}"`)}&startIndex=1&count=100`,
          expect: '200 with an empty ListResponse',
          check: (status, body) => status === 200 && isList(body) && body.totalResults === 0,
        },
        {
          name: 'List groups (Push Groups)',
          method: 'GET', path: '/Groups?startIndex=1&count=2',
          expect: '200 with a ListResponse',
          check: (status, body) => status === 200 && isList(body),
        },
      ];
    case 'jumpcloud':
      return [
        {
          name: 'Create a test user', method: 'POST', path: '/Users', body: { schemas: [USER], userName: probe, active: true },
          expect: '201 with the user and its id', keep: 'user',
          check: (status, body) => status === 201 && typeof body?.id === 'string',
        },
        {
          name: 'Create a test group', method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: probe },
          expect: '201 with the group and its id', keep: 'group',
          check: (status, body) => status === 201 && typeof body?.id === 'string',
        },
        { name: 'Delete the test user', method: 'DELETE', path: '/Users/{user}', expect: '204', check: (status) => status === 204 },
        { name: 'Delete the test group', method: 'DELETE', path: '/Groups/{group}', expect: '204', check: (status) => status === 204 },
      ];
    default:
      return [
        discovery,
        {
          name: 'List users', method: 'GET', path: '/Users?startIndex=1&count=1',
          expect: '200 with a ListResponse', check: (status, body) => status === 200 && isList(body),
        },
        {
          name: 'Query a user that does not exist', method: 'GET', path: `/Users?filter=${encodeURIComponent(`userName eq "${probe}"`)}`,
          expect: '200 with an empty ListResponse', check: (status, body) => status === 200 && isList(body) && body.totalResults === 0,
        },
      ];
  }
}

/** A step's path with the ids earlier steps recorded (`{user}` → the test user's id). */
export function stepPath(step: ConnectionStep, vars: ReadonlyMap<string, string>): string {
  return step.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(vars.get(name) ?? name));
}
