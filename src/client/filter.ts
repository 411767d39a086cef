/**
 * A filter builder over the core's filter AST (RFC 7644 §3.4.2.2): `filter.eq('userName', 'o"hara')`. Values stay
 * values (the serializer writes them as JSON strings), and a name that is not one attribute path is refused when the
 * filter is built, so no input can widen a filter. `parseFilter` (core) reads a filter written as text into the same AST.
 */
import { scimErrors } from '../core/errors.js';
import type { AttributePath, CompareOperator, Filter, FilterValue } from '../core/filter/ast.js';
import { isAttributePath } from '../core/filter/parser.js';

function attribute(text: string): AttributePath {
  if (!isAttributePath(text)) throw scimErrors.invalidFilter(`${JSON.stringify(text)} is not an attribute path (such as "userName", "name.givenName" or a URN-qualified one).`);
  return { text, position: 0 };
}

const compare = (op: CompareOperator) => (path: string, value: FilterValue): Filter => ({ kind: 'compare', path: attribute(path), op, value });

/** Several operands joined left to right, as the parser reads `a and b and c`. */
function joined(kind: 'and' | 'or', filters: readonly Filter[]): Filter {
  if (filters.length === 0) throw scimErrors.invalidFilter(`"${kind}" needs at least one filter.`);
  return filters.reduce((left, right) => ({ kind, left, right }));
}

export const filter = {
  eq: compare('eq'),
  ne: compare('ne'),
  co: compare('co'),
  sw: compare('sw'),
  ew: compare('ew'),
  gt: compare('gt'),
  ge: compare('ge'),
  lt: compare('lt'),
  le: compare('le'),
  pr: (path: string): Filter => ({ kind: 'present', path: attribute(path) }),
  and: (...filters: Filter[]): Filter => joined('and', filters),
  or: (...filters: Filter[]): Filter => joined('or', filters),
  not: (inner: Filter): Filter => ({ kind: 'not', filter: inner }),
  /** `emails[type eq "work"]`: one value of a multi-valued attribute satisfies `inner`. */
  has: (path: string, inner: Filter): Filter => ({ kind: 'valuePath', path: attribute(path), filter: inner }),
} as const;

export { attribute as attributePath };
