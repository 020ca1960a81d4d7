import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config, SecretEndpoint } from './config.js';
import { lazily, lazyPort } from './lazy.js';
import { costFromUsage, estimateImageCostMicroUsd } from './domain/pricing.js';
import { MAX_PREVIEWS, MAX_STREAMED_IMAGE_BYTES } from './domain/image-request.js';
import { ProviderBreaker } from './domain/provider-breaker.js';
import { newImageId } from './domain/object-keys.js';
import { OfflineImageGenerator } from './adapters/providers/offline/offline-image-generator.js';
import { OpenAIImageGenerator } from './adapters/providers/openai/openai-image-generator.js';
import { RoutedImageGenerator } from './adapters/providers/routed-image-generator.js';
import { S3ImageStore } from './adapters/aws/s3-image-store.js';
import { ssmSecrets } from './adapters/aws/ssm-secret.js';
import { DynamoDbQuotaGate } from './adapters/aws/dynamodb-quota-gate.js';
import { DynamoDbIdempotencyGuard } from './adapters/aws/dynamodb-idempotency-guard.js';
import { OpenAIPromptModerator } from './adapters/providers/openai/openai-prompt-moderator.js';
import { createOpenAIClient } from './adapters/providers/openai/openai-client.js';
import type { OptionalProviderLoaders } from './optional-providers.js';
import type { OpenAI } from 'openai';
import { maxBase64Length } from './domain/base64.js';
import { DynamoDbJobStore } from './adapters/aws/dynamodb-job-store.js';
import { LambdaJobDispatcher } from './adapters/aws/lambda-job-dispatcher.js';
import { PowertoolsMetrics } from './adapters/aws/powertools-metrics.js';
import { InlineJobDispatcher } from './adapters/in-process/inline-job-dispatcher.js';
import { MemoryJobStore } from './adapters/in-process/memory-job-store.js';
import { LEASE_MARGIN_MS } from './domain/image-job.js';
import { makeCreateImage } from './use-cases/create-image.js';
import { makeDeleteImage } from './use-cases/delete-image.js';
import { makeGetImage } from './use-cases/get-image.js';
import { makeListImages } from './use-cases/list-images.js';
import { makeReadImage } from './use-cases/read-image.js';
import { makeGetUsage } from './use-cases/get-usage.js';
import { makeCreateUpload } from './use-cases/create-upload.js';
import { makeRunImageJob } from './use-cases/run-image-job.js';
import type { GenerateAndStoreDeps } from './use-cases/generate-and-store.js';
import type {
  EstimateCost,
  SettleCost,
  MetricsRecorder,
  CdnInvalidator,
  UploadSigner,
  IdempotencyGuard,
  ImageGenerator,
  ImageStore,
  JobDispatcher,
  JobStore,
  PromptModerator,
  QuotaGate,
  TokenVerifier,
  WebhookSender,
} from './ports.js';

/**
 * The composition root: the one place that builds SDK clients, wires adapters to ports (createDependencies) and
 * the use cases to those (createUseCases). Called once per container (at module scope in the handler), so clients
 * and their connection pools are reused across requests. Nothing here touches the network.
 */
export interface Dependencies {
  config: Config;
  logger: Logger;
  generator: ImageGenerator;
  store: ImageStore;
  quota: QuotaGate | undefined;
  idempotency: IdempotencyGuard | undefined;
  moderator: PromptModerator | undefined;
  tokens: TokenVerifier | undefined;
  /** Image resources; undefined without a state table (POST /images is then synchronous only). */
  jobs: JobStore | undefined;
  /** The worker function; undefined = jobs run inline (createUseCases builds the inline dispatcher). */
  dispatcher: JobDispatcher | undefined;
  webhooks: WebhookSender | undefined;
  cdn: CdnInvalidator | undefined;
  /** Signs upload forms (POST /uploads). */
  uploads: UploadSigner;
  metrics: MetricsRecorder;
  /** Estimated cost of one image in micro-dollars, for quotas and records. */
  estimateCost: EstimateCost;
  /** The cost of a generated image from the provider's reported usage, to settle the reservation to. */
  settleCost: SettleCost;
  /** Starts reading the provider keys kept in SSM, when they are not cached (fire and forget). */
  prefetchSecrets?: (() => void) | undefined;
  now: () => number;
  newId: () => string;
}

export interface DependencyOverrides {
  /**
   * The Bedrock and Gemini adapters' loaders (lib/optional-providers.ts). Without them, a request for one of
   * their models is a provider error: the function that generates (the worker, or the API with jobs inline)
   * passes them.
   */
  providers?: OptionalProviderLoaders;
  logger?: Logger;
  generator?: ImageGenerator;
  store?: ImageStore;
  moderator?: PromptModerator;
  s3?: S3Client;
  dynamo?: DynamoDBClient;
  dispatcher?: JobDispatcher;
  webhooks?: WebhookSender;
  cdn?: CdnInvalidator;
  uploads?: UploadSigner;
  metrics?: MetricsRecorder;
  now?: () => number;
  newId?: () => string;
}

/** The image store's own credentials (R2), or nothing: the default chain (the function's role on AWS). */
function s3Credentials(config: Config) {
  const own = config.s3Credentials;
  if (!own) return {};
  const { accessKeyId, secretAccessKey, secretAccessKeyParameter } = own;
  if (secretAccessKey !== undefined) return { credentials: { accessKeyId, secretAccessKey } };
  const secret = secretsOf(config)(secretAccessKeyParameter as string);
  return { credentials: async () => ({ accessKeyId, secretAccessKey: await secret() }) };
}

function createS3Client(config: Config): S3Client {
  return new S3Client({
    region: config.awsRegion,
    ...(config.s3Endpoint === undefined ? {} : { endpoint: config.s3Endpoint, forcePathStyle: true }),
    ...s3Credentials(config),
    // The SDK's default of 3 attempts is kept; each attempt is bounded by the caller's abort signal. Every AWS
    // client here sets throwOnRequestTimeout: without it the SDK's handler only logs a warning when a request
    // outlasts requestTimeout, and goes on waiting.
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  });
}

function createDynamoClient(config: Config): DynamoDBClient {
  return new DynamoDBClient({
    region: config.awsRegion,
    ...(config.state?.endpoint === undefined ? {} : { endpoint: config.state.endpoint }),
    // Per attempt; each call, retries included, is bounded by the adapters (lib/adapters/aws/dynamodb.ts).
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
  });
}

/** One SSM provider (client and cache) per configuration, shared by every secret it holds. */
const ssmProviders = new WeakMap<Config, (parameterName: string) => () => Promise<string>>();
function secretsOf(config: Config): (parameterName: string) => () => Promise<string> {
  let secrets = ssmProviders.get(config);
  if (!secrets) {
    secrets = ssmSecrets({ region: config.awsRegion, endpoint: config.ssmEndpoint });
    ssmProviders.set(config, secrets);
  }
  return secrets;
}

/**
 * A provider's API key: given directly, or read from its SSM parameter (through Powertools' SSM cache). Trimmed: a key
 * stored or pasted with its line break would be an invalid header value on every call.
 */
const apiKeyOf = (config: Config, endpoint: SecretEndpoint): string | (() => Promise<string>) => {
  if (endpoint.apiKey !== undefined) return endpoint.apiKey.trim();
  const secret = secretsOf(config)(endpoint.apiKeyParameter as string);
  return async () => (await secret()).trim();
};

/** The openai SDK's client for OpenAI itself or for Azure OpenAI's v1 API (the same shapes, another base URL and key). */
function createOpenAI(
  config: Config,
  endpoint: SecretEndpoint,
  baseURL: string | undefined,
  apiKey: string | (() => Promise<string>) = apiKeyOf(config, endpoint),
): OpenAI {
  return createOpenAIClient({
    apiKey,
    baseURL,
    // Every body read from the provider is bounded: an image answer by the largest image's base64 plus its JSON,
    // a moderation answer by 256 KiB, an error body by 64 KiB.
    maxOkBytes: (path, contentType) => {
      if (path.endsWith('/moderations')) return 256 * 1024;
      if (!contentType.startsWith('text/event-stream')) return maxBase64Length(config.limits.maxImageBytes) + 64 * 1024;
      // A stream of previews: each partial image and then the final one, every one within the streamed image limit.
      const streamed = Math.min(config.limits.maxImageBytes, MAX_STREAMED_IMAGE_BYTES);
      return (maxBase64Length(streamed) + 64 * 1024) * (MAX_PREVIEWS + 1);
    },
    maxErrorBytes: 64 * 1024,
  });
}

/**
 * The generator for the configured providers: each model goes to its provider's adapter. The Bedrock and Gemini
 * adapters (chunks of their own, with their SDKs) are loaded by the first request for one of their models, so a
 * deployment that does not use them never loads them (docs/providers.md).
 */
function createGenerator(config: Config, openai: OpenAI | undefined, providers: OptionalProviderLoaders | undefined): ImageGenerator {
  const provider = config.provider;
  if (provider.kind === 'offline') return new OfflineImageGenerator(provider.delayMs);
  const limits = {
    maxRetries: provider.maxRetries,
    maxImageBytes: config.limits.maxImageBytes,
    minAttemptMs: config.limits.minProviderTimeMs,
  };
  const { azure, bedrock, google } = provider;
  return new RoutedImageGenerator({
    ...(openai ? { openai: async () => new OpenAIImageGenerator(openai, limits) } : {}),
    ...(azure
      ? {
          azure: lazily(async () => {
            const base = (azure.baseUrl ?? '').replace(/\/+$/, '');
            return new OpenAIImageGenerator(createOpenAI(config, azure, `${base}/openai/v1`), { ...limits, endUserField: 'user' });
          }),
        }
      : {}),
    ...(bedrock
      ? {
          bedrock: lazily(async () => {
            const { BedrockImageGenerator } = await loaderOf(providers, 'bedrock')();
            return new BedrockImageGenerator({ ...limits, region: bedrock.region, endpoint: bedrock.endpoint });
          }),
        }
      : {}),
    ...(google
      ? {
          google: lazily(async () => {
            const { GeminiImageGenerator } = await loaderOf(providers, 'google')();
            return new GeminiImageGenerator({ ...limits, apiKey: apiKeyOf(config, google), baseUrl: google.baseUrl });
          }),
        }
      : {}),
  });
}

const loaderOf = <P extends keyof OptionalProviderLoaders>(
  providers: OptionalProviderLoaders | undefined,
  provider: P,
): OptionalProviderLoaders[P] => {
  const loader = providers?.[provider];
  if (!loader) throw new Error(`the ${provider} adapter is not part of this function (it hands generation to the worker)`);
  return loader;
};

function createDispatcher(config: Config): JobDispatcher | undefined {
  const jobs = config.jobs;
  if (jobs?.workerFunctionName === undefined) return undefined;
  return new LambdaJobDispatcher(jobs.workerFunctionName, config.awsRegion, jobs.lambdaEndpoint);
}

function createWebhookSender(config: Config, logger: Logger): WebhookSender | undefined {
  const { secret, secretParameter, allowLoopback } = config.webhooks;
  const signingSecret = secret ?? (secretParameter === undefined ? undefined : secretsOf(config)(secretParameter));
  if (signingSecret === undefined) return undefined;
  return lazyPort<WebhookSender>(async () => {
    const { HttpsWebhookSender } = await import('./adapters/webhooks/https-webhook-sender.js');
    return new HttpsWebhookSender({ secret: signingSecret, allowLoopback, log: logger });
  }, ['check', 'deliver']);
}

function createTokenVerifier(config: Config, now: () => number, logger: Logger): TokenVerifier | undefined {
  const jwt = config.jwt;
  if (!jwt) return undefined;
  return lazyPort<TokenVerifier>(async () => {
    const { JoseTokenVerifier } = await import('./adapters/auth/jose-token-verifier.js');
    return new JoseTokenVerifier(jwt, { now, log: logger });
  }, ['verify']);
}

/** The upload signer, loaded by the first POST /uploads only (the presigned-POST module is not on the cold path). */
function createUploadSigner(s3: S3Client, config: Config): UploadSigner {
  return lazyPort<UploadSigner>(async () => {
    const { S3UploadSigner } = await import('./adapters/aws/s3-upload-signer.js');
    return new S3UploadSigner(s3, config.imageBucket);
  }, ['sign']);
}

function createCdnInvalidator(config: Config): CdnInvalidator | undefined {
  const distributionId = config.cdnDistributionId;
  if (distributionId === undefined) return undefined;
  return lazyPort<CdnInvalidator>(async () => {
    const { CloudFrontInvalidator } = await import('./adapters/aws/cloudfront-invalidator.js');
    return new CloudFrontInvalidator(distributionId);
  }, ['invalidate']);
}

/** After a failed read, requests stop starting reads of their own for this long (the calls that need the key still read). */
const PREFETCH_BACKOFF_MS = 60_000;

/**
 * The OpenAI key from SSM (moderation, and inline generation) is read once per 15 minutes; the read starts with
 * the request instead of after authentication (a JWKS fetch on a JWT caller's first request). A success is cached
 * and a read in flight is shared, so requests cannot multiply reads; a failure is not cached, so after one the
 * prefetch pauses, or every unauthenticated request would start a read while the parameter is unreadable. The
 * failure itself is left to the call that needs the key, which reads again and reports it.
 */
function prefetcher(read: () => Promise<string>, now: () => number): () => void {
  let failedAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (now() - failedAt < PREFETCH_BACKOFF_MS) return;
    read().catch(() => {
      failedAt = now();
    });
  };
}

export function createDependencies(config: Config, overrides: DependencyOverrides = {}): Dependencies {
  const now = overrides.now ?? Date.now;
  const openaiEndpoint = config.provider.kind === 'live' ? config.provider.openai : undefined;
  const openaiKey = openaiEndpoint ? apiKeyOf(config, openaiEndpoint) : undefined;
  const openai = openaiEndpoint ? createOpenAI(config, openaiEndpoint, openaiEndpoint.baseUrl, openaiKey) : undefined;
  const state = config.state;
  const dynamo = state ? (overrides.dynamo ?? createDynamoClient(config)) : undefined;
  const dispatcher = overrides.dispatcher ?? createDispatcher(config);
  const logger = overrides.logger ?? new Logger({ serviceName: 'durable-image-api' });
  const s3 = overrides.s3 ?? createS3Client(config);
  return {
    config,
    logger,
    generator: overrides.generator ?? createGenerator(config, openai, overrides.providers),
    store: overrides.store ?? new S3ImageStore(s3, config.imageBucket, now),
    uploads: overrides.uploads ?? createUploadSigner(s3, config),
    quota: state?.quotas && dynamo ? new DynamoDbQuotaGate(dynamo, state) : undefined,
    idempotency:
      state && dynamo
        ? new DynamoDbIdempotencyGuard(
            dynamo,
            { table: state.table, ttlSeconds: state.idempotencyTtlSeconds, keyPrefix: state.idempotencyKeyPrefix },
            logger,
          )
        : undefined,
    moderator:
      overrides.moderator ??
      (config.moderation.mode !== 'off' && openai ? new OpenAIPromptModerator(openai, config.moderation.model) : undefined),
    tokens: createTokenVerifier(config, now, logger),
    jobs: config.jobs && dynamo && state ? new DynamoDbJobStore(dynamo, state.table) : undefined,
    dispatcher,
    webhooks: overrides.webhooks ?? createWebhookSender(config, logger),
    metrics: overrides.metrics ?? new PowertoolsMetrics({ serviceName: 'durable-image-api', enabled: config.metricsEnabled }),
    cdn: overrides.cdn ?? createCdnInvalidator(config),
    // Only where this function uses the key: moderation, or generation when jobs run inline.
    prefetchSecrets:
      typeof openaiKey === 'function' && (config.moderation.mode !== 'off' || dispatcher === undefined)
        ? prefetcher(openaiKey, now)
        : undefined,
    // The offline generator costs nothing: its images count against the daily image limit, not against spend.
    estimateCost: config.provider.kind === 'offline' ? () => 0 : estimateImageCostMicroUsd,
    settleCost: config.provider.kind === 'offline' ? () => ({ costMicroUsd: 0, basis: 'price' }) : costFromUsage,
    now,
    newId: overrides.newId ?? newImageId,
  };
}

/**
 * Jobs a deployment without a state table keeps in memory: each lives only while its request runs it inline, and a
 * function instance serves one request at a time; the bound is a guard, not a cache.
 */
const STATELESS_JOBS_HELD = 16;

/**
 * The use cases (one per verb) wired to the ports of the composition root. Shared by the API and the worker
 * handler, so both run the same code; only their budgets differ.
 *
 * Without a state table there is one POST /images path all the same: its jobs are kept in memory and run inline,
 * within the request; `resources` is then false, and the routes that read resources later answer that they are
 * not kept.
 */
export function createUseCases(deps: Dependencies) {
  const { config, logger } = deps;
  const pipeline: GenerateAndStoreDeps = {
    generator: deps.generator,
    store: deps.store,
    log: logger,
    publicBaseUrl: config.publicBaseUrl,
    imagePrefix: config.imagePrefix,
    recordPrefix: config.recordPrefix,
    maxImageBytes: config.limits.maxImageBytes,
    now: deps.now,
    metrics: deps.metrics,
    providerName: config.provider.kind,
    settleCost: deps.settleCost,
    // Fallbacks and their circuit breaker: one breaker per function instance (this composition runs once in it).
    fallbacks: config.fallbacks,
    breaker: config.fallbacks.size > 0 ? new ProviderBreaker(config.breaker, deps.now) : undefined,
    quota: deps.quota,
    estimateCost: deps.estimateCost,
    minProviderTimeMs: config.limits.minProviderTimeMs,
  };
  const admission = {
    quota: deps.quota,
    moderator: deps.moderator,
    moderationFailOpen: config.moderation.mode === 'fail-open',
    idempotency: deps.idempotency,
    estimateCost: deps.estimateCost,
    newId: deps.newId,
  };
  const resources = deps.jobs !== undefined;
  const jobs = deps.jobs ?? new MemoryJobStore(STATELESS_JOBS_HELD);

  const runImageJob = makeRunImageJob({
    ...pipeline,
    jobs,
    quota: deps.quota,
    webhooks: deps.webhooks,
    uploadReserveMs: config.limits.uploadReserveMs,
    minProviderTimeMs: config.limits.minProviderTimeMs,
    webhookMaxDeliveryMs: config.webhooks.maxDeliveryMs,
    newId: deps.newId,
  });
  // No worker function (or no state it could share): the job runs inline, in the request's own time, with nothing
  // kept back for a webhook beyond what is left at the end.
  const dispatcher =
    (resources ? deps.dispatcher : undefined) ??
    new InlineJobDispatcher(
      (id, deadline, claimed) => runImageJob(id, { deadline, leaseUntil: deadline + LEASE_MARGIN_MS, webhookReserveMs: 0 }, claimed),
      logger,
    );
  const read = { jobs, log: logger, now: deps.now, dispatcher, quota: deps.quota };
  return {
    images: {
      resources,
      dispatcher,
      create: makeCreateImage({ ...read, ...admission, store: deps.store, webhooks: deps.webhooks }),
      run: runImageJob,
      get: makeGetImage(read),
      list: makeListImages(read),
      delete: makeDeleteImage({ ...read, store: deps.store, cdn: deps.cdn }),
      read: makeReadImage({ store: deps.store }),
      usage: makeGetUsage({ quota: deps.quota, now: deps.now }),
    },
    uploads: { create: makeCreateUpload({ uploads: deps.uploads, newId: deps.newId, now: deps.now, quota: deps.quota }) },
  };
}

export type UseCases = ReturnType<typeof createUseCases>;
