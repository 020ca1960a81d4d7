import { createHash } from 'node:crypto';
import { AppError, errorName } from '../errors.js';
import { ImageVerificationError, verifyImage, type ImageInfo } from '../domain/image-format.js';
import type { Provenance, StoredImageResult, StoredPreview } from '../domain/image-job.js';
import { imageKey, previewKey, publicUrl, recordKey } from '../domain/object-keys.js';
import { costFromUsage, microUsdToUsd } from '../domain/pricing.js';
import { parseModelName } from '../domain/models.js';
import type { JobInputs, ReservationRef } from '../domain/image-job.js';
import type { LoadedInputs } from './input-images.js';
import { generateWithFallback, type CandidateOutcome, type FallbackDeps } from './generate-with-fallback.js';
import {
  principalKey,
  type GeneratedImage,
  type GenerationHooks,
  type ImageGenerator,
  type ImageStore,
  type ImageOrder,
  type Log,
  type MetricsRecorder,
  type PreviewImage,
  type ProvenanceReader,
  type ProvenanceSigner,
  type ServiceClaim,
  type SettleCost,
} from '../ports.js';

/** What generating, verifying and storing one image needs; shared by the synchronous and the job use cases. */
export interface GenerateAndStoreDeps extends FallbackDeps {
  generator: ImageGenerator;
  store: ImageStore;
  log: Log;
  publicBaseUrl: string;
  imagePrefix: string;
  recordPrefix: string;
  maxImageBytes: number;
  now: () => number;
  metrics?: MetricsRecorder | undefined;
  /** `openai` or `offline`: a metrics dimension. */
  /** 'offline' when the offline generator serves every model; otherwise each model's name says its provider. */
  providerName?: string;
  /** The image's cost from what the provider reported (the pricing table's costFromUsage by default). */
  settleCost?: SettleCost | undefined;
  /** Reads the Content Credentials of each image before it is stored (CONTENT_CREDENTIALS=verify or sign). */
  provenance?: ProvenanceReader | undefined;
  /** Signs the images that came without any (CONTENT_CREDENTIALS=sign). */
  provenanceSigner?: ProvenanceSigner | undefined;
}

export interface GenerateAndStoreInput extends ImageOrder {
  id: string;
  costMicroUsd: number;
  /** The provider must have answered by then (epoch ms). */
  providerDeadline: number;
  /** The writes must have finished by then. */
  deadline: number;
  /** The input images as read and verified (an edit, or references). */
  inputs?: LoadedInputs | undefined;
  /** What the caller named as inputs (ids, not bytes), for the record. */
  inputRefs?: JobInputs | undefined;
  /** The quota reservation this image runs under (a dearer fallback extends it). */
  reservation?: ReservationRef | undefined;
  /** When the job was created (epoch ms): its previews' keys are dated by it. */
  createdAt?: number | undefined;
  /**
   * Records a stored preview on the job; false when the job is no longer this run's (deleted meanwhile), and the
   * preview's object is then removed. Without it, previews are not asked for.
   */
  keepPreview?: ((preview: StoredPreview) => Promise<boolean>) | undefined;
}

/** `reservation`: the reservation as it ends (extended when a dearer fallback ran), for settling or giving back. */
export type PipelineOutcome =
  | { ok: true; image: StoredImageResult; createdAt: Date; settledCostMicroUsd: number; reservation: ReservationRef | undefined }
  /** `billed`: the provider generated, or may have (the money rule: the reservation is kept). */
  | { ok: false; error: unknown; billed: boolean; reservation: ReservationRef | undefined };

/**
 * Generate -> verify -> two writes. Its image is verified before anything is written; the image and its private
 * record are both written (in parallel) before a URL exists, and if either write fails the other is removed, so
 * there is no image without a record, no record without an image, and no URL for bytes S3 did not accept.
 */
export async function generateAndStore(deps: GenerateAndStoreDeps, input: GenerateAndStoreInput): Promise<PipelineOutcome> {
  const startedAt = deps.now();
  const result = await generateWithFallback(deps, {
    model: input.model,
    size: input.size,
    quality: input.quality,
    format: input.format,
    request: {
      prompt: input.providerPrompt,
      endUserId: endUserId(principalKey(input.principal)),
      ...(wantsPreviews(input) ? { previews: input.previews } : {}),
      ...(input.options ? { options: input.options } : {}),
      ...(input.inputs ? { images: input.inputs.images, ...(input.inputs.mask ? { mask: input.inputs.mask } : {}) } : {}),
    },
    deadline: input.providerDeadline,
    hooks: withPreviews(deps, input),
    reservation: input.reservation,
    ...(input.inputs ? { inputShapes: input.inputs.shapes } : {}),
  });
  const { reservation } = result;
  if (result.tried.length > 1)
    deps.metrics?.record('Fallbacks', 1, 'Count', { model: input.model, outcome: result.ok ? 'answered' : 'failed' });
  if (!result.ok) {
    const { error, billed } = result;
    recordProvider(deps, input, 'failed', deps.now() - startedAt, billed);
    if (error instanceof AppError && PROVIDER_FAILURES.has(error.code)) deps.metrics?.record('ProviderFailures', 1, 'Count');
    return { ok: false, error, billed, reservation };
  }
  // What made the image: the model asked for, or the fallback that answered, with the parameters it was given.
  const made = { ...input, model: result.model, ...result.choice, costMicroUsd: reservation?.costMicroUsd ?? input.costMicroUsd };
  recordProvider(deps, made, 'answered', deps.now() - startedAt, true);
  try {
    const stored = await verifyAndStore(deps, made, result.generated, startedAt, { requestedModel: input.model, tried: result.tried });
    deps.metrics?.record('ImagesStored', 1, 'Count', { model: made.model, provider: providerOf(deps, made.model) });
    return { ok: true, ...stored, reservation };
  } catch (error) {
    // The provider answered with an image: it was generated, and billed, whatever happened to it afterwards.
    return { ok: false, error, billed: true, reservation };
  }
}

/** Whether this run asks for previews: some were asked for, and there is a job to record them on. */
const wantsPreviews = (input: GenerateAndStoreInput): boolean => (input.previews ?? 0) > 0 && input.keepPreview !== undefined;

/** The run's hooks, with `onPreview` storing each partial image when previews were asked for. */
function withPreviews(deps: GenerateAndStoreDeps, input: GenerateAndStoreInput): GenerationHooks {
  const keep = input.keepPreview;
  if (!keep || !wantsPreviews(input)) return {};
  const seen = new Set<number>();
  return { onPreview: (preview) => storePreview(deps, input, keep, preview, seen) };
}

/**
 * Stores one partial image, verified like the final one (a complete PNG/JPEG/WebP within the size limit, its
 * checksum on the PUT) and with the same Content Credentials, then records it on the job. A preview is never the image: one that fails any of this is
 * logged and skipped, and the generation goes on to its final image, which is checked on its own.
 */
async function storePreview(
  deps: GenerateAndStoreDeps,
  input: GenerateAndStoreInput,
  keep: (preview: StoredPreview) => Promise<boolean>,
  preview: PreviewImage,
  seen: Set<number>,
): Promise<void> {
  const startedAt = deps.now();
  const { index, bytes } = preview;
  try {
    if (!Number.isSafeInteger(index) || index < 0 || index >= (input.previews ?? 0) || seen.has(index)) {
      throw new AppError('bad_provider_response', 'The image provider sent an unexpected partial image.', {
        details: { reason: 'unexpected partial image index' },
      });
    }
    seen.add(index);
    if (bytes.length > deps.maxImageBytes) {
      throw new AppError('bad_provider_response', 'The partial image is too large.', { details: { reason: 'image too large' } });
    }
    // Marked like the image (EU AI Act Art. 50(2)): a preview is public at its URL for a day.
    const {
      bytes: stored,
      info,
      digest,
    } = await readyToStore(
      deps,
      bytes,
      { model: preview.generatedBy ?? input.model, generatedAt: new Date(startedAt), inputs: input.inputs?.images ?? [] },
      input.id,
    );
    const key = previewKey(deps.imagePrefix, input.id, new Date(input.createdAt ?? startedAt), index, info.extension);
    await deps.store.putImage(
      {
        key,
        bytes: stored,
        contentType: info.contentType,
        sha256: digest,
        metadata: { 'image-id': input.id, 'preview-index': String(index), sha256: digest.toString('hex'), model: input.model },
      },
      input.deadline,
    );
    const kept = await keep({
      index,
      key,
      url: publicUrl(deps.publicBaseUrl, key),
    });
    if (!kept) await deps.store.delete(key);
    deps.log.info('preview stored', { imageId: input.id, index, key, bytes: stored.length, kept, storeMs: deps.now() - startedAt });
  } catch (error) {
    deps.log.warn('preview not kept', {
      imageId: input.id,
      index,
      bytes: bytes.length,
      errorCode: error instanceof AppError ? error.code : 'internal_error',
      reason: error instanceof AppError ? error.details['reason'] : error instanceof Error ? error.name : 'unknown',
    });
  }
}

/** The provider a metric is about: the offline generator, or the one the model's name says. */
const providerOf = (deps: GenerateAndStoreDeps, model: string): string =>
  deps.providerName === 'offline' ? 'offline' : (parseModelName(model)?.provider ?? 'unknown');

/** Failures the provider caused (an alarm watches their count); refusals and our own limits are not among them. */
const PROVIDER_FAILURES = new Set(['provider_error', 'bad_provider_response', 'provider_timeout', 'provider_busy']);

/** Provider latency by outcome, and the estimated spend of every call that may be billed (the daily spend alarm). */
function recordProvider(deps: GenerateAndStoreDeps, input: GenerateAndStoreInput, outcome: string, ms: number, billed: boolean): void {
  if (!deps.metrics) return;
  deps.metrics.record('ProviderLatency', ms, 'Milliseconds', { model: input.model, provider: providerOf(deps, input.model), outcome });
  if (billed && input.costMicroUsd > 0) deps.metrics.record('EstimatedCostUsd', microUsdToUsd(input.costMicroUsd), 'None');
}

/** A failure's own words, bounded: what a signer or reader says names a step (key, certificate, validation), no data. */
const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 200);

const NO_CREDENTIALS: Provenance = { manifest: 'none', valid: null };

/**
 * The file to store, verified (a complete image within its bounds; a verification failure is the provider's), its
 * SHA-256, and what its Content Credentials say: the one preparation of an image and a preview alike.
 */
async function readyToStore(
  deps: GenerateAndStoreDeps,
  bytes: Buffer,
  claim: ServiceClaim,
  imageId: string,
): Promise<{ bytes: Buffer; info: ImageInfo; digest: Buffer; provenance: Provenance | undefined }> {
  const stored = await credentialsOf(deps, bytes, verify(bytes), claim, imageId);
  return { ...stored, digest: createHash('sha256').update(stored.bytes).digest() };
}

/**
 * An image that came with a manifest is kept byte for byte (the provider's manifest, valid or not, is reported as it
 * is). One that came with none gets this service's (CONTENT_CREDENTIALS=sign): signed, read back and checked as a
 * whole image again before it replaces the original. Neither reading nor signing ever loses a paid image: on a
 * failure the provider's bytes are stored, reported as carrying no manifest (`valid: null` when it could not even be
 * read), logged and counted (ProvenanceUnread, ProvenanceUnsigned).
 */
async function credentialsOf(
  deps: GenerateAndStoreDeps,
  bytes: Buffer,
  info: ImageInfo,
  claim: ServiceClaim,
  imageId: string,
): Promise<{ bytes: Buffer; info: ImageInfo; provenance: Provenance | undefined }> {
  if (!deps.provenance) return { bytes, info, provenance: undefined };
  let found: Provenance;
  try {
    found = await deps.provenance.read(bytes, info.contentType);
  } catch (error) {
    deps.log.warn('content credentials not read', { imageId, errorName: errorName(error) });
    deps.metrics?.record('ProvenanceUnread', 1, 'Count');
    return { bytes, info, provenance: NO_CREDENTIALS };
  }
  if (found.manifest !== 'none' || !deps.provenanceSigner) return { bytes, info, provenance: found };
  const signingStarted = deps.now();
  try {
    const signed = await deps.provenanceSigner.sign(bytes, info.contentType, claim);
    const signedInfo = verify(signed);
    if (signedInfo.width !== info.width || signedInfo.height !== info.height) throw new Error('the signed file has other dimensions');
    const check = await deps.provenance.read(signed, info.contentType);
    if (check.valid !== true) throw new Error('the signed manifest does not validate');
    deps.log.info('content credentials signed', { imageId, bytesAdded: signed.length - bytes.length, signMs: deps.now() - signingStarted });
    return { bytes: signed, info: signedInfo, provenance: { ...check, manifest: 'service' } };
  } catch (error) {
    // The reason names the failure (a key, a certificate, a validation); never the key or the image.
    deps.log.warn('content credentials not signed', { imageId, errorName: errorName(error), reason: reasonOf(error) });
    deps.metrics?.record('ProvenanceUnsigned', 1, 'Count');
    return { bytes, info, provenance: found };
  }
}

async function verifyAndStore(
  deps: GenerateAndStoreDeps,
  input: GenerateAndStoreInput,
  generated: GeneratedImage,
  startedAt: number,
  fallback: { requestedModel: string; tried: CandidateOutcome[] },
): Promise<{ image: StoredImageResult; createdAt: Date; settledCostMicroUsd: number }> {
  const fellBack = fallback.requestedModel !== input.model;
  const generatedAt = deps.now();

  if (generated.bytes.length > deps.maxImageBytes) {
    throw new AppError('bad_provider_response', `The image provider returned an image larger than ${deps.maxImageBytes} bytes.`, {
      details: { reason: 'image too large', bytes: generated.bytes.length },
    });
  }
  const { bytes, info, digest, provenance } = await readyToStore(
    deps,
    generated.bytes,
    { model: generated.generatedBy ?? input.model, generatedAt: new Date(generatedAt), inputs: input.inputs?.images ?? [] },
    input.id,
  );
  const sha256 = digest.toString('hex');

  const estimatedCostUsd = microUsdToUsd(input.costMicroUsd);
  // Settled to what the provider reported, at published prices; the estimate stands where it reported nothing.
  const settled = (deps.settleCost ?? costFromUsage)(input.model, generated.usage, input.costMicroUsd);
  if (settled.costMicroUsd > input.costMicroUsd) {
    // The reservation is meant to bound the bill (lib/domain/pricing.ts): a settlement above it means a price or a
    // token formula there is out of date. Settled as reported all the same; an alarm watches the metric.
    deps.log.warn('settled above the reservation', {
      imageId: input.id,
      model: input.model,
      reservedMicroUsd: input.costMicroUsd,
      settledMicroUsd: settled.costMicroUsd,
    });
    deps.metrics?.record('SettledOverReservation', 1, 'Count');
  }
  const id = input.id;
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
    // Which models were tried, and why the others did not make it (a fallback answered).
    ...(fellBack ? { requestedModel: fallback.requestedModel, fallback: fallback.tried } : {}),
    // The generator's own name when it is not the model asked for (offline runs say so).
    ...(generated.generatedBy === undefined ? {} : { generatedBy: generated.generatedBy }),
    ...(generated.providerRequestId === undefined ? {} : { providerRequestId: generated.providerRequestId }),
    estimatedCostUsd,
    settledCostUsd: microUsdToUsd(settled.costMicroUsd),
    costBasis: settled.basis,
    parameters: { size: input.size, quality: input.quality, format: input.format, previews: input.previews ?? 0, ...input.options },
    // Which images went in: their ids, never their bytes.
    ...(input.inputRefs
      ? {
          inputs: {
            images: input.inputRefs.images.map((image) => image.ref),
            ...(input.inputRefs.mask ? { mask: input.inputRefs.mask.ref } : {}),
          },
        }
      : {}),
    ...(generated.previews ? { partialImages: generated.previews } : {}),
    prompt: input.prompt,
    providerPrompt: input.providerPrompt,
    revisedPrompt: generated.revisedPrompt,
    usage: generated.usage,
    contentType: info.contentType,
    bytes: bytes.length,
    sha256,
    width: info.width,
    height: info.height,
    ...(provenance ? { provenance } : {}),
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
            metadata: {
              'image-id': id,
              sha256,
              'request-id': asciiOnly(input.requestId),
              model: input.model,
              ...(generated.generatedBy === undefined ? {} : { 'generated-by': asciiOnly(generated.generatedBy) }),
            },
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
    ...(fellBack
      ? { requestedModel: fallback.requestedModel, fallback: fallback.tried.map((entry) => `${entry.model}:${entry.outcome}`).join(',') }
      : {}),
    // The generator's own name when it is not the model asked for (offline runs say so).
    ...(generated.generatedBy === undefined ? {} : { generatedBy: generated.generatedBy }),
    ...(generated.providerRequestId === undefined ? {} : { providerRequestId: generated.providerRequestId }),
    estimatedCostUsd,
    settledCostUsd: microUsdToUsd(settled.costMicroUsd),
    costBasis: settled.basis,
    providerMs: generatedAt - startedAt,
    storeMs: deps.now() - generatedAt,
  });

  return {
    image: {
      id,
      url,
      key,
      recordKey: privateKey,
      contentType: info.contentType,
      bytes: bytes.length,
      sha256,
      width: info.width,
      height: info.height,
      model: input.model,
      ...(fellBack ? { requestedModel: fallback.requestedModel } : {}),
      ...(generated.revisedPrompt === undefined ? {} : { revisedPrompt: generated.revisedPrompt }),
      costUsd: microUsdToUsd(settled.costMicroUsd),
      costBasis: settled.basis,
      ...(generated.usage === undefined ? {} : { usage: generated.usage }),
      ...generated.settings,
      ...(provenance ? { provenance } : {}),
    },
    settledCostMicroUsd: settled.costMicroUsd,
    createdAt,
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

async function writeBoth(deps: GenerateAndStoreDeps, writes: { key: string; write: () => Promise<void> }[]): Promise<void> {
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
const endUserId = (principal: string): string => createHash('sha256').update(`durable-image-api:${principal}`).digest('hex').slice(0, 32);

const asciiOnly = (value: string): string => value.replace(/[^\x20-\x7e]/g, '?');
