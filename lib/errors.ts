/**
 * The one error taxonomy of the service. Every failure a caller can see is an {@link AppError} with a stable
 * `code`, the HTTP status it maps to, and whether its message may be shown (`expose`, as in middy/http-errors:
 * true below 500). Anything that is not an AppError becomes `internal_error` with a generic message, so no
 * stack trace, SDK message or provider text ever reaches a caller.
 */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'request_in_progress'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'content_policy_violation'
  | 'idempotency_key_reused'
  | 'quota_exceeded'
  | 'spend_cap_reached'
  | 'provider_error'
  | 'bad_provider_response'
  | 'provider_busy'
  | 'storage_unavailable'
  | 'state_unavailable'
  | 'moderation_unavailable'
  | 'moderation_misconfigured'
  | 'auth_unavailable'
  | 'provider_timeout'
  | 'queue_unavailable'
  | 'generation_interrupted'
  /** Only the local stack's front door (`npm start`) answers it, with Retry-After, while it starts. */
  | 'service_starting'
  | 'internal_error';

export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  invalid_json: 400,
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  request_in_progress: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  content_policy_violation: 422,
  idempotency_key_reused: 422,
  quota_exceeded: 429,
  spend_cap_reached: 429,
  provider_error: 502,
  bad_provider_response: 502,
  provider_busy: 503,
  storage_unavailable: 503,
  state_unavailable: 503,
  moderation_unavailable: 503,
  moderation_misconfigured: 502,
  auth_unavailable: 503,
  provider_timeout: 504,
  queue_unavailable: 503,
  generation_interrupted: 503,
  service_starting: 503,
  internal_error: 500,
});

export interface AppErrorOptions {
  /** Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`. */
  headers?: Record<string, string>;
  /** The underlying error, kept for logs only; never serialised to the caller. */
  cause?: unknown;
  /** Safe, non-secret facts for logs (byte counts, provider status, ...). */
  details?: Record<string, string | number | boolean | undefined>;
  /**
   * Set by image generators: the request reached the provider and its outcome is unknown (timeout, reset, 5xx
   * after sending), so the provider may bill for it. Quota reservations are kept for such failures (the money
   * rule, docs/limits.md). Absent means the provider certainly did not generate.
   */
  mayBeBilled?: boolean;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Whether `message` may be sent to the caller. Server-side failures get a fixed message per code instead. */
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly details: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly mayBeBilled: boolean;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.statusCode = STATUS_BY_CODE[code];
    // 502-504 messages are ours (never the provider's text), so they are safe and helpful to show.
    this.expose = this.statusCode < 500 || (this.statusCode >= 502 && this.statusCode <= 504);
    this.headers = Object.freeze({ ...options.headers });
    this.details = Object.freeze({ ...options.details });
    this.mayBeBilled = options.mayBeBilled ?? false;
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/**
 * An error's name. Duck-typed, not `instanceof Error`: errors made inside Node (fetch, JSON.parse in an SDK loaded
 * in another realm, as under Jest) are Errors of another realm.
 */
export const errorName = (error: unknown): string => {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  return typeof name === 'string' ? name : typeof error;
};

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}

const GENERIC_MESSAGE = 'Internal error. Retry later or report the requestId.';

/**
 * Maps any thrown value to the status, headers and body the caller sees. The only place that decides this.
 */
export function toErrorResponse(
  error: unknown,
  requestId: string,
): { statusCode: number; headers: Record<string, string>; body: ErrorBody } {
  if (isAppError(error)) {
    return {
      statusCode: error.statusCode,
      headers: { ...error.headers },
      body: {
        error: { code: error.code, message: error.expose ? error.message : GENERIC_MESSAGE, requestId },
      },
    };
  }
  return {
    statusCode: 500,
    headers: {},
    body: { error: { code: 'internal_error', message: GENERIC_MESSAGE, requestId } },
  };
}
