import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from '@jest/globals';

/** Comments say what is true now: every file a comment cites exists (../shared/STYLE.md, "Comments that are true"). */

const root = new URL('../../', import.meta.url).pathname;
// The working tree as it is (a file not yet committed counts), without what builds and installs write.
const files = ['lib', 'functions', 'scripts', 'tests', 'bench', 'docs', 'events', 'types'].flatMap((dir) =>
  readdirSync(`${root}${dir}`, { recursive: true, encoding: 'utf8' }).map((file) => `${dir}/${file}`),
);
const sources = files.filter((file) => /\.(ts|mjs|cjs|js)$/.test(file));
/** Written by a command, never committed. */
const GENERATED = new Set(['bench/results.json']);

/** Every comment line of a source file (line comments and the lines of block comments). */
const commentLines = (file: string): string[] =>
  readFileSync(`${root}${file}`, 'utf8')
    .split('\n')
    .filter((line) => /^\s*(\/\/|\*|\/\*\*?)/.test(line) || /\s\/\/\s/.test(line));

describe('comments', () => {
  it('cite only repository paths that exist', () => {
    const cited = /(?<![\w/.-])((?:lib|functions|scripts|tests|docs|bench|events)\/[\w./-]*\w\.(?:json|ts|mjs|cjs|js|md|ya?ml|png))(?!\w)/g;
    const missing = sources.flatMap((file) =>
      commentLines(file)
        .flatMap((line) =>
          [...line.matchAll(cited)]
            .map((match) => match[1] as string)
            .filter((path) => !GENERATED.has(path) && !existsSync(`${root}${path}`)),
        )
        .map((path) => `${file}: ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('cite only source files, by bare name, that exist somewhere in the repository', () => {
    const names = new Set(files.map((file) => basename(file)));
    const bare = /(?<![\w/.-])([a-z][a-z0-9]*(?:-[a-z0-9]+)+\.(?:ts|mjs))\b/g;
    const missing = sources.flatMap((file) =>
      commentLines(file)
        .flatMap((line) => [...line.matchAll(bare)].map((match) => match[1] as string).filter((name) => !names.has(name)))
        .map((name) => `${file}: ${name}`),
    );
    expect(missing).toEqual([]);
  });
});
