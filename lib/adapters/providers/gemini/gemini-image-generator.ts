import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { AppError, errorName } from '../../../errors.js';
import { decodeBase64Strict, maxBase64Length } from '../../../domain/base64.js';
import { parseModelName } from '../../../domain/models.js';
import type { GeneratedImage, GenerationRequest, ImageGenerator } from '../../../ports.js';
import { boundedFetch } from '../../bounded-fetch.js';
import { isAbort, neverSent, providerFailures } from '../provider-failures.js';

export interface GeminiImageGeneratorOptions {
  apiKey: string | (() => Promise<string>);
  /** The Gemini API's base URL (GEMINI_BASE_URL, a local test server); Google's by default. */
  baseUrl: string | undefined;
  maxImageBytes: number;
  /** An attempt is not started with less time than this left. */
  minAttemptMs: number;
  now?: () => number;
}

/** Finish reasons of a candidate that a safety or policy system ended (Gemini API `FinishReason`). */
const REFUSED = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'IMAGE_PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_RECITATION',
]);

/**
 * Gemini image models (`google/gemini-3.1-flash-image`, `google/gemini-3-pro-image`) through Google's
 * `@google/genai` SDK: one `generateContent` call asking for the IMAGE modality, with the aspect ratio (`size`)
 * and resolution tier (`quality`: 1K, 2K, 4K) in `imageConfig`. The image arrives as inline base64 in a part.
 *
 * One attempt per generation (the SDK's retries are off): a throttled call is a 503 with Retry-After for the
 * caller, and a failure after sending is never repeated on our side (the money rule). Every body is read through
 * a bounded fetch (bounded-fetch.ts).
 */
/** The Gemini API's bound on a request's inline data (its image understanding guide), less room for the text. */
const GEMINI_INLINE_LIMIT = 19 * 1024 * 1024;

export class GeminiImageGenerator implements ImageGenerator {
  private readonly now: () => number;
  private client: { key: string; genai: GoogleGenAI } | undefined;

  constructor(private readonly options: GeminiImageGeneratorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The SDK client for the current key: an SSM key is read through its 15-minute cache, so a rotated key is used. */
  private async genai(): Promise<GoogleGenAI> {
    const apiKey = typeof this.options.apiKey === 'string' ? this.options.apiKey : await this.options.apiKey();
    if (this.client?.key === apiKey) return this.client.genai;
    const genai = new GoogleGenAI({
      apiKey,
      httpOptions: {
        ...(this.options.baseUrl === undefined ? {} : { baseUrl: this.options.baseUrl }),
        retryOptions: { attempts: 1 },
        // An image answer is the largest image's base64 plus its JSON; an error body a few KB.
        fetch: boundedFetch({ maxOkBytes: () => maxBase64Length(this.options.maxImageBytes) + 64 * 1024, maxErrorBytes: 64 * 1024 }),
      },
    });
    this.client = { key: apiKey, genai };
    return genai;
  }

  async generate(request: GenerationRequest, deadline: number): Promise<GeneratedImage> {
    const remaining = deadline - this.now();
    if (remaining < this.options.minAttemptMs) throw providerFailures.timedOut({ remainingMs: remaining }, false);
    let client: GoogleGenAI;
    try {
      client = await this.genai();
    } catch (error) {
      throw providerFailures.failed({ reason: 'provider key unavailable' }, false, error);
    }
    // The Gemini API takes at most 20 MB of inline data in one request: refused here, before it is sent.
    const inline = (request.images ?? []).reduce((sum, image) => sum + Math.ceil(image.bytes.length / 3) * 4, 0);
    if (inline > GEMINI_INLINE_LIMIT) {
      throw new AppError('invalid_request', `"images" are too large together for ${request.model}: at most 20 MB once encoded.`, {
        details: { field: 'images', inlineBytes: inline },
      });
    }
    const signal = AbortSignal.timeout(remaining);
    let response: GenerateContentResponse;
    try {
      response = await client.models.generateContent({
        model: parseModelName(request.model)?.id ?? request.model,
        // Reference images go as inline parts after the text (the Gemini API's image editing shape).
        contents: request.images?.length
          ? [
              {
                role: 'user',
                parts: [
                  { text: request.prompt },
                  ...request.images.map((image) => ({ inlineData: { mimeType: image.contentType, data: image.bytes.toString('base64') } })),
                ],
              },
            ]
          : request.prompt,
        config: {
          responseModalities: ['IMAGE'],
          candidateCount: 1,
          imageConfig: { aspectRatio: request.size, imageSize: request.quality ?? '1K' },
          abortSignal: signal,
          httpOptions: { timeout: remaining },
        },
      });
    } catch (error) {
      throw translate(error, signal.aborted);
    }
    return imageOf(response, this.options.maxImageBytes);
  }
}

function imageOf(response: GenerateContentResponse, maxImageBytes: number): GeneratedImage {
  const blocked = response.promptFeedback?.blockReason;
  if (blocked) throw providerFailures.refused({ providerReason: String(blocked) }, false);
  const candidate = response.candidates?.[0];
  const finish = candidate?.finishReason === undefined ? undefined : String(candidate.finishReason);
  if (finish !== undefined && REFUSED.has(finish)) throw providerFailures.refused({ providerReason: finish }, true);
  // Gemini 3 image models think first and may show interim images marked `thought: true` (the Gemini API's thinking
  // guide): the answer is the last image part that is not a thought. Its mimeType (PNG or JPEG, as the model
  // chooses) is not trusted: the stored content type, the key's extension and the check come from the bytes.
  const data = candidate?.content?.parts?.findLast((part) => part.thought !== true && typeof part.inlineData?.data === 'string')?.inlineData
    ?.data;
  if (data === undefined) throw providerFailures.badAnswer({ reason: 'no image part', providerReason: finish });
  try {
    return { bytes: decodeBase64Strict(data, maxImageBytes), usage: response.usageMetadata ? { ...response.usageMetadata } : undefined };
  } catch (error) {
    throw providerFailures.badAnswer({ reason: error instanceof Error ? error.message : 'undecodable image' }, error);
  }
}

function translate(error: unknown, aborted: boolean): AppError {
  if (error instanceof AppError) return error; // the bounded fetch's refusal of an oversized answer (may be billed)
  if (aborted || isAbort(error)) return providerFailures.timedOut({}, true, error);
  if (error instanceof ApiError) {
    const details = { providerStatus: error.status };
    // 429 RESOURCE_EXHAUSTED, and 503 UNAVAILABLE ("the model is overloaded"): refused before generating.
    if (error.status === 429 || error.status === 503) return providerFailures.busy(details, 10, error);
    // A bad key is answered 400 INVALID_ARGUMENT with the reason API_KEY_INVALID: the deployment's
    // misconfiguration (never billed), not the caller's input.
    if (error.status === 400 && /API_KEY_INVALID/.test(error.message)) {
      return providerFailures.failed({ ...details, reason: 'provider key invalid' }, false, error);
    }
    if (error.status === 400) return providerFailures.callerInput(details, error);
    if (error.status === 504) return providerFailures.timedOut(details, true, error);
    // 401/403/404: a wrong key or model (never billed); 5xx after sending may be.
    return providerFailures.failed(details, error.status >= 500, error);
  }
  if (neverSent(error)) return providerFailures.failed({ reason: 'connection refused' }, false, error);
  // The SDK parses the answer itself: an answer that is not JSON surfaces as a SyntaxError.
  if (errorName(error) === 'SyntaxError') return providerFailures.badAnswer({ reason: 'answer is not JSON' }, error);
  return providerFailures.failed({ errorName: errorName(error) }, true, error);
}
