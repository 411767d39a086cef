#!/usr/bin/env node
// An application receiving scimd's lifecycle events: it checks each delivery's signature, ignores replays and
// repeats (deliveries are at least once), and revokes a user's sessions the moment scimd says the user lost access.
// Run: SCIMD_WEBHOOK_SECRET=… PORT=9000 node receiver.mjs, and serve scimd with SCIMD_WEBHOOK_URL=http://127.0.0.1:9000/scim-events
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.SCIMD_WEBHOOK_SECRET;
if (!secret) throw new Error('set SCIMD_WEBHOOK_SECRET to the secret scimd signs with');
const TOLERANCE_SECONDS = 300;

/** scimd-signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>"> */
function genuine(header, body) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m || Math.abs(Date.now() / 1000 - Number(m[1])) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
}

// Your application's session store; here, in memory.
const sessions = new Map(); // user id → session ids
const seen = new Set(); // event ids already processed (keep them at least as long as the signature tolerance)

function revokeSessions(userId, why) {
  const revoked = sessions.get(userId)?.size ?? 0;
  sessions.delete(userId);
  console.log(`revoked ${revoked} session(s) of user ${userId} (${why})`);
}

const handlers = {
  'user.deactivated': (e) => revokeSessions(e.resource.id, e.type),
  'user.deleted': (e) => revokeSessions(e.resource.id, e.type),
  // losing a group can mean losing access granted through it: re-check that user's authorizations
  'group.member_removed': (e) => console.log(`user ${e.member.id} left group ${e.resource.id}: re-check their access`),
};

createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    // stand-in for the application's sign-in: POST /sessions {"user": "<scim id>"}
    if (req.method === 'POST' && req.url === '/sessions') {
      const { user } = JSON.parse(body);
      if (!sessions.has(user)) sessions.set(user, new Set());
      sessions.get(user).add(Math.random().toString(36).slice(2));
      return res.writeHead(201).end();
    }
    if (req.method !== 'POST' || !genuine(req.headers['scimd-signature'], body)) return res.writeHead(401).end();
    const event = JSON.parse(body);
    if (!seen.has(event.id)) {
      seen.add(event.id);
      handlers[event.type]?.(event);
    }
    res.writeHead(204).end(); // any 2xx: delivered; anything else and scimd tries again later
  });
}).listen(Number(process.env.PORT ?? 9000), '127.0.0.1', () => console.log('listening'));

