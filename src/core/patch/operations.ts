/**
 * The PatchOp request message (RFC 7644 §3.5.2): its shape checked, each operation's op and path parsed. Tolerances
 * that cannot change a valid request's meaning are applied here for every client: op names in any case, extra
 * members in an operation object (Microsoft's "name": "addMember"), an operation list under "operations".
 */
import { scimErrors } from '../errors.js';
import { shown } from '../json.js';
import { SCHEMA_URN } from '../schema/registry.js';
import { parsePath, type PatchPath } from '../filter/parser.js';

export type PatchOpName = 'add' | 'remove' | 'replace';

export interface PatchOperation {
  readonly op: PatchOpName;
  readonly path?: PatchPath & { readonly text: string };
  /** Absent when the operation has no `value` member. */
  readonly value?: unknown;
  readonly hasValue: boolean;
}

/** Guards against hostile input: one request changes one resource. */
export const MAX_OPERATIONS = 1000;

function member(o: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : o[key];
}

export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw scimErrors.invalidSyntax(`A PATCH body must be a PatchOp object ("schemas": ["${SCHEMA_URN.patchOp}"], "Operations": [...]).`);
  }
  const o = body as Record<string, unknown>;
  const schemas = member(o, 'schemas');
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SCHEMA_URN.patchOp.toLowerCase())) {
    throw scimErrors.invalidSyntax(`"schemas" of a PATCH must include "${SCHEMA_URN.patchOp}".`);
  }
  const operations = member(o, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) throw scimErrors.invalidSyntax('"Operations" must be a non-empty array of operations.');
  if (operations.length > MAX_OPERATIONS) throw scimErrors.tooLarge(`A PATCH may carry at most ${MAX_OPERATIONS} operations.`);
  return operations.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw scimErrors.invalidSyntax(`Operations[${i}] must be an object.`);
    const op = member(raw as Record<string, unknown>, 'op');
    const name = typeof op === 'string' ? op.toLowerCase() : '';
    if (name !== 'add' && name !== 'remove' && name !== 'replace') {
      throw scimErrors.invalidSyntax(`Operations[${i}].op must be "add", "remove" or "replace"; got ${shown(op)}.`);
    }
    const path = member(raw as Record<string, unknown>, 'path');
    if (path !== undefined && path !== null && typeof path !== 'string') throw scimErrors.invalidPath(`Operations[${i}].path must be a string.`);
    const hasValue = Object.keys(raw).some((k) => k.toLowerCase() === 'value');
    const parsed: { -readonly [K in keyof PatchOperation]: PatchOperation[K] } = { op: name, hasValue };
    if (typeof path === 'string' && path.trim() !== '') parsed.path = { ...parsePath(path.trim()), text: path.trim() };
    if (hasValue) parsed.value = member(raw as Record<string, unknown>, 'value');
    return parsed;
  });
}
