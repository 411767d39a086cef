#!/usr/bin/env node
// A SaaS application that lets its customers' identity providers provision it: its own users, sessions and teams,
// with scimd mounted at /scim/v2 and in-process hooks keeping the application's tables in step with the directory.
// A user deactivated in the IdP loses every session at once; a group becomes a team with the same members.
// Run from a clone after `npm run build` (or with scimd installed): DATA_DIR=./data PORT=3000 node app.mjs
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import express from 'express';
import { createScimd, openStore, EVERY_ORGANIZATION } from 'scimd';
import { createNodeHandler } from 'scimd/node';

const dataDir = process.env.DATA_DIR ?? './data';
mkdirSync(dataDir, { recursive: true });

// The application's own tables.
const db = new Database(join(dataDir, 'app.db'));
db.exec(`
  CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, user_name TEXT NOT NULL, display_name TEXT, active INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, name TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS team_members (team_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (team_id, user_id));
`);
const endSessions = db.prepare('DELETE FROM sessions WHERE user_id = ?');

// scimd on its own file beside them (or PostgreSQL: SCIMD_DATABASE=postgres://…). Hooks run after each change
// commits, at least once: each is idempotent.
const store = await openStore(process.env.SCIMD_DATABASE || join(dataDir, 'scimd.db'));
const scimd = createScimd({
  store,
  publicUrl: process.env.PUBLIC_URL,
  on: {
    'user.created': (e) => saveUser(e.organization, e.resource.id),
    'user.updated': (e) => saveUser(e.organization, e.resource.id),
    'user.reactivated': (e) => saveUser(e.organization, e.resource.id),
    'user.deactivated': (e) => {
      db.prepare('UPDATE users SET active = 0 WHERE id = ?').run(e.resource.id);
      const ended = endSessions.run(e.resource.id).changes;
      console.log(`user ${e.resource.id} deactivated: ${ended} session(s) ended`);
    },
    'user.deleted': (e) => {
      endSessions.run(e.resource.id);
      db.prepare('DELETE FROM team_members WHERE user_id = ?').run(e.resource.id);
      db.prepare('DELETE FROM users WHERE id = ?').run(e.resource.id);
    },
    'group.created': (e) => saveTeam(e.organization, e.resource.id),
    'group.updated': (e) => saveTeam(e.organization, e.resource.id),
    'group.deleted': (e) => {
      db.prepare('DELETE FROM team_members WHERE team_id = ?').run(e.resource.id);
      db.prepare('DELETE FROM teams WHERE id = ?').run(e.resource.id);
    },
    'group.member_added': (e) => void db.prepare('INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?, ?)').run(e.resource.id, e.member.id),
    'group.member_removed': (e) => void db.prepare('DELETE FROM team_members WHERE team_id = ? AND user_id = ?').run(e.resource.id, e.member.id),
  },
});

/** The user as the directory has it now (a later event may already have changed it: the newest state wins). */
async function saveUser(orgId, id) {
  const user = await scimd.directory(orgId).getUser(id).catch(() => undefined);
  if (!user) return; // deleted since: its user.deleted event follows
  db.prepare('INSERT INTO users (id, user_name, display_name, active) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, display_name = excluded.display_name, active = excluded.active')
    .run(id, user.userName, user.displayName ?? null, user.active === false ? 0 : 1);
  if (user.active === false) endSessions.run(id);
}

async function saveTeam(orgId, id) {
  const group = await scimd.directory(orgId).getGroup(id, { excludedAttributes: 'members' }).catch(() => undefined);
  if (group) db.prepare('INSERT INTO teams (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name').run(id, group.displayName);
}

// The customer's organization and the token its IdP uses, made once; the token is shown once, on the first start.
const org = (await scimd.admin.organizations(EVERY_ORGANIZATION)).find((o) => o.name === 'customer')
  ?? (await scimd.admin.createOrganization({ tokenName: 'express-app' }, EVERY_ORGANIZATION, 'customer'));
if ((await scimd.admin.tokens(EVERY_ORGANIZATION, { organization: 'customer' })).length === 0) {
  const { token } = await scimd.admin.createToken({ tokenName: 'express-app' }, EVERY_ORGANIZATION, { organization: org.name, name: 'identity provider' });
  console.log(`SCIM token for your identity provider (shown once): ${token}`);
}

const app = express();
app.use('/scim/v2', createNodeHandler({ handler: scimd.handler })); // before any body parser: scimd reads its own bodies

const sessionOf = (req) => /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];

// Sign-in stands in for the application's own (SSO, a password…): only a provisioned, active user gets a session.
app.post('/login', express.json(), (req, res) => {
  const user = db.prepare('SELECT * FROM users WHERE user_name = ? AND active = 1').get(String(req.body?.userName ?? ''));
  if (!user) return res.status(403).json({ error: 'no such active user' });
  const sid = randomUUID();
  db.prepare('INSERT INTO sessions (id, user_id) VALUES (?, ?)').run(sid, user.id);
  res.cookie('sid', sid, { httpOnly: true, sameSite: 'strict' }).status(201).json({ user: user.user_name });
});

app.get('/me', (req, res) => {
  const user = db.prepare('SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?').get(sessionOf(req) ?? '');
  if (!user) return res.status(401).json({ error: 'signed out' });
  const teams = db.prepare('SELECT t.name FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.user_id = ? ORDER BY t.name').all(user.id);
  res.json({ userName: user.user_name, teams: teams.map((t) => t.name) });
});

app.get('/teams', (_req, res) => {
  const teams = db.prepare('SELECT * FROM teams ORDER BY name').all();
  res.json(teams.map((t) => ({ name: t.name, members: db.prepare('SELECT u.user_name FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = ? ORDER BY u.user_name').all(t.id).map((u) => u.user_name) })));
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
const stop = async () => {
  server.close();
  await scimd.close();
  await store.close();
  db.close();
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
