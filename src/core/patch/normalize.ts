/**
 * The normalization layer in front of the PATCH engine: rewrites operations that real identity providers send in
 * forms RFC 7644 does not define into the explicit RFC form the engine (apply.ts) reads, so the engine itself stays
 * pure RFC. Every rewrite here is always on: each accepts a form a valid RFC request never takes, so no valid request
 * changes meaning. Where an IdP contradicts the RFC instead, the token's dialect decides (dialects.ts), not this file.
 * docs/behaviour.md, "What scimd accepts beyond the RFC", lists each rewrite.
 */
import { scimErrors } from '../errors.js';
import type { Filter, FilterValue } from '../filter/ast.js';
import type { ResourceType } from '../schema/registry.js';
import type { Attributes } from '../model.js';
import { sameJson } from '../json.js';
import { asArray } from '../resource/tolerance.js';
import { checkValue } from '../resource/schema-checker.js';
import type { PatchOperation } from './operations.js';
import { isRelation } from '../resource/relations.js';

const isObject = (v: unknown): v is Attributes => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (text: string) => ({ text, position: 1 });

/**
 * Tolerance: an extension attribute named without its schema URN (`"path": "manager"`, Entra's documented Example 5)
 * is that extension's attribute when no core attribute has the name and exactly one extension does. RFC 7644 §3.10
 * asks clients to qualify extension attributes; without a core attribute of that name the path has no other meaning.
 */
function qualifiedPath(rt: ResourceType, text: string): string {
  if (/^urn:/i.test(text) || rt.resolve(text)) return text;
  const candidates = rt.schemaUrns.slice(1).map((urn) => `${urn}:${text}`).filter((q) => rt.resolve(q));
  return candidates.length === 1 ? candidates[0]! : text;
}

/**
 * Tolerance: a one-element list given for a single-valued reference (a complex attribute with a `value`, such as
 * `manager`) is its element: Entra adds a manager with `"value": [{"$ref": "…", "value": "<id>"}]` (the same
 * Example 5), the shape it uses for `members`. Other single-valued targets still refuse a list.
 */
function singleValue(rt: ResourceType, operation: PatchOperation, path: string): unknown {
  const { value } = operation;
  if (!Array.isArray(value) || value.length !== 1 || operation.path?.filter) return value;
  const resolved = rt.resolve(path);
  const target = resolved && !resolved.subAttribute ? resolved.attribute : undefined;
  const reference = target && !target.multiValued && target.type === 'complex' && target.subAttributes?.some((s) => s.name === 'value');
  return reference && isObject(value[0]) ? value[0] : value;
}

/** `a or b or …` as a balanced tree, so a long member list stays a shallow filter. */
function anyOf(filters: Filter[]): Filter {
  if (filters.length === 1) return filters[0]!;
  const mid = filters.length >> 1;
  return { kind: 'or', left: anyOf(filters.slice(0, mid)), right: anyOf(filters.slice(mid)) };
}

function allOf(filters: Filter[]): Filter {
  return filters.reduce((left, right) => ({ kind: 'and', left, right }));
}

const isFilterValue = (v: unknown): v is FilterValue => ['string', 'number', 'boolean'].includes(typeof v);

/**
 * Tolerance: `remove` on a multi-valued attribute with a `value` removes the values it describes (Entra ID:
 * `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}`), where a literal reading removes them all. Complex
 * values become the RFC value filter that selects them (`members[value eq "a" or value eq "b"]`, a member by its
 * id alone; others by every sub-attribute given); simple values, which no value filter can select, become a
 * `replace` with the values that remain.
 */
function removeByValue(rt: ResourceType, operation: PatchOperation, doc: Attributes): PatchOperation[] {
  const path = operation.path!;
  const resolved = rt.resolve(path.attribute.text)!;
  const def = resolved.attribute;
  const given = asArray(checkValue(def, operation.value, path.text) ?? []);
  if (def.type !== 'complex') {
    const holder = resolved.inExtension ? doc[resolved.schema] : doc;
    const current = isObject(holder) ? asArray(holder[def.name] ?? []) : [];
    const kept = current.filter((v) => !given.some((g) => sameJson(g, v)));
    return [{ op: 'replace', path: { attribute: path.attribute, text: path.text }, value: kept, hasValue: true }];
  }
  const members = isRelation(rt, def.name, resolved.inExtension)?.side === 'members';
  const selectors = given.filter(isObject).flatMap((element) => {
    const entries = Object.entries(element).filter(([k, v]) => (!members || k === 'value') && isFilterValue(v));
    return entries.length === 0 ? [] : [allOf(entries.map(([k, v]): Filter => ({ kind: 'compare', path: at(k), op: 'eq', value: v as FilterValue })))];
  });
  if (selectors.length === 0) {
    if (members) return [];
    // nothing described, nothing removed; the target is still checked like any remove's (a readOnly one is refused)
    const some: Filter = { kind: 'present', path: at(def.subAttributes?.[0]?.name ?? 'value') };
    selectors.push({ kind: 'and', left: some, right: { kind: 'not', filter: some } });
  }
  return [{ op: 'remove', path: { attribute: path.attribute, filter: anyOf(selectors), text: path.text }, hasValue: false }];
}

/**
 * Tolerance: a path-less value's keys may be URN-qualified or dotted attribute paths
 * (`urn:…:enterprise:2.0:User:employeeNumber`, `name.givenName`), as Entra ID sends them (Known issues page, the
 * aadOptscim062020 sample): each becomes an operation with that path. An unchanged `id` (Okta repeats the group's
 * in its rename), `schemas` and the server's `meta` are dropped. Attribute names and URN-keyed extension objects
 * stay path-less (RFC); the order of the keys is kept.
 */
function splitPathless(rt: ResourceType, id: string, operation: PatchOperation): PatchOperation[] {
  if (operation.op === 'remove' || !isObject(operation.value)) return [operation];
  const out: PatchOperation[] = [];
  let rfc: Attributes | undefined;
  for (const [key, v] of Object.entries(operation.value)) {
    const lower = key.toLowerCase();
    if (lower === 'schemas' || lower === 'meta' || (lower === 'id' && v === id)) continue;
    const qualified = /^urn:/i.test(key) ? !rt.extension(key) && rt.resolve(key) : key.includes('.') && rt.resolve(key);
    if (qualified) {
      rfc = undefined;
      out.push({ op: operation.op, path: { attribute: at(key), text: key }, value: v, hasValue: true });
    } else {
      if (!rfc) out.push({ op: operation.op, value: (rfc = {}), hasValue: true });
      rfc[key] = v;
    }
  }
  return out;
}

/**
 * Tolerance: a path that is an extension's schema URN alone, with an object value (python's scim2-tester sends
 * `{"op": "replace", "path": "urn:…:enterprise:2.0:User", "value": {"department": "x"}}`; Apache SCIMple accepts it),
 * is that object's attributes under the extension: the RFC's own path-less form `"value": {"urn:…:User": {…}}`
 * (§3.5.2.1, §3.5.2.3), which add and replace merge attribute by attribute. RFC 7644 §3.10 has a path name an
 * attribute, and a schema URN names none, so this is no valid request's meaning. `remove` with it stays 400
 * invalidPath: the RFC's path-less remove is refused (noTarget, §3.5.2.2) and no RFC form removes an extension
 * whole; a client removes its attributes by their paths, or PUTs the resource without it.
 */
function extensionPath(rt: ResourceType, operation: PatchOperation): PatchOperation[] | undefined {
  const path = operation.path!;
  const extension = path.filter || path.subAttribute ? undefined : rt.extension(path.attribute.text);
  if (!extension || rt.resolve(path.attribute.text)) return undefined;
  const urn = extension.schema.id;
  if (operation.op === 'remove') {
    throw scimErrors.invalidPath(`"${path.text}" names a schema extension, not an attribute: remove its attributes by their paths ("${urn}:<attribute>"), or replace the resource without it.`);
  }
  if (!isObject(operation.value)) {
    throw scimErrors.invalidValue(`"${operation.op}" with the path "${path.text}" needs an object "value" holding the extension's attributes.`);
  }
  return [{ op: operation.op, value: { [urn]: operation.value }, hasValue: true }];
}

/** The operation in RFC form: zero, one or more operations the engine applies in its place, in order. */
export function normalizeOperation(rt: ResourceType, id: string, operation: PatchOperation, doc: Attributes): PatchOperation[] {
  if (!operation.path) return splitPathless(rt, id, operation);
  const whole = extensionPath(rt, operation);
  if (whole) return whole;
  const { path } = operation;
  const attribute = qualifiedPath(rt, path.attribute.text);
  const value = operation.hasValue ? singleValue(rt, operation, attribute) : operation.value;
  const normalized: PatchOperation =
    attribute === path.attribute.text && value === operation.value
      ? operation
      : { ...operation, path: { ...path, attribute: { ...path.attribute, text: attribute } }, ...(operation.hasValue ? { value } : {}) };
  const resolved = path.filter ? undefined : rt.resolve(attribute);
  const byValue = operation.op === 'remove' && operation.hasValue && value !== null && value !== undefined;
  if (byValue && resolved && !resolved.subAttribute && resolved.attribute.multiValued) return removeByValue(rt, normalized, doc);
  return [normalized];
}
