import { describe, expect, it } from '@jest/globals';
import {
  GPT_IMAGE_OUTPUT_TOKENS,
  GPT_IMAGE_PRICES,
  GPT_IMAGE_RATES,
  costFromUsage,
  customSizeTokens,
  estimateCostMicroUsd,
  estimateImageCostMicroUsd,
  microUsdToUsd,
  textTokensUpperBound,
  usdToMicroUsd,
} from '../../../lib/domain/pricing.js';

describe('pricing', () => {
  it("prices gpt-image-2 at OpenAI's published row, or its tokens where the published price is rounded down", () => {
    expect(estimateCostMicroUsd('low', '1024x1024')).toBe(6_000);
    expect(estimateCostMicroUsd('medium', '1024x1024')).toBe(53_000);
    expect(estimateCostMicroUsd('high', '1024x1024')).toBe(211_000);
    // $0.005 published; 168 tokens at $30 per million are $0.00504.
    expect(estimateCostMicroUsd('low', '1536x1024')).toBe(5_040);
    expect(estimateCostMicroUsd('medium', '1024x1536')).toBe(41_160);
    expect(estimateCostMicroUsd('high', '1536x1024')).toBe(165_000);
    for (const [quality, bySize] of Object.entries(GPT_IMAGE_PRICES)) {
      for (const [size, published] of Object.entries(bySize)) expect(estimateCostMicroUsd(quality, size)).toBeGreaterThanOrEqual(published);
    }
  });

  it('never prices a listed size below its output tokens at $30 per million', () => {
    for (const [quality, bySize] of Object.entries(GPT_IMAGE_OUTPUT_TOKENS)) {
      for (const [size, tokens] of Object.entries(bySize)) {
        expect(estimateCostMicroUsd(quality, size)).toBeGreaterThanOrEqual(tokens * GPT_IMAGE_RATES.imageOutput);
      }
    }
    // 1024x1024 high is 7,024 tokens: $0.21072, published as $0.211.
    expect(7_024 * GPT_IMAGE_RATES.imageOutput).toBe(210_720);
  });

  it('prices auto (and an omitted gpt-image quality) as the most expensive choice', () => {
    expect(estimateCostMicroUsd('auto', '1024x1024')).toBe(211_000);
    expect(estimateCostMicroUsd(undefined, '1024x1024')).toBe(211_000);
    expect(estimateCostMicroUsd('medium', 'auto')).toBe(53_000);
  });

  it('maps model names to their family, with or without the provider', () => {
    expect(estimateImageCostMicroUsd('gpt-image-2-2026-04-21', 'low', '1024x1024')).toBe(6_000);
    expect(estimateImageCostMicroUsd('openai/gpt-image-2', 'low', '1024x1024')).toBe(6_000);
    expect(estimateImageCostMicroUsd('azure/images-prod', 'medium', '1536x1024')).toBe(41_160);
  });

  it("bounds a custom size by the square's tokens scaled by its pixels, never below the square", () => {
    // A small custom size costs at least the 1024x1024 square: fewer pixels are not known to cost less.
    expect(estimateCostMicroUsd('high', '1024x640')).toBe(211_000);
    // 2560x2560 has 6.25 times the square's pixels.
    expect(customSizeTokens('high', 2560, 2560)).toBe(Math.ceil(7_024 * 6.25));
    expect(estimateCostMicroUsd('high', '2560x2560')).toBe(Math.ceil(211_000 * 6.25));
    // 3840x2160 (8,294,400 pixels), low.
    const scale = (3840 * 2160) / (1024 * 1024);
    expect(estimateCostMicroUsd('low', '3840x2160')).toBe(Math.max(Math.ceil(196 * scale) * 30, Math.ceil(6_000 * scale)));
    // Every published size is within the bound the custom sizes use.
    for (const [quality, bySize] of Object.entries(GPT_IMAGE_OUTPUT_TOKENS)) {
      for (const [size, tokens] of Object.entries(bySize)) {
        const [width = 0, height = 0] = size.split('x').map(Number);
        expect(customSizeTokens(quality, width, height)).toBeGreaterThanOrEqual(tokens);
        expect(
          Math.ceil((GPT_IMAGE_PRICES[quality]?.['1024x1024'] ?? 0) * Math.max(1, (width * height) / 1024 ** 2)),
        ).toBeGreaterThanOrEqual(GPT_IMAGE_PRICES[quality]?.[size] ?? Infinity);
      }
    }
  });

  it("prices Bedrock per image and Gemini by resolution tier (rounded up), with Gemini's text input", () => {
    expect(estimateImageCostMicroUsd('bedrock/stability.stable-image-core-v1:1', undefined, '16:9')).toBe(40_000);
    expect(estimateImageCostMicroUsd('bedrock/stability.stable-image-ultra-v1:1', undefined, '1:1', 'x'.repeat(500))).toBe(140_000);
    expect(estimateImageCostMicroUsd('google/gemini-3-pro-image', '1K', '1:1')).toBe(134_400);
    expect(estimateImageCostMicroUsd('google/gemini-3-pro-image', '2K', '1:1')).toBe(134_400);
    expect(estimateImageCostMicroUsd('google/gemini-3-pro-image', '4K', '1:1')).toBe(240_000);
    expect(estimateImageCostMicroUsd('google/gemini-3.1-flash-image', '2K', '1:1')).toBe(101_000);
    expect(estimateImageCostMicroUsd('google/gemini-3.1-flash-image', '4K', '1:1')).toBe(151_000);
    expect(estimateImageCostMicroUsd('google/gemini-3.1-flash-image', undefined, '1:1', 'x'.repeat(100))).toBe(67_200 + 100 * 2);
  });

  it('knows no price for a model that is not wired', () => {
    expect(estimateImageCostMicroUsd('dall-e-3', 'standard', '1024x1024')).toBe(0);
    expect(estimateImageCostMicroUsd('google/gemini-2.5-flash-image', undefined, '1:1')).toBe(0);
  });

  it("bounds the prompt's text tokens by its UTF-8 bytes (a token is at least one byte), for GPT image models, not Stability", () => {
    const prompt = 'x'.repeat(4_000) + '🦊'.repeat(10);
    // $5 per million tokens = 5 micro-dollars a token; 4,000 + 10 x 4 bytes.
    expect(estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', prompt)).toBe(6_000 + 4_040 * 5);
    expect(estimateImageCostMicroUsd('bedrock/stability.sd3-5-large-v1:0', undefined, '1:1', prompt)).toBe(80_000);
  });

  it('bounds 4,000 characters of CJK Extension B above their 15,838 o200k_base tokens', () => {
    const text = String.fromCodePoint(0x20000).repeat(4_000);
    expect(textTokensUpperBound(text)).toBe(16_000);
    expect(textTokensUpperBound(text)).toBeGreaterThanOrEqual(15_838);
  });

  it('settles an OpenAI image to its reported tokens: text and image input, image output, at published rates', () => {
    const usage = { input_tokens: 300, input_tokens_details: { text_tokens: 100, image_tokens: 200 }, output_tokens: 7_024 };
    expect(costFromUsage('gpt-image-2', usage, 999_999)).toEqual({ costMicroUsd: 100 * 5 + 200 * 8 + 7_024 * 30, basis: 'usage' });
    // Without details, input tokens are the prompt's text.
    expect(costFromUsage('azure/images-prod', { input_tokens: 40, output_tokens: 196 }, 9_000)).toEqual({
      costMicroUsd: 40 * 5 + 196 * 30,
      basis: 'usage',
    });
  });

  it('settles Gemini by its usageMetadata and Bedrock by its per-image price', () => {
    expect(costFromUsage('google/gemini-3.1-flash-image', { promptTokenCount: 30, candidatesTokenCount: 1_120 }, 70_000)).toEqual({
      costMicroUsd: 30 * 2 + 1_120 * 60,
      basis: 'usage',
    });
    expect(costFromUsage('bedrock/stability.sd3-5-large-v1:0', undefined, 80_000)).toEqual({ costMicroUsd: 80_000, basis: 'price' });
  });

  it('keeps the estimate, and says so, when the provider reported nothing usable', () => {
    expect(costFromUsage('gpt-image-2', undefined, 12_345)).toEqual({ costMicroUsd: 12_345, basis: 'estimate' });
    expect(costFromUsage('gpt-image-2', { output_tokens: 'many' }, 12_345)).toEqual({ costMicroUsd: 12_345, basis: 'estimate' });
    expect(costFromUsage('google/gemini-3-pro-image', { promptTokenCount: 5 }, 134_400)).toEqual({
      costMicroUsd: 134_400,
      basis: 'estimate',
    });
  });

  it('reserves 100 image output tokens per preview asked of a GPT image model, and settles those received', () => {
    const plain = estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024');
    expect(estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', '', 2)).toBe(plain + 2 * 100 * 30);
    // Models that stream no partial images are never charged for them.
    expect(estimateImageCostMicroUsd('azure/images-prod', 'low', '1024x1024', '', 2)).toBe(plain);
    expect(estimateImageCostMicroUsd('google/gemini-3-pro-image', '1K', '1:1', '', 2)).toBe(
      estimateImageCostMicroUsd('google/gemini-3-pro-image', '1K', '1:1'),
    );
    const usage = { input_tokens: 50, input_tokens_details: { text_tokens: 50, image_tokens: 0 }, output_tokens: 196 };
    expect(costFromUsage('gpt-image-2', usage, 99_000, 1)).toEqual({ costMicroUsd: 50 * 5 + 196 * 30 + 3_000, basis: 'usage' });
    // Nothing reported: the estimate, which counted every preview asked for, stands.
    expect(costFromUsage('gpt-image-2', undefined, 99_000, 1)).toEqual({ costMicroUsd: 99_000, basis: 'estimate' });
  });

  it('converts between dollars and integer micro-dollars without drift', () => {
    expect(usdToMicroUsd(0.1 + 0.2)).toBe(300_000);
    expect(microUsdToUsd(6_000)).toBe(0.006);
  });
});
