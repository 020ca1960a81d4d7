import { AppError, errorName } from '../../../errors.js';
import { parseModelName } from '../../../domain/models.js';
import { parseImageAnswer } from './openai-image-answer.js';
import { isRetryable, OpenAIApiError, retryWaitMs, type OpenAIApi } from './openai-api.js';
import { isAbort, neverSent, providerFailures } from '../provider-failures.js';
import type { GeneratedImage, GenerationHooks, GenerationRequest, ImageGenerator } from '../../../ports.js';

export interface OpenAIImageGeneratorOptions {
  /** Retries after the first attempt, each only when it can still finish before the deadline. */
  maxRetries: number;
  /** Largest decoded image accepted; the answer body is bounded accordingly before it is read. */
  maxImageBytes: number;
  /** An attempt is not started with less time than this left. */
  minAttemptMs: number;
  /**
   * Where the hashed end-user id goes: OpenAI's `safety_identifier` (its `user` is deprecated for it, per the
   * Images API reference in openai 7.57.0), or `user` for Azure OpenAI, whose v1 API documents that one.
   */
  endUserField?: 'safety_identifier' | 'user';
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

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
 * Image generation through the OpenAI images API (any OpenAI-compatible endpoint, see openai-api.ts): OpenAI
 * itself (`openai/<model>` or a bare name) and Azure OpenAI's v1 API (`azure/<deployment>`, the API on
 * `<AZURE_OPENAI_ENDPOINT>/openai/v1`), which takes the deployment name as `model`.
 *
 * Retries are done here, against our deadline (the SDK's own honoured a `Retry-After` of up to 60 s and would
 * have slept past API Gateway's 30 s limit, turning a quick, honest 503 into a 504 for a request the caller has
 * long given up on). Each attempt gets exactly the time left as its timeout, and a retry happens only if its
 * wait plus a minimal attempt still fits.
 */
export class OpenAIImageGenerator implements ImageGenerator {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly api: OpenAIApi,
    private readonly options: OpenAIImageGeneratorOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async generate(request: GenerationRequest, deadline: number, hooks: GenerationHooks = {}): Promise<GeneratedImage> {
    // Whether any attempt so far reached the provider with an unknown outcome: such a failure may be billed.
    let mayBeBilled = false;
    for (let attempt = 0; ; attempt += 1) {
      const remaining = deadline - this.now();
      if (remaining < this.options.minAttemptMs) {
        throw providerFailures.timedOut({ attempt, remainingMs: remaining }, mayBeBilled);
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
    // The answer (bounded by the largest image's base64, openai-api.ts) is read once and decoded in place.
    const body = await this.api(
      '/images/generations',
      {
        // The provider's own id: `gpt-image-2` for `openai/gpt-image-2`, the deployment for `azure/<deployment>`.
        model: parseModelName(request.model)?.id ?? request.model,
        prompt: request.prompt,
        n: 1,
        size: request.size,
        ...(request.quality === undefined ? {} : { quality: request.quality }),
        // GPT image models always answer in base64 and reject response_format.
        ...(request.format === undefined ? {} : { output_format: request.format }),
        [this.options.endUserField ?? 'safety_identifier']: request.endUserId,
      },
      timeoutMs,
    );
    return parseImageAnswer(body, this.options.maxImageBytes);
  }
}

/** The provider's key could not be read (SSM): the request was never sent. */
const keyUnavailable = (error: unknown): boolean => errorName(error) === 'SecretUnavailableError';

/**
 * Whether a failed attempt may still be billed by the provider. Only what certainly never produced an image is
 * free: a 4xx answer (refusal, validation, rate limit) or a connection that was never made. A timeout, a reset,
 * a 5xx after sending, or a 200 whose image we refuse are all treated as billed.
 */
export function attemptMayBeBilled(error: unknown): boolean {
  if (keyUnavailable(error)) return false;
  if (error instanceof OpenAIApiError) return error.status >= 500;
  if (error instanceof AppError || isAbort(error)) return true; // a 200 answer we refused, or our deadline
  return !neverSent(error);
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

/** Translates API and transport failures into the service's taxonomy; the provider's text never leaks. */
function toAppError(error: unknown, attempt: number, mayBeBilled: boolean): AppError {
  return withBilling(translate(error, attempt), mayBeBilled);
}

/** The error of the last attempt; whether it may be billed is set over all attempts by `toAppError`. */
function translate(error: unknown, attempt: number): AppError {
  if (error instanceof AppError) return error;
  const attempts = attempt + 1;
  if (keyUnavailable(error)) {
    return new AppError('provider_error', 'The image provider could not be called: its key could not be read. Retry later.', {
      cause: error,
      details: { attempts, reason: 'provider key unavailable' },
    });
  }
  if (isAbort(error)) return providerFailures.timedOut({ attempts }, false, error);
  if (error instanceof OpenAIApiError) {
    const details = { attempts, providerStatus: error.status, providerCode: error.code };
    if (error.status === 400 && error.code && REFUSAL_CODES.has(error.code)) return providerFailures.refused(details, false, error);
    const field = error.status === 400 && error.param !== undefined && Object.hasOwn(CALLER_PARAMS, error.param) ? CALLER_PARAMS[error.param] : undefined;
    if (field !== undefined) {
      // The provider's own text is not shown (it may quote input); the field is.
      return new AppError('invalid_request', `The image provider refused the request's "${field}" value. Change it and try again.`, {
        cause: error,
        details: { ...details, field },
      });
    }
    if (error.status === 429 && error.code !== 'insufficient_quota') {
      return providerFailures.busy(details, (error.retryAfterMs ?? 10_000) / 1000, error);
    }
    return providerFailures.failed(details, false, error);
  }
  // The connection failed after the answer began (cut short mid-body): no image arrived.
  if (errorName(error) === 'ResponseBodyError') return providerFailures.badAnswer({ attempts, errorName: 'ResponseBodyError' }, error);
  // The connection failed before any answer (refused, reset, unresolvable).
  return providerFailures.failed({ attempts, connectionError: connectionCode(error) }, false, error);
}

const connectionCode = (error: unknown): string => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : errorName(error);
};
