import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { mapStackFrames } from '../../lib/stack-trace.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dia-stack-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mapStackFrames', () => {
  it('maps frames of a minified bundle to the TypeScript source lines, using the map beside the bundle', async () => {
    // Prepare: a bundle built like serverless.yml builds the functions (minified CJS, external map, no sources).
    await writeFile(
      join(dir, 'failing.ts'),
      ['export function outer(): void {', '  inner();', '}', '', 'function inner(): void {', "  throw new Error('boom');", '}', ''].join(
        '\n',
      ),
    );
    await build({
      entryPoints: [join(dir, 'failing.ts')],
      outfile: join(dir, 'failing.cjs'),
      bundle: true,
      minify: true,
      platform: 'node',
      format: 'cjs',
      sourcemap: true,
      sourcesContent: false,
      logLevel: 'error',
    });
    // A plain Node process, as on Lambda without --enable-source-maps (jest would map the stack itself).
    const probe = `try { require(${JSON.stringify(join(dir, 'failing.cjs'))}).outer() } catch (e) { process.stdout.write(e.stack) }`;
    const stack = execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    const frames = stack.split('\n').slice(1, 3);
    expect(frames[0]).toMatch(/failing\.cjs:1:\d+/);
    // Act
    const mapped = mapStackFrames(frames);
    // Assess: the throw is on line 6 of the source, the call on line 2.
    expect(mapped[0]).toMatch(/failing\.ts:6:\d+\)$/);
    expect(mapped[1]).toMatch(/failing\.ts:2:\d+\)$/);
  });

  it('leaves frames alone when there is no map', () => {
    const frames = ['    at run (/var/task/none.cjs:1:100)', '    at node:internal/process/task_queues:95:5'];
    expect(mapStackFrames(frames)).toEqual(frames);
  });
});
