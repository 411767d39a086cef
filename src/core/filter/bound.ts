/**
 * A filter bound to a resource type: every path resolved to a Target, every value coerced to the attribute's type
 * and normalised by its case rule. Both the in-memory evaluator and the SQL compilers take this form, so they
 * share one reading of the RFC; `ne` and `null` comparisons are already rewritten into `not` and `present`.
 */
import type { AttributeDefinition } from '../schema/attribute.js';

/** How a value compares: strings by code point after case folding, numbers (also dateTimes, as epoch ms), booleans. */
export type ValueKind = 'string' | 'number' | 'boolean';

export interface Target {
  /** The index path: lower-cased `name.givenname`, `urn:…:user:employeenumber`, `meta.created`, `schemas`. */
  readonly key: string;
  /** Where the values live: the resource's attributes, or the membership relation (Group members, User groups). */
  readonly source: 'attribute' | 'members' | 'groups';
  /** Location in a rendered resource: extension URN (if any), attribute, sub-attribute. */
  readonly schema?: string;
  readonly attribute: string;
  readonly subAttribute?: string;
  /** undefined for a complex attribute itself (only `pr` applies). */
  readonly kind?: ValueKind;
  readonly caseExact: boolean;
  readonly dateTime: boolean;
  /** A resource may hold several values here (a multi-valued attribute, or a sub-attribute of one). */
  readonly multiValued: boolean;
  /** For a sub-attribute of a multi-valued complex attribute with `primary`: that sibling's key (for sorting). */
  readonly primaryKey?: string;
  /** The definition, when the target is a schema attribute (not `schemas`). */
  readonly definition?: AttributeDefinition;
}

export type StringOperator = 'eq' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

export type BoundFilter =
  | { readonly kind: 'compare'; readonly target: Target; readonly op: StringOperator; readonly value: string | number | boolean }
  | { readonly kind: 'present'; readonly target: Target }
  | { readonly kind: 'and'; readonly left: BoundFilter; readonly right: BoundFilter }
  | { readonly kind: 'or'; readonly left: BoundFilter; readonly right: BoundFilter }
  | { readonly kind: 'not'; readonly filter: BoundFilter }
  /** Some single element of the multi-valued `container` satisfies `filter` (whose targets are its sub-attributes). */
  | { readonly kind: 'element'; readonly container: Target; readonly filter: BoundFilter };

/** `sortBy`/`sortOrder` bound to a resource type (RFC 7644 §3.4.2.3). */
export interface SortSpec {
  readonly target: Target;
  readonly descending: boolean;
}

/** The case rule of RFC 7643 §2.2: caseExact=false strings compare after case folding. */
export function foldCase(value: string, caseExact: boolean): string {
  return caseExact ? value : value.toLowerCase();
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** xsd:dateTime → epoch milliseconds; undefined when it is not one. */
export function instantOf(value: string): number | undefined {
  if (!DATE_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Orders strings by Unicode code point, as SQL compares UTF-8 bytes (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return Buffer.compare(x, y);
}
