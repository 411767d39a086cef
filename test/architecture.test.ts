/**
 * The layout ARCHITECTURE.md describes, held against the code: the core imports nothing outside itself (it owns its
 * vocabulary and ports; stores, HTTP, the CLI and event delivery import it, never the reverse), and no two files of
 * src/ import each other, directly or round a longer circle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Each file's imports of other files of src/ (type-only imports included), as paths relative to src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/gm)]
      .map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')))
      .filter((t) => t.endsWith('.ts'))
      .map((t) => relative(SRC, t));
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

/** The packages a file of src/ imports (Node's own `node:` modules included). */
function packagesOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'([^.'][^']*)'/gm)].map((m) => m[1]!);
}

describe('architecture', () => {
  const graph = importGraph();

  it('finds the files (a guard against a check that reads nothing)', () => {
    expect(graph.get('core/scim.ts')).toContain('core/ports.ts');
  });

  it('the core imports nothing outside src/core', () => {
    const outside = [...graph].flatMap(([file, targets]) =>
      file.startsWith('core/') ? targets.filter((t) => !t.startsWith('core/')).map((t) => `${file} → ${t}`) : [],
    );
    expect(outside).toEqual([]);
  });

  it('the client reaches only src/client and src/core, and no package but Node\'s own', () => {
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const next of graph.get(file) ?? []) visit(next);
    };
    visit('client/index.ts');
    expect(reached.has('client/transport.ts')).toBe(true);
    expect([...reached].filter((f) => !f.startsWith('client/') && !f.startsWith('core/'))).toEqual([]);
    expect([...reached].flatMap((f) => packagesOf(f).filter((p) => !p.startsWith('node:')).map((p) => `${f} → ${p}`))).toEqual([]);
  });

  it('no import circle between files', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') circles.push([...stack.slice(stack.indexOf(next)), next].join(' → '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(circles).toEqual([]);
  });
});
