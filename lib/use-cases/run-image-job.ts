import { AppError } from '../errors.js';
import { giveBack, settle } from './admission.js';
import { generateAndStore, type GenerateAndStoreDeps } from './generate-and-store.js';
import { INTERRUPTED, NOT_ADMITTED, isFinal, leaseExpired, previewKeys, toResource, type ImageJob } from '../domain/image-job.js';
import type { JobStore, QuotaGate, WebhookSender } from '../ports.js';
import { toJobError } from './job-reads.js';
import { loadInputs, type LoadedInputs } from './input-images.js';

export interface RunImageJobDeps extends GenerateAndStoreDeps {
  jobs: JobStore;
  quota?: QuotaGate | undefined;
  webhooks?: WebhookSender | undefined;
  /** An owner's own webhook signing secret (an issued key's), when it has one. */
  webhookSecretOf?: ((owner: string) => Promise<string | undefined>) | undefined;
  /** Time kept back from the provider for decoding, verifying and storing. */
  uploadReserveMs: number;
  /** The provider is not called with less time than this. */
  minProviderTimeMs: number;
  /** All attempts to deliver one webhook event end within this (WEBHOOK_MAX_SECONDS), whatever the run's budget. */
  webhookMaxDeliveryMs: number;
  newId: () => string;
  sleep?: (ms: number) => Promise<void>;
}

export interface RunBudget {
  /** When this run must have finished everything, webhook included (epoch ms). */
  deadline: number;
  /** Until when a claim made by this run holds: later than the moment this process can be killed. */
  leaseUntil: number;
  /** Time kept back at the end for delivering the webhook. */
  webhookReserveMs: number;
}

/** A second run found the job held by a live worker and cannot wait for it to end: let the platform retry later. */
export class JobBusyError extends Error {
  constructor(id: string) {
    super(`job ${id} is held by another worker`);
    this.name = 'JobBusyError';
  }
}

/**
 * The worker's use case: runs one image job to its end, at most once per resource, whatever the delivery.
 *
 * A job is claimed with a conditional write (`queued` -> `running`, with a lease that outlasts this process), so
 * of two deliveries of the same event only one ever calls the provider. A delivery that finds the job `running`
 * under an expired lease knows its worker died: it records `failed` (`generation_interrupted`) instead of calling
 * the provider again. The end of a job (success or failure) is a conditional write on the claim too; a DELETE
 * that arrived meanwhile wins, and the worker removes what it wrote.
 */
export const makeRunImageJob = (deps: RunImageJobDeps) => {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const notify = async (id: string, budget: RunBudget): Promise<void> => {
    const job = await deps.jobs.get(id);
    if (!job?.webhook || job.webhookState !== 'pending' || !isFinal(job.status) || !deps.webhooks) return;
    const resource = toResource(job, deps.now());
    if (!resource) return;
    let secret: string | undefined;
    try {
      secret = await deps.webhookSecretOf?.(job.owner);
    } catch {
      // Never signed with another secret than the owner's: a receiver could not verify it (or could, for another).
      await deps.jobs.setWebhookState(job.id, 'failed');
      deps.log.warn("webhook not sent: its owner's signing secret could not be read", { imageId: job.id });
      return;
    }
    const delivered = await deps.webhooks.deliver(
      job.webhook,
      { id: `${job.id}.${resource.status}`, type: `image.${resource.status}`, owner: job.owner, data: resource },
      // A receiver that keeps failing or never answers must not hold the worker (and the generations queued behind
      // it) for the rest of its budget.
      Math.min(budget.deadline, deps.now() + deps.webhookMaxDeliveryMs),
      secret,
    );
    await deps.jobs.setWebhookState(job.id, delivered ? 'delivered' : 'failed');
    deps.log.info('webhook', { imageId: job.id, delivered });
  };

  /** Removes what a worker wrote for a job that was deleted while it ran (its previews too), then the job itself. */
  const cleanUpDeleted = async (job: ImageJob, keys: string[]): Promise<void> => {
    await Promise.all([...keys, ...previewKeys(job)].map((key) => deps.store.delete(key)));
    await deps.jobs.remove(job.id, 'deleted');
    deps.log.info('job deleted while running: removed its objects', { imageId: job.id, objects: keys.length });
  };

  /** Runs a claimed job to its end; returns the job as stored when it succeeded (undefined otherwise). */
  const execute = async (job: ImageJob, claim: string, budget: RunBudget): Promise<ImageJob | undefined> => {
    const storeDeadline = budget.deadline - budget.webhookReserveMs;
    const providerDeadline = storeDeadline - deps.uploadReserveMs;
    const startedAt = deps.now();
    const endAs = async (error: unknown, billed: boolean, reservation = job.reservation): Promise<void> => {
      // Not billed: the reservation goes back. Maybe billed: its estimate stays, now as spend, not a reservation.
      if (reservation && !billed) await giveBack(deps, reservation);
      else if (reservation) await settle(deps, reservation, reservation.costMicroUsd);
      const ended = await deps.jobs.fail(job.id, { status: 'running', claim }, toJobError(error, billed), deps.now());
      if (!ended) {
        const current = await deps.jobs.get(job.id);
        if (current?.status === 'deleted') await cleanUpDeleted(current, []);
      }
      deps.log.info('image job failed', { imageId: job.id, errorCode: error instanceof AppError ? error.code : 'internal_error', billed });
    };

    if (providerDeadline - startedAt < deps.minProviderTimeMs || job.prompt === undefined || job.providerPrompt === undefined) {
      // Refused before spending money: a generation that cannot finish in time is billed for nobody.
      await endAs(new AppError('provider_timeout', 'Not enough time left to generate an image.'), false);
      return undefined;
    }
    // The input images, verified before any provider sees them; a bad one is the caller's, and nothing was spent.
    let inputs: LoadedInputs | undefined;
    try {
      inputs = await loadInputs(deps.store, job.inputs, providerDeadline, job.model);
    } catch (error) {
      await endAs(error, false);
      return undefined;
    }
    const outcome = await generateAndStore(deps, {
      id: job.id,
      requestId: job.requestId,
      principal: { id: job.principalId, kind: job.principalKind },
      prompt: job.prompt,
      providerPrompt: job.providerPrompt,
      model: job.model,
      size: job.size,
      quality: job.quality,
      format: job.format,
      previews: job.previews,
      options: job.options,
      inputs,
      inputRefs: job.inputs,
      costMicroUsd: job.reservation?.costMicroUsd ?? job.estimateMicroUsd ?? 0,
      providerDeadline,
      deadline: storeDeadline,
      reservation: job.reservation,
      createdAt: job.createdAt,
      keepPreview: (preview) => deps.jobs.addPreview(job.id, claim, preview),
    });
    // The reservation as it ends: extended when a dearer fallback ran.
    if (!outcome.ok) {
      await endAs(outcome.error, outcome.billed, outcome.reservation);
      return undefined;
    }
    // Generated and stored: its spend is settled to what the provider reported, whatever happens to the job now,
    // so the settlement (which never throws) and the job's success are written together: one round trip, not two.
    const completedAt = deps.now();
    const [, won] = await Promise.all([
      outcome.reservation ? settle(deps, outcome.reservation, outcome.settledCostMicroUsd) : undefined,
      deps.jobs.succeed(job.id, claim, outcome.image, completedAt),
    ]);
    if (!won) {
      const current = await deps.jobs.get(job.id);
      await cleanUpDeleted(current ?? job, [outcome.image.key, outcome.image.recordKey]);
      return undefined;
    }
    // What `succeed` wrote, so an inline caller need not read it back.
    return {
      ...job,
      status: 'succeeded',
      result: outcome.image,
      completedAt,
      prompt: undefined,
      providerPrompt: undefined,
      leaseUntil: undefined,
    };
  };

  /**
   * Runs (or finishes, or reports) the job `id`. Safe to call any number of times for the same id. `claimed`: the
   * job as its creator wrote it, already `running` under its claim (inline runs), so it is not read and claimed;
   * such a run returns the job as it stored it when it succeeded, so the caller need not read it back.
   */
  return async (id: string, budget: RunBudget, claimed?: ImageJob): Promise<ImageJob | undefined> => {
    if (claimed?.status === 'running' && claimed.claim !== undefined && claimed.id === id) {
      const succeeded = await execute(claimed, claimed.claim, budget);
      if (claimed.webhook) {
        await notify(id, budget);
        return undefined; // its webhook state changed: the caller reads the job
      }
      return succeeded;
    }
    for (let step = 0; step < 4; step += 1) {
      const job = await deps.jobs.get(id);
      if (!job) {
        deps.log.info('job not found (deleted before it ran)', { imageId: id });
        return undefined;
      }
      const now = deps.now();
      if (job.status === 'queued') {
        // Every job POST /images queues carries its reservation when quotas are on: one without was never
        // admitted (written by something else, or queued while quotas were off) and would spend for free.
        if (deps.quota && !job.reservation) {
          if (await deps.jobs.fail(id, { status: 'queued' }, NOT_ADMITTED, now)) {
            deps.log.warn('queued job without a quota reservation: refused, provider not called', { imageId: id });
            if (job.webhook) await notify(id, budget);
            return undefined;
          }
          continue;
        }
        const claim = deps.newId();
        if (!(await deps.jobs.claim(id, claim, budget.leaseUntil, now))) continue;
        await execute(job, claim, budget);
        // Only a job with a webhook has anything to report (saves a read of every other job).
        if (job.webhook) await notify(id, budget);
        return undefined;
      }
      if (job.status === 'running') {
        if (leaseExpired(job, now)) {
          if (await deps.jobs.fail(id, { status: 'running', claim: job.claim }, INTERRUPTED, now)) {
            // Its worker may have been billed: the estimate stays, as spend.
            if (job.reservation) await settle(deps, job.reservation, job.reservation.costMicroUsd);
          }
          deps.log.warn('job lease expired: marked failed, provider not called again', { imageId: id });
          continue; // the next step delivers its webhook
        }
        // Another worker holds it. Its lease ends before ours could: wait for that if it fits, else retry later.
        const until = (job.leaseUntil ?? now) + 1_000;
        if (until > budget.deadline) throw new JobBusyError(id);
        await sleep(until - now);
        continue;
      }
      if (job.status === 'deleted') {
        // A tombstone whose worker's lease ran out: no worker will come back to clean it up.
        if ((job.leaseUntil ?? 0) < now) await deps.jobs.remove(id, 'deleted');
        return undefined;
      }
      await notify(id, budget);
      return undefined;
    }
  };
};
