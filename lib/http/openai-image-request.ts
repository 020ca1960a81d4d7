import { AppError } from '../errors.js';
import { validateImageRequest, type RequestRules } from '../domain/image-request.js';
import { OPENAI_PARAM, translateGenerationRequest } from './openai-compat.js';
import type { HttpMiddleware, HttpRequest } from '../middleware/types.js';

/**
 * `POST /v1/images/generations`: OpenAI's body translated to the native one, then checked exactly as `POST /images`
 * checks its own; a refusal names OpenAI's parameter (`output_format`, not `format`).
 */
export function openAIImageRequestBody(rules: RequestRules): HttpMiddleware {
  const openAIImageRequestMiddlewareBefore = (request: HttpRequest): void => {
    const translated = translateGenerationRequest(request.event.body as unknown);
    const result = validateImageRequest(translated.body, rules);
    if (!result.ok) {
      const param = OPENAI_PARAM[result.field] ?? result.field;
      throw new AppError('invalid_request', result.message.replace(`"${result.field}"`, `"${param}"`), { details: { field: param } });
    }
    request.context.imageRequest = result.value;
    const { responseFormat, count, stream } = translated;
    request.context.openAI = { responseFormat, count, stream };
  };
  return { before: openAIImageRequestMiddlewareBefore };
}
