// The baseline of every benchmark figure: bare Fastify answering a canned one-user ListResponse, with no SCIM,
// database or auth work. Each scimd figure is reported as a ratio to this, measured on the same machine in the
// same run, because absolute numbers on shared machines are noise.
import Fastify from 'fastify';

const body = JSON.stringify({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
  totalResults: 1,
  itemsPerPage: 1,
  startIndex: 1,
  Resources: [{ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: '2819c223-7f76-453a-919d-413861904646', userName: 'bjensen@example.com', meta: { resourceType: 'User', version: 'W/"1"' } }],
});
const app = Fastify({ logger: false });
app.get('/*', async (_req, reply) => reply.type('application/scim+json; charset=utf-8').send(body));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.send?.('ready');
