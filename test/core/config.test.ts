import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', databasePoolSize: 10, maxBodyBytes: 1_048_576, maxResults: 1000, cursorTimeoutSeconds: 3600, logLevel: 'info', schemaFiles: [] });
    expect(c.database).toMatch(/data\/scimd\.db$/);
    expect(c.publicUrl).toBeUndefined();
    expect(c).toMatchObject({ audit: true, auditRetentionDays: 90, bulkMaxOperations: 1000, bulkMaxPayloadBytes: 4_194_304, requestTimeoutSeconds: 60, rateLimit: 50_000, authFailureLimit: 20 });
  });

  it('reads the audit and Bulk settings', () => {
    const c = loadConfig({ SCIMD_AUDIT: 'off', SCIMD_AUDIT_RETENTION_DAYS: '0', SCIMD_BULK_MAX_OPERATIONS: '10', SCIMD_BULK_MAX_PAYLOAD_BYTES: '2048' });
    expect(c).toMatchObject({ audit: false, auditRetentionDays: 0, bulkMaxOperations: 10, bulkMaxPayloadBytes: 2048 });
    expect(loadConfig({ SCIMD_AUDIT: 'TRUE' }).audit).toBe(true);
  });

  it('SCIMD_TRUST_PROXY: true, or the proxies to believe', () => {
    expect(loadConfig({}).trustProxy).toBeUndefined();
    expect(loadConfig({ SCIMD_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ SCIMD_TRUST_PROXY: '1' }).trustProxy).toBe(true);
    expect(loadConfig({ SCIMD_TRUST_PROXY: 'false' }).trustProxy).toBeUndefined();
    expect(loadConfig({ SCIMD_TRUST_PROXY: 'off' }).trustProxy).toBeUndefined();
    expect(loadConfig({ SCIMD_TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy).toBe('10.0.0.0/8,127.0.0.1');
    expect(loadConfig({ SCIMD_TRUST_PROXY: ' loopback, fd00::/8, 192.168.0.0/255.255.0.0 ,::1' }).trustProxy).toBe('loopback,fd00::/8,192.168.0.0/255.255.0.0,::1');
  });

  it('SCIMD_PORT is 0 to 65535; SCIMD_LOG_LEVEL a level pino knows, in any case', () => {
    expect(loadConfig({ SCIMD_PORT: '65535' }).port).toBe(65535);
    expect(loadConfig({ SCIMD_PORT: '0' }).port).toBe(0);
    expect(loadConfig({ SCIMD_LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(loadConfig({ SCIMD_LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
  });

  it('SCIMD_METRICS_PORT: none unless set, then a port (0: any free one)', () => {
    expect(loadConfig({}).metricsPort).toBeUndefined();
    expect(loadConfig({ SCIMD_METRICS_PORT: '' }).metricsPort).toBeUndefined();
    expect(loadConfig({ SCIMD_METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(loadConfig({ SCIMD_METRICS_PORT: '0' }).metricsPort).toBe(0);
  });

  it('a refusal names what was set: the flag when the value came from it', () => {
    expect(() => loadConfig({ SCIMD_PORT: '8080' }, { port: '99999' })).toThrow('--port must be an integer from 0 to 65535; got "99999"');
    expect(() => loadConfig({}, { 'log-level': 'loud' })).toThrow('--log-level must be one of fatal, error, warn, info, debug, trace, silent; got "loud"');
  });

  it('never shows a password or secret in a refusal', () => {
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refusal({ SCIMD_WEBHOOK_URL: 'ftp://hook:hunter2@app.example.com/x' })).not.toContain('hunter2');
    expect(refusal({ SCIMD_PUBLIC_URL: 'scim://admin:hunter2@scim.example.com' })).not.toContain('hunter2');
    expect(refusal({ SCIMD_WEBHOOK_URL: 'https://app.example.com/hook', SCIMD_WEBHOOK_SECRET: 'hunter2' })).not.toContain('hunter2');
    expect(refusal({ SCIMD_BOOTSTRAP_TOKEN: 'hunter2-hunter2' })).not.toContain('hunter2');
  });

  it('reads the webhook and event settings; without a webhook there is none', () => {
    expect(loadConfig({}).webhooks).toEqual([]);
    expect(loadConfig({}).eventMaxAttempts).toBe(15);
    const c = loadConfig({ SCIMD_WEBHOOK_URL: 'https://app.example.com/hook', SCIMD_WEBHOOK_SECRET: 'sixteen-chars-ok', SCIMD_EVENT_MAX_ATTEMPTS: '3', SCIMD_EVENT_LEASE_SECONDS: '5', SCIMD_EVENT_RETENTION_DAYS: '1' });
    expect(c).toMatchObject({ webhooks: [{ url: 'https://app.example.com/hook', secret: 'sixteen-chars-ok' }], eventMaxAttempts: 3, eventLeaseSeconds: 5, eventRetentionDays: 1 });
    const two = loadConfig({ SCIMD_WEBHOOK_URL: 'https://a.example.com/hook, https://b.example.com/hook', SCIMD_WEBHOOK_SECRET: 'sixteen-chars-ok' });
    expect(two.webhooks.map((w) => w.url)).toEqual(['https://a.example.com/hook', 'https://b.example.com/hook']);
  });

  it('reads SCIMD_* variables, and flags win over them', () => {
    const c = loadConfig(
      { SCIMD_PORT: '9000', SCIMD_HOST: '0.0.0.0', SCIMD_DATABASE: 'sqlite:/tmp/x.db', SCIMD_PUBLIC_URL: 'https://scim.example.com', SCIMD_SCHEMAS: 'a.json, b.json', SCIMD_MAX_RESULTS: '50', SCIMD_CURSOR_TIMEOUT: '60', SCIMD_BOOTSTRAP_TOKEN: 'tok-of-at-least-32-characters-long' },
      { port: '9001' },
    );
    expect(c).toMatchObject({ port: 9001, host: '0.0.0.0', database: '/tmp/x.db', publicUrl: 'https://scim.example.com', schemaFiles: ['a.json', 'b.json'], maxResults: 50, cursorTimeoutSeconds: 60, bootstrapToken: 'tok-of-at-least-32-characters-long' });
  });

  it('SCIMD_DB_CONNECT_TIMEOUT: seconds to wait for a PostgreSQL connection, 5 by default', () => {
    expect(loadConfig({}).databaseConnectTimeoutSeconds).toBe(5);
    expect(loadConfig({ SCIMD_DB_CONNECT_TIMEOUT: '2' }).databaseConnectTimeoutSeconds).toBe(2);
    expect(() => loadConfig({ SCIMD_DB_CONNECT_TIMEOUT: '0' })).toThrow(/SCIMD_DB_CONNECT_TIMEOUT/);
  });

  it('SCIMD_DB_STATEMENT_TIMEOUT: seconds one PostgreSQL statement may run, 30 by default, 0 for no limit', () => {
    expect(loadConfig({}).databaseStatementTimeoutSeconds).toBe(30);
    expect(loadConfig({ SCIMD_DB_STATEMENT_TIMEOUT: '0' }).databaseStatementTimeoutSeconds).toBe(0);
    expect(loadConfig({ SCIMD_DB_STATEMENT_TIMEOUT: '120' }).databaseStatementTimeoutSeconds).toBe(120);
    expect(() => loadConfig({ SCIMD_DB_STATEMENT_TIMEOUT: '-1' })).toThrow(/SCIMD_DB_STATEMENT_TIMEOUT/);
  });

  it('takes a postgres:// or postgresql:// SCIMD_DATABASE as a URL, unchanged, with SCIMD_DB_POOL_SIZE', () => {
    for (const url of ['postgres://scimd:pw@db:5432/scimd', 'postgresql://db/scimd?sslmode=require', 'POSTGRES://db/x']) {
      expect(loadConfig({ SCIMD_DATABASE: url }).database).toBe(url);
    }
    expect(loadConfig({ SCIMD_DB_POOL_SIZE: '25' }).databasePoolSize).toBe(25);
    expect(loadConfig({ SCIMD_DATABASE: 'postgres.db' }).database).toMatch(/\/postgres\.db$/);
  });

  it.each([
    [{ SCIMD_PORT: 'eighty' }, /SCIMD_PORT/],
    [{ SCIMD_PORT: '99999' }, 'SCIMD_PORT must be an integer from 0 to 65535; got "99999"'],
    [{ SCIMD_PORT: '-1' }, 'SCIMD_PORT must be an integer from 0 to 65535; got "-1"'],
    [{ SCIMD_METRICS_PORT: 'prometheus' }, 'SCIMD_METRICS_PORT must be an integer from 0 to 65535; got "prometheus"'],
    [{ SCIMD_LOG_LEVEL: 'verbose' }, 'SCIMD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "verbose"'],
    [{ SCIMD_TRUST_PROXY: 'nonsense' }, /^SCIMD_TRUST_PROXY must be true, false, or the proxies' addresses or CIDRs .*; got "nonsense"$/],
    [{ SCIMD_TRUST_PROXY: '10.0.0.0/8,10.0.0.0/33' }, /SCIMD_TRUST_PROXY .*got "10.0.0.0\/8,10.0.0.0\/33", in which "10.0.0.0\/33" is none of these/],
    [{ SCIMD_TRUST_PROXY: '2' }, /SCIMD_TRUST_PROXY is "2", a hop count, which Fastify does not honour/],
    [{ SCIMD_MAX_RESULTS: '0' }, /SCIMD_MAX_RESULTS/],
    [{ SCIMD_PUBLIC_URL: 'scim.example.com' }, /SCIMD_PUBLIC_URL/],
    [{ SCIMD_DB_POOL_SIZE: '0' }, /SCIMD_DB_POOL_SIZE/],
    [{ SCIMD_AUDIT: 'maybe' }, /SCIMD_AUDIT must be on or off/],
    [{ SCIMD_WEBHOOK_URL: 'ftp://x' }, /SCIMD_WEBHOOK_URL/],
    [{ SCIMD_WEBHOOK_URL: 'https://app.example.com/hook', SCIMD_WEBHOOK_SECRET: 'short' }, /SCIMD_WEBHOOK_SECRET/],
    [{ SCIMD_EVENT_MAX_ATTEMPTS: '0' }, /SCIMD_EVENT_MAX_ATTEMPTS/],
    [{ SCIMD_AUDIT_RETENTION_DAYS: '-1' }, /SCIMD_AUDIT_RETENTION_DAYS/],
    [{ SCIMD_BULK_MAX_OPERATIONS: '0' }, /SCIMD_BULK_MAX_OPERATIONS/],
  ])('refuses %j with a message naming the setting', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
