/**
 * The values of a resource as the store indexes them for filtering and sorting: one entry per simple value, plus
 * one marker per complex value (for `pr` and value filters), each with the ordinal of its element so that
 * `emails[type eq "work" and value co "x"]` can demand that both hold on the same email. Strings are case-folded
 * by their attribute's rule and dateTimes become epoch milliseconds, exactly as bind.ts normalises filter values.
 */
import type { AttributeDefinition } from '../schema/attribute.js';
import type { ResourceType } from '../schema/registry.js';
import type { Attributes, IndexEntry } from '../model.js';
import { foldCase, instantOf } from './bound.js';

export interface IndexedMeta {
  readonly id: string;
  readonly created: string;
  readonly lastModified: string;
}

function scalar(def: AttributeDefinition, value: unknown): Omit<IndexEntry, 'path' | 'ordinal'> | undefined {
  switch (def.type) {
    case 'boolean':
      return typeof value === 'boolean' ? { num: value ? 1 : 0 } : undefined;
    case 'integer':
    case 'decimal':
      return typeof value === 'number' ? { num: value } : undefined;
    case 'dateTime': {
      const ms = typeof value === 'string' ? instantOf(value) : undefined;
      return ms === undefined ? undefined : { num: ms };
    }
    case 'complex':
      return undefined;
    default:
      return typeof value === 'string' ? { str: foldCase(value, def.caseExact) } : undefined;
  }
}

function visit(def: AttributeDefinition, value: unknown, extension: string | undefined, out: IndexEntry[]): void {
  if (value === undefined || value === null || def.returned === 'never') return;
  const key = indexPath(extension, def.name);
  const values = def.multiValued && Array.isArray(value) ? value : [value];
  if (def.type !== 'complex') {
    values.forEach((v, ordinal) => {
      const s = scalar(def, v);
      if (s) out.push({ path: key, ordinal, ...s });
    });
    return;
  }
  const subs = (def.subAttributes ?? []).filter((sub) => sub.returned !== 'never').map((sub) => ({ sub, path: indexPath(extension, def.name, sub.name) }));
  values.forEach((v, ordinal) => {
    if (typeof v !== 'object' || v === null) return;
    out.push({ path: key, ordinal });
    for (const { sub, path } of subs) {
      const sv = (v as Attributes)[sub.name];
      if (sv === undefined || sv === null) continue;
      for (const one of sub.multiValued && Array.isArray(sv) ? sv : [sv]) {
        const s = scalar(sub, one);
        if (s) out.push({ path, ordinal, ...s });
      }
    }
  });
}

/**
 * The index path of an attribute or sub-attribute, as filters name the values they read (bind.ts) and as they are
 * indexed here: lower-cased `name.givenname`, an extension's prefixed with its URN (`urn:…:user:employeenumber`).
 */
export function indexPath(extension: string | undefined, attribute: string, subAttribute?: string): string {
  return `${extension ? `${extension}:` : ''}${attribute}${subAttribute !== undefined ? `.${subAttribute}` : ''}`.toLowerCase();
}

/** The entry of `meta.lastModified`, which a write that changes only a group's members sets alone. */
export function lastModifiedEntry(at: string): IndexEntry {
  return { path: 'meta.lastmodified', ordinal: 0, num: Date.parse(at) };
}

export function indexEntries(rt: ResourceType, attrs: Attributes, meta: IndexedMeta): IndexEntry[] {
  const out: IndexEntry[] = [
    { path: 'id', ordinal: 0, str: meta.id },
    { path: 'meta', ordinal: 0 },
    { path: 'meta.resourcetype', ordinal: 0, str: rt.name },
    { path: 'meta.created', ordinal: 0, num: Date.parse(meta.created) },
    lastModifiedEntry(meta.lastModified),
  ];
  const schemas = [rt.schema.id, ...rt.extensions.map((e) => e.schema.id).filter((u) => attrs[u] !== undefined)];
  schemas.forEach((urn, ordinal) => out.push({ path: 'schemas', ordinal, str: urn.toLowerCase() }));
  const externalId = rt.coreAttribute('externalId')!;
  visit(externalId, attrs.externalId, undefined, out);
  for (const def of rt.schema.attributes) visit(def, attrs[def.name], undefined, out);
  for (const ext of rt.extensions) {
    const values = attrs[ext.schema.id] as Attributes | undefined;
    if (!values) continue;
    for (const def of ext.schema.attributes) visit(def, values[def.name], ext.schema.id, out);
  }
  return out;
}
