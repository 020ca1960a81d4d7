import { AppError, errorName } from '../../errors.js';

/**
 * The failures an image provider's adapter reports, in the service's one taxonomy (lib/errors.ts), with our own
 * messages only: a provider's text may quote the prompt, so it never reaches the caller (it stays in `cause`).
 * Shared by every provider adapter (OpenAI and Azure, Bedrock, Gemini, offline) and by the bounded reads below them.
 */
type Details = Record<string, string | number | boolean | undefined>;

export const providerFailures = {
  /** The provider's safety system refused the prompt or the image (422). */
  refused: (details: Details, mayBeBilled: boolean, cause?: unknown): AppError =>
    new AppError(
      'content_policy_violation',
      'The image provider refused this prompt under its content policy. Change the prompt and try again.',
      {
        cause,
        details,
        mayBeBilled,
      },
    ),
  /** Throttled (503 with Retry-After); never billed. */
  busy: (details: Details, retryAfterSeconds: number, cause?: unknown): AppError =>
    new AppError('provider_busy', 'The image provider is rate-limiting requests. Retry later.', {
      cause,
      details,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    }),
  /** No answer in time (504). */
  timedOut: (details: Details, mayBeBilled: boolean, cause?: unknown): AppError =>
    new AppError('provider_timeout', 'The image provider did not answer in time.', { cause, details, mayBeBilled }),
  /** A failure of the provider, or of our access to it (502). */
  failed: (details: Details, mayBeBilled: boolean, cause?: unknown): AppError =>
    new AppError('provider_error', 'The image provider failed to generate the image.', { cause, details, mayBeBilled }),
  /** A request the provider says is invalid because of what the caller chose (400). */
  callerInput: (details: Details, cause?: unknown): AppError =>
    new AppError(
      'invalid_request',
      "The image provider refused the request's parameters. Change the prompt or the options and try again.",
      {
        cause,
        details,
      },
    ),
  /** An answer without a usable image (502); the provider answered, so it may have billed. */
  badAnswer: (details: Details, cause?: unknown): AppError =>
    new AppError('bad_provider_response', 'The image provider returned an unreadable response.', { cause, details, mayBeBilled: true }),
};

export const messageOf = (error: unknown): string => {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : '';
};

/** The error and its causes, outermost first (at most 5: SDKs wrap the socket error two or three times). */
export function* causes(error: unknown): Generator<unknown> {
  for (let current: unknown = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth += 1) {
    yield current;
  }
}

/** The `code` (ECONNREFUSED, UND_ERR_INVALID_ARG...) of the first error down the chain that has one. */
export const causeCode = (error: unknown): string | undefined => {
  for (const current of causes(error)) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
};

/** Whether an error is our own deadline (an aborted request) rather than a provider's answer. */
export const isAbort = (error: unknown): boolean =>
  ['AbortError', 'TimeoutError'].includes(errorName(error)) || /aborted/i.test(messageOf(error));

/**
 * A request Node (or fetch's undici) refused to build before sending: an invalid URL or header value. It never
 * left, and it would fail the same way again.
 */
export const REFUSED_LOCALLY = /\b(ERR_INVALID_URL|ERR_INVALID_CHAR|ERR_HTTP_INVALID_HEADER_VALUE|UND_ERR_INVALID_ARG)\b/;

/** Errors that mean the request never left: refused, unresolvable or unroutable, or refused locally (above). */
const NOT_SENT = new RegExp(`\\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\\b|${REFUSED_LOCALLY.source}`);

/**
 * A refused or unresolvable connection: the request never reached the provider, so it cannot be billed (the money
 * rule). Every adapter decides it here. SDKs wrap the socket error (the AWS SDK in "AWS SDK error wrapper for Error:
 * connect ECONNREFUSED", fetch in a TypeError with a cause), so the code is
 * looked for on the error, down its causes, and in the messages.
 */
export const neverSent = (error: unknown): boolean => {
  for (const current of causes(error)) {
    const code = (current as { code?: unknown }).code;
    if ((typeof code === 'string' && NOT_SENT.test(code)) || NOT_SENT.test(messageOf(current))) return true;
  }
  return false;
};
