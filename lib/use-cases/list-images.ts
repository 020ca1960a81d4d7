import { AppError } from '../errors.js';
import { decodeCursor, encodeCursor, toResource, type ImageResource } from '../domain/image-job.js';
import { principalKey, type Principal } from '../ports.js';
import type { JobReadDeps } from './job-reads.js';

const DEFAULT_LIST_LIMIT = 20;
const MAX_LIST_LIMIT = 100;

export interface ListImagesInput {
  principal: Principal;
  /** The raw query values; validated here. */
  limit: string | undefined;
  cursor: string | undefined;
}

/**
 * `GET /images`: the caller's own images, newest first, a page at a time. The cursor is opaque and only ever
 * continues the caller's own list: the owner comes from authentication, never from the cursor.
 */
export const makeListImages =
  (deps: JobReadDeps) =>
  async (input: ListImagesInput): Promise<{ data: ImageResource[]; nextCursor: string | null }> => {
    let limit = DEFAULT_LIST_LIMIT;
    if (input.limit !== undefined) {
      if (!/^\d{1,4}$/.test(input.limit) || Number(input.limit) < 1 || Number(input.limit) > MAX_LIST_LIMIT) {
        throw new AppError('invalid_request', `"limit" must be a whole number from 1 to ${MAX_LIST_LIMIT}.`, {
          details: { field: 'limit' },
        });
      }
      limit = Number(input.limit);
    }
    let cursor: ReturnType<typeof decodeCursor>;
    if (input.cursor !== undefined) {
      cursor = decodeCursor(input.cursor);
      if (!cursor) throw new AppError('invalid_request', '"cursor" is not a cursor this API returned.', { details: { field: 'cursor' } });
    }
    const now = deps.now();
    const page = await deps.jobs.list(principalKey(input.principal), limit, cursor);
    return {
      data: page.jobs.map((job) => toResource(job, now)).filter((resource): resource is ImageResource => resource !== undefined),
      nextCursor: page.next ? encodeCursor(page.next) : null,
    };
  };
