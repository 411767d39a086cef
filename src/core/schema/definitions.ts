/**
 * Turns JSON schema and resource-type representations (RFC 7643 §6, §7) into checked definitions, filling in the
 * §2.2 defaults. Custom schema files go through here too, so a typo in one fails at start with the file and the
 * attribute named, not at the first request.
 */
import {
  ATTRIBUTE_TYPES, MUTABILITIES, RETURNED, UNIQUENESS,
  type AttributeDefinition, type ResourceTypeDefinition, type SchemaDefinition, type SchemaExtensionRef,
} from './attribute.js';

export class SchemaDefinitionError extends Error {
  override name = 'SchemaDefinitionError';
}

type Json = Record<string, unknown>;

const ATTRIBUTE_NAME = /^[A-Za-z$][\w$-]*$/;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(o: Json, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new SchemaDefinitionError(`${where}: "${key}" must be a string`);
  return v;
}

function requiredString(o: Json, key: string, where: string): string {
  const v = optionalString(o, key, where);
  if (!v) throw new SchemaDefinitionError(`${where}: "${key}" is required`);
  return v;
}

function oneOf<T extends string>(o: Json, key: string, allowed: readonly T[], fallback: T, where: string): T {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    throw new SchemaDefinitionError(`${where}: "${key}" must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

function flag(o: Json, key: string, where: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new SchemaDefinitionError(`${where}: "${key}" must be a boolean`);
  return v;
}

function stringList(o: Json, key: string, where: string): readonly string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new SchemaDefinitionError(`${where}: "${key}" must be an array of strings`);
  }
  return v as string[];
}

export function parseAttribute(json: unknown, where: string, depth = 0): AttributeDefinition {
  if (!isObject(json)) throw new SchemaDefinitionError(`${where}: an attribute must be an object`);
  const name = requiredString(json, 'name', where);
  if (!ATTRIBUTE_NAME.test(name)) throw new SchemaDefinitionError(`${where}: "${name}" is not a valid attribute name`);
  const at = `${where}.${name}`;
  const type = oneOf(json, 'type', ATTRIBUTE_TYPES, 'string', at);
  const def: {
    -readonly [K in keyof AttributeDefinition]: AttributeDefinition[K];
  } = {
    name,
    type,
    multiValued: flag(json, 'multiValued', at),
    required: flag(json, 'required', at),
    caseExact: flag(json, 'caseExact', at),
    mutability: oneOf(json, 'mutability', MUTABILITIES, 'readWrite', at),
    returned: oneOf(json, 'returned', RETURNED, 'default', at),
    uniqueness: oneOf(json, 'uniqueness', UNIQUENESS, 'none', at),
  };
  const description = optionalString(json, 'description', at);
  if (description !== undefined) def.description = description;
  const canonicalValues = stringList(json, 'canonicalValues', at);
  if (canonicalValues) def.canonicalValues = canonicalValues;
  const referenceTypes = stringList(json, 'referenceTypes', at);
  if (referenceTypes) def.referenceTypes = referenceTypes;
  if (type === 'reference' && !referenceTypes) def.referenceTypes = ['external'];
  if (type === 'complex') {
    // RFC 7643 §2.4: a complex attribute has sub-attributes, and those cannot be complex themselves.
    if (depth > 0) throw new SchemaDefinitionError(`${at}: complex attributes cannot contain complex attributes`);
    const subs = json.subAttributes;
    if (!Array.isArray(subs) || subs.length === 0) {
      throw new SchemaDefinitionError(`${at}: a complex attribute needs "subAttributes"`);
    }
    def.subAttributes = uniqueByName(subs.map((s) => parseAttribute(s, at, depth + 1)), at);
  } else if (json.subAttributes !== undefined) {
    throw new SchemaDefinitionError(`${at}: only complex attributes have "subAttributes"`);
  }
  return def;
}

function uniqueByName(attrs: AttributeDefinition[], where: string): AttributeDefinition[] {
  const seen = new Set<string>();
  for (const a of attrs) {
    const key = a.name.toLowerCase();
    if (seen.has(key)) throw new SchemaDefinitionError(`${where}: attribute "${a.name}" is defined twice`);
    seen.add(key);
  }
  return attrs;
}

export function parseSchema(json: unknown, source: string): SchemaDefinition {
  if (!isObject(json)) throw new SchemaDefinitionError(`${source}: a schema must be an object`);
  const id = requiredString(json, 'id', source);
  if (!/^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$/i.test(id)) throw new SchemaDefinitionError(`${source}: schema id "${id}" is not a URN`);
  const where = `${source} ${id}`;
  if (!Array.isArray(json.attributes)) throw new SchemaDefinitionError(`${where}: "attributes" must be an array`);
  const schema: { -readonly [K in keyof SchemaDefinition]: SchemaDefinition[K] } = {
    id,
    name: optionalString(json, 'name', where) ?? id,
    attributes: uniqueByName(json.attributes.map((a) => parseAttribute(a, where)), where),
  };
  const description = optionalString(json, 'description', where);
  if (description !== undefined) schema.description = description;
  return schema;
}

export function parseSchemaExtensionRef(json: unknown, where: string): SchemaExtensionRef {
  if (!isObject(json)) throw new SchemaDefinitionError(`${where}: a schema extension must be an object`);
  return { schema: requiredString(json, 'schema', where), required: flag(json, 'required', where) };
}

export function parseResourceType(json: unknown, source: string): ResourceTypeDefinition {
  if (!isObject(json)) throw new SchemaDefinitionError(`${source}: a resource type must be an object`);
  const name = requiredString(json, 'name', source);
  const where = `${source} resource type ${name}`;
  const endpoint = requiredString(json, 'endpoint', where);
  if (!/^\/[A-Za-z][\w-]*$/.test(endpoint)) throw new SchemaDefinitionError(`${where}: endpoint "${endpoint}" must look like "/Things"`);
  const extensions = json.schemaExtensions ?? [];
  if (!Array.isArray(extensions)) throw new SchemaDefinitionError(`${where}: "schemaExtensions" must be an array`);
  const rt: { -readonly [K in keyof ResourceTypeDefinition]: ResourceTypeDefinition[K] } = {
    id: optionalString(json, 'id', where) ?? name,
    name,
    endpoint,
    schema: requiredString(json, 'schema', where),
    schemaExtensions: extensions.map((e) => parseSchemaExtensionRef(e, where)),
  };
  const description = optionalString(json, 'description', where);
  if (description !== undefined) rt.description = description;
  return rt;
}

/** A schema bundle: the unit custom schema files are written in (see examples/student). */
export interface SchemaBundle {
  readonly schemas: readonly SchemaDefinition[];
  readonly resourceTypes: readonly ResourceTypeDefinition[];
  readonly schemaExtensions: readonly (SchemaExtensionRef & { readonly resourceType: string })[];
}

export function parseBundle(json: unknown, source: string): SchemaBundle {
  if (!isObject(json)) throw new SchemaDefinitionError(`${source}: a schema bundle must be a JSON object`);
  const list = (key: string): unknown[] => {
    const v = json[key] ?? [];
    if (!Array.isArray(v)) throw new SchemaDefinitionError(`${source}: "${key}" must be an array`);
    return v;
  };
  return {
    schemas: list('schemas').map((s) => parseSchema(s, source)),
    resourceTypes: list('resourceTypes').map((r) => parseResourceType(r, source)),
    schemaExtensions: list('schemaExtensions').map((e) => {
      const ref = parseSchemaExtensionRef(e, source);
      return { ...ref, resourceType: requiredString(e as Json, 'resourceType', source) };
    }),
  };
}
