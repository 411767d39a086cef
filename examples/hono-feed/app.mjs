#!/usr/bin/env node
// An application that prefers to pull: scimd's SCIM API in a Hono route (scimd/fetch), and a loop that reads the
// events feed with a cursor and keeps the application's own view of who may sign in. The cursor is saved with the
// view, so after a restart the loop goes on where it stopped and misses nothing.
// Run from a clone after `npm run build` (or with scimd installed): DATA_DIR=./data PORT=3000 node app.mjs
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createScimd, openStore, EVERY_ORGANIZATION } from 'scimd';
import { createFetchHandler } from 'scimd/fetch';

const dataDir = process.env.DATA_DIR ?? './data';
mkdirSync(dataDir, { recursive: true });
const store = await openStore(process.env.SCIMD_DATABASE || join(dataDir, 'scimd.db'));
const scimd = createScimd({ store, feed: true });

// The application's view: user id → { userName, active }, and the feed cursor it is up to date with.
const viewFile = join(dataDir, 'view.json');
let view = { cursor: undefined, users: {} };
try {
  view = JSON.parse(readFileSync(viewFile, 'utf8'));
} catch {
  // first start: an empty view, read from the feed's beginning
}

async function follow() {
  for (;;) {
    try {
      const page = await scimd.feed({ after: view.cursor, limit: 500 });
      for (const event of page.events) {
        const id = event.resource.id;
        if (event.type === 'user.created' || event.type === 'user.updated' || event.type === 'user.reactivated' || event.type === 'user.deactivated') {
          const user = await scimd.directory(event.organization).getUser(id).catch(() => undefined);
          if (user) view.users[id] = { userName: user.userName, active: user.active !== false };
        } else if (event.type === 'user.deleted') delete view.users[id];
      }
      view.cursor = page.cursor;
      writeFileSync(viewFile, JSON.stringify(view)); // the cursor with what was read up to it
      if (!page.more) await new Promise((r) => setTimeout(r, 200));
    } catch (err) {
      console.error('feed:', err.message); // e.g. expiredCursor after a long outage: rebuild the view, then go on
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
void follow();

const org = (await scimd.admin.organizations(EVERY_ORGANIZATION)).find((o) => o.name === 'customer')
  ?? (await scimd.admin.createOrganization({ tokenName: 'hono-feed' }, EVERY_ORGANIZATION, 'customer'));
if ((await scimd.admin.tokens(EVERY_ORGANIZATION, { organization: org.name })).length === 0) {
  const { token } = await scimd.admin.createToken({ tokenName: 'hono-feed' }, EVERY_ORGANIZATION, { organization: org.name, name: 'identity provider' });
  console.log(`SCIM token for your identity provider (shown once): ${token}`);
}

const scim = createFetchHandler({ handler: scimd.handler, prefix: '/scim/v2' });
const app = new Hono();
app.all('/scim/v2/*', (c) => scim(c.req.raw));
app.all('/scim/v2', (c) => scim(c.req.raw));
app.get('/may-sign-in/:userName', (c) => {
  const user = Object.values(view.users).find((u) => u.userName === c.req.param('userName'));
  return c.json({ userName: c.req.param('userName'), allowed: Boolean(user?.active) });
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => console.log(`listening on ${info.port}`));
