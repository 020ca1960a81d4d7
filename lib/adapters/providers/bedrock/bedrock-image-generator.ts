import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { Transform } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { AppError, errorName } from '../../../errors.js';
import { decodeBase64Strict, maxBase64Length } from '../../../domain/base64.js';
import { parseModelName } from '../../../domain/models.js';
import type { GeneratedImage, GenerationRequest, ImageGenerator } from '../../../ports.js';
import { isAbort, messageOf, neverSent, providerFailures } from '../provider-failures.js';

export interface BedrockImageGeneratorOptions {
  region: string;
  /** BEDROCK_ENDPOINT: a local test server; Bedrock Runtime's regional endpoint by default. */
  endpoint: string | undefined;
  maxImageBytes: number;
  /** An attempt is not started with less time than this left. */
  minAttemptMs: number;
  now?: () => number;
}

/**
 * Stability AI's image models on Amazon Bedrock (`bedrock/stability.stable-image-core-v1:1`, `-ultra-v1:1`,
 * `sd3-5-large-v1:0`) through `@aws-sdk/client-bedrock-runtime` InvokeModel, signed with the function's role (no
 * key to keep). The request is Stability's JSON (`prompt`, `aspect_ratio`, `output_format`); the answer carries
 * the image as base64 in `images` and a `finish_reasons` entry that names a filtered prompt or image.
 *
 * One attempt per generation (the SDK's retries are off): a throttled call is a 503 with Retry-After for the
 * caller, and a failure after sending is never repeated on our side (the money rule). The answer body is bounded
 * while it is read (the HTTP handler below), like every provider answer.
 */
export class BedrockImageGenerator implements ImageGenerator {
  private readonly now: () => number;
  private readonly client: BedrockRuntimeClient;

  constructor(private readonly options: BedrockImageGeneratorOptions) {
    this.now = options.now ?? Date.now;
    this.client = new BedrockRuntimeClient({
      region: options.region,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      maxAttempts: 1,
      requestHandler: new BoundedHttpHandler(maxBase64Length(options.maxImageBytes) + 64 * 1024, 64 * 1024),
    });
  }

  async generate(request: GenerationRequest, deadline: number): Promise<GeneratedImage> {
    const remaining = deadline - this.now();
    if (remaining < this.options.minAttemptMs) throw providerFailures.timedOut({ remainingMs: remaining }, false);
    const signal = AbortSignal.timeout(remaining);
    let body: Uint8Array;
    try {
      const answer = await this.client.send(
        new InvokeModelCommand({
          modelId: parseModelName(request.model)?.id ?? request.model,
          contentType: 'application/json',
          accept: 'application/json',
          body: JSON.stringify(bodyOf(request)),
        }),
        { abortSignal: signal },
      );
      body = answer.body;
    } catch (error) {
      throw translate(error, signal.aborted);
    }
    return imageOf(body, this.options.maxImageBytes);
  }
}

/**
 * Stability's request: text to image with an aspect ratio, or (SD3.5 Large, with an input image) image to image,
 * which takes the image and how far to move from it (`strength`) instead of a ratio (the output keeps the input's).
 */
function bodyOf(request: GenerationRequest): Record<string, unknown> {
  const output_format = request.format ?? 'png';
  const image = request.images?.[0];
  if (!image) return { prompt: request.prompt, aspect_ratio: request.size, output_format };
  return {
    prompt: request.prompt,
    mode: 'image-to-image',
    image: image.bytes.toString('base64'),
    strength: IMAGE_TO_IMAGE_STRENGTH,
    output_format,
  };
}

/** How far an image-to-image generation may move from its input (0 keeps it, 1 ignores it): a middle that edits. */
const IMAGE_TO_IMAGE_STRENGTH = 0.6;

function imageOf(body: Uint8Array, maxImageBytes: number): GeneratedImage {
  let answer: { images?: unknown; finish_reasons?: unknown };
  try {
    answer = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as typeof answer;
  } catch (error) {
    throw providerFailures.badAnswer({ reason: 'answer is not JSON' }, error);
  }
  const reason = Array.isArray(answer.finish_reasons) ? answer.finish_reasons[0] : undefined;
  if (typeof reason === 'string' && reason.startsWith('Filter reason')) {
    // A filtered output image was generated (and may be billed); a filtered prompt was not.
    throw providerFailures.refused({ providerReason: reason }, !reason.includes('prompt'));
  }
  if (typeof reason === 'string') throw providerFailures.failed({ providerReason: reason.slice(0, 64) }, true);
  const image = Array.isArray(answer.images) ? answer.images[0] : undefined;
  if (typeof image !== 'string') throw providerFailures.badAnswer({ reason: 'no image in the answer' });
  try {
    return { bytes: decodeBase64Strict(image, maxImageBytes) };
  } catch (error) {
    throw providerFailures.badAnswer({ reason: error instanceof Error ? error.message : 'undecodable image' }, error);
  }
}

function translate(error: unknown, aborted: boolean): AppError {
  if (error instanceof AppError) return error; // the bounded handler's refusal of an oversized answer
  if (aborted || isAbort(error)) return providerFailures.timedOut({}, true, error);
  const name = errorName(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const details = { providerError: name, providerStatus: status };
  switch (name) {
    case 'ThrottlingException':
    case 'ServiceQuotaExceededException':
    case 'ModelNotReadyException':
    // The service says it cannot take the request now: refused before generating, as a throttle is.
    case 'ServiceUnavailableException':
      return providerFailures.busy(details, 10, error);
    case 'ValidationException':
      // A model this region does not offer (a wrong BEDROCK_REGION) is the deployment's misconfiguration, never
      // billed; any other validation failure is about what the caller chose.
      if (/model identifier is invalid|model.*not (supported|available)/i.test(messageOf(error))) {
        return providerFailures.failed({ ...details, reason: 'model not offered in this region' }, false, error);
      }
      return providerFailures.callerInput(details, error);
    case 'ModelTimeoutException':
      return providerFailures.timedOut(details, true, error);
    case 'AccessDeniedException':
    case 'ResourceNotFoundException':
    case 'UnrecognizedClientException':
      // The role may not invoke this model, or it is not enabled in this region: never billed.
      return providerFailures.failed(details, false, error);
    default:
      if (neverSent(error)) return providerFailures.failed({ reason: 'connection refused' }, false, error);
      // ModelErrorException, InternalServerException, a reset: sent, outcome unknown.
      return providerFailures.failed(details, true, error);
  }
}

type HandleArgs = Parameters<NodeHttpHandler['handle']>;
type HandleResult = Awaited<ReturnType<NodeHttpHandler['handle']>>;

/**
 * The SDK's Node handler with a bound on the answer body, checked while it streams in: a successful answer may
 * be as large as the largest image's base64 plus its JSON, an error body a few KB. The SDK would otherwise buffer
 * whatever it is sent.
 */
class BoundedHttpHandler extends NodeHttpHandler {
  constructor(
    private readonly maxOkBytes: number,
    private readonly maxErrorBytes: number,
  ) {
    super({ connectionTimeout: 2_000 });
  }

  override async handle(...args: HandleArgs): Promise<HandleResult> {
    const result = await super.handle(...args);
    const { response } = result;
    const limit = response.statusCode >= 200 && response.statusCode < 300 ? this.maxOkBytes : this.maxErrorBytes;
    const tooLarge = () =>
      providerFailures.badAnswer({ reason: `provider answer over the ${limit}-byte limit`, providerStatus: response.statusCode });
    const announced = Number(response.headers['content-length']);
    const body = response.body as NodeJS.ReadableStream & { destroy?: (error?: Error) => void };
    if (Number.isFinite(announced) && announced > limit) {
      body.destroy?.();
      throw tooLarge();
    }
    let read = 0;
    const limited = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        read += chunk.length;
        if (read > limit) done(tooLarge());
        else done(null, chunk);
      },
    });
    body.on('error', (error: Error) => limited.destroy(error));
    body.pipe(limited);
    response.body = limited;
    return result;
  }
}
