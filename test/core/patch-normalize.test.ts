/**
 * The PATCH normalization step (src/core/patch/normalize.ts): IdP forms in, RFC operations out. The end-to-end
 * effect of each rewrite is in patch-cases.test.ts and test/replay; this checks the RFC form itself, and the one
 * rewrite no built-in schema reaches (a remove by value on a simple multi-valued attribute).
 */
import { describe, expect, it } from 'vitest';
import { SchemaRegistry } from '../../src/core/schema/registry.js';
import { parseBundle } from '../../src/core/schema/definitions.js';
import { parsePatchRequest } from '../../src/core/patch/operations.js';
import { normalizeOperation } from '../../src/core/patch/normalize.js';
import { applyPatch, RFC_RULES } from '../../src/core/patch/apply.js';

const TAGS = 'urn:example:params:scim:schemas:extension:tags:2.0:User';
const registry = SchemaRegistry.create({
  bundles: [
    parseBundle(
      {
        schemas: [
          {
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
            id: TAGS,
            name: 'Tags',
            attributes: [{ name: 'tags', type: 'string', multiValued: true, required: false, caseExact: true, mutability: 'readWrite', returned: 'default', uniqueness: 'none' }],
          },
        ],
        schemaExtensions: [{ resourceType: 'User', schema: TAGS, required: false }],
      },
      'inline',
    ),
  ],
});
const users = registry.resourceType('User')!;
const groups = registry.resourceType('Group')!;

const ops = (...operations: unknown[]) => parsePatchRequest({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: operations });
const strip = (o: unknown) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'position' ? undefined : v)));

describe('normalizeOperation', () => {
  it('turns a members remove by value into the RFC value filter, by id alone ($ref: null dropped)', () => {
    const [op] = ops({ op: 'Remove', path: 'members', value: [{ $ref: null, value: 'a' }, { value: 'b' }] });
    const out = normalizeOperation(groups, 'g', op!, {});
    expect(strip(out)).toEqual([
      {
        op: 'remove',
        hasValue: false,
        path: {
          text: 'members',
          attribute: { text: 'members' },
          filter: { kind: 'or', left: { kind: 'compare', path: { text: 'value' }, op: 'eq', value: 'a' }, right: { kind: 'compare', path: { text: 'value' }, op: 'eq', value: 'b' } },
        },
      },
    ]);
  });

  it('keeps a long member list a shallow filter (balanced or)', () => {
    const [op] = ops({ op: 'remove', path: 'members', value: Array.from({ length: 1024 }, (_, i) => ({ value: `m${i}` })) });
    const depth = (f: any): number => (f.kind === 'or' ? 1 + Math.max(depth(f.left), depth(f.right)) : 0);
    expect(depth(normalizeOperation(groups, 'g', op!, {})[0]!.path!.filter)).toBe(10);
  });

  it('splits a path-less value into RFC parts and path operations, in key order, dropping an unchanged id', () => {
    const [op] = ops({ op: 'replace', value: { id: 'u1', displayName: 'A', 'name.givenName': 'B', title: 'C', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department': 'D' } });
    expect(strip(normalizeOperation(users, 'u1', op!, {}))).toEqual([
      { op: 'replace', value: { displayName: 'A' }, hasValue: true },
      { op: 'replace', path: { attribute: { text: 'name.givenName' }, text: 'name.givenName' }, value: 'B', hasValue: true },
      { op: 'replace', value: { title: 'C' }, hasValue: true },
      {
        op: 'replace',
        path: { attribute: { text: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department' }, text: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department' },
        value: 'D',
        hasValue: true,
      },
    ]);
    // a different id stays, for the engine to refuse
    const [other] = ops({ op: 'replace', value: { id: 'u2' } });
    expect(strip(normalizeOperation(users, 'u1', other!, {}))).toEqual([{ op: 'replace', value: { id: 'u2' }, hasValue: true }]);
  });

  it('turns a remove by value on a simple multi-valued attribute into a replace with the values that remain', async () => {
    const doc = { userName: 'u', [TAGS]: { tags: ['red', 'green', 'blue'] } };
    const [op] = ops({ op: 'remove', path: `${TAGS}:tags`, value: ['green'] });
    expect(strip(normalizeOperation(users, 'u1', op!, doc))).toEqual([
      { op: 'replace', path: { attribute: { text: `${TAGS}:tags` }, text: `${TAGS}:tags` }, value: ['red', 'blue'], hasValue: true },
    ]);
    const applied = await applyPatch({ rt: users, id: 'u1', rules: RFC_RULES, loadMembers: async () => [] }, doc, [op!]);
    expect(applied.document).toEqual({ userName: 'u', [TAGS]: { tags: ['red', 'blue'] } });
  });

  it('leaves RFC operations as they are', () => {
    for (const op of ops({ op: 'remove', path: 'members' }, { op: 'add', path: 'emails', value: [{ value: 'a@x' }] }, { op: 'replace', value: { displayName: 'A' } })) {
      expect(normalizeOperation(op.path?.attribute.text === 'members' ? groups : users, 'u1', op, {})).toEqual([op]);
    }
  });
});
