/**
 * What the image use cases (create, run, get, list, delete) share: reading a job the way its owner may see it,
 * recording the end of a job whose worker died, and turning job errors into AppErrors and back.
 */
import { AppError, isAppError } from '../errors.js';
import { giveBack, settle } from './admission.js';
import { INTERRUPTED, NEVER_STARTED, leaseExpired, queueExpired, type ImageJob, type JobError } from '../domain/image-job.js';
import { principalKey, type JobDispatcher, type JobStore, type Log, type Principal, type QuotaGate } from '../ports.js';

export interface JobReadDeps {
  jobs: JobStore;
  log: Log;
  now: () => number;
  /** To have the worker deliver the webhook of a job that a reader found dead. */
  dispatcher?: JobDispatcher | undefined;
  /** To give back the reservation of a job that never started. */
  quota?: QuotaGate | undefined;
}

/** Image ids are 22 base64url characters (lib/domain/object-keys.ts); anything else cannot exist. */
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export const notFound = (): AppError => new AppError('not_found', 'No image with this id exists for this caller.');

/** An image still being made when its request's time ran out: it goes on, and may be billed (never retried). */
export const notFinishedInTime = (id: string): AppError =>
  new AppError(
    'provider_timeout',
    `The image was not finished within this request's time; it is still being generated as /images/${id} (GET it later).`,
    { mayBeBilled: true },
  );

/**
 * The caller's own job, or 404 `not_found`: for an unknown id, another caller's image (ids are never confirmed
 * to strangers) and a deleted one alike.
 */
export async function ownJob(deps: JobReadDeps, principal: Principal, id: string): Promise<ImageJob> {
  if (!ID_PATTERN.test(id)) throw notFound();
  const job = await deps.jobs.get(id);
  if (!job || job.owner !== principalKey(principal) || job.status === 'deleted') throw notFound();
  return settleExpired(deps, job);
}

/**
 * A running job past its lease has no worker (the lease outlasts the worker's timeout): record it as failed
 * (`generation_interrupted`), and let the worker deliver its webhook. The provider is not called again. A job
 * still queued long after Lambda would have dropped its event is recorded as failed (`queue_unavailable`).
 */
export async function settleExpired(deps: JobReadDeps, job: ImageJob): Promise<ImageJob> {
  const now = deps.now();
  const neverStarted = queueExpired(job, now);
  if (!leaseExpired(job, now) && !neverStarted) return job;
  const won = neverStarted
    ? await deps.jobs.fail(job.id, { status: 'queued' }, NEVER_STARTED, now)
    : await deps.jobs.fail(job.id, { status: 'running', claim: job.claim }, INTERRUPTED, now);
  if (won) {
    // A job that never started never reached the provider: its reservation goes back (the money rule). One whose
    // worker died may have been billed: its estimate stays, now as spend rather than a reservation.
    if (neverStarted && job.reservation) await giveBack(deps, job.reservation);
    else if (job.reservation) await settle(deps, job.reservation, job.reservation.costMicroUsd);
    deps.log.warn(neverStarted ? 'queued job expired: marked failed' : 'job lease expired: marked failed', { imageId: job.id });
    if (job.webhook && deps.dispatcher?.background) {
      await deps.dispatcher.dispatch(job.id, now).catch(() => undefined);
    }
  }
  return (await deps.jobs.get(job.id)) ?? job;
}

/** How a failure is kept on the job: our code and a message safe to show (never a provider's or SDK's text). */
export function toJobError(error: unknown, billed = false): JobError {
  const spent = billed ? { billed: true } : {};
  if (isAppError(error)) {
    const retryAfter = Number(error.headers['Retry-After']);
    return {
      code: error.code,
      message: error.expose ? error.message : 'Internal error. Retry later or report the requestId.',
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
      ...spent,
    };
  }
  return { code: 'internal_error', message: 'Internal error. Retry later or report the requestId.', ...spent };
}

/** A failed job as the error a caller waiting for it gets (the status, code and headers of the failure). */
export function fromJobError(error: JobError | undefined): AppError {
  const { code, message, retryAfterSeconds, billed } = error ?? INTERRUPTED;
  return new AppError(code, message, {
    ...(retryAfterSeconds === undefined ? {} : { headers: { 'Retry-After': String(retryAfterSeconds) } }),
    mayBeBilled: billed === true,
  });
}
