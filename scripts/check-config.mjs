// The service's own configuration parser (lib/config.ts), run by `npm start` and `npm run invoke` on the
// environment they are about to start with: a bad value stops them with one line naming the variable, before
// anything starts, instead of a stack that prints "running" and answers every request with an error.
import { importTs } from './import-ts.mjs';

/** The problem with `env` as the functions would see it (one line naming the variable), or undefined. */
export async function configProblem(env) {
  const { parseConfig } = await importTs('lib/config.ts');
  try {
    parseConfig(env);
    return undefined;
  } catch (error) {
    if (error?.name === 'ConfigError') return error.message;
    throw error;
  }
}
