import { estimateImageCostMicroUsd } from '../../lib/domain/pricing.js';
import { DEFAULT_CONSTRAINTS, DEFAULT_PROMPT_TEMPLATE, hardenPrompt, normalizePrompt } from '../../lib/domain/prompt-policy.js';

/**
 * What the service estimates for a request with the default template: the image plus the hardened prompt's text.
 * Tests about counting (quotas, the money rule) use it; the estimate itself is checked by tests/unit/domain/pricing.
 */
/** The settled cost of an image the OpenAI test server answers with its IMAGE_USAGE: 50 x $5 + 196 x $30 per million. */
export const SETTLED_COST = 50 * 5 + 196 * 30;

export const estimatedCost = (prompt: string, quality = 'low', size = '1024x1024', model = 'gpt-image-2', previews = 0): number =>
  estimateImageCostMicroUsd(
    model,
    quality,
    size,
    hardenPrompt(normalizePrompt(prompt, Number.MAX_SAFE_INTEGER), { template: DEFAULT_PROMPT_TEMPLATE, constraints: DEFAULT_CONSTRAINTS }),
    previews,
  );

/** What one streamed partial image adds: 100 image output tokens at $30 per million (OpenAI's image guide). */
export const PREVIEW_COST = 100 * 30;
