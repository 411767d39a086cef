/**
 * The admin console's pages: one HTML shell for every path below /console (the page is drawn in the browser from
 * the admin API's JSON), and its assets — its own script and style, and Preact and htm from the package's
 * dependencies — all served here, so the console works without internet, under a strict Content-Security-Policy.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

export const CONSOLE_PREFIX = '/console';

const require = createRequire(import.meta.url);
// src/console/ and dist/console/ are both two folders below the package's root, which ships src/console/ui
const UI = fileURLToPath(new URL('../../src/console/ui/', import.meta.url));

/** The files the console loads, by the name it loads them as: nothing else is served. */
const ASSETS: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  'console.js': { file: `${UI}console.js`, type: 'text/javascript; charset=utf-8' },
  'console.css': { file: `${UI}console.css`, type: 'text/css; charset=utf-8' },
  'preact.mjs': { file: require.resolve('preact'), type: 'text/javascript; charset=utf-8' },
  'hooks.mjs': { file: require.resolve('preact/hooks'), type: 'text/javascript; charset=utf-8' },
  // htm's `require` entry sits beside its ES module
  'htm.mjs': { file: join(dirname(require.resolve('htm')), 'htm.mjs'), type: 'text/javascript; charset=utf-8' },
};

const IMPORT_MAP = JSON.stringify({
  imports: { preact: `${CONSOLE_PREFIX}/assets/preact.mjs`, 'preact/hooks': `${CONSOLE_PREFIX}/assets/hooks.mjs`, htm: `${CONSOLE_PREFIX}/assets/htm.mjs` },
});

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scimd console</title>
<link rel="stylesheet" href="${CONSOLE_PREFIX}/assets/console.css">
<script type="importmap">${IMPORT_MAP}</script>
<script type="module" src="${CONSOLE_PREFIX}/assets/console.js"></script>
</head>
<body><div id="app"><p class="loading">Loading…</p></div></body>
</html>
`;

/** The one inline script, the import map, is allowed by its digest; nothing else inline runs or applies. */
const CSP = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function registerConsole(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  const shell = (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply.headers({ ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).send(SHELL);
  app.get(CONSOLE_PREFIX, shell);
  app.get(`${CONSOLE_PREFIX}/*`, shell);
  app.get(`${CONSOLE_PREFIX}/assets/:name`, async (req, reply) => {
    const asset = ASSETS[(req.params as { name: string }).name];
    if (!asset) return reply.code(404).headers(SECURITY_HEADERS).type('text/plain').send('Not found');
    let body = cache.get(asset.file);
    if (!body) cache.set(asset.file, (body = readFileSync(asset.file)));
    return reply.headers({ ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache' }).send(body);
  });
}
