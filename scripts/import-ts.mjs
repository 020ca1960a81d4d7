// Imports one of lib/'s TypeScript modules from a script: bundled in memory by esbuild (as the functions are),
// then loaded from a data: URL. Nothing is written to disk.
import { build } from 'esbuild';
import { ROOT } from './local-env.mjs';

/** The module at `path` (relative to the repository root, e.g. `lib/config.ts`). */
export async function importTs(path) {
  const bundled = await build({
    entryPoints: [`${ROOT}${path}`],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    logLevel: 'error',
    // Bundled CommonJS dependencies (the AWS SDK's) call require() for Node's built-ins; a data: URL has no path of
    // its own to make one from, so it resolves from the repository, as the functions' banner does from theirs.
    banner: {
      js: `import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(${JSON.stringify(`${ROOT}package.json`)});`,
    },
  });
  return import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`);
}
