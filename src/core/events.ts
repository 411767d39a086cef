/**
 * Lifecycle events: what the applications relying on scimd must learn at once — above all that a user was
 * deactivated, deleted or removed from a group, so that they revoke that user's access. Events are derived from
 * the same change as the audit entry and written to a transactional outbox with it (see the Store contract), then
 * delivered at least once, in order per resource (events/dispatcher.ts). Pure: events are computed here.
 */
import { timeOrderedId } from './resource/ids.js';
import type { AttributeChange, AuditOperation } from './audit.js';

/**
 * `user.created`, `user.updated`, `user.deactivated`, `user.reactivated`, `user.deleted`, `group.created`,
 * `group.updated`, `group.deleted`, `group.member_added`, `group.member_removed`; a custom resource type named
 * `Device` gives `device.created`, `device.updated`, `device.deleted`.
 */
export type LifecycleEventType =
  | 'user.created' | 'user.updated' | 'user.deactivated' | 'user.reactivated' | 'user.deleted'
  | 'group.created' | 'group.updated' | 'group.deleted' | 'group.member_added' | 'group.member_removed'
  | `${string}.created` | `${string}.updated` | `${string}.deleted`;

export interface EventResource {
  /** The SCIM resource type: `User`, `Group`, or a custom one. */
  readonly type: string;
  readonly id: string;
  readonly externalId?: string;
}

export interface LifecycleEvent {
  /** Unique per event and the same on every delivery attempt: receivers deduplicate by it. */
  readonly id: string;
  readonly type: LifecycleEventType;
  readonly at: string;
  /** The organization's id. */
  readonly organization: string;
  /** The organization's name (as the audit log shows it), when the caller's context had it: see RequestContext. */
  readonly organizationName?: string;
  readonly resource: EventResource;
  /** What changed (as in the audit log: before/after, secrets redacted); empty for member events. */
  readonly changes: readonly AttributeChange[];
  /** group.member_added / group.member_removed: the member. */
  readonly member?: { readonly id: string };
}

/** What a store needs to write one event per member a write really added or removed. */
export interface MemberEventBase {
  readonly at: string;
  readonly organization: string;
  readonly organizationName?: string;
  readonly resource: EventResource;
}

/** The events of a successful operation on a resource (member events are the store's, from what it changed). */
export function eventsOf(
  operation: AuditOperation,
  base: MemberEventBase,
  changes: readonly AttributeChange[],
): LifecycleEvent[] {
  const kind = base.resource.type.toLowerCase();
  const event = (type: LifecycleEventType, c: readonly AttributeChange[] = changes): LifecycleEvent => ({ id: timeOrderedId(), type, ...base, changes: c });
  if (operation === 'create') return [event(`${kind}.created`)];
  if (operation === 'delete') return [event(`${kind}.deleted`)];
  if (operation !== 'replace' && operation !== 'patch') return [];
  const out: LifecycleEvent[] = [];
  let rest = changes;
  const active = kind === 'user' ? changes.find((c) => c.attribute === 'active') : undefined;
  // an absent `active` counts as active: a user created without it and then set active:false is deactivated
  if (active && active.after === false && active.before !== false) out.push(event('user.deactivated', [active]));
  else if (active && active.before === false && active.after !== false) out.push(event('user.reactivated', [active]));
  if (out.length > 0) rest = changes.filter((c) => c !== active);
  if (rest.length > 0) out.push(event(`${kind}.updated`, rest));
  return out;
}

export function memberEvent(base: MemberEventBase, added: boolean, memberId: string): LifecycleEvent {
  return { id: timeOrderedId(), type: added ? 'group.member_added' : 'group.member_removed', ...base, changes: [], member: { id: memberId } };
}
