import { AppError } from '../errors.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

/** Size of the body as sent, without decoding it (base64 bodies are 4/3 of their bytes). */
function bodyBytes(body: string | null | undefined, isBase64Encoded: boolean): number {
  // serverless-offline passes an empty body as null.
  if (body === undefined || body === null || body === '') return 0;
  if (typeof body !== 'string') return Buffer.byteLength(JSON.stringify(body) ?? '', 'utf8');
  if (!isBase64Encoded) return Buffer.byteLength(body, 'utf8');
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  return Math.floor((body.length * 3) / 4) - padding;
}

/**
 * Refuses bodies over the limit before they are decoded or parsed (API Gateway itself accepts up to 10 MB).
 */
export function bodyLimit(options: { maxBytes: number }): HttpMiddleware {
  const bodyLimitMiddlewareBefore = (request: HttpRequest): void => {
    const size = bodyBytes(request.event.body, request.event.isBase64Encoded);
    if (size > options.maxBytes) {
      throw new AppError('payload_too_large', `The request body must be at most ${options.maxBytes} bytes.`, {
        details: { bodyBytes: size },
      });
    }
  };
  return { before: bodyLimitMiddlewareBefore };
}

/**
 * A POST needs a body, sent as JSON: an empty body is `400 invalid_request` saying so (not a JSON parse error),
 * and a body without a Content-Type is `415`, as docs/api.md promises (some clients and local gateways send none).
 */
export function requireJsonBody(): HttpMiddleware {
  const requireJsonBodyMiddlewareBefore = (request: HttpRequest): void => {
    if (bodyBytes(request.event.body, request.event.isBase64Encoded) === 0) {
      throw new AppError('invalid_request', 'The request body is required: a JSON object like {"prompt": "a red fox"}.', {
        details: { field: 'body' },
      });
    }
    const contentType = request.event.headers?.['content-type'];
    if (contentType === undefined || contentType.trim() === '') {
      throw new AppError('unsupported_media_type', 'The body must be JSON, sent with Content-Type: application/json.');
    }
  };
  return { before: requireJsonBodyMiddlewareBefore };
}
