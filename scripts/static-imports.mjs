// What a cold start reads of an ES module bundle: the entry and, transitively, what each file imports statically.
// esbuild writes `import{a as b}from"./chunks/x.js"` and `import"./x.js"`; an `import("...")` is left for first use
// and is not followed. Shared by the package test (which chunks stay off the cold path) and `npm run bench` (the
// bytes read at import).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The files, relative to `root`, that importing `entry` (relative to `root`) reads.
 * @param {string} root
 * @param {string} entry
 * @returns {Set<string>}
 */
export function staticImportsOf(root, entry) {
  const files = new Set();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const [, target] of readFileSync(join(root, file), 'utf8').matchAll(/(?:\bfrom|\bimport)\s*"(\.{1,2}\/[^"]+\.js)"/g)) {
      pending.push(join(dirname(file), target));
    }
  }
  return files;
}
