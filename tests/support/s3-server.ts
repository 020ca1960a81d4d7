import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  client: S3Client;
  /** Every key in the bucket, sorted. */
  keys(): Promise<string[]>;
  get(
    key: string,
  ): Promise<{ body: Buffer; contentType: string | undefined; cacheControl: string | undefined; metadata: Record<string, string> }>;
  /** Removes every object, so each test starts from an empty bucket. */
  clear(): Promise<void>;
  stop(): Promise<void>;
}

/** A real S3 server (s3rver) on a free loopback port, with the bucket created, in a fresh temp directory. */
export async function startLocalS3(bucket = 'test-images'): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const keys = async (): Promise<string[]> => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (listed.Contents ?? []).map((object) => object.Key ?? '').sort();
  };
  return {
    endpoint,
    bucket,
    client,
    keys,
    async get(key) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!object.Body) throw new Error(`s3rver answered GetObject of ${key} with no body`);
      const body = Buffer.from(await object.Body.transformToByteArray());
      return {
        body,
        contentType: object.ContentType,
        cacheControl: object.CacheControl,
        metadata: object.Metadata ?? {},
      };
    },
    async clear() {
      const existing = await keys();
      if (existing.length === 0) return;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: existing.map((Key) => ({ Key })) } }));
    },
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
