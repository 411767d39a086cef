/**
 * Versioned schema migrations for the SQLite store. Append only: a released migration is never edited, a change is
 * a new entry. Applied in order inside one IMMEDIATE transaction, so two processes starting at once cannot both
 * apply the same step.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly name: string; readonly sql: string }[] = [
  {
    version: 1,
    name: 'organizations, secrets, tokens, resources, unique values, group members, attribute index',
    sql: `
      CREATE TABLE organizations (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL
      );
      -- server-wide secrets (e.g. the key that signs pagination cursors), shared by every process on the file
      CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
      );
      CREATE TABLE tokens (
        id        TEXT PRIMARY KEY,
        org_id    TEXT NOT NULL REFERENCES organizations(id),
        name      TEXT NOT NULL,
        dialect   TEXT NOT NULL,
        hash      TEXT NOT NULL UNIQUE,
        created   TEXT NOT NULL,
        last_used TEXT,
        revoked   TEXT
      );
      -- seq gives every resource a stable position for listing; (org_id, resource_type, id) is the identity.
      CREATE TABLE resources (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id        TEXT NOT NULL REFERENCES organizations(id),
        resource_type TEXT NOT NULL,
        id            TEXT NOT NULL,
        version       INTEGER NOT NULL,
        created       TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        display       TEXT,
        data          TEXT NOT NULL
      );
      CREATE UNIQUE INDEX resources_identity ON resources (org_id, resource_type, id);
      CREATE INDEX resources_by_id ON resources (org_id, id);
      -- rowid (seq) is the implicit last column: listing in creation order, and keyset seeks, are index ranges
      CREATE INDEX resources_listing ON resources (org_id, resource_type);
      -- uniqueness (RFC 7643 §2.2) enforced by the primary key, so concurrent creates cannot both win.
      CREATE TABLE unique_values (
        org_id        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        attribute     TEXT NOT NULL,
        value         TEXT NOT NULL,
        resource_id   TEXT NOT NULL,
        PRIMARY KEY (org_id, resource_type, attribute, value)
      ) WITHOUT ROWID;
      CREATE INDEX unique_values_resource ON unique_values (org_id, resource_id);
      -- membership is its own relation: adding one member is one row, whatever the group's size.
      CREATE TABLE group_members (
        org_id      TEXT NOT NULL,
        group_id    TEXT NOT NULL,
        member_id   TEXT NOT NULL,
        member_type TEXT NOT NULL
      );
      CREATE UNIQUE INDEX group_members_identity ON group_members (org_id, group_id, member_id);
      CREATE INDEX group_members_member ON group_members (org_id, member_id, group_id, member_type);
      -- One row per indexed value (see core/filter/index-entries.ts). str holds strings already case-folded by
      -- their attribute's rule; num holds numbers, booleans (0/1) and dateTimes (epoch ms). A complex value has a
      -- marker row with neither. Filters select resource_seq sets from the two value indexes.
      CREATE TABLE attribute_index (
        resource_seq  INTEGER NOT NULL,
        org_id        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        path          TEXT NOT NULL,
        ordinal       INTEGER NOT NULL,
        str           TEXT,
        num           REAL
      );
      -- covering: a filter reads the matching resource keys (and elements) from the index alone
      CREATE INDEX attribute_index_str ON attribute_index (org_id, resource_type, path, str, resource_seq, ordinal);
      CREATE INDEX attribute_index_num ON attribute_index (org_id, resource_type, path, num, resource_seq, ordinal);
      CREATE INDEX attribute_index_resource ON attribute_index (resource_seq, path, ordinal);
    `,
  },
  {
    version: 2,
    name: 'resource counts',
    sql: `
      -- the number of resources of each type, kept in the same transactions as the resources, so an unfiltered
      -- list answers totalResults without counting a million rows
      CREATE TABLE resource_counts (
        org_id        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        n             INTEGER NOT NULL,
        PRIMARY KEY (org_id, resource_type)
      ) WITHOUT ROWID;
      INSERT INTO resource_counts (org_id, resource_type, n)
        SELECT org_id, resource_type, count(*) FROM resources GROUP BY org_id, resource_type;
    `,
  },
  {
    version: 3,
    name: 'audit log, token scopes',
    sql: `
      -- one row per state-changing request or rejected authentication; a write's row is inserted in its transaction
      CREATE TABLE audit_log (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
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
      ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'scim';
    `,
  },
  {
    version: 4,
    name: 'event outbox',
    sql: `
      -- lifecycle events, inserted in the transaction of the change they describe; stream = one resource, whose
      -- events are delivered in seq order
      CREATE TABLE event_outbox (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT NOT NULL UNIQUE,
        stream       TEXT NOT NULL,
        payload      TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        lease_until  TEXT,
        delivered    TEXT,
        dead         TEXT,
        last_error   TEXT
      );
      CREATE INDEX event_outbox_pending ON event_outbox (next_attempt) WHERE delivered IS NULL AND dead IS NULL;
      CREATE INDEX event_outbox_stream ON event_outbox (stream, seq) WHERE delivered IS NULL;
      CREATE INDEX event_outbox_delivered ON event_outbox (delivered) WHERE delivered IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'request counts',
    sql: `
      -- per-token request counts per time window, so every process on the file enforces one rate limit
      CREATE TABLE request_counts (
        key    TEXT NOT NULL,
        window INTEGER NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (key, window)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    name: 'number index holds number rows only',
    sql: `
      -- Most index rows are strings, and every number condition is a comparison (so implies num IS NOT NULL): the
      -- number index need not hold the string rows, which saves a B-tree insert for each of them on every write.
      DROP INDEX attribute_index_num;
      CREATE INDEX attribute_index_num ON attribute_index (org_id, resource_type, path, num, resource_seq, ordinal) WHERE num IS NOT NULL;
    `,
  },
  {
    version: 7,
    name: 'event outbox channels',
    sql: `
      -- an event is delivered once per channel (a webhook endpoint), each on its own: (id, channel) is the identity
      CREATE TABLE event_outbox_new (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
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
      INSERT INTO event_outbox_new (seq, id, channel, stream, payload, attempts, next_attempt, lease_until, delivered, dead, last_error)
        SELECT seq, id, '', '|' || stream, payload, attempts, next_attempt, lease_until, delivered, dead, last_error FROM event_outbox;
      DROP TABLE event_outbox;
      ALTER TABLE event_outbox_new RENAME TO event_outbox;
      CREATE UNIQUE INDEX event_outbox_identity ON event_outbox (id, channel);
      CREATE INDEX event_outbox_pending ON event_outbox (channel, next_attempt) WHERE delivered IS NULL AND dead IS NULL;
      CREATE INDEX event_outbox_stream ON event_outbox (stream, seq) WHERE delivered IS NULL;
      CREATE INDEX event_outbox_delivered ON event_outbox (delivered) WHERE delivered IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'attribute index split into string and number tables, keyed by an index scope',
    sql: `
      -- An index row was three B-tree entries (four for a number): the table, the string index, the number index
      -- and the per-resource index, each repeating the organization's UUID and the resource type. Now a WITHOUT
      -- ROWID table keyed for the filters is its own covering index, so a row is two entries, and (organization,
      -- resource type) is a small integer, the scope (the index takes about 40% of the space it did). Strings (and
      -- complex-value markers, as '' at the complex attribute's own path, which holds no string value) go to
      -- attribute_str; numbers, booleans and dateTimes to attribute_num. Rows equal in every column (a value
      -- repeated within one element) told filters and sorting nothing more: one is kept.
      CREATE TABLE index_scopes (
        id            INTEGER PRIMARY KEY,
        org_id        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        UNIQUE (org_id, resource_type)
      );
      CREATE TABLE attribute_str (
        scope        INTEGER NOT NULL,
        path         TEXT NOT NULL,
        str          TEXT NOT NULL,
        resource_seq INTEGER NOT NULL,
        ordinal      INTEGER NOT NULL,
        PRIMARY KEY (scope, path, str, resource_seq, ordinal)
      ) WITHOUT ROWID;
      -- a resource's rows, for rewriting, deleting and sort keys
      CREATE INDEX attribute_str_resource ON attribute_str (resource_seq, path, ordinal);
      CREATE TABLE attribute_num (
        scope        INTEGER NOT NULL,
        path         TEXT NOT NULL,
        num          REAL NOT NULL,
        resource_seq INTEGER NOT NULL,
        ordinal      INTEGER NOT NULL,
        PRIMARY KEY (scope, path, num, resource_seq, ordinal)
      ) WITHOUT ROWID;
      CREATE INDEX attribute_num_resource ON attribute_num (resource_seq, path, ordinal);
      INSERT INTO index_scopes (org_id, resource_type) SELECT DISTINCT org_id, resource_type FROM attribute_index;
      INSERT OR IGNORE INTO attribute_str (scope, path, str, resource_seq, ordinal)
        SELECT s.id, a.path, coalesce(a.str, ''), a.resource_seq, a.ordinal
        FROM attribute_index a JOIN index_scopes s ON s.org_id = a.org_id AND s.resource_type = a.resource_type WHERE a.num IS NULL;
      INSERT OR IGNORE INTO attribute_num (scope, path, num, resource_seq, ordinal)
        SELECT s.id, a.path, a.num, a.resource_seq, a.ordinal
        FROM attribute_index a JOIN index_scopes s ON s.org_id = a.org_id AND s.resource_type = a.resource_type WHERE a.num IS NOT NULL;
      DROP TABLE attribute_index;
    `,
  },
  {
    version: 9,
    name: 'index paths as small integers',
    sql: `
      -- Every index row repeated its attribute's path as text (an extension attribute's is some 75 bytes, the same in
      -- every row, compared in every B-tree step); now it is an integer naming a row of index_paths. The index takes
      -- 40% less space, and a Bulk load of 100,000 users ran 10–30% faster (alternating runs on a noisy machine).
      CREATE TABLE index_paths (
        id   INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE
      );
      INSERT INTO index_paths (path) SELECT path FROM attribute_str UNION SELECT path FROM attribute_num;
      CREATE TABLE attribute_str_paths (
        scope        INTEGER NOT NULL,
        path         INTEGER NOT NULL,
        str          TEXT NOT NULL,
        resource_seq INTEGER NOT NULL,
        ordinal      INTEGER NOT NULL,
        PRIMARY KEY (scope, path, str, resource_seq, ordinal)
      ) WITHOUT ROWID;
      INSERT INTO attribute_str_paths SELECT a.scope, p.id, a.str, a.resource_seq, a.ordinal FROM attribute_str a JOIN index_paths p ON p.path = a.path;
      DROP TABLE attribute_str;
      ALTER TABLE attribute_str_paths RENAME TO attribute_str;
      CREATE INDEX attribute_str_resource ON attribute_str (resource_seq, path, ordinal);
      CREATE TABLE attribute_num_paths (
        scope        INTEGER NOT NULL,
        path         INTEGER NOT NULL,
        num          REAL NOT NULL,
        resource_seq INTEGER NOT NULL,
        ordinal      INTEGER NOT NULL,
        PRIMARY KEY (scope, path, num, resource_seq, ordinal)
      ) WITHOUT ROWID;
      INSERT INTO attribute_num_paths SELECT a.scope, p.id, a.num, a.resource_seq, a.ordinal FROM attribute_num a JOIN index_paths p ON p.path = a.path;
      DROP TABLE attribute_num;
      ALTER TABLE attribute_num_paths RENAME TO attribute_num;
      CREATE INDEX attribute_num_resource ON attribute_num (resource_seq, path, ordinal);
    `,
  },
  {
    version: 10,
    name: 'unique values keyed by integers',
    sql: `
      -- A unique value repeated the organization's UUID, the resource type and the attribute's name (an extension
      -- attribute's is some 80 characters) in both of its B-trees, and named its holder by UUID: a user's userName
      -- and one extension value took 640 bytes. Now the index scope, the attribute's name as an index_paths id (as
      -- the core names it, case kept) and the holder's seq: a fifth of the bytes, claimed in under half the time.
      CREATE TABLE unique_claims (
        scope        INTEGER NOT NULL,
        attribute    INTEGER NOT NULL,
        value        TEXT NOT NULL,
        resource_seq INTEGER NOT NULL,
        PRIMARY KEY (scope, attribute, value)
      ) WITHOUT ROWID;
      CREATE INDEX unique_claims_resource ON unique_claims (resource_seq);
      INSERT INTO index_scopes (org_id, resource_type) SELECT DISTINCT org_id, resource_type FROM unique_values WHERE true ON CONFLICT DO NOTHING;
      INSERT INTO index_paths (path) SELECT DISTINCT attribute FROM unique_values WHERE true ON CONFLICT DO NOTHING;
      INSERT INTO unique_claims (scope, attribute, value, resource_seq)
        SELECT s.id, p.id, u.value, r.seq FROM unique_values u
        JOIN index_scopes s ON s.org_id = u.org_id AND s.resource_type = u.resource_type
        JOIN index_paths p ON p.path = u.attribute
        JOIN resources r ON r.org_id = u.org_id AND r.resource_type = u.resource_type AND r.id = u.resource_id;
      DROP TABLE unique_values;
    `,
  },
  {
    version: 11,
    name: 'operator tokens belong to no organization',
    sql: `
      -- An admin token saw every organization while it was listed under one. Admin tokens now belong to one
      -- organization and see only it; a token for every organization is an operator token and belongs to none.
      -- The admin tokens made before were operator tokens in all but name, and become that.
      CREATE TABLE tokens_v11 (
        id        TEXT PRIMARY KEY,
        org_id    TEXT REFERENCES organizations(id),
        name      TEXT NOT NULL,
        dialect   TEXT NOT NULL,
        hash      TEXT NOT NULL UNIQUE,
        created   TEXT NOT NULL,
        last_used TEXT,
        revoked   TEXT,
        scope     TEXT NOT NULL DEFAULT 'scim'
      );
      INSERT INTO tokens_v11 (id, org_id, name, dialect, hash, created, last_used, revoked, scope)
        SELECT id, CASE WHEN scope = 'admin' THEN NULL ELSE org_id END, name, dialect, hash, created, last_used, revoked,
          CASE WHEN scope = 'admin' THEN 'operator' ELSE scope END
        FROM tokens;
      DROP TABLE tokens;
      ALTER TABLE tokens_v11 RENAME TO tokens;
      CREATE INDEX tokens_organization ON tokens (org_id);
    `,
  },
  {
    version: 12,
    name: 'the event feed',
    sql: `
      -- The events feed is an outbox channel whose delivery is a place in one sequence: a reader asks for the
      -- events after the place it has read, of one organization (so every row names its organization).
      ALTER TABLE event_outbox ADD COLUMN org_id TEXT;
      ALTER TABLE event_outbox ADD COLUMN feed_position INTEGER;
      CREATE UNIQUE INDEX event_outbox_feed_position ON event_outbox (feed_position) WHERE feed_position IS NOT NULL;
      CREATE INDEX event_outbox_feed ON event_outbox (org_id, feed_position) WHERE feed_position IS NOT NULL;
      CREATE INDEX event_outbox_organization ON event_outbox (org_id, seq);
    `,
  },
  {
    version: 13,
    name: 'console sign-in links, setup links and sessions',
    sql: `
      -- The console's sign-in links, setup links and sessions: secrets kept by digest, each with its organization
      -- (none: the operator's), its expiry and who made it.
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
    version: 14,
    name: 'token scopes and expiry',
    sql: `
      -- What a SCIM token may do (space-separated OAuth scopes; NULL: read and write, as every token before) and
      -- when it stops being accepted (NULL: never).
      ALTER TABLE tokens ADD COLUMN scopes TEXT;
      ALTER TABLE tokens ADD COLUMN expires TEXT;
    `,
  },
  {
    version: 15,
    name: 'trusted JWT issuers',
    sql: `
      -- A trusted JWT issuer's configuration (tokens of scope 'issuer'), as JSON.
      ALTER TABLE tokens ADD COLUMN config TEXT;
    `,
  },
];
