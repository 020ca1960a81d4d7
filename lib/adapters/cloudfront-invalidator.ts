import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { CdnInvalidator } from '../ports.js';

/**
 * Removes deleted images from CloudFront's edge caches. Images are cached for a year (immutable), so without
 * this a deleted image would keep being served. The CloudFront client is loaded on first use: only DELETE needs
 * it, and every other cold start would pay for its import.
 */
export class CloudFrontInvalidator implements CdnInvalidator {
  private client: Promise<{ client: CloudFrontClient; module: typeof import('@aws-sdk/client-cloudfront') }> | undefined;

  constructor(
    private readonly distributionId: string,
    private readonly region: string,
  ) {}

  async invalidate(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    this.client ??= import('@aws-sdk/client-cloudfront').then((module) => ({
      module,
      client: new module.CloudFrontClient({ region: this.region }),
    }));
    const { client, module } = await this.client;
    const paths = keys.map((key) => `/${key.split('/').map(encodeURIComponent).join('/')}`);
    await client.send(
      new module.CreateInvalidationCommand({
        DistributionId: this.distributionId,
        InvalidationBatch: { CallerReference: `${Date.now()}-${paths[0] ?? ''}`, Paths: { Quantity: paths.length, Items: paths } },
      }),
      { abortSignal: AbortSignal.timeout(5_000) },
    );
  }
}
