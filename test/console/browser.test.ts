/**
 * The admin console in a real browser (playwright-core driving Debian's chromium, never a downloaded one): what an
 * admin does to connect an IdP, and what must be refused. Screenshots of each page go to a temporary folder, and to
 * docs/screenshots with SCIMD_UPDATE_SCREENSHOTS=1 (the README shows those).
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsole } from '../../src/core/console.js';
import { group, testServer, testToken, user, type TestServer } from '../helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
if (!CHROMIUM && process.env.CI === 'true') throw new Error('chromium is not installed (apt-get install chromium): the console tests cannot run');
if (!CHROMIUM) console.log('console browser tests SKIPPED: no chromium (apt-get install chromium)');

const SHOTS = process.env.SCIMD_UPDATE_SCREENSHOTS === '1'
  ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
  : mkdtempSync(join(tmpdir(), 'scimd-console-shots-'));

describe.skipIf(!CHROMIUM)('the admin console in chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await testServer();
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const address = s.app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  /** A fresh browser context signed in through a sign-in link (the operator's, or an organization admin's). */
  async function signedIn(org?: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
    const organization = org ? await s.store.ensureOrganization(org) : undefined;
    const { secret } = await createConsole(s.store).signInLink('test', organization);
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${base}/console/signin#${secret}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Identity & Provisioning' }).waitFor();
    return page;
  }

  const scim = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${base}/scim/v2${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });

  it('sign in by link, generate a token, use it, see it used, find the user in Users and Activity, test the connection, revoke it', async () => {
    await s.store.ensureOrganization('acme');
    const page = await signedIn('acme');
    expect(await page.getByRole('textbox', { name: 'SCIM base URL' }).inputValue()).toBe('https://scim.example.com/scim/v2');
    await page.screenshot({ path: join(SHOTS, 'identity-and-provisioning.png'), fullPage: true });

    await page.getByLabel('Token name').fill('Okta production');
    await page.getByLabel('Identity provider').first().selectOption({ label: 'Okta' });
    await page.getByRole('button', { name: 'Generate token' }).click();
    const token = (await page.getByLabel('New token').textContent())!.trim();
    expect(token).toMatch(/^scimd_/);
    await page.screenshot({ path: join(SHOTS, 'token-generated.png'), fullPage: true });

    expect((await scim(token, 'POST', '/Users', user('ada.lovelace', { displayName: 'Ada Lovelace', active: true }))).status).toBe(201);
    const ada = (await (await scim(token, 'GET', '/Users?filter=userName%20eq%20%22ada.lovelace%22')).json()).Resources[0].id;
    expect((await scim(token, 'POST', '/Groups', group('Engineering', [ada]))).status).toBe(201);

    await page.reload();
    const row = page.getByRole('row', { name: /Okta production/ });
    await expect.poll(async () => row.getByRole('cell').nth(4).textContent()).not.toBe('—'); // last used
    expect(await row.textContent()).toContain('used last');
    expect(await page.content()).not.toContain(token); // shown once, never again

    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByRole('cell', { name: 'ada.lovelace' }).waitFor();
    await page.getByLabel('Search').fill('ada');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('cell', { name: 'ada.lovelace' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'users.png'), fullPage: true });

    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('cell', { name: 'Engineering' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'groups.png'), fullPage: true });
    await page.getByRole('link', { name: 'Engineering' }).click();
    await page.getByRole('heading', { name: 'Engineering' }).waitFor();
    await page.getByRole('link', { name: 'ada.lovelace' }).click();
    await page.getByRole('heading', { name: 'Ada Lovelace' }).waitFor();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    expect(await page.getByRole('row', { name: /create/ }).count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'user.png'), fullPage: true });

    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    await page.getByRole('cell', { name: new RegExp(ada) }).first().waitFor();
    // live: a change made while the page is open appears without a reload
    expect((await scim(token, 'PATCH', `/Users/${ada}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] })).status).toBe(200);
    await page.getByRole('cell', { name: 'patch' }).first().waitFor({ timeout: 10_000 });
    await page.getByText('Detail').first().click(); // the newest entry: what changed, before and after
    expect(await page.locator('details[open]').first().textContent()).toMatch(/active\s*true\s*→\s*false/);
    await page.getByLabel('Resource type').selectOption({ label: 'Groups' });
    // the list of every type shows groups too: wait for the users to go, not for a group to be there
    await expect.poll(() => page.getByRole('cell', { name: /^User / }).count(), { timeout: 10_000 }).toBe(0);
    await page.getByRole('cell', { name: /^Group / }).first().waitFor();
    await page.getByLabel('Resource type').selectOption({ label: 'All' });
    await page.getByRole('cell', { name: /^User / }).first().waitFor();
    expect(await page.getByRole('cell', { name: /^Token / }).count()).toBe(1); // the console made the token
    await page.getByLabel('Token', { exact: true }).selectOption({ label: 'Okta production' });
    // only what the IdP did with that token: its users and groups, not the console's token
    await expect.poll(async () => [await page.getByRole('cell', { name: /^Token / }).count(), (await page.getByRole('cell', { name: /^User / }).count()) > 0]).toEqual([0, true]);
    await page.getByLabel('Token', { exact: true }).selectOption({ label: 'Any' });
    await page.screenshot({ path: join(SHOTS, 'activity.png'), fullPage: true });

    await page.getByRole('link', { name: 'Identity & Provisioning' }).click();
    await page.getByRole('button', { name: 'Test connection with Okta production' }).click();
    const result = page.getByRole('status', { name: 'Connection test' });
    await result.getByText('Okta would accept these answers.').waitFor();
    expect(await result.getByRole('listitem').count()).toBe(3);
    expect(await result.textContent()).toContain('GET /scim/v2/Users?startIndex=1&count=2');
    await page.screenshot({ path: join(SHOTS, 'test-connection.png'), fullPage: true });

    await page.getByRole('button', { name: 'Revoke Okta production' }).click();
    await page.getByRole('row', { name: /Okta production/ }).getByText(/^Revoked/).waitFor();
    expect((await scim(token, 'GET', '/Users')).status).toBe(401);
    await page.context().close();
  }, 90_000);

  it('a read-only token that expires: made with its access and expiry, listed so, warned of before it ends', async () => {
    await s.store.ensureOrganization('audited');
    const page = await signedIn('audited');
    await page.getByLabel('Token name').fill('auditor');
    await page.getByLabel('Access').selectOption({ label: 'Read only (audit)' });
    await page.getByLabel('Expires').selectOption({ label: 'In 30 days' });
    await page.getByRole('button', { name: 'Generate token' }).click();
    const token = (await page.getByLabel('New token').textContent())!.trim();
    await page.getByRole('button', { name: 'Done' }).click();
    expect((await scim(token, 'GET', '/Users')).status).toBe(200);
    expect((await scim(token, 'POST', '/Users', user('not.by.an.auditor'))).status).toBe(403);
    const row = page.getByRole('row', { name: /^auditor/ });
    await row.waitFor();
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells[2]).toBe('read');
    expect(Math.round((Date.parse(new Date(cells[5]!).toISOString()) - Date.now()) / 86_400_000)).toBe(30);
    expect(await row.textContent()).not.toContain('expires soon');

    // one that ends in three days carries a warning, with what to do in its title
    await testToken(s.store, { organization: 'audited', name: 'ending', expires: new Date(Date.now() + 3 * 86_400_000).toISOString() });
    await page.reload();
    const badge = page.getByRole('row', { name: /^ending/ }).getByText('expires soon');
    expect(await badge.getAttribute('title')).toMatch(/^expires in 2 days \(.*\): make its successor and switch the IdP to it before then$/);
    await page.context().close();
  }, 60_000);

  it('an OAuth client: its token URL, id and secret shown once; the IdP gets access tokens with them; listed as a client', async () => {
    await s.store.ensureOrganization('oauthed');
    const page = await signedIn('oauthed');
    await page.getByLabel('Token name').fill('okta-oauth');
    await page.getByLabel('Authentication').selectOption({ label: 'OAuth 2.0 client credentials' });
    await page.getByRole('button', { name: 'Generate token' }).click();
    const secret = (await page.getByLabel('New token').textContent())!.trim();
    const clientId = (await page.getByLabel('Client ID', { exact: true }).textContent())!.trim();
    expect(await page.getByText('https://scim.example.com/oauth/token').count()).toBe(1); // the server's public URL
    await page.getByRole('button', { name: 'Done' }).click();
    const granted = await fetch(`${base}/oauth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
    });
    expect(granted.status).toBe(200);
    const { access_token: accessToken } = (await granted.json()) as { access_token: string };
    expect((await scim(accessToken, 'GET', '/Users')).status).toBe(200);
    // a trusted issuer made through the admin API is listed beside them, with nothing to test
    const ops = (await testToken(s.store, { name: 'ops', scope: 'operator' })).token;
    const publicKey = await exportSPKI((await generateKeyPair('ES256', { extractable: true })).publicKey);
    const trusted = await s.request('POST', '/admin/api/organizations/oauthed/tokens', { name: 'gateway', trustIssuer: { issuer: 'https://gw.example', audience: 'scimd', publicKey } }, { authorization: `Bearer ${ops}` });
    expect(trusted.status).toBe(201);
    await page.reload();
    const row = page.getByRole('row', { name: /^okta-oauth OAuth client/ });
    await row.waitFor();
    await page.getByRole('row', { name: /^gateway trusted issuer/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Test connection with gateway' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Test connection with okta-oauth' }).click();
    await page.getByRole('status', { name: 'Connection test' }).getByText('would accept these answers').waitFor();
    // the Activity page filters by either, as by any token
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    await expect.poll(async () => page.getByLabel('Token').locator('option').allTextContents()).toEqual(['Any', 'okta-oauth', 'gateway']);
    await page.context().close();
  }, 60_000);

  it('rotation: two live tokens, the list says which one the IdP used last', async () => {
    await s.store.ensureOrganization('rotating');
    const page = await signedIn('rotating');
    const make = async (name: string) => {
      await page.getByLabel('Token name').fill(name);
      await page.getByRole('button', { name: 'Generate token' }).click();
      const t = (await page.getByLabel('New token').textContent())!.trim();
      await page.getByRole('button', { name: 'Done' }).click();
      return t;
    };
    const old = await make('old');
    expect((await scim(old, 'GET', '/Users')).status).toBe(200);
    const fresh = await make('new');
    expect((await scim(fresh, 'GET', '/Users')).status).toBe(200); // both live
    expect((await scim(old, 'GET', '/Users')).status).toBe(200);
    await page.reload();
    await page.getByRole('row', { name: /^new used last/ }).waitFor();
    await page.getByRole('button', { name: 'Revoke old' }).click();
    await page.getByRole('row', { name: /^old/ }).getByText(/^Revoked/).waitFor();
    expect((await scim(old, 'GET', '/Users')).status).toBe(401);
    expect((await scim(fresh, 'GET', '/Users')).status).toBe(200);
    await page.context().close();
  }, 60_000);

  it('the operator sees every organization; an organization admin cannot reach another\'s, even by its address', async () => {
    const { token } = await testToken(s.store, { organization: 'globex' });
    expect((await scim(token, 'POST', '/Users', user('gina.globex'))).status).toBe(201);
    const operator = await signedIn();
    await operator.getByRole('link', { name: 'Organizations' }).click();
    await operator.getByRole('cell', { name: 'globex', exact: true }).waitFor();
    await operator.screenshot({ path: join(SHOTS, 'organizations.png'), fullPage: true });

    // a dead-lettered event of globex, retried from its Events page
    const globex = (await s.store.organizations()).find((o) => o.name === 'globex')!;
    const event = { id: 'evt-1', type: 'user.created' as const, at: new Date().toISOString(), organization: globex.id, resource: { type: 'User', id: 'u-dead' }, changes: [] };
    await s.store.createResource(globex.id, 'User', 'u-dead', event.at, { attributes: { userName: 'dead.letter' }, index: [], uniqueKeys: [], record: { events: [event], channels: ['https://hooks.example.com/down'] } });
    const now = new Date().toISOString();
    const [claimed] = await s.store.claimEvents(now, now, 10, 'https://hooks.example.com/down');
    await s.store.failEvent(claimed!.seq, 'fetch failed: connect ECONNREFUSED 10.0.0.9:443', undefined);
    await operator.goto(`${base}/console/o/globex/events`);
    await operator.getByRole('heading', { name: 'Events and deliveries' }).waitFor();
    await operator.getByRole('cell', { name: /ECONNREFUSED/ }).first().waitFor();
    expect(await operator.getByRole('table', { name: /newest events of globex/ }).getByRole('cell', { name: /^Dead / }).count()).toBe(1);
    await operator.screenshot({ path: join(SHOTS, 'events.png'), fullPage: true });
    await operator.getByRole('button', { name: 'Retry user.created u-dead' }).click();
    await operator.getByText('1 event queued for delivery again.').waitFor();
    expect(await s.store.deadEvents(10)).toEqual([]);
    await operator.context().close();

    const admin = await signedIn('initech');
    expect(await admin.getByRole('link', { name: 'Organizations' }).count()).toBe(0);
    await admin.goto(`${base}/console/o/globex/users`);
    await admin.getByRole('alert').waitFor();
    expect(await admin.getByRole('alert').textContent()).toMatch(/no organization "globex"/);
    expect(await admin.content()).not.toContain('gina.globex');
    // a state change without the session's CSRF token is refused, even from the console's own origin
    const status = await admin.evaluate(async () => (await fetch('/admin/api/organizations/initech/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
    expect(status).toBe(403);
    await admin.context().close();
  }, 60_000);

  it('by keyboard alone: a token is generated and the Users page reached without a pointer', async () => {
    const page = await signedIn('keyboard');
    /** Presses Tab until the focused element is the one `is` names (at most 60 times). */
    const tabTo = async (is: (el: { tag: string; name: string }) => boolean) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        const focused = await page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          const label = el?.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : undefined;
          return { tag: el?.tagName ?? '', name: (el?.getAttribute('aria-label') ?? label ?? el?.textContent ?? '').trim() };
        });
        if (is(focused)) return;
      }
      throw new Error('never focused');
    };
    await tabTo((el) => el.tag === 'INPUT' && el.name === 'Token name');
    await page.keyboard.type('Keyboard IdP');
    await tabTo((el) => el.tag === 'BUTTON' && el.name === 'Generate token');
    await page.keyboard.press('Enter');
    expect((await page.getByLabel('New token').textContent())!.trim()).toMatch(/^scimd_/);
    await tabTo((el) => el.tag === 'A' && el.name === 'Users');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.context().close();
  }, 60_000);

  it('a used or expired sign-in link is refused; on a phone the pages still read', async () => {
    const { secret } = await createConsole(s.store).signInLink('test', undefined);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(`${base}/console/signin#${secret}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Identity & Provisioning' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'phone.png'), fullPage: true });
    const other = await browser.newContext();
    const again = await other.newPage();
    await again.goto(`${base}/console/signin#${secret}`);
    await again.getByRole('button', { name: 'Sign in' }).click();
    expect(await again.getByRole('alert').textContent()).toMatch(/not valid/);
    const expired = await createConsole(s.store, { now: () => new Date(Date.now() - 3_600_000) }).signInLink('test', undefined, 600);
    await again.goto(`${base}/console/signin#${expired.secret}`);
    await again.getByRole('button', { name: 'Sign in' }).click();
    expect(await again.getByRole('alert').textContent()).toMatch(/not valid/);
    await context.close();
    await other.close();
  }, 60_000);
});
