/**
 * Applies PATCH operations (RFC 7644 §3.5.2) to a resource's stored attributes. Pure: it takes the document and
 * returns the new one, plus the membership changes of a group as a delta (adding or removing k members costs O(k),
 * whatever the group's size: the member list is never loaded unless a filter needs more than member ids).
 *
 * The engine follows the RFC. The forms identity providers send beyond it are rewritten into RFC operations by
 * normalize.ts before each operation is applied here; where an IdP contradicts the RFC, the caller's dialect says so
 * through PatchRules (see dialects.ts). Nothing here knows any IdP. Values are checked by the schema checker, whose
 * value tolerances (booleans as strings, a bare id for a reference) are shared with POST and PUT.
 */
import { scimErrors } from '../errors.js';
import { sameJson } from '../json.js';
import type { AttributeDefinition } from '../schema/attribute.js';
import { subAttribute } from '../schema/attribute.js';
import type { ResourceType } from '../schema/registry.js';
import type { Attributes } from '../model.js';
import { checkValue } from '../resource/schema-checker.js';
import { asArray } from '../resource/tolerance.js';
import { bindFilter } from '../filter/bind.js';
import type { BoundFilter } from '../filter/bound.js';
import { matchesElement } from '../filter/evaluate.js';
import type { Filter } from '../filter/ast.js';
import type { PatchOperation, PatchOpName } from './operations.js';
import { normalizeOperation } from './normalize.js';
import { isRelation } from '../resource/relations.js';

/** Where the RFC and an identity provider disagree, what this request's client expects. */
export interface PatchRules {
  /**
   * add/replace on `attr[filter]` or `attr[filter].sub` matching no value: `noTarget` is RFC 7644 §3.5.2.3;
   * `create` adds a value built from the filter's equality conditions (Microsoft Entra ID).
   */
  readonly unmatchedFilter: 'noTarget' | 'create';
}

export const RFC_RULES: PatchRules = { unmatchedFilter: 'noTarget' };

/** Membership changes of a group, in the order given, reduced to one delta. */
export interface MemberDelta {
  /** Remove every current member first. */
  clear: boolean;
  readonly add: Set<string>;
  readonly remove: Set<string>;
}

export interface PatchOutcome {
  readonly document: Attributes;
  readonly members?: MemberDelta;
  /** writeOnly attributes the request removed (their stored hashes must not be carried over). */
  readonly removedSecrets: ReadonlySet<string>;
}

export interface PatchContext {
  readonly rt: ResourceType;
  readonly id: string;
  readonly rules: PatchRules;
  /** The group's members as rendered values, for member filters beyond `value eq` (loads the whole list). */
  readonly loadMembers: () => Promise<Attributes[]>;
}

/** A located target: the attribute (top level), optionally one sub-attribute, optionally a value filter. */
interface Target {
  readonly extension?: string;
  readonly def: AttributeDefinition;
  readonly sub?: AttributeDefinition;
  readonly filter?: BoundFilter;
  readonly text: string;
}

const isObject = (v: unknown): v is Attributes => typeof v === 'object' && v !== null && !Array.isArray(v);
/** The values of an attribute as a list: none when unassigned. */
const valuesOf = (v: unknown): unknown[] => (v === undefined || v === null ? [] : asArray(v));
const isMembers = (ctx: PatchContext, t: Target) => isRelation(ctx.rt, t.def.name, t.extension !== undefined)?.side === 'members';

function locate(ctx: PatchContext, text: string, filter?: Filter, subName?: string): Target {
  const resolved = ctx.rt.resolve(text);
  if (!resolved) throw scimErrors.invalidPath(`"${text}" is not an attribute of ${ctx.rt.name}.`);
  const extension = resolved.inExtension ? resolved.schema : undefined;
  if (resolved.attribute.name === 'meta' || resolved.attribute.name === 'id') {
    throw scimErrors.mutability(`"${text}" is set by the server and cannot be changed.`);
  }
  let def = resolved.attribute;
  let sub = resolved.subAttribute;
  let bound: BoundFilter | undefined;
  if (filter) {
    if (sub || !def.multiValued || def.type !== 'complex') {
      throw scimErrors.invalidPath(`"${text}[...]": a value filter needs a multi-valued complex attribute.`);
    }
    const element = bindFilter(ctx.rt, { kind: 'valuePath', path: { text, position: 1 }, filter });
    bound = element.kind === 'element' ? element.filter : undefined;
    if (subName !== undefined) {
      sub = subAttribute(def, subName);
      if (!sub) throw scimErrors.invalidPath(`"${subName}" is not a sub-attribute of ${def.name}.`);
    }
  }
  return { ...(extension ? { extension } : {}), def, ...(sub ? { sub } : {}), ...(bound ? { filter: bound } : {}), text };
}

function holder(doc: Attributes, t: Target, create: boolean): Attributes | undefined {
  if (!t.extension) return doc;
  if (!isObject(doc[t.extension]) && create) doc[t.extension] = {};
  return doc[t.extension] as Attributes | undefined;
}

/**
 * readOnly targets cannot be written; an immutable one that has a value cannot change (RFC 7643 §2.2), though it may
 * be repeated unchanged, as IdPs that send whole extension objects do.
 */
function checkMutability(t: Target, op: PatchOpName, current: unknown, value?: unknown): void {
  const leaf = t.sub ?? t.def;
  if (t.def.mutability === 'readOnly' || leaf.mutability === 'readOnly') {
    throw scimErrors.mutability(`"${t.text}" is readOnly and cannot be changed.`);
  }
  if ((t.def.mutability === 'immutable' || leaf.mutability === 'immutable') && current !== undefined && op !== 'add') {
    const unchanged = op === 'replace' && value !== undefined && sameJson(checkValue(leaf, value, t.text), current);
    if (!unchanged) throw scimErrors.mutability(`"${t.text}" is immutable and already has a value.`);
  }
}

/** The values equality conditions of a value filter imply (`type eq "work" and primary eq true`), if that is all it says. */
function impliedValue(filter: BoundFilter): Attributes | undefined {
  if (filter.kind === 'compare' && filter.op === 'eq' && filter.target.subAttribute) {
    return { [filter.target.subAttribute]: filter.value };
  }
  if (filter.kind === 'and') {
    const left = impliedValue(filter.left);
    const right = impliedValue(filter.right);
    return left && right ? { ...left, ...right } : undefined;
  }
  return undefined;
}

/** After an operation set `primary: true` on some values, every other value stops being primary (RFC 7643 §2.4). */
function keepOnePrimary(values: Attributes[], chosen: Attributes[]): void {
  const primaries = chosen.filter((v) => v.primary === true);
  if (primaries.length === 0) return;
  const winner = primaries[primaries.length - 1];
  for (const v of values) if (v !== winner && v.primary === true) delete v.primary;
}

function prune(h: Attributes | undefined, name: string): void {
  if (!h) return;
  const v = h[name];
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0)) delete h[name];
}

export async function applyPatch(ctx: PatchContext, stored: Attributes, operations: readonly PatchOperation[]): Promise<PatchOutcome> {
  const doc = structuredClone(stored);
  const removedSecrets = new Set<string>();
  let members: MemberDelta | undefined;
  const delta = (): MemberDelta => (members ??= { clear: false, add: new Set(), remove: new Set() });

  const apply = async (op: PatchOpName, t: Target, value: unknown): Promise<void> => {
    if (isMembers(ctx, t)) return membersOp(ctx, op, t, value, delta());
    const h = holder(doc, t, op !== 'remove');
    const current = h?.[t.def.name];
    checkMutability(t, op, t.sub ? undefined : current, value);
    if (t.def.mutability === 'writeOnly' && op === 'remove') removedSecrets.add(`${t.extension ?? ''}:${t.def.name}`);
    if (op !== 'remove' && (value === undefined || (value === null && op === 'add'))) {
      throw scimErrors.invalidValue(`"${op}" on "${t.text}" needs a "value".`);
    }

    if (!t.filter && !t.sub) {
      if (op === 'remove') {
        // RFC 7644 §3.5.2.2: the attribute and all its values (normalize.ts turns a remove by value into a filter)
        if (h) delete h[t.def.name];
        return;
      }
      if (value === null) {
        delete h![t.def.name];
        return;
      }
      if (t.def.type === 'complex' && !t.def.multiValued && !isObject(value) && value !== '' && !(typeof value === 'string' && subAttribute(t.def, 'value'))) {
        throw scimErrors.invalidValue(`"${t.text}" is complex: give an object of its sub-attributes.`);
      }
      const checked = checkValue(t.def, value, t.text);
      if (checked === undefined) {
        // an empty complex value merges nothing; an empty list replaces every value with none
        if (op === 'replace' && (t.def.multiValued || !isObject(value))) delete h![t.def.name];
        return;
      }
      if (t.def.multiValued) {
        const incoming = checked as unknown[];
        let touched = incoming;
        if (op === 'replace') h![t.def.name] = incoming;
        else {
          // RFC 7644 §3.5.2.1: a value already present is not added again
          const list = valuesOf(current);
          touched = incoming.map((v) => {
            const present = list.find((x) => sameJson(x, v));
            if (present === undefined) list.push(v);
            return present ?? v;
          });
          h![t.def.name] = list;
        }
        if (t.def.type === 'complex') keepOnePrimary(h![t.def.name] as Attributes[], touched as Attributes[]);
      } else if (t.def.type === 'complex') {
        // add and replace both merge sub-attributes into a single complex value (RFC 7644 §3.5.2.1, §3.5.2.3)
        h![t.def.name] = { ...(isObject(current) ? current : {}), ...(checked as Attributes) };
      } else {
        h![t.def.name] = checked;
      }
      prune(h, t.def.name);
      return;
    }

    if (!t.filter) {
      // `name.givenName` (single complex) or `emails.display` (every value of a multi-valued one)
      const sub = t.sub!;
      checkMutability(t, op, isObject(current) ? current[sub.name] : undefined, value);
      const checked = op === 'remove' || value === null ? undefined : checkValue(sub, value, t.text);
      if (t.def.multiValued) {
        for (const el of valuesOf(current).filter(isObject)) {
          if (checked === undefined) delete el[sub.name];
          else el[sub.name] = checked;
        }
        if (h) h[t.def.name] = valuesOf(current).filter((el) => !isObject(el) || Object.keys(el).length > 0);
      } else if (checked === undefined) {
        if (isObject(current)) delete current[sub.name];
      } else {
        h![t.def.name] = { ...(isObject(current) ? current : {}), [sub.name]: checked };
      }
      prune(h, t.def.name);
      return;
    }

    // `emails[type eq "work"]` or `emails[type eq "work"].value`
    const list = valuesOf(current).filter(isObject);
    const matched = list.filter((el) => matchesElement(t.filter!, el));
    if (op === 'remove') {
      if (t.sub) for (const el of matched) delete el[t.sub.name];
      if (h) h[t.def.name] = list.filter((el) => (t.sub ? Object.keys(el).length > 0 : !matched.includes(el)));
      prune(h, t.def.name);
      return;
    }
    const checkedSub = t.sub ? checkValue(t.sub, value, t.text) : undefined;
    const checkedElement = t.sub ? undefined : (asArray(checkValue(t.def, value, t.text))[0] as Attributes | undefined);
    if (matched.length === 0) {
      const implied = impliedValue(t.filter);
      if (ctx.rules.unmatchedFilter !== 'create' || !implied) {
        throw scimErrors.noTarget(`"${t.text}" matches no value of ${t.def.name}.`);
      }
      const created = t.sub ? { ...implied, [t.sub.name]: checkedSub } : { ...implied, ...(checkedElement ?? {}) };
      const [element] = asArray(checkValue(t.def, created, t.text)) as Attributes[];
      list.push(element!);
      keepOnePrimary(list, [element!]);
      h![t.def.name] = list;
      return;
    }
    for (const el of matched) {
      if (t.sub) {
        if (checkedSub === undefined) delete el[t.sub.name];
        else el[t.sub.name] = checkedSub;
      } else if (op === 'replace') {
        for (const k of Object.keys(el)) delete el[k];
        Object.assign(el, checkedElement ?? {});
      } else {
        Object.assign(el, checkedElement ?? {});
      }
    }
    keepOnePrimary(list, matched);
    h![t.def.name] = list.filter((el) => Object.keys(el).length > 0);
    prune(h, t.def.name);
  };

  for (const given of operations) {
    // each operation in RFC form first (normalize.ts): the tolerated IdP forms never reach the engine
    for (const operation of normalizeOperation(ctx.rt, ctx.id, given, doc)) {
      if (operation.path) {
        const t = { ...locate(ctx, operation.path.attribute.text, operation.path.filter, operation.path.subAttribute), text: operation.path.text };
        await apply(operation.op, t, operation.value);
        continue;
      }
      if (operation.op === 'remove') throw scimErrors.noTarget('"remove" needs a "path" (RFC 7644 §3.5.2.2).');
      if (!isObject(operation.value)) {
        throw scimErrors.invalidValue(`"${operation.op}" without a "path" needs an object "value" holding the attributes to ${operation.op}.`);
      }
      for (const [t, value] of pathlessTargets(ctx, operation.value)) await apply(operation.op, t, value);
    }
  }
  return { document: doc, ...(members ? { members } : {}), removedSecrets };
}

/**
 * The attributes of a path-less value (RFC 7644 §3.5.2.1, §3.5.2.3): attribute names, and extension objects under
 * their URN. Unknown attributes are ignored as in a POST (docs/behaviour.md); `id` and `meta` are the server's
 * (mutability).
 */
function pathlessTargets(ctx: PatchContext, value: Attributes): [Target, unknown][] {
  const out: [Target, unknown][] = [];
  for (const [key, v] of Object.entries(value)) {
    const extension = /^urn:/i.test(key) ? ctx.rt.extension(key) : undefined;
    if (extension && isObject(v)) {
      for (const [name, inner] of Object.entries(v)) {
        const resolved = ctx.rt.resolve(`${extension.schema.id}:${name}`);
        if (resolved) out.push([locate(ctx, `${extension.schema.id}:${name}`), inner]);
      }
      continue;
    }
    if (!/^urn:/i.test(key) && !key.includes('.') && ctx.rt.resolve(key)) out.push([locate(ctx, key), v]);
  }
  return out;
}

/** `members` operations as a delta on the membership relation (RFC 7644 §3.5.2 examples 3.5.2.1–3.5.2.3). */
async function membersOp(ctx: PatchContext, op: PatchOpName, t: Target, value: unknown, delta: MemberDelta): Promise<void> {
  if (t.sub && !t.filter) throw scimErrors.invalidPath(`"${t.text}": address members as a whole or by a filter, e.g. members[value eq "id"].`);
  if (t.sub) throw scimErrors.mutability(`"${t.text}": a member's sub-attributes cannot be changed; remove and add the member instead.`);
  const ids = (): string[] => {
    if (value === null || value === undefined) return [];
    const checked = asArray(checkValue(t.def, value, t.text) ?? []) as Attributes[];
    return checked.map((m) => String(m.value));
  };
  const add = (list: string[]) => list.forEach((id) => (delta.remove.delete(id), delta.add.add(id)));
  const remove = (list: string[]) => list.forEach((id) => (delta.add.delete(id), delta.remove.add(id)));

  if (t.filter) {
    if (op !== 'remove') throw scimErrors.invalidPath(`"${t.text}": add members with path "members", replace them with path "members".`);
    const direct = memberIds(t.filter);
    if (direct) return remove(direct);
    const current = await ctx.loadMembers();
    return remove(current.filter((m) => matchesElement(t.filter!, m)).map((m) => String(m.value)));
  }
  if (op === 'add') {
    if (value === null || value === undefined) throw scimErrors.invalidValue(`"add" on "members" needs a "value".`);
    return add(ids());
  }
  if (op === 'replace') {
    delta.clear = true;
    delta.add.clear();
    delta.remove.clear();
    return add(ids());
  }
  // remove: all of them (RFC 7644 §3.5.2.2)
  delta.clear = true;
  delta.add.clear();
  delta.remove.clear();
}

/** `value eq "a"` or `value eq "a" or value eq "b"`: the ids, without loading the member list. */
function memberIds(filter: BoundFilter): string[] | undefined {
  if (filter.kind === 'compare' && filter.op === 'eq' && filter.target.subAttribute === 'value' && typeof filter.value === 'string') return [filter.value];
  if (filter.kind === 'or') {
    const left = memberIds(filter.left);
    const right = memberIds(filter.right);
    return left && right ? [...left, ...right] : undefined;
  }
  return undefined;
}
