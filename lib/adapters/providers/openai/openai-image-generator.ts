import { APIError, type OpenAI } from 'openai';
import { toFile } from 'openai';
import type {
  ImageEditCompletedEvent,
  ImageEditParamsNonStreaming,
  ImageEditStreamEvent,
  ImageGenCompletedEvent,
  ImageGenerateParamsNonStreaming,
  ImageGenStreamEvent,
} from 'openai/resources/images';
import { Base64Error, decodeBase64Strict } from '../../../domain/base64.js';
import { MAX_STREAMED_IMAGE_BYTES } from '../../../domain/image-request.js';
import { AppError, errorName } from '../../../errors.js';
import { parseModelName } from '../../../domain/models.js';
import { parseImageAnswer, settingsOf } from './openai-image-answer.js';
import { isRetryable, keyUnavailable, readBody, ResponseBodyError, retryAfterMs, retryWaitMs } from './openai-client.js';
import { causeCode, isAbort, neverSent, providerFailures } from '../provider-failures.js';
import type { GeneratedImage, GenerationHooks, GenerationRequest, ImageGenerator, PreviewImage } from '../../../ports.js';

export interface OpenAIImageGeneratorOptions {
  /** Retries after the first attempt, each only when it can still finish before the deadline. */
  maxRetries: number;
  /** Largest decoded image accepted; the answer body is bounded accordingly before it is read. */
  maxImageBytes: number;
  /** An attempt is not started with less time than this left. */
  minAttemptMs: number;
  /** Largest image accepted from an event stream (previews); MAX_STREAMED_IMAGE_BYTES by default. */
  maxStreamedImageBytes?: number;
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
/** OpenAI's refusal codes, and Azure OpenAI's content filter's (`contentFilter` for images, `content_filter`). */
const REFUSAL_CODES = new Set(['moderation_blocked', 'content_policy_violation', 'contentFilter', 'content_filter']);

/**
 * Image generation through the `openai` SDK's `images.generate` (openai-client.ts): OpenAI itself
 * (`openai/<model>` or a bare name) and Azure OpenAI's v1 API (`azure/<deployment>`, the API on
 * `<AZURE_OPENAI_ENDPOINT>/openai/v1`), which takes the deployment name as `model`.
 *
 * Retries are done here, not by the SDK (openai-client.ts says why): each attempt gets exactly the time left as
 * its timeout, and a retry happens only if its wait plus a minimal attempt still fits before the deadline.
 *
 * The answer is taken raw (`.asResponse()`) and decoded straight out of its bytes (openai-image-answer.ts): the
 * SDK's `response.json()` would hold the body's text, then JSON.parse's copy of a base64 string 1.33x the image,
 * before our decode adds the image itself (5x the image at the peak), past the 2x memory budget.
 */
export class OpenAIImageGenerator implements ImageGenerator {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: OpenAI,
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
        return await this.attempt(request, remaining, hooks.onPreview);
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

  private async attempt(
    request: GenerationRequest,
    timeoutMs: number,
    onPreview: ((preview: PreviewImage) => Promise<void>) | undefined,
  ): Promise<GeneratedImage> {
    const params: ImageGenerateParamsNonStreaming = {
      // The provider's own id: `gpt-image-2` for `openai/gpt-image-2`, the deployment for `azure/<deployment>`.
      model: parseModelName(request.model)?.id ?? request.model,
      prompt: request.prompt,
      n: 1,
      // The SDK's type lists the classic sizes; gpt-image-2 takes any WxH within its bounds (lib/domain/models.ts).
      size: request.size as ImageGenerateParamsNonStreaming['size'],
      ...(request.quality === undefined ? {} : { quality: request.quality as ImageGenerateParamsNonStreaming['quality'] }),
      // GPT image models always answer in base64 and reject response_format.
      ...(request.format === undefined ? {} : { output_format: request.format }),
      ...(request.options?.background === undefined ? {} : { background: request.options.background }),
      ...(request.options?.compression === undefined ? {} : { output_compression: request.options.compression }),
      ...(request.options?.moderation === undefined ? {} : { moderation: request.options.moderation }),
      [this.options.endUserField ?? 'safety_identifier']: request.endUserId,
    };
    const signal = AbortSignal.timeout(timeoutMs);
    const options = { signal, timeout: timeoutMs + 1_000 };
    // Input images: an edit (`images.edit`, which the SDK sends as multipart), the image to edit first.
    const edit = request.images?.length ? await editParams(params, request) : undefined;
    if (request.previews) return this.streamed(params, edit, request.previews, signal, timeoutMs, onPreview);
    const response = await (edit ? this.client.images.edit(edit, options) : this.client.images.generate(params, options)).asResponse();
    // The answer (bounded by the largest image's base64, openai-client.ts) is read once and decoded in place.
    const answer = parseImageAnswer(await readBody(response), this.options.maxImageBytes, { inPlace: true });
    // OpenAI asks for its request id in support requests: it goes to the log with the stored image.
    return { ...answer, providerRequestId: response.headers.get('x-request-id') ?? undefined };
  }

  /**
   * The SDK's streaming images API (`stream: true` with `partial_images`), which parses the event stream: each
   * `image_generation.partial_image` goes to `onPreview` as it arrives (awaited, so the stream is read no faster
   * than previews are stored), and `image_generation.completed` carries the image and its usage. A stream that ends
   * without the final image, or breaks midway, was sent and may have been billed: a bad answer, never retried.
   */
  private async streamed(
    params: ImageGenerateParamsNonStreaming,
    edit: ImageEditParamsNonStreaming | undefined,
    previews: number,
    signal: AbortSignal,
    timeoutMs: number,
    onPreview: ((preview: PreviewImage) => Promise<void>) | undefined,
  ): Promise<GeneratedImage> {
    const options = { signal, timeout: timeoutMs + 1_000 };
    const streaming = { stream: true, partial_images: previews } as const;
    // An edit streams the same events under `image_edit.*` names.
    const { data: stream, response } = edit
      ? await this.client.images.edit({ ...edit, ...streaming }, options).withResponse()
      : await this.client.images.generate({ ...params, ...streaming }, options).withResponse();
    let final: ImageGenCompletedEvent | ImageEditCompletedEvent | undefined;
    let partials = 0;
    try {
      for await (const event of stream as AsyncIterable<ImageGenStreamEvent | ImageEditStreamEvent>) {
        if (event.type === 'image_generation.partial_image' || event.type === 'image_edit.partial_image') {
          partials += 1;
          // A partial image that is not valid base64 reaches the hook empty: it fails verification there and is
          // skipped, as any preview that cannot be kept; the final image decides the outcome.
          await onPreview?.({ index: event.partial_image_index, bytes: this.decodeOrEmpty(event.b64_json) });
        } else if (event.type === 'image_generation.completed' || event.type === 'image_edit.completed') {
          final = event;
          break;
        }
      }
    } catch (error) {
      // An error event in the stream (the SDK raises it as an APIError) is the provider's answer; anything else
      // broke the stream after the request was sent.
      if (error instanceof APIError || error instanceof AppError) throw error;
      throw new ResponseBodyError('the event stream was cut short', { cause: error });
    }
    if (final === undefined) {
      // The SDK ends a stream quietly when its signal aborts: that is our deadline, not the provider's doing.
      if (signal.aborted) throw signal.reason;
      throw new ResponseBodyError('the event stream ended without the final image');
    }
    const bytes = decodeImage(final.b64_json, this.streamedImageBytes());
    const usage = final.usage as unknown as Record<string, unknown> | undefined;
    return {
      bytes,
      usage: typeof usage === 'object' && usage !== null ? usage : undefined,
      previews: partials,
      settings: settingsOf(final as unknown as Record<string, unknown>),
      providerRequestId: response.headers.get('x-request-id') ?? undefined,
    };
  }

  /** A streamed image is held about 8 times over by the SDK's parser: its own, lower bound (MAX_STREAMED_IMAGE_BYTES). */
  private streamedImageBytes(): number {
    return Math.min(this.options.maxImageBytes, this.options.maxStreamedImageBytes ?? MAX_STREAMED_IMAGE_BYTES);
  }

  private decodeOrEmpty(base64: unknown): Buffer {
    try {
      return decodeImage(base64, this.streamedImageBytes());
    } catch {
      return Buffer.alloc(0);
    }
  }
}

/** The edit's parameters: the generation's, with the input images (and mask) as files the SDK sends as multipart. */
async function editParams(params: ImageGenerateParamsNonStreaming, request: GenerationRequest): Promise<ImageEditParamsNonStreaming> {
  const extension = (contentType: string): string => (contentType === 'image/jpeg' ? 'jpg' : contentType.replace('image/', ''));
  const image = await Promise.all(
    (request.images ?? []).map((input, index) =>
      toFile(input.bytes, `image-${index}.${extension(input.contentType)}`, { type: input.contentType }),
    ),
  );
  const mask = request.mask ? await toFile(request.mask.bytes, 'mask.png', { type: 'image/png' }) : undefined;
  const { model, prompt, size, quality, output_format: format, safety_identifier: safety, user, background, output_compression } = params;
  return {
    image,
    ...(mask ? { mask } : {}),
    prompt,
    n: 1,
    ...(model ? { model } : {}),
    ...(size ? { size } : {}),
    ...(quality ? { quality: quality as ImageEditParamsNonStreaming['quality'] } : {}),
    ...(format ? { output_format: format } : {}),
    ...(background ? { background } : {}),
    ...(output_compression === undefined || output_compression === null ? {} : { output_compression }),
    // images.edit takes no `moderation` (openai 7.57.0's ImageEditParams): OpenAI applies its default there.
    ...(safety ? { safety_identifier: safety } : {}),
    ...(user ? { user } : {}),
  };
}

/** One streamed image's base64, decoded strictly within the size limit; the provider's bad answer otherwise. */
function decodeImage(base64: unknown, maxImageBytes: number): Buffer {
  if (typeof base64 !== 'string' || base64 === '') {
    throw providerFailures.badAnswer({ reason: 'missing b64_json' });
  }
  try {
    return decodeBase64Strict(base64, maxImageBytes);
  } catch (error) {
    if (!(error instanceof Base64Error)) throw error;
    throw providerFailures.badAnswer({ reason: `base64 ${error.problem}`, base64Length: base64.length }, error);
  }
}

/**
 * Whether a failed attempt may still be billed by the provider. Only what certainly never produced an image is
 * free: a 4xx answer (refusal, validation, rate limit), a 503 (overloaded: not taken) or a connection that was
 * never made. A timeout, a reset, another 5xx after sending, or a 200 whose image we refuse are all treated as billed.
 */
function attemptMayBeBilled(error: unknown): boolean {
  if (keyUnavailable(error)) return false;
  // 503: the provider says it is overloaded and did not take the request (as a 429): never billed.
  if (error instanceof APIError && error.status !== undefined) return error.status >= 500 && error.status !== 503;
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
  // An error event inside an event stream (no status: the answer had begun). A refusal there is still final.
  if (error instanceof APIError && error.status === undefined && error.code && REFUSAL_CODES.has(error.code)) {
    return providerFailures.refused({ attempts, providerCode: error.code, inStream: true }, true, error);
  }
  if (error instanceof APIError && error.status !== undefined) {
    // The provider's request id is kept for the log (OpenAI asks for it in support requests).
    const details = {
      attempts,
      providerStatus: error.status,
      providerCode: error.code ?? undefined,
      providerRequestId: error.requestID ?? undefined,
    };
    if (error.status === 400 && error.code && REFUSAL_CODES.has(error.code)) return providerFailures.refused(details, false, error);
    const param = error.param ?? undefined;
    const field = error.status === 400 && param !== undefined && Object.hasOwn(CALLER_PARAMS, param) ? CALLER_PARAMS[param] : undefined;
    if (field !== undefined) {
      // The provider's own text is not shown (it may quote input); the field is.
      return new AppError('invalid_request', `The image provider refused the request's "${field}" value. Change it and try again.`, {
        cause: error,
        details: { ...details, field },
      });
    }
    if ((error.status === 429 && error.code !== 'insufficient_quota') || error.status === 503) {
      return providerFailures.busy(details, (retryAfterMs(error) ?? 10_000) / 1000, error);
    }
    return providerFailures.failed(details, false, error);
  }
  // The connection failed after the answer began (cut short mid-body): no image arrived.
  if (error instanceof ResponseBodyError) return providerFailures.badAnswer({ attempts, errorName: 'ResponseBodyError' }, error);
  // The connection failed before any answer (refused, reset, unresolvable).
  // The socket error's code (ECONNREFUSED...) under the SDK's APIConnectionError, or the error's name.
  return providerFailures.failed({ attempts, connectionError: causeCode(error) ?? errorName(error) }, false, error);
}
