import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { AppError } from '../errors.js';
import type { ImageStore, StoredImage } from '../ports.js';

/** Images are content-addressed by a random id and never change, so browsers and CloudFront may keep them. */
export const IMAGE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** The shortest time a write is given even when the request deadline is nearly spent. */
const MIN_WRITE_MS = 1_000;

/**
 * S3 implementation of {@link ImageStore}.
 *
 * - Bodies are Buffers: a streamed body under the SDK's default checksum mode is sent with chunk framing, which
 *   some S3-compatible servers store verbatim.
 * - `ChecksumSHA256` makes S3 verify the bytes it received against the digest we computed before answering.
 * - `IfNoneMatch: '*'` turns an (astronomically unlikely) key collision into a failure instead of an overwrite.
 */
export class S3ImageStore implements ImageStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly now: () => number = Date.now,
  ) {}

  async putImage(image: StoredImage, deadline: number): Promise<void> {
    await this.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: image.key,
        Body: image.bytes,
        ContentLength: image.bytes.length,
        ContentType: image.contentType,
        CacheControl: IMAGE_CACHE_CONTROL,
        ChecksumSHA256: image.sha256.toString('base64'),
        IfNoneMatch: '*',
        Metadata: image.metadata,
      }),
      image.key,
      deadline,
    );
  }

  async putRecord(key: string, record: unknown, deadline: number): Promise<void> {
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    await this.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ContentType: 'application/json; charset=utf-8',
        CacheControl: 'no-store',
        IfNoneMatch: '*',
      }),
      key,
      deadline,
    );
  }

  async delete(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), {
        abortSignal: AbortSignal.timeout(5_000),
      });
    } catch (error) {
      throw storageUnavailable(error, key, 'The image could not be removed. Retry later.');
    }
  }

  private async send(command: PutObjectCommand, key: string, deadline: number): Promise<void> {
    const budget = Math.max(MIN_WRITE_MS, deadline - this.now());
    try {
      await this.s3.send(command, { abortSignal: AbortSignal.timeout(budget) });
    } catch (error) {
      throw storageUnavailable(error, key, 'The image could not be stored. Retry later.');
    }
  }
}

function storageUnavailable(error: unknown, key: string, message: string): AppError {
  const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return new AppError('storage_unavailable', message, {
    cause: error,
    details: { key, s3Error: error instanceof Error ? error.name : 'unknown', s3Status: meta?.httpStatusCode },
  });
}
