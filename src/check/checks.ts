/**
 * The checks of `scimd check`, each resting on one RFC section: discovery, Users and Groups CRUD, projection,
 * filters (every operator, value paths), pagination (totalResults, itemsPerPage, cursors), PATCH (add, remove and
 * replace with paths, value filters and extension URNs), ETags, errors and Bulk; what Entra ID and Okta send beyond
 * the RFC (`--idp`); and, only when named, the cost of a member change in a large group (groups.scale).
 */
import { BulkRequest, filter, parseFilter, patchOp, ScimClientError, type ScimClient, type ScimResource, type ScimUser } from '../client/index.js';
import { ERROR_SCHEMA } from '../core/errors.js';
import { SCHEMA_URN } from '../core/schema/registry.js';
import { CheckFailure, expectThat, NotSupported, type Check, type CheckContext } from './run.js';

const USER = SCHEMA_URN.user;
const GROUP = SCHEMA_URN.group;
const ENTERPRISE = SCHEMA_URN.enterpriseUser;

async function newUser(ctx: CheckContext, name: string, extra: Record<string, unknown> = {}): Promise<ScimUser> {
  const { resource } = await ctx.client.users.create({ schemas: [USER], userName: `${ctx.prefix}${name}`, ...extra });
  ctx.made('Users', resource.id);
  return resource;
}

async function newGroup(ctx: CheckContext, name: string, members: readonly string[]): Promise<ScimResource> {
  const { resource } = await ctx.client.groups.create({ schemas: [GROUP], displayName: `${ctx.prefix}${name}`, members: members.map((value) => ({ value })) });
  ctx.made('Groups', resource.id);
  return resource;
}

/** The error `request` must be answered with. */
async function refusal(request: Promise<unknown>, expected: string): Promise<ScimClientError> {
  try {
    await request;
  } catch (e) {
    if (e instanceof ScimClientError) return e;
    throw e;
  }
  throw new CheckFailure(`expected ${expected}; the server accepted the request`);
}

/** DELETE answers 2xx and the resource is gone: a GET of it is then 404. */
async function deletedIsGone(ctx: CheckContext, endpoint: string, id: string): Promise<void> {
  const resources = ctx.client.resources(endpoint);
  await resources.delete(id);
  ctx.removed(endpoint, id);
  const e = await refusal(resources.get(id), '404');
  expectThat(e.status === 404, `expected 404 after DELETE, got ${e.status}`);
}

function needs(supported: boolean, feature: string): void {
  if (!supported) throw new NotSupported(`the server does not advertise ${feature} in /ServiceProviderConfig`);
}

/** A discovery endpoint's ListResponse (RFC 7644 §4: discovery lists are ListResponses). */
async function listed(client: ScimClient, endpoint: string): Promise<Record<string, any>[]> {
  const body = (await client.transport.request('GET', endpoint)).body as { Resources?: unknown };
  expectThat(Array.isArray(body?.Resources), `/${endpoint} is not a ListResponse with "Resources"`);
  return body.Resources as Record<string, any>[];
}

const names = (resources: readonly { userName?: unknown }[]) => resources.map((r) => String(r.userName)).sort();

const same = (a: readonly unknown[], b: readonly unknown[]) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The filters of `cases` (text, each and-ed with "userName sw <the prefix and `stem`>") that do not find exactly the
 * users named (by what follows the stem), each said as "filter: expected …, got …".
 */
async function misfiltered(ctx: CheckContext, stem: string, cases: readonly (readonly [string, readonly string[]])[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const [expression, expected] of cases) {
    const page = await ctx.client.users.list({ filter: parseFilter(`userName sw ${JSON.stringify(`${ctx.prefix}${stem}`)} and (${expression})`) });
    const got = names(page.Resources).map((n) => n.slice(`${ctx.prefix}${stem}`.length));
    if (!same(got, [...expected].sort())) wrong.push(`${expression}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
  }
  return wrong;
}

const emailValues = (user: ScimUser) => (user.emails ?? []).map((e) => e.value).sort();

/** The members of groups.scale's large group: "a few thousand", where whole-group rewrites show (field notes 17, 22). */
export const SCALE_MEMBERS = 2000;
/** Members added to each group in groups.scale; the median of their times is compared. */
const SCALE_SAMPLES = 5;

/** `count` users named `<prefix><stem><n>`, in Bulk requests where the server has them; their ids. */
async function manyUsers(ctx: CheckContext, stem: string, count: number): Promise<string[]> {
  const request = new BulkRequest();
  for (let n = 0; n < count; n++) request.post('Users', { schemas: [USER], userName: `${ctx.prefix}${stem}${n}` }, `u${n}`);
  const outcomes = await ctx.client.bulk(request);
  for (const o of outcomes) if (o.id !== undefined) ctx.made('Users', o.id);
  const failed = outcomes.find((o) => o.id === undefined);
  expectThat(failed === undefined, `creating ${count} users: ${failed?.status} ${failed?.error?.detail ?? ''}`);
  return outcomes.map((o) => o.id!);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const PATCH_OP = { schemas: [SCHEMA_URN.patchOp] };

export const CHECKS: readonly Check[] = [
  {
    id: 'discovery.serviceProviderConfig', title: 'GET /ServiceProviderConfig describes the features', rfc: 'RFC 7643 §5',
    async run({ client }) {
      const spc = (await client.transport.request('GET', 'ServiceProviderConfig')).body as Record<string, unknown>;
      expectThat(Array.isArray(spc.schemas) && spc.schemas.includes(SCHEMA_URN.serviceProviderConfig), `"schemas" must hold ${SCHEMA_URN.serviceProviderConfig}`);
      for (const name of ['patch', 'bulk', 'filter', 'changePassword', 'sort', 'etag']) {
        const feature = spc[name] as { supported?: unknown } | undefined;
        expectThat(typeof feature?.supported === 'boolean', `"${name}.supported" must be a boolean`);
      }
      expectThat(Array.isArray(spc.authenticationSchemes), '"authenticationSchemes" must be a list');
    },
  },
  {
    id: 'discovery.resourceTypes', title: 'GET /ResourceTypes lists User at /Users', rfc: 'RFC 7643 §6',
    async run({ client }) {
      const resourceTypes = await listed(client, 'ResourceTypes');
      expectThat(resourceTypes.some((r) => r.endpoint === '/Users' && r.schema === USER), `no resource type has endpoint "/Users" and schema ${USER}`);
    },
  },
  {
    id: 'discovery.schemas', title: 'GET /Schemas describes the User schema', rfc: 'RFC 7643 §7',
    async run({ client }) {
      const schemas = await listed(client, 'Schemas');
      const user = schemas.find((s) => s.id === USER);
      expectThat(user !== undefined, `${USER} is not among the schemas`);
      expectThat(Array.isArray(user.attributes) && user.attributes.some((a: { name?: unknown }) => a.name === 'userName'), 'the User schema has no "userName" attribute');
    },
  },
  {
    id: 'users.create', title: 'POST /Users answers 201 with the user, its id and Location', rfc: 'RFC 7644 §3.3',
    async run(ctx) {
      const answer = await ctx.client.transport.request('POST', 'Users', { body: { schemas: [USER], userName: `${ctx.prefix}create`, displayName: 'Check' } });
      const body = answer.body as ScimUser;
      if (typeof body?.id === 'string') ctx.made('Users', body.id);
      expectThat(answer.status === 201, `expected 201 Created, got ${answer.status}`);
      expectThat(typeof body.id === 'string' && body.id !== '', 'the answer has no "id"');
      expectThat(body.userName === `${ctx.prefix}create`, 'the answer does not carry the userName sent');
      expectThat(answer.headers.get('location') !== null, 'no Location header');
    },
  },
  {
    id: 'users.get', title: 'GET /Users/{id} answers the user', rfc: 'RFC 7644 §3.4.1',
    async run(ctx) {
      const made = await newUser(ctx, 'get');
      const { resource } = await ctx.client.users.get(made.id);
      expectThat(resource.id === made.id && resource.userName === made.userName, 'the user read is not the user made');
    },
  },
  {
    id: 'users.uniqueness', title: 'A second user with the same userName is 409 uniqueness', rfc: 'RFC 7644 §3.3, §3.12',
    async run(ctx) {
      await newUser(ctx, 'unique');
      const e = await refusal(newUser(ctx, 'unique'), '409 uniqueness');
      expectThat(e.status === 409 && e.scimType === 'uniqueness', `expected 409 with scimType "uniqueness", got ${e.status} ${e.scimType ?? 'without scimType'}`);
    },
  },
  {
    id: 'users.attributes', title: 'attributes and excludedAttributes shape the answer', rfc: 'RFC 7644 §3.4.2.5',
    async run(ctx) {
      const made = await newUser(ctx, 'projection', { displayName: 'Shown', title: 'Hidden' });
      const only = (await ctx.client.users.get(made.id, { attributes: ['displayName'] })).resource;
      expectThat(only.id === made.id && only.displayName === 'Shown', 'attributes=displayName left out "id" (always returned) or "displayName"');
      expectThat(only.title === undefined && only.userName === undefined, 'attributes=displayName also returned "title" or "userName"');
      const without = (await ctx.client.users.get(made.id, { excludedAttributes: ['title'] })).resource;
      expectThat(without.title === undefined && without.displayName === 'Shown', 'excludedAttributes=title returned "title", or left out "displayName"');
    },
  },
  {
    id: 'users.replace', title: 'PUT /Users/{id} replaces the user', rfc: 'RFC 7644 §3.5.1',
    async run(ctx) {
      const made = await newUser(ctx, 'replace', { displayName: 'Before' });
      const { resource } = await ctx.client.users.replace(made.id, { schemas: [USER], userName: made.userName, displayName: 'After' });
      expectThat(resource.displayName === 'After', `displayName is ${JSON.stringify(resource.displayName)} after the PUT, not "After"`);
    },
  },
  {
    id: 'users.patch.replace', title: 'PATCH replace active: false deactivates the user', rfc: 'RFC 7644 §3.5.2.3',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const made = await newUser(ctx, 'patch', { active: true });
      await ctx.client.users.patch(made.id, patchOp().replace('active', false));
      expectThat((await ctx.client.users.get(made.id)).resource.active === false, 'the user is still active');
    },
  },
  {
    id: 'users.patch.valuePath', title: 'PATCH replace emails[type eq "work"].value changes that email only', rfc: 'RFC 7644 §3.5.2.3',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const made = await newUser(ctx, 'valuepath', { emails: [{ value: 'old@work.example', type: 'work' }, { value: 'me@home.example', type: 'home' }] });
      await ctx.client.users.patch(made.id, patchOp().replace({ attribute: 'emails', filter: filter.eq('type', 'work'), subAttribute: 'value' }, 'new@work.example'));
      const emails = ((await ctx.client.users.get(made.id)).resource.emails ?? []).map((e) => `${e.type}:${e.value}`).sort();
      expectThat(JSON.stringify(emails) === JSON.stringify(['home:me@home.example', 'work:new@work.example']), `emails are ${JSON.stringify(emails)}`);
    },
  },
  {
    id: 'users.patch.add', title: 'PATCH add appends to a multi-valued attribute; a path-less add sets attributes', rfc: 'RFC 7644 §3.5.2.1',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const made = await newUser(ctx, 'patch-add', { emails: [{ value: 'one@work.example', type: 'work' }] });
      await ctx.client.users.patch(made.id, patchOp().add('emails', [{ value: 'two@home.example', type: 'home' }]).add(null, { title: 'Added' }));
      const { resource } = await ctx.client.users.get(made.id);
      expectThat(same(emailValues(resource), ['one@work.example', 'two@home.example']), `emails are ${JSON.stringify(emailValues(resource))}: add must append the value, keeping the one there`);
      expectThat(resource.title === 'Added', `title is ${JSON.stringify(resource.title)} after a path-less add of {"title": "Added"}`);
    },
  },
  {
    id: 'users.patch.remove', title: 'PATCH remove takes out an attribute, and with a value filter only the values it matches', rfc: 'RFC 7644 §3.5.2.2',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const made = await newUser(ctx, 'patch-remove', { title: 'Gone', emails: [{ value: 'me@work.example', type: 'work' }, { value: 'me@home.example', type: 'home' }] });
      await ctx.client.users.patch(made.id, patchOp().remove('title').remove({ attribute: 'emails', filter: filter.eq('type', 'home') }));
      const { resource } = await ctx.client.users.get(made.id);
      expectThat(resource.title === undefined, `title is still ${JSON.stringify(resource.title)}`);
      expectThat(same(emailValues(resource), ['me@work.example']), `emails are ${JSON.stringify(emailValues(resource))}, not only the work one`);
    },
  },
  {
    id: 'users.patch.extension', title: 'PATCH replace by a path with the enterprise extension URN sets that attribute', rfc: 'RFC 7644 §3.5.2.3, RFC 7643 §3.3',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      // the extension is the server's choice: only one it advertises for /Users is checked
      const users = (await ctx.client.discover()).resourceTypes.find((r) => r.endpoint === '/Users');
      const extensions = Array.isArray(users?.schemaExtensions) ? (users.schemaExtensions as { schema?: unknown }[]) : [];
      if (!extensions.some((e) => e.schema === ENTERPRISE)) throw new NotSupported(`the server does not advertise ${ENTERPRISE} for /Users in /ResourceTypes`);
      const made = await newUser(ctx, 'extension');
      await ctx.client.users.patch(made.id, patchOp().replace(`${ENTERPRISE}:department`, 'Checks'));
      const { resource } = await ctx.client.users.get(made.id);
      const department = (resource[ENTERPRISE] as { department?: unknown } | undefined)?.department;
      expectThat(department === 'Checks', `${ENTERPRISE}.department is ${JSON.stringify(department)}, not "Checks"`);
    },
  },
  {
    id: 'users.delete', title: 'DELETE /Users/{id} removes the user: GET is then 404', rfc: 'RFC 7644 §3.6',
    async run(ctx) {
      await deletedIsGone(ctx, 'Users', (await newUser(ctx, 'delete')).id);
    },
  },
  {
    id: 'filter.eq', title: 'filter userName eq finds exactly that user', rfc: 'RFC 7644 §3.4.2.2',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      const made = await newUser(ctx, 'eq');
      await newUser(ctx, 'eq-other');
      const page = await ctx.client.users.list({ filter: filter.eq('userName', made.userName) });
      expectThat(page.totalResults === 1 && page.Resources[0]?.id === made.id, `expected only ${made.userName}, got ${JSON.stringify(names(page.Resources))}`);
    },
  },
  {
    id: 'filter.noMatch', title: 'A filter that matches nothing is 200 with totalResults 0, not 404', rfc: 'RFC 7644 §3.4.2',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      const page = await ctx.client.users.list({ filter: filter.eq('userName', `${ctx.prefix}nobody`) });
      expectThat(page.totalResults === 0 && page.Resources.length === 0, `expected no users, got totalResults ${page.totalResults}`);
    },
  },
  {
    id: 'filter.quoted', title: 'A value with quotes and filter syntax is one value: it cannot widen the filter', rfc: 'RFC 7644 §3.4.2.2',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      const made = await newUser(ctx, 'o"hara\\x');
      const exact = await ctx.client.users.list({ filter: filter.eq('userName', made.userName) });
      expectThat(exact.totalResults === 1 && exact.Resources[0]?.id === made.id, `userName eq ${JSON.stringify(made.userName)} found ${exact.totalResults} users`);
      const hostile = await ctx.client.users.list({ filter: filter.eq('userName', `${ctx.prefix}" or userName pr or userName eq "`) });
      expectThat(hostile.totalResults === 0, `a value holding "or userName pr" matched ${hostile.totalResults} users`);
    },
  },
  {
    id: 'filter.logical', title: 'and, or and parentheses combine as the grammar says', rfc: 'RFC 7644 §3.4.2.2',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      await newUser(ctx, 'logic-a', { title: 'A' });
      await newUser(ctx, 'logic-b', { title: 'B' });
      await newUser(ctx, 'logic-c', { title: 'C' });
      const page = await ctx.client.users.list({ filter: parseFilter(`userName sw ${JSON.stringify(`${ctx.prefix}logic-`)} and (title eq "A" or title eq "C")`) });
      const got = names(page.Resources);
      expectThat(JSON.stringify(got) === JSON.stringify([`${ctx.prefix}logic-a`, `${ctx.prefix}logic-c`]), `got ${JSON.stringify(got)}`);
    },
  },
  {
    id: 'filter.operators', title: 'ne, co, sw, ew, pr, gt, ge, lt, le and not select what the RFC says', rfc: 'RFC 7644 §3.4.2.2',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      await newUser(ctx, 'op-a', { title: 'Alpha' });
      await newUser(ctx, 'op-b', { title: 'Beta' });
      await newUser(ctx, 'op-c');
      const name = (suffix: string) => JSON.stringify(`${ctx.prefix}op-${suffix}`);
      const wrong = await misfiltered(ctx, 'op-', [
        [`userName ne ${name('a')}`, ['b', 'c']],
        ['title co "et"', ['b']],
        ['title sw "Al"', ['a']],
        ['title ew "ta"', ['b']],
        ['title pr', ['a', 'b']],
        [`userName gt ${name('a')}`, ['b', 'c']],
        [`userName ge ${name('b')}`, ['b', 'c']],
        [`userName lt ${name('b')}`, ['a']],
        [`userName le ${name('b')}`, ['a', 'b']],
        ['not (title pr)', ['c']],
      ]);
      expectThat(wrong.length === 0, wrong.join('; '));
    },
  },
  {
    id: 'filter.valuePath', title: 'emails[type eq … and value ew …] matches within one value; emails.value matches any', rfc: 'RFC 7644 §3.4.2.2',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      await newUser(ctx, 'vp-a', { emails: [{ value: 'a@work.example', type: 'work' }, { value: 'a@home.example', type: 'home' }] });
      // b has a work email and an email at work.example, but not one email that is both
      await newUser(ctx, 'vp-b', { emails: [{ value: 'b@home.example', type: 'work' }, { value: 'b@work.example', type: 'home' }] });
      const wrong = await misfiltered(ctx, 'vp-', [
        ['emails[type eq "work" and value ew "@work.example"]', ['a']],
        ['emails.value eq "b@work.example"', ['b']],
      ]);
      expectThat(wrong.length === 0, wrong.join('; '));
    },
  },
  {
    id: 'sort', title: 'sortBy and sortOrder order the results', rfc: 'RFC 7644 §3.4.2.3',
    async run(ctx) {
      needs(ctx.features.sort, 'sorting');
      needs(ctx.features.filter.supported, 'filtering');
      for (const n of ['b', 'c', 'a']) await newUser(ctx, `sort-${n}`);
      const query = { filter: filter.sw('userName', `${ctx.prefix}sort-`), sortBy: 'userName' };
      const order = async (sortOrder: 'ascending' | 'descending') => (await ctx.client.users.list({ ...query, sortOrder })).Resources.map((u) => u.userName.slice(-1)).join('');
      const [up, down] = [await order('ascending'), await order('descending')];
      expectThat(up === 'abc' && down === 'cba', `ascending gave ${up}, descending ${down}`);
    },
  },
  {
    id: 'pagination.index', title: 'startIndex and count page through the results; totalResults counts them all', rfc: 'RFC 7644 §3.4.2.4',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      for (const n of [1, 2, 3]) await newUser(ctx, `index-${n}`);
      const query = { filter: filter.sw('userName', `${ctx.prefix}index-`) };
      const page = await ctx.client.users.list({ ...query, startIndex: 2, count: 1 });
      expectThat(page.totalResults === 3, `totalResults is ${page.totalResults}, not 3`);
      expectThat(page.Resources.length === 1, `count=1 answered ${page.Resources.length} resources`);
      expectThat(page.startIndex === 2, `startIndex is ${page.startIndex}, not the 2 asked for`);
      const seen: string[] = [];
      for await (const u of ctx.client.users.all({ ...query, count: 1 }, { paging: 'index' })) seen.push(u.userName);
      expectThat(new Set(seen).size === 3 && seen.length === 3, `paging by one gave ${JSON.stringify(seen)}`);
    },
  },
  {
    id: 'pagination.itemsPerPage', title: 'itemsPerPage is the number of resources the page holds, a short last page too', rfc: 'RFC 7644 §3.4.2',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      for (const n of [1, 2, 3]) await newUser(ctx, `per-page-${n}`);
      const query = { filter: filter.sw('userName', `${ctx.prefix}per-page-`), count: 2 };
      for (const startIndex of [1, 3]) {
        const page = await ctx.client.users.list({ ...query, startIndex });
        expectThat(page.itemsPerPage === page.Resources.length, `startIndex=${startIndex}&count=2 answered ${page.Resources.length} resources with itemsPerPage ${page.itemsPerPage}`);
      }
    },
  },
  {
    id: 'pagination.cursor', title: 'cursor and nextCursor page through the results', rfc: 'RFC 9865 §2',
    async run(ctx) {
      needs(ctx.features.pagination.cursor, 'cursor pagination (pagination.cursor)');
      for (const n of [1, 2, 3]) await newUser(ctx, `cursor-${n}`);
      const seen: string[] = [];
      for await (const u of ctx.client.users.all({ filter: filter.sw('userName', `${ctx.prefix}cursor-`), count: 1 }, { paging: 'cursor' })) seen.push(u.userName);
      expectThat(new Set(seen).size === 3 && seen.length === 3, `paging by one gave ${JSON.stringify(seen)}`);
    },
  },
  {
    id: 'etag.ifMatch', title: 'PUT with a stale If-Match is 412; with the current version it succeeds', rfc: 'RFC 7644 §3.14',
    async run(ctx) {
      needs(ctx.features.etag, 'ETags');
      const made = await newUser(ctx, 'etag');
      const { version } = await ctx.client.users.get(made.id);
      expectThat(version !== undefined, 'the user has neither an ETag header nor meta.version');
      const next = await ctx.client.users.replace(made.id, { schemas: [USER], userName: made.userName, displayName: 'One' }, { ifMatch: version });
      expectThat(next.version !== version, 'the version did not change with the PUT');
      const e = await refusal(ctx.client.users.replace(made.id, { schemas: [USER], userName: made.userName, displayName: 'Two' }, { ifMatch: version }), '412');
      expectThat(e.status === 412, `expected 412 Precondition Failed, got ${e.status}`);
    },
  },
  {
    id: 'etag.patchDelete', title: 'PATCH and DELETE with a stale If-Match are 412 and change nothing', rfc: 'RFC 7644 §3.14',
    async run(ctx) {
      needs(ctx.features.etag, 'ETags');
      needs(ctx.features.patch, 'PATCH');
      const made = await newUser(ctx, 'etag-patch', { displayName: 'Before' });
      const { version: stale } = await ctx.client.users.get(made.id);
      expectThat(stale !== undefined, 'the user has neither an ETag header nor meta.version');
      const { version } = await ctx.client.users.patch(made.id, patchOp().replace('displayName', 'After'), { ifMatch: stale });
      const patched = await refusal(ctx.client.users.patch(made.id, patchOp().replace('displayName', 'Lost'), { ifMatch: stale }), '412');
      expectThat(patched.status === 412, `PATCH with a stale If-Match: expected 412 Precondition Failed, got ${patched.status}`);
      const deleted = await refusal(ctx.client.users.delete(made.id, { ifMatch: stale }), '412');
      expectThat(deleted.status === 412, `DELETE with a stale If-Match: expected 412 Precondition Failed, got ${deleted.status}`);
      const now = await ctx.client.users.get(made.id);
      expectThat(now.resource.displayName === 'After', `displayName is ${JSON.stringify(now.resource.displayName)}: a refused PATCH changed the user`);
      expectThat(version === undefined || now.version === version, 'the version moved though both writes were refused');
    },
  },
  {
    id: 'errors.notFound', title: 'An unknown id is 404 with a SCIM error body', rfc: 'RFC 7644 §3.12',
    async run(ctx) {
      const e = await refusal(ctx.client.users.get(`${ctx.prefix}missing`), '404');
      expectThat(e.status === 404, `expected 404, got ${e.status}`);
      const body = e.body as { schemas?: unknown; status?: unknown };
      expectThat(Array.isArray(body?.schemas) && body.schemas.includes(ERROR_SCHEMA), `the body's "schemas" does not hold ${ERROR_SCHEMA}`);
      expectThat(body.status === '404', `the body's "status" is ${JSON.stringify(body.status)}, not "404" (a string)`);
    },
  },
  {
    id: 'errors.unauthorized', title: 'A request without credentials is 401', rfc: 'RFC 7644 §2, §3.12',
    async run(ctx) {
      const e = await refusal(ctx.anonymous.users.list({ count: 1 }), '401');
      expectThat(e.status === 401, `expected 401 Unauthorized, got ${e.status}`);
    },
  },
  {
    id: 'errors.invalidFilter', title: 'A filter that does not parse is 400 invalidFilter', rfc: 'RFC 7644 §3.4.2.2, §3.12',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      const e = await refusal(ctx.client.transport.request('GET', 'Users', { query: { filter: 'userName eq' } }), '400 invalidFilter');
      expectThat(e.status === 400 && e.scimType === 'invalidFilter', `expected 400 invalidFilter, got ${e.status} ${e.scimType ?? 'without scimType'}`);
    },
  },
  {
    id: 'errors.required', title: 'A user without userName (required) is 400 with a SCIM error body', rfc: 'RFC 7643 §4.1.1, RFC 7644 §3.12',
    async run(ctx) {
      const create = ctx.client.transport.request('POST', 'Users', { body: { schemas: [USER], displayName: `${ctx.prefix}nameless` } }).then((answer) => {
        const { id } = answer.body as { id?: unknown };
        if (typeof id === 'string') ctx.made('Users', id);
      });
      const e = await refusal(create, '400');
      // scimType is OPTIONAL (RFC 7644 §3.12); given, it is one whose meaning covers a missing required value
      const fitting = e.scimType === undefined || e.scimType === 'invalidValue' || e.scimType === 'invalidSyntax';
      expectThat(e.status === 400 && fitting, `expected 400 (invalidValue), got ${e.status} ${e.scimType ?? 'without scimType'}`);
      const body = e.body as { schemas?: unknown };
      expectThat(Array.isArray(body?.schemas) && body.schemas.includes(ERROR_SCHEMA), `the body's "schemas" does not hold ${ERROR_SCHEMA}`);
    },
  },
  {
    id: 'groups.create', title: 'POST /Groups with a member answers the group with that member', rfc: 'RFC 7643 §4.2, RFC 7644 §3.3',
    async run(ctx) {
      const member = await newUser(ctx, 'member');
      const group = await newGroup(ctx, 'group', [member.id]);
      const { resource } = await ctx.client.groups.get(group.id);
      expectThat(JSON.stringify(resource.members?.map((m) => m.value)) === JSON.stringify([member.id]), `members are ${JSON.stringify(resource.members)}`);
    },
  },
  {
    id: 'groups.patch.members', title: 'PATCH adds a member and removes one by members[value eq …]', rfc: 'RFC 7644 §3.5.2.1, §3.5.2.2',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const [a, b] = [await newUser(ctx, 'member-a'), await newUser(ctx, 'member-b')];
      const group = await newGroup(ctx, 'members', [a.id]);
      await ctx.client.groups.patch(group.id, patchOp().add('members', [{ value: b.id }]).remove({ attribute: 'members', filter: filter.eq('value', a.id) }));
      const members = (await ctx.client.groups.get(group.id)).resource.members?.map((m) => m.value) ?? [];
      expectThat(JSON.stringify(members) === JSON.stringify([b.id]), `members are ${JSON.stringify(members)}, not [${JSON.stringify(b.id)}]`);
    },
  },
  {
    id: 'groups.replace', title: 'PUT /Groups/{id} replaces the name and the members', rfc: 'RFC 7644 §3.5.1',
    async run(ctx) {
      const [a, b] = [await newUser(ctx, 'put-a'), await newUser(ctx, 'put-b')];
      const group = await newGroup(ctx, 'put', [a.id]);
      await ctx.client.groups.replace(group.id, { schemas: [GROUP], displayName: `${ctx.prefix}put-renamed`, members: [{ value: b.id }] });
      const { resource } = await ctx.client.groups.get(group.id);
      const members = resource.members?.map((m) => m.value) ?? [];
      expectThat(resource.displayName === `${ctx.prefix}put-renamed`, `displayName is ${JSON.stringify(resource.displayName)} after the PUT`);
      expectThat(same(members, [b.id]), `members are ${JSON.stringify(members)}, not [${JSON.stringify(b.id)}]`);
    },
  },
  {
    id: 'groups.excludedMembers', title: 'excludedAttributes=members leaves the members out, as Entra ID asks on every lookup', rfc: 'RFC 7644 §3.4.2.5',
    async run(ctx) {
      const group = await newGroup(ctx, 'excluded', [(await newUser(ctx, 'excluded-member')).id]);
      const one = (await ctx.client.groups.get(group.id, { excludedAttributes: ['members'] })).resource;
      expectThat(one.members === undefined && one.displayName === group.displayName, `GET /Groups/{id}?excludedAttributes=members answered members ${JSON.stringify(one.members)} or left out displayName`);
      if (!ctx.features.filter.supported) return;
      const listed = await ctx.client.groups.list({ filter: filter.eq('displayName', String(group.displayName)), excludedAttributes: ['members'] });
      expectThat(listed.totalResults === 1 && listed.Resources[0]?.members === undefined, `a filtered list with excludedAttributes=members answered ${JSON.stringify(listed.Resources)}`);
    },
  },
  {
    id: 'groups.scale', optIn: true, rfc: 'RFC 7644 §3.5.2.1',
    title: `Adding a member to a group of ${SCALE_MEMBERS} costs about what it costs in a group of one (only with --only groups.scale)`,
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const ids = await manyUsers(ctx, 'scale-', SCALE_MEMBERS + SCALE_SAMPLES);
      const [members, added] = [ids.slice(0, SCALE_MEMBERS), ids.slice(SCALE_MEMBERS)];
      const large = await newGroup(ctx, 'scale-large', members);
      const small = await newGroup(ctx, 'scale-small', members.slice(0, 1));
      const took = { large: [] as number[], small: [] as number[] };
      // interleaved, so that a pause of the machine or the server weighs on both alike
      for (const id of added) {
        took.small.push(await timed(() => ctx.client.groups.patch(small.id, patchOp().add('members', [{ value: id }]))));
        took.large.push(await timed(() => ctx.client.groups.patch(large.id, patchOp().add('members', [{ value: id }]))));
      }
      const [inLarge, inSmall] = [median(took.large), median(took.small)];
      // 4 times and 100 ms of slack: noise, not a cost in proportion to the group (which is 2,000 times)
      expectThat(inLarge <= 4 * inSmall + 100, `adding one member took ${inLarge.toFixed(0)} ms in the group of ${SCALE_MEMBERS} and ${inSmall.toFixed(0)} ms in a group of one (medians of ${SCALE_SAMPLES}): the cost grows with the group (a whole-group rewrite, or the whole group in the answer)`);
      const count = (await ctx.client.groups.get(large.id)).resource.members?.length;
      expectThat(count === SCALE_MEMBERS + SCALE_SAMPLES, `the large group has ${count} members, not ${SCALE_MEMBERS + SCALE_SAMPLES}`);
    },
  },
  {
    id: 'groups.delete', title: 'DELETE /Groups/{id} removes the group: GET is then 404', rfc: 'RFC 7644 §3.6',
    async run(ctx) {
      await deletedIsGone(ctx, 'Groups', (await newGroup(ctx, 'delete', [])).id);
    },
  },
  {
    id: 'bulk.bulkId', title: 'Bulk creates a user and a group that names it by bulkId', rfc: 'RFC 7644 §3.7',
    async run(ctx) {
      needs(ctx.features.bulk.supported, 'Bulk');
      const answer = await ctx.client.transport.request('POST', 'Bulk', { body: { schemas: [SCHEMA_URN.bulkRequest], Operations: [
        { method: 'POST', path: '/Users', bulkId: 'u', data: { schemas: [USER], userName: `${ctx.prefix}bulk` } },
        { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP], displayName: `${ctx.prefix}bulk`, members: [{ value: 'bulkId:u' }] } },
      ] } });
      const results = ((answer.body as { Operations?: unknown }).Operations ?? []) as { bulkId?: string; status?: unknown; location?: string }[];
      const idOf = (bulkId: string) => results.find((r) => r.bulkId === bulkId)?.location?.split('/').pop();
      const [user, group] = [idOf('u'), idOf('g')];
      if (user !== undefined) ctx.made('Users', user);
      if (group !== undefined) ctx.made('Groups', group);
      expectThat(results.length === 2 && results.every((r) => String(r.status) === '201'), `expected two 201s, got ${JSON.stringify(results.map((r) => r.status))}`);
      expectThat(user !== undefined && group !== undefined, 'an operation answered no location');
      const members = (await ctx.client.groups.get(group)).resource.members?.map((m) => m.value) ?? [];
      expectThat(JSON.stringify(members) === JSON.stringify([user]), `the group's members are ${JSON.stringify(members)}, not the user made`);
    },
  },
  {
    id: 'entra.patch.capitalised', idp: 'entra', title: 'PATCH with "Replace" and "active": "False", as Entra ID sends it, deactivates', rfc: 'RFC 7644 §3.5.2 (Entra ID)',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const made = await newUser(ctx, 'entra', { active: true });
      await ctx.client.transport.request('PATCH', `Users/${encodeURIComponent(made.id)}`, { body: { ...PATCH_OP, Operations: [{ op: 'Replace', path: 'active', value: 'False' }] } });
      expectThat((await ctx.client.users.get(made.id)).resource.active === false, 'the user is still active');
    },
  },
  {
    id: 'entra.members.removeByValue', idp: 'entra', title: 'PATCH "Remove" of members with a value list, as Entra ID sends it, removes that member only', rfc: 'RFC 7644 §3.5.2.2 (Entra ID)',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const [keep, drop] = [await newUser(ctx, 'entra-keep'), await newUser(ctx, 'entra-drop')];
      const group = await newGroup(ctx, 'entra-members', [keep.id, drop.id]);
      // read literally (a remove of "members" without a filter) this empties the group
      await ctx.client.transport.request('PATCH', `Groups/${encodeURIComponent(group.id)}`, { body: { ...PATCH_OP, Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: drop.id }] }] } });
      const members = (await ctx.client.groups.get(group.id)).resource.members?.map((m) => m.value) ?? [];
      expectThat(same(members, [keep.id]), `members are ${JSON.stringify(members)}, not [${JSON.stringify(keep.id)}]`);
    },
  },
  {
    id: 'entra.filter.externalId', idp: 'entra', title: 'filter externalId eq, which Entra ID looks users up by, finds the user', rfc: 'RFC 7643 §3.1, RFC 7644 §3.4.2.2 (Entra ID)',
    async run(ctx) {
      needs(ctx.features.filter.supported, 'filtering');
      const made = await newUser(ctx, 'entra-external', { externalId: `${ctx.prefix}external` });
      const page = await ctx.client.users.list({ filter: filter.eq('externalId', `${ctx.prefix}external`) });
      expectThat(page.totalResults === 1 && page.Resources[0]?.id === made.id, `externalId eq found ${JSON.stringify(names(page.Resources))}`);
    },
  },
  {
    id: 'okta.deactivate', idp: 'okta', title: 'A path-less PATCH replace of {"active": false}, as Okta sends it, deactivates', rfc: 'RFC 7644 §3.5.2.3 (Okta)',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const made = await newUser(ctx, 'okta', { active: true });
      await ctx.client.users.patch(made.id, patchOp().replace(null, { active: false }));
      expectThat((await ctx.client.users.get(made.id)).resource.active === false, 'the user is still active');
    },
  },
  {
    id: 'okta.group.rename', idp: 'okta', title: 'A path-less PATCH replace of {id, displayName}, as Okta renames a group, renames it', rfc: 'RFC 7644 §3.5.2.3 (Okta)',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const group = await newGroup(ctx, 'okta-rename', []);
      // Okta repeats the group's own (read-only) id in the value
      await ctx.client.groups.patch(group.id, patchOp().replace(null, { id: group.id, displayName: `${ctx.prefix}okta-renamed` }));
      const { resource } = await ctx.client.groups.get(group.id);
      expectThat(resource.displayName === `${ctx.prefix}okta-renamed`, `displayName is ${JSON.stringify(resource.displayName)}`);
    },
  },
  {
    id: 'okta.group.emptyPush', idp: 'okta', title: 'PATCH replace of members with [], as Okta pushes an empty group, empties it', rfc: 'RFC 7644 §3.5.2.3 (Okta)',
    async run(ctx) {
      needs(ctx.features.patch, 'PATCH');
      const group = await newGroup(ctx, 'okta-empty', [(await newUser(ctx, 'okta-member')).id]);
      await ctx.client.groups.patch(group.id, patchOp().replace('members', []));
      const members = (await ctx.client.groups.get(group.id)).resource.members ?? [];
      expectThat(members.length === 0, `members are ${JSON.stringify(members.map((m) => m.value))} after replacing them with []`);
    },
  },
];
