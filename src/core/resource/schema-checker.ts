/**
 * Checks an incoming resource (POST or PUT body) against its resource type and returns its attributes in canonical
 * form: schema-cased names, extension objects under their canonical URN, values of the declared types, readOnly
 * attributes dropped (RFC 7643 §2.2: ignored on create and replace), unknown attributes ignored, required ones
 * present, immutable ones unchanged (RFC 7644 §3.5.1).
 */
import type { AttributeDefinition } from '../schema/attribute.js';
import { subAttribute } from '../schema/attribute.js';
import type { ResourceType } from '../schema/registry.js';
import { scimErrors } from '../errors.js';
import { shown } from '../json.js';
import type { Attributes } from '../model.js';
import { asArray, booleanFromString, complexFromBareValue, fromLegacyEnterprise, isLegacyCoreSchema } from './tolerance.js';

export interface CheckOptions {
  /** On replace: the stored attributes, for the immutable rule. */
  readonly existing?: Attributes;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkResource(rt: ResourceType, body: unknown, options: CheckOptions = {}): Attributes {
  if (!isObject(body)) throw scimErrors.invalidSyntax(`The request body must be a JSON object holding a ${rt.name} resource.`);
  checkSchemas(rt, body);
  const out: Attributes = {};
  for (const [givenKey, givenValue] of Object.entries(body)) {
    const [key, value] = fromLegacyEnterprise(givenKey, givenValue) ?? [givenKey, givenValue];
    if (key.toLowerCase() === 'schemas') continue;
    const extension = /^urn:/i.test(key) ? rt.extension(key) : undefined;
    if (extension) {
      if (value === null) continue;
      if (!isObject(value)) throw scimErrors.invalidSyntax(`"${key}" must be a JSON object holding the extension's attributes.`);
      for (const [name, v] of Object.entries(value)) {
        const def = extension.schema.attributes.find((a) => a.name.toLowerCase() === name.toLowerCase());
        if (def) put(out, extension.schema.id, def, v, `${extension.schema.id}:${def.name}`);
      }
      continue;
    }
    const resolved = rt.resolve(key);
    if (!resolved || resolved.subAttribute) continue; // unknown attribute: ignored (docs/behaviour.md)
    put(out, resolved.inExtension ? resolved.schema : undefined, resolved.attribute, value, key);
  }
  if (options.existing) keepUnwritable(rt, out, options.existing);
  checkRequired(rt, out);
  return out;
}

function checkSchemas(rt: ResourceType, body: Record<string, unknown>): void {
  const schemas = Object.entries(body).find(([k]) => k.toLowerCase() === 'schemas')?.[1];
  if (schemas === undefined) throw scimErrors.invalidSyntax(`"schemas" is required and must include "${rt.schema.id}".`);
  if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string')) {
    throw scimErrors.invalidSyntax('"schemas" must be an array of schema URNs.');
  }
  const core = rt.schema.id.toLowerCase();
  if (!schemas.some((s: string) => s.toLowerCase() === core || isLegacyCoreSchema(s))) {
    throw scimErrors.invalidSyntax(`"schemas" must include "${rt.schema.id}" for a ${rt.name}; got ${shown(schemas)}.`);
  }
}

/** Places one checked top-level attribute into `out` (under its extension URN when it has one). */
function put(out: Attributes, extensionUrn: string | undefined, def: AttributeDefinition, raw: unknown, path: string): void {
  if (def.mutability === 'readOnly') return;
  const value = checkValue(def, raw, path);
  if (value === undefined) return;
  const target = extensionUrn ? ((out[extensionUrn] as Attributes | undefined) ?? (out[extensionUrn] = {})) : out;
  target[def.name] = value;
}

/** Returns the checked value, or undefined for "unassigned" (null, empty array, empty complex value). */
export function checkValue(def: AttributeDefinition, raw: unknown, path: string): unknown {
  if (raw === null || raw === undefined) return undefined;
  if (!def.multiValued) {
    if (Array.isArray(raw)) throw scimErrors.invalidValue(`"${path}" is single-valued; an array was given.`);
    return checkSingle(def, raw, path);
  }
  const values = asArray(raw)
    .map((v, i) => checkSingle(def, v, `${path}[${i}]`))
    .filter((v) => v !== undefined);
  if (def.type === 'complex' && values.filter((v) => (v as Attributes).primary === true).length > 1) {
    throw scimErrors.invalidValue(`At most one of "${path}" may have "primary": true (RFC 7643 §2.4).`);
  }
  return values.length > 0 ? values : undefined;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkSingle(def: AttributeDefinition, raw: unknown, path: string): unknown {
  if (raw === null) return undefined;
  const wrong = (what: string) => scimErrors.invalidValue(`"${path}" must be ${what}; got ${shown(raw)}.`);
  switch (def.type) {
    case 'string':
    case 'reference':
      if (typeof raw !== 'string') throw wrong('a string');
      return raw;
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const b = booleanFromString(raw);
      if (b === undefined) throw wrong('a boolean');
      return b;
    }
    case 'integer':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) throw wrong('an integer');
      return raw;
    case 'decimal':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) throw wrong('a number');
      return raw;
    case 'dateTime':
      if (typeof raw !== 'string' || !DATE_TIME.test(raw) || Number.isNaN(Date.parse(raw))) {
        throw wrong('a dateTime such as "2024-05-01T12:00:00Z" (RFC 7643 §2.3.5)');
      }
      return raw;
    case 'binary':
      if (typeof raw !== 'string' || !BASE64.test(raw)) throw wrong('base64-encoded binary');
      return raw;
    case 'complex':
      return checkComplex(def, raw, path);
  }
}

function checkComplex(def: AttributeDefinition, raw: unknown, path: string): Attributes | undefined {
  let value = raw;
  if (!isObject(value)) {
    const tolerated = complexFromBareValue(def, value);
    if (tolerated === null) return undefined;
    if (tolerated === undefined) throw scimErrors.invalidValue(`"${path}" must be a JSON object; got ${shown(raw)}.`);
    value = tolerated;
  }
  const out: Attributes = {};
  for (const [name, v] of Object.entries(value as Attributes)) {
    const sub = subAttribute(def, name);
    if (!sub || sub.mutability === 'readOnly') continue;
    const checked = checkValue(sub, v, `${path}.${sub.name}`);
    if (checked !== undefined) out[sub.name] = checked;
  }
  if (Object.keys(value as Attributes).length === 0) return undefined;
  for (const sub of def.subAttributes ?? []) {
    if (sub.required && sub.mutability !== 'readOnly' && isEmpty(out[sub.name])) {
      throw scimErrors.invalidValue(`"${path}.${sub.name}" is required.`);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

/** RFC 7644 §3.5.1 on PUT: an immutable attribute that has a value may not change, and omitted it keeps it. */
function keepUnwritable(rt: ResourceType, out: Attributes, existing: Attributes): void {
  const visit = (defs: readonly AttributeDefinition[], next: Attributes, old: Attributes, prefix: string) => {
    for (const def of defs) {
      const before = old[def.name];
      if (before === undefined) continue;
      if (def.mutability === 'immutable') {
        if (next[def.name] === undefined) next[def.name] = before;
        else if (JSON.stringify(next[def.name]) !== JSON.stringify(before)) {
          throw scimErrors.mutability(`"${prefix}${def.name}" is immutable and already has a value; it cannot be changed.`);
        }
      } else if (def.type === 'complex' && !def.multiValued && isObject(before) && isObject(next[def.name])) {
        visit(def.subAttributes ?? [], next[def.name] as Attributes, before, `${prefix}${def.name}.`);
      }
    }
  };
  visit(rt.schema.attributes, out, existing, '');
  for (const ext of rt.extensions) {
    const old = existing[ext.schema.id];
    if (!isObject(old)) continue;
    const next = (out[ext.schema.id] as Attributes | undefined) ?? {};
    visit(ext.schema.attributes, next, old, `${ext.schema.id}:`);
    if (Object.keys(next).length > 0) out[ext.schema.id] = next;
  }
}

function checkRequired(rt: ResourceType, out: Attributes): void {
  for (const def of rt.schema.attributes) {
    if (def.required && isEmpty(out[def.name])) throw scimErrors.invalidValue(`"${def.name}" is required for a ${rt.name}.`);
  }
  for (const ext of rt.extensions) {
    const values = out[ext.schema.id] as Attributes | undefined;
    if (!values) {
      if (ext.required) throw scimErrors.invalidValue(`The extension "${ext.schema.id}" is required for a ${rt.name}.`);
      continue;
    }
    for (const def of ext.schema.attributes) {
      if (def.required && isEmpty(values[def.name])) throw scimErrors.invalidValue(`"${ext.schema.id}:${def.name}" is required.`);
    }
  }
}
