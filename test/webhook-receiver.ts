/** A webhook receiver on loopback for event tests: records deliveries, answers 503 while `down`, can hold answers. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LifecycleEvent } from '../src/core/events.js';
import { SIGNATURE_HEADER, verifySignature } from '../src/events/webhook.js';

export interface Receiver {
  readonly url: string;
  /** Every delivery that was answered 2xx, in arrival order. */
  readonly received: LifecycleEvent[];
  /** Every attempt, answered or refused. */
  attempts: number;
  /** While true, answers 503. */
  down: boolean;
  /** While set, deliveries wait this long before they are answered. */
  holdMs: number;
  /** Resolves once `n` distinct events have been received. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  let server: Server;
  const receiver: Receiver = {
    url: '',
    received: [],
    attempts: 0,
    down: false,
    holdMs: 0,
    async waitFor(n, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (new Set(receiver.received.map((e) => e.id)).size < n) {
        if (Date.now() > until) throw new Error(`received ${receiver.received.length} of ${n} events`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      receiver.attempts++;
      if (receiver.holdMs > 0) await new Promise((r) => setTimeout(r, receiver.holdMs));
      if (receiver.down) return res.writeHead(503).end();
      const signature = req.headers[SIGNATURE_HEADER];
      if (!verifySignature(secret, Array.isArray(signature) ? signature[0] : signature, body)) return res.writeHead(401).end();
      receiver.received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
