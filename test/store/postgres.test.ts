/** The store contract on PostgreSQL, plus what only the PostgreSQL store has to guarantee. */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { PostgresExecutor } from '../../src/store/postgres/postgres-executor.js';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import type { ResourceWrite } from '../../src/core/model.js';
import { QueryTimeout, StoreUnavailable, UniquenessViolation, UnknownMembers } from '../../src/core/errors.js';
import { describeStoreContract } from './contract.js';
import { freshPostgresDatabase, postgresUrl } from '../postgres.js';

const admin = postgresUrl();

/** Resolves once `check` holds (tried every 50 ms, for up to 5 s). */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the condition never held');
}

const at = (second: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, second)).toISOString();
const user = (userName: string): ResourceWrite => ({
  attributes: { userName }, index: [], uniqueKeys: [{ attribute: 'userName', value: userName }], display: userName,
});
const group = (displayName: string, ids: readonly string[]): ResourceWrite => ({
  attributes: { displayName }, index: [], uniqueKeys: [], display: displayName, membership: { ids, allowedTypes: ['User', 'Group'] },
});

describe.skipIf(!admin)('PostgreSQL', () => {
  describeStoreContract('PostgreSQL', async () => {
    const store = new PostgresStore(await freshPostgresDatabase(admin!));
    await store.migrate();
    return store;
  });

  describe('PostgresStore', () => {
    let url: string;
    const opened: { close(): Promise<unknown> }[] = [];

    /** A store on this test's database (not migrated), closed after the test. */
    function open(): PostgresStore {
      const store = new PostgresStore(url, { poolSize: 4 });
      opened.push(store);
      return store;
    }

    async function sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<R>(text, params)).rows;
      } finally {
        await client.end();
      }
    }

    beforeEach(async () => {
      url = await freshPostgresDatabase(admin!);
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it('a token is kept once read while its node listens; a change on another node is heard and read again; not listening, nothing is kept', async () => {
      const hash = 'a'.repeat(64);
      const [node, other] = [open(), open()];
      await node.migrate();
      const org = await node.ensureOrganization('acme');
      await node.createToken({ id: 't1', orgId: org.id, name: 'idp', dialect: 'rfc', scope: 'scim', hash, created: at(0) });
      const reads = vi.spyOn(PostgresExecutor.prototype, 'read');
      /** Looks the token up until `done` holds of it (another node's change is heard within milliseconds). */
      const lookUp = async (done: (t: Awaited<ReturnType<PostgresStore['findTokenByHash']>>) => boolean) => {
        let token: Awaited<ReturnType<PostgresStore['findTokenByHash']>>;
        await until(async () => done((token = await node.findTokenByHash(hash))));
        return token;
      };
      /** Whether a lookup was answered without reaching the database. */
      const kept = async () => {
        const before = reads.mock.calls.length;
        await node.findTokenByHash(hash);
        return reads.mock.calls.length === before;
      };
      expect((await node.findTokenByHash(hash))?.revoked).toBeUndefined();
      await until(kept); // once listening
      // another node revokes, renames: heard, read again
      await other.revokeToken('t1', at(5));
      expect((await lookUp((t) => t?.revoked !== undefined))?.revoked).toBe(at(5));
      await other.renameOrganization(org.id, 'acme-corp');
      expect((await lookUp((t) => t?.orgName === 'acme-corp'))?.orgName).toBe('acme-corp');
      // the listening connection lost: a change no notification tells of is still read (nothing is kept) …
      await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN scimd_tokens'");
      await new Promise((r) => setTimeout(r, 200));
      await sql("UPDATE tokens SET name = 'renamed quietly'");
      expect((await node.findTokenByHash(hash))?.name).toBe('renamed quietly');
      expect(await kept()).toBe(false);
      // … and once it listens again, tokens are kept again
      await until(kept);
      reads.mockRestore();
    });

    it('a statement this node prepared still runs after another node\'s migration changed its table (SELECT * gains a column)', async () => {
      const node = open();
      await node.migrate();
      const org = await node.ensureOrganization('acme');
      await node.createResource(org.id, 'User', 'u1', at(1), user('alice'));
      expect((await node.getResource(org.id, 'User', 'u1'))?.attributes).toEqual({ userName: 'alice' });
      await node.createToken({ id: 't1', orgId: org.id, name: 'idp', dialect: 'rfc', scope: 'scim', hash: 'b'.repeat(64), created: at(0) });
      expect(await node.listTokens()).toHaveLength(1);
      await sql('ALTER TABLE resources ADD COLUMN later TEXT');
      await sql('ALTER TABLE tokens ADD COLUMN later TEXT');
      // every pooled connection may hold the old plan: more reads than connections
      for (let i = 0; i < 8; i++) {
        expect((await node.getResource(org.id, 'User', 'u1'))?.attributes).toEqual({ userName: 'alice' });
        expect(await node.listTokens()).toHaveLength(1);
      }
      // and a write whose transaction reads through one
      expect(await node.revokeToken('t1', at(2))).toBe(true);
    });

    it('two stores migrating the same empty database at once both succeed, and each step is applied once', async () => {
      const stores = [open(), open(), open()];
      await Promise.all(stores.map((s) => s.migrate()));
      await stores[0]!.migrate();
      const rows = await sql<{ version: number; n: number }>('SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version');
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
      // each sees the other's writes
      const org = await stores[1]!.ensureOrganization('acme');
      expect(await stores[2]!.ensureOrganization('acme')).toEqual(org);
    });

    it('a statement past the statement timeout is cancelled: QueryTimeout, a kind of StoreUnavailable', async () => {
      // no request of scimd's can be made to take a second on an empty database: a statement through the store's executor
      const executor = new PostgresExecutor(url, { statementTimeoutMs: 200 });
      opened.push(executor);
      const query = (sql: string) => executor.query(sql);
      const error = await query('SELECT pg_sleep(2)').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueryTimeout);
      expect(error).toBeInstanceOf(StoreUnavailable);
      await expect(query('SELECT 1')).resolves.toBeDefined(); // the connection went back to the pool, usable
    });

    it('migrations run without the statement timeout (they copy whole tables at scale)', async () => {
      const store = new PostgresStore(url, { statementTimeoutMs: 1 });
      opened.push(store);
      await store.migrate();
      const rows = await sql<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows).toEqual([{ n: MIGRATIONS.length }]);
    });

    describe('on a migrated database', () => {
      let store: PostgresStore;
      let orgId: string;

      beforeEach(async () => {
        store = open();
        await store.migrate();
        orgId = (await store.ensureOrganization('acme')).id;
      });

      it('refreshes the planner statistics once a load has grown the directory, without waiting for autovacuum', async () => {
        const tables = ['resources', 'attribute_str', 'attribute_num'];
        for (const t of tables) await sql(`ALTER TABLE ${t} SET (autovacuum_enabled = false)`);
        const analyzed = async () => (await sql<{ relname: string; last_analyze: Date | null }>(
          'SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname = ANY($1) AND last_analyze IS NOT NULL', [tables],
        )).length;
        const batch = (from: number) => Array.from({ length: 400 }, (_, i) => ({ id: `u${from + i}`, write: user(`user${from + i}`) }));
        await store.createResources(orgId, 'User', at(1), batch(0));
        await store.createResources(orgId, 'User', at(2), batch(400));
        expect(await analyzed()).toBe(0); // 800 created: not yet
        await store.createResources(orgId, 'User', at(3), batch(800));
        await expect.poll(analyzed, { timeout: 10_000 }).toBe(3);
      });

      it('concurrent replaces from the same version: exactly one is written, the others conflict', async () => {
        await store.createResource(orgId, 'User', 'u1', at(1), user('alice'));
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.replaceResource(orgId, 'User', 'u1', at(2), user(`alice-${i}`), 1)),
        );
        expect(outcomes.filter((o) => o === 'conflict')).toHaveLength(7);
        const winner = outcomes.find((o) => o !== 'conflict');
        expect(await store.getResource(orgId, 'User', 'u1')).toEqual(winner);
        expect(winner).toMatchObject({ version: 2 });
      });

      it('concurrent membership changes to one group: none is lost', async () => {
        const ids = Array.from({ length: 12 }, (_, i) => `u${i}`);
        for (const [i, id] of ids.entries()) await store.createResource(orgId, 'User', id, at(i), user(id));
        await store.createResource(orgId, 'Group', 'g1', at(20), group('g', []));
        const results = await Promise.all(
          ids.map((id) => store.patchResource(orgId, 'Group', 'g1', at(21), {
            members: { clear: false, add: [id], remove: [], allowedTypes: ['User'] }, // a delta commutes: no version check
          })),
        );
        expect(results.every((r) => typeof r === 'object')).toBe(true);
        expect((await store.members(orgId, 'g1')).map((m) => m.value).sort()).toEqual([...ids].sort());
        expect((await store.getResource(orgId, 'Group', 'g1'))?.version).toBe(1 + ids.length);
      });

      it('a member deleted while it is being added: never a membership naming a resource that is gone', async () => {
        for (let round = 0; round < 10; round++) {
          await store.createResource(orgId, 'User', `m${round}`, at(round), user(`m${round}`));
          const [created] = await Promise.allSettled([
            store.createResource(orgId, 'Group', `g${round}`, at(round), group(`g${round}`, [`m${round}`])),
            store.deleteResource(orgId, 'User', `m${round}`),
          ]);
          const members = await store.members(orgId, `g${round}`);
          if (created.status === 'rejected') expect(created.reason).toBeInstanceOf(UnknownMembers);
          expect(members).toEqual([]);
        }
        expect(await sql('SELECT * FROM group_members m WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.org_id = m.org_id AND r.id = m.member_id)')).toEqual([]);
      });

      it('two batches claiming the same values in opposite orders both finish (a deadlock is retried), each value once', async () => {
        for (let round = 0; round < 5; round++) {
          const [a, b] = [`a${round}`, `b${round}`];
          const [first, second] = await Promise.all([
            store.createResources(orgId, 'User', at(1), [{ id: `x${round}a`, write: user(a) }, { id: `x${round}b`, write: user(b) }]),
            store.createResources(orgId, 'User', at(1), [{ id: `y${round}b`, write: user(b) }, { id: `y${round}a`, write: user(a) }]),
          ]);
          const stored = [...first, ...second].filter((r) => !(r instanceof UniquenessViolation));
          expect(stored).toHaveLength(2);
        }
      });

      it('a batch waiting for a value that a single create is claiming holds no lock that create still needs', async () => {
        await store.createResource(orgId, 'User', 'u0', at(0), user('first')); // the count row exists from here
        const holder = new pg.Client({ connectionString: url });
        await holder.connect();
        try {
          // a single create in flight: it has claimed 'x' and will count last
          await holder.query('BEGIN');
          await holder.query(`INSERT INTO resources (org_id, resource_type, id, version, created, last_modified, data) VALUES ($1, 'User', 'h', 1, 'a', 'a', '{}')`, [orgId]);
          await holder.query(`INSERT INTO unique_values (org_id, resource_type, attribute, value, value_sha256, resource_id) VALUES ($1, 'User', 'userName', 'x', sha256('x'), 'h')`, [orgId]);
          const batch = store.createResources(orgId, 'User', at(1), [{ id: 'b1', write: user('a') }, { id: 'b2', write: user('x') }]);
          // wait until the batch waits for 'x'
          for (let i = 0; i < 100; i++) {
            const waiting = await sql("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO unique_values%'");
            if (waiting.length > 0) break;
            await new Promise((r) => setTimeout(r, 20));
          }
          // this session would detect a deadlock first if the batch held the count row
          await holder.query("SET deadlock_timeout = '10ms'");
          await holder.query(`UPDATE resource_counts SET n = n + 1 WHERE org_id = $1 AND resource_type = 'User'`, [orgId]);
          await holder.query('ROLLBACK');
          const results = await batch;
          expect(results.map((r) => (r instanceof Error ? r.name : r.id))).toEqual(['b1', 'b2']);
          expect((await store.listResources(orgId, 'User', { offset: 0, limit: 10 })).total).toBe(3);
        } finally {
          await holder.end();
        }
      });

      it('an audit entry of a refused request with U+0000 in it is recorded, with U+FFFD in its place', async () => {
        await store.appendAudit([{ at: at(1), operation: 'delete', resourceType: '\u0000', resourceId: 'a\u0000b', status: 404, detail: 'no \u0000', changes: [] }]);
        expect(await store.listAudit({ limit: 10 })).toMatchObject([{ resourceType: '\uFFFD', resourceId: 'a\uFFFDb', detail: 'no \uFFFD', status: 404 }]);
      });

      it('nodes claiming the outbox at once: each event leased to one of them, each resource\'s oldest first', async () => {
        const event = (resource: string, n: number) => ({
          id: `${resource}-${n}`, type: 'user.updated' as const, at: at(1), organization: orgId, resource: { type: 'User', id: resource }, changes: [],
        });
        for (let r = 0; r < 6; r++) {
          await store.createResource(orgId, 'User', `e${r}`, at(1), { ...user(`e${r}`), record: { events: [event(`e${r}`, 1), event(`e${r}`, 2)] } });
        }
        const nodes = [store, open(), open()];
        const claims = await Promise.all(nodes.flatMap((n) => [n.claimEvents(at(2), at(60), 4), n.claimEvents(at(2), at(60), 4)]));
        const ids = claims.flat().map((e) => e.event.id).sort();
        // every resource's first event exactly once; no second event while its first is undelivered
        expect(ids).toEqual(Array.from({ length: 6 }, (_, r) => `e${r}-1`).sort());
        const first = claims.flat();
        await store.completeEvents(first.map((e) => e.seq), at(3));
        const next = (await Promise.all(nodes.map((n) => n.claimEvents(at(4), at(60), 10)))).flat().map((e) => e.event.id).sort();
        expect(next).toEqual(Array.from({ length: 6 }, (_, r) => `e${r}-2`).sort());
      });

      it('countRequests: concurrent counts from several nodes add up, and windows before the previous are forgotten', async () => {
        const other = open();
        const totals = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).countRequests('tok', 100, 1)));
        expect([...totals].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(await store.countRequests('tok', 101, 2)).toBe(2);
        expect(await store.countRequests('tok', 102, 1)).toBe(1);
        expect(await sql('SELECT "window"::int AS window, n::int AS n FROM request_counts ORDER BY "window"')).toEqual([{ window: 101, n: 2 }, { window: 102, n: 1 }]);
      });

      it('secret: stores racing to make the same secret all get the one that was written', async () => {
        const other = open();
        const made = await Promise.all([store.secret('k'), other.secret('k'), store.secret('k'), other.secret('k')]);
        expect(new Set(made.map((b) => b.toString('hex'))).size).toBe(1);
        expect(await sql('SELECT name FROM secrets')).toEqual([{ name: 'k' }]);
      });

      it('poolSize (SCIMD_DB_POOL_SIZE) bounds the connections a store opens', async () => {
        const small = new PostgresStore(`${url}?application_name=pool_size_test`, { poolSize: 2 });
        opened.push(small);
        await Promise.all(Array.from({ length: 10 }, () => small.ping()));
        const rows = await sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pool_size_test'");
        expect(rows).toEqual([{ n: 2 }]);
      });
    });
  });
});
