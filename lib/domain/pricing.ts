/**
 * Estimated price of one image, in micro-dollars (1 USD = 1,000,000), for every wired model (lib/domain/models.ts).
 *
 * The one place to update when prices change (check the provider's pricing page). Integers, so sums in
 * DynamoDB counters never drift. Estimates are deliberately on the high side: they reserve budget before the
 * call, when the real token count is unknown. `auto` is priced as the most expensive choice it could make.
 */
import { familyOf, parseModelName, pixelSize, type ModelFamily } from './models.js';
import { codePointLength } from './prompt-policy.js';

type PriceTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** GPT image models, per image (quality -> size). */
export const GPT_IMAGE_PRICES: PriceTable = Object.freeze({
  // gpt-image-2, per image: OpenAI's pricing page (openai.com/api/pricing), recorded 2026-11 by the session that
  // built the quotas; re-check there when prices change. Azure OpenAI's global deployments bill the same rates.
  low: { '1024x1024': 11_000, '1536x1024': 16_000, '1024x1536': 16_000 },
  medium: { '1024x1024': 42_000, '1536x1024': 63_000, '1024x1536': 63_000 },
  high: { '1024x1024': 167_000, '1536x1024': 250_000, '1024x1536': 250_000 },
});

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
 * Gemini image models, per image by resolution tier. gemini-3-pro-image: $0.134 at 1K and 2K, $0.24 at 4K (Gemini
 * API pricing page: 1,120 and 2,000 output image tokens at $120 per million), read 2026-11. gemini-3.1-flash-image:
 * $0.067 at 1K (same page, via public cost tables of 2026); its 2K and 4K prices were not in our reference
 * material, so they are bounded by the Pro model's (on the high side, as every estimate here).
 */
export const GEMINI_PRICES: Readonly<Record<string, Readonly<Record<string, number>>>> = Object.freeze({
  'gemini-3-pro-image': { '1K': 134_000, '2K': 134_000, '4K': 240_000 },
  'gemini-3.1-flash-image': { '1K': 67_000, '2K': 134_000, '4K': 240_000 },
});

/**
 * Text input, per token, in micro-dollars, billed on top of the image. GPT image models: $5 per million is
 * gpt-image-1's published text-input rate (OpenAI pricing page, 2025); no gpt-image-2 rate was in our reference
 * material as of 2026-11-25, so the higher known one is used. Gemini image models: $2 per million (gemini-3-pro
 * text input, Gemini API pricing page, 2026), used for both. Stability prices per image only.
 */
export const TEXT_INPUT_MICRO_USD_PER_TOKEN: Readonly<Record<ModelFamily, number>> = Object.freeze({
  'gpt-image': 5,
  'gemini-image': 2,
  stability: 0,
});

/**
 * An upper bound on the text tokens of a prompt: its length in characters. Tokenizers put about four characters in
 * a token on average; a token shorter than one character happens only when a rare symbol is split into byte
 * pieces, which a prompt made mostly of such symbols could reach (then the estimate is low by that factor).
 */
export const textTokensUpperBound = (text: string): number => codePointLength(text);

const max = (values: number[]): number => values.reduce((a, b) => Math.max(a, b), 0);

/**
 * A GPT image price for a quality and size. A custom size (gpt-image-2) is priced by its area at the highest
 * per-pixel rate of that quality's standard sizes (output tokens grow with the pixels).
 *
 * @example estimateCostMicroUsd('gpt-image', 'low', '1024x1024') // 11000
 */
export function estimateCostMicroUsd(family: 'gpt-image', quality: string | undefined, size: string): number {
  const chosenQuality = quality ?? 'auto';
  const qualities = chosenQuality === 'auto' ? Object.values(GPT_IMAGE_PRICES) : [GPT_IMAGE_PRICES[chosenQuality] ?? {}];
  const capabilities = familyOf('gpt-image-2');
  return max(
    qualities.map((bySize) => {
      if (size === 'auto') return max(Object.values(bySize));
      const listed = bySize[size];
      if (listed !== undefined) return listed;
      const { width, height } = capabilities ? pixelSize(size, capabilities) : { width: 3840, height: 2160 };
      const perPixel = max(Object.entries(bySize).map(([standard, price]) => price / pixelsOf(standard)));
      return Math.ceil(perPixel * width * height);
    }),
  );
}

const pixelsOf = (size: string): number => {
  const [width = 1, height = 1] = size.split('x').map(Number);
  return width * height;
};

/**
 * The estimate for a model name and the prompt the provider will get (the hardened one: the template is billed
 * too); 0 for a model outside the table, which config validation does not allow.
 *
 * @example estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', 'x'.repeat(1000)) // 11000 + 5000
 */
export const estimateImageCostMicroUsd = (model: string, quality: string | undefined, size: string, providerPrompt = ''): number => {
  const family = familyOf(model);
  const ref = parseModelName(model);
  if (!family || !ref) return 0;
  let image = 0;
  if (family.family === 'gpt-image') image = estimateCostMicroUsd('gpt-image', quality, size);
  else if (family.family === 'stability') image = BEDROCK_PRICES[ref.id] ?? 0;
  else image = GEMINI_PRICES[ref.id]?.[quality ?? '1K'] ?? max(Object.values(GEMINI_PRICES[ref.id] ?? {}));
  return image + textTokensUpperBound(providerPrompt) * TEXT_INPUT_MICRO_USD_PER_TOKEN[family.family];
};

export const microUsdToUsd = (micro: number): number => Math.round(micro) / 1_000_000;
export const usdToMicroUsd = (usd: number): number => Math.round(usd * 1_000_000);
