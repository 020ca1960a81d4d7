import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { AppError, errorName } from '../../errors.js';
import type { ImageStore, StoredImage } from '../../ports.js';

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
 * - The same digest, as `x-amz-content-sha256`, is the payload hash SigV4 signs: without it the signer hashes the
 *   body a second time.
 * - `IfNoneMatch: '*'` turns an (astronomically unlikely) key collision into a failure instead of an overwrite.
 *   The SDK retries a PUT whose answer was lost; if S3 had committed the first attempt, the retry meets its own
 *   object (412). A 412 whose stored object carries our checksum is therefore a success; anything else fails.
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
      image.bytes,
      image.sha256,
      deadline,
    );
  }

  async putRecord(key: string, record: unknown, deadline: number): Promise<void> {
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    const digest = createHash('sha256').update(body).digest();
    await this.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ContentType: 'application/json; charset=utf-8',
        CacheControl: 'no-store',
        ChecksumSHA256: digest.toString('base64'),
        IfNoneMatch: '*',
      }),
      key,
      body,
      digest,
      deadline,
    );
  }

  async read(key: string, maxBytes: number, deadline: number): Promise<Buffer> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
        abortSignal: AbortSignal.timeout(Math.max(MIN_WRITE_MS, deadline - this.now())),
      });
      if ((object.ContentLength ?? 0) > maxBytes) {
        await object.Body?.transformToWebStream()
          .cancel()
          .catch(() => undefined);
        throw new AppError('payload_too_large', `The object is larger than ${maxBytes} bytes.`, {
          details: { bytes: object.ContentLength ?? 0 },
        });
      }
      if (!object.Body) throw new Error('object without a body');
      return Buffer.from(await object.Body.transformToByteArray());
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (errorName(error) === 'NoSuchKey') throw new AppError('not_found', 'The object does not exist.', { cause: error });
      throw storageUnavailable(error, key, 'The stored image could not be read back. Retry later.');
    }
  }

  async readHead(key: string, headBytes: number, maxBytes: number, deadline: number): Promise<{ head: Buffer; size: number }> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${headBytes - 1}` }), {
        abortSignal: AbortSignal.timeout(Math.max(MIN_WRITE_MS, deadline - this.now())),
      });
      // `Content-Range: bytes 0-65535/1234567` names the whole size; an object smaller than the range comes whole.
      const total = /\/(\d+)$/.exec(object.ContentRange ?? '')?.[1];
      const size = total === undefined ? (object.ContentLength ?? 0) : Number(total);
      if (!object.Body) throw new Error('object without a body');
      const bytes = Buffer.from(await object.Body.transformToByteArray());
      if (size > maxBytes) {
        throw new AppError('payload_too_large', `The object is larger than ${maxBytes} bytes.`, { details: { bytes: size } });
      }
      return { head: bytes.subarray(0, headBytes), size };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (errorName(error) === 'NoSuchKey') throw new AppError('not_found', 'The object does not exist.', { cause: error });
      throw storageUnavailable(error, key, 'The input image could not be read. Retry later.');
    }
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

  private async send(command: PutObjectCommand, key: string, body: Buffer, sha256: Buffer, deadline: number): Promise<void> {
    const budget = Math.max(MIN_WRITE_MS, deadline - this.now());
    const payloadHash = sha256.toString('hex');
    command.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = payloadHash;
        return next(args);
      },
      { step: 'build', name: 'knownPayloadHash' },
    );
    try {
      await this.s3.send(command, { abortSignal: AbortSignal.timeout(budget) });
    } catch (error) {
      if (statusOf(error) === 412 && (await this.holds(key, body, budget))) return;
      throw storageUnavailable(error, key, 'The image could not be stored. Retry later.');
    }
  }

  /** Whether the object at `key` is exactly `body`: by its SHA-256 checksum, or by the MD5 ETag of a plain PUT. */
  private async holds(key: string, body: Buffer, budget: number): Promise<boolean> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }), {
        abortSignal: AbortSignal.timeout(budget),
      });
      if (head.ContentLength !== undefined && head.ContentLength !== body.length) return false;
      if (head.ChecksumSHA256 !== undefined) return head.ChecksumSHA256 === createHash('sha256').update(body).digest('base64');
      return head.ETag?.replace(/"/g, '') === createHash('md5').update(body).digest('hex');
    } catch {
      return false;
    }
  }
}

const statusOf = (error: unknown): number | undefined =>
  (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;

function storageUnavailable(error: unknown, key: string, message: string): AppError {
  const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return new AppError('storage_unavailable', message, {
    cause: error,
    details: { key, s3Error: error instanceof Error ? error.name : 'unknown', s3Status: meta?.httpStatusCode },
  });
}
