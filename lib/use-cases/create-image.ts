import { AppError } from '../errors.js';
import { giveBack, moderate, type AdmissionDeps } from './admission.js';
import { LEASE_MARGIN_MS, isFinal, type ImageJob, type InputImage, type JobInputs } from '../domain/image-job.js';
import type { ImageRef } from '../domain/image-request.js';
import { uploadKey } from '../domain/object-keys.js';
import { estimateImageCostMicroUsd } from '../domain/pricing.js';
import {
  principalKey,
  type ImageOrder,
  type ImageStore,
  type JobDispatcher,
  type QuotaStatus,
  type Reservation,
  type WebhookSender,
} from '../ports.js';
import { fromJobError, ownJob, settleExpired, type JobReadDeps } from './job-reads.js';
import { inspectInputs } from './input-images.js';

export interface CreateImageDeps extends JobReadDeps, AdmissionDeps {
  dispatcher: JobDispatcher;
  /** Where input images are, for admission's look at their headers. */
  store: ImageStore;
  webhooks?: WebhookSender | undefined;
  newId: () => string;
  sleep?: (ms: number) => Promise<void>;
}

export interface CreateImageInput extends ImageOrder {
  idempotencyKey?: string | undefined;
  webhook?: string | undefined;
  /** When the request must have been answered (epoch ms). */
  deadline: number;
  /** Until when to wait for the image before answering 202 (epoch ms, at most `deadline`). */
  waitUntil: number;
}

/** What admission settled: the reservation (undefined when quotas are off), the estimate and the time. */
interface Admitted {
  reservation: Reservation | undefined;
  costMicroUsd: number;
  now: number;
  inputs: JobInputs | undefined;
}

export interface CreateImageOutcome {
  /** The job as it stood when the wait ended: final (`succeeded`) or still `queued`/`running`. */
  job: ImageJob;
  quota?: QuotaStatus | undefined;
  replayed: boolean;
}

/** The fields of an order that say who asks and until when, not what: every other field changes the work. */
const NOT_THE_WORK: ReadonlySet<string> = new Set<keyof CreateImageInput>([
  'principal',
  'requestId',
  'idempotencyKey',
  'deadline',
  'waitUntil',
  // Derived from `prompt` and the deployment's template.
  'providerPrompt',
]);

/**
 * What an Idempotency-Key is bound to: every field of the order but those of NOT_THE_WORK, by construction (a field
 * added to the request later is covered without a list to keep), keys sorted so the same work always hashes the
 * same. The same key with another prompt, size, input image, mask, previews or webhook is 422.
 */
function fingerprintOf(input: CreateImageInput): Record<string, unknown> {
  const work: Record<string, unknown> = {};
  for (const name of Object.keys(input).sort()) {
    const value = input[name as keyof CreateImageInput];
    if (!NOT_THE_WORK.has(name) && value !== undefined) work[name] = value;
  }
  return work;
}

/**
 * Polling the job: fast first (fast generations answer quickly), then twice a second. The function waits either
 * way; a read costs $0.125 per million (on-demand, strongly consistent, under 4 KB), so 50 reads of a 25 s wait
 * cost about $0.000006, and the image reaches the caller at most half a second after it is stored.
 */
const POLL_FIRST_MS = 100;
const POLL_MAX_MS = 500;

/**
 * `POST /images`: admits the request (webhook target, quota, moderation: all before any money is spent), creates
 * the image resource, starts its worker, and waits for it until `waitUntil`. A failed image is thrown as its
 * error (fromJobError: the status, code and headers of the failure); a finished one or one still in progress is
 * returned.
 *
 * With an Idempotency-Key the creation and the wait run once per key: a retry names the same resource (same id)
 * and waits for it again; it never starts a second generation. A request that ends in an error stores nothing
 * under the key, so it may be retried with the same key.
 */
export const makeCreateImage = (deps: CreateImageDeps) => {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const waitFor = async (id: string, until: number): Promise<ImageJob | undefined> => {
    let job = await deps.jobs.get(id);
    for (let pause = POLL_FIRST_MS; job && !isFinal(job.status) && deps.now() < until; pause = Math.min(pause * 2, POLL_MAX_MS)) {
      job = await settleExpired(deps, job);
      if (isFinal(job.status)) break;
      await sleep(Math.max(0, Math.min(pause, until - deps.now())));
      job = await deps.jobs.get(id);
    }
    return job;
  };

  /**
   * The checks before money is spent: the webhook target, the quota reservation, then moderation of what the
   * quota admitted (over-quota callers must not spend the organisation's moderation rate limit). A moderation
   * refusal gives the reservation back.
   */
  /**
   * The input images as objects: an `id` must be one of the caller's own succeeded images (404 otherwise, exactly as
   * GET /images/{id} answers), an `upload` names a key under the caller's own uploads folder, which the worker reads
   * and verifies before the provider sees it.
   */
  const resolveInputs = async (input: CreateImageInput): Promise<JobInputs | undefined> => {
    if (!input.images) return undefined;
    const resolve = async (ref: ImageRef): Promise<InputImage> => {
      if ('upload' in ref) return { ref, key: uploadKey(principalKey(input.principal), ref.upload) };
      const job = await ownJob(deps, input.principal, ref.id);
      if (job.status !== 'succeeded' || !job.result) {
        throw new AppError('invalid_request', `Image ${ref.id} has no stored image to use (it is ${job.status}).`, {
          details: { field: 'images' },
        });
      }
      return { ref, key: job.result.key };
    };
    const images = await Promise.all(input.images.map(resolve));
    return { images, ...(input.mask ? { mask: await resolve(input.mask) } : {}) };
  };

  /**
   * An input refused at admission counts toward the caller's daily bound on such refusals (each costs a ranged read
   * of the bucket): past it, the answer is 429 until the day resets instead of the 400.
   */
  const refusedInput = async (input: CreateImageInput, error: unknown): Promise<never> => {
    if (!(error instanceof AppError && error.code === 'invalid_request') || !deps.quota) throw error;
    try {
      await deps.quota.count(input.principal, 'inputRefusals', deps.now());
    } catch (counted) {
      if (counted instanceof AppError && counted.code === 'quota_exceeded') throw counted;
      deps.log.warn('could not count a refused input', { errorCode: counted instanceof AppError ? counted.code : 'internal_error' });
    }
    throw error;
  };

  const admit = async (input: CreateImageInput): Promise<Admitted> => {
    const inputs = await resolveInputs(input);
    // What the provider would refuse is refused here, before money is reserved or moderation is asked.
    if (inputs) await inspectInputs(deps.store, inputs, input.model, input.deadline).catch((error: unknown) => refusedInput(input, error));
    if (input.webhook !== undefined) {
      if (!deps.webhooks) {
        throw new AppError('invalid_request', '"webhook" is not available: this deployment has no webhook secret (WEBHOOK_SECRET).', {
          details: { field: 'webhook' },
        });
      }
      await deps.webhooks.check(input.webhook, input.deadline);
    }
    const now = deps.now();
    const costMicroUsd = (deps.estimateCost ?? estimateImageCostMicroUsd)(
      input.model,
      input.quality,
      input.size,
      input.providerPrompt,
      input.previews ?? 0,
      (inputs?.images.length ?? 0) + (inputs?.mask ? 1 : 0),
    );
    const reservation = deps.quota ? await deps.quota.reserve(input.principal, costMicroUsd, now) : undefined;
    try {
      await moderate(deps, input.prompt, input.deadline);
    } catch (error) {
      if (reservation) await giveBack(deps, reservation);
      throw error;
    }
    return { reservation, costMicroUsd, now, inputs };
  };

  /** Gives back what an admission reserved for work that did not run (a replayed or refused Idempotency-Key). */
  const withdraw = async (admitting: Promise<Admitted>): Promise<void> => {
    const admitted = await admitting.catch(() => undefined);
    if (admitted?.reservation) await giveBack(deps, admitted.reservation);
  };

  /** Whether a job that may have been written is now certainly gone (removed here, or never written). */
  const removed = async (job: ImageJob): Promise<boolean> => {
    try {
      if (await deps.jobs.remove(job.id, job.status)) deps.log.warn('job written though its create failed: removed', { imageId: job.id });
      return true; // removed, or there was no such job (the condition failed)
    } catch {
      // Unknown: if it exists, whoever settles it gives the reservation back; otherwise it stays counted (errs on
      // the side of not spending).
      return false;
    }
  };

  const start = async (
    input: CreateImageInput,
    { reservation, costMicroUsd, now, inputs }: Admitted,
  ): Promise<{ job: ImageJob; quota?: QuotaStatus | undefined; ended?: ImageJob | undefined }> => {
    // Run here (no worker function): the job is written already claimed, so the run neither reads nor claims it.
    const inline = !deps.dispatcher.background;
    const job: ImageJob = {
      id: deps.newId(),
      owner: principalKey(input.principal),
      principalId: input.principal.id,
      principalKind: input.principal.kind,
      status: inline ? 'running' : 'queued',
      ...(inline ? { claim: deps.newId(), leaseUntil: input.deadline + LEASE_MARGIN_MS, startedAt: now } : {}),
      model: input.model,
      size: input.size,
      quality: input.quality,
      format: input.format,
      ...(input.previews ? { previews: input.previews } : {}),
      ...(input.options ? { options: input.options } : {}),
      ...(inputs ? { inputs } : {}),
      prompt: input.prompt,
      providerPrompt: input.providerPrompt,
      requestId: input.requestId,
      webhook: input.webhook,
      webhookState: input.webhook === undefined ? undefined : 'pending',
      reservation: reservation
        ? { principalKey: reservation.principalKey, day: reservation.day, costMicroUsd, spendLimitMicroUsd: reservation.spendLimitMicroUsd }
        : undefined,
      estimateMicroUsd: costMicroUsd,
      createdAt: now,
    };
    try {
      await deps.jobs.create(job);
    } catch (error) {
      // The write may have happened with its answer lost (then a retry of it fails its condition): the job would
      // exist, and a reader would later settle it and give the reservation back a second time. So the job is
      // removed first, and the reservation given back only once nothing can refer to it any more.
      if (reservation && (await removed(job))) await giveBack(deps, reservation);
      throw error;
    }
    let ended: ImageJob | undefined;
    try {
      ended = (await deps.dispatcher.dispatch(job.id, input.deadline, inline ? job : undefined)) ?? undefined;
    } catch (error) {
      // Nothing will ever run it: end it now, and the provider was never called.
      const ended = await deps.jobs
        .fail(
          job.id,
          { status: 'queued' },
          { code: 'queue_unavailable', message: 'The image could not be queued for generation.' },
          deps.now(),
        )
        .catch(() => false);
      if (reservation && ended) await giveBack(deps, reservation);
      throw error;
    }
    deps.log.info('image job created', { imageId: job.id, model: job.model, background: deps.dispatcher.background });
    return { job, quota: reservation?.status, ended };
  };

  const startAndWait = async (input: CreateImageInput, admitted: Admitted): Promise<CreateImageOutcome> => {
    const started = await start(input, admitted);
    // An inline run that succeeded says how it stored the job; anything else is read back.
    const job = started.ended ?? (await waitFor(started.job.id, input.waitUntil));
    // Deleted by its owner while this request waited for it.
    if (!job || job.status === 'deleted') throw new AppError('not_found', 'The image was deleted while it was being generated.');
    if (job.status === 'failed') throw fromJobError(job.error);
    return { job, quota: started.quota, replayed: false };
  };

  return async (input: CreateImageInput): Promise<CreateImageOutcome> => {
    if (input.idempotencyKey === undefined) return startAndWait(input, await admit(input));
    if (!deps.idempotency) {
      throw new AppError('invalid_request', 'Idempotency-Key is not supported by this deployment (no state table).', {
        details: { field: 'Idempotency-Key' },
      });
    }
    // Admission starts together with the claim of the key instead of after it (one round trip less before the
    // provider). When the key turns out to be a replay, or in use, or reused with another body, the work does not
    // run and what admission reserved is given back: a replay never counts against the quota.
    const admitting = admit(input);
    admitting.catch(() => undefined); // awaited by the work, or withdrawn below
    let outcome: CreateImageOutcome | undefined;
    let workStarted = false;
    let claimed: { value: { id: string }; replayed: boolean };
    try {
      claimed = await deps.idempotency.run(
        { principal: principalKey(input.principal), key: input.idempotencyKey },
        fingerprintOf(input),
        input.deadline,
        async () => {
          workStarted = true;
          outcome = await startAndWait(input, await admitting);
          // Only the id is stored with the key: the job itself (and its prompt) stays in the job store.
          return { id: outcome.job.id };
        },
      );
    } finally {
      if (!workStarted) await withdraw(admitting);
    }
    const { value, replayed } = claimed;
    if (outcome && !replayed) return outcome;
    // A replay answers at once with the job as it is now (202 and its Location while it runs): waiting would let
    // repeats of one paid request hold the API, and its concurrency, for free.
    let job = await deps.jobs.get(value.id);
    if (job && !isFinal(job.status)) job = await settleExpired(deps, job);
    if (!job || job.status === 'deleted') {
      throw new AppError('not_found', 'The image this Idempotency-Key created has been deleted. Use a new key.');
    }
    if (job.status === 'failed') throw fromJobError(job.error);
    return { job, replayed: true };
  };
};
