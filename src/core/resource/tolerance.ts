/**
 * The tolerances real identity providers need, all in this one file (docs/behaviour.md, "What scimd accepts beyond the RFC").
 * Each accepts a form that cannot mean anything else, so a strict RFC client sees no difference.
 */
import type { AttributeDefinition } from '../schema/attribute.js';
import { subAttribute } from '../schema/attribute.js';

/** Entra ID sends `"active": "False"`; rejecting it silently breaks offboarding (FIELD-NOTES 1). */
export function booleanFromString(value: unknown): boolean | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

/**
 * A bare value where a complex one with a `value` sub-attribute is expected: Entra sends
 * `"manager": "26118915-6090-4610-87e4-49d8ca9f808d"` and `"manager": ""` to clear it (FIELD-NOTES 5).
 * Returns null for "unassigned", undefined when the tolerance does not apply.
 */
export function complexFromBareValue(def: AttributeDefinition, value: unknown): Record<string, unknown> | null | undefined {
  if (def.type !== 'complex' || !subAttribute(def, 'value')) return undefined;
  if (value === '') return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { value };
  return undefined;
}

/** A single value where an array is expected is the one-element array. */
export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/** Legacy core URNs that OneLogin templates still send in `schemas` (FIELD-NOTES 8). */
const LEGACY_CORE_SCHEMAS = new Set(['urn:scim:schemas:core:2.0', 'urn:scim:schemas:core:1.0']);

export function isLegacyCoreSchema(urn: string): boolean {
  return LEGACY_CORE_SCHEMAS.has(urn.toLowerCase());
}

/**
 * SCIM 1.1's enterprise extension, which OneLogin's "Enterprise User Schema" template sends
 * (developers.onelogin.com/scim/define-user-schema): the object under `urn:scim:schemas:extension:enterprise:1.0`
 * is the 2.0 enterprise extension, and its `manager.managerId` is `manager.value`. Returns undefined for any other key.
 */
const LEGACY_ENTERPRISE = 'urn:scim:schemas:extension:enterprise:1.0';
export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export function fromLegacyEnterprise(key: string, value: unknown): [string, unknown] | undefined {
  if (key.toLowerCase() !== LEGACY_ENTERPRISE) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [ENTERPRISE_USER, value];
  const out: Record<string, unknown> = { ...value };
  const managerKey = Object.keys(out).find((k) => k.toLowerCase() === 'manager');
  const manager = managerKey === undefined ? undefined : out[managerKey];
  if (managerKey !== undefined && typeof manager === 'object' && manager !== null && !Array.isArray(manager)) {
    const { ...m } = manager as Record<string, unknown>;
    const idKey = Object.keys(m).find((k) => k.toLowerCase() === 'managerid');
    if (idKey !== undefined) {
      if (!Object.keys(m).some((k) => k.toLowerCase() === 'value')) m.value = m[idKey];
      delete m[idKey];
    }
    out[managerKey] = m;
  }
  return [ENTERPRISE_USER, out];
}

/**
 * `attributes=emails[type eq "work"]` (sent by Microsoft's test collection) asks for emails; the bracketed filter
 * is not part of the RFC's attribute-list grammar and is dropped rather than rejected.
 */
export function stripValueFilter(path: string): string {
  return path.replace(/\[[^\]]*\]/g, '');
}
