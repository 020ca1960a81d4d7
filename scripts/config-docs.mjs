// `npm run config-docs`: writes the table of variables in docs/configuration.md from lib/config/variables.ts (the
// one place they are defined). A unit test fails when the two differ.
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './local-env.mjs';

const work = await mkdtemp(join(tmpdir(), 'dia-config-docs-'));
try {
  const outfile = join(work, 'variables.mjs');
  await build({
    entryPoints: [`${ROOT}lib/config/variables.ts`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'error',
  });
  const { variablesTable } = await import(outfile);
  const path = `${ROOT}docs/configuration.md`;
  const docs = await readFile(path, 'utf8');
  const marked = /<!-- variables:start -->\n[\s\S]*?\n<!-- variables:end -->/;
  if (!marked.test(docs)) throw new Error('docs/configuration.md has no <!-- variables:start --> ... <!-- variables:end --> block');
  await writeFile(path, docs.replace(marked, `<!-- variables:start -->\n${variablesTable()}\n<!-- variables:end -->`));
  console.log('docs/configuration.md: table of variables written from lib/config/variables.ts');
} finally {
  await rm(work, { recursive: true, force: true });
}
