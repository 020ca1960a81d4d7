import { AppError } from './errors.js';
import { billableRetryHook, giveBack, moderate, settle, type AdmissionDeps } from './admission.js';
import { runImagePipeline, type ImagePipelineDeps } from './image-pipeline.js';
import type { StoredImageResult } from './domain/image-job.js';
import { estimateImageCostMicroUsd } from './domain/pricing.js';
import { principalKey, type ImageOrder, type QuotaStatus } from './ports.js';

export interface GenerateImageDeps extends ImagePipelineDeps, AdmissionDeps {
  /** Time kept back from the provider for decoding, verifying and storing. */
  uploadReserveMs: number;
  /** The provider is not called with less time than this. */
  minProviderTimeMs: number;
  newId: () => string;
}

export interface GenerateImageInput extends ImageOrder {
  /** The caller's Idempotency-Key header, if any. */
  idempotencyKey?: string | undefined;
  /** Absolute epoch-ms time by which the answer must be sent. */
  deadline: number;
}

/** Today's 201 body: the stored image without its private record key, dated when it was generated. */
export type GenerateImageResult = Omit<StoredImageResult, 'recordKey'> & { createdAt: string };

export interface GenerateImageOutcome {
  image: GenerateImageResult;
  /** The caller's daily standing after this request (absent when quotas are off or on a replay). */
  quota?: QuotaStatus | undefined;
  /** True when this is the stored answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

/**
 * The synchronous use case, for a deployment without a state table (no image resources): prompt in, permanent
 * URL out, within one request. Knows nothing of HTTP or the environment.
 *
 * Order matters for money: the provider is called only with enough time left to finish, after the quota is
 * reserved and the prompt passed moderation. A reservation is given back only when the provider certainly did
 * not generate (the money rule, docs/limits.md).
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
    const costMicroUsd = (deps.estimateCost ?? estimateImageCostMicroUsd)(input.model, input.quality, input.size, input.providerPrompt);
    const reservation = deps.quota ? await deps.quota.reserve(input.principal, costMicroUsd, startedAt) : undefined;
    try {
      await moderate(deps, input.prompt, providerDeadline);
    } catch (error) {
      if (reservation) await giveBack(deps, reservation);
      throw error;
    }
    const outcome = await runImagePipeline(deps, {
      ...input,
      id: deps.newId(),
      costMicroUsd,
      providerDeadline,
      hooks: billableRetryHook(deps.quota, reservation),
    });
    if (!outcome.ok) {
      if (reservation && !outcome.billed) await giveBack(deps, reservation);
      throw outcome.error;
    }
    if (reservation) await settle(deps, reservation, outcome.settledCostMicroUsd);
    const { recordKey: _private, ...image } = outcome.image;
    return { image: { ...image, createdAt: outcome.createdAt.toISOString() }, quota: reservation?.status };
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

