import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

/** Dependencies point one way: functions -> http -> use cases -> ports <- adapters (../shared/STYLE.md). */

const root = new URL('../../', import.meta.url);
const importsOf = (dir: string): [string, string][] =>
  readdirSync(new URL(dir, root))
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) =>
      [...readFileSync(new URL(`${dir}/${file}`, root), 'utf8').matchAll(/^import [^;]*? from '([^']+)';/gms)].map(
        (match): [string, string] => [file, match[1] as string],
      ),
    );

describe('architecture', () => {
  it('keeps lib/middleware free of lib/http: a route family speaks its own dialect from the HTTP layer', () => {
    const upward = importsOf('lib/middleware').filter(([, from]) => from.startsWith('../http/'));
    expect(upward).toEqual([]);
    // The check reads real imports (it would fail on one).
    expect(importsOf('lib/middleware').length).toBeGreaterThan(5);
  });

  it('keeps the domain free of AWS, OpenAI and the environment', () => {
    const domain = importsOf('lib/domain').filter(([, from]) => /^(@aws-sdk|openai|@google|@middy|@aws-lambda-powertools)/.test(from));
    expect(domain).toEqual([]);
    for (const file of readdirSync(new URL('lib/domain', root)).filter((name) => name.endsWith('.ts'))) {
      expect([file, readFileSync(new URL(`lib/domain/${file}`, root), 'utf8').includes('process.env')]).toEqual([file, false]);
    }
  });
});
