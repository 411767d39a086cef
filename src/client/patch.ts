/**
 * A PatchOp request (RFC 7644 §3.5.2) built operation by operation. A path is text (checked with the core's path
 * parser) or parts (`{ attribute: 'emails', filter: filter.eq('type', 'work'), subAttribute: 'value' }`, written by
 * the core's serializer, so a value inside the filter stays a value); `null` is the path-less form.
 */
import type { Filter } from '../core/filter/ast.js';
import { parsePath } from '../core/filter/parser.js';
import { serializePath } from '../core/filter/serialize.js';
import type { PatchOpName } from '../core/patch/operations.js';
import { SCHEMA_URN } from '../core/schema/registry.js';
import { attributePath } from './filter.js';

export type PatchPathSpec = string | { readonly attribute: string; readonly filter?: Filter; readonly subAttribute?: string };

export interface PatchOperationBody {
  readonly op: PatchOpName;
  readonly path?: string;
  readonly value?: unknown;
}

export interface PatchOpBody {
  readonly schemas: [typeof SCHEMA_URN.patchOp];
  readonly Operations: PatchOperationBody[];
}

function pathText(path: PatchPathSpec): string {
  if (typeof path === 'string') {
    parsePath(path);
    return path;
  }
  return serializePath({
    attribute: attributePath(path.attribute),
    ...(path.filter !== undefined ? { filter: path.filter } : {}),
    ...(path.subAttribute !== undefined ? { subAttribute: path.subAttribute } : {}),
  });
}

export class PatchRequest {
  private readonly operations: PatchOperationBody[] = [];

  private push(op: PatchOpName, path: PatchPathSpec | null, value: unknown, hasValue: boolean): this {
    this.operations.push({ op, ...(path !== null ? { path: pathText(path) } : {}), ...(hasValue ? { value } : {}) });
    return this;
  }

  /** RFC 7644 §3.5.2.1; with `path` null, `value` is an object of attributes. */
  add(path: PatchPathSpec | null, value: unknown): this {
    return this.push('add', path, value, true);
  }

  /** RFC 7644 §3.5.2.3; with `path` null, `value` is an object of attributes. */
  replace(path: PatchPathSpec | null, value: unknown): this {
    return this.push('replace', path, value, true);
  }

  /** RFC 7644 §3.5.2.2: the attribute, or the values the path's filter selects. */
  remove(path: PatchPathSpec): this {
    return this.push('remove', path, undefined, false);
  }

  get size(): number {
    return this.operations.length;
  }

  toJSON(): PatchOpBody {
    return { schemas: [SCHEMA_URN.patchOp], Operations: [...this.operations] };
  }
}

export function patchOp(): PatchRequest {
  return new PatchRequest();
}
