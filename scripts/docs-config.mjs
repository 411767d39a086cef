#!/usr/bin/env node
// `npm run docs:config`: writes the configuration table of docs/configuration.md, between its config-table markers,
// from SETTINGS in src/config.ts as built into dist/ (the npm script builds first). test/docs.test.ts fails while the
// table and SETTINGS differ, so a setting is documented where it is defined, and nowhere by hand.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const { settingsTable } = await import(new URL('dist/config.js', root).href);
const file = fileURLToPath(new URL('docs/configuration.md', root));
const doc = readFileSync(file, 'utf8');
const table = /(<!-- config-table:start -->\n)[\s\S]*?(<!-- config-table:end -->)/;
if (!table.test(doc)) {
  console.error(`${file}: no <!-- config-table:start --> … <!-- config-table:end --> markers`);
  process.exit(1);
}
// a function, not a string, as the replacement: the table holds `$ref`, which a replacement string would expand
const next = doc.replace(table, (_, start, end) => `${start}${settingsTable()}\n${end}`);
if (next === doc) console.log('docs/configuration.md: the table is up to date');
else {
  writeFileSync(file, next);
  console.log('docs/configuration.md: the table is rewritten from SETTINGS');
}
