/**
 * scimd embedded in an application: one call makes the SCIM core, its HTTP handler (for any adapter), the admin
 * services, the events feed, typed in-process hooks and a read API over one store. The hooks are an outbox channel
 * of their own (HOOKS_CHANNEL), so they run after commit, at least once, in order per resource, with retries, and
 * survive a restart like webhooks do.
 */
import { createAdmin, type Admin } from './core/admin.js';
import type { ListParams, ProjectionParams } from './core/list-params.js';
import { FEED_CHANNEL, type Attributes, type ListResponse } from './core/model.js';
import type { Store } from './core/ports.js';
import type { LifecycleEvent, LifecycleEventType } from './core/events.js';
import { createScim, type CallContext, type Scim, type ScimOptions } from './core/scim.js';
import { readFeedPage, type FeedPage, type FeedParams } from './core/feed.js';
import { startDelivery, type Delivery, type DeliveryOptions } from './events/dispatcher.js';
import { createScimHandler, type ScimHandler, type ScimHandlerOptions } from './http/handler.js';
import { createConsoleHandler, type ConsoleAuthorize } from './http/admin.js';
import { createOAuthHandler } from './http/oauth.js';
import { createOAuth } from './oauth/issuer.js';

/** The outbox channel of the in-process hooks. */
export const HOOKS_CHANNEL = '#hooks';

/** The event a hook of that type is given (a member event always names its member). */
export type EventOf<T extends LifecycleEventType | '*'> = T extends 'group.member_added' | 'group.member_removed'
  ? LifecycleEvent & { readonly type: T; readonly member: { readonly id: string } }
  : T extends '*' ? LifecycleEvent : LifecycleEvent & { readonly type: T };

export type EventHook<T extends LifecycleEventType | '*'> = (event: EventOf<T>) => void | Promise<void>;

export type EventHooks = { readonly [T in LifecycleEventType | '*']?: EventHook<T> };

export interface ScimdOptions extends Omit<ScimOptions, 'store' | 'events'>, Omit<ScimHandlerOptions, 'scim' | 'store' | 'bodyLimit'> {
  /** openStore(…), a SqliteStore or a PostgresStore, migrated. */
  readonly store: Store;
  /** The largest request body, in bytes (default 1 MiB; Bulk allows `bulk.maxPayloadSize`). */
  readonly bodyLimit?: number;
  /** In-process hooks by event type (`'*'`: every event). More may be added with `onEvent`. */
  readonly on?: EventHooks;
  /** Run hooks (default: when `on` is given). Without it `onEvent` refuses, as no event would reach it. */
  readonly hooks?: boolean;
  /** How hooks are retried and reported: a hook that throws is run again for that event (so make hooks idempotent). */
  readonly hookDelivery?: Pick<DeliveryOptions, 'maxAttempts' | 'backoff' | 'pollMs' | 'onFailure'>;
  /** Keep the events feed (`feed()`), as `SCIMD_EVENT_FEED` does for the server. */
  readonly feed?: boolean;
  /** More outbox channels, each delivered by a `startDelivery` of yours (e.g. one per webhook endpoint). */
  readonly channels?: readonly string[];
  /** The admin console (`scimd.console`): who may use it, and what it shows. */
  readonly console?: ScimdConsoleOptions;
}

/** The admin console as the application mounts it (`scimd.console`). */
export interface ScimdConsoleOptions {
  /**
   * Who may use the console, from the application's own sign-in: `{ role: 'operator', actor }` (every organization),
   * `{ role: 'org-admin', orgId, actor }` (one organization), or null (403). `actor` names them in the audit log.
   * Without it, scimd's own sign-in links (`scimd console link`) and admin tokens decide.
   */
  readonly authorize?: ConsoleAuthorize;
  /** Where the application serves the SCIM API (`scimd.handler`), below `publicUrl` or the request's origin (default '/scim/v2'). */
  readonly scimPath?: string;
  /** The webhook endpoints events are delivered to, shown to the operator. */
  readonly webhooks?: readonly string[];
}

/** Reads of one organization's directory, as SCIM resources (no HTTP, no token). */
export interface Directory {
  getUser(id: string, params?: ProjectionParams): Promise<Attributes>;
  listUsers(params?: ListParams): Promise<ListResponse>;
  getGroup(id: string, params?: ProjectionParams): Promise<Attributes>;
  listGroups(params?: ListParams): Promise<ListResponse>;
  /** The groups a user is a direct member of, as the user's `groups` attribute shows them. */
  groupsOf(userId: string): Promise<readonly Attributes[]>;
  /** A group's users, a page at a time (RFC 9865 cursors: `cursor: ''` for the first page, then `nextCursor`). */
  membersOf(groupId: string, params?: Omit<ListParams, 'filter'>): Promise<ListResponse>;
}

export interface Scimd {
  readonly scim: Scim;
  /** The SCIM API as a plain request → response function: give it to an adapter (scimd/node, scimd/fetch, …). */
  readonly handler: ScimHandler;
  /**
   * The admin console — its pages, assets and admin API (`api/…`) below wherever the application mounts it —
   * as a plain request → response function for the same adapters.
   */
  readonly console: ScimHandler;
  /**
   * OAuth 2.0 client credentials: the token endpoint (`/oauth/token`), its keys (`/oauth/jwks`) and metadata
   * (`/.well-known/oauth-authorization-server`), as a handler to mount at the site's root; `handler` takes the
   * access tokens it issues to the organization's OAuth clients.
   */
  readonly oauth: ScimHandler;
  readonly admin: Admin;
  readonly store: Store;
  /** Adds a hook; returns a function that removes it. */
  onEvent<T extends LifecycleEventType | '*'>(type: T, hook: EventHook<T>): () => void;
  /** A page of the events feed of an organization (by id), or of every organization. */
  feed(params?: FeedParams & { readonly orgId?: string }): Promise<FeedPage>;
  /** The read API of an organization (by id). */
  directory(orgId: string): Directory;
  /** Stops running hooks (those in flight finish); the store stays open. */
  close(): Promise<void>;
}

export function createScimd(options: ScimdOptions): Scimd {
  const { store, on, hookDelivery, feed: feeding, channels, hooks: wantHooks, bodyLimit, console: consoleOptions, ...rest } = options;
  const hooking = wantHooks ?? on !== undefined;
  const scim = createScim({
    ...rest,
    store,
    events: [...(channels ?? []), ...(hooking ? [HOOKS_CHANNEL] : []), ...(feeding ? [FEED_CHANNEL] : [])],
  });
  const limit = bodyLimit ?? 1 << 20;
  const oauth = createOAuth(store);
  const handler = createScimHandler({ accessTokens: oauth.verifier, ...rest, scim, store, bodyLimit: limit });
  const { publicUrl, audit, refusalLimit, onError } = rest;
  const oauthHandler = createOAuthHandler({ oauth, publicUrl, scimPath: consoleOptions?.scimPath ?? '/scim/v2', audit, refusalLimit, onError });
  const consoleHandler = createConsoleHandler({
    ...consoleOptions, scim, store, registry: scim.registry, feed: feeding ?? false, publicUrl, audit, refusalLimit, onError, bodyLimit: limit,
  });
  const admin = createAdmin(store, { registry: scim.registry, feed: feeding ?? false, ...(rest.audit !== undefined ? { audit: rest.audit } : {}) });

  const hooks = new Map<string, Set<EventHook<'*'>>>();
  const onEvent = <T extends LifecycleEventType | '*'>(type: T, hook: EventHook<T>): (() => void) => {
    if (!hooking) throw new Error('createScimd was made without hooks: pass `on` or `hooks: true`, so that events are kept for them.');
    const set = hooks.get(type) ?? new Set();
    hooks.set(type, set);
    set.add(hook as EventHook<'*'>);
    return () => void set.delete(hook as EventHook<'*'>);
  };
  for (const [type, hook] of Object.entries(on ?? {})) if (hook) onEvent(type as '*', hook as EventHook<'*'>);

  const delivery: Delivery | undefined = hooking
    ? startDelivery({
        pollMs: 100,
        ...hookDelivery,
        store,
        channel: HOOKS_CHANNEL,
        deliver: async (event) => {
          for (const hook of [...(hooks.get(event.type) ?? []), ...(hooks.get('*') ?? [])]) await hook(event);
        },
      })
    : undefined;

  const directory = (orgId: string): Directory => {
    const ctx: CallContext = { orgId, tokenId: 'library', tokenName: 'library', dialect: 'rfc', baseUrl: rest.publicUrl ?? '' };
    return {
      getUser: async (id, params) => (await scim.get(ctx, 'Users', id, params)).resource,
      listUsers: (params) => scim.list(ctx, 'Users', params),
      getGroup: async (id, params) => (await scim.get(ctx, 'Groups', id, params)).resource,
      listGroups: (params) => scim.list(ctx, 'Groups', params),
      groupsOf: async (userId) => ((await scim.get(ctx, 'Users', userId, { attributes: 'groups' })).resource.groups as Attributes[] | undefined) ?? [],
      membersOf: async (groupId, params) => {
        await scim.get(ctx, 'Groups', groupId, { attributes: 'id' }); // 404 for a group that is not there
        return scim.list(ctx, 'Users', { ...params, filter: `groups.value eq ${JSON.stringify(groupId)}` });
      },
    };
  };

  return {
    scim,
    handler,
    console: consoleHandler,
    oauth: oauthHandler,
    admin,
    store,
    onEvent,
    feed: async (params = {}) => {
      if (!feeding) throw new Error('createScimd was made without the events feed: pass `feed: true`.');
      return readFeedPage(store, params.orgId, params);
    },
    directory,
    close: async () => {
      await delivery?.stop();
    },
  };
}
