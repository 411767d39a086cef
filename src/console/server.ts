/**
 * The admin console's pages: one HTML shell for every path below the console's mount (the page is drawn in the
 * browser from the admin API's JSON), and its assets — its own script and style, and Preact and htm from the package's
 * dependencies — all served here, so the console works without internet, under a strict Content-Security-Policy.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, HttpResponse } from '../http/handler.js';

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

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The shell and its Content-Security-Policy for the console at `base` (its pages' path, mount included): the import
 * map names the assets under it, and is the one inline script, allowed by its digest; nothing else inline runs or
 * applies. The page's script finds its pages and the API in the app element's data attributes.
 */
function shellAt(base: string, api: string): { readonly html: string; readonly headers: Readonly<Record<string, string>> } {
  const importMap = JSON.stringify({
    imports: { preact: `${base}/assets/preact.mjs`, 'preact/hooks': `${base}/assets/hooks.mjs`, htm: `${base}/assets/htm.mjs` },
  }).replace(/</g, '\\u003c');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${createHash('sha256').update(importMap).digest('base64')}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scimd console</title>
<link rel="stylesheet" href="${escapeHtml(base)}/assets/console.css">
<script type="importmap">${importMap}</script>
<script type="module" src="${escapeHtml(base)}/assets/console.js"></script>
</head>
<body><div id="app" data-base="${escapeHtml(base)}" data-api="${escapeHtml(api)}"><p class="loading">Loading…</p></div></body>
</html>
`;
  return { html, headers: { ...SECURITY_HEADERS, 'content-security-policy': csp, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } };
}

/**
 * The console's pages below `pagesPath` of a request's mount: one shell for every path, and the assets at
 * `/assets/{name}` (a request's `path` here is below `pagesPath`).
 */
export function consolePages(paths: { readonly pagesPath: string; readonly apiPath: string }): (request: HttpRequest, path: string) => HttpResponse {
  const files = new Map<string, string>();
  const shells = new Map<string, ReturnType<typeof shellAt>>();
  return (request, path) => {
    const asset = /^\/assets\/([^/]+)$/.exec(path);
    if (asset) {
      const found = Object.hasOwn(ASSETS, asset[1]!) ? ASSETS[asset[1]!] : undefined;
      if (!found) return { status: 404, headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }, body: 'Not found' };
      let body = files.get(found.file);
      if (body === undefined) files.set(found.file, (body = readFileSync(found.file, 'utf8')));
      return { status: 200, headers: { ...SECURITY_HEADERS, 'content-type': found.type, 'cache-control': 'no-cache' }, body };
    }
    const base = request.prefix + paths.pagesPath;
    let shell = shells.get(base);
    if (!shell) {
      // a mount with parameters makes a shell per value: keep a few
      if (shells.size >= 64) shells.clear();
      shells.set(base, (shell = shellAt(base, request.prefix + paths.apiPath)));
    }
    return { status: 200, headers: shell.headers, body: shell.html };
  };
}
