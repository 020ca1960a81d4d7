import OpenAI, { APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { AppError, type AppErrorOptions } from '../errors.js';
import { parseModelName } from '../domain/models.js';
import { maxBase64Length } from '../domain/base64.js';
import { parseImageAnswer, readBody } from './openai-image-answer.js';
import { neverSent } from './provider-failures.js';
import type { GeneratedImage, GenerationHooks, GenerationRequest, ImageGenerator } from '../ports.js';

export interface OpenAIImageGeneratorOptions {
  /** Retries after the first attempt, each only when it can still finish before the deadline. */
  maxRetries: number;
  /** Largest decoded image accepted; the answer body is bounded accordingly before it is read. */
  maxImageBytes: number;
  /** An attempt is not started with less time than this left. */
  minAttemptMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const providerTimeout = (options: AppErrorOptions): AppError =>
  new AppError('provider_timeout', 'The image provider did not answer in time.', options);

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504]);
/** Request parameters the caller chose (OpenAI name -> our field): a 400 about them is the caller's to fix. */
const CALLER_PARAMS: Readonly<Record<string, string>> = Object.freeze({
  prompt: 'prompt',
  size: 'size',
  quality: 'quality',
  output_format: 'format',
  model: 'model',
});
const REFUSAL_CODES = new Set(['moderation_blocked', 'content_policy_violation']);

/**
 * Image generation through the official OpenAI SDK (any OpenAI-compatible endpoint via `baseURL`): OpenAI itself
 * (`openai/<model>` or a bare name) and Azure OpenAI's v1 API (`azure/<deployment>`, the client built on
 * `<AZURE_OPENAI_ENDPOINT>/openai/v1`), which takes the deployment name as `model`.
 *
 * The SDK's own retries are turned off (`maxRetries: 0`) and done here instead, because the SDK does not know
 * our deadline: it honours a `Retry-After` of up to 60 s and would sleep past API Gateway's 30 s limit, turning
 * a quick, honest 503 into a 504 for a request the caller has long given up on. Each attempt gets exactly the
 * time left as its timeout, and a retry happens only if its wait plus a minimal attempt still fits.
 */
export class OpenAIImageGenerator implements ImageGenerator {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** The base64 of the largest image, plus 64 KiB for the JSON around it (usage, revised prompt). */
  private readonly maxAnswerBytes: number;

  constructor(
    private readonly client: OpenAI,
    private readonly options: OpenAIImageGeneratorOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.maxAnswerBytes = maxBase64Length(options.maxImageBytes) + 64 * 1024;
  }

  async generate(request: GenerationRequest, deadline: number, hooks: GenerationHooks = {}): Promise<GeneratedImage> {
    // Whether any attempt so far reached the provider with an unknown outcome: such a failure may be billed.
    let mayBeBilled = false;
    for (let attempt = 0; ; attempt += 1) {
      const remaining = deadline - this.now();
      if (remaining < this.options.minAttemptMs) {
        throw providerTimeout({ details: { attempt, remainingMs: remaining }, mayBeBilled });
      }
      try {
        return await this.attempt(request, remaining);
      } catch (error) {
        const billable = attemptMayBeBilled(error);
        mayBeBilled ||= billable;
        const waitMs = retryWaitMs(error, attempt);
        const fits = this.now() + waitMs + this.options.minAttemptMs <= deadline;
        if (attempt >= this.options.maxRetries || !isRetryable(error) || !fits) {
          throw toAppError(error, attempt, mayBeBilled);
        }
        // The next attempt may be billed on top of this one: the caller counts it first, or stops here.
        if (billable && hooks.beforeBillableRetry && !(await hooks.beforeBillableRetry())) {
          throw toAppError(error, attempt, mayBeBilled);
        }
        await this.sleep(waitMs);
      }
    }
  }

  private async attempt(request: GenerationRequest, timeoutMs: number): Promise<GeneratedImage> {
    const signal = AbortSignal.timeout(timeoutMs);
    // asResponse(): the SDK still sends, retries nothing (maxRetries 0) and turns non-2xx answers into APIErrors,
    // but leaves the body to us, so the multi-megabyte answer is read once and decoded in place.
    const response = await this.client.images
      .generate(
        {
          // The provider's own id: `gpt-image-2` for `openai/gpt-image-2`, the deployment for `azure/<deployment>`.
          model: parseModelName(request.model)?.id ?? request.model,
          prompt: request.prompt,
          n: 1,
          size: request.size,
          ...(request.quality === undefined ? {} : { quality: request.quality as 'auto' }),
          // GPT image models always answer in base64 and reject response_format.
          ...(request.format === undefined ? {} : { output_format: request.format }),
          user: request.endUserId,
        },
        { timeout: timeoutMs, maxRetries: 0, signal },
      )
      .asResponse();
    let body: Buffer;
    try {
      body = await readBody(response, this.maxAnswerBytes);
    } catch (error) {
      if (signal.aborted) throw providerTimeout({ cause: error });
      throw error;
    }
    return parseImageAnswer(body, this.options.maxImageBytes);
  }
}

const isRetryable = (error: unknown): boolean => {
  if (error instanceof AppError) return false;
  if (error instanceof APIError) {
    if (error.status === undefined) return !(error instanceof APIUserAbortError); // connection failures
    return RETRYABLE_STATUS.has(error.status) && error.code !== 'insufficient_quota';
  }
  return false;
};

/** Seconds the provider asked us to wait, if it said (`retry-after-ms` or `retry-after`). */
function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof APIError) || !error.headers) return undefined;
  const ms = Number.parseFloat(error.headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const header = error.headers.get('retry-after');
  if (!header) return undefined;
  const seconds = Number.parseFloat(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

// Exponential backoff with jitter, 0.5 s doubling up to 8 s, the same curve as the SDK.
const retryWaitMs = (error: unknown, attempt: number): number =>
  retryAfterMs(error) ?? Math.min(500 * 2 ** attempt, 8_000) * (0.75 + Math.random() * 0.25);

/** Connection failures that happen before a request is sent: the provider never saw it. */

/**
 * Whether a failed attempt may still be billed by the provider. Only what certainly never produced an image is
 * free: a 4xx answer (refusal, validation, rate limit) or a connection that was never made. A timeout, a reset,
 * a 5xx after sending, or a 200 whose image we refuse are all treated as billed.
 */
/** The provider's key could not be read (SSM): the request was never sent. The SDK wraps it in an OpenAIError. */
const keyUnavailable = (error: unknown): boolean => {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth += 1) {
    if ((current as { name?: unknown }).name === 'SecretUnavailableError') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
};

export function attemptMayBeBilled(error: unknown): boolean {
  if (keyUnavailable(error)) return false;
  if (error instanceof AppError) return true; // raised while reading or checking a 200 answer
  if (error instanceof APIConnectionTimeoutError || error instanceof APIUserAbortError) return true;
  if (error instanceof APIError) {
    if (error.status === undefined) return !neverSent(error);
    return error.status >= 500;
  }
  return true;
}

const withBilling = (error: AppError, mayBeBilled: boolean): AppError =>
  error.mayBeBilled === mayBeBilled
    ? error
    : new AppError(error.code, error.message, {
        headers: { ...error.headers },
        cause: error.cause,
        details: { ...error.details },
        mayBeBilled,
      });

/** Translates SDK and transport failures into the service's taxonomy; the provider's text never leaks. */
function toAppError(error: unknown, attempt: number, mayBeBilled: boolean): AppError {
  return withBilling(translate(error, attempt), mayBeBilled);
}

function translate(error: unknown, attempt: number): AppError {
  if (error instanceof AppError) return error;
  const attempts = attempt + 1;
  if (keyUnavailable(error)) {
    return new AppError('provider_error', 'The image provider could not be called: its key could not be read. Retry later.', {
      cause: error,
      details: { attempts, reason: 'provider key unavailable' },
    });
  }
  if (error instanceof APIConnectionTimeoutError || error instanceof APIUserAbortError) {
    return providerTimeout({ cause: error, details: { attempts } });
  }
  if (error instanceof APIError) {
    const details = { attempts, providerStatus: error.status, providerCode: error.code ?? undefined };
    if (error.status === 400 && error.code && REFUSAL_CODES.has(error.code)) {
      return new AppError(
        'content_policy_violation',
        'The image provider refused this prompt under its content policy. Change the prompt and try again.',
        { cause: error, details },
      );
    }
    const field = error.status === 400 && typeof error.param === 'string' ? CALLER_PARAMS[error.param] : undefined;
    if (field !== undefined && Object.hasOwn(CALLER_PARAMS, error.param as string)) {
      // The provider's own text is not shown (it may quote input); the field is.
      return new AppError('invalid_request', `The image provider refused the request's "${field}" value. Change it and try again.`, {
        cause: error,
        details: { ...details, field },
      });
    }
    if (error.status === 429 && error.code !== 'insufficient_quota') {
      const wait = retryAfterMs(error);
      const seconds = Math.max(1, Math.ceil((wait ?? 10_000) / 1000));
      return new AppError('provider_busy', 'The image provider is rate-limiting requests. Retry later.', {
        cause: error,
        details,
        headers: { 'Retry-After': String(seconds) },
      });
    }
    return new AppError('provider_error', 'The image provider failed to generate the image.', {
      cause: error,
      details,
    });
  }
  // Anything else came from reading the answer (a stream cut short mid-body): no image arrived.
  return new AppError('bad_provider_response', 'The image provider returned an unreadable response.', {
    cause: error,
    details: { attempts, errorName: error instanceof Error ? error.name : typeof error },
  });
}
