import { AppError } from '../errors.js';
import { giveBack } from './admission.js';
import { previewKeys } from '../domain/image-job.js';
import type { CdnInvalidator, ImageStore, Principal, QuotaGate } from '../ports.js';
import { ownJob, type JobReadDeps } from './job-reads.js';

export interface DeleteImageDeps extends JobReadDeps {
  store: ImageStore;
  quota?: QuotaGate | undefined;
  cdn?: CdnInvalidator | undefined;
}

/** A deleted job that its worker never comes back to is expired by the table's TTL after this long. */
const TOMBSTONE_TTL_MS = 7 * 86_400_000;

/**
 * `DELETE /images/{id}`: removes the image object, its private record and its job, in that order, so a failure
 * part-way leaves the job in place and the DELETE can simply be repeated. A queued job is removed before any
 * worker claims it (the provider is never called, the quota is given back); a running one is marked deleted and
 * its worker removes what it writes when the generation returns (a provider call in flight cannot be recalled,
 * and stays counted). A deleted image leaves the CDN through an invalidation.
 */
export const makeDeleteImage =
  (deps: DeleteImageDeps) =>
  async (principal: Principal, id: string): Promise<void> => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const job = await ownJob(deps, principal, id);
      if (job.status === 'queued') {
        if (!(await deps.jobs.remove(id, 'queued'))) continue; // a worker claimed it meanwhile
        if (job.reservation) await giveBack(deps, job.reservation);
        deps.log.info('image deleted before it ran', { imageId: id });
        return;
      }
      if (job.status === 'running') {
        if (!(await deps.jobs.markDeleted(id, job.claim, deps.now() + TOMBSTONE_TTL_MS))) continue;
        deps.log.info('image deleted while running: its worker removes the objects', { imageId: id });
        return;
      }
      // Its previews go with it (a failed job may have some too); the lifecycle rule would only expire them later.
      const keys = [...(job.result ? [job.result.key, job.result.recordKey] : []), ...previewKeys(job)];
      await Promise.all(keys.map((key) => deps.store.delete(key)));
      if (!(await deps.jobs.remove(id, job.status))) continue;
      const served = [...(job.result ? [job.result.key] : []), ...previewKeys(job)];
      if (served.length > 0 && deps.cdn) {
        await deps.cdn.invalidate(served).catch((error: unknown) => {
          deps.log.error('CDN invalidation failed; the image may be served from edge caches until they expire', {
            imageId: id,
            errorName: error instanceof Error ? error.name : 'unknown',
          });
        });
      }
      deps.log.info('image deleted', { imageId: id, objects: keys.length });
      return;
    }
    throw new AppError('request_in_progress', 'The image changed while it was being deleted. Retry the DELETE.', {
      headers: { 'Retry-After': '1' },
    });
  };
