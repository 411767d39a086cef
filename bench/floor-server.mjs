// The floor of a read: bare Fastify answering GET /scim/v2/Users/{id} from the benchmark's SQLite file with one
// better-sqlite3 statement (the user's row and its groups), the token compared as a string, the stored document
// parsed and sent with its id, meta and groups. No SCIM rules, audit, logging or rate limit. What scimd's GET costs
// beyond this is scimd's own; a GET target at or above this ratio asks for more than the stack allows on the machine.
import Fastify from 'fastify';
import Database from 'better-sqlite3';

const { PORT, DB, ORG, TOKEN } = process.env;
const db = new Database(DB, { readonly: true, fileMustExist: true });
// CROSS JOIN keeps SQLite's planner from walking every group's members first (scimd's statement does the same)
const read = db.prepare(`
  SELECT r.id, r.version, r.created, r.last_modified, r.data,
    (SELECT json_group_array(json_array(m.group_id, g.display)) FROM group_members m CROSS JOIN resources g ON g.org_id = m.org_id AND g.id = m.group_id
      WHERE m.org_id = r.org_id AND m.member_id = r.id) AS groups
  FROM resources r WHERE r.org_id = ? AND r.resource_type = 'User' AND r.id = ?`);
const bearer = `Bearer ${TOKEN}`;

const app = Fastify({ logger: false });
app.get('/healthz', async () => 'ok');
app.get('/scim/v2/Users/:id', async (req, reply) => {
  if (req.headers.authorization !== bearer) return reply.code(401).send();
  const row = read.get(ORG, req.params.id);
  if (!row) return reply.code(404).send();
  const version = `W/"${row.version}"`;
  const user = {
    ...JSON.parse(row.data),
    id: row.id,
    groups: JSON.parse(row.groups).map(([value, display]) => ({ value, display, type: 'direct' })),
    meta: { resourceType: 'User', created: row.created, lastModified: row.last_modified, version },
  };
  return reply.type('application/scim+json; charset=utf-8').header('etag', version).send(JSON.stringify(user));
});
await app.listen({ port: Number(PORT), host: '127.0.0.1' });
process.send?.('ready');
