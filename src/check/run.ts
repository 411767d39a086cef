/**
 * The conformance checker's engine: runs checks against a SCIM server through scimd/client, records what each sent
 * and what came back, and removes every resource it made (named with its own prefix), also when stopped early.
 * A check of a feature the server does not advertise is "not supported", never "failed".
 */
import { randomBytes } from 'node:crypto';
import { ScimClient, ScimClientError, type ServerFeatures } from '../client/index.js';

export type Idp = 'rfc' | 'entra' | 'okta';
export const IDPS: readonly Idp[] = ['rfc', 'entra', 'okta'];

export type Outcome = 'passed' | 'failed' | 'not supported';

export interface Exchange {
  /** `METHOD URL` and the body sent, if any. */
  readonly sent: string;
  /** The status and the body that came back (cut after 2,000 characters), or why nothing did. */
  readonly received: string;
}

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  /** The RFC section the check rests on. */
  readonly rfc: string;
  readonly outcome: Outcome;
  /** Why it failed or is not supported. */
  readonly reason?: string;
  readonly exchanges: readonly Exchange[];
}

export interface Report {
  readonly server: string;
  readonly idp: Idp;
  readonly results: readonly CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly notSupported: number;
  /** The resources made and not removed again (none, unless the server refused to delete them). */
  readonly leftBehind: readonly string[];
}

/** What a check uses: the client, the server's features, and resources it makes (removed after the run). */
export interface CheckContext {
  readonly client: ScimClient;
  /** The same server without credentials. */
  readonly anonymous: ScimClient;
  readonly features: ServerFeatures;
  /** Unique to this run: every resource the checker makes has a name that starts with it. */
  readonly prefix: string;
  /** Records a resource made, so that it is removed after the run. */
  made(endpoint: string, id: string): void;
  /** Records a resource removed by the check itself. */
  removed(endpoint: string, id: string): void;
}

export interface Check {
  readonly id: string;
  readonly title: string;
  readonly rfc: string;
  /** Checked only for this IdP (`--idp`); others are checked for every one. */
  readonly idp?: Exclude<Idp, 'rfc'>;
  /** Run only when `--only` names this id exactly: it makes thousands of resources. */
  readonly optIn?: boolean;
  run(ctx: CheckContext): Promise<void>;
}

/** A check's expectation that did not hold. */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
}

/** The server does not advertise what the check needs. */
export class NotSupported extends Error {
  override name = 'NotSupported';
}

export function expectThat(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckFailure(message);
}

export interface RunOptions {
  readonly url: string;
  readonly token: string;
  readonly idp: Idp;
  /** Check ids, or their prefixes before a dot (`users`, `filter.eq`). */
  readonly only?: readonly string[];
  /** Aborted (SIGINT): no further check starts; what was made is removed. */
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
}

const cut = (text: string) => (text.length > 2000 ? `${text.slice(0, 2000)}…` : text);

export function selected(checks: readonly Check[], idp: Idp, only: readonly string[] | undefined): Check[] {
  const named = (c: Check) => only !== undefined && only.includes(c.id);
  const chosen = (c: Check) => only === undefined || only.some((o) => c.id === o || c.id.startsWith(`${o}.`));
  return checks.filter((c) => (c.idp === undefined || c.idp === idp) && (c.optIn ? named(c) : chosen(c)));
}

/** `work` on each item, `width` at a time. */
async function eachAtOnce<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export async function runChecks(checks: readonly Check[], options: RunOptions): Promise<Report> {
  const baseFetch = options.fetch ?? globalThis.fetch;
  let exchanges: Exchange[] = [];
  const recording: typeof fetch = async (input, init) => {
    const sent = `${init?.method ?? 'GET'} ${String(input)}${typeof init?.body === 'string' ? `\n${cut(init.body)}` : ''}`;
    try {
      const res = await baseFetch(input, init);
      exchanges.push({ sent, received: `${res.status}\n${cut(await res.clone().text())}` });
      return res;
    } catch (e) {
      exchanges.push({ sent, received: `no answer: ${e instanceof Error ? e.message : String(e)}` });
      throw e;
    }
  };
  const client = new ScimClient({ baseUrl: options.url, credentials: { bearer: options.token }, fetch: recording, retry: { retries: 2 } });
  const anonymous = new ScimClient({ baseUrl: options.url, fetch: recording, retry: { retries: 0 } });
  const prefix = `scimd-check-${randomBytes(4).toString('hex')}-`;
  const made = new Map<string, { endpoint: string; id: string }>();
  const results: CheckResult[] = [];
  let features: ServerFeatures | undefined;
  try {
    for (const check of selected(checks, options.idp, options.only)) {
      if (options.signal?.aborted) break;
      exchanges = [];
      let outcome: Outcome = 'passed';
      let reason: string | undefined;
      try {
        features ??= (await client.discover()).features;
        await check.run({
          client, anonymous, features, prefix,
          made: (endpoint, id) => made.set(`${endpoint}/${id}`, { endpoint, id }),
          removed: (endpoint, id) => made.delete(`${endpoint}/${id}`),
        });
      } catch (e) {
        outcome = e instanceof NotSupported ? 'not supported' : 'failed';
        reason = e instanceof Error ? e.message : String(e);
      }
      results.push({ id: check.id, title: check.title, rfc: check.rfc, outcome, ...(reason !== undefined ? { reason } : {}), exchanges });
    }
  } finally {
    const remove = async ({ endpoint, id }: { endpoint: string; id: string }) => {
      try {
        await client.resources(endpoint).delete(id);
        made.delete(`${endpoint}/${id}`);
      } catch (e) {
        // gone already (a check removed it without saying); anything else is reported as left behind
        if (e instanceof ScimClientError && e.status === 404) made.delete(`${endpoint}/${id}`);
      }
    };
    // groups first, one by one: removing a user first would change the groups it is in; then the rest a few at a
    // time, since groups.scale leaves thousands of users
    const all = [...made.values()];
    for (const group of all.filter((r) => r.endpoint === 'Groups')) await remove(group);
    await eachAtOnce(all.filter((r) => r.endpoint !== 'Groups'), 8, remove);
  }
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  return {
    server: options.url, idp: options.idp, results,
    passed: count('passed'), failed: count('failed'), notSupported: count('not supported'),
    leftBehind: [...made.keys()],
  };
}
