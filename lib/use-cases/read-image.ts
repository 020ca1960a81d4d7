import { AppError } from '../errors.js';
import type { ImageResource } from '../domain/image-job.js';
import type { ImageStore } from '../ports.js';

/**
 * The stored bytes of a succeeded image, read back from the store (what the permanent URL serves, not what the
 * provider sent), for answers that carry the image itself. `maxBytes` bounds what one answer may carry; a larger
 * image is refused, naming its URL, and is not lost: it is stored.
 */
export const makeReadImage =
  (deps: { store: ImageStore }) =>
  async (resource: ImageResource, maxBytes: number, deadline: number): Promise<Buffer> => {
    if (resource.key === undefined || resource.bytes === undefined || resource.url === undefined) {
      throw new AppError('not_found', 'The image has no stored bytes.');
    }
    if (resource.bytes > maxBytes) {
      throw new AppError(
        'payload_too_large',
        `The image (${resource.bytes} bytes) is too large to return in the answer (at most ${maxBytes} bytes); ` +
          `it is stored at ${resource.url}: ask for its URL instead.`,
        { mayBeBilled: true },
      );
    }
    return deps.store.read(resource.key, resource.bytes, deadline);
  };
