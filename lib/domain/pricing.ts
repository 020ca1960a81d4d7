/**
 * Estimated price of one image, in micro-dollars (1 USD = 1,000,000), for every wired model (lib/domain/models.ts).
 *
 * The one place to update when prices change (check the provider's pricing page; each table says which page and
 * when). Integers, so sums in DynamoDB counters never drift. Estimates are deliberately at or above the published
 * prices: they reserve budget before the call, when the real token count is unknown. `auto` is priced as the most
 * expensive choice it could make.
 */
import { familyOf, parseModelName, pixelSize, type ModelFamily } from './models.js';

type PriceTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

/**
 * gpt-image-2, per image (quality -> size), as OpenAI's pricing page and image generation guide publish them
 * (read 2026-11-30): 1024x1024 low $0.006, medium $0.053, high $0.211; 1536x1024 and 1024x1536 low $0.005,
 * medium $0.041, high $0.165. Azure OpenAI's global deployments of gpt-image-2 bill the same rates.
 */
export const GPT_IMAGE_PRICES: PriceTable = Object.freeze({
  low: { '1024x1024': 6_000, '1536x1024': 5_000, '1024x1536': 5_000 },
  medium: { '1024x1024': 53_000, '1536x1024': 41_000, '1024x1536': 41_000 },
  high: { '1024x1024': 211_000, '1536x1024': 165_000, '1024x1536': 165_000 },
});

/**
 * The image output tokens behind those prices (OpenAI's image generation guide, read 2026-11-30): 1024x1024 196 /
 * 1,756 / 7,024 at low / medium / high, 1536x1024 (either way round) 168 / 1,372 / 5,488, billed at $30 per
 * million image output tokens. A larger non-square size costs fewer tokens than the square: the price is not
 * proportional to pixels, so custom sizes are bounded from the square (customSizeTokens).
 */
export const GPT_IMAGE_OUTPUT_TOKENS: PriceTable = Object.freeze({
  low: { '1024x1024': 196, '1536x1024': 168, '1024x1536': 168 },
  medium: { '1024x1024': 1_756, '1536x1024': 1_372, '1024x1536': 1_372 },
  high: { '1024x1024': 7_024, '1536x1024': 5_488, '1024x1536': 5_488 },
});

/** gpt-image-2's token rates in micro-dollars per token: $30 per million image output tokens, $8 image input, $5 text input. */
export const GPT_IMAGE_RATES = Object.freeze({ imageOutput: 30, imageInput: 8, textInput: 5 });

/**
 * The image output tokens of one streamed partial image (`previews`): OpenAI's image generation guide says each
 * partial image costs 100 more image output tokens (read 2026-11-30), $0.003 at $30 per million. The usage of the
 * final event counts "the image tokens in the output image" (the Images API reference, openai 7.57.0), so partials
 * are added to it, one per partial image received.
 */
export const PREVIEW_OUTPUT_TOKENS = 100;

/**
 * An upper bound on the input tokens of one input image (an edit's image, a reference, a mask), for the estimate
 * only: the settlement uses the tokens the provider reports. OpenAI publishes no per-image count for gpt-image-2's
 * image input ($8 per million tokens); 6,000 tokens ($0.048) bounds a large image at high fidelity, which
 * gpt-image-2 always uses. Gemini 3 counts an image at its default (high) media resolution as 1,120 tokens, billed
 * as input ($2 per million). Stability prices per image.
 */
export const INPUT_IMAGE_MICRO_USD: Readonly<Record<ModelFamily, number>> = Object.freeze({
  'gpt-image': 6_000 * GPT_IMAGE_RATES.imageInput,
  'gemini-image': 1_120 * 2,
  stability: 0,
});

const previewsMicroUsd = (previews: number): number => Math.max(0, previews) * PREVIEW_OUTPUT_TOKENS * GPT_IMAGE_RATES.imageOutput;

const SQUARE = '1024x1024';
const SQUARE_PIXELS = 1024 * 1024;

/**
 * An upper bound on the output tokens of a custom gpt-image-2 size: the 1024x1024 square's tokens (the most of the
 * published sizes, for fewer pixels than 1536x1024) scaled by the size's pixels over the square's, never below the
 * square's. OpenAI publishes no formula for custom sizes; every published size is within this bound (the square
 * exactly, 1536x1024 at 52% of it), and a size never costs less than the smallest square it could be.
 */
export const customSizeTokens = (quality: string, width: number, height: number): number =>
  Math.ceil((GPT_IMAGE_OUTPUT_TOKENS[quality]?.[SQUARE] ?? 0) * Math.max(1, (width * height) / SQUARE_PIXELS));

/**
 * Stability AI on Amazon Bedrock, per image whatever its size: the figures AWS's Bedrock pricing page published
 * (us-west-2, on-demand); the page's own text was not in the reference material of 2026-11-25, so re-check them
 * there before relying on the spend caps.
 */
export const BEDROCK_PRICES: Readonly<Record<string, number>> = Object.freeze({
  'stability.stable-image-core-v1:1': 40_000,
  'stability.sd3-5-large-v1:0': 80_000,
  'stability.stable-image-ultra-v1:1': 140_000,
});

/**
 * Gemini image models, per image by resolution tier, rounded up to the micro-dollar (Gemini API pricing page, read
 * 2026-11-30): gemini-3-pro-image $0.1344 at 1K and 2K (1,120 output image tokens at $120 per million), $0.24 at
 * 4K (2,000 tokens); gemini-3.1-flash-image $0.0672 at 1K, $0.101 at 2K, $0.151 at 4K.
 */
export const GEMINI_PRICES: Readonly<Record<string, Readonly<Record<string, number>>>> = Object.freeze({
  'gemini-3-pro-image': { '1K': 134_400, '2K': 134_400, '4K': 240_000 },
  'gemini-3.1-flash-image': { '1K': 67_200, '2K': 101_000, '4K': 151_000 },
});

/**
 * Text input, per token, in micro-dollars, billed on top of the image. GPT image models: $5 per million
 * (GPT_IMAGE_RATES). Gemini image models: $2 per million (gemini-3-pro text input, Gemini API pricing page, 2026),
 * used for both. Stability prices per image only.
 */
export const TEXT_INPUT_MICRO_USD_PER_TOKEN: Readonly<Record<ModelFamily, number>> = Object.freeze({
  'gpt-image': GPT_IMAGE_RATES.textInput,
  'gemini-image': 2,
  stability: 0,
});

/**
 * An upper bound on the text tokens of a prompt: its length in UTF-8 bytes. Byte-level BPE tokenizers (o200k_base,
 * and Gemini's) never make a token of less than one byte, while a token of less than one character is common in
 * some scripts (4,000 characters of CJK Extension B are 15,838 o200k_base tokens: 16,000 bytes bound them, a
 * count of characters did not).
 */
export const textTokensUpperBound = (text: string): number => Buffer.byteLength(text, 'utf8');

const max = (values: number[]): number => values.reduce((a, b) => Math.max(a, b), 0);

/**
 * A gpt-image-2 image price for a quality and size, in micro-dollars: for a listed size the published price or
 * its output tokens at $30 per million, whichever is higher (the published prices are rounded), and for a custom
 * size its output-token bound (customSizeTokens) at that rate, never less than the square's published price scaled
 * the same way. `auto` quality is priced as the most expensive, `auto` size as the most expensive listed one.
 *
 * @example estimateCostMicroUsd('low', '1024x1024') // 6000
 */
export function estimateCostMicroUsd(quality: string | undefined, size: string): number {
  const chosenQuality = quality ?? 'auto';
  const qualities = chosenQuality === 'auto' ? Object.keys(GPT_IMAGE_PRICES) : [chosenQuality];
  const capabilities = familyOf('gpt-image-2');
  return max(
    qualities.map((name) => {
      const bySize = GPT_IMAGE_PRICES[name] ?? {};
      if (size === 'auto') return max(Object.values(bySize));
      const listed = bySize[size];
      // The published price is rounded: 1536x1024 low is 168 tokens ($0.00504) published as $0.005.
      if (listed !== undefined) return Math.max(listed, (GPT_IMAGE_OUTPUT_TOKENS[name]?.[size] ?? 0) * GPT_IMAGE_RATES.imageOutput);
      const { width, height } = capabilities ? pixelSize(size, capabilities) : { width: 3840, height: 2160 };
      const scale = Math.max(1, (width * height) / SQUARE_PIXELS);
      return Math.max(customSizeTokens(name, width, height) * GPT_IMAGE_RATES.imageOutput, Math.ceil((bySize[SQUARE] ?? 0) * scale));
    }),
  );
}

/**
 * The estimate for a model name and the prompt the provider will get (the hardened one: the template is billed
 * too), with the partial images asked for; 0 for a model outside the table, which config validation does not allow.
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
  let image = 0;
  if (family.family === 'gpt-image') image = estimateCostMicroUsd(quality, size) + previewsMicroUsd(Math.min(previews, family.maxPreviews));
  else if (family.family === 'stability') image = BEDROCK_PRICES[ref.id] ?? 0;
  else image = GEMINI_PRICES[ref.id]?.[quality ?? '1K'] ?? max(Object.values(GEMINI_PRICES[ref.id] ?? {}));
  return (
    image +
    textTokensUpperBound(providerPrompt) * TEXT_INPUT_MICRO_USD_PER_TOKEN[family.family] +
    inputImages * INPUT_IMAGE_MICRO_USD[family.family]
  );
};

/**
 * Gemini image models' image output rate, micro-dollars per token (Gemini API pricing page, read 2026-11-30):
 * gemini-3-pro-image $120 per million (1,120 tokens for a 1K or 2K image, 2,000 for 4K), gemini-3.1-flash-image
 * $60 per million (its $0.0672 for 1,120 tokens).
 */
export const GEMINI_IMAGE_OUTPUT_MICRO_USD_PER_TOKEN: Readonly<Record<string, number>> = Object.freeze({
  'gemini-3-pro-image': 120,
  'gemini-3.1-flash-image': 60,
});

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
 * The cost of one generated image at published prices, from what the provider reported: OpenAI's `usage` (text
 * and image input tokens, image output tokens) and the partial images it streamed (`previews`, 100 output tokens
 * each), Gemini's `usageMetadata` (prompt and candidate tokens), Bedrock's per-image price. Where a provider
 * reported nothing usable, the estimate stands (`basis: 'estimate'`; it counted every partial image asked for).
 *
 * @example costFromUsage('gpt-image-2', { input_tokens: 50, output_tokens: 196 }, 99_000) // { costMicroUsd: 6130, basis: 'usage' }
 */
export function costFromUsage(
  model: string,
  usage: Record<string, unknown> | undefined,
  estimateMicroUsd: number,
  previews = 0,
): SettledCost {
  const family = familyOf(model);
  const ref = parseModelName(model);
  const estimate: SettledCost = { costMicroUsd: estimateMicroUsd, basis: 'estimate' };
  if (!family || !ref) return estimate;
  if (family.family === 'stability') return { costMicroUsd: BEDROCK_PRICES[ref.id] ?? estimateMicroUsd, basis: 'price' };
  if (family.family === 'gpt-image') {
    const output = count(usage?.['output_tokens']);
    const input = count(usage?.['input_tokens']) ?? 0;
    if (output === undefined) return estimate;
    const details = field(usage, 'input_tokens_details');
    const imageIn = count(details?.['image_tokens']) ?? 0;
    const textIn = count(details?.['text_tokens']) ?? Math.max(0, input - imageIn);
    const cost = textIn * GPT_IMAGE_RATES.textInput + imageIn * GPT_IMAGE_RATES.imageInput + output * GPT_IMAGE_RATES.imageOutput;
    return { costMicroUsd: Math.ceil(cost) + previewsMicroUsd(previews), basis: 'usage' };
  }
  const candidates = count(usage?.['candidatesTokenCount']);
  const rate = GEMINI_IMAGE_OUTPUT_MICRO_USD_PER_TOKEN[ref.id];
  if (candidates === undefined || rate === undefined) return estimate;
  const prompt = count(usage?.['promptTokenCount']) ?? 0;
  return { costMicroUsd: Math.ceil(prompt * TEXT_INPUT_MICRO_USD_PER_TOKEN['gemini-image'] + candidates * rate), basis: 'usage' };
}

export const microUsdToUsd = (micro: number): number => Math.round(micro) / 1_000_000;
export const usdToMicroUsd = (usd: number): number => Math.round(usd * 1_000_000);
