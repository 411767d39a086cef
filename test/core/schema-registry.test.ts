import { describe, expect, it } from 'vitest';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { parseBundle, SchemaDefinitionError } from '../../src/core/schema/definitions.js';
import { loadSchemaBundle } from '../../src/schema-files.js';
import { ENTERPRISE, STUDENT, STUDENT_BUNDLE, USER } from '../helpers.js';

const registry = SchemaRegistry.create({ bundles: [loadSchemaBundle(STUDENT_BUNDLE)] });
const users = registry.resourceType('User')!;

describe('SchemaRegistry', () => {
  it('holds User, Group and EnterpriseUser with every RFC 7643 §4 attribute', () => {
    expect(users.schema.attributes.map((a) => a.name)).toEqual([
      'userName', 'name', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale',
      'timezone', 'active', 'password', 'emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'groups', 'entitlements',
      'roles', 'x509Certificates',
    ]);
    expect(registry.schema(ENTERPRISE)!.attributes.map((a) => a.name)).toEqual([
      'employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager',
    ]);
    const password = users.coreAttribute('PASSWORD')!;
    expect([password.mutability, password.returned]).toEqual(['writeOnly', 'never']);
    expect(users.coreAttribute('userName')).toMatchObject({ required: true, caseExact: false, uniqueness: 'server' });
    expect(users.coreAttribute('groups')!.mutability).toBe('readOnly');
  });

  it('resolves attribute paths case-insensitively, with and without schema URNs (RFC 7643 §2.1, RFC 7644 §3.10)', () => {
    expect(users.resolve('USERNAME')?.attribute.name).toBe('userName');
    expect(users.resolve('name.GivenName')?.subAttribute?.name).toBe('givenName');
    expect(users.resolve(`${USER}:name.familyName`)?.subAttribute?.name).toBe('familyName');
    const manager = users.resolve(`${ENTERPRISE.toUpperCase()}:manager.value`)!;
    expect([manager.schema, manager.inExtension, manager.attribute.name, manager.subAttribute?.name]).toEqual([ENTERPRISE, true, 'manager', 'value']);
    expect(users.resolve(`${ENTERPRISE}:employeeNumber`)?.attribute.name).toBe('employeeNumber');
    expect(users.resolve(`${STUDENT}:courses.startDate`)?.subAttribute?.type).toBe('dateTime');
    expect(users.resolve('meta.lastModified')?.subAttribute?.type).toBe('dateTime');
    expect(users.resolve('id')?.attribute.caseExact).toBe(true);
    expect(users.resolve('nope')).toBeUndefined();
    expect(users.resolve('name.nope')).toBeUndefined();
    expect(users.resolve('urn:unknown:schema:attr')).toBeUndefined();
    expect(users.resolve(`${ENTERPRISE}:nope`)).toBeUndefined();
  });

  it('finds resource types by endpoint case-insensitively', () => {
    expect(registry.byEndpoint('users')?.name).toBe('User');
    expect(registry.byEndpoint('Groups')?.name).toBe('Group');
    expect(registry.byEndpoint('Widgets')).toBeUndefined();
  });

  it('adds custom extensions to existing resource types and whole new resource types', () => {
    expect(users.extensions.map((e) => e.schema.id)).toEqual([ENTERPRISE, STUDENT]);
    const withDevice = SchemaRegistry.create({
      bundles: [
        parseBundle(
          {
            schemas: [{ id: 'urn:example:scim:Device', name: 'Device', attributes: [{ name: 'serial', type: 'string', required: true, uniqueness: 'server' }] }],
            resourceTypes: [{ name: 'Device', endpoint: '/Devices', schema: 'urn:example:scim:Device' }],
          },
          'inline',
        ),
      ],
    });
    const devices = withDevice.byEndpoint('devices')!;
    // RFC 7643 §2.2 defaults are filled in
    expect(devices.coreAttribute('serial')).toMatchObject({ multiValued: false, caseExact: false, mutability: 'readWrite', returned: 'default', required: true });
  });

  it.each([
    [{ schemas: [{ id: 'not-a-urn', attributes: [] }] }, /not a URN/],
    [{ schemas: [{ id: 'urn:x:y', attributes: [{ name: 'a', type: 'text' }] }] }, /"type" must be one of/],
    [{ schemas: [{ id: 'urn:x:y', attributes: [{ name: 'a', type: 'complex' }] }] }, /needs "subAttributes"/],
    [{ schemas: [{ id: 'urn:x:y', attributes: [{ name: 'a', type: 'complex', subAttributes: [{ name: 'b', type: 'complex', subAttributes: [{ name: 'c' }] }] }] }] }, /cannot contain complex/],
    [{ schemas: [{ id: 'urn:x:y', attributes: [{ name: 'a' }, { name: 'A' }] }] }, /defined twice/],
    [{ schemas: [{ id: 'urn:x:y', attributes: [{ name: 'bad name' }] }] }, /not a valid attribute name/],
    [{ schemas: [{ id: 'urn:x:y', attributes: [{ name: 'a', mutability: 'sometimes' }] }] }, /"mutability" must be one of/],
    [{ resourceTypes: [{ name: 'T', endpoint: 'Things', schema: 'urn:x:y' }] }, /must look like/],
  ])('rejects a broken bundle with a message naming the problem (%#)', (bundle, message) => {
    expect(() => SchemaRegistry.create({ bundles: [parseBundle(bundle, 'bundle.json')] })).toThrow(message);
  });

  it('rejects bundles that do not fit together', () => {
    const make = (b: object) => () => SchemaRegistry.create({ bundles: [parseBundle(b, 'b.json')] });
    expect(make({ schemaExtensions: [{ resourceType: 'User', schema: 'urn:missing:schema' }] })).toThrow(SchemaDefinitionError);
    expect(make({ schemas: [{ id: 'urn:x:y', attributes: [] }], schemaExtensions: [{ resourceType: 'Nope', schema: 'urn:x:y' }] })).toThrow(/not defined/);
    expect(make({ schemas: [{ id: USER, attributes: [] }] })).toThrow(/defined twice/);
    expect(make({ schemas: [{ id: 'urn:x:y', attributes: [] }], resourceTypes: [{ name: 'Other', endpoint: '/users', schema: 'urn:x:y' }] })).toThrow(/endpoint/);
  });
});
