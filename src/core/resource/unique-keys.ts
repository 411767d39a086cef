import type { ResourceType } from '../schema/registry.js';
import type { Attributes, UniqueKey } from '../model.js';

/** Values of attributes with `uniqueness` server or global, normalised by their case rule. */
export function uniqueKeysOf(rt: ResourceType, attrs: Attributes): UniqueKey[] {
  const keys: UniqueKey[] = [];
  const collect = (defs: ResourceType['schema']['attributes'], values: Attributes, prefix: string) => {
    for (const def of defs) {
      const v = values[def.name];
      if (def.uniqueness === 'none' || def.multiValued || def.type === 'complex' || v === undefined) continue;
      const value = typeof v === 'string' ? (def.caseExact ? v : v.toLowerCase()) : JSON.stringify(v);
      keys.push({ attribute: prefix + def.name, value });
    }
  };
  collect(rt.schema.attributes, attrs, '');
  for (const ext of rt.extensions) {
    const values = attrs[ext.schema.id] as Attributes | undefined;
    if (values) collect(ext.schema.attributes, values, `${ext.schema.id}:`);
  }
  return keys;
}
