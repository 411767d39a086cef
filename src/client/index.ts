/**
 * scimd/client: a typed client for any SCIM 2.0 server (RFC 7644), on fetch, with no dependency beyond scimd's core.
 * It reads the server's discovery endpoints and adapts: Bulk in chunks or as single requests, PATCH or (read, apply,
 * PUT with If-Match), cursor (RFC 9865) or index paging.
 */
import type { Filter } from '../core/filter/ast.js';
import { serializeFilter } from '../core/filter/serialize.js';
import { parsePatchRequest } from '../core/patch/operations.js';
import { applyPatch, RFC_RULES } from '../core/patch/apply.js';
import { scimErrors } from '../core/errors.js';
import { SCHEMA_URN, type ResourceType } from '../core/schema/registry.js';
import { Transport, type TransportOptions } from './transport.js';
import { discover, resourceTypeAt, type Discovery } from './discovery.js';
import { ScimClientError } from './errors.js';
import type { PatchOpBody, PatchRequest } from './patch.js';
import { bulkBody, bulkOutcomes, runChunked, type BulkOperation, type BulkOutcome, type BulkRequest } from './bulk.js';

export { ScimClientError, ScimTransportError } from './errors.js';
export type { Credentials, ClientCredentials } from './auth.js';
export type { RetryOptions, TransportOptions } from './transport.js';
export type { Discovery, ServerFeatures } from './discovery.js';
export { filter } from './filter.js';
export { parseFilter } from '../core/filter/parser.js';
export { ScimError } from '../core/errors.js';
export type { Filter } from '../core/filter/ast.js';
export { patchOp, PatchRequest, type PatchPathSpec, type PatchOpBody } from './patch.js';
export { BulkRequest, bulkRef, type BulkOutcome, type BulkOperation } from './bulk.js';

export interface ScimMeta {
  readonly resourceType?: string;
  readonly created?: string;
  readonly lastModified?: string;
  readonly location?: string;
  readonly version?: string;
}

/** A resource as a server returns it (RFC 7643 §3): its attributes beyond these are the resource type's. */
export interface ScimResource {
  schemas: string[];
  id: string;
  externalId?: string;
  meta?: ScimMeta;
  [attribute: string]: unknown;
}

export interface MultiValue {
  value?: string;
  display?: string;
  type?: string;
  primary?: boolean;
  $ref?: string;
}

export interface ScimUser extends ScimResource {
  userName: string;
  name?: { formatted?: string; familyName?: string; givenName?: string; middleName?: string };
  displayName?: string;
  active?: boolean;
  emails?: MultiValue[];
  groups?: MultiValue[];
}

export interface ScimGroup extends ScimResource {
  displayName: string;
  members?: MultiValue[];
}

/** What a create, replace or patch sends: the resource without what the server sets. */
export type ResourceBody<T extends ScimResource> = Omit<T, 'id' | 'meta'> & { id?: string };

export interface ListResponse<T> {
  readonly schemas: string[];
  readonly totalResults: number;
  readonly itemsPerPage?: number;
  readonly startIndex?: number;
  readonly nextCursor?: string;
  readonly previousCursor?: string;
  /** Empty when the server left it out (RFC 7644 §3.4.2: it may when there are no results). */
  readonly Resources: T[];
}

/** A resource and its version (the ETag, else `meta.version`): what to send as `ifMatch`. */
export interface Versioned<T> {
  readonly resource: T;
  readonly version: string | undefined;
}

/** A PATCH may answer 204 with only the new version (RFC 7644 §3.5.2). */
export interface Patched<T> {
  readonly resource: T | undefined;
  readonly version: string | undefined;
}

export interface Projection {
  readonly attributes?: readonly string[];
  readonly excludedAttributes?: readonly string[];
}

export interface ListQuery extends Projection {
  readonly filter?: Filter;
  readonly sortBy?: string;
  readonly sortOrder?: 'ascending' | 'descending';
  readonly startIndex?: number;
  readonly count?: number;
  /** RFC 9865: "" for the first page. */
  readonly cursor?: string;
}

export type PagedQuery = Omit<ListQuery, 'startIndex' | 'cursor'>;

/** How pages() moves on: by default by cursor when the server offers it (RFC 9865), else by index. */
export interface Paging {
  readonly paging?: 'cursor' | 'index';
}

export interface ScimClientOptions extends TransportOptions {
  /** The page size `pages()` and `all()` ask for (default 100, or less when the server's maximum is lower). */
  readonly pageSize?: number;
}

/** Times a PATCH emulated by read, apply and PUT is tried again when another writer came between (412). */
const EMULATED_PATCH_ATTEMPTS = 3;

function projection(p: Projection = {}): Record<string, string | undefined> {
  return {
    attributes: p.attributes?.length ? p.attributes.join(',') : undefined,
    excludedAttributes: p.excludedAttributes?.length ? p.excludedAttributes.join(',') : undefined,
  };
}

function versionOf(headers: Headers, body: unknown): string | undefined {
  const meta = typeof body === 'object' && body !== null ? (body as ScimResource).meta : undefined;
  return headers.get('etag') ?? meta?.version;
}

/**
 * What a read must ask for to see every attribute the PUT of an emulated PATCH would otherwise clear: those a server
 * returns only when asked for (`returned: request`) too. Nothing to ask when the resource type has none.
 */
function wholeRepresentation(rt: ResourceType): Projection {
  const named = [
    ...rt.schema.attributes.map((a) => [a, a.name] as const),
    ...rt.extensions.flatMap((e) => e.schema.attributes.map((a) => [a, `${e.schema.id}:${a.name}`] as const)),
  ];
  if (!named.some(([a]) => a.returned === 'request')) return {};
  return { attributes: named.filter(([a]) => a.returned !== 'never').map(([, name]) => name) };
}

const ifMatch = (version: string | undefined): Record<string, string> => (version !== undefined ? { 'if-match': version } : {});

export class ScimClient {
  readonly transport: Transport;
  private readonly pageSize: number;
  private discovery: Promise<Discovery> | undefined;

  constructor(options: ScimClientOptions) {
    this.transport = new Transport(options);
    this.pageSize = options.pageSize ?? 100;
  }

  /** The server's discovery endpoints, read once. */
  discover(): Promise<Discovery> {
    if (this.discovery === undefined) {
      const pending = discover(this.transport);
      // a failed discovery is not kept: the next call asks again
      pending.catch(() => this.discovery === pending && (this.discovery = undefined));
      this.discovery = pending;
    }
    return this.discovery;
  }

  resources<T extends ScimResource = ScimResource>(endpoint: string): Resources<T> {
    return new Resources<T>(this, endpoint.replace(/^\/+/, ''));
  }

  get users(): Resources<ScimUser> {
    return this.resources<ScimUser>('Users');
  }

  get groups(): Resources<ScimGroup> {
    return this.resources<ScimGroup>('Groups');
  }

  get defaultPageSize(): number {
    return this.pageSize;
  }

  /**
   * Runs a Bulk request of any size: chunked to the server's limits, or as single requests when it has no Bulk.
   * Answers an outcome per operation run (fewer when `failOnErrors` stopped the run). `concurrency` requests go at
   * once (default 1; always 1 with `failOnErrors`); one naming a POST of an earlier request waits for its answer.
   */
  async bulk(request: BulkRequest, options: { failOnErrors?: number; concurrency?: number } = {}): Promise<BulkOutcome[]> {
    const { features } = await this.discover();
    if (!features.bulk.supported) {
      return runChunked(request.operations, { maxOperations: 1, maxPayloadSize: Infinity }, options, async ([op]) => [await this.single(op!)]);
    }
    return runChunked(request.operations, features.bulk, options, async (operations, failOnErrors) => {
      const answer = await this.transport.request('POST', 'Bulk', { body: bulkBody(operations, failOnErrors) });
      return bulkOutcomes(operations, answer.body, this.transport.url('Bulk'));
    });
  }

  /** One bulk operation as the single request it stands for. */
  private async single(op: BulkOperation): Promise<BulkOutcome> {
    const [, endpoint, id] = op.path.split('/') as [string, string, string | undefined];
    const resources = this.resources(endpoint);
    const head = { method: op.method, path: op.path, ...(op.bulkId !== undefined ? { bulkId: op.bulkId } : {}) };
    const options = op.version !== undefined ? { ifMatch: op.version } : {};
    const name = decodeURIComponent(id ?? '');
    try {
      switch (op.method) {
        case 'POST': {
          const { resource, version } = await resources.create(op.data as ResourceBody<ScimResource>);
          const location = resource.meta?.location;
          return { ...head, status: 201, id: resource.id, ...(location !== undefined ? { location } : {}), ...(version !== undefined ? { version } : {}) };
        }
        case 'PUT':
        case 'PATCH': {
          const { version } = op.method === 'PUT'
            ? await resources.replace(name, op.data as ResourceBody<ScimResource>, options)
            : await resources.patch(name, op.data as PatchOpBody, options);
          return { ...head, status: 200, id: name, ...(version !== undefined ? { version } : {}) };
        }
        case 'DELETE':
          await resources.delete(name, options);
          return { ...head, status: 204, id: name };
      }
    } catch (e) {
      if (!(e instanceof ScimClientError)) throw e;
      return { ...head, status: e.status, error: e };
    }
  }
}

export class Resources<T extends ScimResource> {
  constructor(
    private readonly client: ScimClient,
    /** The endpoint below the base URL: `Users`, `Groups`, or a custom resource type's. */
    readonly endpoint: string,
  ) {}

  private at(id: string): string {
    return `${this.endpoint}/${encodeURIComponent(id)}`;
  }

  private versioned(answer: { headers: Headers; body: unknown }): Versioned<T> {
    return { resource: answer.body as T, version: versionOf(answer.headers, answer.body) };
  }

  async create(body: ResourceBody<T>, options: Projection = {}): Promise<Versioned<T>> {
    return this.versioned(await this.client.transport.request('POST', this.endpoint, { body, query: projection(options) }));
  }

  async get(id: string, options: Projection = {}): Promise<Versioned<T>> {
    return this.versioned(await this.client.transport.request('GET', this.at(id), { query: projection(options) }));
  }

  /** PUT (RFC 7644 §3.5.1); with `ifMatch`, 412 when the resource changed since that version. */
  async replace(id: string, body: ResourceBody<T>, options: Projection & { ifMatch?: string } = {}): Promise<Versioned<T>> {
    const answer = await this.client.transport.request('PUT', this.at(id), { body, query: projection(options), headers: ifMatch(options.ifMatch) });
    return this.versioned(answer);
  }

  /**
   * PATCH (RFC 7644 §3.5.2). On a server without PATCH: the resource is read, the operations applied to it by the
   * core's PATCH engine (with the server's own schemas), and the result sent with PUT and If-Match (when the server
   * has ETags), read again and retried if another writer came between — unless `ifMatch` was given: then 412.
   */
  async patch(id: string, patch: PatchRequest | PatchOpBody, options: Projection & { ifMatch?: string } = {}): Promise<Patched<T>> {
    const body = 'toJSON' in patch ? patch.toJSON() : patch;
    const discovery = await this.client.discover();
    if (discovery.features.patch) {
      const answer = await this.client.transport.request('PATCH', this.at(id), { body, query: projection(options), headers: ifMatch(options.ifMatch) });
      return { resource: answer.status === 204 ? undefined : (answer.body as T), version: versionOf(answer.headers, answer.body) };
    }
    const rt = resourceTypeAt(discovery, this.endpoint);
    if (rt === undefined) throw scimErrors.notImplemented(`The server has no PATCH and does not describe ${this.endpoint} in /ResourceTypes and /Schemas, so the PATCH cannot be applied here.`);
    const operations = parsePatchRequest(body);
    for (let attempt = 1; ; attempt++) {
      const read = await this.get(id, wholeRepresentation(rt));
      const current = read.resource as Record<string, unknown>;
      const memberList = () => (Array.isArray(current.members) ? (current.members as Record<string, unknown>[]) : []);
      const outcome = await applyPatch({ rt, id, rules: RFC_RULES, loadMembers: async () => memberList() }, current, operations);
      const document: Record<string, unknown> = { ...outcome.document };
      if (outcome.members) {
        // the engine gives members as a delta (it never loads a whole group); PUT needs the list
        const kept = outcome.members.clear ? [] : memberList().filter((m) => !outcome.members!.remove.has(String(m.value)));
        const present = new Set(kept.map((m) => String(m.value)));
        document.members = [...kept, ...[...outcome.members.add].filter((v) => !present.has(v)).map((value) => ({ value }))];
      }
      const version = options.ifMatch ?? (discovery.features.etag ? read.version : undefined);
      try {
        return await this.replace(id, document as ResourceBody<T>, { ...options, ...(version !== undefined ? { ifMatch: version } : {}) });
      } catch (e) {
        const raced = e instanceof ScimClientError && e.status === 412 && options.ifMatch === undefined && attempt < EMULATED_PATCH_ATTEMPTS;
        if (!raced) throw e;
      }
    }
  }

  /** DELETE (RFC 7644 §3.6); with `ifMatch`, 412 when the resource changed since that version. */
  async delete(id: string, options: { ifMatch?: string } = {}): Promise<void> {
    await this.client.transport.request('DELETE', this.at(id), { headers: ifMatch(options.ifMatch) });
  }

  /** One page (RFC 7644 §3.4.2). */
  async list(query: ListQuery = {}): Promise<ListResponse<T>> {
    const answer = await this.client.transport.request('GET', this.endpoint, {
      query: {
        filter: query.filter === undefined ? undefined : serializeFilter(query.filter),
        ...projection(query),
        sortBy: query.sortBy,
        sortOrder: query.sortOrder,
        startIndex: query.startIndex,
        count: query.count,
        cursor: query.cursor,
      },
    });
    const body = (answer.body ?? {}) as Partial<ListResponse<T>>;
    return { schemas: [SCHEMA_URN.listResponse], totalResults: 0, ...body, Resources: Array.isArray(body.Resources) ? body.Resources : [] };
  }

  /**
   * Every page of the query: by cursor (RFC 9865) when the server offers it, else by startIndex, moving on by the
   * number of resources each page really holds (a server may return fewer than asked) and reading totalResults
   * afresh on each page (it changes while others write).
   */
  async *pages(query: PagedQuery = {}, how: Paging = {}): AsyncGenerator<ListResponse<T>> {
    const { features } = await this.client.discover();
    const limit = Math.min(features.pagination.maxPageSize ?? Infinity, features.filter.maxResults ?? Infinity);
    const count = Math.min(query.count ?? this.client.defaultPageSize, limit);
    if ((how.paging ?? (features.pagination.cursor ? 'cursor' : 'index')) === 'cursor') {
      let cursor = '';
      for (;;) {
        const page = await this.list({ ...query, count, cursor });
        yield page;
        if (page.nextCursor === undefined || page.Resources.length === 0) return;
        cursor = page.nextCursor;
      }
    }
    let startIndex = 1;
    for (;;) {
      const page = await this.list({ ...query, count, startIndex });
      yield page;
      startIndex += page.Resources.length;
      if (page.Resources.length === 0 || startIndex > page.totalResults) return;
    }
  }

  /** Every resource of the query, page after page (see pages()). */
  async *all(query: PagedQuery = {}, how: Paging = {}): AsyncGenerator<T> {
    for await (const page of this.pages(query, how)) yield* page.Resources;
  }
}
