import { AppError } from '../errors.js';

/**
 * The failures an image provider's adapter reports, in the service's one taxonomy (lib/errors.ts), with our own
 * messages only: a provider's text may quote the prompt, so it never reaches the caller (it stays in `cause`).
 * Shared by the Bedrock and Gemini adapters; the OpenAI adapter maps the OpenAI SDK's own error classes.
 */
type Details = Record<string, string | number | boolean | undefined>;

export const providerFailures = {
  /** The provider's safety system refused the prompt or the image (422). */
  refused: (details: Details, mayBeBilled: boolean, cause?: unknown): AppError =>
    new AppError('content_policy_violation', 'The image provider refused this prompt under its content policy. Change the prompt and try again.', {
      cause,
      details,
      mayBeBilled,
    }),
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
    new AppError('invalid_request', 'The image provider refused the request\'s parameters. Change the prompt or the options and try again.', {
      cause,
      details,
    }),
  /** An answer without a usable image (502); the provider answered, so it may have billed. */
  badAnswer: (details: Details, cause?: unknown): AppError =>
    new AppError('bad_provider_response', 'The image provider returned an unreadable response.', { cause, details, mayBeBilled: true }),
};

/** Whether an error is our own deadline (an aborted request) rather than a provider's answer. */
export const isAbort = (error: unknown): boolean =>
  error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError' || /aborted/i.test(error.message));

/** A refused or unreachable connection: the request never reached the provider. */
export const neverSent = (error: unknown): boolean => {
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | undefined)?.code ?? (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
};
