/**
 * Bulk (RFC 7644 §3.7). Each operation runs through the same core operation a single request would, and is atomic on
 * its own: a failed one leaves nothing behind and the others go on (up to `failOnErrors`). An operation naming
 * `bulkId:x` waits until the POST defining x has run, wherever it stands in the request; when references form a
 * cycle (§3.7.1), one resource is created without them and given them once the others exist. Runs of ready POSTs
 * to one endpoint are written in one store transaction, which is what makes a bulk load fast; runs of ready PATCHes
 * that only change the members of different resources go at once, and share a commit.
 */
import { ScimError, scimErrors } from './errors.js';
import { MAX_DEPTH, shown } from './json.js';
import { SCHEMA_URN } from './schema/registry.js';
import type { Preconditions } from './etag.js';
import type { Attributes } from './model.js';

export interface BulkLimits {
  readonly maxOperations: number;
  readonly maxPayloadSize: number;
}

export interface Created {
  readonly id: string;
  readonly location: string;
  readonly etag: string;
}

/** The core operations Bulk is made of (createScim's, bound to the caller). */
export interface BulkTarget {
  createMany(endpoint: string, bodies: readonly unknown[], options: { stopAfterErrors?: number }): Promise<(Created | ScimError)[]>;
  replace(endpoint: string, id: string, body: unknown, conditions: Preconditions): Promise<{ location: string; etag: string }>;
  patch(endpoint: string, id: string, body: unknown, conditions: Preconditions): Promise<{ location: string; etag: string }>;
  delete(endpoint: string, id: string, conditions: Preconditions): Promise<void>;
  /**
   * Whether a PATCH body only adds or removes members: such PATCHes to different resources commute (nothing they
   * check or write depends on another's), so a run of them is sent together and shares one commit.
   */
  changesOnlyMembers(endpoint: string, body: unknown): boolean;
  /** The URL of a resource at an endpoint, when the endpoint exists. */
  location(endpoint: string, id: string): string | undefined;
}

export interface BulkOperationResult {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string;
  response?: ReturnType<ScimError['toJSON']>;
}

export interface BulkResponse {
  readonly schemas: [typeof SCHEMA_URN.bulkResponse];
  readonly Operations: BulkOperationResult[];
}

type Method = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface BulkOperation {
  readonly index: number;
  readonly method: Method;
  readonly bulkId?: string;
  /** The If-Match of this operation (RFC 7644 §3.7: `version`). */
  readonly version?: string;
  readonly endpoint: string;
  /** PUT, PATCH, DELETE: the resource's id, or `bulkId:x`. */
  readonly id?: string;
  readonly data?: unknown;
  /** The bulkIds this operation names, in its path or anywhere in its data. */
  readonly refs: ReadonlySet<string>;
  /** A malformed operation fails in its turn, as any other failure does. */
  readonly invalid?: ScimError;
}

interface BulkRequest {
  readonly failOnErrors: number;
  readonly operations: readonly BulkOperation[];
}

export const BULK_ID = 'bulkId:';
const METHODS: readonly Method[] = ['POST', 'PUT', 'PATCH', 'DELETE'];

function member(o: Attributes, name: string): unknown {
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : o[key];
}

/**
 * Every bulkId named by a string value anywhere in a JSON value, walked without recursion; undefined when it nests
 * deeper than MAX_DEPTH (the data then fails alone, and `resolved` and `withoutUnresolved` below, which recurse,
 * only ever see data within it).
 */
export function bulkIdsIn(value: unknown): Set<string> | undefined {
  const into = new Set<string>();
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.startsWith(BULK_ID)) into.add(v.slice(BULK_ID.length));
    } else if (typeof v === 'object' && v !== null) {
      if (depth === MAX_DEPTH) return undefined;
      // last first, so that the ids are met in the order they are written
      const members: unknown[] = Array.isArray(v) ? v : Object.values(v);
      for (let i = members.length - 1; i >= 0; i--) stack.push([members[i], depth + 1]);
    }
  }
  return into;
}

/** The value with every `bulkId:x` replaced by x's id. */
export function resolved(value: unknown, ids: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return value.startsWith(BULK_ID) ? (ids.get(value.slice(BULK_ID.length)) ?? value) : value;
  if (Array.isArray(value)) return value.map((v) => resolved(v, ids));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolved(v, ids)]));
  return value;
}

const DROPPED = Symbol('dropped');

/**
 * The data without what names an unresolved bulkId: a value naming one goes, and so does the array element or
 * attribute holding it (a member `{type, value: "bulkId:x"}` goes whole), except the resource itself.
 */
function withoutUnresolved(data: Attributes, unresolved: (bulkId: string) => boolean): Attributes {
  const strip = (value: unknown): unknown => {
    if (typeof value === 'string') return value.startsWith(BULK_ID) && unresolved(value.slice(BULK_ID.length)) ? DROPPED : value;
    if (Array.isArray(value)) return value.map(strip).filter((v) => v !== DROPPED);
    if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value).map(([k, v]) => [k, strip(v)] as const);
      return entries.some(([, v]) => v === DROPPED) ? DROPPED : Object.fromEntries(entries);
    }
    return value;
  };
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, strip(v)] as const).filter(([, v]) => v !== DROPPED));
}

export function parseBulkRequest(body: unknown, limits: BulkLimits): BulkRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw scimErrors.invalidSyntax(`A Bulk body must be a BulkRequest object ("schemas": ["${SCHEMA_URN.bulkRequest}"], "Operations": [...]).`);
  }
  const o = body as Attributes;
  const schemas = member(o, 'schemas');
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SCHEMA_URN.bulkRequest.toLowerCase())) {
    throw scimErrors.invalidSyntax(`"schemas" of a Bulk request must include "${SCHEMA_URN.bulkRequest}".`);
  }
  const raw = member(o, 'Operations');
  if (!Array.isArray(raw)) throw scimErrors.invalidSyntax('"Operations" must be an array of bulk operations.');
  if (raw.length > limits.maxOperations) {
    throw scimErrors.tooLarge(`The bulk request has ${raw.length} operations; maxOperations is ${limits.maxOperations} (ServiceProviderConfig).`);
  }
  const fail = member(o, 'failOnErrors');
  if (fail !== undefined && fail !== null && !(Number.isInteger(fail) && (fail as number) >= 1)) {
    throw scimErrors.invalidValue(`"failOnErrors" must be an integer of at least 1; got ${shown(fail)}.`);
  }
  const operations = raw.map((op, index) => parseOperation(op, index));
  const definedAt = new Map<string, number>();
  for (const op of operations) {
    if (op.method !== 'POST' || op.bulkId === undefined) continue;
    const earlier = definedAt.get(op.bulkId);
    if (earlier !== undefined) throw scimErrors.invalidValue(`bulkId "${op.bulkId}" is used by Operations[${earlier}] and Operations[${op.index}]; each POST needs its own.`);
    definedAt.set(op.bulkId, op.index);
  }
  return { failOnErrors: typeof fail === 'number' ? fail : Infinity, operations };
}

function parseOperation(raw: unknown, index: number): BulkOperation {
  const at = `Operations[${index}]`;
  const failed = (method: Method | string, e: ScimError, bulkId?: unknown): BulkOperation => ({
    index, method: method as Method, endpoint: '', refs: new Set(), invalid: e, ...(typeof bulkId === 'string' ? { bulkId } : {}),
  });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return failed('', scimErrors.invalidSyntax(`${at} must be an object.`));
  const o = raw as Attributes;
  const given = member(o, 'method');
  const method = typeof given === 'string' ? (given.toUpperCase() as Method) : undefined;
  const bulkId = member(o, 'bulkId');
  if (!method || !METHODS.includes(method)) {
    return failed(typeof given === 'string' ? given : '', scimErrors.invalidSyntax(`${at}.method must be POST, PUT, PATCH or DELETE; got ${shown(given)}.`), bulkId);
  }
  if (bulkId !== undefined && (typeof bulkId !== 'string' || bulkId === '')) {
    return failed(method, scimErrors.invalidSyntax(`${at}.bulkId must be a non-empty string.`));
  }
  const version = member(o, 'version');
  if (version !== undefined && typeof version !== 'string') return failed(method, scimErrors.invalidSyntax(`${at}.version must be an ETag string.`), bulkId);
  const path = member(o, 'path');
  const segments = typeof path === 'string' ? path.replace(/^\/+/, '').split('/') : [];
  const wanted = method === 'POST' ? 1 : 2;
  if (segments.length !== wanted || segments.some((s) => s === '')) {
    const shape = method === 'POST' ? 'a resource endpoint such as "/Users"' : 'one resource such as "/Users/2819c223-…"';
    return failed(method, scimErrors.invalidSyntax(`${at}.path must name ${shape}; got ${shown(path)}.`), bulkId);
  }
  let data = member(o, 'data');
  // RFC 7644 §3.7.3's own example sends a PATCH's operations as a bare array: read it as the PatchOp it stands for
  if (method === 'PATCH' && Array.isArray(data)) data = { schemas: [SCHEMA_URN.patchOp], Operations: data };
  if (method !== 'DELETE' && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    return failed(method, scimErrors.invalidSyntax(`${at}.data must be the ${method === 'PATCH' ? 'PatchOp' : 'resource'} object.`), bulkId);
  }
  const id = segments[1];
  const refs = bulkIdsIn(data);
  if (!refs) return failed(method, scimErrors.invalidSyntax(`${at}.data nests deeper than ${MAX_DEPTH} levels; no SCIM resource or PatchOp does.`), bulkId);
  if (id?.startsWith(BULK_ID)) refs.add(id.slice(BULK_ID.length));
  return {
    index, method, endpoint: segments[0]!, refs,
    ...(typeof bulkId === 'string' ? { bulkId } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(id !== undefined ? { id } : {}),
    ...(method !== 'DELETE' ? { data } : {}),
  };
}

export async function runBulk(target: BulkTarget, body: unknown, limits: BulkLimits): Promise<BulkResponse> {
  const request = parseBulkRequest(body, limits);
  const defined = new Set(request.operations.flatMap((op) => (op.method === 'POST' && op.bulkId !== undefined && !op.invalid ? [op.bulkId] : [])));
  const ids = new Map<string, string>();
  const failedIds = new Set<string>();
  const results: (BulkOperationResult | undefined)[] = [];
  let errors = 0;
  /** POSTs created without their cyclic references, still to be completed. */
  const completions: { op: BulkOperation; id: string }[] = [];

  const settle = (op: BulkOperation, outcome: { location?: string; etag?: string } | ScimError) => {
    const head: BulkOperationResult = { method: op.method, status: '', ...(op.bulkId !== undefined ? { bulkId: op.bulkId } : {}) };
    if (outcome instanceof ScimError) {
      errors++;
      if (op.method === 'POST' && op.bulkId !== undefined) failedIds.add(op.bulkId);
      const location = outcome.status !== 404 && op.id !== undefined ? target.location(op.endpoint, resolvedId(op)) : undefined;
      results[op.index] = { ...head, ...(location ? { location } : {}), status: String(outcome.status), response: outcome.toJSON() };
      return;
    }
    results[op.index] = {
      ...head,
      ...(outcome.location ? { location: outcome.location } : {}),
      ...(outcome.etag ? { version: outcome.etag } : {}),
      status: { POST: '201', PUT: '200', PATCH: '200', DELETE: '204' }[op.method],
    };
  };
  /** The operation's data with its bulkId references replaced (most name none: they are passed as they are). */
  const dataOf = (op: BulkOperation) => (op.refs.size === 0 ? op.data : resolved(op.data, ids));
  const resolvedId = (op: BulkOperation) => (op.id?.startsWith(BULK_ID) ? (ids.get(op.id.slice(BULK_ID.length)) ?? op.id) : op.id!);
  const decided = (ref: string) => ids.has(ref) || failedIds.has(ref) || !defined.has(ref);
  /** Why an operation cannot run: a reference to a bulkId no POST defines, or whose POST failed. */
  const blocked = (op: BulkOperation): ScimError | undefined => {
    for (const ref of op.refs) {
      if (!defined.has(ref)) return scimErrors.invalidValue(`"bulkId:${ref}" names no POST of this request.`);
      if (failedIds.has(ref)) return scimErrors.conflict(`"bulkId:${ref}" names a POST of this request that failed.`);
    }
    return undefined;
  };
  const conditions = (op: BulkOperation): Preconditions => (op.version !== undefined ? { ifMatch: op.version } : {});
  /** Runs one operation; a ScimError is its outcome, anything else is a fault of the server and propagates. */
  const attempt = async (op: BulkOperation, run: () => Promise<{ location?: string; etag?: string }>) => {
    try {
      settle(op, await run());
    } catch (e) {
      if (!(e instanceof ScimError)) throw e;
      settle(op, e);
    }
  };

  let pending = [...request.operations];
  while (pending.length > 0 && errors < request.failOnErrors) {
    const at = pending.findIndex((op) => [...op.refs].every(decided));
    if (at === -1) {
      // Every operation left waits for another: a cycle of POSTs (§3.7.1). Create the first without what it waits for.
      const op = pending.find((p) => p.method === 'POST')!;
      pending = pending.filter((p) => p !== op);
      const data = withoutUnresolved(resolved(op.data, ids) as Attributes, (ref) => !ids.has(ref));
      const [outcome] = await target.createMany(op.endpoint, [data], {});
      if (!(outcome instanceof ScimError)) {
        ids.set(op.bulkId!, outcome!.id);
        completions.push({ op, id: outcome!.id });
      }
      settle(op, outcome!);
      continue;
    }
    const op = pending[at]!;
    const why = op.invalid ?? blocked(op);
    if (why) {
      pending.splice(at, 1);
      settle(op, why);
      continue;
    }
    if (op.method === 'POST') {
      // this POST and the ready POSTs to the same endpoint right after it, none naming a bulkId of the run
      const run = [op];
      const inRun = new Set(op.bulkId !== undefined ? [op.bulkId] : []);
      for (let j = at + 1; j < pending.length; j++) {
        const next = pending[j]!;
        if (next.method !== 'POST' || next.invalid || next.endpoint !== op.endpoint) break;
        if (![...next.refs].every((r) => decided(r) && !inRun.has(r)) || blocked(next)) break;
        run.push(next);
        if (next.bulkId !== undefined) inRun.add(next.bulkId);
      }
      pending.splice(at, run.length);
      const allowed = request.failOnErrors - errors;
      let outcomes: (Created | ScimError)[];
      try {
        outcomes = await target.createMany(op.endpoint, run.map(dataOf), Number.isFinite(allowed) ? { stopAfterErrors: allowed } : {});
      } catch (e) {
        if (!(e instanceof ScimError)) throw e;
        outcomes = run.slice(0, allowed).map(() => e); // the endpoint itself is wrong: each of them fails
      }
      outcomes.forEach((outcome, i) => {
        const p = run[i]!;
        if (!(outcome instanceof ScimError) && p.bulkId !== undefined) ids.set(p.bulkId, outcome.id);
        settle(p, outcome);
      });
      continue;
    }
    if (op.method === 'PATCH' && op.version === undefined && target.changesOnlyMembers(op.endpoint, dataOf(op))) {
      // this PATCH and the ready member-only PATCHes right after it, each to another resource (at most as many as
      // may still fail, so failOnErrors stops the run where one at a time would)
      const run = [op];
      const targets = new Set([`${op.endpoint} ${resolvedId(op)}`]);
      for (let j = at + 1; j < pending.length && run.length < request.failOnErrors - errors; j++) {
        const next = pending[j]!;
        if (next.method !== 'PATCH' || next.invalid || next.version !== undefined || blocked(next) || ![...next.refs].every(decided)) break;
        const key = `${next.endpoint} ${resolvedId(next)}`;
        if (targets.has(key) || !target.changesOnlyMembers(next.endpoint, dataOf(next))) break;
        run.push(next);
        targets.add(key);
      }
      pending.splice(at, run.length);
      const faults = (await Promise.allSettled(run.map((p) => attempt(p, () => target.patch(p.endpoint, resolvedId(p), dataOf(p), {})))))
        .flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (faults.length > 0) throw faults[0];
      continue;
    }
    pending.splice(at, 1);
    const id = resolvedId(op);
    if (op.method === 'PUT') await attempt(op, () => target.replace(op.endpoint, id, dataOf(op), conditions(op)));
    else if (op.method === 'PATCH') await attempt(op, () => target.patch(op.endpoint, id, dataOf(op), conditions(op)));
    else {
      await attempt(op, async () => {
        await target.delete(op.endpoint, id, conditions(op));
        return { location: target.location(op.endpoint, id)! };
      });
    }
  }

  // Give the resources created to break a cycle what they waited for; one that cannot have it is removed again.
  for (const { op, id } of completions) {
    const missing = [...op.refs].find((ref) => !ids.has(ref));
    try {
      if (missing !== undefined) throw scimErrors.conflict(`"bulkId:${missing}" names a POST of this request that failed or did not run.`);
      const done = await target.replace(op.endpoint, id, dataOf(op), {});
      results[op.index] = { ...results[op.index]!, version: done.etag };
    } catch (e) {
      if (!(e instanceof ScimError)) throw e;
      await target.delete(op.endpoint, id, {}).catch((d: unknown) => {
        if (!(d instanceof ScimError)) throw d;
      });
      settle(op, e);
    }
  }
  return { schemas: [SCHEMA_URN.bulkResponse], Operations: results.filter((r): r is BulkOperationResult => r !== undefined) };
}
