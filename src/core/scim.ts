/**
 * The SCIM service: the protocol core that any HTTP shell (the Fastify server, or an application embedding scimd)
 * calls. Each operation is parse → check → plan a store write → execute → render; nothing here knows HTTP.
 */
import { createHash } from 'node:crypto';
import { SCHEMA_URN, SchemaRegistry, type ResourceType } from './schema/registry.js';
import { QueryTimeout, ScimError, scimErrors, toScimError, WriteRefused } from './errors.js';
import { sameJson } from './json.js';
import { checkResource } from './resource/schema-checker.js';
import { protectSecrets, storedSecrets, withoutSecrets } from './resource/secrets.js';
import { uniqueKeysOf } from './resource/unique-keys.js';
import { timeOrderedId } from './resource/ids.js';
import { compareSortKeys, descending, integerParam, searchRequest, type ListParams, type ProjectionParams } from './list-params.js';

export type { ListParams, ProjectionParams } from './list-params.js';
import { isReturned, parseProjection, type Projection } from './resource/projection.js';
import { referenceValue, renderResource, type DerivedAttributes, type RenderContext } from './resource/render.js';
import { etagOf, expectedVersion, namesVersion, type Preconditions } from './etag.js';
import { indexEntries, type IndexedMeta } from './filter/index-entries.js';
import { parseFilter } from './filter/parser.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { parsePatchRequest, type PatchOperation } from './patch/operations.js';
import { applyPatch, type PatchRules } from './patch/apply.js';
import { DIALECT_RULES } from './patch/dialects.js';
import { bindFilter, bindSortBy } from './filter/bind.js';
import type { SortSpec } from './filter/bound.js';
import { renderResourceType, renderSchema, serviceProviderConfig } from './discovery.js';
import { runBulk, type BulkLimits, type BulkResponse, type Created } from './bulk.js';
import type { RequestContext } from './tokens.js';
import { insufficientScope, readsAnything, requireScope, SCIM_READ, SCIM_WRITE, type Access } from './scopes.js';
import { auditEntry, changesOf, type AttributeChange, type AuditEntry, type AuditOperation } from './audit.js';
import { eventsOf } from './events.js';
import type { Attributes, ChangeRecord, CreateManyOptions, Keyset, ListResponse, Membership, Modification, ResourceRef, ResourceWrite, StoredResource } from './model.js';
import { FEED_CHANNEL } from './model.js';
import type { AuditLog, ResourceStore, SecretStore, TokenStore } from './ports.js';
import { hasMembers, memberTypes, relationOf } from './resource/relations.js';

export interface ScimOptions {
  /** With listTokens, ServiceProviderConfig lists the authentication schemes each organization has set up. */
  readonly store: ResourceStore & AuditLog & SecretStore & Partial<Pick<TokenStore, 'listTokens'>>;
  readonly registry?: SchemaRegistry;
  /** The most resources one list response carries (ServiceProviderConfig `filter.maxResults`). */
  readonly maxResults?: number;
  /** How long a pagination cursor stays valid (RFC 9865 `cursorTimeout`). */
  readonly cursorTimeoutSeconds?: number;
  /** Record every state-changing request in the audit log (default true). */
  readonly audit?: boolean;
  /**
   * Write lifecycle events to the outbox (default false: turn it on where something delivers them); a list names
   * the delivery channels (one per webhook endpoint), each of which gets every event; FEED_CHANNEL among them
   * keeps the events feed.
   */
  readonly events?: boolean | readonly string[];
  /** ServiceProviderConfig `bulk.maxOperations` / `maxPayloadSize` (bytes), enforced by the core and the HTTP shell. */
  readonly bulk?: Partial<BulkLimits>;
  readonly now?: () => Date;
}

/** Where the caller reaches the SCIM root, e.g. `https://scim.example.com/scim/v2`; used for every URL rendered. */
export interface CallContext extends RequestContext {
  readonly baseUrl: string;
  /** For the audit log: the request's id and the client's address, where the shell knows them. */
  readonly requestId?: string;
  readonly clientAddress?: string;
}

export interface ResourceResponse {
  readonly resource: Attributes;
  readonly location: string;
  readonly etag: string;
}

export type Scim = ReturnType<typeof createScim>;

/** The groups of resources that are in none. */
const NO_GROUPS: ReadonlyMap<string, readonly ResourceRef[]> = new Map();

/** An operation whose path names a group's `members` (whole, or by a value filter): a candidate for a delta. */
const onMembers = (op: PatchOperation) => op.path !== undefined && /^members(?:$|\[)/i.test(op.path.text);

export function createScim(options: ScimOptions) {
  const store = options.store;
  const registry = options.registry ?? SchemaRegistry.create();
  const maxResults = options.maxResults ?? 1000;
  const cursorTimeout = options.cursorTimeoutSeconds ?? 3600;
  const bulkLimits: BulkLimits = { maxOperations: 1000, maxPayloadSize: 4_194_304, ...options.bulk };
  // made once per database and never changed, so every process may keep it
  let cursorSecret: Promise<Buffer> | undefined;
  const now = options.now ?? (() => new Date());

  /** A page of resources; a filter so expensive that the database cancelled it is the client's to narrow. */
  const listPage = async (...args: Parameters<ResourceStore['listResources']>) => {
    try {
      return await store.listResources(...args);
    } catch (e) {
      throw e instanceof QueryTimeout ? toScimError(e, { listing: true }) : e;
    }
  };

  const resourceTypeAt = (endpoint: string): ResourceType => {
    const rt = registry.byEndpoint(endpoint);
    if (!rt) throw scimErrors.notFound(`There is no resource endpoint "/${endpoint}".`);
    return rt;
  };

  /** The resource type at the endpoint, once the caller's scopes allow the access there. */
  const permitted = (ctx: Pick<CallContext, 'scopes'>, access: Access, endpoint: string): ResourceType => {
    const rt = resourceTypeAt(endpoint);
    requireScope(ctx.scopes, access, rt.endpoint.replace(/^\/+/, ''));
    return rt;
  };

  /** Discovery tells nothing of an organization's data: any read scope may see it. */
  const discoverable = (ctx: Pick<CallContext, 'scopes'>) => {
    if (!readsAnything(ctx.scopes)) throw insufficientScope(SCIM_READ, ctx.scopes ?? []);
  };

  const renderContext = (ctx: CallContext): RenderContext => ({
    location: (type, id) => `${ctx.baseUrl}${registry.resourceType(type)?.endpoint ?? `/${type}`}/${id}`,
  });

  /** Whether responses of this type with this projection carry a derived relation, and which. */
  function derivedName(rt: ResourceType, projection: Projection): 'members' | 'groups' | undefined {
    const name = relationOf(rt)?.attribute;
    const def = name ? rt.coreAttribute(name) : undefined;
    // Not returned → not loaded: `excludedAttributes=members` on a huge group reads no member row.
    return name && def && isReturned(projection, rt.schema.id, def) ? name : undefined;
  }

  /**
   * The groups of a page's resources, undefined when the page will not show them: as the store read them with the
   * page, else in one store call for the page.
   */
  async function groupsForPage(ctx: CallContext, rt: ResourceType, resources: readonly StoredResource[], projection: Projection) {
    if (derivedName(rt, projection) !== 'groups') return undefined;
    if (resources.every((r) => r.groups !== undefined)) return new Map(resources.map((r) => [r.id, r.groups!]));
    return store.groupsOf(ctx.orgId, resources.map((r) => r.id));
  }

  /** The groups the store read with a resource (StoredResource.groups), as respond takes them. */
  const groupsReadWith = (stored: StoredResource) => stored.groups && new Map([[stored.id, stored.groups]]);

  async function derivedFor(
    ctx: CallContext,
    rt: ResourceType,
    stored: StoredResource,
    projection: Projection,
    groups?: ReadonlyMap<string, readonly ResourceRef[]>,
  ): Promise<DerivedAttributes> {
    const name = derivedName(rt, projection);
    if (!name) return {};
    const rc = renderContext(ctx);
    if (name === 'members') {
      const refs = await store.members(ctx.orgId, stored.id);
      return { members: refs.map((r) => referenceValue(r, r.resourceType, rc)) };
    }
    const refs = (groups ?? (await store.groupsOf(ctx.orgId, [stored.id]))).get(stored.id) ?? [];
    return { groups: refs.map((r) => referenceValue(r, 'direct', rc)) };
  }

  async function respond(
    ctx: CallContext,
    rt: ResourceType,
    stored: StoredResource,
    projection: Projection,
    groups?: ReadonlyMap<string, readonly ResourceRef[]>,
  ): Promise<ResourceResponse> {
    const rc = renderContext(ctx);
    const resource = renderResource(rt, stored, await derivedFor(ctx, rt, stored, projection, groups), projection, rc);
    return { resource, location: rc.location(rt.name, stored.id), etag: etagOf(stored.version) };
  }

  /**
   * Splits a checked resource into what the store writes: document, index, unique keys, label, membership, and the
   * change record `record` builds from the document (members travel apart: the store records those it changed).
   */
  function planWrite(rt: ResourceType, attrs: Attributes, meta: IndexedMeta, record?: (document: Attributes) => ChangeRecord | undefined): ResourceWrite {
    const document = { ...attrs };
    let membership: Membership | undefined;
    if (hasMembers(rt)) {
      const members = (document.members as Attributes[] | undefined) ?? [];
      delete document.members;
      membership = { ids: members.map((m) => String(m.value)), allowedTypes: memberTypes(rt) };
    }
    const display = [document.displayName, document.userName].find((v): v is string => typeof v === 'string');
    const plan: ResourceWrite = {
      attributes: document,
      index: indexEntries(rt, document, meta),
      uniqueKeys: uniqueKeysOf(rt, document),
      ...(display !== undefined ? { display } : {}),
      ...(membership ? { membership } : {}),
    };
    const recorded = record?.(document);
    return recorded ? { ...plan, record: recorded } : plan;
  }

  /**
   * The store's typed refusals as SCIM errors (so the failure is audited); anything else passes through untouched
   * (a database that is away is mapped at the HTTP edge: nothing is recorded into it).
   */
  function refusal(rt: ResourceType, e: unknown): unknown {
    return e instanceof WriteRefused ? toScimError(e, { resourceType: { name: rt.name, caseExact: (a) => rt.resolve(a)?.attribute.caseExact ?? false } }) : e;
  }

  async function write<T>(rt: ResourceType, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw refusal(rt, e);
    }
  }

  /**
   * Plans a change from the resource as it stands and has the store apply it with no other write to the resource
   * coming between (ResourceStore.modifyResource): concurrent writers queue rather than fail, and each answer shows
   * the state its own request left. An If-Match is checked against that state, so of two writers from one version
   * exactly one succeeds and the other gets 412.
   */
  async function modify(
    ctx: CallContext,
    rt: ResourceType,
    id: string,
    conditions: Preconditions,
    plan: (existing: StoredResource, members: () => Promise<ResourceRef[]>) => Promise<Modification>,
  ): Promise<StoredResource> {
    const what = `${rt.name} "${id}"`;
    const result = await write(rt, () => store.modifyResource(ctx.orgId, rt.name, id, async (existing, members) => {
      expectedVersion(conditions, existing.version, what);
      return plan(existing, members);
    }));
    if (result === undefined) throw scimErrors.notFound(`${what} not found.`);
    // only when other processes on the same SQLite file kept changing it
    if (result === 'conflict') throw scimErrors.conflict(`${what} kept changing while this request was applied; send it again.`);
    return result;
  }

  /**
   * A PATCH that only changes a group's members by id holds on whatever state it lands: it goes to the store as a
   * delta, queued with the group's other writes but not planned from them, so the changes IdPs send to one group
   * share commits. Undefined when the operations need the current members (a filter beyond `value eq`): plan it.
   */
  async function changeMembers(ctx: CallContext, rt: ResourceType, id: string, operations: readonly PatchOperation[], rules: PatchRules, record: Recorder): Promise<StoredResource | undefined> {
    const what = `${rt.name} "${id}"`;
    let needsMembers = false;
    const loadMembers = async () => ((needsMembers = true), []);
    // operations on members alone read nothing of the document
    const { members } = await applyPatch({ rt, id, rules, loadMembers }, {}, operations);
    if (needsMembers || !members) return undefined;
    // the document only for its externalId, which events name (a member change leaves it as it is)
    const existing = eventing ? await store.getResource(ctx.orgId, rt.name, id) : undefined;
    if (eventing && !existing) throw scimErrors.notFound(`${what} not found.`);
    const at = now().toISOString();
    const recorded = record(204, [], existing?.attributes);
    const change = {
      members: { clear: members.clear, add: [...members.add], remove: [...members.remove], allowedTypes: memberTypes(rt) },
      ...(recorded ? { record: recorded } : {}),
    };
    const result = await write(rt, () => store.patchResource(ctx.orgId, rt.name, id, at, change));
    if (result === undefined) throw scimErrors.notFound(`${what} not found.`);
    if (result === 'conflict') throw new Error('a membership delta has no version to conflict with');
    return result;
  }

  const auditing = options.audit ?? true;
  const eventing = options.events === true || (Array.isArray(options.events) && options.events.length > 0);
  const channels = Array.isArray(options.events) ? { channels: options.events as readonly string[] } : {};
  /**
   * What a successful write records with it: its audit entry and the lifecycle events of its change. `document` is
   * the document the write leaves (for a delete, the one it removes), which names the resource's externalId.
   */
  type Recorder = (status: number, changes: readonly AttributeChange[], document: Attributes | undefined) => ChangeRecord | undefined;

  function recorder(ctx: CallContext, operation: AuditOperation, rt: ResourceType, id: string): Recorder {
    return (status, changes, document) => {
      if (!auditing && !eventing) return undefined;
      const at = now().toISOString();
      const externalId = typeof document?.externalId === 'string' ? { externalId: document.externalId } : {};
      const organizationName = ctx.orgName !== undefined ? { organizationName: ctx.orgName } : {};
      const base = { at, organization: ctx.orgId, ...organizationName, resource: { type: rt.name, id, ...externalId } };
      const members = hasMembers(rt) && operation !== 'delete';
      return {
        ...(auditing ? { audit: auditEntry(ctx, at, operation, { resourceType: rt.name, resourceId: id }, { status, changes }) } : {}),
        ...(eventing ? { events: eventsOf(operation, base, changes), ...(members ? { memberEvents: base } : {}), ...channels } : {}),
      };
    };
  }

  /**
   * Runs one state-changing operation on a resource type; its write records what `recorder` builds. When it fails
   * with a SCIM error (so nothing was written), the failure's audit entry is recorded instead.
   */
  async function recorded<T>(ctx: CallContext, operation: AuditOperation, endpoint: string, id: string, run: (rt: ResourceType, record: Recorder) => Promise<T>): Promise<T> {
    try {
      const rt = permitted(ctx, 'write', endpoint);
      return await run(rt, recorder(ctx, operation, rt, id));
    } catch (e) {
      // a create that failed made no resource: its drawn id names nothing
      const target = { resourceType: registry.byEndpoint(endpoint)?.name ?? endpoint, ...(operation === 'create' ? {} : { resourceId: id }) };
      if (auditing && e instanceof ScimError) await store.appendAudit([auditEntry(ctx, now().toISOString(), operation, target, e)]);
      throw e;
    }
  }

  return {
    registry,
    bulkLimits,
    /** Whether writes put their events in the events feed (FEED_CHANNEL among the channels). */
    feed: Array.isArray(options.events) && options.events.includes(FEED_CHANNEL),

    async create(ctx: CallContext, endpoint: string, body: unknown, params: ProjectionParams = {}): Promise<ResourceResponse> {
      const id = timeOrderedId();
      return recorded(ctx, 'create', endpoint, id, async (rt, record) => {
        const attrs = checkResource(rt, body);
        await protectSecrets(rt, attrs);
        const at = now().toISOString();
        const plan = planWrite(rt, attrs, { id, created: at, lastModified: at }, (doc) => record(201, changesOf(rt, undefined, doc), doc));
        const stored = await write(rt, () => store.createResource(ctx.orgId, rt.name, id, at, plan));
        // no group can name a resource before it exists: its groups are none, and not read
        return respond(ctx, rt, stored, parseProjection(rt, params.attributes, params.excludedAttributes), NO_GROUPS);
      });
    },

    /**
     * Creates many resources in one store transaction, each on its own terms: a bad one yields its ScimError in its
     * place and the others are created. With `stopAfterErrors`, nothing after that many failures is attempted (the
     * result is then shorter). For loads (Bulk, the benchmark's dataset): no representation is rendered.
     */
    async createMany(ctx: CallContext, endpoint: string, bodies: readonly unknown[], options: CreateManyOptions = {}): Promise<(Created | ScimError)[]> {
      const rt = permitted(ctx, 'write', endpoint);
      const at = now().toISOString();
      const rc = renderContext(ctx);
      const results: (Created | ScimError)[] = [];
      const failures: AuditEntry[] = [];
      const failed = (e: ScimError) => {
        results.push(e);
        if (auditing) failures.push(auditEntry(ctx, at, 'create', { resourceType: rt.name }, e));
      };
      let allowed = options.stopAfterErrors ?? Infinity;
      let run: { id: string; write: ResourceWrite }[] = [];
      // the valid bodies between two invalid ones go to the store together, so failures count in request order
      const flush = async () => {
        if (run.length === 0) return;
        const stored = await store.createResources(ctx.orgId, rt.name, at, run, Number.isFinite(allowed) ? { stopAfterErrors: allowed } : {});
        stored.forEach((r) => {
          if (r instanceof Error) {
            failed(refusal(rt, r) as ScimError);
            allowed--;
          } else {
            results.push({ id: r.id, location: rc.location(rt.name, r.id), etag: etagOf(r.version) });
          }
        });
        run = [];
      };
      for (const body of bodies) {
        if (allowed <= 0) break;
        const id = timeOrderedId();
        try {
          const attrs = checkResource(rt, body);
          await protectSecrets(rt, attrs);
          const record = recorder(ctx, 'create', rt, id);
          run.push({ id, write: planWrite(rt, attrs, { id, created: at, lastModified: at }, (doc) => record(201, changesOf(rt, undefined, doc), doc)) });
        } catch (e) {
          if (!(e instanceof ScimError)) throw e;
          await flush();
          if (allowed <= 0) break;
          failed(e);
          allowed--;
        }
      }
      await flush();
      if (failures.length > 0) await store.appendAudit(failures);
      return results;
    },

    /** POST /Bulk (RFC 7644 §3.7): see bulk.ts. */
    async bulk(ctx: CallContext, body: unknown): Promise<BulkResponse> {
      // each operation is held to the scopes on its own; a token that may write nothing is refused at once
      if (ctx.scopes !== undefined && !ctx.scopes.some((s) => s.startsWith(SCIM_WRITE))) throw insufficientScope(SCIM_WRITE, ctx.scopes);
      const idOnly = { attributes: 'id' }; // Bulk answers locations and versions, so render (and load) nothing else
      return runBulk(
        {
          createMany: (endpoint, bodies, options) => this.createMany(ctx, endpoint, bodies, options),
          replace: (endpoint, id, data, conditions) => this.replace(ctx, endpoint, id, data, idOnly, conditions),
          patch: (endpoint, id, data, conditions) => this.patch(ctx, endpoint, id, data, idOnly, conditions),
          delete: (endpoint, id, conditions) => this.delete(ctx, endpoint, id, conditions),
          changesOnlyMembers: (endpoint, body) => {
            const rt = registry.byEndpoint(endpoint);
            if (!rt || !hasMembers(rt)) return false;
            try {
              return parsePatchRequest(body).every(onMembers);
            } catch {
              return false; // refused when it runs, one at a time
            }
          },
          location: (endpoint, id) => {
            const rt = registry.byEndpoint(endpoint);
            return rt ? renderContext(ctx).location(rt.name, id) : undefined;
          },
        },
        body,
        bulkLimits,
      );
    },

    /** With an If-None-Match that names the current version, answers `notModified` without rendering (or loading members). */
    async get(
      ctx: CallContext,
      endpoint: string,
      id: string,
      params: ProjectionParams = {},
      conditions: Preconditions = {},
    ): Promise<ResourceResponse & { notModified?: true }> {
      const rt = permitted(ctx, 'read', endpoint);
      const projection = parseProjection(rt, params.attributes, params.excludedAttributes);
      const stored = await store.getResource(ctx.orgId, rt.name, id, derivedName(rt, projection) === 'groups');
      if (!stored) throw scimErrors.notFound(`${rt.name} "${id}" not found.`);
      if (conditions.ifNoneMatch !== undefined && namesVersion(conditions.ifNoneMatch, stored.version)) {
        return { resource: {}, location: renderContext(ctx).location(rt.name, id), etag: etagOf(stored.version), notModified: true };
      }
      return respond(ctx, rt, stored, projection, groupsReadWith(stored));
    },

    /**
     * PUT (RFC 7644 §3.5.1). What is kept from the stored resource (immutable values, password hashes) was read at one
     * version and is written only onto that version.
     */
    async replace(
      ctx: CallContext,
      endpoint: string,
      id: string,
      body: unknown,
      params: ProjectionParams = {},
      conditions: Preconditions = {},
    ): Promise<ResourceResponse> {
      return recorded(ctx, 'replace', endpoint, id, async (rt, record) => {
        const projection = parseProjection(rt, params.attributes, params.excludedAttributes);
        // the answer's groups, read by the write's own statement
        const withGroups = derivedName(rt, projection) === 'groups';
        const stored = await modify(ctx, rt, id, conditions, async (existing) => {
          const attrs = checkResource(rt, body, { existing: existing.attributes });
          await protectSecrets(rt, attrs, existing.attributes);
          const at = now().toISOString();
          const plan = planWrite(rt, attrs, { id, created: existing.created, lastModified: at }, (doc) => record(200, changesOf(rt, existing.attributes, doc), doc));
          return { kind: 'replace', at, write: plan, withGroups };
        });
        return respond(ctx, rt, stored, projection, groupsReadWith(stored));
      });
    },

    /**
     * PATCH (RFC 7644 §3.5.2): the operations are applied to the stored document in memory and the result is checked
     * as a whole, then written onto the version it was computed from. Membership changes go to the store as a delta.
     * Answers the resource, or `noContent` where the token's dialect expects 204 and no attributes were asked for.
     */
    async patch(
      ctx: CallContext,
      endpoint: string,
      id: string,
      body: unknown,
      params: ProjectionParams = {},
      conditions: Preconditions = {},
    ): Promise<ResourceResponse & { noContent: boolean }> {
      return recorded(ctx, 'patch', endpoint, id, async (rt, record) => {
        const operations = parsePatchRequest(body);
        const rules = DIALECT_RULES[ctx.dialect] ?? DIALECT_RULES.rfc;
        const asked = params.attributes !== undefined || params.excludedAttributes !== undefined;
        // A group's representation carries every member: answering a member change with it would cost O(members)
        // whatever the change, so a group's PATCH answers 204 (RFC 7644 §3.5.2 allows it; Entra asks for it, Okta
        // takes either) unless attributes were asked for, as the dialect's PATCHes do.
        const noContent = !asked && (rules.patchResponse === 'noContent' || hasMembers(rt));
        const projection = parseProjection(rt, params.attributes, params.excludedAttributes);
        // a delta reads no member: so may any answer that shows none (204, or a Bulk operation's id and version)
        const delta = (noContent || derivedName(rt, projection) !== 'members') && conditions.ifMatch === undefined && hasMembers(rt) && operations.every(onMembers);
        const result = (delta ? await changeMembers(ctx, rt, id, operations, rules.patch, record) : undefined) ?? await modify(ctx, rt, id, conditions, async (existing, currentMembers) => {
          const { document, members, removedSecrets } = await applyPatch(
            {
              rt,
              id,
              rules: rules.patch,
              loadMembers: async () => (await currentMembers()).map((m) => referenceValue(m, m.resourceType, renderContext(ctx))),
            },
            withoutSecrets(rt, existing.attributes),
            operations,
          );
          const attrs = checkResource(rt, { schemas: [rt.schema.id], ...document }, { existing: existing.attributes });
          await protectSecrets(rt, attrs, storedSecrets(rt, existing.attributes, removedSecrets));
          const at = now().toISOString();
          const changed = !sameJson(attrs, existing.attributes);
          const recorded = record(noContent ? 204 : 200, changed ? changesOf(rt, existing.attributes, attrs) : [], attrs);
          return {
            kind: 'patch',
            at,
            change: {
              ...(changed ? { write: planWrite(rt, attrs, { id, created: existing.created, lastModified: at }) } : {}),
              ...(members ? { members: { clear: members.clear, add: [...members.add], remove: [...members.remove], allowedTypes: memberTypes(rt) } } : {}),
              ...(recorded ? { record: recorded } : {}),
              ...(!noContent && derivedName(rt, projection) === 'groups' ? { withGroups: true } : {}),
            },
          };
        });
        if (noContent) return { resource: {}, location: renderContext(ctx).location(rt.name, id), etag: etagOf(result.version), noContent };
        return { ...(await respond(ctx, rt, result, projection, groupsReadWith(result))), noContent };
      });
    },

    /** DELETE: the audit entry shows what was deleted, so the version read is the one deleted. */
    async delete(ctx: CallContext, endpoint: string, id: string, conditions: Preconditions = {}): Promise<void> {
      return recorded(ctx, 'delete', endpoint, id, async (rt, record) => {
        await modify(ctx, rt, id, conditions, async (existing) => {
          const recorded = record(204, changesOf(rt, existing.attributes, undefined), existing.attributes);
          return { kind: 'delete', ...(recorded ? { record: recorded } : {}) };
        });
      });
    },

    async list(ctx: CallContext, endpoint: string, params: ListParams = {}): Promise<ListResponse> {
      const rt = permitted(ctx, 'read', endpoint);
      const filter = params.filter !== undefined && params.filter.trim() !== '' ? bindFilter(rt, parseFilter(params.filter)) : undefined;
      const sort = params.sortBy ? { target: bindSortBy(rt, params.sortBy), descending: descending(params.sortOrder) } : undefined;
      // RFC 7644 §3.4.2.4: a negative count means 0; count is clamped to maxResults.
      const count = Math.min(maxResults, Math.max(0, integerParam('count', params.count) ?? maxResults));
      const projection = parseProjection(rt, params.attributes, params.excludedAttributes);
      const render = async (resources: StoredResource[]) => {
        const groups = await groupsForPage(ctx, rt, resources, projection);
        return Promise.all(resources.map(async (r) => (await respond(ctx, rt, r, projection, groups)).resource));
      };
      // With the page only for a filter (IdPs' lookups: one match or none, one statement instead of two); a page of
      // many reads them faster after it, in one statement for the whole page.
      const withGroups = filter !== undefined && derivedName(rt, projection) === 'groups';
      const query = { ...(filter ? { filter } : {}), ...(sort ? { sort } : {}), offset: 0, limit: count, ...(withGroups ? { withGroups } : {}) };

      if (params.cursor === undefined) {
        // RFC 7644 §3.4.2.4: startIndex below 1 means 1.
        const startIndex = Math.max(1, integerParam('startIndex', params.startIndex) ?? 1);
        const page = await listPage(ctx.orgId, rt.name, { ...query, offset: startIndex - 1 });
        const Resources = await render(page.resources);
        return { schemas: [SCHEMA_URN.listResponse], totalResults: page.total, itemsPerPage: Resources.length, startIndex, Resources };
      }

      // RFC 9865 cursor pagination: keyset seeks, one extra row read to know whether another page follows.
      if (params.startIndex !== undefined && params.startIndex !== '') {
        throw scimErrors.invalidValue('Use either "startIndex" (index pagination) or "cursor" (RFC 9865), not both.');
      }
      const secret = await (cursorSecret ??= store.secret('cursor'));
      const digest = createHash('sha256').update(JSON.stringify([ctx.orgId, rt.name, params.filter ?? '', params.sortBy ?? '', sort?.descending ?? false])).digest('base64url');
      const state = params.cursor === '' ? undefined : decodeCursor(params.cursor, secret, digest, Math.floor(now().getTime() / 1000), cursorTimeout);
      const anchor = state ? (state.direction === 'next' ? { after: state.at } : { before: state.at }) : {};
      const page = await listPage(ctx.orgId, rt.name, { ...query, ...anchor, limit: count === 0 ? 0 : count + 1 });
      const more = page.resources.length > count;
      // the extra row is beyond the page: at its end reading forwards, at its start reading backwards
      const keep = state?.direction === 'prev' ? [page.resources.length - count, page.resources.length] : [0, count];
      const resources = more ? page.resources.slice(keep[0], keep[1]) : page.resources;
      const keysets = more ? page.keysets.slice(keep[0], keep[1]) : page.keysets;
      const issued = Math.floor(now().getTime() / 1000);
      const cursorAt = (direction: 'next' | 'prev', at: Keyset) => encodeCursor({ direction, at, query: digest, issued }, secret);
      const first = keysets[0];
      const last = keysets[keysets.length - 1];
      const response: { -readonly [K in keyof ListResponse]: ListResponse[K] } = {
        schemas: [SCHEMA_URN.listResponse],
        totalResults: page.total,
        itemsPerPage: resources.length,
        Resources: await render(resources),
      };
      const hasNext = state?.direction === 'prev' ? true : more;
      const hasPrevious = state?.direction === 'prev' ? more : state !== undefined;
      if (hasNext && last) response.nextCursor = cursorAt('next', last);
      if (hasPrevious && first) response.previousCursor = cursorAt('prev', first);
      return response;
    },

    /** POST …/.search (RFC 7644 §3.4.3): the query in a SearchRequest body, on one endpoint or (none) the root. */
    async search(ctx: CallContext, endpoint: string | undefined, body: unknown): Promise<ListResponse> {
      const params = searchRequest(body);
      return endpoint === undefined ? this.listAll(ctx, params) : this.list(ctx, endpoint, params);
    },

    /**
     * A query at the root (RFC 7644 §3.4.2.1): every resource type, attributes a type lacks having no value there.
     * Each type contributes its first startIndex-1+count matches in the requested order; they are merged and the
     * page cut from the merge, so deep root pages cost more than deep pages of one endpoint.
     */
    async listAll(ctx: CallContext, params: ListParams = {}): Promise<ListResponse> {
      // it spans every resource type: a token for some of them may query each of those at its endpoint
      requireScope(ctx.scopes, 'read');
      if (params.cursor !== undefined) {
        throw scimErrors.invalidValue('Cursor pagination is per resource endpoint (e.g. /Users/.search); at the root use startIndex.');
      }
      const count = Math.min(maxResults, Math.max(0, integerParam('count', params.count) ?? maxResults));
      const startIndex = Math.max(1, integerParam('startIndex', params.startIndex) ?? 1);
      const order = descending(params.sortOrder);
      const parsed = params.filter !== undefined && params.filter.trim() !== '' ? parseFilter(params.filter) : undefined;
      const window = startIndex - 1 + count;
      let total = 0;
      const candidates: { rt: ResourceType; stored: StoredResource; key: string | number | null; rank: number }[] = [];
      for (const [rank, rt] of registry.resourceTypes().entries()) {
        const filter = parsed ? bindFilter(rt, parsed, { unknownAttributes: 'absent' }) : undefined;
        let sort: SortSpec | undefined;
        if (params.sortBy) {
          try {
            sort = { target: bindSortBy(rt, params.sortBy), descending: order };
          } catch {
            sort = undefined; // this type has no such attribute: its resources have no sort value
          }
        }
        const page = await listPage(ctx.orgId, rt.name, { ...(filter ? { filter } : {}), ...(sort ? { sort } : {}), offset: 0, limit: window });
        total += page.total;
        page.resources.forEach((stored, i) => candidates.push({ rt, stored, key: page.keysets[i]?.key ?? null, rank }));
      }
      if (params.sortBy) candidates.sort((a, b) => compareSortKeys(a.key, b.key, order) || a.rank - b.rank);
      const slice = candidates.slice(startIndex - 1, startIndex - 1 + count);
      const Resources: Attributes[] = [];
      for (const rt of registry.resourceTypes()) {
        const projection = parseProjection(rt, params.attributes, params.excludedAttributes);
        const mine = slice.filter((c) => c.rt === rt).map((c) => c.stored);
        const groups = await groupsForPage(ctx, rt, mine, projection);
        for (const stored of mine) Resources.push((await respond(ctx, rt, stored, projection, groups)).resource);
      }
      // back into the merged order
      const position = new Map(slice.map((c, i) => [c.stored.id, i]));
      Resources.sort((a, b) => position.get(a.id as string)! - position.get(b.id as string)!);
      return { schemas: [SCHEMA_URN.listResponse], totalResults: total, itemsPerPage: Resources.length, startIndex, Resources };
    },

    async serviceProviderConfig(ctx: Pick<CallContext, 'baseUrl' | 'scopes' | 'orgId'>): Promise<Attributes> {
      discoverable(ctx);
      const at = now().getTime();
      const active = (await store.listTokens?.(ctx.orgId))?.filter((t) => !t.revoked && !(t.expires !== undefined && Date.parse(t.expires) <= at));
      const setup = active && {
        bearerTokens: active.some((t) => t.scope === 'scim'),
        oauthClients: active.some((t) => t.scope === 'client'),
        issuers: active.flatMap((t) => (t.scope === 'issuer' && t.issuer ? [t.issuer] : [])),
      };
      return serviceProviderConfig({ maxResults, cursorTimeout, bulk: bulkLimits }, ctx.baseUrl, setup);
    },

    resourceTypes(ctx: Pick<CallContext, 'baseUrl' | 'scopes'>): ListResponse {
      discoverable(ctx);
      return listOf(registry.resourceTypes().map((rt) => renderResourceType(rt, ctx.baseUrl)));
    },

    resourceType(ctx: Pick<CallContext, 'baseUrl' | 'scopes'>, id: string): Attributes {
      discoverable(ctx);
      const rt = registry.resourceTypes().find((t) => t.definition.id.toLowerCase() === id.toLowerCase());
      if (!rt) throw scimErrors.notFound(`There is no resource type "${id}".`);
      return renderResourceType(rt, ctx.baseUrl);
    },

    schemas(ctx: Pick<CallContext, 'baseUrl' | 'scopes'>): ListResponse {
      discoverable(ctx);
      return listOf(registry.schemas().map((s) => renderSchema(s, ctx.baseUrl)));
    },

    schema(ctx: Pick<CallContext, 'baseUrl' | 'scopes'>, id: string): Attributes {
      discoverable(ctx);
      const s = registry.schema(id);
      if (!s) throw scimErrors.notFound(`There is no schema "${id}".`);
      return renderSchema(s, ctx.baseUrl);
    },
  };
}

function listOf(resources: Attributes[]): ListResponse {
  return { schemas: [SCHEMA_URN.listResponse], totalResults: resources.length, itemsPerPage: resources.length, startIndex: 1, Resources: resources };
}

