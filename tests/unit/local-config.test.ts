import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { VARIABLES, variablesTable, type Variable } from '../../lib/config/variables.js';
import { LOCAL_OWNED_VARIABLES } from '../../scripts/local-env.mjs';

/** Every variable the service reads (the table of lib/config/variables.ts) is honoured locally, in .env.example and documented. */

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const names = Object.keys(VARIABLES).sort();
// Set by the platform itself, never by an operator.
const PLATFORM = new Set(['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_LAMBDA_FUNCTION_NAME']);

describe('local configuration', () => {
  it('passes every variable to the local stage, or sets it itself and says so', () => {
    const local = Object.keys(
      (parse(read('serverless.yml')) as { custom: { runtimeEnvironment: { local: object } } }).custom.runtimeEnvironment.local,
    );
    const provided = new Set([...local, ...LOCAL_OWNED_VARIABLES, ...PLATFORM]);
    expect(names.filter((name) => !provided.has(name))).toEqual([]);
  });

  it('lists every variable in .env.example with its default (or empty)', () => {
    const example = new Map([...read('.env.example').matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
    const missing = names.filter((name) => !PLATFORM.has(name) && !example.has(name));
    expect(missing).toEqual([]);
    const wrongDefault = names.filter((name) => {
      const given = example.get(name);
      const fallback = (VARIABLES as Record<string, Variable<unknown, string | undefined>>)[name]?.fallback;
      return !PLATFORM.has(name) && given !== undefined && given !== '' && given !== fallback;
    });
    expect(wrongDefault).toEqual([]);
  });

  it('documents every variable: docs/configuration.md holds the table rendered from the code (npm run config-docs)', () => {
    const docs = read('docs/configuration.md');
    const table = /<!-- variables:start -->\n([\s\S]*?)\n<!-- variables:end -->/.exec(docs)?.[1];
    expect(table).toBe(variablesTable());
  });
});
