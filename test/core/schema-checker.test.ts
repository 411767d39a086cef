import { describe, expect, it } from 'vitest';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { checkResource } from '../../src/core/resource/schema-checker.js';
import { protectSecrets, verifySecret } from '../../src/core/resource/secrets.js';
import { ScimError } from '../../src/core/errors.js';
import { loadSchemaBundle } from '../../src/schema-files.js';
import { ENTERPRISE, STUDENT, STUDENT_BUNDLE, USER } from '../helpers.js';

const registry = SchemaRegistry.create({ bundles: [loadSchemaBundle(STUDENT_BUNDLE)] });
const users = registry.resourceType('User')!;
const groups = registry.resourceType('Group')!;

function scimErrorOf(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScimError) return e;
    throw e;
  }
  throw new Error('expected a ScimError');
}

describe('checkResource', () => {
  it('canonicalises attribute names and schema URNs, which are case-insensitive (RFC 7643 §2.1)', () => {
    const out = checkResource(users, {
      SCHEMAS: [USER.toUpperCase()],
      USERNAME: 'bjensen',
      Name: { GIVENNAME: 'Barbara' },
      [ENTERPRISE.toUpperCase()]: { EmployeeNumber: '7' },
      [`${USER}:displayName`]: 'Babs',
    });
    expect(out).toEqual({ userName: 'bjensen', name: { givenName: 'Barbara' }, displayName: 'Babs', [ENTERPRISE]: { employeeNumber: '7' } });
  });

  it('ignores readOnly attributes at any depth, and attributes it does not know', () => {
    const out = checkResource(users, {
      schemas: [USER],
      id: 'client-chosen',
      meta: { created: '2000-01-01T00:00:00Z' },
      groups: [{ value: 'g1' }],
      userName: 'u',
      adreses: [{ country: 'DE' }],
      'urn:example:unknown': { x: 1 },
      [ENTERPRISE]: { manager: { value: 'm1', displayName: 'readOnly' } },
    });
    expect(out).toEqual({ userName: 'u', [ENTERPRISE]: { manager: { value: 'm1' } } });
  });

  it('applies the documented IdP tolerances', () => {
    const out = checkResource(users, {
      schemas: ['urn:scim:schemas:core:2.0'], // OneLogin's legacy core URN
      userName: 'u',
      active: 'False', // Entra ID
      emails: { value: 'a@example.com', primary: 'TRUE' }, // a single value where an array belongs
      [ENTERPRISE]: { manager: 'boss-id' }, // Entra's bare manager id
    });
    expect(out).toEqual({ userName: 'u', active: false, emails: [{ value: 'a@example.com', primary: true }], [ENTERPRISE]: { manager: { value: 'boss-id' } } });
    // "" clears the manager
    expect(checkResource(users, { schemas: [USER], userName: 'u', [ENTERPRISE]: { manager: '' } })).toEqual({ userName: 'u' });
  });

  it('reads the SCIM 1.1 enterprise extension of OneLogin\'s template as the 2.0 one, managerId as manager.value', () => {
    const out = checkResource(users, {
      schemas: ['urn:scim:schemas:core:1.0', 'urn:scim:schemas:extension:enterprise:1.0'],
      userName: 'u',
      'urn:scim:schemas:extension:enterprise:1.0': { department: 'Platform', manager: { managerId: 'boss-id', displayName: 'Boss' } },
    });
    expect(out).toEqual({ userName: 'u', [ENTERPRISE]: { department: 'Platform', manager: { value: 'boss-id' } } });
    // not for Groups, which have no enterprise extension: ignored like any unknown attribute
    expect(checkResource(groups, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g', 'urn:scim:schemas:extension:enterprise:1.0': { department: 'x' } })).toEqual({ displayName: 'g' });
  });

  it('treats null, empty arrays and empty objects as unassigned (RFC 7643 §2.5)', () => {
    expect(checkResource(users, { schemas: [USER], userName: 'u', displayName: null, emails: [], name: {} })).toEqual({ userName: 'u' });
  });

  it.each([
    [{ userName: 'u', active: 'yes' }, 'invalidValue', /active/],
    [{ userName: 'u', displayName: 5 }, 'invalidValue', /displayName/],
    [{ userName: 'u', name: 'Barbara' }, 'invalidValue', /name/],
    [{ userName: ['u'] }, 'invalidValue', /single-valued/],
    [{ userName: 'u', emails: [{ value: 'a', primary: true }, { value: 'b', primary: true }] }, 'invalidValue', /primary/],
    [{ userName: 'u', x509Certificates: [{ value: 'not base64!' }] }, 'invalidValue', /base64/],
    [{ userName: '' }, 'invalidValue', /userName.*required/],
    [{}, 'invalidValue', /userName.*required/],
    [{ userName: 'u', [ENTERPRISE]: 'x' }, 'invalidSyntax', /JSON object/],
    [{ userName: 'u', [STUDENT]: { faculty: 'Law' } }, 'invalidValue', /studentNumber.*required/],
    [{ userName: 'u', [STUDENT]: { studentNumber: 's1', enrollmentYear: 2020.5 } }, 'invalidValue', /integer/],
    [{ userName: 'u', [STUDENT]: { studentNumber: 's1', courses: [{ value: 'c', startDate: '2024-13-01' }] } }, 'invalidValue', /dateTime/],
    [{ userName: 'u', [STUDENT]: { studentNumber: 's1', courses: [{ display: 'no code' }] } }, 'invalidValue', /courses\[0\]\.value.*required/],
  ])('rejects %j with %s', (body, scimType, detail) => {
    const e = scimErrorOf(() => checkResource(users, { schemas: [USER], ...body }));
    expect([e.status, e.scimType]).toEqual([400, scimType]);
    expect(e.detail).toMatch(detail);
  });

  it('requires schemas to name the resource type (RFC 7644 §3.3)', () => {
    expect(scimErrorOf(() => checkResource(users, { userName: 'u' })).scimType).toBe('invalidSyntax');
    expect(scimErrorOf(() => checkResource(users, { schemas: USER, userName: 'u' })).scimType).toBe('invalidSyntax');
    expect(scimErrorOf(() => checkResource(groups, { schemas: [USER], displayName: 'g' })).detail).toMatch(/Group/);
    // unknown URNs beside the right one are fine
    expect(checkResource(groups, { schemas: [groups.schema.id, 'urn:ietf:params:scim:schemas:extension:microsoft:2.0:Group'], displayName: 'g' })).toEqual({ displayName: 'g' });
  });

  it('enforces immutable on replace: a set value may not change, and omitted it is kept (RFC 7644 §3.5.1)', () => {
    const existing = { userName: 'u', [STUDENT]: { studentNumber: 's1', faculty: 'Law' } };
    const e = scimErrorOf(() => checkResource(users, { schemas: [USER], userName: 'u', [STUDENT]: { studentNumber: 's2' } }, { existing }));
    expect([e.status, e.scimType]).toEqual([400, 'mutability']);
    expect(checkResource(users, { schemas: [USER], userName: 'u', [STUDENT]: { studentNumber: 's1' } }, { existing })).toEqual({ userName: 'u', [STUDENT]: { studentNumber: 's1' } });
    expect(checkResource(users, { schemas: [USER], userName: 'u', [STUDENT]: { faculty: 'Arts' } }, { existing })).toEqual({ userName: 'u', [STUDENT]: { studentNumber: 's1', faculty: 'Arts' } });
    expect(checkResource(users, { schemas: [USER], userName: 'u' }, { existing })).toEqual({ userName: 'u', [STUDENT]: { studentNumber: 's1' } });
  });
});

describe('protectSecrets', () => {
  it('stores writeOnly values only as salted scrypt hashes, and keeps the stored one when omitted', async () => {
    const a = { userName: 'u', password: 't1meMa$heen' };
    const b = { userName: 'v', password: 't1meMa$heen' };
    await protectSecrets(users, a);
    await protectSecrets(users, b);
    expect(a.password).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$/);
    expect(a.password).not.toContain('t1meMa$heen');
    expect(a.password).not.toBe(b.password); // salted
    expect(await verifySecret('t1meMa$heen', a.password)).toBe(true);
    expect(await verifySecret('wrong', a.password)).toBe(false);
    const replaced: Record<string, unknown> = { userName: 'u' };
    await protectSecrets(users, replaced, a);
    expect(replaced.password).toBe(a.password);
  });
});
