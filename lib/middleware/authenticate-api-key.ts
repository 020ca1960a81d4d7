import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';
import type { ApiKeyEntry } from '../config.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

/** Longer keys are refused before hashing; real keys are 32-64 characters. */
const MAX_KEY_LENGTH = 256;

const unauthorized = (message: string): AppError =>
  new AppError('unauthorized', message, {
    headers: { 'WWW-Authenticate': 'Bearer realm="durable-image-api", error="invalid_token"' },
  });

/** The key from `Authorization: Bearer <key>` or `x-api-key` (headers already lower-cased by the normalizer). */
export function presentedKey(headers: Record<string, string | undefined>): string | undefined {
  const authorization = headers['authorization'];
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    return match?.[1];
  }
  const apiKey = headers['x-api-key']?.trim();
  return apiKey === '' ? undefined : apiKey;
}

/**
 * Finds the principal whose key hash matches, in constant time: every entry is compared (no early exit) with
 * timingSafeEqual on fixed-length digests, so neither the key nor which entry matched shows in the timing.
 */
export function matchPrincipal(key: string, entries: readonly ApiKeyEntry[]): string | undefined {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let principal: string | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(digest, entry.sha256) && principal === undefined) principal = entry.principal;
  }
  return principal;
}

/**
 * Refuses the request unless it carries a known API key; runs before anything reads the body, so an anonymous
 * caller cannot even learn what a valid body looks like, let alone reach the provider.
 */
export function authenticateApiKey(options: {
  apiKeys: readonly ApiKeyEntry[];
  onAuthenticated?: (principal: string) => void;
}): HttpMiddleware {
  const authenticateApiKeyMiddlewareBefore = (request: HttpRequest): void => {
    const key = presentedKey(request.event.headers ?? {});
    if (key === undefined) {
      throw unauthorized('An API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>".');
    }
    const principal = key.length <= MAX_KEY_LENGTH ? matchPrincipal(key, options.apiKeys) : undefined;
    if (principal === undefined) throw unauthorized('The API key is not valid.');
    request.context.principal = principal;
    options.onAuthenticated?.(principal);
  };
  return { before: authenticateApiKeyMiddlewareBefore };
}
