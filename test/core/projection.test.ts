/**
 * Projections (RFC 7644 §3.4.2.5) are parsed once a resource type and text, and their answers kept with them: what
 * is kept must never answer for another type, another text, or after the kept ones have been let go.
 */
import { describe, expect, it } from 'vitest';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { isReturned, parseProjection } from '../../src/core/resource/projection.js';
import { renderResource } from '../../src/core/resource/render.js';
import { ENTERPRISE } from '../helpers.js';

const registry = SchemaRegistry.create();
const users = registry.resourceType('User')!;
const groups = registry.resourceType('Group')!;
const ctx = { location: (type: string, id: string) => `https://scim.example.com/${type}/${id}` };
const alice = {
  orgId: 'o', resourceType: 'User', id: 'u1', version: 1, created: '2024-01-01T00:00:00.000Z', lastModified: '2024-01-01T00:00:00.000Z',
  attributes: { userName: 'alice', displayName: 'Alice', emails: [{ value: 'a@x.com', type: 'work' }], [ENTERPRISE]: { employeeNumber: '7' } },
};
const shown = (attributes?: string, excluded?: string) => Object.keys(renderResource(users, alice, {}, parseProjection(users, attributes, excluded), ctx));

describe('projections', () => {
  it('answer the same the first time and every time after', () => {
    for (let i = 0; i < 3; i++) {
      expect(shown(undefined, 'emails,displayName')).toEqual(['schemas', 'id', 'userName', ENTERPRISE, 'meta']);
      expect(shown('emails.type')).toEqual(['schemas', 'id', 'emails']);
      expect(renderResource(users, alice, {}, parseProjection(users, 'emails.type'), ctx).emails).toEqual([{ type: 'work' }]);
      expect(shown()).toEqual(['schemas', 'id', 'userName', 'displayName', 'emails', ENTERPRISE, 'meta']);
    }
  });

  it('are kept apart by resource type: the same text names what it names in each', () => {
    const members = groups.coreAttribute('members')!;
    const displayName = (rt: typeof users) => rt.coreAttribute('displayName')!;
    expect(isReturned(parseProjection(groups, undefined, 'members'), groups.schema.id, members)).toBe(false);
    expect(isReturned(parseProjection(users, undefined, 'members'), groups.schema.id, members)).toBe(true); // Users have no members: nothing is excluded
    expect(isReturned(parseProjection(users, 'displayName'), users.schema.id, displayName(users))).toBe(true);
    expect(isReturned(parseProjection(users, 'displayName'), users.schema.id, users.coreAttribute('userName')!)).toBe(false);
    expect(isReturned(parseProjection(users, 'displayName'), users.schema.id, users.coreAttribute('emails')!)).toBe(false);
  });

  it('stay right when a client sends more different ones than are kept', () => {
    for (let i = 0; i < 200; i++) expect(shown(undefined, `displayName,x${i}`)).toEqual(['schemas', 'id', 'userName', 'emails', ENTERPRISE, 'meta']);
    expect(shown(undefined, 'emails')).toEqual(['schemas', 'id', 'userName', 'displayName', ENTERPRISE, 'meta']);
  });

  it('without attributes or excludedAttributes, every attribute returned by default', () => {
    const p = parseProjection(users);
    expect(p).toEqual({});
    expect(parseProjection(users, '', '')).toEqual({});
  });
});
