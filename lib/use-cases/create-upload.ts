/**
 * `POST /uploads`: a place for one input image, which the caller then names as `{"upload": "<id>"}` in
 * `POST /images`. The file goes from the caller straight to the bucket (a signed form POST), under the caller's own
 * uploads folder; the worker verifies it before any provider sees it, and the bucket expires it after a day.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import { ImageVerificationError, verifyImage } from '../domain/image-format.js';
import { safeFieldName } from '../domain/image-request.js';
import { MAX_INPUT_IMAGE_BYTES, MAX_MASK_BYTES } from '../domain/models.js';
import { uploadKey } from '../domain/object-keys.js';
import { principalKey, type ImageStore, type Principal, type QuotaGate, type SignedUpload, type UploadSigner } from '../ports.js';

/** How long a signed upload may be used: long enough for a slow connection, short enough not to be kept. */
export const UPLOAD_EXPIRES_SECONDS = 300;

/** What an upload may be: the input formats every provider takes. */
export const UPLOAD_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;

const isUploadType = (value: string): value is (typeof UPLOAD_CONTENT_TYPES)[number] =>
  (UPLOAD_CONTENT_TYPES as readonly string[]).includes(value);

export interface CreateUploadDeps {
  uploads: UploadSigner;
  newId: () => string;
  now: () => number;
  /** The daily bound on uploads per caller; undefined when quotas are off. */
  quota?: QuotaGate | undefined;
}

export interface UploadTicket extends SignedUpload {
  id: string;
  maxBytes: number;
  expiresAt: string;
}

export const makeCreateUpload =
  (deps: CreateUploadDeps) =>
  async (principal: Principal, body: unknown): Promise<UploadTicket> => {
    const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const unknown = Object.keys(fields).find((key) => key !== 'contentType');
    if (unknown !== undefined) {
      // The caller's own text in a message: printable and short (image-request.ts).
      const field = safeFieldName(unknown);
      throw new AppError('invalid_request', `"${field}" is not a known field.`, { details: { field } });
    }
    const contentType = fields['contentType'];
    if (typeof contentType !== 'string' || !isUploadType(contentType)) {
      throw new AppError('invalid_request', `"contentType" must be one of ${UPLOAD_CONTENT_TYPES.map((type) => `"${type}"`).join(', ')}.`, {
        details: { field: 'contentType' },
      });
    }
    // Each caller signs at most DAILY_UPLOAD_LIMIT forms a day (429 past it).
    await deps.quota?.count(principal, 'uploads', deps.now());
    const id = deps.newId();
    const signed = await deps.uploads.sign({
      key: uploadKey(principalKey(principal), id),
      contentType,
      maxBytes: MAX_INPUT_IMAGE_BYTES,
      expiresSeconds: UPLOAD_EXPIRES_SECONDS,
    });
    return {
      id,
      ...signed,
      maxBytes: MAX_INPUT_IMAGE_BYTES,
      expiresAt: new Date(deps.now() + UPLOAD_EXPIRES_SECONDS * 1000).toISOString(),
    };
  };

export interface StoreUploadsDeps {
  store: ImageStore;
  now: () => number;
  quota?: QuotaGate | undefined;
}

/** A file sent with a request (an edit's input image or mask), to be stored under the caller's uploads as `id`. */
export interface SentFile {
  id: string;
  /** How a refusal names it: `image[0]`, `mask`. */
  field: string;
  bytes: Buffer;
}

/**
 * Input images sent with the request itself (`/v1/images/edits`, multipart) stored where a signed upload would have
 * put them: under the caller's own uploads folder, expired by the bucket after a day. Each is checked first (a
 * complete PNG, JPEG or WebP within the bounds of an upload; a 400 naming it otherwise) and counts toward the
 * caller's daily uploads, as a signed form does; nothing is stored when one of them is refused. The edit then reads
 * them back as it reads any upload, with the same checks before anything is spent.
 */
export const makeStoreUploads =
  (deps: StoreUploadsDeps) =>
  async (principal: Principal, files: readonly SentFile[], deadline: number): Promise<void> => {
    const checked = files.map(({ id, field, bytes }) => {
      const maxBytes = field === 'mask' ? MAX_MASK_BYTES : MAX_INPUT_IMAGE_BYTES;
      const refuse = (why: string): AppError =>
        new AppError('invalid_request', `Invalid value for '${field}': ${why}`, { details: { field } });
      if (bytes.length > maxBytes) throw refuse(`the file is larger than ${maxBytes} bytes.`);
      try {
        return { id, field, bytes, contentType: verifyImage(bytes).contentType };
      } catch (error) {
        if (error instanceof ImageVerificationError) throw refuse('the file is not a complete PNG, JPEG or WebP image.');
        throw error;
      }
    });
    for (const _file of checked) await deps.quota?.count(principal, 'uploads', deps.now());
    const owner = principalKey(principal);
    await Promise.all(
      checked.map(({ id, field, bytes, contentType }) => {
        const sha256 = createHash('sha256').update(bytes).digest();
        return deps.store.putImage(
          { key: uploadKey(owner, id), bytes, contentType, sha256, metadata: { 'upload-id': id, field, sha256: sha256.toString('hex') } },
          deadline,
        );
      }),
    );
  };
