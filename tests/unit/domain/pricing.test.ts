import { describe, expect, it } from '@jest/globals';
import { estimateCostMicroUsd, estimateImageCostMicroUsd, microUsdToUsd, usdToMicroUsd } from '../../../lib/domain/pricing.js';

describe('pricing', () => {
  it('looks up quality and size', () => {
    expect(estimateCostMicroUsd('gpt-image', 'low', '1024x1024')).toBe(11_000);
    expect(estimateCostMicroUsd('gpt-image', 'high', '1536x1024')).toBe(250_000);
    expect(estimateCostMicroUsd('dall-e-3', 'hd', '1792x1024')).toBe(120_000);
    expect(estimateCostMicroUsd('dall-e-2', undefined, '256x256')).toBe(16_000);
  });

  it('prices auto (and an omitted gpt-image quality) as the most expensive choice', () => {
    expect(estimateCostMicroUsd('gpt-image', 'auto', '1024x1024')).toBe(167_000);
    expect(estimateCostMicroUsd('gpt-image', undefined, '1024x1024')).toBe(167_000);
    expect(estimateCostMicroUsd('gpt-image', 'medium', 'auto')).toBe(63_000);
    expect(estimateCostMicroUsd('dall-e-3', undefined, '1024x1024')).toBe(40_000);
  });

  it('maps model names to their family', () => {
    expect(estimateImageCostMicroUsd('gpt-image-2-2026-04-01', 'low', '1024x1024')).toBe(11_000);
  });

  it('adds the prompt\'s text tokens (at most one per character) for GPT image models, not for dall-e', () => {
    const prompt = 'x'.repeat(4_000) + '🦊'.repeat(10);
    // $5 per million tokens = 5 micro-dollars a token; 4,010 characters.
    expect(estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', prompt)).toBe(11_000 + 4_010 * 5);
    expect(estimateImageCostMicroUsd('dall-e-3', 'standard', '1024x1024', prompt)).toBe(40_000);
  });

  it('converts between dollars and integer micro-dollars without drift', () => {
    expect(usdToMicroUsd(0.1 + 0.2)).toBe(300_000);
    expect(microUsdToUsd(11_000)).toBe(0.011);
  });
});
