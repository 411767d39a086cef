/**
 * The reference evaluator: a bound filter applied to a rendered resource in memory, with the same semantics the
 * SQL compilers implement. Property tests hold the database to it; nothing on the request path uses it for
 * listing (that would load every resource).
 */
import type { Attributes } from '../model.js';
import { compareCodePoints, foldCase, instantOf, type BoundFilter, type Target } from './bound.js';

function flat(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** The raw values a target names in a resource, or in one element of its container. */
function rawValues(target: Target, resource: Attributes, element?: Attributes): unknown[] {
  if (element) return target.subAttribute ? flat(element[target.subAttribute]) : [element];
  if (target.key === 'schemas') return flat(resource.schemas).map((s) => (typeof s === 'string' ? s : undefined));
  const holder = target.schema ? (resource[target.schema] as Attributes | undefined) : resource;
  const top = flat(holder?.[target.attribute]);
  if (!target.subAttribute) return top;
  return top.flatMap((o) => (typeof o === 'object' && o !== null ? flat((o as Attributes)[target.subAttribute!]) : []));
}

function normalise(target: Target, v: unknown): string | number | boolean | undefined {
  switch (target.kind) {
    case 'string':
      return typeof v === 'string' ? foldCase(v, target.caseExact) : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'number':
      if (target.dateTime) return typeof v === 'string' ? instantOf(v) : undefined;
      return typeof v === 'number' ? v : undefined;
    default:
      return undefined;
  }
}

function isPresent(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function compare(op: string, actual: string | number | boolean, expected: string | number | boolean): boolean {
  if (typeof actual === 'string' && typeof expected === 'string') {
    switch (op) {
      case 'eq':
        return actual === expected;
      case 'co':
        return actual.includes(expected);
      case 'sw':
        return actual.startsWith(expected);
      case 'ew':
        return actual.endsWith(expected);
    }
    const c = compareCodePoints(actual, expected);
    return op === 'gt' ? c > 0 : op === 'ge' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0;
  }
  switch (op) {
    case 'eq':
      return actual === expected;
    case 'gt':
      return actual > expected;
    case 'ge':
      return actual >= expected;
    case 'lt':
      return actual < expected;
    case 'le':
      return actual <= expected;
  }
  return false;
}

function evaluate(filter: BoundFilter, resource: Attributes, element?: Attributes): boolean {
  switch (filter.kind) {
    case 'and':
      return evaluate(filter.left, resource, element) && evaluate(filter.right, resource, element);
    case 'or':
      return evaluate(filter.left, resource, element) || evaluate(filter.right, resource, element);
    case 'not':
      return !evaluate(filter.filter, resource, element);
    case 'present':
      return rawValues(filter.target, resource, element).some(isPresent);
    case 'compare':
      return rawValues(filter.target, resource, element).some((raw) => {
        const v = normalise(filter.target, raw);
        return v !== undefined && compare(filter.op, v, filter.value);
      });
    case 'element':
      return rawValues(filter.container, resource).some(
        (el) => typeof el === 'object' && el !== null && evaluate(filter.filter, resource, el as Attributes),
      );
  }
}

/** Whether one element of a multi-valued complex attribute matches a value filter's inner filter. */
export function matchesElement(filter: BoundFilter, element: Attributes): boolean {
  return evaluate(filter, {}, element);
}

/** Whether a rendered resource (with members/groups and meta) matches the filter. */
export function matches(filter: BoundFilter, resource: Attributes): boolean {
  return evaluate(filter, resource);
}
