/**
 * The documentation cannot drift from the code: docs/configuration.md's table is the one SETTINGS makes, every
 * SCIMD_* name is a setting, and every relative link and #anchor of the Markdown files resolves.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS, settingsTable } from '../src/config.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const SCIMD_NAME = /SCIMD_[A-Z_]+/g;

/** The files below `dir` (relative to the root) whose names end in one of `extensions`. */
function files(dir: string, extensions: readonly string[]): string[] {
  return (readdirSync(join(root, dir), { recursive: true }) as string[])
    .filter((f) => extensions.some((e) => f.endsWith(e)))
    .map((f) => join(dir, f))
    .sort();
}

function names(texts: readonly string[]): Set<string> {
  return new Set(texts.flatMap((t) => t.match(SCIMD_NAME) ?? []));
}

describe('the configuration table', () => {
  const variables = new Set<string>(SETTINGS.map((s) => s.variable));

  it('docs/configuration.md holds exactly the table SETTINGS makes (npm run docs:config rewrites it)', () => {
    const marked = /<!-- config-table:start -->\n([\s\S]*?)<!-- config-table:end -->/.exec(read('docs/configuration.md'));
    expect(marked, 'docs/configuration.md has its config-table markers').not.toBeNull();
    expect(marked![1]!.trim(), 'docs/configuration.md is out of date: run npm run docs:config').toBe(settingsTable());
  });

  it('every SCIMD_* name in src/ is a setting, and every setting is named in src/', () => {
    const inSource = names(files('src', ['.ts']).map(read));
    expect([...inSource].filter((n) => !variables.has(n)), 'in src/ but not in SETTINGS').toEqual([]);
    expect([...variables].filter((n) => !inSource.has(n)), 'in SETTINGS but nowhere in src/').toEqual([]);
  });

  it('loadConfig reads exactly the variables of SETTINGS', () => {
    const asked = new Set<string>();
    const env = new Proxy({} as NodeJS.ProcessEnv, {
      get: (_, name) => {
        if (typeof name === 'string') asked.add(name);
        return undefined;
      },
    });
    loadConfig(env);
    expect([...asked].sort()).toEqual([...variables].sort());
  });

  it('every SCIMD_* name the docs mention is a setting or a variable the tests read', () => {
    const docs = ['README.md', 'ARCHITECTURE.md', 'SECURITY.md', ...files('docs', ['.md'])].map(read);
    const testVariables = names([...files('test', ['.ts', '.mts', '.mjs']), ...files('scripts', ['.mjs'])].map(read));
    // `SCIMD_BULK_MAX_*` names the settings it begins
    const known = (n: string) => variables.has(n) || testVariables.has(n) || (n.endsWith('_') && [...variables].some((v) => v.startsWith(n)));
    const unknown = [...names(docs)].filter((n) => !known(n));
    expect(unknown, 'named in the docs, but neither a setting nor read by the tests').toEqual([]);
  });
});

/** GitHub's anchor of a heading: its text lowercased, punctuation other than `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The lines of a Markdown file outside its fenced code blocks. */
function outsideFences(markdown: string): string[] {
  let fence: string | undefined;
  const lines: string[] = [];
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (marker && fence === undefined) fence = marker;
    else if (marker && marker.startsWith(fence!)) fence = undefined;
    else if (fence === undefined) lines.push(line);
  }
  return lines;
}

/** The anchors of a Markdown file's headings; a repeated heading gets -1, -2, … as on GitHub. */
function anchors(markdown: string): Set<string> {
  const counts = new Map<string, number>();
  const out = new Set<string>();
  for (const line of outsideFences(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** A file's text; '' for a directory; undefined when there is no such path. */
function onDisk(path: string): string | undefined {
  const full = join(root, path);
  if (!existsSync(full)) return undefined;
  return statSync(full).isFile() ? readFileSync(full, 'utf8') : '';
}

/**
 * Each relative link of `paths` (relative to the root) that names no file, or a #anchor that is no heading of its
 * target, as "file: link (why)". Links in code (fenced or inline) are not links; http(s) and other URLs are not
 * fetched. `text` gives a path's content (see onDisk).
 */
function brokenLinks(paths: readonly string[], text: (path: string) => string | undefined = onDisk): string[] {
  const broken: string[] = [];
  for (const path of paths) {
    const source = text(path) ?? '';
    const prose = outsideFences(source).map((line) => line.replace(/(`+)[\s\S]*?\1/g, '`code`'));
    for (const line of prose) {
      for (const [, target = ''] of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
        if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        const [file = '', anchor] = target.split('#', 2);
        const content = file === '' ? source : text(normalize(join(dirname(path), decodeURIComponent(file))));
        if (content === undefined) broken.push(`${path}: ${target} (no such file)`);
        else if (anchor !== undefined && !anchors(content).has(decodeURIComponent(anchor))) broken.push(`${path}: ${target} (no such heading)`);
      }
    }
  }
  return broken;
}

describe('links', () => {
  const markdown = ['README.md', 'ARCHITECTURE.md', 'SECURITY.md', ...files('docs', ['.md'])];

  it('every relative link and #anchor in README.md, ARCHITECTURE.md, SECURITY.md and docs/*.md resolves', () => {
    expect(brokenLinks(markdown)).toEqual([]);
  });

  it('finds a link to a missing file, and an anchor that is no heading', () => {
    const fake: Record<string, string> = {
      'docs/fake.md': [
        '# Fake',
        '## Two words, and `code`!',
        '```sh',
        '# not a heading: [nor](a-link.md)',
        '```',
        'Fine: [a](#two-words-and-code), [b](configuration.md#pool-sizing), [c](../README.md), [d](https://example.com/x#y),',
        '[e](../examples/student), `[not](a-link.md)`. Broken: [f](missing.md), [g](configuration.md#no-such-heading),',
        '[h](#not-a-heading), [i](../README.md#quick_start).',
      ].join('\n'),
    };
    const text = (p: string) => fake[p] ?? onDisk(p);
    expect(brokenLinks(['docs/fake.md'], text)).toEqual([
      'docs/fake.md: missing.md (no such file)',
      'docs/fake.md: configuration.md#no-such-heading (no such heading)',
      'docs/fake.md: #not-a-heading (no such heading)',
      'docs/fake.md: ../README.md#quick_start (no such heading)',
    ]);
  });

  it('makes anchors as GitHub does', () => {
    expect(slug('Backup and migration (SQLite → PostgreSQL)')).toBe('backup-and-migration-sqlite--postgresql');
    expect(slug('2026-12-03 (later): large batches')).toBe('2026-12-03-later-large-batches');
    expect(slug('Reading it: `scimd audit` and the admin API')).toBe('reading-it-scimd-audit-and-the-admin-api');
    expect(slug('snake_case and [a link](x.md)')).toBe('snake_case-and-a-link');
  });
});

describe('how scimd is started', () => {
  it('the systemd unit, the container, npm start (the README\'s quick start) and the benchmark start Node with the same young generation', () => {
    const flag = '--max-semi-space-size=4';
    expect(read('deploy/scimd.service')).toMatch(/^ExecStart=\/usr\/bin\/node --max-semi-space-size=4 /m);
    expect(read('deploy/Dockerfile')).toContain(`CMD ["node", "${flag}", "bin/scimd.js", "serve"]`);
    expect(JSON.parse(read('package.json')).scripts.start).toBe(`node ${flag} bin/scimd.js serve`);
    expect(read('bench/run.mjs')).toContain(`spawn(process.execPath, ['${flag}', join(root, 'bin', 'scimd.js'), 'serve']`);
    expect(read('docs/deployment.md')).toContain(`NODE_OPTIONS=${flag}`);
    expect(read('README.md')).toMatch(/^npm install && npm start +# scimd serve/m);
  });
});
