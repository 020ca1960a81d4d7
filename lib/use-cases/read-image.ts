import { AppError } from '../errors.js';
import type { ImageResource } from '../domain/image-job.js';
import type { ImageStore, Log } from '../ports.js';

/** A stored image's bytes for an answer that carries them, or why they do not travel in it. */
export type AnswerBytes = { bytes: Buffer } | { omitted: 'too-large' | 'unreadable' };

/**
 * The stored bytes of a succeeded image, read back from the store (what the permanent URL serves, not what the
 * provider sent), for answers that carry the image itself (`/v1`'s `b64_json`, its completed event). The image is
 * made, paid for and stored whatever happens here: past `maxBytes` (what the answer may still carry) or when the read
 * fails, the answer has its URL alone and says why (an error would only make the caller pay for another).
 */
export const makeReadImage =
  (deps: { store: ImageStore; log: Pick<Log, 'warn'> }) =>
  async (resource: ImageResource, maxBytes: number, deadline: number): Promise<AnswerBytes> => {
    if (resource.key === undefined || resource.bytes === undefined) return { omitted: 'unreadable' };
    if (resource.bytes > maxBytes) return { omitted: 'too-large' };
    try {
      return { bytes: await deps.store.read(resource.key, resource.bytes, deadline) };
    } catch (error) {
      deps.log.warn('stored image not read back for the answer: sent with its URL', {
        imageId: resource.id,
        errorCode: error instanceof AppError ? error.code : 'internal_error',
      });
      return { omitted: 'unreadable' };
    }
  };
