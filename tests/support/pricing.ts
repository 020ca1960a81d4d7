import { estimateImageCostMicroUsd } from '../../lib/domain/pricing.js';
import { DEFAULT_CONSTRAINTS, DEFAULT_PROMPT_TEMPLATE, hardenPrompt, normalizePrompt } from '../../lib/domain/prompt-policy.js';

/**
 * What the service estimates for a request with the default template: the image plus the hardened prompt's text.
 * Tests about counting (quotas, the money rule) use it; the estimate itself is checked by tests/unit/domain/pricing.
 */
export const estimatedCost = (prompt: string, quality = 'low', size = '1024x1024', model = 'gpt-image-2'): number =>
  estimateImageCostMicroUsd(
    model,
    quality,
    size,
    hardenPrompt(normalizePrompt(prompt, Number.MAX_SAFE_INTEGER), { template: DEFAULT_PROMPT_TEMPLATE, constraints: DEFAULT_CONSTRAINTS }),
  );
