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

/**
 * Sends one chunk, whose first operation is the run's `start`-th; answers an outcome per operation run, in order
 * (fewer when failOnErrors stopped it).
 */
export type ChunkSender = (operations: readonly BulkOperation[], failOnErrors: number | undefined, start: number) => Promise<BulkOutcome[]>;

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
  const sentAt = new Map<string, number>();
  sent.forEach((o, i) => {
    if (o.bulkId !== undefined && !sentAt.has(o.bulkId)) sentAt.set(o.bulkId, i);
  });
  const placed = answered.slice(0, sent.length).map((raw, i): [number, BulkOutcome] => {
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    // matched by bulkId where the answer carries one (§3.7.3 does not promise request order), else by place
    const byBulkId = typeof r.bulkId === 'string' ? (sentAt.get(r.bulkId) ?? -1) : -1;
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
 * Runs the operations in chunks, up to `concurrency` chunks in flight (1 by default; always 1 with `failOnErrors`,
 * whose count runs across chunks). A chunk naming a POST of an earlier chunk by bulkId waits for that chunk's answer,
 * so the id can replace the reference. A reference to a POST further on (which the server resolves within one
 * request) is allowed only when everything goes in one request: across chunks the earlier chunk would be sent
 * unresolved.
 */
export async function runChunked(
  operations: readonly BulkOperation[],
  limits: BulkLimits,
  options: { failOnErrors?: number; concurrency?: number },
  send: ChunkSender,
): Promise<BulkOutcome[]> {
  const envelope = bytes(bulkBody([], options.failOnErrors));
  const oneRequest = operations.length <= limits.maxOperations && envelope + operations.reduce((a, op) => a + bytes(op) + 1, 0) <= limits.maxPayloadSize;
  const definedAt = new Map<string, number>();
  const refsOf: Array<ReadonlySet<string>> = [];
  if (!oneRequest) {
    operations.forEach((op, i) => {
      if (op.method === 'POST' && op.bulkId !== undefined) definedAt.set(op.bulkId, i);
    });
    operations.forEach((op, i) => {
      const refs = bulkIdsIn([op.path.split('/').pop(), op.data]) ?? new Set<string>();
      for (const ref of refs) {
        if ((definedAt.get(ref) ?? -1) > i) {
          throw scimErrors.invalidValue(`Operation ${i} names "bulkId:${ref}" before the POST that defines it; in a Bulk run of several requests, put the POST first.`);
        }
      }
      refsOf[i] = refs;
    });
  }
  const concurrency = options.failOnErrors === undefined ? Math.max(1, Math.floor(options.concurrency ?? 1)) : 1;
  const ids = new Map<string, string>();
  /** Each chunk's outcomes, by its place. */
  const answers: BulkOutcome[][] = [];
  /** The chunks sent and not yet answered: the index of their first operation, and their answer. */
  const inFlight = new Map<number, { end: number; answered: Promise<void> }>();
  let errors = 0;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let next = 0;
  const budget = options.failOnErrors ?? Infinity;
  /** Waits for the chunk in flight that holds operation `at`, if any. */
  const settled = async (at: number) => {
    for (const [start, chunk] of inFlight) if (start <= at && at < chunk.end) await chunk.answered;
  };
  while (next < operations.length && errors < budget && !stopped && failure === undefined) {
    const chunk: BulkOperation[] = [];
    let size = envelope;
    while (next + chunk.length < operations.length && chunk.length < limits.maxOperations) {
      const at = next + chunk.length;
      for (const ref of refsOf[at] ?? []) {
        const defined = definedAt.get(ref);
        if (defined !== undefined && defined < next) await settled(defined);
      }
      const op = refsOf[at]?.size ? withIds(operations[at]!, ids) : operations[at]!;
      const more = bytes(op) + (chunk.length > 0 ? 1 : 0);
      if (size + more > limits.maxPayloadSize) {
        // thrown once the chunks in flight are answered
        if (chunk.length === 0) failure = { error: scimErrors.tooLarge(`Operation ${at} alone is larger than the server's maxPayloadSize (${limits.maxPayloadSize} bytes).`) };
        break;
      }
      chunk.push(op);
      size += more;
    }
    if (stopped || failure !== undefined) break;
    const start = next;
    const place = answers.length;
    answers.push([]);
    const answered = send(chunk, options.failOnErrors === undefined ? undefined : budget - errors, start).then(
      (outcomes) => {
        for (const outcome of outcomes) {
          if (outcome.error) errors++;
          else if (outcome.method === 'POST' && outcome.bulkId !== undefined && outcome.id !== undefined) ids.set(outcome.bulkId, outcome.id);
        }
        answers[place] = outcomes;
        // the server stopped at failOnErrors, or answered fewer operations than it was sent
        if (outcomes.length < chunk.length) stopped = true;
      },
      (error: unknown) => {
        failure ??= { error };
      },
    ).finally(() => inFlight.delete(start));
    inFlight.set(start, { end: start + chunk.length, answered });
    next += chunk.length;
    while (inFlight.size >= concurrency) await Promise.race([...inFlight.values()].map((c) => c.answered));
  }
  await Promise.all([...inFlight.values()].map((c) => c.answered));
  if (failure !== undefined) throw failure.error;
  // every chunk answered, in order (one sent before another chunk stopped short was run all the same)
  return answers.flat();
}
