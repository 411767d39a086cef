/**
 * The discovery endpoints agree with enforcement: every attribute that /Schemas advertises is walked, and what its
 * characteristics claim (readOnly, required, returned never/request, types) is checked against real requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE, GROUP, STUDENT, STUDENT_BUNDLE, USER, testServer, type TestServer } from '../helpers.js';

interface Attr {
  name: string;
  type: string;
  multiValued: boolean;
  required: boolean;
  mutability: string;
  returned: string;
  uniqueness?: string;
  canonicalValues?: string[];
  subAttributes?: Attr[];
}

let s: TestServer;
let schemas: Map<string, { id: string; attributes: Attr[] }>;
let resourceTypes: { name: string; endpoint: string; schema: string; schemaExtensions: { schema: string }[] }[];
let memberId: string;
let seq = 0;

beforeAll(async () => {
  s = await testServer({ schemaFiles: [STUDENT_BUNDLE] });
  const listed = await s.request('GET', '/Schemas');
  schemas = new Map(listed.body.Resources.map((x: any) => [x.id, x]));
  resourceTypes = (await s.request('GET', '/ResourceTypes')).body.Resources;
  memberId = (await s.request('POST', '/Users', { schemas: [USER], userName: 'member' })).body.id;
});
afterAll(() => s.close());

/** A valid value for an attribute, unique per call where uniqueness matters. */
function sample(a: Attr, path: string): unknown {
  const one = (): unknown => {
    if (path === 'members') return { value: memberId, type: 'User' };
    if (path === 'members.value') return memberId;
    switch (a.type) {
      case 'string':
        return a.canonicalValues?.[0] ?? `v${++seq}`;
      case 'boolean':
        return true;
      case 'integer':
        return 7;
      case 'decimal':
        return 1.5;
      case 'dateTime':
        return '2024-01-02T03:04:05Z';
      case 'binary':
        return 'aGVsbG8=';
      case 'reference':
        return `https://example.com/r/${++seq}`;
      default: {
        const o: Record<string, unknown> = {};
        for (const sub of a.subAttributes ?? []) if (sub.mutability !== 'readOnly') o[sub.name] = sample(sub, `${path}.${sub.name}`);
        return o;
      }
    }
  };
  return a.multiValued ? [one()] : one();
}

/** The smallest valid resource of a type, with the given extension present (its required attributes filled). */
function base(rtName: string, extension?: string): Record<string, unknown> {
  const rt = resourceTypes.find((r) => r.name === rtName)!;
  const core = schemas.get(rt.schema)!;
  const out: Record<string, unknown> = { schemas: [rt.schema] };
  for (const a of core.attributes) if (a.required) out[a.name] = sample(a, a.name);
  if (extension) {
    const ext: Record<string, unknown> = {};
    const attrs = schemas.get(extension)!.attributes;
    for (const a of attrs) if (a.required) ext[a.name] = sample(a, a.name);
    // one optional attribute too, so the extension stays in use when a required one is left out
    const optional = attrs.find((a) => !a.required && a.mutability === 'readWrite' && a.type === 'string');
    if (optional) ext[optional.name] = sample(optional, optional.name);
    out[extension] = ext;
    (out.schemas as string[]).push(extension);
  }
  return out;
}

interface Case {
  rt: string;
  endpoint: string;
  schema: string;
  extension?: string;
  attr: Attr;
  sub?: Attr;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const rt of resourceTypes) {
    for (const schemaId of [rt.schema, ...rt.schemaExtensions.map((e) => e.schema)]) {
      const extension = schemaId === rt.schema ? undefined : schemaId;
      for (const attr of schemas.get(schemaId)!.attributes) {
        out.push({ rt: rt.name, endpoint: rt.endpoint, schema: schemaId, ...(extension ? { extension } : {}), attr });
        for (const sub of attr.subAttributes ?? []) out.push({ rt: rt.name, endpoint: rt.endpoint, schema: schemaId, ...(extension ? { extension } : {}), attr, sub });
      }
    }
  }
  return out;
}

/** Puts `value` at the case's attribute in a copy of `resource`. */
function withValue(c: Case, resource: Record<string, unknown>, value: unknown): Record<string, unknown> {
  const out = structuredClone(resource);
  const holder = (c.extension ? out[c.extension] : out) as Record<string, any>;
  if (!c.sub) holder[c.attr.name] = value;
  else {
    const parent = sample(c.attr, c.attr.name) as any;
    const item = c.attr.multiValued ? parent[0] : parent;
    item[c.sub.name] = value;
    holder[c.attr.name] = parent;
  }
  return out;
}

function read(c: Case, resource: any): unknown {
  const holder = c.extension ? resource[c.extension] : resource;
  const v = holder?.[c.attr.name];
  if (!c.sub) return v;
  const item = c.attr.multiValued ? v?.[0] : v;
  return item?.[c.sub.name];
}

const label = (c: Case) => `${c.rt} ${c.extension ? c.extension.split(':').pop() + ':' : ''}${c.attr.name}${c.sub ? '.' + c.sub.name : ''}`;

describe('discovery matches enforcement, attribute by attribute', () => {
  it('advertises User (with EnterpriseUser and Student) and Group, and all their schemas', () => {
    expect(resourceTypes.map((r) => r.name)).toEqual(['User', 'Group']);
    expect(resourceTypes[0]!.schemaExtensions.map((e) => e.schema)).toEqual([ENTERPRISE, STUDENT]);
    expect([...schemas.keys()]).toEqual([USER, GROUP, ENTERPRISE, STUDENT]);
    expect(cases().length).toBeGreaterThan(80);
  });

  it('every attribute: readOnly ignored on write, required required, never never returned, request only on request, others round-trip', async () => {
    const checked: string[] = [];
    for (const c of cases()) {
      const leaf = c.sub ?? c.attr;
      const resource = base(c.rt, c.extension);
      const value = sample(leaf, c.sub ? `${c.attr.name}.${c.sub.name}` : c.attr.name);
      const serverSet = ['id', 'meta', 'groups', 'members.$ref', 'members.display'];
      const key = c.sub ? `${c.attr.name}.${c.sub.name}` : c.attr.name;

      if (leaf.required && !(c.sub && c.attr.mutability === 'readOnly')) {
        const without = withValue(c, resource, undefined);
        const r = await s.request('POST', c.endpoint, without);
        expect(r.status, `${label(c)} is required`).toBe(400);
        expect(r.body.scimType).toBe('invalidValue');
      }

      const posted = withValue(c, resource, value);
      const created = await s.request('POST', c.endpoint, posted);
      expect(created.status, `${label(c)}: ${created.text}`).toBe(201);
      const fetched = await s.request('GET', `${c.endpoint}/${created.body.id}`);
      const listed = await s.request('GET', `${c.endpoint}?count=1000`);
      const inList = listed.body.Resources.find((x: any) => x.id === created.body.id);

      if (c.attr.mutability === 'readOnly' || leaf.mutability === 'readOnly') {
        if (!serverSet.includes(key)) expect(read(c, created.body), `${label(c)} is readOnly`).toBeUndefined();
        expect(JSON.stringify(read(c, created.body)) ?? '', `${label(c)} is readOnly`).not.toBe(JSON.stringify(value));
      } else if (leaf.returned === 'never' || c.attr.returned === 'never') {
        for (const r of [created.body, fetched.body, inList]) expect(read(c, r), `${label(c)} is never returned`).toBeUndefined();
        expect(created.text).not.toContain(JSON.stringify(value));
      } else if (leaf.returned === 'request' || c.attr.returned === 'request') {
        expect(read(c, fetched.body), `${label(c)} is returned on request only`).toBeUndefined();
        const path = `${c.extension ? c.extension + ':' : ''}${key}`;
        const asked = await s.request('GET', `${c.endpoint}/${created.body.id}?attributes=${encodeURIComponent(path)}`);
        expect(read(c, asked.body), `${label(c)} is returned when requested`).toEqual(value);
      } else if (key !== 'members') {
        for (const r of [created.body, fetched.body, inList]) expect(read(c, r), `${label(c)} round-trips`).toEqual(value);
      }
      await s.request('DELETE', `${c.endpoint}/${created.body.id}`);
      checked.push(label(c));
    }
    expect(checked.length).toBe(cases().length);
  });

  it('ServiceProviderConfig tells the truth about today: PATCH, filter and sort; Bulk and ETag preconditions', async () => {
    const spc = (await s.request('GET', '/ServiceProviderConfig')).body;
    expect(spc.patch.supported).toBe(true);
    const patched = await s.request('PATCH', `/Users/${memberId}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'T' }] });
    expect([patched.status, patched.body.title]).toEqual([200, 'T']);
    expect(spc.bulk.supported).toBe(true);
    const bulk = await s.request('POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [{ method: 'DELETE', path: `/Users/${memberId}`, version: 'W/"1"' }] });
    expect(bulk.body.Operations[0].status).toBe('412');
    expect(spc.filter.supported).toBe(true);
    expect((await s.request('GET', '/Users?filter=userName%20eq%20%22member%22')).body.totalResults).toBe(1);
    expect(spc.sort.supported).toBe(true);
    expect(spc.etag.supported).toBe(true);
    const stale = await s.request('PATCH', `/Users/${memberId}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'U' }] }, { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(spc.changePassword.supported).toBe(true);
    expect(spc.authenticationSchemes[0].type).toBe('oauthbearertoken');
    expect(spc.meta.location).toBe('https://scim.example.com/scim/v2/ServiceProviderConfig');
  });

  it('single schema and resource type lookups, case-insensitive, 404 when unknown', async () => {
    expect((await s.request('GET', `/Schemas/${ENTERPRISE.toUpperCase()}`)).body.id).toBe(ENTERPRISE);
    expect((await s.request('GET', '/ResourceTypes/user')).body.endpoint).toBe('/Users');
    expect((await s.request('GET', '/Schemas/urn:nope')).status).toBe(404);
    expect((await s.request('GET', '/ResourceTypes/Nope')).status).toBe(404);
  });
});
