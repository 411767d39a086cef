/**
 * SchemaRegistry: every schema and resource type the server knows, as data (RFC 7643 §6, §7). Requests are
 * validated against it and the discovery endpoints are rendered from it, so the two cannot disagree.
 */
import type { AttributeDefinition, ResourceTypeDefinition, SchemaDefinition, SchemaExtensionRef } from './attribute.js';
import { SchemaDefinitionError, parseAttribute, parseResourceType, parseSchema, type SchemaBundle } from './definitions.js';
import userSchema from './builtin/user.json' with { type: 'json' };
import groupSchema from './builtin/group.json' with { type: 'json' };
import enterpriseUserSchema from './builtin/enterprise-user.json' with { type: 'json' };
import builtinResourceTypes from './builtin/resource-types.json' with { type: 'json' };
import commonAttributes from './builtin/common-attributes.json' with { type: 'json' };

export const SCHEMA_URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  bulkRequest: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
  bulkResponse: 'urn:ietf:params:scim:api:messages:2.0:BulkResponse',
} as const;

/** id, externalId and meta: on every resource, in no schema's attribute list (RFC 7643 §3.1). */
export const COMMON_ATTRIBUTES: readonly AttributeDefinition[] = commonAttributes.map((a) =>
  parseAttribute(a, 'common attributes'),
);

/** An attribute resolved against a resource type: where it lives and what it is. */
export interface ResolvedAttribute {
  /** The schema URN the attribute belongs to; for core and common attributes, the core schema. */
  readonly schema: string;
  /** True when the attribute sits under its extension URN in the resource JSON. */
  readonly inExtension: boolean;
  readonly attribute: AttributeDefinition;
  /** Set when the path names a sub-attribute (`name.givenName`, `emails.value`). */
  readonly subAttribute?: AttributeDefinition;
}

export class ResourceType {
  readonly extensions: readonly { readonly schema: SchemaDefinition; readonly required: boolean }[];
  private readonly coreByName: ReadonlyMap<string, AttributeDefinition>;
  private readonly extensionByUrn: ReadonlyMap<string, { readonly schema: SchemaDefinition; readonly required: boolean }>;
  /** Lower-cased schema URNs, longest first, so `…:enterprise:2.0:User:manager` finds its schema before a prefix. */
  private readonly urnsLongestFirst: readonly string[];

  constructor(
    readonly definition: ResourceTypeDefinition,
    readonly schema: SchemaDefinition,
    extensions: readonly { schema: SchemaDefinition; required: boolean }[],
  ) {
    this.extensions = extensions;
    this.coreByName = new Map([...COMMON_ATTRIBUTES, ...schema.attributes].map((a) => [a.name.toLowerCase(), a]));
    this.extensionByUrn = new Map(extensions.map((e) => [e.schema.id.toLowerCase(), e]));
    this.urnsLongestFirst = [schema.id.toLowerCase(), ...this.extensionByUrn.keys()].sort((a, b) => b.length - a.length);
  }

  get name(): string {
    return this.definition.name;
  }

  get endpoint(): string {
    return this.definition.endpoint;
  }

  /** All schema URNs a resource of this type may carry, core first. */
  get schemaUrns(): readonly string[] {
    return [this.schema.id, ...this.extensions.map((e) => e.schema.id)];
  }

  coreAttribute(name: string): AttributeDefinition | undefined {
    return this.coreByName.get(name.toLowerCase());
  }

  extension(urn: string): { readonly schema: SchemaDefinition; readonly required: boolean } | undefined {
    return this.extensionByUrn.get(urn.toLowerCase());
  }

  /**
   * Resolves an attribute path (RFC 7644 §3.10): `userName`, `name.givenName`, or URN-qualified
   * `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`. The schema URN is matched against
   * the known URNs rather than split on `.` or `:`, because URNs themselves contain both.
   */
  resolve(path: string): ResolvedAttribute | undefined {
    let schemaUrn = this.schema.id;
    let rest = path;
    if (/^urn:/i.test(path)) {
      const lower = path.toLowerCase();
      const urn = this.urnsLongestFirst.find((u) => lower.startsWith(u + ':'));
      if (!urn) return undefined;
      rest = path.slice(urn.length + 1);
      schemaUrn = urn === this.schema.id.toLowerCase() ? this.schema.id : this.extensionByUrn.get(urn)!.schema.id;
    }
    const dot = rest.indexOf('.');
    const name = dot < 0 ? rest : rest.slice(0, dot);
    const subName = dot < 0 ? undefined : rest.slice(dot + 1);
    const inExtension = schemaUrn !== this.schema.id;
    const attribute = inExtension
      ? this.extension(schemaUrn)!.schema.attributes.find((a) => a.name.toLowerCase() === name.toLowerCase())
      : this.coreAttribute(name);
    if (!attribute) return undefined;
    if (subName === undefined) return { schema: schemaUrn, inExtension, attribute };
    const subAttribute = attribute.subAttributes?.find((s) => s.name.toLowerCase() === subName.toLowerCase());
    if (!subAttribute) return undefined;
    return { schema: schemaUrn, inExtension, attribute, subAttribute };
  }
}

export interface RegistryInput {
  readonly bundles?: readonly SchemaBundle[];
}

export class SchemaRegistry {
  private readonly schemasById: ReadonlyMap<string, SchemaDefinition>;
  private readonly types: readonly ResourceType[];

  private constructor(schemas: readonly SchemaDefinition[], types: readonly ResourceType[]) {
    this.schemasById = new Map(schemas.map((s) => [s.id.toLowerCase(), s]));
    this.types = types;
  }

  /** The core User, Group and EnterpriseUser schemas plus any custom bundles, checked for consistency. */
  static create(input: RegistryInput = {}): SchemaRegistry {
    const schemas: SchemaDefinition[] = [
      parseSchema(userSchema, 'builtin'),
      parseSchema(groupSchema, 'builtin'),
      parseSchema(enterpriseUserSchema, 'builtin'),
    ];
    const resourceTypes: ResourceTypeDefinition[] = builtinResourceTypes.map((r) => parseResourceType(r, 'builtin'));
    const extraExtensions: (SchemaExtensionRef & { resourceType: string })[] = [];
    for (const bundle of input.bundles ?? []) {
      schemas.push(...bundle.schemas);
      resourceTypes.push(...bundle.resourceTypes);
      extraExtensions.push(...bundle.schemaExtensions);
    }

    const byId = new Map<string, SchemaDefinition>();
    for (const s of schemas) {
      const key = s.id.toLowerCase();
      if (byId.has(key)) throw new SchemaDefinitionError(`schema ${s.id} is defined twice`);
      byId.set(key, s);
    }
    const schemaOf = (urn: string, where: string): SchemaDefinition => {
      const s = byId.get(urn.toLowerCase());
      if (!s) throw new SchemaDefinitionError(`${where} names schema ${urn}, which is not defined`);
      return s;
    };

    const seenNames = new Set<string>();
    const seenEndpoints = new Set<string>();
    const types = resourceTypes.map((def) => {
      const where = `resource type ${def.name}`;
      if (seenNames.has(def.name.toLowerCase())) throw new SchemaDefinitionError(`${where} is defined twice`);
      if (seenEndpoints.has(def.endpoint.toLowerCase())) throw new SchemaDefinitionError(`${where}: endpoint ${def.endpoint} is taken`);
      seenNames.add(def.name.toLowerCase());
      seenEndpoints.add(def.endpoint.toLowerCase());
      const refs = [...def.schemaExtensions, ...extraExtensions.filter((e) => e.resourceType.toLowerCase() === def.name.toLowerCase())];
      const extensions = refs.map((r) => ({ schema: schemaOf(r.schema, where), required: r.required }));
      const definition = { ...def, schemaExtensions: extensions.map((e) => ({ schema: e.schema.id, required: e.required })) };
      return new ResourceType(definition, schemaOf(def.schema, where), extensions);
    });
    for (const e of extraExtensions) {
      if (!seenNames.has(e.resourceType.toLowerCase())) {
        throw new SchemaDefinitionError(`schema extension ${e.schema} names resource type ${e.resourceType}, which is not defined`);
      }
    }
    return new SchemaRegistry(schemas, types);
  }

  schemas(): readonly SchemaDefinition[] {
    return [...this.schemasById.values()];
  }

  schema(id: string): SchemaDefinition | undefined {
    return this.schemasById.get(id.toLowerCase());
  }

  resourceTypes(): readonly ResourceType[] {
    return this.types;
  }

  resourceType(name: string): ResourceType | undefined {
    const lower = name.toLowerCase();
    return this.types.find((t) => t.name.toLowerCase() === lower);
  }

  /** The resource type served at `/Users`, `/Groups`, …; endpoint names match case-insensitively. */
  byEndpoint(segment: string): ResourceType | undefined {
    const lower = '/' + segment.toLowerCase();
    return this.types.find((t) => t.endpoint.toLowerCase() === lower);
  }
}
