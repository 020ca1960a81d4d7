import { AppError } from '../errors.js';
import { hardenPrompt, quotedText, type HardenOptions } from '../domain/prompt-policy.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

/** Wraps the validated, normalised prompt in the hardening template; the provider only ever sees the result. */
export function hardenPromptMiddleware(
  options: HardenOptions & {
    /** The longest prompt (UTF-16 code units) the model takes, to refuse here what the provider would refuse. */
    maxPromptUnits?: (model: string) => number;
  },
): HttpMiddleware {
  const hardenPromptMiddlewareBefore = (request: HttpRequest): void => {
    const imageRequest = request.context.imageRequest;
    if (imageRequest === undefined) throw new Error('hardenPrompt needs validateImageRequestBody before it');
    // Checked after all stripping: a prompt made only of fence tokens would otherwise be generated (and billed)
    // from an empty quote.
    if (quotedText(imageRequest.prompt) === '') {
      throw new AppError('invalid_request', '"prompt" must contain visible text.', { details: { field: 'prompt' } });
    }
    const providerPrompt = hardenPrompt(imageRequest.prompt, options);
    // NFKC in the fence check can lengthen text (one ligature becomes several letters): check the final prompt.
    const max = options.maxPromptUnits?.(imageRequest.model);
    if (max !== undefined && providerPrompt.length > max) {
      throw new AppError('invalid_request', `"prompt" is too long for model ${imageRequest.model} once prepared for the provider.`, {
        details: { field: 'prompt' },
      });
    }
    request.context.providerPrompt = providerPrompt;
  };
  return { before: hardenPromptMiddlewareBefore };
}
