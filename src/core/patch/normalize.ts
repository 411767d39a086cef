/**
 * The normalization layer in front of the PATCH engine: rewrites operations that real identity providers send in
 * forms RFC 7644 does not define into the explicit RFC form the engine (apply.ts) reads. Every rewrite here is
 * always on: each accepts a form a valid RFC request never takes, so no valid request changes meaning.
 * Where an IdP contradicts the RFC instead, the token's dialect decides (dialects.ts), not this file.
 */
import type { ResourceType } from '../schema/registry.js';
import type { PatchOperation } from './operations.js';

/**
 * An extension attribute named without its schema URN (`"path": "manager"`, Entra's documented Example 5) is that
 * extension's attribute when no core attribute has the name and exactly one extension does. RFC 7644 §3.10 asks
 * clients to qualify extension attributes; without a core attribute of that name the path has no other meaning.
 */
function qualifiedPath(rt: ResourceType, text: string): string {
  if (/^urn:/i.test(text) || rt.resolve(text)) return text;
  const candidates = rt.schemaUrns.slice(1).map((urn) => `${urn}:${text}`).filter((q) => rt.resolve(q));
  return candidates.length === 1 ? candidates[0]! : text;
}

/**
 * A one-element list given for a single-valued reference (a complex attribute with a `value`, such as `manager`) is
 * its element: Entra adds a manager with `"value": [{"$ref": "…", "value": "<id>"}]` (the same Example 5), the shape
 * it uses for `members`. A single-valued attribute never holds a list; other single-valued targets still refuse one.
 */
function singleValue(rt: ResourceType, operation: PatchOperation, path: string): unknown {
  const { value } = operation;
  if (!Array.isArray(value) || value.length !== 1 || operation.path?.filter) return value;
  const resolved = rt.resolve(path);
  const target = resolved && !resolved.subAttribute ? resolved.attribute : undefined;
  const reference = target && !target.multiValued && target.type === 'complex' && target.subAttributes?.some((s) => s.name === 'value');
  return reference && typeof value[0] === 'object' && value[0] !== null ? value[0] : value;
}

export function normalizeOperations(rt: ResourceType, operations: readonly PatchOperation[]): PatchOperation[] {
  return operations.map((operation) => {
    if (!operation.path) return operation;
    const { path } = operation;
    // `path.attribute.text` is the whole attribute path (`name.givenName`); a sub-attribute of its own follows a filter only
    const attribute = qualifiedPath(rt, path.attribute.text);
    const value = operation.hasValue ? singleValue(rt, operation, attribute) : operation.value;
    if (attribute === path.attribute.text && value === operation.value) return operation;
    return { ...operation, path: { ...path, attribute: { ...path.attribute, text: attribute } }, ...(operation.hasValue ? { value } : {}) };
  });
}
