/** Reads custom schema bundles (see examples/student) named in configuration. */
import { readFileSync } from 'node:fs';
import { parseBundle, SchemaDefinitionError, type SchemaBundle } from './core/schema/definitions.js';
import { SchemaRegistry } from './core/schema/registry.js';

export function loadSchemaBundle(file: string): SchemaBundle {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SchemaDefinitionError(`${file}: ${(e as Error).message}`);
  }
  return parseBundle(json, file);
}

export function registryFromFiles(files: readonly string[]): SchemaRegistry {
  return SchemaRegistry.create({ bundles: files.map(loadSchemaBundle) });
}
