import { describe, expect, it } from '@jest/globals';
import { estimateCostMicroUsd, estimateImageCostMicroUsd, microUsdToUsd, usdToMicroUsd } from '../../../lib/domain/pricing.js';

describe('pricing', () => {
  it('looks up quality and size', () => {
    expect(estimateCostMicroUsd('gpt-image', 'low', '1024x1024')).toBe(11_000);
    expect(estimateCostMicroUsd('gpt-image', 'high', '1536x1024')).toBe(250_000);
  });

  it('prices auto (and an omitted gpt-image quality) as the most expensive choice', () => {
    expect(estimateCostMicroUsd('gpt-image', 'auto', '1024x1024')).toBe(167_000);
    expect(estimateCostMicroUsd('gpt-image', undefined, '1024x1024')).toBe(167_000);
    expect(estimateCostMicroUsd('gpt-image', 'medium', 'auto')).toBe(63_000);
  });

  it('maps model names to their family, with or without the provider', () => {
    expect(estimateImageCostMicroUsd('gpt-image-2-2026-04-21', 'low', '1024x1024')).toBe(11_000);
    expect(estimateImageCostMicroUsd('openai/gpt-image-2', 'low', '1024x1024')).toBe(11_000);
    expect(estimateImageCostMicroUsd('azure/images-prod', 'medium', '1536x1024')).toBe(63_000);
  });

  it('prices a custom gpt-image-2 size by its area at the quality\'s highest per-pixel rate', () => {
    // 1024x1024 low is $0.011 for 1,048,576 pixels; 3840x2160 has 7.91x as many.
    expect(estimateCostMicroUsd('gpt-image', 'low', '3840x2160')).toBe(Math.ceil((11_000 / 1_048_576) * 3840 * 2160));
    expect(estimateCostMicroUsd('gpt-image', 'high', '512x512')).toBe(Math.ceil((167_000 / 1_048_576) * 512 * 512));
  });

  it('prices Bedrock per image and Gemini by resolution tier, with Gemini\'s text input', () => {
    expect(estimateImageCostMicroUsd('bedrock/stability.stable-image-core-v1:1', undefined, '16:9')).toBe(40_000);
    expect(estimateImageCostMicroUsd('bedrock/stability.stable-image-ultra-v1:1', undefined, '1:1', 'x'.repeat(500))).toBe(140_000);
    expect(estimateImageCostMicroUsd('google/gemini-3-pro-image', '4K', '1:1')).toBe(240_000);
    expect(estimateImageCostMicroUsd('google/gemini-3.1-flash-image', undefined, '1:1', 'x'.repeat(100))).toBe(67_000 + 100 * 2);
  });

  it('knows no price for a model that is not wired', () => {
    expect(estimateImageCostMicroUsd('dall-e-3', 'standard', '1024x1024')).toBe(0);
    expect(estimateImageCostMicroUsd('google/gemini-2.5-flash-image', undefined, '1:1')).toBe(0);
  });

  it('adds the prompt\'s text tokens (at most one per character) for GPT image models, not for Stability', () => {
    const prompt = 'x'.repeat(4_000) + '🦊'.repeat(10);
    // $5 per million tokens = 5 micro-dollars a token; 4,010 characters.
    expect(estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', prompt)).toBe(11_000 + 4_010 * 5);
    expect(estimateImageCostMicroUsd('bedrock/stability.sd3-5-large-v1:0', undefined, '1:1', prompt)).toBe(80_000);
  });

  it('converts between dollars and integer micro-dollars without drift', () => {
    expect(usdToMicroUsd(0.1 + 0.2)).toBe(300_000);
    expect(microUsdToUsd(11_000)).toBe(0.011);
  });
});
