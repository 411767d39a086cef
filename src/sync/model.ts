/**
 * What a sync works on: the state a source wants (users and groups keyed by their match value) and the state the
 * target holds, both as plain SCIM documents. A reference to another user (a group's member, a manager) is by that
 * user's key, since a user the run creates has no id yet.
 */
export const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** The attribute users are matched by: `externalId` (default) or another single-valued string such as `userName`. */
export type MatchAttribute = string;

export interface DesiredUser {
  readonly key: string;
  /** The user as it should be (schemas included); attributes it leaves out are not touched on the target. */
  readonly attributes: Record<string, unknown>;
  /** Attribute paths the source says are empty: removed from the target when present there. */
  readonly cleared: readonly string[];
  /** The key of the user's manager (enterprise extension), when the source names one. */
  readonly manager?: string;
}

export interface DesiredGroup {
  /** Written as the group's externalId, which is how the group is found again. */
  readonly key: string;
  readonly displayName: string;
  /** The keys of its user members. */
  readonly members: readonly string[];
}

export interface Desired {
  readonly users: readonly DesiredUser[];
  /** Undefined when the source says nothing about groups: then no group is touched. */
  readonly groups?: readonly DesiredGroup[];
}

/** A resource as the target returns it. */
export interface TargetResource {
  readonly id: string;
  readonly externalId?: string;
  readonly [attribute: string]: unknown;
}

export interface TargetState {
  readonly users: readonly TargetResource[];
  readonly groups: readonly TargetResource[];
}

/** The source cannot be read as it stands (a bad row, a duplicate key): nothing is changed. */
export class SyncInputError extends Error {
  override name = 'SyncInputError';
}
