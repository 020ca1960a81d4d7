import { randomUUID } from 'node:crypto';
import type { CdnInvalidator } from '../../ports.js';
import { signedAwsRequest } from './aws-signed-request.js';

const API_VERSION = '2020-05-31';

const xmlEscape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Removes deleted images from CloudFront's edge caches (`CreateInvalidation`). Images are cached for a year
 * (immutable), so without this a deleted image would keep being served. One signed request instead of the
 * CloudFront SDK client (220 KB of bundle for this one call): see aws-signed-request.ts. CloudFront's API is
 * global and signed for us-east-1.
 */
export class CloudFrontInvalidator implements CdnInvalidator {
  constructor(
    private readonly distributionId: string,
    private readonly endpoint = 'https://cloudfront.amazonaws.com',
  ) {}

  async invalidate(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const paths = keys.map((key) => `/${key.split('/').map(encodeURIComponent).join('/')}`);
    const body =
      `<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/${API_VERSION}/">` +
      `<Paths><Quantity>${paths.length}</Quantity><Items>${paths.map((path) => `<Path>${xmlEscape(path)}</Path>`).join('')}</Items></Paths>` +
      `<CallerReference>${randomUUID()}</CallerReference></InvalidationBatch>`;
    const { status, body: answer } = await signedAwsRequest({
      service: 'cloudfront',
      region: 'us-east-1',
      endpoint: this.endpoint,
      method: 'POST',
      path: `/${API_VERSION}/distribution/${encodeURIComponent(this.distributionId)}/invalidation`,
      headers: { 'content-type': 'application/xml' },
      body,
      timeoutMs: 5_000,
    });
    if (status !== 201) {
      const code = /<Code>([^<]{1,64})<\/Code>/.exec(answer)?.[1] ?? 'unknown';
      throw new Error(`CloudFront CreateInvalidation answered ${status} (${code})`);
    }
  }
}
