import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { IMAGE_CACHE_CONTROL, S3ImageStore } from '../../../lib/adapters/aws/s3-image-store.js';
import { AppError } from '../../../lib/errors.js';
import { pngOf } from '../../support/fixtures.js';

const s3Mock = mockClient(S3Client);

describe('S3ImageStore', () => {
  beforeEach(() => {
    s3Mock.reset();
  });

  it('puts the image as a Buffer with a checksum S3 verifies, immutable caching and no overwrite', async () => {
    // Prepare
    s3Mock.on(PutObjectCommand).resolves({});
    const store = new S3ImageStore(new S3Client({ region: 'us-east-1' }), 'bucket');
    const bytes = pngOf(8, 8);
    const sha256 = createHash('sha256').update(bytes).digest();
    // Act
    await store.putImage(
      { key: 'images/2026/11/25/id.png', bytes, contentType: 'image/png', sha256, metadata: { sha256: 'x' } },
      Date.now() + 5_000,
    );
    // Assess
    const input = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).toEqual({
      Bucket: 'bucket',
      Key: 'images/2026/11/25/id.png',
      Body: bytes,
      ContentLength: bytes.length,
      ContentType: 'image/png',
      CacheControl: IMAGE_CACHE_CONTROL,
      ChecksumSHA256: sha256.toString('base64'),
      IfNoneMatch: '*',
      Metadata: { sha256: 'x' },
    });
    expect(Buffer.isBuffer(input?.Body)).toBe(true);
  });

  it('puts the record as private, uncached JSON', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const store = new S3ImageStore(new S3Client({ region: 'us-east-1' }), 'bucket');
    await store.putRecord('records/a.json', { prompt: '狐狸 🦊' }, Date.now() + 5_000);
    const input = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ Key: 'records/a.json', ContentType: 'application/json; charset=utf-8', IfNoneMatch: '*' });
    expect(JSON.parse((input?.Body as Buffer | undefined)?.toString('utf8') ?? '')).toEqual({ prompt: '狐狸 🦊' });
  });

  it.each([
    ['SlowDown', 503],
    ['AccessDenied', 403],
    ['InternalError', 500],
  ])('turns S3 %s into storage_unavailable', async (name, status) => {
    s3Mock
      .on(PutObjectCommand)
      .rejects(new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } }));
    const store = new S3ImageStore(new S3Client({ region: 'us-east-1', maxAttempts: 1 }), 'bucket');
    const error = await store.putRecord('records/a.json', {}, Date.now() + 5_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'storage_unavailable', statusCode: 503, details: { s3Error: name, s3Status: status } });
  });

  const preconditionFailed = (): S3ServiceException =>
    new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 } });

  it('treats a 412 as success when the object there is ours (a retried PUT that S3 had already committed)', async () => {
    // Prepare
    const bytes = pngOf(8, 8);
    const sha256 = createHash('sha256').update(bytes).digest();
    s3Mock.on(PutObjectCommand).rejects(preconditionFailed());
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ChecksumSHA256: sha256.toString('base64') });
    const store = new S3ImageStore(new S3Client({ region: 'us-east-1', maxAttempts: 1 }), 'bucket');
    // Act
    await store.putImage({ key: 'images/a.png', bytes, contentType: 'image/png', sha256, metadata: {} }, Date.now() + 5_000);
    // Assess
    expect(s3Mock.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'bucket',
      Key: 'images/a.png',
      ChecksumMode: 'ENABLED',
    });
  });

  it('treats a 412 as success for a record whose MD5 ETag matches (no checksum stored)', async () => {
    const body = Buffer.from(JSON.stringify({ a: 1 }), 'utf8');
    s3Mock.on(PutObjectCommand).rejects(preconditionFailed());
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: body.length, ETag: `"${createHash('md5').update(body).digest('hex')}"` });
    await new S3ImageStore(new S3Client({ region: 'us-east-1', maxAttempts: 1 }), 'bucket').putRecord(
      'records/a.json',
      { a: 1 },
      Date.now() + 5_000,
    );
  });

  it.each([
    ['another object is there', { ContentLength: 68, ChecksumSHA256: Buffer.alloc(32).toString('base64') }],
    ['the object has another length', { ContentLength: 1 }],
    ['nothing can be compared', { ContentLength: undefined }],
  ])('fails a 412 when %s', async (_, head) => {
    const bytes = pngOf(8, 8);
    s3Mock.on(PutObjectCommand).rejects(preconditionFailed());
    s3Mock.on(HeadObjectCommand).resolves(head);
    const store = new S3ImageStore(new S3Client({ region: 'us-east-1', maxAttempts: 1 }), 'bucket');
    const error = await store
      .putImage(
        { key: 'images/a.png', bytes, contentType: 'image/png', sha256: createHash('sha256').update(bytes).digest(), metadata: {} },
        Date.now() + 5_000,
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'storage_unavailable', details: { s3Status: 412 } });
  });

  it('deletes by key', async () => {
    s3Mock.on(DeleteObjectCommand).resolves({});
    await new S3ImageStore(new S3Client({ region: 'us-east-1' }), 'bucket').delete('images/x.png');
    expect(s3Mock.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({ Bucket: 'bucket', Key: 'images/x.png' });
  });
});
