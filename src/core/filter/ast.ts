/**
 * The SCIM filter AST (RFC 7644 §3.4.2.2): immutable tagged unions, as parsed, before any schema is consulted.
 */
export type CompareOperator = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export const COMPARE_OPERATORS: readonly CompareOperator[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];

export type FilterValue = string | number | boolean | null;

/** `[URI ":"] ATTRNAME *1subAttr`, as written (names keep their case until bound to a schema). */
export interface AttributePath {
  readonly text: string;
  /** 1-based position in the filter text, for error messages. */
  readonly position: number;
}

export type Filter =
  | { readonly kind: 'compare'; readonly path: AttributePath; readonly op: CompareOperator; readonly value: FilterValue }
  | { readonly kind: 'present'; readonly path: AttributePath }
  | { readonly kind: 'and'; readonly left: Filter; readonly right: Filter }
  | { readonly kind: 'or'; readonly left: Filter; readonly right: Filter }
  | { readonly kind: 'not'; readonly filter: Filter }
  /** `emails[type eq "work" and value co "@example.com"]`: one element must satisfy the inner filter. */
  | { readonly kind: 'valuePath'; readonly path: AttributePath; readonly filter: Filter };
