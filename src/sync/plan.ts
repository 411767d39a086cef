/**
 * The difference between what a source wants and what the target holds, as the least set of changes: a pure
 * function, so that the plan is recomputed from the target's actual state on every run (a run cut short is finished
 * by the next, and a run that finds nothing to do changes nothing).
 *
 * What the plan touches, and why it is safe:
 * - users are matched by the match attribute (`externalId` unless told otherwise); only the attributes the source
 *   carries are compared, and only those that differ are sent (PATCH `replace`, or `remove` for a value the source
 *   says is empty);
 * - a user the source no longer has is deactivated (or deleted, or kept) only when the target's copy carries an
 *   `externalId`: the mark of a provisioned user. Users made by hand or by another tool without one are never
 *   touched, and a source with no users at all is refused unless allowed;
 * - groups are matched by `externalId` (a CSV group's name is written as its externalId); members are added and
 *   removed one by one, never replaced as a list, and only members that are provisioned users are removed, so a
 *   member added by hand (or a nested group) stays;
 * - two target resources with one key are a conflict: neither is touched, and the key is reported.
 */
import { ENTERPRISE_URN, GROUP_URN, SyncInputError, type Desired, type DesiredUser, type MatchAttribute, type TargetResource, type TargetState } from './model.js';

export type OnMissing = 'deactivate' | 'delete' | 'keep';
export const ON_MISSING: readonly OnMissing[] = ['deactivate', 'delete', 'keep'];

export interface PlanOptions {
  readonly match?: MatchAttribute;
  readonly onMissing?: OnMissing;
  /** Act on missing resources even when the source has no users (which would otherwise deactivate them all). */
  readonly allowEmpty?: boolean;
}

export interface PatchOperation {
  readonly op: 'add' | 'replace' | 'remove';
  readonly path?: string;
  readonly value?: unknown;
}

export type ResourceKind = 'User' | 'Group';
export type Action = 'create' | 'update' | 'deactivate' | 'delete';

export interface Change {
  readonly action: Action;
  readonly type: ResourceKind;
  readonly key: string;
  /** The target's id (every action but create). */
  readonly id?: string;
  /** create: the resource to POST (a group's members are in addMembers). */
  readonly body?: Record<string, unknown>;
  /** update: the PATCH operations of the attributes that differ. */
  readonly operations?: readonly PatchOperation[];
  /** The attributes that differ (for the plan's text). */
  readonly attributes?: readonly string[];
  /** The key of a manager this run creates: set once it exists. */
  readonly manager?: string;
  /** Groups: the users to add as members, with their id when the target has them (else the run creates them). */
  readonly addMembers?: readonly MemberRef[];
  /** Groups: the target ids of members to remove. */
  readonly removeMembers?: readonly string[];
}

export interface MemberRef {
  readonly key: string;
  readonly id?: string;
}

export interface Conflict {
  readonly type: ResourceKind;
  readonly key: string;
  readonly detail: string;
}

export interface Plan {
  readonly changes: readonly Change[];
  readonly unchanged: { readonly users: number; readonly groups: number };
  readonly conflicts: readonly Conflict[];
  /** What the plan leaves alone and why (an unknown manager or member). */
  readonly warnings: readonly string[];
}

/** A user's key: the match attribute's value (userName compared in any case, as SCIM compares it). */
export function userKey(match: MatchAttribute, doc: Record<string, unknown>): string | undefined {
  const value = doc[match];
  if (typeof value !== 'string' || value === '') return undefined;
  return match.toLowerCase() === 'username' ? value.toLowerCase() : value;
}

/** The value at a path as the plan writes them: `a`, `a.b`, or `urn:…:a`. */
export function valueAt(doc: Record<string, unknown>, path: string): unknown {
  if (path.startsWith('urn:')) {
    const at = path.lastIndexOf(':');
    const ext = doc[path.slice(0, at)];
    return typeof ext === 'object' && ext !== null ? (ext as Record<string, unknown>)[path.slice(at + 1)] : undefined;
  }
  const [name, sub] = path.split('.') as [string, string | undefined];
  const v = doc[name];
  if (sub === undefined) return v;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[sub] : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether the target's value already says what the source says: the source's sub-attributes only (a server adds
 * `primary`, `display`, `$ref`…), multi-valued attributes in any order.
 */
export function covers(wanted: unknown, actual: unknown): boolean {
  if (Array.isArray(wanted)) {
    if (!Array.isArray(actual) || actual.length !== wanted.length) return false;
    const left = [...actual];
    return wanted.every((w) => {
      const at = left.findIndex((a) => covers(w, a));
      return at !== -1 && left.splice(at, 1).length === 1;
    });
  }
  if (isObject(wanted)) return isObject(actual) && Object.entries(wanted).every(([k, v]) => covers(v, actual[k]));
  return wanted === actual;
}

const present = (v: unknown) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);

/** The source's attributes as the paths a PATCH names: sub-attributes of complex ones, extension attributes by URN. */
export function leaves(doc: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [name, value] of Object.entries(doc)) {
    if (name === 'schemas' || name === 'id' || name === 'meta' || name === 'groups') continue;
    if (name.startsWith('urn:') && isObject(value)) for (const [sub, v] of Object.entries(value)) out.push([`${name}:${sub}`, v]);
    else if (isObject(value)) for (const [sub, v] of Object.entries(value)) out.push([`${name}.${sub}`, v]);
    else out.push([name, value]);
  }
  return out;
}

const MANAGER = `${ENTERPRISE_URN}:manager`;

/** Index by key; keys held by more than one resource are returned apart. */
function index(resources: readonly TargetResource[], keyOf: (r: TargetResource) => string | undefined) {
  const byKey = new Map<string, TargetResource>();
  const duplicated = new Set<string>();
  for (const r of resources) {
    const key = keyOf(r);
    if (key === undefined) continue;
    if (byKey.has(key)) duplicated.add(key);
    else byKey.set(key, r);
  }
  for (const key of duplicated) byKey.delete(key);
  return { byKey, duplicated };
}

/** Refuses a source that names one key twice: which of the two is meant cannot be told. */
export function checkDesired(desired: Desired): void {
  const twice = (keys: string[]) => {
    const seen = new Set<string>();
    return keys.filter((k) => seen.has(k) || (seen.add(k), false));
  };
  const users = [...new Set(twice(desired.users.map((u) => u.key)))];
  if (users.length > 0) throw new SyncInputError(`the source has ${users.length} key(s) more than once (nothing was changed): ${users.slice(0, 10).join(', ')}`);
  const groups = [...new Set(twice((desired.groups ?? []).map((g) => g.key)))];
  if (groups.length > 0) throw new SyncInputError(`the source has ${groups.length} group(s) more than once (nothing was changed): ${groups.slice(0, 10).join(', ')}`);
}

export function plan(desired: Desired, target: TargetState, options: PlanOptions = {}): Plan {
  const match = options.match ?? 'externalId';
  const onMissing = options.onMissing ?? 'deactivate';
  checkDesired(desired);
  const managed = (r: TargetResource) => typeof r.externalId === 'string' && r.externalId !== '';
  const users = index(target.users, (r) => userKey(match, r));
  const wantedKeys = new Set(desired.users.map((u) => u.key));
  if (desired.users.length === 0 && onMissing !== 'keep' && !options.allowEmpty && target.users.some(managed)) {
    throw new SyncInputError(`the source has no users: --on-missing ${onMissing} would ${onMissing} every provisioned user of the target; nothing was changed (allow it with --allow-empty)`);
  }
  const changes: Change[] = [];
  const conflicts: Conflict[] = [];
  const warnings: string[] = [];
  let unchangedUsers = 0;
  let unchangedGroups = 0;
  for (const key of users.duplicated) conflicts.push({ type: 'User', key, detail: `more than one user of the target has ${match} "${key}"; neither is touched` });

  const managerOf = (u: DesiredUser): { id?: string; deferred?: string } => {
    if (u.manager === undefined) return {};
    const managerKey = userKey(match, { [match]: u.manager }) ?? u.manager;
    const existing = users.byKey.get(managerKey);
    if (existing) return { id: existing.id };
    if (wantedKeys.has(managerKey) && !users.duplicated.has(managerKey)) return { deferred: managerKey };
    warnings.push(`user ${u.key}: manager "${u.manager}" is neither in the source nor on the target; the manager is left as it is`);
    return {};
  };

  for (const u of desired.users) {
    if (users.duplicated.has(u.key)) continue;
    const current = users.byKey.get(u.key);
    const manager = managerOf(u);
    if (current === undefined) {
      const body: Record<string, unknown> = { ...u.attributes };
      if (manager.id !== undefined) body[ENTERPRISE_URN] = { ...(body[ENTERPRISE_URN] as object | undefined), manager: { value: manager.id } };
      changes.push({ action: 'create', type: 'User', key: u.key, body, ...(manager.deferred !== undefined ? { manager: manager.deferred } : {}) });
      continue;
    }
    const operations: PatchOperation[] = [];
    const attributes: string[] = [];
    for (const [path, value] of leaves(u.attributes)) {
      if (value === undefined || covers(value, valueAt(current, path))) continue;
      // userName's case is not a difference where userName is what users are matched by
      if (path === 'userName' && match.toLowerCase() === 'username' && typeof value === 'string' && String(valueAt(current, path)).toLowerCase() === value.toLowerCase()) continue;
      operations.push({ op: 'replace', path, value });
      attributes.push(path);
    }
    for (const path of u.cleared) {
      if (!present(valueAt(current, path))) continue;
      operations.push({ op: 'remove', path });
      attributes.push(path);
    }
    const currentManager = (valueAt(current, MANAGER) as { value?: unknown } | undefined)?.value;
    if (manager.id !== undefined && currentManager !== manager.id) {
      operations.push({ op: 'replace', path: MANAGER, value: { value: manager.id } });
      attributes.push(MANAGER);
    }
    if (manager.deferred !== undefined) attributes.push(MANAGER);
    if (attributes.length === 0) unchangedUsers++;
    else changes.push({ action: 'update', type: 'User', key: u.key, id: current.id, operations, attributes, ...(manager.deferred !== undefined ? { manager: manager.deferred } : {}) });
  }

  for (const [key, current] of users.byKey) {
    if (wantedKeys.has(key) || !managed(current)) continue;
    if (onMissing === 'delete') changes.push({ action: 'delete', type: 'User', key, id: current.id });
    else if (onMissing === 'deactivate' && current.active !== false) changes.push({ action: 'deactivate', type: 'User', key, id: current.id, operations: [{ op: 'replace', path: 'active', value: false }], attributes: ['active'] });
    else unchangedUsers++;
  }

  if (desired.groups !== undefined) {
    const groups = index(target.groups.filter(managed), (g) => g.externalId);
    for (const key of groups.duplicated) conflicts.push({ type: 'Group', key, detail: `more than one group of the target has externalId "${key}"; neither is touched` });
    const idOfUser = (key: string) => users.byKey.get(key)?.id;
    const provisionedIds = new Set(target.users.filter(managed).map((u) => u.id));
    const wantedGroups = new Set(desired.groups.map((g) => g.key));
    for (const g of desired.groups) {
      if (groups.duplicated.has(g.key)) continue;
      const current = groups.byKey.get(g.key);
      const memberKeys = [...new Set(g.members.map((m) => userKey(match, { [match]: m }) ?? m))].filter((m) => {
        if (idOfUser(m) !== undefined || (wantedKeys.has(m) && !users.duplicated.has(m))) return true;
        warnings.push(`group ${g.key}: member "${m}" is neither in the source nor on the target; not added`);
        return false;
      });
      const ref = (key: string): MemberRef => {
        const id = idOfUser(key);
        return id === undefined ? { key } : { key, id };
      };
      if (current === undefined) {
        changes.push({ action: 'create', type: 'Group', key: g.key, body: { schemas: [GROUP_URN], externalId: g.key, displayName: g.displayName }, addMembers: memberKeys.map(ref) });
        continue;
      }
      const has = new Set(((current.members as { value?: unknown }[] | undefined) ?? []).map((m) => String(m.value)));
      const wantedIds = new Set(memberKeys.map(idOfUser).filter((id): id is string => id !== undefined));
      const addMembers = memberKeys.map(ref).filter((m) => m.id === undefined || !has.has(m.id));
      const removeMembers = [...has].filter((id) => provisionedIds.has(id) && !wantedIds.has(id));
      const operations: PatchOperation[] = current.displayName === g.displayName ? [] : [{ op: 'replace', path: 'displayName', value: g.displayName }];
      const attributes = [...(operations.length > 0 ? ['displayName'] : []), ...(addMembers.length + removeMembers.length > 0 ? ['members'] : [])];
      if (attributes.length === 0) unchangedGroups++;
      else changes.push({ action: 'update', type: 'Group', key: g.key, id: current.id, operations, attributes, addMembers, removeMembers });
    }
    for (const [key, current] of groups.byKey) {
      if (wantedGroups.has(key)) continue;
      // a group has no "active": deactivating leaves it (its provisioned members that left are removed above)
      if (onMissing === 'delete') changes.push({ action: 'delete', type: 'Group', key, id: current.id });
      else unchangedGroups++;
    }
  }
  return { changes, unchanged: { users: unchangedUsers, groups: unchangedGroups }, conflicts, warnings };
}
