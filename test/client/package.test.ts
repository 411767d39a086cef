/** `scimd/client` is what the package exports at that subpath: the built client, with its types beside it. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the scimd/client export', () => {
  it('resolves to the built client and its declarations', () => {
    // a package may import itself by name through its own "exports" (Node's self-reference)
    const script = "const c = await import('scimd/client'); console.log(JSON.stringify([typeof c.ScimClient, typeof c.filter.eq, typeof c.patchOp, typeof c.BulkRequest, typeof c.ScimClientError]));";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function', 'function', 'function']);
    expect(existsSync(`${root}dist/client/index.d.ts`)).toBe(true);
  });
});
