import OpenAI, { APIError } from 'openai';
import { AppError, errorName } from '../../../errors.js';
import { boundedFetch } from '../../bounded-fetch.js';
import { causeCode, causes, isAbort, REFUSED_LOCALLY } from '../provider-failures.js';

/**
 * The `openai` SDK client for OpenAI itself or Azure OpenAI's v1 API (`<endpoint>/openai/v1`, the same shapes,
 * the deployment name as `model`).
 *
 * Retries are ours, not the SDK's (`maxRetries: 0`): ours run against the request's deadline (the SDK honours a
 * Retry-After of up to 60 s and would sleep past API Gateway's 30 s limit), and before a retry that may be billed
 * they ask the quota first (the money rule), which the SDK cannot know about. What decides a retry follows the
 * SDK's own rules (isRetryable below): `x-should-retry` first, then 408, 409, 429 and 5xx, and failed connections.
 *
 * Every body read from the provider is bounded while it is read (bounded-fetch.ts, given to the SDK as its
 * `fetch`): an image answer by the largest image's base64 plus its JSON, anything else by `maxErrorBytes`.
 */
export interface OpenAIClientOptions {
  /** `https://api.openai.com/v1` by default, `<endpoint>/openai/v1` for Azure, or a test server. */
  baseURL?: string | undefined;
  /** The key, or a function reading it (an SSM parameter through its cache) before every call. */
  apiKey: string | (() => Promise<string>);
  /**
   * The limit of a successful answer, by path and content type (a moderation answer is a few KB, an image
   * megabytes, an event stream of partial images and the image a few times that).
   */
  maxOkBytes: (path: string, contentType: string) => number;
  /** The limit of an error answer: a few KB in practice. */
  maxErrorBytes: number;
}

export function createOpenAIClient(options: OpenAIClientOptions): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    maxRetries: 0,
    fetch: boundedFetch({ maxOkBytes: options.maxOkBytes, maxErrorBytes: options.maxErrorBytes }),
    defaultHeaders: {
      // Base64 compresses by a quarter at most; inflating megabytes costs more CPU than the transfer saves
      // inside AWS, and an uncompressed answer is bounded by its announced length. A server that compresses
      // anyway is still read (and bounded after decoding).
      'accept-encoding': 'identity',
    },
  });
}

/** The provider's key could not be read (SSM; the SDK wraps what its `apiKey` function threw): never sent. */
export const keyUnavailable = (error: unknown): boolean =>
  [...causes(error)].some((current) => errorName(current) === 'SecretUnavailableError');

/** An answer whose body failed while it was read (cut short): it was received, so it is never repeated. */
export class ResponseBodyError extends Error {
  override readonly name = 'ResponseBodyError';
}

const RETRYABLE_STATUS = (status: number): boolean => status === 408 || status === 409 || status === 429 || status >= 500;

/** Worth another attempt, by the SDK's rules: `x-should-retry`, a transient status, a failed connection. */
export const isRetryable = (error: unknown): boolean => {
  if (error instanceof AppError || error instanceof ResponseBodyError || keyUnavailable(error) || isAbort(error)) return false;
  if (error instanceof APIError && error.status !== undefined) {
    const should = error.headers?.get('x-should-retry');
    if (should === 'true') return true;
    if (should === 'false') return false;
    return RETRYABLE_STATUS(error.status) && error.code !== 'insufficient_quota';
  }
  // A connection that failed (refused, reset, unresolvable). A request refused locally (an invalid URL or header)
  // would fail the same way again.
  const code = causeCode(error);
  return code !== undefined && !REFUSED_LOCALLY.test(code);
};

/** Milliseconds the provider asked us to wait (`retry-after-ms`, or `retry-after` in seconds or a date), if it said. */
export function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof APIError)) return undefined;
  const exact = Number.parseFloat(error.headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(exact) && exact >= 0) return exact;
  const after = error.headers?.get('retry-after');
  if (!after) return undefined;
  const seconds = Number.parseFloat(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(after);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * The wait before the next attempt: what the provider asked for, else exponential backoff with jitter (0.5 s
 * doubling to 8 s, the SDK's curve).
 */
export const retryWaitMs = (error: unknown, attempt: number): number =>
  retryAfterMs(error) ?? Math.min(500 * 2 ** attempt, 8_000) * (0.75 + Math.random() * 0.25);

/**
 * A successful answer's body, read once into one buffer (of the announced size when there is one), without the
 * copies of `response.json()`: the image answer is decoded straight out of it (openai-image-answer.ts).
 */
export async function readBody(response: Response): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const announced = response.headers.get('content-encoding') ? NaN : Number(response.headers.get('content-length') ?? NaN);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let target = Number.isSafeInteger(announced) && announced > 0 ? Buffer.allocUnsafe(announced) : undefined;
  let read = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (target && read + value.byteLength <= target.length) target.set(value, read);
      else {
        if (target) chunks.push(target.subarray(0, read));
        target = undefined;
        chunks.push(value);
      }
      read += value.byteLength;
    }
  } catch (error) {
    if (error instanceof AppError) throw error; // the bounded fetch's own refusal of an oversized answer
    throw new ResponseBodyError('the answer was cut short', { cause: error });
  }
  if (target) return read === target.length ? target : target.subarray(0, read);
  return Buffer.concat(chunks, read);
}
