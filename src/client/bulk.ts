/**
 * Bulk (RFC 7644 §3.7) of any size. The operations are sent in chunks that fit the server's `maxOperations` and
 * `maxPayloadSize`; a `bulkId:x` naming a POST of an earlier chunk is replaced by the id that POST got before its
 * chunk is sent; `failOnErrors` counts the errors of every chunk. Where the server has no Bulk, the same run goes
 * as single requests, one operation a chunk.
 */
import { scimErrors } from '../core/errors.js';
import { BULK_ID, bulkIdsIn, resolved } from '../core/bulk.js';
import { SCHEMA_URN } from '../core/schema/registry.js';
import { answerError, type ScimClientError } from './errors.js';
import type { PatchOpBody, PatchRequest } from './patch.js';

export type BulkMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface BulkOperation {
  readonly method: BulkMethod;
  /** `/Users` for a POST, `/Users/{id}` (or `/Users/bulkId:x`) otherwise. */
  readonly path: string;
  readonly bulkId?: string;
  /** The operation's If-Match. */
  readonly version?: string;
  readonly data?: unknown;
}

export interface BulkOutcome {
  readonly method: BulkMethod;
  /** The path as sent, with references resolved. */
  readonly path: string;
  readonly bulkId?: string;
  readonly status: number;
  readonly location?: string;
  /** The resource's id: a POST's new id, read from its location. */
  readonly id?: string;
  readonly version?: string;
  /** The SCIM error of a failed operation. */
  readonly error?: ScimClientError;
}

export interface BulkLimits {
  readonly maxOperations: number;
  readonly maxPayloadSize: number;
}

/** Sends one chunk; answers an outcome per operation run, in order (fewer when failOnErrors stopped it). */
export type ChunkSender = (operations: readonly BulkOperation[], failOnErrors: number | undefined) => Promise<BulkOutcome[]>;

/** `bulkId:x`, to use as a value or in a path before x exists. */
export const bulkRef = (bulkId: string) => `${BULK_ID}${bulkId}`;

const segment = (id: string) => (id.startsWith(BULK_ID) ? id : encodeURIComponent(id));

export class BulkRequest {
  readonly operations: BulkOperation[] = [];

  post(endpoint: string, data: unknown, bulkId?: string): this {
    this.operations.push({ method: 'POST', path: `/${endpoint.replace(/^\/+/, '')}`, data, ...(bulkId !== undefined ? { bulkId } : {}) });
    return this;
  }

  put(endpoint: string, id: string, data: unknown, options: { version?: string } = {}): this {
    return this.push('PUT', endpoint, id, data, options.version);
  }

  patch(endpoint: string, id: string, patch: PatchRequest | PatchOpBody, options: { version?: string } = {}): this {
    return this.push('PATCH', endpoint, id, 'toJSON' in patch ? patch.toJSON() : patch, options.version);
  }

  delete(endpoint: string, id: string, options: { version?: string } = {}): this {
    return this.push('DELETE', endpoint, id, undefined, options.version);
  }

  private push(method: BulkMethod, endpoint: string, id: string, data: unknown, version: string | undefined): this {
    this.operations.push({
      method, path: `/${endpoint.replace(/^\/+/, '')}/${segment(id)}`,
      ...(data !== undefined ? { data } : {}), ...(version !== undefined ? { version } : {}),
    });
    return this;
  }
}

export function bulkBody(operations: readonly BulkOperation[], failOnErrors: number | undefined): unknown {
  return { schemas: [SCHEMA_URN.bulkRequest], ...(failOnErrors !== undefined ? { failOnErrors } : {}), Operations: operations };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** The last segment of a resource's location: its id. */
export function idOf(location: string | undefined): string | undefined {
  const last = location?.replace(/\/+$/, '').split('/').pop();
  return last === undefined || last === '' ? undefined : decodeURIComponent(last);
}

/** The outcomes of a BulkResponse (RFC 7644 §3.7.3), matched to the operations sent and in their order. */
export function bulkOutcomes(sent: readonly BulkOperation[], body: unknown, url: string): BulkOutcome[] {
  const answered = (typeof body === 'object' && body !== null ? (body as Record<string, unknown>).Operations : undefined) as unknown;
  if (!Array.isArray(answered)) throw answerError({ method: 'POST', url }, 200, body);
  const placed = answered.slice(0, sent.length).map((raw, i): [number, BulkOutcome] => {
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    // matched by bulkId where the answer carries one (§3.7.3 does not promise request order), else by place
    const byBulkId = typeof r.bulkId === 'string' ? sent.findIndex((o) => o.bulkId === r.bulkId) : -1;
    const at = byBulkId === -1 ? i : byBulkId;
    const op = sent[at]!;
    const status = Number(r.status);
    const location = typeof r.location === 'string' ? r.location : undefined;
    const id = idOf(op.method === 'POST' ? location : op.path);
    return [at, {
      method: op.method, path: op.path, status,
      ...(op.bulkId !== undefined ? { bulkId: op.bulkId } : {}),
      ...(location !== undefined ? { location } : {}),
      ...(id !== undefined && status < 300 ? { id } : {}),
      ...(typeof r.version === 'string' ? { version: r.version } : {}),
      ...(status >= 300 || !(status >= 200) ? { error: answerError({ method: op.method, url: op.path }, status, r.response) } : {}),
    }];
  });
  return placed.sort((a, b) => a[0] - b[0]).map(([, outcome]) => outcome);
}

/** The operation with the bulkIds known so far replaced by their ids, in its path and its data. */
function withIds(op: BulkOperation, ids: ReadonlyMap<string, string>): BulkOperation {
  if (ids.size === 0) return op;
  const at = op.path.lastIndexOf('/');
  const last = op.path.slice(at + 1);
  const id = last.startsWith(BULK_ID) ? ids.get(last.slice(BULK_ID.length)) : undefined;
  return {
    ...op,
    ...(id !== undefined ? { path: `${op.path.slice(0, at)}/${encodeURIComponent(id)}` } : {}),
    ...(op.data !== undefined ? { data: resolved(op.data, ids) } : {}),
  };
}

/**
 * Runs the operations in chunks. A reference to a POST further on (which the server resolves within one request)
 * is allowed only when everything goes in one request: across chunks the earlier chunk would be sent unresolved.
 */
export async function runChunked(
  operations: readonly BulkOperation[],
  limits: BulkLimits,
  options: { failOnErrors?: number },
  send: ChunkSender,
): Promise<BulkOutcome[]> {
  const envelope = bytes(bulkBody([], options.failOnErrors));
  const sizes = operations.map(bytes);
  const oneRequest = operations.length <= limits.maxOperations && envelope + sizes.reduce((a, b) => a + b + 1, 0) <= limits.maxPayloadSize;
  if (!oneRequest) {
    const definedAt = new Map(operations.flatMap((op, i) => (op.method === 'POST' && op.bulkId !== undefined ? [[op.bulkId, i] as const] : [])));
    operations.forEach((op, i) => {
      const refs = bulkIdsIn([op.path.split('/').pop(), op.data]) ?? new Set();
      for (const ref of refs) {
        if ((definedAt.get(ref) ?? -1) > i) {
          throw scimErrors.invalidValue(`Operation ${i} names "bulkId:${ref}" before the POST that defines it; in a Bulk run of several requests, put the POST first.`);
        }
      }
    });
  }
  const ids = new Map<string, string>();
  const outcomes: BulkOutcome[] = [];
  let errors = 0;
  let next = 0;
  const budget = options.failOnErrors ?? Infinity;
  while (next < operations.length && errors < budget) {
    const chunk: BulkOperation[] = [];
    let size = envelope;
    while (next + chunk.length < operations.length && chunk.length < limits.maxOperations) {
      const op = withIds(operations[next + chunk.length]!, ids);
      const more = bytes(op) + (chunk.length > 0 ? 1 : 0);
      if (size + more > limits.maxPayloadSize) {
        if (chunk.length === 0) throw scimErrors.tooLarge(`Operation ${next} alone is larger than the server's maxPayloadSize (${limits.maxPayloadSize} bytes).`);
        break;
      }
      chunk.push(op);
      size += more;
    }
    const answered = await send(chunk, options.failOnErrors === undefined ? undefined : budget - errors);
    for (const outcome of answered) {
      if (outcome.error) errors++;
      else if (outcome.method === 'POST' && outcome.bulkId !== undefined && outcome.id !== undefined) ids.set(outcome.bulkId, outcome.id);
      outcomes.push(outcome);
    }
    next += chunk.length;
    // the server stopped at failOnErrors, or answered fewer operations than it was sent
    if (answered.length < chunk.length) break;
  }
  return outcomes;
}
