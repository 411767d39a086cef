/**
 * The admin HTTP API (`/admin/api`): the admin services (core/admin.ts) for admin tokens, each of which sees its own
 * organization, and operator tokens, which see every one: the audit log and the events feed.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createAdmin, type AdminOptions, type AdminStore } from '../core/admin.js';
import { authenticateAdmin, type AuthenticateOptions } from '../core/tokens.js';

export const ADMIN_PREFIX = '/admin/api';

/** A repeated query parameter counts once (the first), as on the SCIM endpoints. */
function firstValues(query: unknown): Record<string, string | undefined> {
  const entries = Object.entries((query ?? {}) as Record<string, string | string[]>).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]);
  return Object.fromEntries(entries) as Record<string, string | undefined>;
}

/** `authOptions`: what authenticating a request is told (audit caller, refusal throttle). */
export function registerAdminApi(app: FastifyInstance, store: AdminStore, authOptions: (req: FastifyRequest) => AuthenticateOptions, options: AdminOptions): void {
  const admin = createAdmin(store, options);
  void app.register(
    async (api) => {
      const caller = (req: FastifyRequest) => authenticateAdmin(store, req.headers.authorization, authOptions(req));
      api.get('/audit', async (req: FastifyRequest) => admin.auditPage((await caller(req)).scope, firstValues(req.query)));
      api.get('/events', async (req: FastifyRequest) => admin.eventFeed((await caller(req)).scope, firstValues(req.query)));
    },
    { prefix: ADMIN_PREFIX },
  );
}
