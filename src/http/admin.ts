/**
 * The admin HTTP API (`/admin/api`), for admin tokens (`scimd token create --admin`), which see every organization.
 * Today: the audit log. The admin console issue builds on it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditPage, type AuditParams } from '../core/audit-query.js';
import { authenticate, type AuthenticateOptions } from '../core/tokens.js';
import type { Store } from '../core/ports.js';

export const ADMIN_PREFIX = '/admin/api';

/** A repeated query parameter counts once (the first), as on the SCIM endpoints. */
function firstValues(query: unknown): AuditParams {
  const entries = Object.entries((query ?? {}) as Record<string, string | string[]>).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]);
  return Object.fromEntries(entries) as AuditParams;
}

/** `authOptions`: what authenticating a request is told besides its scope (audit caller, refusal throttle). */
export function registerAdminApi(app: FastifyInstance, store: Store, authOptions: (req: FastifyRequest) => AuthenticateOptions): void {
  void app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req) => {
        await authenticate(store, req.headers.authorization, { ...authOptions(req), scope: 'admin' });
      });
      admin.get('/audit', async (req: FastifyRequest) => auditPage(store, firstValues(req.query)));
    },
    { prefix: ADMIN_PREFIX },
  );
}
