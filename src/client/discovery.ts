/**
 * What a server says it supports (RFC 7644 §4, RFC 7643 §5–§7, RFC 9865 §4), read from /ServiceProviderConfig,
 * /ResourceTypes and /Schemas into the few facts the client adapts to. Whatever is not advertised as supported is
 * taken as unsupported, so the client falls back to what every server must do.
 */
import { parseResourceType, parseSchema } from '../core/schema/definitions.js';
import { ResourceType } from '../core/schema/registry.js';
import type { Transport } from './transport.js';
import { ScimClientError } from './errors.js';

export interface ServerFeatures {
  readonly patch: boolean;
  readonly bulk: { readonly supported: boolean; readonly maxOperations: number; readonly maxPayloadSize: number };
  readonly filter: { readonly supported: boolean; readonly maxResults?: number };
  readonly sort: boolean;
  readonly etag: boolean;
  readonly changePassword: boolean;
  /** RFC 9865 §4; a server that does not mention pagination pages by index only. */
  readonly pagination: { readonly cursor: boolean; readonly index: boolean; readonly maxPageSize?: number };
}

export interface Discovery {
  readonly features: ServerFeatures;
  readonly serviceProviderConfig: Record<string, unknown>;
  /** Empty when the server does not serve the endpoint. */
  readonly resourceTypes: readonly Record<string, unknown>[];
  readonly schemas: readonly Record<string, unknown>[];
}

type Json = Record<string, unknown>;
const object = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

export function readFeatures(spc: Json): ServerFeatures {
  const supported = (name: string) => object(spc[name]).supported === true;
  const bulk = object(spc.bulk);
  const pagination = spc.pagination === undefined ? undefined : object(spc.pagination);
  const maxResults = positive(object(spc.filter).maxResults);
  const maxPageSize = positive(pagination?.maxPageSize);
  return {
    patch: supported('patch'),
    bulk: { supported: supported('bulk'), maxOperations: positive(bulk.maxOperations) ?? 1, maxPayloadSize: positive(bulk.maxPayloadSize) ?? Infinity },
    filter: { supported: supported('filter'), ...(maxResults !== undefined ? { maxResults } : {}) },
    sort: supported('sort'),
    etag: supported('etag'),
    changePassword: supported('changePassword'),
    pagination: { cursor: pagination?.cursor === true, index: pagination === undefined || pagination.index !== false, ...(maxPageSize !== undefined ? { maxPageSize } : {}) },
  };
}

/** A discovery list: a ListResponse, or (as some servers answer) a bare array; empty where the endpoint is missing. */
async function discoveryList(transport: Transport, path: string): Promise<Json[]> {
  let body: unknown;
  try {
    body = (await transport.request('GET', path)).body;
  } catch (e) {
    if (e instanceof ScimClientError && (e.status === 404 || e.status === 501)) return [];
    throw e;
  }
  const list = Array.isArray(body) ? body : object(body).Resources;
  return Array.isArray(list) ? list.map(object) : [];
}

export async function discover(transport: Transport): Promise<Discovery> {
  const [spc, resourceTypes, schemas] = await Promise.all([
    transport.request('GET', 'ServiceProviderConfig').then((a) => object(a.body)),
    discoveryList(transport, 'ResourceTypes'),
    discoveryList(transport, 'Schemas'),
  ]);
  return { features: readFeatures(spc), serviceProviderConfig: spc, resourceTypes, schemas };
}

/**
 * The core's ResourceType for an endpoint, from the server's own definitions: what the client needs to apply a
 * PATCH itself (for a server without PATCH). Undefined when the server does not describe the endpoint.
 */
export function resourceTypeAt(discovery: Discovery, endpoint: string): ResourceType | undefined {
  const wanted = `/${endpoint.replace(/^\/+/, '')}`.toLowerCase();
  const json = discovery.resourceTypes.find((r) => typeof r.endpoint === 'string' && r.endpoint.toLowerCase() === wanted);
  if (json === undefined) return undefined;
  const definition = parseResourceType(json, 'the server\'s /ResourceTypes');
  const schemaOf = (urn: string) => {
    const found = discovery.schemas.find((s) => typeof s.id === 'string' && s.id.toLowerCase() === urn.toLowerCase());
    return found === undefined ? undefined : parseSchema(found, 'the server\'s /Schemas');
  };
  const schema = schemaOf(definition.schema);
  if (schema === undefined) return undefined;
  const extensions = definition.schemaExtensions.flatMap((e) => {
    const s = schemaOf(e.schema);
    return s === undefined ? [] : [{ schema: s, required: e.required }];
  });
  return new ResourceType(definition, schema, extensions);
}
