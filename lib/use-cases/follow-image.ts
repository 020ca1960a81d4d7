import { AppError } from '../errors.js';
import { toResource, type ImageResource, type StoredPreview } from '../domain/image-job.js';
import type { ImageStore, Principal } from '../ports.js';
import { fromJobError, notFinishedInTime, notFound, ownJob, type JobReadDeps } from './job-reads.js';
import { makeReadImage } from './read-image.js';

/** What a caller following an image sees: each partial image once it is stored, then the image itself. */
export type ImageProgress =
  | { kind: 'partial'; index: number; url: string; bytes: Buffer }
  /**
   * Without `bytes` (`omitted` says why: larger than the answer may carry, or not read back) only its URL travels:
   * the image is made, paid for and stored, and an error now would only make the caller pay for another.
   */
  | ({ kind: 'completed'; resource: ImageResource } & Partial<{ bytes: Buffer; omitted: 'too-large' | 'unreadable' }>);

export interface FollowImageDeps extends JobReadDeps {
  store: ImageStore;
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

export interface FollowOptions {
  /** When following must end (epoch ms): past it, a `provider_timeout` the provider may have billed. */
  deadline: number;
  /**
   * The image bytes the answer may carry in all. Partial images share half of it (each sent only within its share);
   * the image has the rest: when it does not fit, its URL travels alone.
   */
  budgetBytes: number;
}

/** Polling the job as the synchronous wait does: fast first, then twice a second (create-image.ts says the cost). */
const POLL_FIRST_MS = 100;
const POLL_MAX_MS = 500;

/**
 * Follows the caller's own image while it is made, wherever it runs (the worker function, or inline in this one):
 * the job record is the one channel between them. Each partial image is yielded once, in index order, with the
 * bytes stored (what its URL serves, verified when it was stored); then the finished image with its stored bytes.
 * A failed image throws its error, as the synchronous wait does; a deleted one is 404.
 *
 * A partial image that cannot be read back is skipped (a preview is never the image); one that arrives after a
 * later one was yielded is not yielded out of order.
 */
export const makeFollowImage = (deps: FollowImageDeps) => {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const readImage = makeReadImage(deps);

  return async function* followImage(principal: Principal, id: string, options: FollowOptions): AsyncGenerator<ImageProgress> {
    let lastIndex = -1;
    let spent = 0;
    for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
      const job = await ownJob(deps, principal, id);
      const fresh = [...(job.previewImages ?? [])].sort((a, b) => a.index - b.index).filter((preview) => preview.index > lastIndex);
      for (const preview of fresh) {
        lastIndex = preview.index;
        const bytes = await readPreview(preview, Math.floor(options.budgetBytes / 2 / Math.max(1, job.previews ?? 1)), options.deadline);
        spent += bytes?.length ?? 0;
        if (bytes) yield { kind: 'partial', index: preview.index, url: preview.url, bytes };
      }
      const resource = toResource(job, deps.now());
      if (!resource) throw notFound();
      if (resource.status === 'succeeded') {
        yield { kind: 'completed', resource, ...(await readImage(resource, options.budgetBytes - spent, options.deadline)) };
        return;
      }
      if (resource.status === 'failed') throw fromJobError(job.error);
      const left = options.deadline - deps.now();
      if (left <= 0) {
        throw notFinishedInTime(id);
      }
      await sleep(Math.min(pause, left));
    }
  };

  async function readPreview(preview: StoredPreview, maxBytes: number, deadline: number): Promise<Buffer | undefined> {
    try {
      return await deps.store.read(preview.key, maxBytes, deadline);
    } catch (error) {
      deps.log.warn('partial image not read back: not sent', {
        index: preview.index,
        errorCode: error instanceof AppError ? error.code : 'internal_error',
      });
      return undefined;
    }
  }
};
