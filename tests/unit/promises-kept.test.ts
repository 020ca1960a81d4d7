import { describe, expect, it } from '@jest/globals';
import { AppError } from '../../lib/errors.js';
import { verifyImage, ImageVerificationError } from '../../lib/domain/image-format.js';
import { validateImageRequest, type RequestRules } from '../../lib/domain/image-request.js';
import { DEFAULT_CONSTRAINTS, DEFAULT_PROMPT_TEMPLATE } from '../../lib/domain/prompt-policy.js';
import { familyOf, sizeProblem } from '../../lib/domain/models.js';
import { rateLimitHeaders } from '../../lib/domain/rate-limit.js';
import { ProviderBreaker } from '../../lib/domain/provider-breaker.js';
import { generateWithFallback } from '../../lib/use-cases/generate-with-fallback.js';
import { inspectInputs, loadInputs } from '../../lib/use-cases/input-images.js';
import type { GenerationRequest, ImageGenerator, ImageStore, Log } from '../../lib/ports.js';
import { noisePng, pngOf } from '../support/fixtures.js';

/**
 * Each promise below is kept where it is made; each test here fails on the small change to the code that an
 * independent mutation check found no other test noticed (issue 29).
 */

const quiet: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A store holding `objects` by key, read as the S3 adapter reads (size bound, not_found). */
function storeOf(objects: Record<string, Buffer>): ImageStore {
  const get = (key: string, maxBytes: number): Buffer => {
    const bytes = objects[key];
    if (!bytes) throw new AppError('not_found', 'The object does not exist.');
    if (bytes.length > maxBytes) throw new AppError('payload_too_large', 'too large', { details: { bytes: bytes.length } });
    return bytes;
  };
  return {
    putImage: async () => undefined,
    putRecord: async () => undefined,
    delete: async () => undefined,
    read: async (key, maxBytes) => get(key, maxBytes),
    readHead: async (key, headBytes, maxBytes) => {
      const bytes = get(key, maxBytes);
      return { head: bytes.subarray(0, headBytes), size: bytes.length };
    },
  };
}

describe('fallback: the circuit breaker never skips the last candidate', () => {
  it("answers with Gemini's image when OpenAI is busy and Gemini's breaker is open (Gemini is all that is left)", async () => {
    // Prepare: Gemini failed three times in a row (its breaker is open); OpenAI answers busy (certainly unbilled).
    let now = 0;
    const breaker = new ProviderBreaker({ failures: 3, cooldownMs: 60_000 }, () => now);
    for (let i = 0; i < 3; i += 1) breaker.failed('google');
    expect(breaker.isOpen('google')).toBe(true);
    const called: string[] = [];
    const generator: ImageGenerator = {
      generate: async (request: GenerationRequest) => {
        called.push(request.model);
        if (request.model === 'gpt-image-2') throw new AppError('provider_busy', 'busy', { mayBeBilled: false });
        return { bytes: pngOf(16, 16), usage: undefined };
      },
    };
    // Act
    const result = await generateWithFallback(
      { generator, log: quiet, now: () => now, breaker, fallbacks: new Map([['openai/gpt-image-2', ['google/gemini-3-pro-image']]]) },
      {
        model: 'gpt-image-2',
        size: '1024x1024',
        quality: 'low',
        format: undefined,
        request: { prompt: 'a fox', endUserId: 'u' },
        deadline: 60_000,
        hooks: {},
        reservation: undefined,
      },
    );
    now += 1;
    // Assess
    expect(called).toEqual(['gpt-image-2', 'google/gemini-3-pro-image']);
    expect(result).toMatchObject({ ok: true, model: 'google/gemini-3-pro-image' });
  });
});

describe('input images: the 4096-pixel and 8 MiB bounds, by behaviour', () => {
  const inputs = (key: string) => ({ images: [{ ref: { id: 'AAAAAAAAAAAAAAAAAAAAAA' }, key }] });

  it('refuses an input of 4097 pixels a side at admission and in the worker, and takes 4096', async () => {
    const store = storeOf({ wide: pngOf(4097, 16), edge: pngOf(4096, 16) });
    await expect(inspectInputs(store, inputs('wide'), 'gpt-image-2', Date.now() + 5_000)).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(loadInputs(store, inputs('wide'), Date.now() + 5_000, 'gpt-image-2')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(inspectInputs(store, inputs('edge'), 'gpt-image-2', Date.now() + 5_000)).resolves.toBeUndefined();
    await expect(loadInputs(store, inputs('edge'), Date.now() + 5_000, 'gpt-image-2')).resolves.toMatchObject({
      shapes: { images: [{ width: 4096, height: 16 }] },
    });
  });

  it("refuses an input over 8 MiB (a caller's own large image by id), before a provider sees it", async () => {
    // About 8.7 MB of incompressible pixels.
    const big = noisePng(1_700, 1_700);
    expect(big.length).toBeGreaterThan(8 * 1024 * 1024);
    const store = storeOf({ big });
    await expect(inspectInputs(store, inputs('big'), 'gpt-image-2', Date.now() + 5_000)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(loadInputs(store, inputs('big'), Date.now() + 5_000, 'gpt-image-2')).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('request shapes', () => {
  const rules: RequestRules = {
    defaultModel: 'gpt-image-2',
    allowedModels: ['gpt-image-2'],
    maxPromptChars: 4_000,
    prompt: { template: DEFAULT_PROMPT_TEMPLATE, constraints: DEFAULT_CONSTRAINTS },
  };

  it.each(['../AAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAA/AAAAAAAAAAA', 'AAAAAAAAAA.AAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAA'])(
    'refuses the upload id %s (22 base64url characters only: no path)',
    (upload) => {
      const result = validateImageRequest({ prompt: 'a fox', images: [{ upload }] }, rules);
      expect(result).toMatchObject({ ok: false, field: 'images[0]' });
    },
  );

  it("keeps gpt-image-2's pixel bound exact: 3840x2160 is taken, 3840x2176 (8,355,840 pixels) is not", () => {
    const family = familyOf('gpt-image-2');
    if (!family) throw new Error('gpt-image-2 is wired');
    expect(sizeProblem('3840x2160', family)).toBeUndefined();
    expect(sizeProblem('3840x2176', family)).toBe('between 655360 and 8294400 pixels in all');
  });

  it('gives the RateLimit reset in seconds, as draft-ietf-httpapi-ratelimit-headers says', () => {
    const headers = rateLimitHeaders(50, 49, 3_600);
    expect(headers['RateLimit-Reset']).toBe('3600');
    expect(headers['RateLimit']).toBe('"daily";r=49;t=3600');
    expect(rateLimitHeaders(50, 0, 0.2)['RateLimit-Reset']).toBe('1');
  });
});

describe('PNG truncation', () => {
  it('refuses a PNG cut at every chunk boundary (no IEND), and takes the whole file', () => {
    const png = pngOf(64, 48, 'chunks');
    expect(verifyImage(png)).toMatchObject({ width: 64, height: 48 });
    // Every chunk boundary: after the signature, then after each chunk (length + type + data + CRC).
    const boundaries: number[] = [];
    for (let offset = 8; offset < png.length; offset += 12 + png.readUInt32BE(offset)) boundaries.push(offset);
    expect(boundaries.length).toBeGreaterThanOrEqual(3);
    for (const cut of boundaries) expect(() => verifyImage(png.subarray(0, cut))).toThrow(ImageVerificationError);
  });
});
