/**
 * Carries out a plan on the target: through Bulk when the target offers it (chunked to its maxOperations and
 * maxPayloadSize by the client's Bulk runner), else as single requests, a few at once. Users first, then what needs
 * their ids (groups and their members, managers the run created). Every request waits for the rate limit; once the
 * signal is aborted no new request is sent, those under way are finished, and what was not sent is counted pending.
 */
import { ScimError } from '../core/errors.js';
import { BULK_ID, bulkIdsIn, resolved } from '../core/bulk.js';
import { ScimClientError, ScimTransportError, type ScimClient } from '../client/index.js';
import { bulkBody, bulkOutcomes, runChunked, type BulkOperation, type BulkOutcome } from '../client/bulk.js';
import { ENTERPRISE_URN, GROUP_URN } from './model.js';
import type { Action, Change, PatchOperation, Plan, ResourceKind } from './plan.js';

/** Members added by one PATCH operation, and members removed by one PATCH: bodies any server accepts. */
const ADD_CHUNK = 500;
const REMOVE_CHUNK = 100;
const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface ApplyOptions {
  /** Use Bulk when the target offers it (default true); false sends single requests. */
  readonly bulk?: boolean;
  /** Requests at once: 8 single requests by default, 2 Bulk requests (the server runs one while it reads the next). */
  readonly concurrency?: number;
  /** Most requests a second that apply sends (a Bulk request counts one); to count reads too, give the client a fetch that waits (see the CLI). */
  readonly rps?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly failed: number;
}

export interface Failure {
  readonly type: ResourceKind;
  readonly key: string;
  readonly action: Action;
  /** The server's answer; absent when there was none (the connection failed). */
  readonly status?: number;
  readonly scimType?: string;
  readonly detail: string;
}

export interface Counts {
  created: number;
  updated: number;
  deactivated: number;
  deleted: number;
  unchanged: number;
  failed: number;
  /** Not attempted, or not finished: the run was stopped first. */
  pending: number;
}

export interface Applied {
  readonly users: Counts;
  readonly groups: Counts;
  readonly failures: readonly Failure[];
  readonly interrupted: boolean;
  readonly bulk: boolean;
  readonly requests: number;
  /** Seconds from the first change sent to the last answered: the rate of the changes themselves. */
  readonly seconds: number;
}

export interface Step {
  readonly change: Change;
  readonly op: BulkOperation;
}

export const emptyCounts = (): Counts => ({ created: 0, updated: 0, deactivated: 0, deleted: 0, unchanged: 0, failed: 0, pending: 0 });

const patchBody = (operations: readonly PatchOperation[]) => ({ schemas: [PATCH_URN], Operations: operations });
const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * The users' own changes: POST, PATCH of what differs, deactivation, DELETE. A user whose manager the run creates too
 * is POSTed after the manager, naming it by bulkId (resolved by the server within a Bulk request, and by the client
 * between requests), so no second request sets the manager; only a cycle of managers is left to `laterSteps`.
 */
export function userSteps(plan: Plan): { steps: Step[]; inlined: Set<Change> } {
  const creates = plan.changes.filter((c) => c.type === 'User' && c.action === 'create');
  const byKey = new Map(creates.map((c) => [c.key, c]));
  const bulkIds = new Map(creates.map((c, n) => [c, `user${n}`]));
  const ordered: Step[] = [];
  const inlined = new Set<Change>();
  const state = new Map<Change, 'visiting' | 'placed'>();
  const place = (change: Change): void => {
    if (state.has(change)) return;
    state.set(change, 'visiting');
    const manager = change.manager === undefined ? undefined : byKey.get(change.manager);
    if (manager !== undefined) place(manager);
    let body = change.body;
    // a manager still "visiting" is a cycle: that one is set afterwards
    if (manager !== undefined && state.get(manager) === 'placed') {
      body = { ...body, [ENTERPRISE_URN]: { ...(body?.[ENTERPRISE_URN] as object | undefined), manager: { value: `${BULK_ID}${bulkIds.get(manager)}` } } };
      inlined.add(change);
    }
    ordered.push({ change, op: { method: 'POST', path: '/Users', bulkId: bulkIds.get(change)!, data: body } });
    state.set(change, 'placed');
  };
  for (const c of creates) place(c);
  const others = plan.changes.filter((c) => c.type === 'User' && c.action !== 'create').flatMap((change): Step[] => {
    const path = `/Users/${encodeURIComponent(change.id ?? '')}`;
    if (change.action === 'delete') return [{ change, op: { method: 'DELETE', path } }];
    return change.operations?.length ? [{ change, op: { method: 'PATCH', path, data: patchBody(change.operations) } }] : [];
  });
  return { steps: [...ordered, ...others], inlined };
}

/**
 * What needs the ids of the users the run created: managers not set by userSteps, groups (created with their first members, the
 * rest added by PATCH) and member changes. `createdId` gives such a user's id by key (undefined when its create
 * failed: it is left out).
 */
export function laterSteps(plan: Plan, createdId: (key: string) => string | undefined, inlined: ReadonlySet<Change> = new Set()): Step[] {
  const steps: Step[] = [];
  // the groups' POSTs go before every PATCH, so that a server creates them together (one Bulk run of POSTs)
  const posts: Step[] = [];
  for (const change of plan.changes) {
    if (change.type === 'User') {
      if (change.manager === undefined || inlined.has(change)) continue;
      const id = change.id ?? createdId(change.key);
      const manager = createdId(change.manager);
      if (id === undefined || manager === undefined) continue;
      steps.push({ change, op: { method: 'PATCH', path: `/Users/${encodeURIComponent(id)}`, data: patchBody([{ op: 'replace', path: `${ENTERPRISE_URN}:manager`, value: { value: manager } }]) } });
      continue;
    }
    const added = (change.addMembers ?? []).map((m) => m.id ?? createdId(m.key)).filter((id): id is string => id !== undefined).map((value) => ({ value }));
    const adds = chunks(added, ADD_CHUNK);
    if (change.action === 'create') {
      const bulkId = `group${posts.length}`;
      const [first = [], ...rest] = adds;
      posts.push({ change, op: { method: 'POST', path: '/Groups', bulkId, data: { schemas: [GROUP_URN], ...change.body, ...(first.length > 0 ? { members: first } : {}) } } });
      for (const more of rest) steps.push({ change, op: { method: 'PATCH', path: `/Groups/${BULK_ID}${bulkId}`, data: patchBody([{ op: 'add', path: 'members', value: more }]) } });
      continue;
    }
    const path = `/Groups/${encodeURIComponent(change.id ?? '')}`;
    if (change.action === 'delete') {
      steps.push({ change, op: { method: 'DELETE', path } });
      continue;
    }
    // one member a remove operation, by a value filter: a value list on "remove members" wipes groups on some servers
    const removes = chunks((change.removeMembers ?? []).map((id): PatchOperation => ({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` })), REMOVE_CHUNK);
    const bodies: PatchOperation[][] = [
      ...(change.operations?.length ? [[...change.operations]] : []),
      ...adds.map((value): PatchOperation[] => [{ op: 'add', path: 'members', value }]),
      ...removes,
    ];
    for (const operations of bodies) steps.push({ change, op: { method: 'PATCH', path, data: patchBody(operations) } });
  }
  return [...posts, ...steps];
}

/** The data without a manager that names a POST by a bulkId `failed` says failed (or was never sent). */
function withoutFailedManager(data: unknown, failed: (bulkId: string) => boolean): unknown {
  const ext = (data as Record<string, unknown>)[ENTERPRISE_URN] as Record<string, unknown> | undefined;
  const value = (ext?.manager as { value?: unknown } | undefined)?.value;
  if (typeof value !== 'string' || !value.startsWith(BULK_ID) || !failed(value.slice(BULK_ID.length))) return data;
  const { manager: _, ...rest } = ext!;
  return { ...(data as object), [ENTERPRISE_URN]: rest };
}

/** At most `rps` request starts a second, spread evenly: a function to await before each. */
export function rateLimiter(rps: number | undefined): () => Promise<void> {
  if (rps === undefined || !(rps > 0)) return async () => {};
  const interval = 1000 / rps;
  let next = 0;
  return async () => {
    const now = performance.now();
    const at = Math.max(now, next);
    next = at + interval;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  };
}

/** The SCIM error of a failed request (status, scimType, detail); what is not a request's failure is thrown on. */
export function failureOf(e: unknown): { status?: number; scimType?: string; detail: string } {
  if (e instanceof ScimClientError) return { status: e.status, ...(e.scimType ? { scimType: e.scimType } : {}), detail: e.detail || e.message };
  if (e instanceof ScimError) return { status: e.status, ...(e.scimType ? { scimType: e.scimType } : {}), detail: e.detail };
  if (e instanceof ScimTransportError) return { detail: e.message };
  throw e;
}

const COUNTED: Readonly<Record<Action, keyof Counts>> = { create: 'created', update: 'updated', deactivate: 'deactivated', delete: 'deleted' };

/** The counts of a plan carried out: a change with a failed request failed; one not wholly sent is pending. */
export function tally(plan: Plan, failed: ReadonlyMap<Change, Failure>, unfinished: ReadonlySet<Change>): { users: Counts; groups: Counts; failures: Failure[] } {
  const users = { ...emptyCounts(), unchanged: plan.unchanged.users };
  const groups = { ...emptyCounts(), unchanged: plan.unchanged.groups };
  for (const c of plan.conflicts) (c.type === 'User' ? users : groups).failed++;
  for (const change of plan.changes) {
    const counts = change.type === 'User' ? users : groups;
    if (failed.has(change)) counts.failed++;
    else if (unfinished.has(change)) counts.pending++;
    else counts[COUNTED[change.action]]++;
  }
  const failures: Failure[] = [
    ...plan.conflicts.map((c): Failure => ({ type: c.type, key: c.key, action: 'update', detail: c.detail })),
    ...failed.values(),
  ];
  return { users, groups, failures };
}

export async function apply(client: ScimClient, plan: Plan, options: ApplyOptions = {}): Promise<Applied> {
  const { features } = await client.discover();
  const useBulk = (options.bulk ?? true) && features.bulk.supported;
  const limit = rateLimiter(options.rps);
  const signal = options.signal;
  const failed = new Map<Change, Failure>();
  /** The steps of each change not yet answered; a change with none left is done. */
  const open = new Map<Change, number>();
  const createdUsers = new Map<string, string>();
  /** The id each POST of the run got, by its bulkId. */
  const createdIds = new Map<string, string>();
  let requests = 0;
  let done = 0;
  const { steps: phase1, inlined } = userSteps(plan);
  // the later steps counted as though every create succeeds: the total progress is measured against
  let total = phase1.length + laterSteps(plan, (k) => k, inlined).length;
  const progress = () => options.onProgress?.({ done, total, failed: failed.size });
  // a change is unfinished until every step it has is answered (a user's manager step comes in the second phase)
  const unfinished = new Set(plan.changes);
  const expect = (steps: Step[]) => {
    for (const s of steps) {
      open.set(s.change, (open.get(s.change) ?? 0) + 1);
      unfinished.add(s.change);
    }
  };

  const record = (step: Step, outcome: { id?: string; error?: unknown }) => {
    done++;
    const left = (open.get(step.change) ?? 1) - 1;
    open.set(step.change, left);
    if (left === 0) unfinished.delete(step.change);
    if (outcome.error !== undefined) {
      if (!failed.has(step.change)) failed.set(step.change, { type: step.change.type, key: step.change.key, action: step.change.action, ...failureOf(outcome.error) });
      return;
    }
    if (step.op.method === 'POST' && outcome.id !== undefined) {
      if (step.op.bulkId !== undefined) createdIds.set(step.op.bulkId, outcome.id);
      if (step.change.type === 'User') createdUsers.set(step.change.key, outcome.id);
    }
  };

  const viaBulk = async (steps: Step[]) => {
    await runChunked(steps.map((s) => s.op), features.bulk, { concurrency: options.concurrency ?? 2 }, async (operations, _, start) => {
      if (signal?.aborted) return [];
      await limit();
      requests++;
      // a reference left unresolved names a POST of an earlier request that failed: the user is made without it
      const here = new Set(operations.flatMap((o) => (o.method === 'POST' && o.bulkId !== undefined ? [o.bulkId] : [])));
      const sendable = operations.map((o) => (o.data === undefined ? o : { ...o, data: withoutFailedManager(o.data, (ref) => !here.has(ref)) }));
      let outcomes: BulkOutcome[];
      try {
        const answer = await client.transport.request('POST', 'Bulk', { body: bulkBody(sendable, undefined) });
        outcomes = bulkOutcomes(operations, answer.body, client.transport.url('Bulk'));
      } catch (e) {
        failureOf(e); // throws on what is not a request's failure (a fault of this program)
        // the whole request was refused or lost: each of its operations failed with that answer
        outcomes = operations.map((op) => ({ method: op.method, path: op.path, status: 0, error: e as ScimClientError }));
      }
      outcomes.forEach((outcome, i) => record(steps[start + i]!, outcome));
      progress();
      return outcomes;
    });
  };

  /** Sends `op` (the step's operation with its references resolved) to `path`, and records it as the step's. */
  const single = async (step: Step, op: BulkOperation, path: string): Promise<void> => {
    const [, endpoint, rawId] = path.split('/') as [string, string, string | undefined];
    const id = decodeURIComponent(rawId ?? '');
    const resources = client.resources(endpoint);
    await limit();
    requests++;
    try {
      if (op.method === 'POST') record(step, { id: (await resources.create(op.data as never)).resource.id });
      else if (op.method === 'PATCH') record(step, ((await resources.patch(id, op.data as never)), {}));
      else if (op.method === 'DELETE') record(step, ((await resources.delete(id)), {}));
    } catch (e) {
      record(step, { error: e });
    }
    progress();
  };

  const viaSingle = async (steps: Step[]) => {
    // a step that names a POST of the run by bulkId (a report its manager, a group's further members) waits for it:
    // the steps go in levels, each after the one it depends on (steps come after the POSTs they name)
    const level = new Map<string, number>();
    const levels: Step[][] = [];
    for (const step of steps) {
      const refs = [...(bulkIdsIn([step.op.path.split('/').pop(), step.op.data]) ?? [])];
      const at = refs.reduce((l, ref) => Math.max(l, (level.get(ref) ?? -1) + 1), 0);
      if (step.op.bulkId !== undefined) level.set(step.op.bulkId, at);
      (levels[at] ??= []).push(step);
    }
    const run = async (list: Step[]) => {
      let next = 0;
      const worker = async () => {
        while (next < list.length && !signal?.aborted) {
          const step = list[next++]!;
          let path = step.op.path;
          const at = path.indexOf(BULK_ID);
          if (at !== -1) {
            const id = createdIds.get(path.slice(at + BULK_ID.length));
            if (id === undefined) {
              // its group was not created: reported there
              record(step, {});
              continue;
            }
            path = `${path.slice(0, at)}${encodeURIComponent(id)}`;
          }
          const data = step.op.data === undefined ? undefined : withoutFailedManager(resolved(step.op.data, createdIds), (ref) => !createdIds.has(ref));
          await single(step, { ...step.op, data }, path);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
    };
    for (const list of levels) if (list) await run(list);
  };

  const execute = (steps: Step[]) => (useBulk ? viaBulk(steps) : viaSingle(steps));
  const started = performance.now();
  expect(phase1);
  await execute(phase1);
  if (!signal?.aborted) {
    const phase2 = laterSteps(plan, (key) => createdUsers.get(key), inlined);
    total = done + phase2.length;
    expect(phase2);
    // a group update with nothing left to send (its new members' creates failed) is done
    for (const change of plan.changes) if (!open.has(change)) unfinished.delete(change);
    await execute(phase2);
  }
  const seconds = requests === 0 ? 0 : (performance.now() - started) / 1000;
  return { ...tally(plan, failed, unfinished), interrupted: signal?.aborted === true, bulk: useBulk, requests, seconds };
}
