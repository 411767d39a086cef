/**
 * The other sources of a sync: a JSON or NDJSON file of SCIM resources, and another SCIM server. Each becomes the
 * users and groups it wants, with references between them (members, managers) by the users' keys. Reading the
 * target is the same listing as reading a source server.
 */
import type { ScimClient } from '../client/index.js';
import { ENTERPRISE_URN, GROUP_URN, SyncInputError, USER_URN, type Desired, type DesiredGroup, type DesiredUser, type MatchAttribute, type TargetResource, type TargetState } from './model.js';
import { userKey } from './plan.js';

const READ_ONLY = new Set(['id', 'meta', 'groups', 'password']);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The resources of a JSON file (an array, a ListResponse, or `{ "Users": [], "Groups": [] }`) or of NDJSON lines. */
export function parseResources(text: string): Record<string, unknown>[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new SyncInputError('the source file is empty');
  let whole: unknown;
  try {
    whole = JSON.parse(trimmed);
  } catch {
    // not one JSON document: NDJSON, a resource a line
    return trimmed.split('\n').flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        const r = JSON.parse(line) as unknown;
        if (!isObject(r)) throw new Error('not an object');
        return [r];
      } catch (e) {
        throw new SyncInputError(`line ${i + 1} is neither part of a JSON document nor a JSON object of its own (NDJSON): ${(e as Error).message}`);
      }
    });
  }
  const list = Array.isArray(whole) ? whole
    : isObject(whole) && Array.isArray(whole.Resources) ? whole.Resources
      : isObject(whole) && (Array.isArray(whole.Users) || Array.isArray(whole.Groups)) ? [...((whole.Users as unknown[]) ?? []), ...((whole.Groups as unknown[]) ?? [])]
        : isObject(whole) ? [whole] : undefined;
  if (list === undefined || !list.every(isObject)) throw new SyncInputError('the JSON is not SCIM resources: an array of them, a ListResponse, { "Users": [...], "Groups": [...] }, or one a line (NDJSON)');
  return list as Record<string, unknown>[];
}

const isGroup = (r: Record<string, unknown>) => Array.isArray(r.schemas) ? r.schemas.includes(GROUP_URN) : r.userName === undefined && r.displayName !== undefined;

/** The user's own attributes: what the server sets and the manager (a reference, resolved by key) left out. */
function ownAttributes(r: Record<string, unknown>): { attributes: Record<string, unknown>; managerValue?: string } {
  const attributes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!READ_ONLY.has(k)) attributes[k] = v;
  let managerValue: string | undefined;
  const ext = attributes[ENTERPRISE_URN];
  if (isObject(ext) && ext.manager !== undefined) {
    const m = ext.manager;
    managerValue = typeof m === 'string' ? m : isObject(m) && typeof m.value === 'string' ? m.value : undefined;
    const { manager: _, ...rest } = ext;
    attributes[ENTERPRISE_URN] = rest;
  }
  if (!Array.isArray(attributes.schemas)) attributes.schemas = [USER_URN, ...Object.keys(attributes).filter((k) => k.startsWith('urn:'))];
  // a user the source has is active unless it says otherwise: one deactivated as missing comes back
  if (attributes.active === undefined) attributes.active = true;
  return { attributes, ...(managerValue !== undefined ? { managerValue } : {}) };
}

/**
 * A file's resources as the state they want. Users are keyed by the match attribute; a group by its externalId,
 * else its displayName; a group's members and a user's manager name users by their key.
 */
export function readResources(text: string, options: { match?: MatchAttribute } = {}): Desired {
  const match = options.match ?? 'externalId';
  const resources = parseResources(text);
  const errors: string[] = [];
  const users: DesiredUser[] = [];
  const groups: DesiredGroup[] = [];
  resources.forEach((r, i) => {
    if (isGroup(r)) {
      const key = typeof r.externalId === 'string' && r.externalId !== '' ? r.externalId : r.displayName;
      if (typeof key !== 'string' || key === '' || typeof r.displayName !== 'string') return void errors.push(`resource ${i + 1}: a group without displayName`);
      const members = Array.isArray(r.members) ? r.members.map((m) => (isObject(m) ? m.value : m)) : [];
      if (!members.every((m) => typeof m === 'string')) return void errors.push(`group ${key}: members are { "value": KEY } (the users' ${match})`);
      groups.push({ key, displayName: r.displayName, members: members as string[] });
      return;
    }
    const { attributes, managerValue } = ownAttributes(r);
    const key = userKey(match, attributes);
    if (key === undefined) return void errors.push(`resource ${i + 1}: a user without ${match}, which users are matched by`);
    if (typeof attributes.userName !== 'string') return void errors.push(`user ${key}: no userName`);
    users.push({ key, attributes, cleared: [], ...(managerValue !== undefined ? { manager: managerValue } : {}) });
  });
  if (errors.length > 0) throw new SyncInputError(`the source has resources that cannot be synced (nothing was changed):\n  ${errors.slice(0, 20).join('\n  ')}`);
  return { users, ...(groups.length > 0 ? { groups } : {}) };
}

/** Every user and (when asked) every group of a server, members included. */
export async function readServer(client: ScimClient, options: { groups: boolean }): Promise<TargetState> {
  const users: TargetResource[] = [];
  // groups are not asked for: a server may compute them per user, and the plan does not compare them
  for await (const u of client.users.all({ excludedAttributes: ['groups'] })) users.push(u as TargetResource);
  const groups: TargetResource[] = [];
  if (options.groups) for await (const g of client.groups.all()) groups.push(g as TargetResource);
  return { users, groups };
}

/**
 * Another SCIM server as the source. Its users are keyed by the match attribute; with externalId, a user that has
 * none is keyed by its id there (written as its externalId on the target), so a server of hand-made users mirrors.
 * References (members, managers) by the source's ids become references by key.
 */
export async function readScimSource(client: ScimClient, options: { match?: MatchAttribute } = {}): Promise<Desired> {
  const match = options.match ?? 'externalId';
  const state = await readServer(client, { groups: true });
  const keyById = new Map<string, string>();
  const users: DesiredUser[] = [];
  const skipped: string[] = [];
  const pending: { key: string; attributes: Record<string, unknown>; managerValue?: string }[] = [];
  for (const r of state.users) {
    const { attributes, managerValue } = ownAttributes(r);
    if (match === 'externalId' && (typeof attributes.externalId !== 'string' || attributes.externalId === '')) attributes.externalId = r.id;
    const key = userKey(match, attributes);
    if (key === undefined) {
      skipped.push(r.id);
      continue;
    }
    keyById.set(r.id, key);
    pending.push({ key, attributes, ...(managerValue !== undefined ? { managerValue } : {}) });
  }
  if (skipped.length > 0) throw new SyncInputError(`${skipped.length} user(s) of the source have no ${match} (e.g. ${skipped.slice(0, 5).join(', ')}); nothing was changed`);
  for (const p of pending) {
    const manager = p.managerValue === undefined ? undefined : keyById.get(p.managerValue);
    users.push({ key: p.key, attributes: p.attributes, cleared: [], ...(manager !== undefined ? { manager } : {}) });
  }
  const groups = state.groups.map((g): DesiredGroup => ({
    key: typeof g.externalId === 'string' && g.externalId !== '' ? g.externalId : g.id,
    displayName: String(g.displayName ?? ''),
    members: ((g.members as { value?: string }[] | undefined) ?? []).flatMap((m) => {
      const key = m.value === undefined ? undefined : keyById.get(m.value);
      return key === undefined ? [] : [key];
    }),
  }));
  return { users, groups };
}
