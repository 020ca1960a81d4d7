import { createHash } from 'node:crypto';
import { AppError } from './errors.js';
import { ImageVerificationError, verifyImage, type ImageInfo } from './domain/image-format.js';
import { imageKey, publicUrl, recordKey } from './domain/object-keys.js';
import type { OutputFormat } from './domain/models.js';
import { estimateImageCostMicroUsd, microUsdToUsd } from './domain/pricing.js';
import {
  principalKey,
  type IdempotencyGuard,
  type ImageGenerator,
  type ImageStore,
  type Log,
  type Principal,
  type PromptModerator,
  type QuotaGate,
  type QuotaStatus,
  type Reservation,
} from './ports.js';

export interface GenerateImageDeps {
  generator: ImageGenerator;
  store: ImageStore;
  log: Log;
  publicBaseUrl: string;
  imagePrefix: string;
  recordPrefix: string;
  maxImageBytes: number;
  /** Time kept back from the provider for decoding, verifying and storing. */
  uploadReserveMs: number;
  /** The provider is not called with less time than this. */
  minProviderTimeMs: number;
  now: () => number;
  newId: () => string;
  /** Daily limits and spend caps; undefined when quotas are off. */
  quota?: QuotaGate | undefined;
  /** Moderation of the user's text before generation; undefined when off. */
  moderator?: PromptModerator | undefined;
  /** Proceed when moderation cannot answer (true) or refuse with 503 (false, the default). */
  moderationFailOpen?: boolean;
  /** Idempotency-Key support; undefined when there is no state table. */
  idempotency?: IdempotencyGuard | undefined;
  /** What one image costs with this provider; the pricing table by default (the offline generator is free). */
  estimateCost?: (model: string, quality: string | undefined, size: string) => number;
}

export interface GenerateImageInput {
  requestId: string;
  principal: Principal;
  /** The caller's Idempotency-Key header, if any. */
  idempotencyKey?: string | undefined;
  /** The user's prompt after normalisation (stored in the private record). */
  prompt: string;
  /** What the provider gets: the normalised prompt inside the hardening template. */
  providerPrompt: string;
  model: string;
  size: string;
  quality: string | undefined;
  format: OutputFormat | undefined;
  /** Absolute epoch-ms time by which the answer must be sent. */
  deadline: number;
}

export interface GenerateImageResult {
  id: string;
  url: string;
  key: string;
  contentType: string;
  bytes: number;
  sha256: string;
  width: number;
  height: number;
  model: string;
  revisedPrompt?: string;
  createdAt: string;
}

export interface GenerateImageOutcome {
  image: GenerateImageResult;
  /** The caller's daily standing after this request (absent when quotas are off or on a replay). */
  quota?: QuotaStatus | undefined;
  /** True when this is the stored answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

/**
 * The use case: prompt in, permanent URL out. Knows nothing of HTTP or the environment.
 *
 * Order matters for money and for durability: the provider is called only with enough time left to finish
 * and after the quota is reserved and the prompt passed moderation; its image is verified before anything is
 * written; the image and its private record are both
 * written (in parallel) before a URL exists, and if either write fails the other is removed, so no image
 * without a record, no record without an image, and no URL for bytes S3 did not accept.
 */
export const createGenerateImage = (deps: GenerateImageDeps) => {
  const generateOnce = async (input: GenerateImageInput): Promise<Omit<GenerateImageOutcome, 'replayed'>> => {
    const startedAt = deps.now();
    const providerDeadline = input.deadline - deps.uploadReserveMs;
    if (providerDeadline - startedAt < deps.minProviderTimeMs) {
      // Refuse before spending money: a generation that cannot finish in time is billed for nobody.
      throw new AppError('provider_timeout', 'Not enough time left to generate an image.', {
        details: { remainingMs: input.deadline - startedAt },
      });
    }
    const costMicroUsd = (deps.estimateCost ?? estimateImageCostMicroUsd)(input.model, input.quality, input.size);
    const reservation = deps.quota ? await deps.quota.reserve(input.principal, costMicroUsd, startedAt) : undefined;
    try {
      await moderate(deps, input.prompt, providerDeadline);
      const image = await generateAndStore(deps, input, providerDeadline, costMicroUsd);
      return { image, quota: reservation?.status };
    } catch (error) {
      if (reservation) await giveBack(deps, reservation);
      throw error;
    }
  };

  return async (input: GenerateImageInput): Promise<GenerateImageOutcome> => {
    if (input.idempotencyKey === undefined) return { ...(await generateOnce(input)), replayed: false };
    if (!deps.idempotency) {
      throw new AppError('invalid_request', 'Idempotency-Key is not supported by this deployment (no state table).', {
        details: { field: 'Idempotency-Key' },
      });
    }
    const { value, replayed } = await deps.idempotency.run(
      { principal: principalKey(input.principal), key: input.idempotencyKey },
      { prompt: input.prompt, model: input.model, size: input.size, quality: input.quality ?? null, format: input.format ?? null },
      input.deadline,
      () => generateOnce(input),
    );
    return replayed ? { image: value.image, replayed } : { ...value, replayed };
  };
};

async function moderate(deps: GenerateImageDeps, prompt: string, deadline: number): Promise<void> {
  if (!deps.moderator) return;
  let verdict;
  try {
    verdict = await deps.moderator.check(prompt, deadline);
  } catch (error) {
    if (deps.moderationFailOpen && error instanceof AppError && error.code === 'moderation_unavailable') {
      deps.log.warn('moderation unavailable, continuing (fail-open)', { errorCode: error.code });
      return;
    }
    throw error;
  }
  if (verdict.flagged) {
    const categories = verdict.categories.length > 0 ? verdict.categories.join(', ') : 'unspecified';
    throw new AppError(
      'content_policy_violation',
      `The prompt was flagged by moderation (${categories}). Change the prompt and try again.`,
      { details: { moderationCategories: categories } },
    );
  }
}

async function giveBack(deps: GenerateImageDeps, reservation: Reservation): Promise<void> {
  try {
    await deps.quota?.release(reservation);
  } catch (error) {
    // The caller's error matters more than this; the counter is at worst one image high until midnight.
    deps.log.error('could not give a quota reservation back', {
      errorName: error instanceof Error ? error.name : 'unknown',
    });
  }
}

async function generateAndStore(
  deps: GenerateImageDeps,
  input: GenerateImageInput,
  providerDeadline: number,
  costMicroUsd: number,
): Promise<GenerateImageResult> {
  const startedAt = deps.now();
  const generated = await deps.generator.generate(
    {
      prompt: input.providerPrompt,
      model: input.model,
      size: input.size,
      quality: input.quality,
      format: input.format,
      endUserId: endUserId(principalKey(input.principal)),
    },
    providerDeadline,
  );
  const generatedAt = deps.now();

  const bytes = generated.bytes;
  if (bytes.length > deps.maxImageBytes) {
    throw new AppError('bad_provider_response', `The image provider returned an image larger than ${deps.maxImageBytes} bytes.`, {
      details: { reason: 'image too large', bytes: bytes.length },
    });
  }
  const info = verify(bytes);
  const digest = createHash('sha256').update(bytes).digest();
  const sha256 = digest.toString('hex');

  const estimatedCostUsd = microUsdToUsd(costMicroUsd);
  const id = deps.newId();
  const createdAt = new Date(generatedAt);
  const key = imageKey(deps.imagePrefix, id, createdAt, info.extension);
  const privateKey = recordKey(deps.recordPrefix, id, createdAt);
  const url = publicUrl(deps.publicBaseUrl, key);

  const record = {
    id,
    key,
    url,
    requestId: input.requestId,
    principal: input.principal.id,
    principalKind: input.principal.kind,
    model: input.model,
    estimatedCostUsd,
    parameters: { size: input.size, quality: input.quality, format: input.format },
    prompt: input.prompt,
    providerPrompt: input.providerPrompt,
    revisedPrompt: generated.revisedPrompt,
    usage: generated.usage,
    contentType: info.contentType,
    bytes: bytes.length,
    sha256,
    width: info.width,
    height: info.height,
    createdAt: createdAt.toISOString(),
  };

  await writeBoth(deps, [
    {
      key,
      write: () =>
        deps.store.putImage(
          {
            key,
            bytes,
            contentType: info.contentType,
            sha256: digest,
            metadata: { 'image-id': id, sha256, 'request-id': asciiOnly(input.requestId), model: input.model },
          },
          input.deadline,
        ),
    },
    { key: privateKey, write: () => deps.store.putRecord(privateKey, record, input.deadline) },
  ]);

  deps.log.info('image stored', {
    imageId: id,
    key,
    bytes: bytes.length,
    sha256,
    contentType: info.contentType,
    width: info.width,
    height: info.height,
    model: input.model,
    estimatedCostUsd,
    providerMs: generatedAt - startedAt,
    storeMs: deps.now() - generatedAt,
  });

  return {
    id,
    url,
    key,
    contentType: info.contentType,
    bytes: bytes.length,
    sha256,
    width: info.width,
    height: info.height,
    model: input.model,
    ...(generated.revisedPrompt === undefined ? {} : { revisedPrompt: generated.revisedPrompt }),
    createdAt: createdAt.toISOString(),
  };
}

function verify(bytes: Buffer): ImageInfo {
  try {
    return verifyImage(bytes);
  } catch (error) {
    if (error instanceof ImageVerificationError) {
      throw new AppError('bad_provider_response', 'The image provider returned an incomplete or unknown image.', {
        cause: error,
        details: { reason: error.problem, bytes: bytes.length },
      });
    }
    throw error;
  }
}

async function writeBoth(
  deps: GenerateImageDeps,
  writes: { key: string; write: () => Promise<void> }[],
): Promise<void> {
  const results = await Promise.allSettled(writes.map(({ write }) => write()));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (!failed) return;
  // Undo the writes that did succeed, so a failure leaves nothing behind.
  await Promise.allSettled(
    writes.map(async ({ key }, index) => {
      if (results[index]?.status !== 'fulfilled') return;
      try {
        await deps.store.delete(key);
      } catch (error) {
        deps.log.error('could not remove the half of a failed write', {
          key,
          errorName: error instanceof Error ? error.name : 'unknown',
        });
      }
    }),
  );
  throw failed.reason;
}

/** Providers want a stable end-user id for abuse monitoring; a hash keeps our principal names private. */
const endUserId = (principal: string): string =>
  createHash('sha256').update(`durable-image-api:${principal}`).digest('hex').slice(0, 32);

const asciiOnly = (value: string): string => value.replace(/[^\x20-\x7e]/g, '?');
