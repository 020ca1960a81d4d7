import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

/** The README stays a newcomer's first page; the reference lives in docs/, and every link and pointer resolves. */

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const pages = [
  'README.md',
  ...readdirSync(new URL('docs/', root))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('documentation', () => {
  it('keeps the README under 15 KB', () => {
    expect(Buffer.byteLength(read('README.md'))).toBeLessThan(15 * 1024);
  });

  it.each(pages)('%s links only to files that exist', (page) => {
    const base = new URL(page, root);
    const targets = [...read(page).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
      .map((m) => m[1] as string)
      .filter((target) => !/^[a-z]+:/.test(target));
    expect(targets.filter((target) => !existsSync(new URL(target, base)))).toEqual([]);
  });

  it('points code comments at docs/ files that exist, never at README section titles', () => {
    const files = execFileSync('git', ['ls-files', 'lib', 'functions', 'scripts', 'bench', 'serverless.yml', '.env.example'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((file) => /\.(ts|mjs|cjs|yml|example)$/.test(file));
    const pointers = files.flatMap((file) => [...read(file).matchAll(/\bdocs\/([a-z-]+\.md)/g)].map((m) => `docs/${m[1]}`));
    expect(pointers.length).toBeGreaterThan(5);
    expect([...new Set(pointers)].filter((doc) => !existsSync(new URL(doc, root)))).toEqual([]);
    expect(files.filter((file) => /README "/.test(read(file)))).toEqual([]);
  });
});
