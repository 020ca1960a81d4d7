import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';
import type { ApiKeyEntry } from '../config.js';
import type { Principal, TokenVerifier } from '../ports.js';
import type { KeyVerdict } from '../use-cases/issued-keys.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

/** Longer keys are refused before hashing; real keys are 32-64 characters. */
const MAX_KEY_LENGTH = 256;

const unauthorized = (message: string): AppError =>
  new AppError('unauthorized', message, {
    headers: { 'WWW-Authenticate': 'Bearer realm="durable-image-api", error="invalid_token"' },
  });

/** The key from `Authorization: Bearer <key>` or `x-api-key` (headers already lower-cased by the normalizer). */
function presentedKey(headers: Record<string, string | undefined>): string | undefined {
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
function matchPrincipal(key: string, entries: readonly ApiKeyEntry[]): string | undefined {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let principal: string | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(digest, entry.sha256) && principal === undefined) principal = entry.principal;
  }
  return principal;
}

/** Why an API key is refused: a revoked or expired key says so (its holder needs a new one, not a retry). */
function refusalOf(verdict: KeyVerdict | undefined): string {
  if (verdict !== undefined && 'refused' in verdict) {
    const when = verdict.at === undefined ? '' : ` on ${new Date(verdict.at).toISOString()}`;
    if (verdict.refused === 'revoked') return `This API key was revoked${when}. Ask the operator for a new one.`;
    if (verdict.refused === 'expired') return `This API key expired${when}. Ask the operator for a new one.`;
  }
  return 'The API key is not valid.';
}

// Three base64url segments: a compact JWS. API keys never contain dots.
const LOOKS_LIKE_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 8_192;

/**
 * Refuses the request unless it carries a known API key or, when JWT auth is configured, a valid JWT. Runs
 * before anything reads the body, so an anonymous caller cannot even learn what a valid body looks like, let
 * alone reach the provider.
 */
export function authenticate(options: {
  apiKeys: readonly ApiKeyEntry[];
  tokens?: TokenVerifier | undefined;
  /** Keys the operator issued into the state table (`npm run keys`); undefined without a state table. */
  issuedKeys?: ((key: string) => Promise<KeyVerdict | undefined>) | undefined;
  onAuthenticated?: (principal: Principal) => void;
}): HttpMiddleware {
  const authenticateMiddlewareBefore = async (request: HttpRequest): Promise<void> => {
    const credential = presentedKey(request.event.headers ?? {});
    if (credential === undefined) {
      throw unauthorized(
        options.tokens
          ? 'Credentials are required: send "Authorization: Bearer <token or key>" or "x-api-key: <key>".'
          : 'An API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>".',
      );
    }
    let principal: Principal | undefined;
    if (options.tokens && LOOKS_LIKE_JWT.test(credential)) {
      if (credential.length > MAX_TOKEN_LENGTH) throw unauthorized('The bearer token is not valid.');
      const { subject } = await options.tokens.verify(credential);
      principal = { id: subject, kind: 'jwt' };
    } else {
      const name = credential.length <= MAX_KEY_LENGTH ? matchPrincipal(credential, options.apiKeys) : undefined;
      if (name !== undefined) principal = { id: name, kind: 'api-key' };
      else {
        const verdict = credential.length <= MAX_KEY_LENGTH ? await options.issuedKeys?.(credential) : undefined;
        if (verdict === undefined || 'refused' in verdict) throw unauthorized(refusalOf(verdict));
        principal = verdict.principal;
      }
    }
    request.context.principal = principal;
    options.onAuthenticated?.(principal);
  };
  return { before: authenticateMiddlewareBefore };
}
