/**
 * The discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas, rendered from the same
 * registry that validates requests, and from the capabilities the server really has.
 */
import type { AttributeDefinition, SchemaDefinition } from './schema/attribute.js';
import { SCHEMA_URN, type ResourceType } from './schema/registry.js';
import type { Attributes } from './model.js';
import type { BulkLimits } from './bulk.js';

/** What this server supports today; ServiceProviderConfig must not claim more. */
export interface Capabilities {
  readonly maxResults: number;
  readonly cursorTimeout: number;
  readonly bulk: BulkLimits;
}

/** How a client may authenticate to one organization (RFC 7643 §5 `authenticationSchemes`): what it has set up. */
export interface AuthenticationSetup {
  /** It has an active SCIM token. */
  readonly bearerTokens: boolean;
  /** It has an active OAuth client (client credentials). */
  readonly oauthClients: boolean;
  /** The JWT issuers it trusts. */
  readonly issuers: readonly { readonly issuer: string; readonly audience: string }[];
}

const BEARER_SCHEME = {
  type: 'oauthbearertoken',
  name: 'OAuth Bearer Token',
  description: 'A bearer token issued by `scimd token create` or the console, sent as "Authorization: Bearer <token>" (RFC 6750).',
  specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
};

const OAUTH2_SCHEME = {
  type: 'oauth2',
  name: 'OAuth 2.0 client credentials',
  description: 'An access token from POST /oauth/token at the root of this server (grant_type=client_credentials, RFC 6749 §4.4) ' +
    'with the id and secret of one of the organization\'s OAuth clients, sent as "Authorization: Bearer <token>"; its metadata: /.well-known/oauth-authorization-server.',
  specUri: 'https://www.rfc-editor.org/rfc/rfc6749',
};

/** The schemes an organization has set up, the first primary; a bearer token when nothing says (an application's own authentication). */
function schemesOf(setup: AuthenticationSetup | undefined): Attributes[] {
  const schemes = setup === undefined ? [BEARER_SCHEME] : [
    ...(setup.bearerTokens ? [BEARER_SCHEME] : []),
    ...(setup.oauthClients ? [OAUTH2_SCHEME] : []),
    ...setup.issuers.map((t) => ({
      type: 'oauthbearertoken',
      name: `JWT from ${t.issuer}`,
      description: `A JWT signed by ${t.issuer} for the audience ${t.audience}, sent as "Authorization: Bearer <token>".`,
      specUri: 'https://www.rfc-editor.org/rfc/rfc7519',
    })),
  ];
  return (schemes.length > 0 ? schemes : [BEARER_SCHEME]).map((scheme, i) => ({ ...scheme, primary: i === 0 }));
}

export function serviceProviderConfig(caps: Capabilities, base: string, setup?: AuthenticationSetup): Attributes {
  return {
    schemas: [SCHEMA_URN.serviceProviderConfig],
    patch: { supported: true },
    bulk: { supported: true, maxOperations: caps.bulk.maxOperations, maxPayloadSize: caps.bulk.maxPayloadSize },
    filter: { supported: true, maxResults: caps.maxResults },
    changePassword: { supported: true },
    sort: { supported: true },
    // RFC 9865 §4
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: caps.maxResults,
      maxPageSize: caps.maxResults,
      cursorTimeout: caps.cursorTimeout,
    },
    // weak ETags from the resource version; If-Match is checked inside the store's write (RFC 7644 §3.14)
    etag: { supported: true },
    authenticationSchemes: schemesOf(setup),
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

export function renderResourceType(rt: ResourceType, base: string): Attributes {
  const d = rt.definition;
  return {
    schemas: [SCHEMA_URN.resourceType],
    id: d.id,
    name: d.name,
    endpoint: d.endpoint,
    ...(d.description !== undefined ? { description: d.description } : {}),
    schema: d.schema,
    schemaExtensions: d.schemaExtensions.map((e) => ({ schema: e.schema, required: e.required })),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${d.id}` },
  };
}

export function renderSchema(schema: SchemaDefinition, base: string): Attributes {
  return {
    schemas: [SCHEMA_URN.schema],
    id: schema.id,
    name: schema.name,
    ...(schema.description !== undefined ? { description: schema.description } : {}),
    attributes: schema.attributes.map(renderAttribute),
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${schema.id}` },
  };
}

/** Every characteristic, defaults included, so a client never has to know RFC 7643's defaults. */
function renderAttribute(a: AttributeDefinition): Attributes {
  const out: Attributes = {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued,
    description: a.description ?? '',
    required: a.required,
  };
  if (a.type !== 'complex') out.caseExact = a.caseExact;
  if (a.canonicalValues) out.canonicalValues = a.canonicalValues;
  if (a.referenceTypes) out.referenceTypes = a.referenceTypes;
  out.mutability = a.mutability;
  out.returned = a.returned;
  if (a.type !== 'complex') out.uniqueness = a.uniqueness;
  if (a.subAttributes) out.subAttributes = a.subAttributes.map(renderAttribute);
  return out;
}
