/**
 * Estimated price of one image, in micro-dollars (1 USD = 1,000,000), by model family, quality and size.
 *
 * The one place to update when prices change (check the provider's pricing page). Integers, so sums in
 * DynamoDB counters never drift. Estimates are deliberately on the high side: they reserve budget before the
 * call, when the real token count is unknown. `auto` is priced as the most expensive choice it could make.
 */
import { familyOf, type ModelFamily } from './models.js';
import { codePointLength } from './prompt-policy.js';

type PriceTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

export const PRICES_MICRO_USD: Readonly<Record<ModelFamily, PriceTable>> = Object.freeze({
  // gpt-image-2 family, per image (quality -> size): OpenAI's pricing page (openai.com/api/pricing), recorded
  // 2026-11 by the session that built the quotas; re-check there when prices change.
  'gpt-image': {
    low: { '1024x1024': 11_000, '1536x1024': 16_000, '1024x1536': 16_000 },
    medium: { '1024x1024': 42_000, '1536x1024': 63_000, '1024x1536': 63_000 },
    high: { '1024x1024': 167_000, '1536x1024': 250_000, '1024x1536': 250_000 },
  },
  // dall-e: retired 2026-05-12; kept for deployments that still list them (their per-image price includes the prompt).
  'dall-e-3': {
    standard: { '1024x1024': 40_000, '1792x1024': 80_000, '1024x1792': 80_000 },
    hd: { '1024x1024': 80_000, '1792x1024': 120_000, '1024x1792': 120_000 },
  },
  'dall-e-2': {
    standard: { '256x256': 16_000, '512x512': 18_000, '1024x1024': 20_000 },
  },
});

/**
 * Text input, per token, in micro-dollars: GPT image models bill the prompt's text tokens on top of the image.
 * $5 per million is gpt-image-1's published text-input rate (OpenAI pricing page, 2025); no gpt-image-2 rate is in
 * our reference material as of 2026-11-25, so the higher known one is used and the estimate stays on the high side.
 * dall-e prices per image only.
 */
export const TEXT_INPUT_MICRO_USD_PER_TOKEN: Readonly<Record<ModelFamily, number>> = Object.freeze({
  'gpt-image': 5,
  'dall-e-3': 0,
  'dall-e-2': 0,
});

/**
 * An upper bound on the text tokens of a prompt: its length in characters. Tokenizers put about four characters in
 * a token on average; a token shorter than one character happens only when a rare symbol is split into byte
 * pieces, which a prompt made mostly of such symbols could reach (then the estimate is low by that factor).
 */
export const textTokensUpperBound = (text: string): number => codePointLength(text);

const DEFAULT_QUALITY: Readonly<Record<ModelFamily, string>> = { 'gpt-image': 'auto', 'dall-e-3': 'standard', 'dall-e-2': 'standard' };

const max = (values: number[]): number => values.reduce((a, b) => Math.max(a, b), 0);

/**
 * The estimated cost of one image; `auto` (or an omitted quality) and `auto` size take the highest price.
 *
 * @example estimateCostMicroUsd('gpt-image', 'low', '1024x1024') // 11000
 */
export function estimateCostMicroUsd(family: ModelFamily, quality: string | undefined, size: string): number {
  const table = PRICES_MICRO_USD[family];
  const chosenQuality = quality ?? DEFAULT_QUALITY[family];
  const qualities = chosenQuality === 'auto' ? Object.values(table) : [table[chosenQuality] ?? {}];
  return max(qualities.map((bySize) => (size === 'auto' ? max(Object.values(bySize)) : (bySize[size] ?? max(Object.values(bySize))))));
}

/**
 * The estimate for a model name and the prompt the provider will get (the hardened one: the template is billed
 * too); 0 for a model outside the table, which config validation does not allow.
 *
 * @example estimateImageCostMicroUsd('gpt-image-2', 'low', '1024x1024', 'x'.repeat(1000)) // 11000 + 5000
 */
export const estimateImageCostMicroUsd = (model: string, quality: string | undefined, size: string, providerPrompt = ''): number => {
  const family = familyOf(model);
  if (!family) return 0;
  return estimateCostMicroUsd(family.family, quality, size) + textTokensUpperBound(providerPrompt) * TEXT_INPUT_MICRO_USD_PER_TOKEN[family.family];
};

export const microUsdToUsd = (micro: number): number => Math.round(micro) / 1_000_000;
export const usdToMicroUsd = (usd: number): number => Math.round(usd * 1_000_000);
