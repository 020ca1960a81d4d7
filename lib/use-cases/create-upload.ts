/**
 * `POST /uploads`: a place for one input image, which the caller then names as `{"upload": "<id>"}` in
 * `POST /images`. The file goes from the caller straight to the bucket (a signed form POST), under the caller's own
 * uploads folder; the worker verifies it before any provider sees it, and the bucket expires it after a day.
 */
import { AppError } from '../errors.js';
import { safeFieldName } from '../domain/image-request.js';
import { MAX_INPUT_IMAGE_BYTES } from '../domain/models.js';
import { uploadKey } from '../domain/object-keys.js';
import { principalKey, type Principal, type QuotaGate, type SignedUpload, type UploadSigner } from '../ports.js';

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
