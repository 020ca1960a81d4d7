import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI, { toFile } from 'openai';
import { startStackProcess } from '../../scripts/stack-process.mjs';
import { C2paSigner } from '../../lib/adapters/c2pa/c2pa-signer.js';
import { TEST_C2PA_SIGNER } from '../support/env.js';
import { maskPng, pngOf } from '../support/fixtures.js';
import { OpenAITestServer, errorReply, imageReply, moderationReply, streamReply } from '../support/openai-test-server.js';

/**
 * `/v1` through the official `openai` JS SDK (and the Python one, from the machine's wheel), against `npm start`
 * with a stand-in for OpenAI behind it: what a caller that only changed its `baseURL` gets.
 */

const API_KEY = 'sdk-test-key-0123456789';
/**
 * The stand-in's image. OpenAI's images carry C2PA Content Credentials (https://help.openai.com/en/articles/8912793-c2pa-in-chatgpt-images),
 * so the stand-in's do too (signed once with the C2PA test certificate, before the suite), and the service keeps them
 * byte for byte: what the SDK writes out is the provider's file.
 */
let PNG: Buffer;
/** Partial images, signed as the image is (the service keeps a provider's manifest on a preview too). */
let PARTIAL_A: Buffer;
let PARTIAL_B: Buffer;
const SOURCE_A = pngOf(64, 64, 'edit source a');
const SOURCE_B = pngOf(64, 64, 'edit source b');
const MASK = maskPng(64, 64);
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const run = promisify(execFile);

let provider: OpenAITestServer;
let stack: Awaited<ReturnType<typeof startStackProcess>>;
let slowStack: Awaited<ReturnType<typeof startStackProcess>>;
let client: OpenAI;
/** A generation that takes 60 s on the offline generator, started first and awaited last. */
let slow: Promise<OpenAI.ImagesResponse> | undefined;
let python: string | undefined;
let pythonDir: string | undefined;

/** The machine's wheel of the official Python SDK (TOOLCHAIN.md), installed offline into a throw-away venv. */
async function pythonSdk(): Promise<string | undefined> {
  const wheels = '/opt/pypi/files';
  if (!existsSync(wheels) || !readdirSync(wheels).some((name) => name.startsWith('openai-'))) return undefined;
  pythonDir = await mkdtemp(join(tmpdir(), 'dia-python-sdk-'));
  await run('python3', ['-m', 'venv', pythonDir], { timeout: 60_000 });
  await run(join(pythonDir, 'bin/pip'), ['install', '-q', '--no-index', '--find-links', wheels, 'openai'], { timeout: 120_000 });
  return join(pythonDir, 'bin/python');
}

beforeAll(async () => {
  const standIn = new C2paSigner({ credentials: async () => TEST_C2PA_SIGNER, generator: { name: 'OpenAI stand-in', version: '1' } });
  const signed = (seed: string) =>
    standIn.sign(pngOf(64, 48, seed), 'image/png', { model: 'gpt-image-2', generatedAt: new Date(), inputs: [] });
  [PNG, PARTIAL_A, PARTIAL_B] = await Promise.all([signed('sdk image'), signed('partial a'), signed('partial b')]);
  provider = await OpenAITestServer.start(imageReply(PNG.toString('base64')));
  const sdk = (port: number) => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: API_KEY });
  [stack, slowStack, python] = await Promise.all([
    startStackProcess({
      apiKey: API_KEY,
      env: {
        IMAGE_PROVIDER: 'live',
        OPENAI_API_KEY: 'sk-stand-in',
        OPENAI_BASE_URL: provider.baseUrl,
        // One provider call per SDK call: what the stand-in counts is what a retry would have cost.
        PROVIDER_MAX_RETRIES: '0',
        DAILY_IMAGE_LIMIT: '20',
      },
    }),
    startStackProcess({ apiKey: API_KEY, env: { OPENAI_API_KEY: '', OFFLINE_DELAY_MS: '60000' } }),
    pythonSdk(),
  ]);
  client = sdk(stack.ports.api);
  slow = sdk(slowStack.ports.api).images.generate({ model: 'gpt-image-2', prompt: 'a slow sunrise', quality: 'high' });
  slow.catch(() => undefined);
}, 240_000);

/** Whether the machine has no wheel of the Python SDK (the Python checks are then skipped, with a note). */
function withoutPython(): boolean {
  if (python && pythonDir) return false;
  console.warn('No wheel of the openai Python SDK in /opt/pypi/files: the Python SDK check is skipped.');
  return true;
}

/** The Python samples' working directory (the throw-away venv's). */
function pythonWork(): string {
  if (!pythonDir) throw new Error('no Python SDK (check withoutPython() first)');
  return pythonDir;
}

/**
 * Runs a Python SDK sample, its lines as written, with the stack's `/v1` base URL, the key and `output` (a file or a
 * prefix in the working directory) as sys.argv[1..3]: what it printed, and where `output` is.
 */
async function runPython(name: string, lines: string[], output: string): Promise<{ stdout: string; output: string }> {
  const script = join(pythonWork(), `${name}.py`);
  await writeFile(script, lines.join('\n'));
  const target = join(pythonWork(), output);
  const { stdout } = await run(python ?? 'python3', [script, `http://127.0.0.1:${stack.ports.api}/v1`, API_KEY, target], {
    timeout: 60_000,
  });
  return { stdout, output: target };
}

/** The caller's images used today, from GET /usage. */
async function usageOf(): Promise<{ used: number }> {
  const response = await fetch(`http://127.0.0.1:${stack.ports.api}/usage`, { headers: { authorization: `Bearer ${API_KEY}` } });
  const usage = (await response.json()) as { images: { used: number } };
  return { used: usage.images.used };
}

afterAll(async () => {
  await Promise.all([stack?.stop(), slowStack?.stop(), provider?.close()]);
  if (pythonDir) await rm(pythonDir, { recursive: true, force: true });
}, 60_000);

describe('the official openai JS SDK against /v1', () => {
  it("runs the image guide's sample: data[0].b64_json is the image, and data[0].url serves the same bytes", async () => {
    // Act: https://platform.openai.com/docs/guides/image-generation (result.data[0].b64_json, written to a file).
    const answer = await client.images.generate({ model: 'gpt-image-2', prompt: 'a red fox in the snow', size: '1024x1024' });
    // Assess
    const written = Buffer.from(answer.data?.[0]?.b64_json ?? '', 'base64');
    expect(sha256(written)).toBe(sha256(PNG));
    // An extra field of this service's: the provider's manifest, kept and valid.
    expect((answer.data?.[0] as { provenance?: unknown } | undefined)?.provenance).toMatchObject({ manifest: 'provider', valid: true });
    const url = answer.data?.[0]?.url ?? '';
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${stack.ports.s3}/local-images/images/`));
    const served = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(sha256(served)).toBe(sha256(PNG));
    expect(answer.created).toBeGreaterThan(1_700_000_000);
    expect(answer.usage).toMatchObject({ input_tokens: 50, output_tokens: 196 });
    // The image made: its real size (the stand-in's PNG), not the size asked.
    expect(answer).toMatchObject({ output_format: 'png', size: '64x48' });
    expect(provider.calls).toHaveLength(1);
    // The provider is asked as the native API asks it: base64, no response_format.
    expect(provider.calls[0]?.body).not.toHaveProperty('response_format');
  });

  it('answers the URL alone when response_format is url', async () => {
    const answer = await client.images.generate({ prompt: 'a heron', response_format: 'url' });
    expect(answer.data?.[0]?.b64_json).toBeUndefined();
    const served = Buffer.from(await (await fetch(answer.data?.[0]?.url ?? '')).arrayBuffer());
    expect(sha256(served)).toBe(sha256(PNG));
  });

  it('lists the models this deployment allows', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toEqual(['gpt-image-2']);
  });

  it('raises AuthenticationError for a wrong key, with a request id', async () => {
    const wrong = new OpenAI({ baseURL: `http://127.0.0.1:${stack.ports.api}/v1`, apiKey: 'not-the-key' });
    const error = await wrong.images.generate({ prompt: 'a fox' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
    expect((error as InstanceType<typeof OpenAI.APIError>).requestID).toBeTruthy();
  });

  it('raises BadRequestError naming the parameter, as OpenAI does', async () => {
    const cases = [
      [{ prompt: 'a fox', size: '512x512' }, 'size'],
      [{ prompt: 'a fox', output_format: 'gif' as 'png' }, 'output_format'],
      [{ prompt: 'a fox', n: 11 }, 'n'],
      [{ prompt: 'a fox', model: 'dall-e-3' }, 'model'],
      [{ prompt: 'a fox', background: 'transparent' as const }, 'background'],
    ] as const;
    for (const [body, param] of cases) {
      const error = await client.images.generate(body).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, param, type: 'invalid_request_error' });
    }
    expect(provider.calls).toHaveLength(2); // none of these reached the provider
  });

  it('raises a 400 moderation_blocked for a refused prompt, before the provider is called', async () => {
    provider.moderation = moderationReply(true, ['violence']);
    const error = await client.images.generate({ prompt: 'something refused' }).catch((caught: unknown) => caught);
    provider.moderation = moderationReply(false);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'moderation_blocked' });
    expect(provider.calls).toHaveLength(2);
  });

  it('tells the SDK not to retry a failure the provider may have billed: one generation, one call', async () => {
    provider.enqueue(errorReply(500, { message: 'upstream broke', type: 'server_error' }));
    const error = await client.images.generate({ prompt: 'a broken lamp' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('x-should-retry')).toBe('false');
    // The SDK retries a 5xx twice by default; it obeyed the header.
    expect(provider.calls).toHaveLength(3);
  });

  it("runs the image guide's Python sample with only base_url changed: the b64_json written out is the image the URL serves", async () => {
    if (withoutPython()) return;
    const { stdout, output: written } = await runPython(
      'generate',
      [
        // OpenAI's image generation guide, Python (https://platform.openai.com/docs/guides/image-generation),
        // with the client's base_url and key from the command line.
        'import base64, sys',
        'from openai import OpenAI',
        'client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2])',
        'result = client.images.generate(model="gpt-image-2", prompt="a lighthouse, watercolour")',
        'image_base64 = result.data[0].b64_json',
        'image_bytes = base64.b64decode(image_base64)',
        'with open(sys.argv[3], "wb") as f:',
        '    f.write(image_bytes)',
        'print(result.data[0].url)',
      ],
      'lighthouse.png',
    );
    expect(sha256(await readFile(written))).toBe(sha256(PNG));
    const url = stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/local-images\/images\/.*\.png$/);
    const served = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(sha256(served)).toBe(sha256(PNG));
  }, 90_000);

  it('makes n=3 images: three permanent URLs serving the bytes of three b64_json, the quota down by three', async () => {
    const before = await usageOf();
    const callsBefore = provider.calls.length;
    const answer = await client.images.generate({ model: 'gpt-image-2', prompt: 'three paper boats', n: 3 });
    const data = answer.data ?? [];
    expect(data).toHaveLength(3);
    expect(new Set(data.map((image) => image.url)).size).toBe(3);
    for (const image of data) {
      expect(sha256(Buffer.from(image.b64_json ?? '', 'base64'))).toBe(sha256(PNG));
      expect(sha256(Buffer.from(await (await fetch(image.url ?? '')).arrayBuffer()))).toBe(sha256(PNG));
    }
    expect(provider.calls.length - callsBefore).toBe(3);
    expect((await usageOf()).used - before.used).toBe(3);
  });

  it('makes n=3 images from Python: three files written from b64_json, three URLs', async () => {
    if (withoutPython()) return;
    const { stdout, output: prefix } = await runPython(
      'generate_n',
      [
        'import base64, sys',
        'from openai import OpenAI',
        'client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2])',
        'result = client.images.generate(model="gpt-image-2", prompt="three kites", n=3)',
        'for i, image in enumerate(result.data):',
        '    with open(f"{sys.argv[3]}-{i}.png", "wb") as f:',
        '        f.write(base64.b64decode(image.b64_json))',
        '    print(image.url)',
      ],
      'kite',
    );
    const urls = stdout.trim().split('\n');
    expect(new Set(urls).size).toBe(3);
    for (const [index, url] of urls.entries()) {
      expect(sha256(await readFile(`${prefix}-${index}.png`))).toBe(sha256(PNG));
      expect(sha256(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(sha256(PNG));
    }
  }, 90_000);

  it("runs the image guide's streaming sample: two partial images and the image, in order, each decodable, served at its URL", async () => {
    provider.enqueue(streamReply(PNG.toString('base64'), [PARTIAL_A.toString('base64'), PARTIAL_B.toString('base64')], { gapMs: 300 }));
    // Act: https://platform.openai.com/docs/guides/image-generation#streaming (the loop, with the events kept).
    const stream = await client.images.generate({
      prompt: 'Draw a gorgeous image of a river made of white owl feathers, snaking its way through a serene winter landscape',
      model: 'gpt-image-2',
      stream: true,
      partial_images: 2,
    });
    const seen: { type: string; index?: number; bytes: Buffer; url: string }[] = [];
    for await (const event of stream) {
      const url = (event as unknown as { url: string }).url;
      if (event.type === 'image_generation.partial_image') {
        seen.push({ type: event.type, index: event.partial_image_index, bytes: Buffer.from(event.b64_json, 'base64'), url });
      } else seen.push({ type: event.type, bytes: Buffer.from(event.b64_json, 'base64'), url });
    }
    // Assess
    expect(seen.map(({ type, index }) => [type, index])).toEqual([
      ['image_generation.partial_image', 0],
      ['image_generation.partial_image', 1],
      ['image_generation.completed', undefined],
    ]);
    const expected = [PARTIAL_A, PARTIAL_B, PNG];
    for (const [index, event] of seen.entries()) {
      expect(sha256(event.bytes)).toBe(sha256(expected[index] as Buffer));
      expect(sha256(Buffer.from(await (await fetch(event.url)).arrayBuffer()))).toBe(sha256(event.bytes));
    }
  });

  it('ends a stream whose image failed after it began with an error the SDK raises, and does not retry it (one call)', async () => {
    provider.enqueue(streamReply(PNG.toString('base64'), [PARTIAL_A.toString('base64'), PARTIAL_B.toString('base64')], { cutAfter: 1 }));
    const callsBefore = provider.calls.length;
    const stream = await client.images.generate({ prompt: 'a river, cut short', stream: true, partial_images: 2 });
    const types: string[] = [];
    const error = await (async () => {
      for await (const event of stream) types.push(event.type);
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(types).not.toContain('image_generation.completed');
    expect(provider.calls.length - callsBefore).toBe(1);
  });

  it("runs the image guide's Python streaming sample: the partial images written to files, then the image", async () => {
    if (withoutPython()) return;
    provider.enqueue(streamReply(PNG.toString('base64'), [PARTIAL_A.toString('base64'), PARTIAL_B.toString('base64')]));
    const { stdout, output: prefix } = await runPython(
      'stream',
      [
        // https://platform.openai.com/docs/guides/image-generation#streaming (Python), with base_url and key from the
        // command line, and the completed image written too.
        'import base64, sys',
        'from openai import OpenAI',
        'client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2])',
        'stream = client.images.generate(',
        '    prompt="Draw a gorgeous image of a river made of white owl feathers",',
        '    model="gpt-image-2",',
        '    stream=True,',
        '    partial_images=2,',
        ')',
        'for event in stream:',
        '    if event.type == "image_generation.partial_image":',
        '        idx = event.partial_image_index',
        '        image_bytes = base64.b64decode(event.b64_json)',
        '        with open(f"{sys.argv[3]}{idx}.png", "wb") as f:',
        '            f.write(image_bytes)',
        '    elif event.type == "image_generation.completed":',
        '        with open(f"{sys.argv[3]}-final.png", "wb") as f:',
        '            f.write(base64.b64decode(event.b64_json))',
        '    print(event.type)',
      ],
      'river',
    );
    expect(stdout.trim().split('\n')).toEqual([
      'image_generation.partial_image',
      'image_generation.partial_image',
      'image_generation.completed',
    ]);
    expect(sha256(await readFile(`${prefix}0.png`))).toBe(sha256(PARTIAL_A));
    expect(sha256(await readFile(`${prefix}1.png`))).toBe(sha256(PARTIAL_B));
    expect(sha256(await readFile(`${prefix}-final.png`))).toBe(sha256(PNG));
  }, 90_000);

  it("runs the image guide's edit sample with two input files and a mask: the edit is stored, the files reached images.edit in order", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dia-edit-'));
    try {
      await Promise.all([
        writeFile(join(dir, 'lounge.png'), SOURCE_A),
        writeFile(join(dir, 'lamp.png'), SOURCE_B),
        writeFile(join(dir, 'mask.png'), MASK),
      ]);
      // Act: https://platform.openai.com/docs/guides/image-generation#edit-images (files by toFile, a mask).
      const images = await Promise.all(
        ['lounge.png', 'lamp.png'].map((file) => toFile(createReadStream(join(dir, file)), null, { type: 'image/png' })),
      );
      const answer = await client.images.edit({
        model: 'gpt-image-2',
        image: images,
        mask: await toFile(createReadStream(join(dir, 'mask.png')), null, { type: 'image/png' }),
        prompt: 'Add a flamingo to the pool',
      });
      // Assess
      const written = Buffer.from(answer.data?.[0]?.b64_json ?? '', 'base64');
      expect(sha256(written)).toBe(sha256(PNG));
      expect(sha256(Buffer.from(await (await fetch(answer.data?.[0]?.url ?? '')).arrayBuffer()))).toBe(sha256(PNG));
      const call = provider.calls.at(-1);
      expect(call?.path).toMatch(/\/images\/edits$/);
      const sent = [call?.body['image[]'] ?? call?.body['image']].flat() as { bytes: Buffer }[];
      expect(sent.map((file) => sha256(file.bytes))).toEqual([sha256(SOURCE_A), sha256(SOURCE_B)]);
      expect((call?.body['mask'] as { bytes: Buffer } | undefined)?.bytes.equals(MASK)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('streams an edit from Python: two files and a mask, image_edit partial images then the image', async () => {
    if (withoutPython()) return;
    provider.enqueue(streamReply(PNG.toString('base64'), [PARTIAL_A.toString('base64'), PARTIAL_B.toString('base64')]));
    const work = pythonWork();
    await Promise.all([
      writeFile(join(work, 'lounge.png'), SOURCE_A),
      writeFile(join(work, 'lamp.png'), SOURCE_B),
      writeFile(join(work, 'mask.png'), MASK),
    ]);
    const { stdout, output: prefix } = await runPython(
      'edit',
      [
        // The image guide's edit (image=[open(...), open(...)], mask=open(...)), streamed as its streaming sample is.
        'import base64, sys',
        'from openai import OpenAI',
        'client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2])',
        'stream = client.images.edit(',
        '    model="gpt-image-2",',
        `    image=[open("${join(work, 'lounge.png')}", "rb"), open("${join(work, 'lamp.png')}", "rb")],`,
        `    mask=open("${join(work, 'mask.png')}", "rb"),`,
        '    prompt="Add a flamingo to the pool",',
        '    stream=True,',
        '    partial_images=2,',
        ')',
        'for event in stream:',
        '    if event.type == "image_edit.partial_image":',
        '        with open(f"{sys.argv[3]}{event.partial_image_index}.png", "wb") as f:',
        '            f.write(base64.b64decode(event.b64_json))',
        '    elif event.type == "image_edit.completed":',
        '        with open(f"{sys.argv[3]}-final.png", "wb") as f:',
        '            f.write(base64.b64decode(event.b64_json))',
        '    print(event.type)',
      ],
      'flamingo',
    );
    expect(stdout.trim().split('\n')).toEqual(['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed']);
    expect(sha256(await readFile(`${prefix}0.png`))).toBe(sha256(PARTIAL_A));
    expect(sha256(await readFile(`${prefix}-final.png`))).toBe(sha256(PNG));
    const call = provider.calls.at(-1);
    expect(call?.path).toMatch(/\/images\/edits$/);
    expect(call?.body).toMatchObject({ stream: 'true', partial_images: '2' });
  }, 90_000);

  it('raises RateLimitError at the daily limit before anything is sent (n=3 with 2 left), and the SDK does not retry it', async () => {
    // Topped up to two images short of the limit (what the tests before used depends on whether Python ran).
    const { used } = await usageOf();
    expect(used).toBeLessThanOrEqual(18);
    if (used < 18) await client.images.generate({ prompt: 'filling up', n: 18 - used });
    const callsBefore = provider.calls.length;
    const error = await client.images.generate({ prompt: 'three too many', n: 3 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'quota_exceeded', type: 'insufficient_quota' });
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toMatch(/^\d+$/);
    expect(provider.calls.length).toBe(callsBefore);
    // The two left are there, and then none.
    expect((await client.images.generate({ prompt: 'the last two', n: 2 })).data).toHaveLength(2);
    const over = await client.images.generate({ prompt: 'one too many' }).catch((caught: unknown) => caught);
    expect(over).toBeInstanceOf(OpenAI.RateLimitError);
    expect(provider.calls.length).toBe(callsBefore + 2);
  });

  it('waits out a 60 s generation with its defaults, past the 30 s a gateway allows', async () => {
    const answer = await slow;
    const url = answer?.data?.[0]?.url ?? '';
    expect(url).toMatch(/\/local-images\/images\/.*\.png$/);
    expect((await fetch(url)).status).toBe(200);
  }, 120_000);
});
