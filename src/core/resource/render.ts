/**
 * Renders a stored resource as its SCIM representation (RFC 7643 §3): schemas, id, attributes in schema order,
 * derived relations (Group `members`, User `groups`), and `meta`, all filtered by the projection.
 */
import type { AttributeDefinition } from '../schema/attribute.js';
import { COMMON_ATTRIBUTES, type ResourceType } from '../schema/registry.js';
import type { Attributes, ResourceRef, StoredResource } from '../model.js';
import { isReturned, type Projection } from './projection.js';
import { etagOf } from '../etag.js';

export interface RenderContext {
  /** Absolute URL of a resource: `${base}/Users/2819c223…`. */
  readonly location: (resourceType: string, id: string) => string;
}

/** Values stored outside the resource's document (Group `members`, User `groups`), keyed by attribute name. */
export type DerivedAttributes = Readonly<Record<string, readonly Attributes[]>>;

const common = (name: string) => COMMON_ATTRIBUTES.find((d) => d.name === name)!;
const ID = common('id');
const EXTERNAL_ID = common('externalId');
const META = common('meta');

export function renderResource(
  rt: ResourceType,
  stored: StoredResource,
  derived: DerivedAttributes,
  projection: Projection,
  ctx: RenderContext,
): Attributes {
  const core = rt.schema.id;
  const attrs = stored.attributes;
  const out: Attributes = { schemas: [core, ...rt.extensions.map((e) => e.schema.id).filter((u) => attrs[u] !== undefined)] };
  const emit = (schema: string, def: AttributeDefinition, value: unknown, target: Attributes) => {
    if (value === undefined || !isReturned(projection, schema, def)) return;
    const shown = def.type === 'complex' ? projectComplex(projection, schema, def, value) : value;
    if (shown !== undefined) target[def.name] = shown;
  };

  emit(core, ID, stored.id, out);
  emit(core, EXTERNAL_ID, attrs[EXTERNAL_ID.name], out);
  for (const def of rt.schema.attributes) emit(core, def, derived[def.name] ?? attrs[def.name], out);
  for (const ext of rt.extensions) {
    const values = attrs[ext.schema.id] as Attributes | undefined;
    if (!values) continue;
    const target: Attributes = {};
    for (const def of ext.schema.attributes) emit(ext.schema.id, def, values[def.name], target);
    if (Object.keys(target).length > 0) out[ext.schema.id] = target;
  }
  emit(core, META, metaOf(rt, stored, ctx), out);
  return out;
}

function projectComplex(p: Projection, schema: string, def: AttributeDefinition, value: unknown): unknown {
  const project = (v: Attributes): Attributes | undefined => {
    const o: Attributes = {};
    for (const sub of def.subAttributes ?? []) {
      if (v[sub.name] !== undefined && isReturned(p, schema, def, sub)) o[sub.name] = v[sub.name];
    }
    return Object.keys(o).length > 0 ? o : undefined;
  };
  if (!def.multiValued) return project(value as Attributes);
  const list = (value as Attributes[]).map(project).filter((v) => v !== undefined);
  return list.length > 0 ? list : undefined;
}

/** A reference to another resource as a multi-valued complex value; `type` as the referring attribute defines it. */
export function referenceValue(ref: ResourceRef, type: string, ctx: RenderContext): Attributes {
  const out: Attributes = { value: ref.value, $ref: ctx.location(ref.resourceType, ref.value), type };
  if (ref.display !== undefined) out.display = ref.display;
  return out;
}

function metaOf(rt: ResourceType, stored: StoredResource, ctx: RenderContext): Attributes {
  return {
    resourceType: rt.name,
    created: stored.created,
    lastModified: stored.lastModified,
    location: ctx.location(rt.name, stored.id),
    version: etagOf(stored.version),
  };
}
