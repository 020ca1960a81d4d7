import { AppError } from '../errors.js';
import { validateImageRequest, type RequestRules } from '../domain/image-request.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

/** Checks the parsed body against the contract and the chosen model's rules; the result goes to `internal`. */
export function validateImageRequestBody(rules: RequestRules): HttpMiddleware {
  const validateImageRequestMiddlewareBefore = (request: HttpRequest): void => {
    const result = validateImageRequest(request.event.body as unknown, rules);
    if (!result.ok) {
      throw new AppError('invalid_request', result.message, { details: { field: result.field } });
    }
    request.context.imageRequest = result.value;
  };
  return { before: validateImageRequestMiddlewareBefore };
}
