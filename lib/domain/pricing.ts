/**
 * What an image costs, in micro-dollars (1 USD = 1,000,000), for every wired model (lib/domain/models.ts): the
 * reservation made before a provider is called, and the settlement from what it reported afterwards.
 *
 * The one place to update when prices change. Every figure names its source beside it (a URL and the day it was
 * read, or the observation it rests on). Integers, so sums in DynamoDB counters never drift.
 *
 * Two rules (docs/limits.md):
 * - A reservation is an upper bound of the bill: the published price or token formula where one exists, else the
 *   best available figure, and never more than 1.25x that figure for any size a model takes (the money report,
 *   `npm run money`, and tests/unit/domain/pricing.test.ts walk every size). `auto` is the dearest outcome it can
 *   take.
 * - A settlement is the provider's reported usage times the published rates, and nothing else: no surcharge.
 */
import { familyOf, parseModelName } from './models.js';

type Table<T> = Readonly<Record<string, T>>;

/**
 * gpt-image-2's token rates, micro-dollars per token. OpenAI pricing page (https://openai.com/api/pricing/, read
 * 2026-11-30): text input $5/M, image input $8/M, image output $30/M; text output $10/M (the same page's text
 * tokens row, quoted by https://robotsatlas.com/ai-models/chatgpt-images-2-0, read 2026-12-07). Azure OpenAI's
 * global deployments of gpt-image-2 bill the same rates.
 */
export const GPT_IMAGE_RATES = Object.freeze({ textInput: 5, imageInput: 8, imageOutput: 30, textOutput: 10 });

/**
 * gpt-image-2's published per-image prices (quality -> size), OpenAI's image generation guide and pricing page
 * (https://developers.openai.com/api/docs/guides/image-generation#size-and-quality-options, read 2026-11-30):
 * 1024x1024 $0.006 / $0.053 / $0.211, 1536x1024 and 1024x1536 $0.005 / $0.041 / $0.165. They are rounded; the
 * reservation is never below them (`low` 1024x1024 is 196 tokens, $0.00588, published as $0.006).
 */
export const GPT_IMAGE_PRICES: Table<Table<number>> = Object.freeze({
  low: { '1024x1024': 6_000, '1536x1024': 5_000, '1024x1536': 5_000 },
  medium: { '1024x1024': 53_000, '1536x1024': 41_000, '1024x1536': 41_000 },
  high: { '1024x1024': 211_000, '1536x1024': 165_000, '1024x1536': 165_000 },
});

/**
 * The output tokens the same guide lists for those sizes (read 2026-11-30). The token formula below reproduces all
 * of them but one: 1536x1024 low is listed as 168 where the formula gives 158 (both are "$0.005"). The reservation
 * takes the higher.
 */
export const GPT_IMAGE_LISTED_TOKENS: Table<Table<number>> = Object.freeze({
  low: { '1024x1024': 196, '1536x1024': 168, '1024x1536': 168 },
  medium: { '1024x1024': 1_756, '1536x1024': 1_372, '1024x1536': 1_372 },
  high: { '1024x1024': 7_024, '1536x1024': 5_488, '1024x1536': 5_488 },
});

/**
 * gpt-image-2's image output tokens for a quality and any legal size: the formula behind OpenAI's own price
 * calculator, as the community extracted it (https://community.openai.com/t/gpt-image-2-output-pricing-calculator-
 * online-and-in-your-code/1382699, 2026-06-05). It reproduces the figures OpenAI published: 1024x1024 196 / 1,756 /
 * 7,024 and 1536x1024 1,372 / 5,488 at medium / high (the image guide; 1536x1024 low is the one exception, see
 * GPT_IMAGE_LISTED_TOKENS), and the calculator's 5,063 for 1792x1024 and 12,329 for 3584x2048 high
 * (https://community.openai.com/t/livestream-starting-now-chatgpt-images-2-0/1379464?page=2).
 * tests/unit/domain/pricing.test.ts asserts each.
 *
 * @example gptImageOutputTokens('high', 1024, 1024) // 7024
 */
const GPT_IMAGE_QUALITY_FACTORS: Table<number> = Object.freeze({ low: 16, medium: 48, high: 96 });
const TOKEN_AREA_OFFSET = 2_000_000;
const TOKEN_AREA_SCALE = 4_000_000;

export function gptImageOutputTokens(quality: string, width: number, height: number): number {
  const factor = GPT_IMAGE_QUALITY_FACTORS[quality];
  if (factor === undefined) throw new RangeError(`unknown gpt-image quality ${quality}`);
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  const shortAxis = Math.floor((2 * factor * short + long) / (2 * long));
  // At most 96 x 96 x 10,294,400 (under 2^37): exact in a double.
  return Math.floor((factor * shortAxis * (TOKEN_AREA_OFFSET + width * height) + TOKEN_AREA_SCALE - 1) / TOKEN_AREA_SCALE);
}

/**
 * Every size gpt-image-2 takes by `WIDTHxHEIGHT` (multiples of 16, long edge at most 3840, ratio at most 3:1,
 * 655,360 to 8,294,400 pixels: the image generation guide, read 2026-11-30), computed once.
 */
let legalSizes: readonly { width: number; height: number }[] | undefined;
export function gptImageLegalSizes(): readonly { width: number; height: number }[] {
  if (legalSizes) return legalSizes;
  const rule = familyOf('gpt-image-2')?.customSizes;
  const sizes: { width: number; height: number }[] = [];
  if (rule) {
    for (let width = rule.multipleOf; width <= rule.maxLongEdge; width += rule.multipleOf) {
      for (let height = rule.multipleOf; height <= rule.maxLongEdge; height += rule.multipleOf) {
        const pixels = width * height;
        if (Math.max(width, height) / Math.min(width, height) > rule.maxRatio) continue;
        if (pixels >= rule.minPixels && pixels <= rule.maxPixels) sizes.push({ width, height });
      }
    }
  }
  legalSizes = Object.freeze(sizes);
  return legalSizes;
}

/**
 * `size: "auto"` lets the model choose ("depends on the generated image", OpenAI's Images API reference; Azure's
 * docs add that it may not even follow the custom-size rules), so it is reserved as the dearest size it can take:
 * 2880x2880, the most output tokens of every legal size at each quality (23,718 at high, $0.7115). A constant, not a
 * walk over the 16,000-odd sizes on a request's path (24 ms); tests/unit/domain/pricing.test.ts walks them to keep
 * it true. Settlement then bills what was made.
 */
const DEAREST_SIZE = { width: 2880, height: 2880 };
export const gptImageAutoTokens = (quality: string): number => gptImageOutputTokens(quality, DEAREST_SIZE.width, DEAREST_SIZE.height);

/** The gpt-image-2 qualities a request's `quality` may turn into: `auto` (or none) is any of them. */
const gptQualities = (quality: string | undefined): string[] =>
  quality === undefined || quality === 'auto' ? Object.keys(GPT_IMAGE_QUALITY_FACTORS) : [quality];

/**
 * The image part of a gpt-image-2 reservation: the output tokens of the size at $30/M, never below the tokens or
 * the (rounded) price published for a listed size; `auto` quality as the dearest (high), `auto` size as the dearest legal size.
 *
 * @example estimateCostMicroUsd('low', '1024x1024') // 6000 (196 tokens are $0.00588; published $0.006)
 * @example estimateCostMicroUsd('high', '3840x2160') // 400260 (13,342 tokens)
 */
export function estimateCostMicroUsd(quality: string | undefined, size: string): number {
  return Math.max(
    ...gptQualities(quality).map((name) => {
      if (size === 'auto') return gptImageAutoTokens(name) * GPT_IMAGE_RATES.imageOutput;
      const [width = 0, height = 0] = size.split('x').map(Number);
      const tokens = Math.max(gptImageOutputTokens(name, width, height), GPT_IMAGE_LISTED_TOKENS[name]?.[size] ?? 0);
      return Math.max(tokens * GPT_IMAGE_RATES.imageOutput, GPT_IMAGE_PRICES[name]?.[size] ?? 0);
    }),
  );
}

/**
 * One streamed partial image (`previews`), reserved only: OpenAI's image generation guide says each partial image
 * costs 100 more image output tokens (read 2026-11-30). The completed event's usage already counts them (observed:
 * 272 output tokens unstreamed, 372 streamed with one partial, maximhq/bifrost#4777), so the settlement adds
 * nothing for them.
 */
const PREVIEW_OUTPUT_TOKENS = 100;

/**
 * An input image (an edit's image, a reference, a mask) of gpt-image-2, reserved only: OpenAI publishes no count;
 * the community's measurement of edits finds 32 px patches within a budget of 1,536 per image, each image billed
 * on its own (https://community.openai.com/t/openai-must-document-the-input-image-pricing-of-gpt-image-2/1382940,
 * 2026-06-12), plus 32 text tokens of overhead per image observed on gpt-image-1 edits
 * (https://community.openai.com/t/vision-pricing-calculator-inaccurate-resizing-rounding-vs-api-costs/1281361).
 */
const GPT_IMAGE_INPUT_IMAGE_TOKENS = 1_536;
const GPT_IMAGE_INPUT_IMAGE_TEXT_TOKENS = 32;

/**
 * Stability AI on Amazon Bedrock, per image whatever its size (https://aws.amazon.com/bedrock/pricing/, us-west-2
 * on-demand, read 2026-11-25): the reservation and the settlement are the price.
 */
export const BEDROCK_PRICES: Table<number> = Object.freeze({
  'stability.stable-image-core-v1:1': 40_000,
  'stability.sd3-5-large-v1:0': 80_000,
  'stability.stable-image-ultra-v1:1': 140_000,
});

export interface GeminiRates {
  /** Text and image input, micro-dollars per token. */
  input: number;
  /** Text and thinking output. */
  textOutput: number;
  /** Image output. */
  imageOutput: number;
  /** The published price of one image by resolution tier (`imageSize`), rounded up to the micro-dollar. */
  perImage: Table<number>;
}

/**
 * Gemini image models (Gemini API pricing page, https://ai.google.dev/gemini-api/docs/pricing, read 2026-11-30;
 * LiteLLM's cost map splits output the same way by `candidatesTokensDetails`):
 * - gemini-3-pro-image: input $2/M, text and thinking output $12/M, image output $120/M; an image is 1,120 tokens
 *   at 1K and 2K ($0.134), 2,000 at 4K ($0.24).
 * - gemini-3.1-flash-image: input $0.50/M, text and thinking output $3/M, image output $60/M; $0.0672 at 1K
 *   (1,120 tokens), $0.101 at 2K, $0.151 at 4K.
 */
export const GEMINI_RATES: Table<GeminiRates> = Object.freeze({
  'gemini-3-pro-image': { input: 2, textOutput: 12, imageOutput: 120, perImage: { '1K': 134_400, '2K': 134_400, '4K': 240_000 } },
  'gemini-3.1-flash-image': { input: 0.5, textOutput: 3, imageOutput: 60, perImage: { '1K': 67_200, '2K': 101_000, '4K': 151_000 } },
});

/**
 * Gemini's text and thinking output beside the image, reserved only: the models think before they draw and may
 * write a line of text. One real gemini-3-pro-image 4K answer (the observation, 2026-12) had 340 text and
 * 337 thinking tokens; 2,000 bound that with room, and keep the reservation within 1.25x of the per-image price at
 * every tier (1.18x for Pro at 1K, the largest).
 */
const GEMINI_TEXT_OUTPUT_ALLOWANCE = 2_000;

/** A Gemini 3 input image at its default (high) media resolution: 1,120 tokens (Gemini API media resolution guide). */
const GEMINI_INPUT_IMAGE_TOKENS = 1_120;

/**
 * An upper bound on the text tokens of a prompt: its length in UTF-8 bytes. Byte-level BPE tokenizers (o200k_base,
 * and Gemini's) never make a token of less than one byte, while a token of less than one character is common in
 * some scripts (4,000 characters of CJK Extension B are 15,838 o200k_base tokens: 16,000 bytes bound them, a
 * count of characters did not).
 */
export const textTokensUpperBound = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The price of the image alone (no prompt, previews or inputs): the figure the money report compares against. */
export function imagePriceMicroUsd(model: string, quality: string | undefined, size: string): number {
  const family = familyOf(model);
  const ref = parseModelName(model);
  if (!family || !ref) return 0;
  if (family.family === 'gpt-image') return estimateCostMicroUsd(quality, size);
  if (family.family === 'stability') return BEDROCK_PRICES[ref.id] ?? 0;
  const rates = GEMINI_RATES[ref.id];
  if (!rates) return 0;
  return rates.perImage[quality ?? '1K'] ?? Math.max(...Object.values(rates.perImage));
}

/**
 * The reservation for a model, the prompt the provider will get (the hardened one: the template is billed too),
 * the partial images asked for and the input images sent; 0 for a model outside the table, which config
 * validation does not allow.
 *
 * @example estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', 'x'.repeat(1000)) // 6000 + 5000
 * @example estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', '', 2) // 6000 + 2 x 3000
 */
export const estimateImageCostMicroUsd = (
  model: string,
  quality: string | undefined,
  size: string,
  providerPrompt = '',
  previews = 0,
  inputImages = 0,
): number => {
  const family = familyOf(model);
  const ref = parseModelName(model);
  if (!family || !ref) return 0;
  const image = imagePriceMicroUsd(model, quality, size);
  const promptTokens = textTokensUpperBound(providerPrompt);
  if (family.family === 'stability') return image;
  if (family.family === 'gpt-image') {
    const partials = Math.min(Math.max(0, previews), family.maxPreviews) * PREVIEW_OUTPUT_TOKENS * GPT_IMAGE_RATES.imageOutput;
    const inputs =
      inputImages *
      (GPT_IMAGE_INPUT_IMAGE_TOKENS * GPT_IMAGE_RATES.imageInput + GPT_IMAGE_INPUT_IMAGE_TEXT_TOKENS * GPT_IMAGE_RATES.textInput);
    return image + partials + promptTokens * GPT_IMAGE_RATES.textInput + inputs;
  }
  const rates = GEMINI_RATES[ref.id];
  if (!rates) return image;
  return Math.ceil(
    image + GEMINI_TEXT_OUTPUT_ALLOWANCE * rates.textOutput + (promptTokens + inputImages * GEMINI_INPUT_IMAGE_TOKENS) * rates.input,
  );
};

/** What an image cost: from the provider's reported usage, its published per-image price, or the estimate. */
export interface SettledCost {
  costMicroUsd: number;
  /** `usage`: tokens the provider reported at published rates; `price`: a per-image price; `estimate`: nothing reported. */
  basis: 'usage' | 'price' | 'estimate';
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
const field = (record: Record<string, unknown> | undefined, name: string): Record<string, unknown> | undefined => {
  const value = record?.[name];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
};

/**
 * The cost of one generated image at published prices, from what the provider reported and nothing else:
 * - OpenAI's `usage`: text and image input tokens, image and text output tokens (`output_tokens_details`; all
 *   output at the image rate where it is not split). A streamed answer's usage already counts its partial images.
 * - Gemini's `usageMetadata`: prompt tokens at the input rate, the IMAGE part of `candidatesTokensDetails` at the
 *   image rate, the rest of the candidates and `thoughtsTokenCount` at the text rate (all candidates at the image
 *   rate where they are not split).
 * - Bedrock: the per-image price.
 * Where a provider reported nothing usable, the estimate stands (`basis: 'estimate'`).
 *
 * @example costFromUsage('gpt-image-2', { input_tokens: 50, output_tokens: 196 }, 99_000) // { costMicroUsd: 6130, basis: 'usage' }
 */
export function costFromUsage(model: string, usage: Record<string, unknown> | undefined, estimateMicroUsd: number): SettledCost {
  const family = familyOf(model);
  const ref = parseModelName(model);
  const estimate: SettledCost = { costMicroUsd: estimateMicroUsd, basis: 'estimate' };
  if (!family || !ref) return estimate;
  if (family.family === 'stability') return { costMicroUsd: BEDROCK_PRICES[ref.id] ?? estimateMicroUsd, basis: 'price' };
  if (family.family === 'gpt-image') {
    const output = count(usage?.['output_tokens']);
    if (output === undefined) return estimate;
    const input = count(usage?.['input_tokens']) ?? 0;
    const inDetails = field(usage, 'input_tokens_details');
    const imageIn = Math.min(input, count(inDetails?.['image_tokens']) ?? 0);
    const outDetails = field(usage, 'output_tokens_details');
    const textOut = Math.min(output, count(outDetails?.['text_tokens']) ?? 0);
    const cost =
      (input - imageIn) * GPT_IMAGE_RATES.textInput +
      imageIn * GPT_IMAGE_RATES.imageInput +
      (output - textOut) * GPT_IMAGE_RATES.imageOutput +
      textOut * GPT_IMAGE_RATES.textOutput;
    return { costMicroUsd: Math.ceil(cost), basis: 'usage' };
  }
  const rates = GEMINI_RATES[ref.id];
  const candidates = count(usage?.['candidatesTokenCount']);
  if (!rates || candidates === undefined) return estimate;
  const prompt = count(usage?.['promptTokenCount']) ?? 0;
  const thoughts = count(usage?.['thoughtsTokenCount']) ?? 0;
  const details = usage?.['candidatesTokensDetails'];
  const imageOut = Array.isArray(details)
    ? Math.min(
        candidates,
        details.reduce<number>((sum, entry: unknown) => {
          const detail = entry as { modality?: unknown; tokenCount?: unknown } | null;
          return detail?.modality === 'IMAGE' ? sum + (count(detail.tokenCount) ?? 0) : sum;
        }, 0),
      )
    : candidates;
  const cost = prompt * rates.input + imageOut * rates.imageOutput + (candidates - imageOut + thoughts) * rates.textOutput;
  return { costMicroUsd: Math.ceil(cost), basis: 'usage' };
}

export const microUsdToUsd = (micro: number): number => Math.round(micro) / 1_000_000;
export const usdToMicroUsd = (usd: number): number => Math.round(usd * 1_000_000);
