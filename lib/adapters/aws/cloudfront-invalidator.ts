import { randomUUID } from 'node:crypto';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import type { CdnInvalidator } from '../../ports.js';

/** A bound on the call, its retries included: a DELETE waits on it. */
const INVALIDATION_TIMEOUT_MS = 5_000;

/**
 * Removes deleted images from CloudFront's edge caches (`CreateInvalidation`). Images are cached for a year
 * (immutable), so without this a deleted image would keep being served. This module (and the CloudFront client)
 * is imported by the first DELETE only (lib/composition-root.ts). CloudFront's API is global (signed for us-east-1).
 */
export class CloudFrontInvalidator implements CdnInvalidator {
  private readonly client: CloudFrontClient;

  constructor(
    private readonly distributionId: string,
    /** A local stand-in (tests); otherwise the SDK's own resolution (AWS_ENDPOINT_URL_CLOUDFRONT...). */
    endpoint?: string,
  ) {
    this.client = new CloudFrontClient({
      region: 'us-east-1',
      ...(endpoint === undefined ? {} : { endpoint }),
      requestHandler: { connectionTimeout: 1_000, requestTimeout: INVALIDATION_TIMEOUT_MS, throwOnRequestTimeout: true },
    });
  }

  async invalidate(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const paths = keys.map((key) => `/${key.split('/').map(encodeURIComponent).join('/')}`);
    await this.client.send(
      new CreateInvalidationCommand({
        DistributionId: this.distributionId,
        // A fresh reference: each DELETE is its own invalidation; the SDK's retry of one call reuses it.
        InvalidationBatch: { Paths: { Quantity: paths.length, Items: paths }, CallerReference: randomUUID() },
      }),
      { abortSignal: AbortSignal.timeout(INVALIDATION_TIMEOUT_MS) },
    );
  }
}
