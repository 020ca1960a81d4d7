import { hardenPrompt, type HardenOptions } from '../domain/prompt-policy.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

/** Wraps the validated, normalised prompt in the hardening template; the provider only ever sees the result. */
export function hardenPromptMiddleware(options: HardenOptions): HttpMiddleware {
  const hardenPromptMiddlewareBefore = (request: HttpRequest): void => {
    const imageRequest = request.context.imageRequest;
    if (imageRequest === undefined) throw new Error('hardenPrompt needs validateImageRequestBody before it');
    request.context.providerPrompt = hardenPrompt(imageRequest.prompt, options);
  };
  return { before: hardenPromptMiddlewareBefore };
}
