/**
 * The filter serializer is the parser's inverse: any filter AST written out and parsed again is the same AST, so a
 * value (quotes, backslashes, brackets, keywords, control characters, lone surrogates) stays one value and cannot
 * change the filter's shape; a name that is not one attribute path is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributePath, Filter } from '../../src/core/filter/ast.js';
import { COMPARE_OPERATORS } from '../../src/core/filter/ast.js';
import { parseFilter, parsePath } from '../../src/core/filter/parser.js';
import { serializeFilter, serializePath } from '../../src/core/filter/serialize.js';
import { ScimError } from '../../src/core/errors.js';

const NAMES = ['userName', 'name.givenName', 'emails', 'emails.value', 'type', 'meta.lastModified', 'not', 'and', 'or', 'pr',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', 'x-custom_1', '$ref'];
const attributePath: fc.Arbitrary<AttributePath> = fc.constantFrom(...NAMES).map((text) => ({ text, position: 0 }));
const filterValue = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.constantFrom('o"hara', '\\', '") or (userName pr', ']', 'a\nb', 'and', 'true', '1'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  fc.boolean(),
  fc.constant(null),
);

const { filter } = fc.letrec<{ filter: Filter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('compare' as const), path: attributePath, op: fc.constantFrom(...COMPARE_OPERATORS), value: filterValue }),
    fc.record({ kind: fc.constant('present' as const), path: attributePath }),
    fc.record({ kind: fc.constant('and' as const), left: tie('filter'), right: tie('filter') }),
    fc.record({ kind: fc.constant('or' as const), left: tie('filter'), right: tie('filter') }),
    fc.record({ kind: fc.constant('not' as const), filter: tie('filter') }),
    fc.record({ kind: fc.constant('valuePath' as const), path: attributePath, filter: tie('filter') }),
  ),
}));

/** The AST without the positions the parser records. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'position').map(([k, v]) => [k, shape(v)]));
  }
  return value;
}

describe('serializeFilter', () => {
  it('round-trips through the parser (property)', () => {
    fc.assert(
      fc.property(filter, (f) => {
        expect(shape(parseFilter(serializeFilter(f)))).toEqual(shape(f));
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips PATCH paths through parsePath (property)', () => {
    fc.assert(
      fc.property(attributePath, fc.option(filter, { nil: undefined }), fc.constantFrom(undefined, 'value', 'display'), (attribute, f, sub) => {
        const p = f === undefined ? { attribute } : { attribute, filter: f, ...(sub !== undefined ? { subAttribute: sub } : {}) };
        expect(shape(parsePath(serializePath(p)))).toEqual(shape(p));
      }),
    );
  });

  it('parenthesises only where precedence needs it', () => {
    const c = (text: string): Filter => ({ kind: 'present', path: { text, position: 0 } });
    expect(serializeFilter({ kind: 'and', left: { kind: 'or', left: c('a'), right: c('b') }, right: c('c') })).toBe('(a pr or b pr) and c pr');
    expect(serializeFilter({ kind: 'or', left: { kind: 'or', left: c('a'), right: c('b') }, right: c('c') })).toBe('a pr or b pr or c pr');
    expect(serializeFilter({ kind: 'or', left: c('a'), right: { kind: 'or', left: c('b'), right: c('c') } })).toBe('a pr or (b pr or c pr)');
  });

  it('refuses a name that is not one attribute path, and a number JSON cannot write', () => {
    const hostile = { kind: 'present', path: { text: 'userName pr or id', position: 0 } } as const;
    expect(() => serializeFilter(hostile)).toThrow(ScimError);
    expect(() => serializeFilter({ kind: 'compare', path: { text: 'x', position: 0 }, op: 'gt', value: Number.NaN })).toThrow(ScimError);
    expect(() => serializePath({ attribute: { text: 'emails', position: 0 }, filter: { kind: 'present', path: { text: 'type', position: 0 } }, subAttribute: 'value].x' })).toThrow(ScimError);
  });
});
