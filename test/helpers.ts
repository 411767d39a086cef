/** Shared fixtures: an in-process server on an in-memory SQLite store (or a fresh PostgreSQL database), and RFC sample loading. */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/http/server.js';
import { createScim, type Scim } from '../src/core/scim.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { freshPostgresDatabase, postgresUrl } from './postgres.js';
import { createToken, DEFAULT_ORGANIZATION, type NewToken } from '../src/core/tokens.js';
import { SchemaRegistry } from '../src/core/schema/registry.js';
import { loadSchemaBundle } from '../src/schema-files.js';
import type { Store } from '../src/core/ports.js';
import type { BulkLimits } from '../src/core/bulk.js';
import type { RateLimiter } from '../src/http/rate-limit.js';
import type { Metrics } from '../src/http/metrics.js';

export const STUDENT_BUNDLE = fileURLToPath(new URL('../examples/student/student.json', import.meta.url));
export const RFC_SAMPLES = fileURLToPath(new URL('../../shared/conformance/rfc-samples/', import.meta.url));

export interface Response {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: any;
  text: string;
}

export interface TestServer {
  app: FastifyInstance;
  store: Store;
  /** The core the server serves, for mounting it through another adapter too. */
  scim: Scim;
  token: string;
  /** Sends a SCIM request with the server's token unless `headers.authorization` says otherwise. */
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Every resource of every organization, for "nothing changed" checks. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

/** The stores a test can run on; `postgres` only when the test cluster is up (see test/postgres.ts). */
export type StoreKind = 'sqlite' | 'postgres';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres'];

/** Whether tests on this store run here: PostgreSQL tests are skipped, loudly, only outside CI without binaries. */
export function storeAvailable(kind: StoreKind): boolean {
  return kind === 'sqlite' || postgresUrl() !== undefined;
}

/** A fresh, migrated, empty store of this kind. */
export async function openTestStore(kind: StoreKind = 'sqlite'): Promise<Store> {
  const url = kind === 'postgres' ? postgresUrl() : undefined;
  if (kind === 'postgres' && !url) throw new Error('no PostgreSQL test cluster (see test/global-setup.ts)');
  const store = url ? new PostgresStore(await freshPostgresDatabase(url)) : new SqliteStore(':memory:');
  await store.migrate();
  return store;
}

/** The store kind of this run: SCIMD_TEST_STORE (the `postgres` Vitest project sets it), else SQLite. */
export function testStoreKind(): StoreKind {
  return process.env.SCIMD_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
}

/** A `SCIMD_DATABASE` value for a `scimd serve` process on this run's store: a new SQLite file or PostgreSQL database. */
export async function testDatabase(name: string): Promise<string> {
  if (testStoreKind() === 'sqlite') return join(mkdtempSync(join(tmpdir(), `scimd-${name}-`)), 'scimd.db');
  const url = postgresUrl();
  if (!url) throw new Error('no PostgreSQL test cluster (see test/global-setup.ts)');
  return freshPostgresDatabase(url);
}

/** `store` defaults to SCIMD_TEST_STORE (e.g. `SCIMD_TEST_STORE=postgres npx vitest run test/http`), else SQLite. */
export async function testServer(
  options: { schemaFiles?: string[]; maxResults?: number; bodyLimit?: number; bulk?: Partial<BulkLimits>; events?: boolean | readonly string[]; rateLimit?: (store: Store) => RateLimiter; refusalLimit?: (store: Store) => RateLimiter; trustProxy?: boolean | string; store?: StoreKind; metrics?: (store: Store) => Metrics } = {},
): Promise<TestServer> {
  const store = await openTestStore(options.store ?? testStoreKind());
  const registry = SchemaRegistry.create({ bundles: (options.schemaFiles ?? []).map(loadSchemaBundle) });
  const { token } = await testToken(store, { name: 'test' });
  const scim = createScim({ store, registry, ...(options.maxResults ? { maxResults: options.maxResults } : {}), ...(options.bulk ? { bulk: options.bulk } : {}), events: options.events ?? false });
  const app = buildServer({
    scim,
    store,
    // the channels that are URLs are webhook endpoints, as `scimd serve` makes them
    ...(Array.isArray(options.events) ? { webhooks: options.events.filter((c) => /^https?:/.test(c)) } : {}),
    bodyLimit: options.bodyLimit ?? 1_048_576,
    ...(options.rateLimit ? { rateLimit: options.rateLimit(store) } : {}),
    ...(options.refusalLimit ? { refusalLimit: options.refusalLimit(store) } : {}),
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    ...(options.metrics ? { metrics: options.metrics(store) } : {}),
    publicUrl: 'https://scim.example.com',
  });
  const request = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await app.inject({
      method: method as 'GET',
      url: /^\/(scim|healthz|readyz|admin)\b/.test(url) ? url : `/scim/v2${url}`,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...headers,
      },
      ...(payload !== undefined ? { payload } : {}),
    });
    let parsed: unknown;
    try {
      parsed = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body: parsed, text: res.body };
  };
  const snapshot = async () => {
    const out: unknown[] = [];
    for (const org of await store.organizations()) {
      for (const type of registry.resourceTypes()) {
        const { resources } = await store.listResources(org.id, type.name, { offset: 0, limit: 1_000_000 });
        for (const r of resources) out.push(r, await store.members(org.id, r.id));
      }
    }
    return JSON.stringify(out);
  };
  return { app, store, scim, token, request, snapshot, close: async () => { await app.close(); await store.close(); } };
}

/**
 * A token of the organization named `organization` (made if new; `default` by default), or an operator token
 * (scope `operator`, of no organization).
 */
export async function testToken(store: Store, input: Omit<NewToken, 'orgId'> & { organization?: string } = {}) {
  const { organization, ...rest } = input;
  const orgId = rest.scope === 'operator' ? undefined : (await store.ensureOrganization(organization ?? DEFAULT_ORGANIZATION)).id;
  return createToken(store, { ...rest, ...(orgId ? { orgId } : {}) });
}

/** A JSON example from RFC 7643/7644 as shipped in ../shared/conformance/rfc-samples. */
export function rfcSample(name: string): any {
  return JSON.parse(readFileSync(`${RFC_SAMPLES}${name}.json`, 'utf8'));
}

export const haveRfcSamples = existsSync(RFC_SAMPLES);

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const STUDENT = 'urn:example:params:scim:schemas:extension:university:2.0:Student';

export function user(userName: string, extra: Record<string, unknown> = {}) {
  return { schemas: [USER], userName, ...extra };
}

export function group(displayName: string, members: string[] = [], extra: Record<string, unknown> = {}) {
  return { schemas: [GROUP], displayName, members: members.map((value) => ({ value })), ...extra };
}
