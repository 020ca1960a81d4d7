import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ImageStore } from '../../../lib/adapters/aws/s3-image-store.js';
import { pngOf } from '../../support/fixtures.js';

/** What reached the wire: S3's own checks (payload hash, checksum) are made on these. */
const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
let server: Server;
let store: S3ImageStore;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { etag: '"x"' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
  store = new S3ImageStore(s3, 'bucket');
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const sha256 = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();

describe('S3ImageStore on the wire', () => {
  it("sends exactly the image's bytes, with its SHA-256 as the signed payload hash and as the checksum", async () => {
    const bytes = pngOf(16, 16);
    await store.putImage({ key: 'images/a.png', bytes, contentType: 'image/png', sha256: sha256(bytes), metadata: {} }, Date.now() + 5_000);
    const put = received.at(-1);
    expect(put?.body.equals(bytes)).toBe(true);
    // What S3 recomputes from the body and compares: a wrong value is refused (XAmzContentSHA256Mismatch).
    expect(put?.headers['x-amz-content-sha256']).toBe(sha256(bytes).toString('hex'));
    expect(put?.headers['x-amz-checksum-sha256']).toBe(sha256(bytes).toString('base64'));
    expect(String(put?.headers['authorization'])).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/);
  });

  it('does not hash the image again: the payload hash is the digest it was given', async () => {
    const bytes = pngOf(16, 16);
    const other = sha256(Buffer.from('not these bytes'));
    await store.putImage({ key: 'images/b.png', bytes, contentType: 'image/png', sha256: other, metadata: {} }, Date.now() + 5_000);
    // S3 would refuse this PUT (both headers disagree with the body): the digest the pipeline computed is checked.
    expect(received.at(-1)?.headers['x-amz-content-sha256']).toBe(other.toString('hex'));
  });

  it("sends the private record's exact bytes with their SHA-256 as the signed payload hash", async () => {
    await store.putRecord('records/a.json', { id: 'a' }, Date.now() + 5_000);
    const put = received.at(-1);
    expect(put?.body.toString()).toBe('{"id":"a"}');
    expect(put?.headers['x-amz-content-sha256']).toBe(sha256(Buffer.from('{"id":"a"}')).toString('hex'));
  });
});
