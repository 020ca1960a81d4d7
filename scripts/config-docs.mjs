// `npm run config-docs`: writes the table of variables in docs/configuration.md from lib/config/variables.ts (the
// one place they are defined). A unit test fails when the two differ.
import { readFile, writeFile } from 'node:fs/promises';
import { importTs } from './import-ts.mjs';
import { ROOT } from './local-env.mjs';

const { variablesTable } = await importTs('lib/config/variables.ts');
const path = `${ROOT}docs/configuration.md`;
const docs = await readFile(path, 'utf8');
const marked = /<!-- variables:start -->\n[\s\S]*?\n<!-- variables:end -->/;
if (!marked.test(docs)) throw new Error('docs/configuration.md has no <!-- variables:start --> ... <!-- variables:end --> block');
await writeFile(path, docs.replace(marked, `<!-- variables:start -->\n${variablesTable()}\n<!-- variables:end -->`));
console.log('docs/configuration.md: table of variables written from lib/config/variables.ts');
