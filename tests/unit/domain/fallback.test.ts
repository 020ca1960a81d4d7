import { describe, expect, it } from '@jest/globals';
import { AppError } from '../../../lib/errors.js';
import { certainlyUnbilled, mapRequest, unfitFor } from '../../../lib/domain/fallback.js';
import { ProviderBreaker } from '../../../lib/domain/provider-breaker.js';

const GEMINI = 'google/gemini-3.1-flash-image';
const STABILITY = 'bedrock/stability.stable-image-core-v1:1';

describe('certainlyUnbilled', () => {
  it('lets only busy and unreached providers move on: never a refusal, the caller, a timeout or a bad answer', () => {
    const error = (code: ConstructorParameters<typeof AppError>[0], mayBeBilled = false) => new AppError(code, 'x', { mayBeBilled });
    expect(certainlyUnbilled(error('provider_busy'))).toBe(true);
    expect(certainlyUnbilled(error('provider_error'))).toBe(true);
    expect(certainlyUnbilled(error('provider_error', true))).toBe(false);
    expect(certainlyUnbilled(error('content_policy_violation'))).toBe(false);
    expect(certainlyUnbilled(error('invalid_request'))).toBe(false);
    expect(certainlyUnbilled(error('provider_timeout'))).toBe(false);
    expect(certainlyUnbilled(error('bad_provider_response', true))).toBe(false);
  });
});

describe('mapRequest: the nearest a fallback model offers', () => {
  it.each([
    // gpt-image -> Gemini: aspect ratio by shape, resolution tier by the long edge; no format (Gemini chooses).
    [{ size: '1024x1024', quality: 'low', format: 'webp' }, 'gpt-image-2', GEMINI, { size: '1:1', quality: '1K', format: undefined }],
    [{ size: '1536x1024', quality: 'high', format: undefined }, 'gpt-image-2', GEMINI, { size: '3:2', quality: '1K', format: undefined }],
    [{ size: '3840x2160', quality: 'high', format: 'png' }, 'gpt-image-2', GEMINI, { size: '16:9', quality: '4K', format: undefined }],
    [{ size: '2048x1024', quality: 'medium', format: 'jpeg' }, 'gpt-image-2', GEMINI, { size: '16:9', quality: '2K', format: undefined }],
    // gpt-image -> Stability: its ratios, no quality, jpeg kept and webp as png.
    [{ size: '1024x1536', quality: 'low', format: 'jpeg' }, 'gpt-image-2', STABILITY, { size: '2:3', quality: undefined, format: 'jpeg' }],
    [{ size: 'auto', quality: 'auto', format: 'webp' }, 'gpt-image-2', STABILITY, { size: '1:1', quality: undefined, format: 'png' }],
    // Gemini -> gpt-image: the listed size nearest in shape, a quality by tier.
    [{ size: '16:9', quality: '2K', format: undefined }, GEMINI, 'gpt-image-2', { size: '1536x1024', quality: 'high', format: undefined }],
    [
      { size: '9:16', quality: '1K', format: undefined },
      GEMINI,
      'gpt-image-2',
      { size: '1024x1536', quality: 'medium', format: undefined },
    ],
    // Same family: the same values.
    [
      { size: '2560x1440', quality: 'low', format: 'webp' },
      'gpt-image-2',
      'openai/gpt-image-2-2026-04-21',
      { size: '2560x1440', quality: 'low', format: 'webp' },
    ],
  ] as const)('%j from %s to %s', (request, from, to, expected) => {
    expect(mapRequest({ ...request }, from, to)).toEqual(expected);
  });

  it('says why a model cannot take the request', () => {
    expect(unfitFor(GEMINI, { previews: 1, providerPrompt: 'x' })).toBe('no previews');
    expect(unfitFor(STABILITY, { providerPrompt: 'x'.repeat(10_001) })).toBe('prompt too long');
    expect(unfitFor('gpt-image-2', { previews: 3, providerPrompt: 'x' })).toBeUndefined();
  });

  it("passes over a fallback that cannot take the input images as they are (SD3.5's pixel limits, a mask)", () => {
    const SD35 = 'bedrock/stability.sd3-5-large-v1:0';
    const png = (width: number, height: number) => ({ format: 'png' as const, width, height });
    expect(unfitFor(SD35, { providerPrompt: 'x', inputs: { images: [png(1024, 1024)] } })).toBeUndefined();
    expect(unfitFor(SD35, { providerPrompt: 'x', inputs: { images: [png(4096, 4096)] } })).toBe('input images outside its limits');
    expect(unfitFor(SD35, { providerPrompt: 'x', inputs: { images: [png(16, 4096)] } })).toBe('input images outside its limits');
    expect(unfitFor(SD35, { providerPrompt: 'x', inputs: { images: [png(64, 64), png(64, 64)] } })).toBe('too many input images');
    expect(unfitFor(GEMINI, { providerPrompt: 'x', inputs: { images: [png(64, 64)], mask: png(64, 64) } })).toBe('no mask');
    expect(
      unfitFor('azure/images-prod', {
        providerPrompt: 'x',
        inputs: { images: [{ format: 'jpeg', width: 64, height: 64 }], mask: png(64, 64) },
      }),
    ).toBe('input images outside its limits');
  });
});

describe('ProviderBreaker', () => {
  it('opens after the threshold of failures in a row, for the cool-down, and a failure after it opens it again', () => {
    let now = 0;
    const breaker = new ProviderBreaker({ failures: 3, cooldownMs: 60_000 }, () => now);
    breaker.failed('openai');
    breaker.failed('openai');
    expect(breaker.isOpen('openai')).toBe(false);
    breaker.failed('openai');
    expect(breaker.isOpen('openai')).toBe(true);
    expect(breaker.isOpen('google')).toBe(false);
    now = 59_999;
    expect(breaker.isOpen('openai')).toBe(true);
    now = 60_000;
    expect(breaker.isOpen('openai')).toBe(false);
    // Half-open: one more failure and it is skipped again.
    breaker.failed('openai');
    expect(breaker.isOpen('openai')).toBe(true);
  });

  it('starts counting again after a success', () => {
    const breaker = new ProviderBreaker({ failures: 2, cooldownMs: 1_000 }, () => 0);
    breaker.failed('google');
    breaker.succeeded('google');
    breaker.failed('google');
    expect(breaker.isOpen('google')).toBe(false);
  });
});
