/**
 * Replays an identity provider's documented requests against an in-process server, with a token of that IdP's
 * dialect. Each step names the documentation page (URL and section) it is copied from; method, path, headers and
 * body are the page's own. Pages write paths relative to the SCIM base URL (`/Users`) or under it
 * (`/scim/v2/Users`); both mean the server's `/scim/v2`. The bearer token stands for the page's
 * `Authorization: <credentials>`. Where a page shows no `Content-Type` for a request with a body, none is sent:
 * scimd reads such a body as JSON.
 */
import type { Dialect } from '../../src/core/tokens.js';
import { testServer, type Response, type TestServer, testToken } from '../helpers.js';

export interface Step {
  /** The documentation page and section the request is copied from. */
  readonly doc: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** As documented; a query written with spaces and quotes is percent-encoded as an HTTP client would send it. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export interface Replay {
  readonly server: TestServer;
  send(step: Step): Promise<Response>;
  /** GET with the same token, to check the stored state after a step. */
  get(path: string): Promise<Response>;
}

function url(path: string): string {
  const [base, query] = path.split(/\?(.*)/s, 2) as [string, string | undefined];
  const under = base.startsWith('/scim/v2') ? base : `/scim/v2${base}`;
  return query === undefined ? under : `${under}?${query.replace(/[ "]/g, (c) => encodeURIComponent(c))}`;
}

export async function replay(dialect: Dialect): Promise<Replay> {
  const server = await testServer();
  const { token } = await testToken(server.store, { name: dialect, dialect });
  const authorization = `Bearer ${token}`;
  const send = async (step: Step): Promise<Response> => {
    const payload = step.body === undefined ? undefined : JSON.stringify(step.body);
    const given = Object.fromEntries(Object.entries(step.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const headers: Record<string, string> = { ...given, authorization };
    const res = await server.app.inject({ method: step.method, url: url(step.path), headers, ...(payload !== undefined ? { payload } : {}) });
    let body: unknown;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body, text: res.body };
  };
  return { server, send, get: (path) => send({ doc: 'state check', method: 'GET', path }) };
}
