import { AppError } from './errors.js';
import { billableRetryHook, giveBack, moderate } from './admission.js';
import { runImagePipeline, type ImagePipelineDeps } from './image-pipeline.js';
import type { OutputFormat } from './domain/models.js';
import { estimateImageCostMicroUsd } from './domain/pricing.js';
import {
  principalKey,
  type IdempotencyGuard,
  type Principal,
  type PromptModerator,
  type QuotaGate,
  type QuotaStatus,
} from './ports.js';

export interface GenerateImageDeps extends ImagePipelineDeps {
  /** Time kept back from the provider for decoding, verifying and storing. */
  uploadReserveMs: number;
  /** The provider is not called with less time than this. */
  minProviderTimeMs: number;
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
  estimateCost?: (model: string, quality: string | undefined, size: string, providerPrompt: string) => number;
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
 * The synchronous use case, for a deployment without a state table (no image resources): prompt in, permanent
 * URL out, within one request. Knows nothing of HTTP or the environment.
 *
 * Order matters for money: the provider is called only with enough time left to finish, after the quota is
 * reserved and the prompt passed moderation. A reservation is given back only when the provider certainly did
 * not generate (the money rule, README "Limits and quotas").
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

