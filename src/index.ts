/** scimd as a library: mount the SCIM core in any Node application. */
export { createScim, type Scim, type ScimOptions, type CallContext, type ResourceResponse } from './core/scim.js';
export { SchemaRegistry, ResourceType, SCHEMA_URN } from './core/schema/registry.js';
export type { AttributeDefinition, SchemaDefinition, ResourceTypeDefinition } from './core/schema/attribute.js';
export { parseBundle, SchemaDefinitionError, type SchemaBundle } from './core/schema/definitions.js';
export { ScimError, scimErrors, type ScimType } from './core/errors.js';
export { authenticate, createToken, ensureBootstrapToken, DIALECTS, type Dialect, type RequestContext } from './core/tokens.js';
export { verifySecret } from './core/resource/secrets.js';
export type { StoredResource, TokenRecord, Organization, SnapshotRecord, ListResponse } from './core/model.js';
export type { Store, ResourceStore, OrganizationStore, TokenStore, AuditLog, Outbox, RequestCounter, SecretStore, SnapshotStore } from './core/ports.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './store/postgres/postgres-store.js';
export { openStore } from './store/open.js';
export { buildServer, type ServerOptions } from './http/server.js';
export { loadSchemaBundle, registryFromFiles } from './schema-files.js';
export type { LifecycleEvent, LifecycleEventType, EventResource } from './core/events.js';
export type { AuditEntry, AuditRecord, AttributeChange } from './core/audit.js';
export { startDelivery, type Delivery, type DeliveryOptions } from './events/dispatcher.js';
export { webhookDeliverer, verifySignature, sign, SIGNATURE_HEADER } from './events/webhook.js';
