/**
 * Prometheus metrics: requests counted by method, route and status with their durations (ids never a label), each
 * webhook's backlog, dead letters and deliveries by its place (never its URL, which may hold a secret), PostgreSQL's
 * connection pool, Node's process metrics; and `scimd serve` with SCIMD_METRICS_PORT serving them there only.
 */
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startDelivery } from '../../src/events/dispatcher.js';
import { webhookDeliverer } from '../../src/events/webhook.js';
import { createMetrics, type Metrics } from '../../src/http/metrics.js';
import { testDatabase, testServer, testStoreKind, user, type TestServer } from '../helpers.js';
import { freePort, serveProcess, type ServerProcess } from '../process.js';
import { startReceiver, type Receiver } from '../webhook-receiver.js';

const SECRET = 'metrics-webhook-secret-0123456789';

/** The samples of a scrape: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** vitest's waitFor, as these tests wait: every 20 ms, for up to 10 s. */
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

let s: TestServer | undefined;
let receiver: Receiver | undefined;
let proc: ServerProcess | undefined;
afterEach(async () => {
  await s?.close();
  await receiver?.close();
  proc?.child.kill('SIGKILL');
  s = receiver = proc = undefined;
});

describe('metrics', () => {
  it('count requests by method, route and status, with their durations; an id, a query or an unknown path is never a label', async () => {
    let metrics!: Metrics;
    s = await testServer({ metrics: (store) => (metrics = createMetrics({ store, webhooks: [] })) });
    const id = (await s.request('POST', '/Users', user('ada'))).body.id as string;
    expect((await s.request('GET', `/Users/${id}`)).status).toBe(200);
    expect((await s.request('GET', `/users/${id}?attributes=userName`)).status).toBe(200); // endpoints match in any case
    expect((await s.request('GET', '/Users/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await s.request('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'] })).status).toBe(200);
    expect((await s.request('GET', '/NoSuchThing/x-secret-looking-path')).status).toBe(404);
    expect((await s.request('GET', '/healthz')).status).toBe(200);
    expect((await s.app.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(404);

    const text = await metrics.registry.metrics();
    const got = samples(text);
    expect(got.get('scimd_http_requests_total{method="POST",route="/scim/v2/Users",status="201"}')).toBe(1);
    expect(got.get('scimd_http_requests_total{method="GET",route="/scim/v2/Users/{id}",status="200"}')).toBe(2);
    expect(got.get('scimd_http_requests_total{method="GET",route="/scim/v2/Users/{id}",status="404"}')).toBe(1);
    expect(got.get('scimd_http_requests_total{method="POST",route="/scim/v2/Users/.search",status="200"}')).toBe(1);
    expect(got.get('scimd_http_requests_total{method="GET",route="/scim/v2/{other}",status="404"}')).toBe(1);
    expect(got.get('scimd_http_requests_total{method="GET",route="/healthz",status="200"}')).toBe(1);
    expect(got.get('scimd_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(got.get('scimd_http_request_duration_seconds_count{method="GET",route="/scim/v2/Users/{id}"}')).toBe(3);
    expect(got.get('scimd_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/scim/v2/Users/{id}"}')).toBe(3);
    expect(got.get('scimd_http_request_duration_seconds_sum{method="GET",route="/scim/v2/Users/{id}"}')).toBeGreaterThan(0);
    // Node's own: CPU, memory, event loop
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect([...got.keys()].some((k) => k.startsWith(name)), name).toBe(true);
    }
    expect(text).not.toContain(id);
    expect(text).not.toContain('x-secret-looking-path');
    expect(text).not.toContain('attributes');
    // PostgreSQL's connection pool; SQLite has none
    const pool = [...got.keys()].filter((k) => k.startsWith('scimd_db_pool_'));
    if (testStoreKind() === 'postgres') {
      expect(pool.sort()).toEqual(['scimd_db_pool_connections{state="busy"}', 'scimd_db_pool_connections{state="idle"}', 'scimd_db_pool_max', 'scimd_db_pool_waiting']);
      expect(got.get('scimd_db_pool_max')).toBe(10);
      expect(got.get('scimd_db_pool_connections{state="idle"}')).toBeGreaterThan(0); // the requests above opened some
      expect(got.get('scimd_db_pool_waiting')).toBe(0);
    } else {
      expect(pool).toEqual([]);
    }
  });

  it('show each webhook by its place: what waits, what is dead, what was delivered; never its URL', async () => {
    receiver = await startReceiver(SECRET);
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    // a URL may carry its receiver's secret: it is no label
    const up = `${receiver.url}?token=hook-s3cret`;
    const down = `http://127.0.0.1:${closedPort}/hook-path-s3cret`;
    let metrics!: Metrics;
    s = await testServer({ events: [up, down], metrics: (store) => (metrics = createMetrics({ store, webhooks: [up, down] })) });
    await s.request('POST', '/Users', user('ada'));
    await s.request('POST', '/Users', user('grace'));
    let got = samples(await metrics.registry.metrics());
    expect(got.get('scimd_webhook_info{webhook="1",host="127.0.0.1:' + new URL(receiver.url).port + '"}')).toBe(1);
    expect(got.get(`scimd_webhook_info{webhook="2",host="127.0.0.1:${closedPort}"}`)).toBe(1);
    expect([got.get('scimd_webhook_events_pending{webhook="1"}'), got.get('scimd_webhook_events_pending{webhook="2"}')]).toEqual([2, 2]);
    expect([got.get('scimd_webhook_events_dead{webhook="1"}'), got.get('scimd_webhook_events_dead{webhook="2"}')]).toEqual([0, 0]);

    // the wiring of `scimd serve`: each delivery's outcome counted under its webhook's place
    const deliveries = [up, down].map((url, i) => startDelivery({
      store: s!.store, channel: url, deliver: webhookDeliverer({ url, secret: SECRET }), maxAttempts: 1, pollMs: 10,
      onFailure: (_e, event, dead) => event && metrics.delivery(i, dead ? 'dead' : 'failed'),
      onDelivered: (n) => metrics.delivery(i, 'delivered', n),
    }));
    try {
      // both delivered to the first, both dead on the second
      await eventually(async () => {
        got = samples(await metrics.registry.metrics());
        expect([got.get('scimd_webhook_events_pending{webhook="1"}'), got.get('scimd_webhook_events_dead{webhook="2"}')]).toEqual([0, 2]);
      });
    } finally {
      await Promise.all(deliveries.map((d) => d.stop()));
    }
    expect(got.get('scimd_webhook_deliveries_total{webhook="1",outcome="delivered"}')).toBe(2);
    expect(got.get('scimd_webhook_deliveries_total{webhook="2",outcome="dead"}')).toBe(2);
    expect(got.get('scimd_webhook_events_pending{webhook="2"}')).toBe(0);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('/hook');
  });

  it('still answer when the database is away: the outbox figures are left out, not made up', async () => {
    let metrics!: Metrics;
    s = await testServer({ events: ['https://hooks.example.com/a'], metrics: (store) => (metrics = createMetrics({ store: { eventBacklog: () => Promise.reject(new Error('database unavailable')) }, webhooks: ['https://hooks.example.com/a'] })) });
    await s.request('GET', '/Users');
    const got = samples(await metrics.registry.metrics());
    expect(got.get('scimd_http_requests_total{method="GET",route="/scim/v2/Users",status="200"}')).toBe(1);
    expect([...got.keys()].filter((k) => k.startsWith('scimd_webhook_events_'))).toEqual([]);
  });

  it('scimd serve with SCIMD_METRICS_PORT serves them at GET /metrics on that port, and only there', async () => {
    const metricsPort = await freePort();
    const closedPort = await freePort(); // nothing listens there: every delivery fails
    proc = await serveProcess(await testDatabase('metrics'), 'metrics-bootstrap-token-0123456789abcdef', {
      SCIMD_METRICS_PORT: String(metricsPort), SCIMD_WEBHOOK_URL: `http://127.0.0.1:${closedPort}/hook`, SCIMD_WEBHOOK_SECRET: SECRET, SCIMD_EVENT_MAX_ATTEMPTS: '1',
    });
    expect((await proc.request('POST', '/Users', user('ada'))).status).toBe(201);
    expect((await proc.request('GET', '/Users')).status).toBe(200);
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return samples(await res.text());
    };
    let got = await scrape();
    expect(got.get('scimd_http_requests_total{method="POST",route="/scim/v2/Users",status="201"}')).toBe(1);
    expect(got.get('scimd_http_requests_total{method="GET",route="/scim/v2/Users",status="200"}')).toBe(1);
    await eventually(async () => expect((got = await scrape()).get('scimd_webhook_events_dead{webhook="1"}')).toBe(1));
    expect(got.get('scimd_webhook_deliveries_total{webhook="1",outcome="dead"}')).toBe(1);
    expect(got.has('scimd_db_pool_max')).toBe(testStoreKind() === 'postgres');
    // not on the SCIM port, and nothing else on the metrics port
    expect((await fetch(proc.base.replace('/scim/v2', '/metrics'))).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/scim/v2/Users`)).status).toBe(404);
  });

  it('scimd serve refuses to start when the metrics port is taken, and says which setting', async () => {
    const taken = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const dir = mkdtempSync(join(tmpdir(), 'scimd-metrics-'));
      await expect(serveProcess(join(dir, 'scimd.db'), 'metrics-bootstrap-token-0123456789abcdef', { SCIMD_METRICS_PORT: String(port) }))
        .rejects.toThrow(`cannot serve metrics on SCIMD_HOST 127.0.0.1, SCIMD_METRICS_PORT ${port}: listen EADDRINUSE`);
    } finally {
      taken.close();
    }
  });
});
