/**
 * The console mounted in an Express application under a prefix of its own, the application signing its users in
 * (console.authorize), in Debian's chromium through playwright-core: the pages load their assets and call the API
 * under the mount, under the CSP, and a change goes through with the user's CSRF token.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_ORGANIZATION } from '../../src/core/admin.js';
import type { Store } from '../../src/core/ports.js';
import { createNodeHandler } from '../../src/http/node.js';
import { createScimd, type Scimd } from '../../src/library.js';
import { openTestStore } from '../helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);

describe.skipIf(!CHROMIUM)('the console mounted in an Express application, in chromium', () => {
  let store: Store;
  let scimd: Scimd;
  let server: Server;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    store = await openTestStore();
    const acme = await createScimd({ store }).admin.createOrganization({ tokenName: 'setup' }, EVERY_ORGANIZATION, 'acme');
    scimd = createScimd({
      store,
      console: {
        // the application's own sign-in, here a cookie naming its user
        authorize: async (request) => {
          const who = /(?:^|;\s*)app_user=(\w+)/.exec(String(request.headers.cookie ?? ''))?.[1];
          return who === 'ada' ? { role: 'org-admin', orgId: acme.id, actor: 'ada@acme.test' } : null;
        },
      },
    });
    const app = express();
    app.use('/scim/v2', createNodeHandler({ handler: scimd.handler }));
    app.use('/admin/scim', createNodeHandler({ handler: scimd.console }));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await scimd?.close();
    await store?.close();
  });

  it('loads under /admin/scim for the user the application signed in, makes a token, and refuses anyone else', async () => {
    const context = await browser.newContext();
    await context.addCookies([{ name: 'app_user', value: 'ada', url: base }]);
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => void (/Content Security Policy/.test(m.text()) && violations.push(m.text())));
    await page.goto(`${base}/admin/scim/`);
    await page.getByRole('heading', { name: 'Identity & Provisioning' }).waitFor();
    expect(await page.getByRole('textbox', { name: 'SCIM base URL' }).inputValue()).toBe(`${base}/scim/v2`);
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0); // the application's to do
    await page.getByLabel('Token name').fill('Okta');
    await page.getByRole('button', { name: 'Generate token' }).click();
    expect((await page.getByLabel('New token').textContent())!.trim()).toMatch(/^scimd_/);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/admin/scim/o/acme/users');
    expect(violations).toEqual([]);
    await context.close();

    const stranger = await browser.newPage();
    await stranger.goto(`${base}/admin/scim/`);
    await stranger.getByText(/You may not use this console/).waitFor();
    await stranger.close();
  }, 60_000);
});
