import type { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { AppError } from '../../errors.js';
import type { SignedUpload, UploadSigner } from '../../ports.js';

/**
 * Uploads as S3 presigned POSTs (`@aws-sdk/s3-presigned-post`, signed with the function's own credentials, no
 * call to S3): a browser form or curl sends the file straight to the bucket, never through Lambda's 6 MB payload.
 * The policy allows exactly one key, one content type and a size range, and expires: S3 refuses anything else.
 */
export class S3UploadSigner implements UploadSigner {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async sign(upload: { key: string; contentType: string; maxBytes: number; expiresSeconds: number }): Promise<SignedUpload> {
    try {
      return await createPresignedPost(this.s3, {
        Bucket: this.bucket,
        Key: upload.key,
        Conditions: [
          ['content-length-range', 1, upload.maxBytes],
          ['eq', '$Content-Type', upload.contentType],
        ],
        Fields: { 'Content-Type': upload.contentType },
        Expires: upload.expiresSeconds,
      });
    } catch (error) {
      throw new AppError('storage_unavailable', 'An upload could not be prepared. Retry later.', {
        cause: error,
        details: { reason: error instanceof Error ? error.name : 'unknown' },
      });
    }
  }
}
