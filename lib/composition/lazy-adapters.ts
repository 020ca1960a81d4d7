/**
 * The adapters of the composition root that only some deployments or requests need, each behind its port and
 * loaded on first use (lazyPort): the worker dispatcher, webhooks, JWT verification, upload signing, CDN
 * invalidation.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from '../config.js';
import { CLAIM_GENERATOR } from '../domain/image-job.js';
import { lazyPort } from '../lazy.js';
import type { OptionalProviderLoaders } from '../optional-providers.js';
import type {
  CdnInvalidator,
  JobDispatcher,
  ProvenanceReader,
  ProvenanceSigner,
  TokenVerifier,
  UploadSigner,
  WebhookSender,
} from '../ports.js';
import { LambdaJobDispatcher } from '../adapters/aws/lambda-job-dispatcher.js';
import { secretsOf } from './clients.js';

export function createDispatcher(config: Config): JobDispatcher | undefined {
  const jobs = config.jobs;
  if (jobs?.workerFunctionName === undefined) return undefined;
  return new LambdaJobDispatcher(jobs.workerFunctionName, config.awsRegion, jobs.lambdaEndpoint);
}

export function createWebhookSender(config: Config, logger: Logger): WebhookSender | undefined {
  const { secret, secretParameter, allowLoopback } = config.webhooks;
  const signingSecret = secret ?? (secretParameter === undefined ? undefined : secretsOf(config)(secretParameter));
  // Without a deployment secret, the keys issued into the state table still sign with their own.
  if (signingSecret === undefined && !config.state) return undefined;
  return lazyPort<WebhookSender>(async () => {
    const { HttpsWebhookSender } = await import('../adapters/webhooks/https-webhook-sender.js');
    return new HttpsWebhookSender({ secret: signingSecret, allowLoopback, log: logger });
  }, ['check', 'deliver']);
}

export function createTokenVerifier(config: Config, now: () => number, logger: Logger): TokenVerifier | undefined {
  const jwt = config.jwt;
  if (!jwt) return undefined;
  return lazyPort<TokenVerifier>(async () => {
    const { JoseTokenVerifier } = await import('../adapters/auth/jose-token-verifier.js');
    return new JoseTokenVerifier(jwt, { now, log: logger });
  }, ['verify', 'warm']);
}

/** The upload signer, loaded by the first POST /uploads only (the presigned-POST module is not on the cold path). */
export function createUploadSigner(s3: S3Client, config: Config): UploadSigner {
  return lazyPort<UploadSigner>(async () => {
    const { S3UploadSigner } = await import('../adapters/aws/s3-upload-signer.js');
    return new S3UploadSigner(s3, config.imageBucket);
  }, ['sign']);
}

export function createCdnInvalidator(config: Config): CdnInvalidator | undefined {
  const distributionId = config.cdnDistributionId;
  if (distributionId === undefined) return undefined;
  return lazyPort<CdnInvalidator>(async () => {
    const { CloudFrontInvalidator } = await import('../adapters/aws/cloudfront-invalidator.js');
    return new CloudFrontInvalidator(distributionId);
  }, ['invalidate']);
}

/**
 * The Content Credentials reader, loaded (and its WebAssembly compiled) by the first image stored: only where the
 * function's entry carries it (optional-providers.ts) and CONTENT_CREDENTIALS is not `off`.
 */
export function createProvenanceReader(config: Config, loaders: OptionalProviderLoaders | undefined): ProvenanceReader | undefined {
  if (config.contentCredentials.mode === 'off' || !loaders) return undefined;
  return lazyPort<ProvenanceReader>(async () => {
    const { C2paProvenanceReader } = await loaders.contentCredentials();
    return new C2paProvenanceReader();
  }, ['read']);
}

/**
 * This service's Content Credentials signer (CONTENT_CREDENTIALS=sign), from the same chunk as the reader: the key
 * and chain from C2PA_SIGNER, or from the SSM SecureString C2PA_SIGNER_PARAMETER read by the first image signed.
 */
export function createProvenanceSigner(config: Config, loaders: OptionalProviderLoaders | undefined): ProvenanceSigner | undefined {
  const { mode, signer } = config.contentCredentials;
  if (mode !== 'sign' || !signer || !loaders) return undefined;
  const credentials = signer.pem !== undefined ? async () => signer.pem : secretsOf(config)(signer.parameter);
  return lazyPort<ProvenanceSigner>(async () => {
    const { C2paSigner } = await loaders.contentCredentials();
    return new C2paSigner({ credentials, generator: CLAIM_GENERATOR });
  }, ['sign']);
}
