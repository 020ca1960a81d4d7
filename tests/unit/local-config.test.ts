import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { LOCAL_OWNED_VARIABLES } from '../../scripts/local-env.mjs';

/** Every variable the service reads is honoured by the local run, listed in .env.example and documented. */

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

// The names lib/config.ts reads: every `optional(env, 'X')`, `integer(env, 'X', ...)` and the like.
const configVariables = [
  ...new Set([
    ...[...read('lib/config.ts').matchAll(/\b(?:optional|required|integer|usd|flag|prefix)\(env, '([A-Z0-9_]+)'/g)].map((m) => m[1] as string),
    // secretEndpoint(env, 'X_API_KEY', 'X_BASE_URL') reads X_API_KEY, X_API_KEY_PARAMETER and X_BASE_URL.
    ...[...read('lib/config.ts').matchAll(/\bsecretEndpoint\(env, '([A-Z0-9_]+)', '([A-Z0-9_]+)'\)/g)].flatMap((m) => [m[1] as string, `${m[1]}_PARAMETER`, m[2] as string]),
  ]),
  'API_KEY_HASHES', // read through a constant
].sort();

describe('local configuration', () => {
  it('finds the variables (the check below can fail)', () => {
    expect(configVariables.length).toBeGreaterThan(40);
    expect(configVariables).toEqual(expect.arrayContaining(['PROMPT_MAX_CHARS', 'WEBHOOK_SECRET', 'API_KEY_HASHES']));
  });

  it('passes every variable to the local stage, or sets it itself and says so', () => {
    const local = Object.keys((parse(read('serverless.yml')) as { custom: { runtimeEnvironment: { local: object } } }).custom.runtimeEnvironment.local);
    // Serverless sets the region itself (the --region option, AWS_REGION in the function's environment).
    const provided = new Set([...local, ...LOCAL_OWNED_VARIABLES, 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_LAMBDA_FUNCTION_NAME']);
    expect(configVariables.filter((name) => !provided.has(name))).toEqual([]);
  });

  it('lists every variable in .env.example and in the configuration table (docs/configuration.md)', () => {
    const example = new Set([...read('.env.example').matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const readme = read('docs/configuration.md');
    expect(configVariables.filter((name) => !example.has(name))).toEqual([]);
    expect(configVariables.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
