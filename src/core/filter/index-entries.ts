/**
 * The values of a resource as the store indexes them for filtering and sorting: one entry per simple value, plus
 * one marker per complex value (for `pr` and value filters), each with the ordinal of its element so that
 * `emails[type eq "work" and value co "x"]` can demand that both hold on the same email. Strings are case-folded
 * by their attribute's rule and dateTimes become epoch milliseconds, exactly as bind.ts normalises filter values.
 */
import type { AttributeDefinition } from '../schema/attribute.js';
import type { ResourceType } from '../schema/registry.js';
import type { Attributes } from '../../store/store.js';
import { foldCase, instantOf } from './bound.js';

export interface IndexEntry {
  readonly path: string;
  readonly ordinal: number;
  readonly str?: string;
  readonly num?: number;
}

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

function visit(def: AttributeDefinition, value: unknown, key: string, out: IndexEntry[]): void {
  if (value === undefined || value === null || def.returned === 'never') return;
  const values = def.multiValued && Array.isArray(value) ? value : [value];
  values.forEach((v, ordinal) => {
    if (def.type !== 'complex') {
      const s = scalar(def, v);
      if (s) out.push({ path: key, ordinal, ...s });
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    out.push({ path: key, ordinal });
    for (const sub of def.subAttributes ?? []) {
      const sv = (v as Attributes)[sub.name];
      if (sv === undefined || sv === null || sub.returned === 'never') continue;
      for (const one of sub.multiValued && Array.isArray(sv) ? sv : [sv]) {
        const s = scalar(sub, one);
        if (s) out.push({ path: `${key}.${sub.name.toLowerCase()}`, ordinal, ...s });
      }
    }
  });
}

export function indexEntries(rt: ResourceType, attrs: Attributes, meta: IndexedMeta): IndexEntry[] {
  const out: IndexEntry[] = [
    { path: 'id', ordinal: 0, str: meta.id },
    { path: 'meta', ordinal: 0 },
    { path: 'meta.resourcetype', ordinal: 0, str: rt.name },
    { path: 'meta.created', ordinal: 0, num: Date.parse(meta.created) },
    { path: 'meta.lastmodified', ordinal: 0, num: Date.parse(meta.lastModified) },
  ];
  const schemas = [rt.schema.id, ...rt.extensions.map((e) => e.schema.id).filter((u) => attrs[u] !== undefined)];
  schemas.forEach((urn, ordinal) => out.push({ path: 'schemas', ordinal, str: urn.toLowerCase() }));
  const externalId = rt.coreAttribute('externalId')!;
  visit(externalId, attrs.externalId, 'externalid', out);
  for (const def of rt.schema.attributes) visit(def, attrs[def.name], def.name.toLowerCase(), out);
  for (const ext of rt.extensions) {
    const values = attrs[ext.schema.id] as Attributes | undefined;
    if (!values) continue;
    for (const def of ext.schema.attributes) visit(def, values[def.name], `${ext.schema.id}:${def.name}`.toLowerCase(), out);
  }
  return out;
}
