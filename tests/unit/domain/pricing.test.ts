import { describe, expect, it } from '@jest/globals';
import {
  BEDROCK_PRICES,
  GEMINI_RATES,
  GPT_IMAGE_LISTED_TOKENS,
  GPT_IMAGE_PRICES,
  GPT_IMAGE_RATES,
  costFromUsage,
  estimateCostMicroUsd,
  estimateImageCostMicroUsd,
  gptImageAutoTokens,
  gptImageLegalSizes,
  gptImageOutputTokens,
  imagePriceMicroUsd,
  microUsdToUsd,
  textTokensUpperBound,
  usdToMicroUsd,
} from '../../../lib/domain/pricing.js';
import { familyOf, pixelSize } from '../../../lib/domain/models.js';

describe('gpt-image-2 output tokens', () => {
  it("reproduces every figure OpenAI published: the image guide's table and its calculator's answers", () => {
    // Prepare: the image generation guide (1024x1024, 1536x1024 both ways) and the calculator (1792x1024, 3584x2048).
    const published: [string, number, number, number][] = [
      ['low', 1024, 1024, 196],
      ['medium', 1024, 1024, 1_756],
      ['high', 1024, 1024, 7_024],
      ['medium', 1536, 1024, 1_372],
      ['high', 1536, 1024, 5_488],
      ['medium', 1024, 1536, 1_372],
      ['high', 1024, 1536, 5_488],
      ['high', 1792, 1024, 5_063],
      ['high', 3584, 2048, 12_329],
    ];
    // Act, Assess
    for (const [quality, width, height, tokens] of published) expect(gptImageOutputTokens(quality, width, height)).toBe(tokens);
    // The one exception: the guide lists 1536x1024 low as 168 tokens, the formula gives 158; the reservation takes 168.
    expect(gptImageOutputTokens('low', 1536, 1024)).toBe(158);
    expect(estimateCostMicroUsd('low', '1536x1024')).toBe(168 * 30);
  });

  it('walks every legal size: the reservation is within 1.0x-1.25x of the figure at each quality', () => {
    const sizes = gptImageLegalSizes();
    // Multiples of 16 up to 3840, ratio <= 3, 655,360-8,294,400 pixels: thousands of sizes.
    expect(sizes.length).toBeGreaterThan(10_000);
    expect(sizes).toContainEqual({ width: 3840, height: 2160 });
    expect(sizes).not.toContainEqual({ width: 3840, height: 2176 });
    for (const quality of ['low', 'medium', 'high']) {
      for (const { width, height } of sizes) {
        const size = `${width}x${height}`;
        const tokens = Math.max(gptImageOutputTokens(quality, width, height), GPT_IMAGE_LISTED_TOKENS[quality]?.[size] ?? 0);
        const figure = Math.max(tokens * GPT_IMAGE_RATES.imageOutput, GPT_IMAGE_PRICES[quality]?.[size] ?? 0);
        const reserved = estimateImageCostMicroUsd('gpt-image-2', quality, size);
        if (reserved < figure || reserved > 1.25 * figure) throw new Error(`${quality} ${size}: ${reserved} for ${figure}`);
      }
    }
  });

  it('admits 3840x2160 high at about $0.40, which fits a $0.50 day', () => {
    expect(gptImageOutputTokens('high', 3840, 2160)).toBe(13_342);
    expect(estimateCostMicroUsd('high', '3840x2160')).toBe(400_260);
    expect(estimateImageCostMicroUsd('gpt-image-2', 'high', '3840x2160', 'a fox')).toBeLessThan(500_000);
  });

  it('reserves a listed size at its published price where that is above its tokens (rounded up by OpenAI)', () => {
    expect(estimateCostMicroUsd('low', '1024x1024')).toBe(6_000);
    expect(estimateCostMicroUsd('high', '1024x1024')).toBe(211_000);
    // $0.005 published; 168 tokens at $30 per million are $0.00504.
    expect(estimateCostMicroUsd('low', '1536x1024')).toBe(5_040);
  });

  it('reserves auto quality as high, and auto size as the dearest size the model can take (2880x2880)', () => {
    expect(estimateCostMicroUsd('auto', '1024x1024')).toBe(211_000);
    expect(estimateCostMicroUsd(undefined, '1024x1024')).toBe(211_000);
    expect(gptImageAutoTokens('high')).toBe(gptImageOutputTokens('high', 2880, 2880));
    // No legal size costs more than auto's reservation, at any quality (the walk the code does not do per request).
    for (const quality of ['low', 'medium', 'high']) {
      for (const { width, height } of gptImageLegalSizes()) {
        if (gptImageOutputTokens(quality, width, height) > gptImageAutoTokens(quality)) throw new Error(`${quality} ${width}x${height}`);
      }
    }
    expect(estimateCostMicroUsd('medium', 'auto')).toBe(gptImageAutoTokens('medium') * 30);
    expect(estimateCostMicroUsd('auto', 'auto')).toBe(gptImageAutoTokens('high') * 30);
  });
});

describe('reservations of Gemini and Bedrock', () => {
  it('are within 1.0x-1.25x of the published per-image price for every size and tier', () => {
    for (const model of ['google/gemini-3-pro-image', 'google/gemini-3.1-flash-image']) {
      const family = familyOf(model);
      for (const tier of family?.qualities ?? []) {
        for (const size of family?.sizes ?? []) {
          const figure = imagePriceMicroUsd(model, tier, size);
          const reserved = estimateImageCostMicroUsd(model, tier, size);
          expect(reserved / figure).toBeGreaterThanOrEqual(1);
          expect(reserved / figure).toBeLessThanOrEqual(1.25);
        }
      }
    }
    for (const [id, price] of Object.entries(BEDROCK_PRICES)) {
      for (const size of familyOf(`bedrock/${id}`)?.sizes ?? []) {
        expect(estimateImageCostMicroUsd(`bedrock/${id}`, undefined, size, 'x'.repeat(500))).toBe(price);
      }
    }
  });

  it('covers a real gemini-3-pro-image 4K bill (with thinking) that the image price alone did not', () => {
    // Prepare: a Pro 4K answer: 2,340 candidate tokens (2,000 of them image), 337 thinking, a 338-token prompt.
    const usage = {
      promptTokenCount: 338,
      candidatesTokenCount: 2_340,
      thoughtsTokenCount: 337,
      candidatesTokensDetails: [
        { modality: 'IMAGE', tokenCount: 2_000 },
        { modality: 'TEXT', tokenCount: 340 },
      ],
    };
    // Act
    const settled = costFromUsage('google/gemini-3-pro-image', usage, 0);
    // Assess: $2/M in, $120/M image out, $12/M text and thinking out: $0.248800.
    expect(settled).toEqual({ costMicroUsd: 338 * 2 + 2_000 * 120 + (340 + 337) * 12, basis: 'usage' });
    expect(settled.costMicroUsd).toBe(248_800);
    expect(estimateImageCostMicroUsd('google/gemini-3-pro-image', '4K', '16:9', 'x'.repeat(338))).toBeGreaterThanOrEqual(248_800);
  });

  it('knows no price for a model that is not wired', () => {
    expect(estimateImageCostMicroUsd('dall-e-3', 'standard', '1024x1024')).toBe(0);
    expect(estimateImageCostMicroUsd('google/gemini-2.5-flash-image', undefined, '1:1')).toBe(0);
  });
});

describe('prompt and input images in the reservation', () => {
  it("bounds the prompt's text tokens by its UTF-8 bytes, at each model's input rate; Stability prices per image", () => {
    const prompt = 'x'.repeat(4_000) + '🦊'.repeat(10);
    expect(estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', prompt)).toBe(6_000 + 4_040 * 5);
    expect(estimateImageCostMicroUsd('bedrock/stability.sd3-5-large-v1:0', undefined, '1:1', prompt)).toBe(80_000);
    const flash = GEMINI_RATES['gemini-3.1-flash-image'];
    expect(estimateImageCostMicroUsd('google/gemini-3.1-flash-image', '1K', '1:1', 'x'.repeat(100))).toBe(
      Math.ceil(67_200 + 2_000 * (flash?.textOutput ?? 0) + 100 * (flash?.input ?? 0)),
    );
  });

  it('bounds 4,000 characters of CJK Extension B above their 15,838 o200k_base tokens', () => {
    const text = String.fromCodePoint(0x20000).repeat(4_000);
    expect(textTokensUpperBound(text)).toBe(16_000);
    expect(textTokensUpperBound(text)).toBeGreaterThanOrEqual(15_838);
  });

  it('reserves each gpt-image input image at the 1,536-patch budget (image input) and its 32 text tokens', () => {
    const plain = estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024');
    expect(estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', '', 0, 2)).toBe(plain + 2 * (1_536 * 8 + 32 * 5));
  });

  it('reserves 100 image output tokens per preview asked of a GPT image model (Azure too), none for others', () => {
    const plain = estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024');
    expect(estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', '', 2)).toBe(plain + 2 * 100 * 30);
    expect(estimateImageCostMicroUsd('azure/images-prod', 'low', '1024x1024', '', 2)).toBe(plain + 2 * 100 * 30);
    expect(estimateImageCostMicroUsd('google/gemini-3-pro-image', '1K', '1:1', '', 2)).toBe(
      estimateImageCostMicroUsd('google/gemini-3-pro-image', '1K', '1:1'),
    );
  });
});

describe('settlement from usage alone', () => {
  it('settles an OpenAI image to its tokens: text and image input, image and text output, each at its rate', () => {
    const usage = {
      input_tokens: 300,
      input_tokens_details: { text_tokens: 100, image_tokens: 200 },
      output_tokens: 7_100,
      output_tokens_details: { image_tokens: 7_024, text_tokens: 76 },
    };
    expect(costFromUsage('gpt-image-2', usage, 999_999)).toEqual({
      costMicroUsd: 100 * 5 + 200 * 8 + 7_024 * 30 + 76 * 10,
      basis: 'usage',
    });
    // Without details, input tokens are the prompt's text and output tokens the image's.
    expect(costFromUsage('azure/images-prod', { input_tokens: 40, output_tokens: 196 }, 9_000)).toEqual({
      costMicroUsd: 40 * 5 + 196 * 30,
      basis: 'usage',
    });
  });

  it("settles a streamed answer to its completed event's usage, which already counts its partial images", () => {
    // Prepare: gpt-image-1 1024x1024 low was 272 output tokens unstreamed and 372 with one partial (bifrost#4777).
    const streamed = { input_tokens: 50, input_tokens_details: { text_tokens: 50, image_tokens: 0 }, output_tokens: 372 };
    // Act
    const settled = costFromUsage('gpt-image-2', streamed, 99_000);
    // Assess: no surcharge on top of what was reported.
    expect(settled).toEqual({ costMicroUsd: 50 * 5 + 372 * 30, basis: 'usage' });
  });

  it('settles Gemini image tokens at the image rate and the rest of the candidates and thinking at the text rate', () => {
    const usage = {
      promptTokenCount: 30,
      candidatesTokenCount: 1_180,
      thoughtsTokenCount: 200,
      candidatesTokensDetails: [
        { modality: 'TEXT', tokenCount: 60 },
        { modality: 'IMAGE', tokenCount: 1_120 },
      ],
    };
    expect(costFromUsage('google/gemini-3.1-flash-image', usage, 70_000)).toEqual({
      costMicroUsd: Math.ceil(30 * 0.5 + 1_120 * 60 + (60 + 200) * 3),
      basis: 'usage',
    });
    // Not split: every candidate token at the image rate (the higher one).
    expect(costFromUsage('google/gemini-3-pro-image', { promptTokenCount: 30, candidatesTokenCount: 1_120 }, 0)).toEqual({
      costMicroUsd: 30 * 2 + 1_120 * 120,
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

  it('converts between dollars and integer micro-dollars without drift', () => {
    expect(usdToMicroUsd(0.1 + 0.2)).toBe(300_000);
    expect(microUsdToUsd(6_000)).toBe(0.006);
    // pixelSize of a Gemini tier stays what the fallback mapping uses.
    expect(pixelSize('16:9', familyOf('google/gemini-3-pro-image') ?? ({} as never), '4K').width).toBe(4096);
  });
});
