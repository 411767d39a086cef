/**
 * Versioned schema migrations for the PostgreSQL store. Append only: a released migration is never edited, a change
 * is a new entry. The tables are those of the SQLite store (sqlite/migrations.ts), with the references that
 * PostgreSQL can enforce declared as foreign keys: deleting a resource cascades to its index rows, unique values
 * and memberships, and a membership cannot name a resource that is gone.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly name: string; readonly sql: string }[] = [
  {
    version: 1,
    name: 'organizations, secrets, tokens, resources, unique values, group members, attribute index, resource counts, audit log, event outbox, request counts',
    sql: `
      CREATE TABLE organizations (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL
      );
      CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BYTEA NOT NULL
      );
      CREATE TABLE tokens (
        id        TEXT PRIMARY KEY,
        org_id    TEXT NOT NULL REFERENCES organizations (id),
        name      TEXT NOT NULL,
        dialect   TEXT NOT NULL,
        hash      TEXT NOT NULL UNIQUE,
        created   TEXT NOT NULL,
        last_used TEXT,
        revoked   TEXT,
        scope     TEXT NOT NULL DEFAULT 'scim'
      );
      -- seq gives every resource a stable position for listing; (org_id, resource_type, id) is the identity, and
      -- ids are unique within an organization (store.ts), which the references below rely on.
      CREATE TABLE resources (
        seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id        TEXT NOT NULL REFERENCES organizations (id),
        resource_type TEXT NOT NULL,
        id            TEXT NOT NULL,
        version       INTEGER NOT NULL,
        created       TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        display       TEXT,
        data          TEXT NOT NULL,
        CONSTRAINT resources_by_id UNIQUE (org_id, id)
      );
      CREATE UNIQUE INDEX resources_identity ON resources (org_id, resource_type, id);
      -- listing in creation order, and keyset seeks, are ranges of this index
      CREATE INDEX resources_listing ON resources (org_id, resource_type, seq);
      -- uniqueness (RFC 7643 §2.2) enforced by the primary key, so concurrent creates cannot both win; the key
      -- holds a digest of the value, as a b-tree entry has a size limit and a value has none
      CREATE TABLE unique_values (
        org_id        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        attribute     TEXT NOT NULL,
        value         TEXT NOT NULL,
        value_sha256  BYTEA NOT NULL,
        resource_id   TEXT NOT NULL,
        PRIMARY KEY (org_id, resource_type, attribute, value_sha256),
        FOREIGN KEY (org_id, resource_id) REFERENCES resources (org_id, id) ON DELETE CASCADE
      );
      CREATE INDEX unique_values_resource ON unique_values (org_id, resource_id);
      -- membership is its own relation: adding one member is one row, whatever the group's size; position keeps
      -- the order members were added in
      CREATE TABLE group_members (
        position    BIGINT GENERATED ALWAYS AS IDENTITY,
        org_id      TEXT NOT NULL,
        group_id    TEXT NOT NULL,
        member_id   TEXT NOT NULL,
        member_type TEXT NOT NULL,
        PRIMARY KEY (org_id, group_id, member_id),
        FOREIGN KEY (org_id, group_id) REFERENCES resources (org_id, id) ON DELETE CASCADE,
        FOREIGN KEY (org_id, member_id) REFERENCES resources (org_id, id) ON DELETE CASCADE
      );
      CREATE INDEX group_members_member ON group_members (org_id, member_id, group_id, member_type);
      CREATE INDEX group_members_order ON group_members (org_id, group_id, position);
      -- One row per indexed value (core/filter/index-entries.ts); str is already case-folded by its attribute's
      -- rule and compares in code point order (COLLATE "C"), so sw and gt/lt are ranges of the index. The index
      -- holds str_prefix, not str: a b-tree entry has a size limit and a value has none (the compiler compares
      -- shorter values on the prefix alone, longer ones on both; see SqlDialect.stringPrefix).
      CREATE TABLE attribute_index (
        resource_seq  BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
        org_id        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        path          TEXT NOT NULL,
        ordinal       INTEGER NOT NULL,
        str           TEXT COLLATE "C",
        num           DOUBLE PRECISION,
        str_prefix    TEXT COLLATE "C" GENERATED ALWAYS AS (left(str, 400)) STORED
      );
      -- covering: a filter reads the matching resource keys (and elements) from the index alone
      CREATE INDEX attribute_index_str ON attribute_index (org_id, resource_type, path, str_prefix, resource_seq, ordinal);
      CREATE INDEX attribute_index_num ON attribute_index (org_id, resource_type, path, num, resource_seq, ordinal);
      CREATE INDEX attribute_index_resource ON attribute_index (resource_seq, path, ordinal);
      -- the number of resources of each type, kept in the same transactions as the resources, so an unfiltered
      -- list answers totalResults without counting
      CREATE TABLE resource_counts (
        org_id        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        n             BIGINT NOT NULL,
        PRIMARY KEY (org_id, resource_type)
      );
      -- one row per state-changing request or rejected authentication; a write's row is inserted in its transaction
      CREATE TABLE audit_log (
        seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at            TEXT NOT NULL,
        org_id        TEXT,
        token_id      TEXT,
        token_name    TEXT,
        client        TEXT,
        request_id    TEXT,
        operation     TEXT NOT NULL,
        resource_type TEXT,
        resource_id   TEXT,
        version       INTEGER,
        status        INTEGER NOT NULL,
        scim_type     TEXT,
        detail        TEXT,
        changes       TEXT NOT NULL
      );
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE INDEX audit_log_resource ON audit_log (org_id, resource_type, resource_id);
      CREATE INDEX audit_log_token ON audit_log (token_id);
      -- lifecycle events, inserted in the transaction of the change they describe; stream = one resource, whose
      -- events are delivered in seq order (its writes hold its row, so they commit in that order)
      CREATE TABLE event_outbox (
        seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id           TEXT NOT NULL,
        channel      TEXT NOT NULL DEFAULT '',
        stream       TEXT NOT NULL,
        payload      TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        lease_until  TEXT,
        delivered    TEXT,
        dead         TEXT,
        last_error   TEXT
      );
      CREATE UNIQUE INDEX event_outbox_identity ON event_outbox (id, channel);
      CREATE INDEX event_outbox_pending ON event_outbox (channel, next_attempt) WHERE delivered IS NULL AND dead IS NULL;
      CREATE INDEX event_outbox_stream ON event_outbox (stream, seq) WHERE delivered IS NULL;
      CREATE INDEX event_outbox_delivered ON event_outbox (delivered) WHERE delivered IS NOT NULL;
      -- per-token request counts per time window, so every node enforces one rate limit ("window" is a keyword)
      CREATE TABLE request_counts (
        key      TEXT NOT NULL,
        "window" BIGINT NOT NULL,
        n        BIGINT NOT NULL,
        PRIMARY KEY (key, "window")
      );
    `,
  },
  {
    version: 2,
    name: 'attribute index split into string and number tables, keyed by an index scope',
    sql: `
      -- As in SQLite's migration 8: one table for strings (and complex-value markers, as '' at the complex
      -- attribute's own path, which holds no string value) and one for numbers, booleans and dateTimes, each with
      -- two indexes instead of three over every row, and (organization, resource type) as a small integer.
      CREATE TABLE index_scopes (
        id            INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id        TEXT NOT NULL REFERENCES organizations (id),
        resource_type TEXT NOT NULL,
        UNIQUE (org_id, resource_type)
      );
      CREATE TABLE attribute_str (
        scope        INTEGER NOT NULL,
        path         TEXT NOT NULL,
        str          TEXT COLLATE "C" NOT NULL,
        str_prefix   TEXT COLLATE "C" GENERATED ALWAYS AS (left(str, 400)) STORED,
        resource_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
        ordinal      INTEGER NOT NULL
      );
      -- covering: a filter reads the matching resource keys (and elements) from the index alone
      CREATE INDEX attribute_str_value ON attribute_str (scope, path, str_prefix, resource_seq, ordinal);
      -- a resource's rows, for rewriting, deleting and sort keys
      CREATE INDEX attribute_str_resource ON attribute_str (resource_seq, path, ordinal);
      CREATE TABLE attribute_num (
        scope        INTEGER NOT NULL,
        path         TEXT NOT NULL,
        num          DOUBLE PRECISION NOT NULL,
        resource_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
        ordinal      INTEGER NOT NULL
      );
      CREATE INDEX attribute_num_value ON attribute_num (scope, path, num, resource_seq, ordinal);
      CREATE INDEX attribute_num_resource ON attribute_num (resource_seq, path, ordinal);
      INSERT INTO index_scopes (org_id, resource_type) SELECT DISTINCT org_id, resource_type FROM attribute_index;
      INSERT INTO attribute_str (scope, path, str, resource_seq, ordinal)
        SELECT s.id, a.path, coalesce(a.str, ''), a.resource_seq, a.ordinal
        FROM attribute_index a JOIN index_scopes s ON s.org_id = a.org_id AND s.resource_type = a.resource_type WHERE a.num IS NULL;
      INSERT INTO attribute_num (scope, path, num, resource_seq, ordinal)
        SELECT s.id, a.path, a.num, a.resource_seq, a.ordinal
        FROM attribute_index a JOIN index_scopes s ON s.org_id = a.org_id AND s.resource_type = a.resource_type WHERE a.num IS NOT NULL;
      DROP TABLE attribute_index;
    `,
  },
  {
    version: 3,
    name: 'index paths as small integers',
    sql: `
      -- As in SQLite's migration 9: an index row names its attribute's path by an integer of index_paths instead of
      -- repeating the text (an extension attribute's is some 75 bytes) in the row and in both of its indexes.
      CREATE TABLE index_paths (
        id   INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        path TEXT NOT NULL UNIQUE
      );
      INSERT INTO index_paths (path) SELECT path FROM attribute_str UNION SELECT path FROM attribute_num ORDER BY 1;
      CREATE TABLE attribute_str_paths (
        scope        INTEGER NOT NULL,
        path         INTEGER NOT NULL,
        str          TEXT COLLATE "C" NOT NULL,
        str_prefix   TEXT COLLATE "C" GENERATED ALWAYS AS (left(str, 400)) STORED,
        resource_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
        ordinal      INTEGER NOT NULL
      );
      INSERT INTO attribute_str_paths (scope, path, str, resource_seq, ordinal)
        SELECT a.scope, p.id, a.str, a.resource_seq, a.ordinal FROM attribute_str a JOIN index_paths p ON p.path = a.path;
      DROP TABLE attribute_str;
      ALTER TABLE attribute_str_paths RENAME TO attribute_str;
      CREATE INDEX attribute_str_value ON attribute_str (scope, path, str_prefix, resource_seq, ordinal);
      CREATE INDEX attribute_str_resource ON attribute_str (resource_seq, path, ordinal);
      CREATE TABLE attribute_num_paths (
        scope        INTEGER NOT NULL,
        path         INTEGER NOT NULL,
        num          DOUBLE PRECISION NOT NULL,
        resource_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
        ordinal      INTEGER NOT NULL
      );
      INSERT INTO attribute_num_paths (scope, path, num, resource_seq, ordinal)
        SELECT a.scope, p.id, a.num, a.resource_seq, a.ordinal FROM attribute_num a JOIN index_paths p ON p.path = a.path;
      DROP TABLE attribute_num;
      ALTER TABLE attribute_num_paths RENAME TO attribute_num;
      CREATE INDEX attribute_num_value ON attribute_num (scope, path, num, resource_seq, ordinal);
      CREATE INDEX attribute_num_resource ON attribute_num (resource_seq, path, ordinal);
    `,
  },
  {
    version: 4,
    name: 'operator tokens belong to no organization',
    sql: `
      -- As in SQLite's migration 11: admin tokens belong to one organization; a token for every organization is an
      -- operator token and belongs to none, as the admin tokens made before were in all but name.
      ALTER TABLE tokens ALTER COLUMN org_id DROP NOT NULL;
      UPDATE tokens SET scope = 'operator', org_id = NULL WHERE scope = 'admin';
      CREATE INDEX tokens_organization ON tokens (org_id);
    `,
  },
  {
    version: 5,
    name: 'the event feed',
    sql: `
      -- As in SQLite's migration 12: the events feed, an outbox channel whose delivery is a place in one sequence.
      ALTER TABLE event_outbox ADD COLUMN org_id TEXT;
      ALTER TABLE event_outbox ADD COLUMN feed_position BIGINT;
      CREATE UNIQUE INDEX event_outbox_feed_position ON event_outbox (feed_position) WHERE feed_position IS NOT NULL;
      CREATE INDEX event_outbox_feed ON event_outbox (org_id, feed_position) WHERE feed_position IS NOT NULL;
      CREATE INDEX event_outbox_organization ON event_outbox (org_id, seq);
    `,
  },
  {
    version: 6,
    name: 'console sign-in links, setup links and sessions',
    sql: `
      -- As in SQLite's migration 13: the console's sign-in links, setup links and sessions.
      CREATE TABLE console_grants (
        id         TEXT PRIMARY KEY,
        hash       TEXT NOT NULL UNIQUE,
        kind       TEXT NOT NULL,
        org_id     TEXT,
        created    TEXT NOT NULL,
        expires    TEXT NOT NULL,
        created_by TEXT NOT NULL,
        used       TEXT,
        last_seen  TEXT,
        revoked    TEXT,
        csrf       TEXT,
        link_id    TEXT
      );
      CREATE INDEX console_grants_organization ON console_grants (org_id, kind);
    `,
  },
  {
    version: 7,
    name: 'token scopes and expiry',
    sql: `
      -- As in SQLite's migration 14.
      ALTER TABLE tokens ADD COLUMN scopes TEXT;
      ALTER TABLE tokens ADD COLUMN expires TEXT;
    `,
  },
  {
    version: 8,
    name: 'trusted JWT issuers',
    sql: `
      -- As in SQLite's migration 15.
      ALTER TABLE tokens ADD COLUMN config TEXT;
    `,
  },
];
