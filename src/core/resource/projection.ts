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
  return (attribute === undefined ? schema : sub === undefined ? `${schema}|${attribute}` : `${schema}|${attribute}|${sub}`).toLowerCase();
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

/**
 * From the query parameters (or SearchRequest members) `attributes` and `excludedAttributes`. A client sends the
 * same few again and again (`excludedAttributes=members`): each is parsed once, and isReturned's answers for it are
 * kept with it.
 */
export function parseProjection(rt: ResourceType, attributes?: string, excludedAttributes?: string): Projection {
  if (attributes === undefined && excludedAttributes === undefined) return DEFAULT;
  const parsed = projections.get(rt) ?? projections.set(rt, new Map()).get(rt)!;
  const key = `${attributes ?? ''}\u0000${excludedAttributes ?? ''}`;
  let projection = parsed.get(key);
  if (!projection) {
    if (parsed.size >= KEPT_PROJECTIONS) parsed.clear();
    parsed.set(key, (projection = parse(rt, attributes, excludedAttributes)));
  }
  return projection;
}

const DEFAULT: Projection = {};
/** Projections of a resource type kept at most; a client sending ever new ones only starts the list again. */
const KEPT_PROJECTIONS = 64;
const projections = new WeakMap<ResourceType, Map<string, Projection>>();

function parse(rt: ResourceType, attributes: string | undefined, excludedAttributes: string | undefined): Projection {
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
  // the same questions come with every resource of a page and every request with this projection: keys built once
  const bySchema = answers.get(p) ?? answers.set(p, new Map()).get(p)!;
  const byDef = bySchema.get(schema) ?? bySchema.set(schema, new Map()).get(schema)!;
  const bySub = byDef.get(def) ?? byDef.set(def, new Map()).get(def)!;
  let answer = bySub.get(sub);
  if (answer === undefined) bySub.set(sub, (answer = selected(p, schema, def, sub, byDefault)));
  return answer;
}

/** isReturned's answers for a projection that names attributes, by schema, attribute and sub-attribute. */
const answers = new WeakMap<Projection, Map<string, Map<AttributeDefinition, Map<AttributeDefinition | undefined, boolean>>>>();

function selected(p: Projection, schema: string, def: AttributeDefinition, sub: AttributeDefinition | undefined, byDefault: boolean): boolean {
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
