/** A small HTTP server for the client's tests: each request goes to `answer`, which may also cut the connection. */
import { createServer, type IncomingMessage } from 'node:http';

export interface LocalRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface LocalAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface LocalServer {
  readonly url: string;
  readonly requests: LocalRequest[];
  close(): Promise<void>;
}

/** `answer` returns 'cut' to destroy the connection without answering. */
export async function localServer(answer: (req: LocalRequest) => Promise<LocalAnswer | 'cut'> | LocalAnswer | 'cut'): Promise<LocalServer> {
  const requests: LocalRequest[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
    requests.push(request);
    const out = await answer(request);
    if (out === 'cut') {
      req.socket.destroy();
      return;
    }
    const text = out.body === undefined ? '' : typeof out.body === 'string' ? out.body : JSON.stringify(out.body);
    res.writeHead(out.status, { ...(text ? { 'content-type': 'application/scim+json' } : {}), ...out.headers });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
