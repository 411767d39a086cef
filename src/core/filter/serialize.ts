/**
 * The filter AST (ast.ts) back to RFC 7644 §3.4.2.2 text, the inverse of parser.ts: `parseFilter(serializeFilter(f))`
 * is `f` again (positions aside). Strings are written as JSON strings, the form the parser reads, so no value can
 * close its quotes; an attribute path the grammar would not read as one path is refused, so no name can either.
 */
import { scimErrors } from '../errors.js';
import type { AttributePath, Filter, FilterValue } from './ast.js';
import { isAttributePath, isSubAttributeName, type PatchPath } from './parser.js';

function path(p: AttributePath): string {
  if (!isAttributePath(p.text)) throw scimErrors.invalidFilter(`${JSON.stringify(p.text)} is not an attribute path.`);
  return p.text;
}

function value(v: FilterValue): string {
  if (typeof v === 'number' && !Number.isFinite(v)) throw scimErrors.invalidFilter(`${v} is not a number a filter can carry.`);
  // JSON.stringify writes strings with the escapes JSON.parse, and so the parser, reads back
  return JSON.stringify(v);
}

/** `f` as the operand of `and` (`or` binds looser) or of `not`/a value path, parenthesised only where needed. */
function operand(f: Filter, parent: 'and' | 'or', side: 'left' | 'right'): string {
  const text = serializeFilter(f);
  // and/or associate to the left, so only a right operand of the same kind needs parentheses
  const loose = f.kind === 'or' ? parent === 'and' || side === 'right' : f.kind === 'and' && parent === 'and' && side === 'right';
  return loose ? `(${text})` : text;
}

export function serializeFilter(f: Filter): string {
  switch (f.kind) {
    case 'compare':
      return `${path(f.path)} ${f.op} ${value(f.value)}`;
    case 'present':
      return `${path(f.path)} pr`;
    case 'and':
    case 'or':
      return `${operand(f.left, f.kind, 'left')} ${f.kind} ${operand(f.right, f.kind, 'right')}`;
    case 'not':
      return `not (${serializeFilter(f.filter)})`;
    case 'valuePath':
      return `${path(f.path)}[${serializeFilter(f.filter)}]`;
  }
}

/** A PATCH path (RFC 7644 §3.5.2): `attr`, `attr[filter]` or `attr[filter].sub`, the inverse of parsePath. */
export function serializePath(p: PatchPath): string {
  const attribute = path(p.attribute);
  if (p.filter === undefined) {
    if (p.subAttribute !== undefined) throw scimErrors.invalidPath('A sub-attribute after a path needs a value filter; write "name.givenName" as the attribute.');
    return attribute;
  }
  const filtered = `${attribute}[${serializeFilter(p.filter)}]`;
  if (p.subAttribute === undefined) return filtered;
  if (!isSubAttributeName(p.subAttribute)) throw scimErrors.invalidPath(`${JSON.stringify(p.subAttribute)} is not a sub-attribute name.`);
  return `${filtered}.${p.subAttribute}`;
}
