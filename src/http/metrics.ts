/**
 * Prometheus metrics of a scimd server (prom-client, the text format), served on a port of their own: requests by
 * method, route and status, with their durations; each webhook's backlog, dead letters and deliveries; PostgreSQL's
 * connection pool; and Node's process metrics. Labels name routes and webhooks by their place, never ids, tokens, organizations or URLs (a
 * webhook URL may hold its receiver's secret): the series stay few whatever clients send.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBacklog } from '../core/model.js';
import type { Store } from '../core/ports.js';
import type { SchemaRegistry } from '../core/schema/registry.js';

export interface Metrics {
  readonly registry: Registry;
  /** A request answered: `route` as routeLabel names it. */
  request(method: string, route: string, status: number, seconds: number): void;
  /** Events of the webhook at `index` (in SCIMD_WEBHOOK_URL's order) delivered, failed once, or dead-lettered. */
  delivery(index: number, outcome: 'delivered' | 'failed' | 'dead', events?: number): void;
}

/** The SCIM endpoints that are no resource type's. */
const FIXED_ENDPOINTS = ['ServiceProviderConfig', 'ResourceTypes', 'Schemas', 'Bulk', 'Me', '.search'];

/**
 * A request's route as a label: Fastify's route (`/healthz`, `/admin/api/*`), and under the SCIM prefix the endpoint
 * with `{id}` for what follows it (`/scim/v2/Users/{id}`); an endpoint no resource type has is `{other}`, and a
 * request no route took is `unmatched`.
 */
export function routeLabeller(registry: SchemaRegistry, scimPrefix: string) {
  const endpoints = new Map([...registry.resourceTypes().map((t) => t.endpoint.slice(1)), ...FIXED_ENDPOINTS].map((e) => [e.toLowerCase(), e]));
  return (route: string | undefined, url: string): string => {
    if (route === undefined) return 'unmatched';
    if (!route.startsWith(`${scimPrefix}/`)) return route;
    const query = url.indexOf('?');
    const segments = (query === -1 ? url : url.slice(0, query)).slice(scimPrefix.length).split('/').filter(Boolean);
    if (segments.length === 0) return `${scimPrefix}/`;
    const endpoint = endpoints.get(segments[0]!.toLowerCase());
    if (endpoint === undefined) return `${scimPrefix}/{other}`;
    if (segments.length === 1) return `${scimPrefix}/${endpoint}`;
    const rest = segments.length === 2 && segments[1]!.toLowerCase() === '.search' ? '.search' : '{id}';
    return `${scimPrefix}/${endpoint}/${segments.length === 2 ? rest : `${rest}/{other}`}`;
  };
}

export interface MetricsOptions {
  /** The outbox, and the connection pool where the store has one. */
  readonly store: Pick<Store, 'eventBacklog' | 'poolStats'>;
  /** The webhook URLs, in SCIMD_WEBHOOK_URL's order. */
  readonly webhooks: readonly string[];
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'scimd_http_requests_total', help: 'Requests answered, by method, route and status.', labelNames: ['method', 'route', 'status'], registers: [registry],
  });
  const durations = new Histogram({
    name: 'scimd_http_request_duration_seconds', help: 'Time from a request\'s arrival to its answer, by method and route.', labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  const pool = options.store.poolStats?.bind(options.store);
  if (pool) {
    // a pool that is always busy, with requests waiting, is one SCIMD_DB_POOL_SIZE too small (or a slow database);
    // read before the outbox gauges' query takes a connection of it
    new Gauge({
      name: 'scimd_db_pool_connections', help: 'Database connections this process holds open, busy or idle.', labelNames: ['state'], registers: [registry],
      collect() {
        const { open, idle } = pool();
        this.set({ state: 'busy' }, open - idle);
        this.set({ state: 'idle' }, idle);
      },
    });
    new Gauge({ name: 'scimd_db_pool_max', help: 'The most connections this process opens (SCIMD_DB_POOL_SIZE).', registers: [registry], collect() { this.set(pool().max); } });
    new Gauge({ name: 'scimd_db_pool_waiting', help: 'Requests of this process waiting for a database connection.', registers: [registry], collect() { this.set(pool().waiting); } });
  }
  // a webhook is its place in SCIMD_WEBHOOK_URL (scimd_webhook_info adds its receiver's host)
  const webhook = (index: number) => String(index + 1);
  const info = new Gauge({ name: 'scimd_webhook_info', help: 'Each webhook by its place in SCIMD_WEBHOOK_URL, with its receiver\'s host.', labelNames: ['webhook', 'host'], registers: [registry] });
  options.webhooks.forEach((url, i) => info.set({ webhook: webhook(i), host: new URL(url).host }, 1));
  const deliveries = new Counter({
    name: 'scimd_webhook_deliveries_total', help: 'Event deliveries made by this node: delivered, failed (to be tried again), dead-lettered.', labelNames: ['webhook', 'outcome'], registers: [registry],
  });
  // the outbox as the database has it at the scrape, the same on every node: one query for both gauges
  let reading: { at: number; rows: Promise<Map<string, EventBacklog>> } | undefined;
  const backlog = () => {
    if (!reading || Date.now() - reading.at > 1000) {
      reading = { at: Date.now(), rows: options.store.eventBacklog().then((rows) => new Map(rows.map((r) => [r.channel, r]))) };
    }
    return reading.rows;
  };
  const outboxGauge = (name: string, help: string, field: 'pending' | 'dead') => new Gauge({
    name, help, labelNames: ['webhook'], registers: [registry],
    async collect() {
      let rows;
      try {
        rows = await backlog();
      } catch {
        this.reset(); // the database is away: no figure rather than an old one, and the rest is still served
        return;
      }
      options.webhooks.forEach((url, i) => this.set({ webhook: webhook(i) }, rows.get(url)?.[field] ?? 0));
    },
  });
  outboxGauge('scimd_webhook_events_pending', 'Events waiting for delivery (their turn or their next attempt), of every node.', 'pending');
  outboxGauge('scimd_webhook_events_dead', 'Dead-lettered events, until `scimd events retry` sends them again, of every node.', 'dead');
  return {
    registry,
    request(method, route, status, seconds) {
      requests.inc({ method, route, status });
      durations.observe({ method, route }, seconds);
    },
    delivery(index, outcome, events = 1) {
      deliveries.inc({ webhook: webhook(index), outcome }, events);
    },
  };
}

/** Serves GET /metrics of `metrics` on its own port; anything else is 404. */
export async function serveMetrics(metrics: Metrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
