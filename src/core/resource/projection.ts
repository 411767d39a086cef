/**
 * Attribute projection (RFC 7644 §3.4.2.5, §3.9) combined with each attribute's `returned` characteristic
 * (RFC 7643 §2.4): which attributes a response carries.
 */
import type { AttributeDefinition } from '../schema/attribute.js';
import type { ResourceType } from '../schema/registry.js';
import { stripValueFilter } from './tolerance.js';

export interface Projection {
  /** `attributes=`: only these (plus `returned: always`). Keys from projectionKey(). */
  readonly attributes?: ReadonlySet<string>;
  /** `excludedAttributes=`: all default ones but these. */
  readonly excluded?: ReadonlySet<string>;
}

function projectionKey(schema: string, attribute?: string, sub?: string): string {
  return [schema, attribute, sub].filter((p) => p !== undefined).join('|').toLowerCase();
}

function parseList(rt: ResourceType, list: string | undefined): Set<string> | undefined {
  if (list === undefined) return undefined;
  const keys = new Set<string>();
  for (const raw of list.split(',')) {
    const path = stripValueFilter(raw.trim());
    if (!path) continue;
    const wholeSchema = rt.schemaUrns.find((u) => u.toLowerCase() === path.toLowerCase());
    if (wholeSchema) {
      keys.add(projectionKey(wholeSchema));
      continue;
    }
    const resolved = rt.resolve(path);
    // An unknown name selects nothing; it is not an error (RFC 7644 §3.4.2.5 defines no error for it).
    if (resolved) keys.add(projectionKey(resolved.schema, resolved.attribute.name, resolved.subAttribute?.name));
  }
  return keys;
}

/** From the query parameters (or SearchRequest members) `attributes` and `excludedAttributes`. */
export function parseProjection(rt: ResourceType, attributes?: string, excludedAttributes?: string): Projection {
  const projection: { attributes?: Set<string>; excluded?: Set<string> } = {};
  const include = parseList(rt, attributes);
  if (include && include.size > 0) projection.attributes = include;
  else {
    const exclude = parseList(rt, excludedAttributes);
    if (exclude && exclude.size > 0) projection.excluded = exclude;
  }
  return projection;
}

/** Whether a response carries `def` (or its sub-attribute `sub`) from `schema`. */
export function isReturned(p: Projection, schema: string, def: AttributeDefinition, sub?: AttributeDefinition): boolean {
  const leaf = sub ?? def;
  if (def.returned === 'never' || leaf.returned === 'never') return false;
  if (def.returned === 'always' || leaf.returned === 'always') return true;
  const byDefault = def.returned !== 'request' && leaf.returned !== 'request';
  // hot path: most requests ask for the default set, which needs no keys built
  if (!p.attributes && !p.excluded) return byDefault;
  const own = projectionKey(schema, def.name, sub?.name);
  const parent = projectionKey(schema, def.name);
  if (p.attributes) {
    if (p.attributes.has(projectionKey(schema)) || p.attributes.has(parent) || p.attributes.has(own)) return true;
    // `attributes=name.givenName` returns `name` holding only givenName.
    return !sub && [...p.attributes].some((k) => k.startsWith(parent + '|'));
  }
  if (p.excluded!.has(projectionKey(schema)) || p.excluded!.has(parent) || p.excluded!.has(own)) return false;
  return byDefault;
}
