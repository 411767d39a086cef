/**
 * Binds a parsed filter to a resource type (RFC 7644 §3.4.2.2 with RFC 7643 types): resolves attribute paths,
 * refuses operators a type does not allow and values of the wrong type (400 invalidFilter), and normalises values.
 */
import { scimErrors } from '../errors.js';
import type { AttributeDefinition } from '../schema/attribute.js';
import type { ResourceType } from '../schema/registry.js';
import type { AttributePath, Filter, FilterValue } from './ast.js';
import { booleanFromString } from '../resource/tolerance.js';
import { foldCase, instantOf, type BoundFilter, type Target, type ValueKind } from './bound.js';
import { indexPath } from './index-entries.js';
import { isRelation } from '../resource/relations.js';

const invalid = (path: AttributePath, message: string) =>
  scimErrors.invalidFilter(`Invalid filter at position ${path.position}: ${message}.`);

function kindOf(def: AttributeDefinition): ValueKind | undefined {
  switch (def.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'decimal':
    case 'dateTime':
      return 'number';
    case 'complex':
      return undefined;
    default:
      return 'string';
  }
}

/** Resolves a path to what it filters; `within` is the container of a value filter (`emails[...]`). */
export function resolveTarget(rt: ResourceType, path: AttributePath, within?: Target): Target {
  if (within) {
    if (/[.:]/.test(path.text)) throw invalid(path, `inside "${within.attribute}[...]" name a sub-attribute of ${within.attribute}, not "${path.text}"`);
    return resolveTarget(rt, { text: `${within.schema ? within.schema + ':' : ''}${within.attribute}.${path.text}`, position: path.position });
  }
  if (path.text.toLowerCase() === 'schemas') {
    return { key: 'schemas', source: 'attribute', attribute: 'schemas', kind: 'string', caseExact: false, dateTime: false, multiValued: true };
  }
  const resolved = rt.resolve(path.text);
  if (!resolved) throw invalid(path, `"${path.text}" is not an attribute of ${rt.name}`);
  const { attribute, subAttribute } = resolved;
  const leaf = subAttribute ?? attribute;
  if (attribute.returned === 'never' || leaf.returned === 'never') throw invalid(path, `"${path.text}" is never returned and cannot be filtered`);
  const key = indexPath(resolved.inExtension ? resolved.schema : undefined, attribute.name, subAttribute?.name);
  const relation = isRelation(rt, attribute.name, resolved.inExtension);
  let source: Target['source'] = 'attribute';
  if (relation) {
    if (subAttribute && !relation.filterable.includes(subAttribute.name)) {
      throw invalid(path, `of ${attribute.name} only ${relation.filterable.join(' and ')} can be filtered`);
    }
    source = relation.side;
  }
  if (resolved.schema === rt.schema.id && attribute.name === 'meta' && subAttribute && ['location', 'version'].includes(subAttribute.name)) {
    throw invalid(path, `"meta.${subAttribute.name}" cannot be filtered`);
  }
  const target: { -readonly [K in keyof Target]: Target[K] } = {
    key,
    source,
    attribute: attribute.name,
    caseExact: leaf.caseExact,
    dateTime: leaf.type === 'dateTime',
    multiValued: attribute.multiValued || leaf.multiValued,
    definition: leaf,
  };
  if (subAttribute && attribute.multiValued && attribute.subAttributes?.some((s) => s.name === 'primary')) {
    target.primaryKey = key.slice(0, key.lastIndexOf('.')) + '.primary';
  }
  if (resolved.inExtension) target.schema = resolved.schema;
  if (subAttribute) target.subAttribute = subAttribute.name;
  const kind = kindOf(leaf);
  if (kind) target.kind = kind;
  return target;
}

/** A comparison on a complex attribute compares its `value` sub-attribute (`emails co "x"`, RFC 7644 §3.4.2.2). */
function comparable(rt: ResourceType, target: Target, path: AttributePath): Target {
  if (target.kind) return target;
  const def = target.definition;
  if (def?.subAttributes?.some((s) => s.name === 'value')) {
    return resolveTarget(rt, { text: `${target.schema ? target.schema + ':' : ''}${target.attribute}.value`, position: path.position });
  }
  throw invalid(path, `"${path.text}" is complex; compare one of its sub-attributes, e.g. ${path.text}.${def?.subAttributes?.[0]?.name ?? 'value'}`);
}

function coerce(target: Target, op: string, value: Exclude<FilterValue, null>, path: AttributePath): string | number | boolean {
  const type = target.definition?.type ?? 'string';
  switch (target.kind) {
    case 'boolean': {
      if (op !== 'eq') throw invalid(path, `"${op}" cannot be used on the boolean "${path.text}"; use eq, ne or pr`);
      const b = typeof value === 'boolean' ? value : booleanFromString(value);
      if (b === undefined) throw invalid(path, `"${path.text}" is a boolean; compare it with true or false`);
      return b;
    }
    case 'number': {
      if (['co', 'sw', 'ew'].includes(op)) throw invalid(path, `"${op}" cannot be used on the ${type} "${path.text}"`);
      if (target.dateTime) {
        const ms = typeof value === 'string' ? instantOf(value) : undefined;
        if (ms === undefined) throw invalid(path, `"${path.text}" is a dateTime; compare it with a string such as "2024-05-01T12:00:00Z"`);
        return ms;
      }
      if (typeof value !== 'number') throw invalid(path, `"${path.text}" is a number; compare it with a number`);
      return value;
    }
    default: {
      if (type === 'binary' && op !== 'eq') throw invalid(path, `"${op}" cannot be used on the binary "${path.text}"; use eq, ne or pr`);
      if (typeof value !== 'string') throw invalid(path, `"${path.text}" is a string; compare it with a "quoted string"`);
      return foldCase(value, target.caseExact);
    }
  }
}

export interface BindOptions {
  /**
   * `error` (default): an unknown attribute is 400 invalidFilter. `absent`: it is an attribute without a value, as
   * RFC 7644 §3.4.2.1 asks for queries across resource types (the root endpoint).
   */
  readonly unknownAttributes?: 'error' | 'absent';
}

/** A target no resource has a value for: its key names no indexed path, and no rendered attribute. */
function absentTarget(path: AttributePath): Target {
  const name = `\u0001${path.text.toLowerCase()}`;
  return { key: name, source: 'attribute', attribute: name, kind: 'string', caseExact: true, dateTime: false, multiValued: false };
}

function isKnown(rt: ResourceType, path: AttributePath, within: Target | undefined): boolean {
  if (within || path.text.toLowerCase() === 'schemas') return true;
  return rt.resolve(path.text) !== undefined;
}

function bind(rt: ResourceType, filter: Filter, options: BindOptions, within?: Target): BoundFilter {
  const lenient = options.unknownAttributes === 'absent';
  switch (filter.kind) {
    case 'and':
    case 'or':
      return { kind: filter.kind, left: bind(rt, filter.left, options, within), right: bind(rt, filter.right, options, within) };
    case 'not':
      return { kind: 'not', filter: bind(rt, filter.filter, options, within) };
    case 'present':
      if (lenient && !isKnown(rt, filter.path, within)) return { kind: 'present', target: absentTarget(filter.path) };
      return { kind: 'present', target: resolveTarget(rt, filter.path, within) };
    case 'valuePath': {
      if (lenient && !isKnown(rt, filter.path, within)) return { kind: 'present', target: absentTarget(filter.path) };
      if (within) throw invalid(filter.path, 'value filters cannot be nested');
      const container = resolveTarget(rt, filter.path);
      if (container.kind || container.subAttribute) throw invalid(filter.path, `"${filter.path.text}[...]" needs a complex attribute`);
      return { kind: 'element', container, filter: bind(rt, filter.filter, options, container) };
    }
    case 'compare': {
      if (lenient && !isKnown(rt, filter.path, within)) {
        const absent: BoundFilter = { kind: 'present', target: absentTarget(filter.path) };
        // no value: equal to nothing, so `ne` (and `eq null`) hold
        return (filter.op === 'ne') === (filter.value !== null) ? { kind: 'not', filter: absent } : absent;
      }
      const target = comparable(rt, resolveTarget(rt, filter.path, within), filter.path);
      // RFC 7644 §3.4.2.2: null is "no value"; `eq null` asks for absence, `ne null` for presence.
      if (filter.value === null) {
        if (filter.op === 'eq') return { kind: 'not', filter: { kind: 'present', target } };
        if (filter.op === 'ne') return { kind: 'present', target };
        throw invalid(filter.path, `"${filter.op} null" is not a comparison; use eq null, ne null or pr`);
      }
      // `ne` is "not equal": a resource without the attribute matches too.
      if (filter.op === 'ne') {
        return { kind: 'not', filter: { kind: 'compare', target, op: 'eq', value: coerce(target, 'eq', filter.value, filter.path) } };
      }
      return { kind: 'compare', target, op: filter.op, value: coerce(target, filter.op, filter.value, filter.path) };
    }
  }
}

export function bindFilter(rt: ResourceType, filter: Filter, options: BindOptions = {}): BoundFilter {
  return bind(rt, filter, options);
}

/** Binds `sortBy` (RFC 7644 §3.4.2.3): a simple attribute or sub-attribute, or a complex one with `value`. */
export function bindSortBy(rt: ResourceType, sortBy: string): Target {
  const path = { text: sortBy.trim(), position: 1 };
  try {
    const target = comparable(rt, resolveTarget(rt, path), path);
    if (target.source !== 'attribute') throw invalid(path, `"${sortBy}" cannot be sorted by`);
    return target;
  } catch (e) {
    throw scimErrors.invalidValue(`Invalid sortBy "${sortBy}": ${(e as Error).message.replace(/^Invalid filter at position 1: /, '')}`);
  }
}
