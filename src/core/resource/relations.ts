/**
 * The membership relation (RFC 7643 §4.2 Group `members`, §4.1 User `groups`): the one place that knows which
 * attribute of a resource type is a side of it. Neither side lives in the resource's document: a group's members are
 * rows of the relation, written as a delta (adding or removing k members costs O(k) whatever the group's size), and
 * a user's groups are read from the same rows. So they are rendered, filtered and patched apart from the document.
 */
import { SCHEMA_URN, type ResourceType } from '../schema/registry.js';

export interface RelationSide {
  /** `members`: the group's side, which clients write; `groups`: the member's side, derived and read-only. */
  readonly side: 'members' | 'groups';
  /** The core attribute that shows it (the name is the side's). */
  readonly attribute: 'members' | 'groups';
  /** Its sub-attributes that the relation holds, so a filter can name them. */
  readonly filterable: readonly string[];
}

const SIDES: Readonly<Record<string, RelationSide>> = {
  [SCHEMA_URN.group]: { side: 'members', attribute: 'members', filterable: ['value', 'type'] },
  [SCHEMA_URN.user]: { side: 'groups', attribute: 'groups', filterable: ['value'] },
};

/** The side of the relation a resource type's core attribute shows, if it has one. */
export function relationOf(rt: ResourceType): RelationSide | undefined {
  return SIDES[rt.schema.id];
}

/** Whether the attribute `name` (of the core schema, not an extension) is the type's side of the relation. */
export function isRelation(rt: ResourceType, name: string, inExtension = false): RelationSide | undefined {
  const side = SIDES[rt.schema.id];
  return side && !inExtension && side.attribute === name ? side : undefined;
}

/** Whether a resource of this type has members (a group). */
export function hasMembers(rt: ResourceType): boolean {
  return SIDES[rt.schema.id]?.side === 'members';
}

/** What a member may be: the canonical values of `members.type` (RFC 7643 §4.2: User, Group). */
export function memberTypes(rt: ResourceType): readonly string[] {
  return rt.coreAttribute('members')?.subAttributes?.find((s) => s.name === 'type')?.canonicalValues ?? ['User', 'Group'];
}
