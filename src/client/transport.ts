/**
 * One SCIM request over fetch: authentication, the SCIM media type, JSON both ways, and retries. 429 and 503 are sent
 * again after the server's Retry-After (seconds or an HTTP-date, RFC 9110 §10.2.3) or an exponential backoff with
 * full jitter; a request that got no answer is sent again only when it is idempotent (GET, PUT, DELETE: RFC 9110
 * §9.2.2), since a POST or PATCH may have been applied before the connection failed. Any answer other than 2xx
 * becomes a ScimClientError.
 */
import { authorizer, type Authorizer, type Credentials } from './auth.js';
import { answerError, ScimTransportError } from './errors.js';

export interface RetryOptions {
  /** How many times a request is sent again at most (default 3). */
  readonly retries?: number;
  /** The first backoff's ceiling; each retry doubles it (default 200 ms). */
  readonly baseDelayMs?: number;
  /** The longest wait; a Retry-After asking for more ends the retries with the error (default 30 s). */
  readonly maxDelayMs?: number;
  /** Send POST and PATCH again after a network error too (they may have been applied; default false). */
  readonly nonIdempotent?: boolean;
}

export interface TransportOptions {
  /** The SCIM base URL, e.g. `https://example.com/scim/v2`. */
  readonly baseUrl: string;
  readonly credentials?: Credentials;
  readonly retry?: RetryOptions;
  /** Each attempt's time limit (default 60 s, the answer time Entra ID allows). */
  readonly timeoutMs?: number;
  /** A fetch of your own (a proxy agent, tests); the global fetch by default. */
  readonly fetch?: typeof fetch;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body; undefined when there is none (204). */
  readonly body: unknown;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Milliseconds a Retry-After value asks for: delay-seconds or an HTTP-date; undefined when it is neither. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Transport {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly auth: Authorizer;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly nonIdempotent: boolean;
  private readonly timeoutMs: number;

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.auth = authorizer(options.credentials, this.fetchFn);
    this.retries = options.retry?.retries ?? 3;
    this.baseDelayMs = options.retry?.baseDelayMs ?? 200;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 30_000;
    this.nonIdempotent = options.retry?.nonIdempotent ?? false;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** `path` below the base URL (`Users/2819c223`), its segments already encoded. */
  url(path: string, query: RequestOptions['query'] = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const search = params.toString();
    return `${this.baseUrl}/${path.replace(/^\/+/, '')}${search ? `?${search}` : ''}`;
  }

  private backoff(attempt: number): number {
    return Math.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const url = this.url(path, options.query);
    const line = { method, url };
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.header();
      const headers: Record<string, string> = {
        accept: 'application/scim+json, application/json',
        ...(payload !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...(authorization !== undefined ? { authorization } : {}),
        ...options.headers,
      };
      let res: Response;
      let text: string;
      try {
        res = await this.fetchFn(url, { method, headers, ...(payload !== undefined ? { body: payload } : {}), signal: AbortSignal.timeout(this.timeoutMs) });
        text = await res.text();
      } catch (e) {
        if (attempt < this.retries && (IDEMPOTENT.has(method) || this.nonIdempotent)) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw new ScimTransportError(line, e);
      }
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      if (res.status === 401 && !renewed && this.auth.renew()) {
        renewed = true;
        attempt--;
        continue;
      }
      if ((res.status === 429 || res.status === 503) && attempt < this.retries) {
        const asked = retryAfterMs(res.headers.get('retry-after'));
        if (asked === undefined || asked <= this.maxDelayMs) {
          // after Retry-After, a little jitter, so that the clients it was sent to do not all come back at once
          await sleep(asked === undefined ? this.backoff(attempt) : asked + Math.random() * this.baseDelayMs);
          continue;
        }
      }
      if (res.status < 200 || res.status > 299) throw answerError(line, res.status, body);
      return { status: res.status, headers: res.headers, body };
    }
  }
}
