// The service's own configuration parser (lib/config.ts), run by `npm start` and `npm run invoke` on the
// environment they are about to start with: a bad value stops them with one line naming the variable, before
// anything starts, instead of a stack that prints "running" and answers every request with an error.
import { build } from 'esbuild';
import { ROOT } from './local-env.mjs';

/** The problem with `env` as the functions would see it (one line naming the variable), or undefined. */
export async function configProblem(env) {
  const bundled = await build({
    entryPoints: [`${ROOT}lib/config.ts`],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    logLevel: 'error',
  });
  const { parseConfig } = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`);
  try {
    parseConfig(env);
    return undefined;
  } catch (error) {
    if (error?.name === 'ConfigError') return error.message;
    throw error;
  }
}
