import { AppError } from '../errors.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

/** Size of the body as sent, without decoding it (base64 bodies are 4/3 of their bytes). */
export function bodyBytes(body: string | undefined, isBase64Encoded: boolean): number {
  if (body === undefined || body === '') return 0;
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
