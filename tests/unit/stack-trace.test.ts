import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';
import { mapStackFrames } from '../../lib/stack-trace.js';

// biome-ignore lint/suspicious/noExplicitAny: serverless.yml's settings are read as YAML gives them
type Json = Record<string, any>;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dia-stack-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The esbuild options of serverless.yml (`custom.esbuild`) that shape the shipped files, for a build of our own. */
function shippedBuildOptions(): BuildOptions {
  const settings = (parse(readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8')) as { custom: { esbuild: Json } }).custom
    .esbuild;
  return {
    bundle: settings['bundle'],
    minify: settings['minify'],
    sourcemap: settings['sourcemap'],
    sourcesContent: settings['sourcesContent'],
    target: settings['target'],
    platform: settings['platform'],
    format: settings['format'],
    splitting: settings['splitting'],
    chunkNames: settings['chunkNames'],
    mainFields: settings['mainFields'],
    banner: settings['banner'],
    outExtension: { '.js': settings['outputFileExtension'] },
  };
}

describe('mapStackFrames', () => {
  it('maps the frames of an error thrown inside a use case, in an ES module bundle built as serverless.yml builds', async () => {
    // Prepare: an entry calling a real use case with a body it refuses (it throws from lib/use-cases/create-upload.ts),
    // bundled with the shipped esbuild settings (minified ES modules with chunks, maps beside them, no sources).
    const useCase = new URL('../../lib/use-cases/create-upload.ts', import.meta.url).pathname;
    await writeFile(
      join(dir, 'handler.ts'),
      [
        `import { makeCreateUpload } from ${JSON.stringify(useCase)};`,
        'export async function handler(): Promise<void> {',
        "  const create = makeCreateUpload({ uploads: { sign: async () => ({ url: '', fields: {} }) }, newId: () => 'x', now: Date.now });",
        "  await create({ id: 'p', kind: 'api-key' }, { contentType: 'text/html' });",
        '}',
        '',
      ].join('\n'),
    );
    await build({ ...shippedBuildOptions(), entryPoints: [join(dir, 'handler.ts')], outdir: join(dir, 'out'), logLevel: 'error' });
    // A plain Node process, as on Lambda without --enable-source-maps (jest would map the stack itself).
    const entry = pathToFileURL(join(dir, 'out', 'handler.js')).href;
    const probe = `try { await (await import(${JSON.stringify(entry)})).handler() } catch (e) { process.stdout.write(e.stack) }`;
    const stack = execFileSync(process.execPath, ['--input-type=module', '-e', probe], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const frames = stack.split('\n').slice(1, 6);
    expect(frames[0]).toMatch(/file:\/\/.*\/out\/(handler|chunks\/[^:]+)\.js:\d+:\d+/);
    // Act
    const mapped = mapStackFrames(frames);
    // Assess: the throw is named by the use case's own file and line (the "contentType" refusal).
    const source = readFileSync(useCase, 'utf8').split('\n');
    const throwLine = source.findIndex((line) => line.includes('throw new AppError(\'invalid_request\', `"contentType" must be')) + 1;
    expect(throwLine).toBeGreaterThan(0);
    expect(mapped[0]).toMatch(new RegExp(`\\(lib/use-cases/create-upload\\.ts:${throwLine}:\\d+\\)$`));
    // The caller, one frame up, in the entry (its path as the map names it).
    expect(mapped[1]).toMatch(/handler\.ts:\d+:\d+\)$/);
  });

  it('leaves frames alone when there is no map', () => {
    const frames = ['    at run (/var/task/none.cjs:1:100)', '    at node:internal/process/task_queues:95:5'];
    expect(mapStackFrames(frames)).toEqual(frames);
  });
});
