import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.js';
import { costFromUsage, estimateImageCostMicroUsd } from './domain/pricing.js';
import { newImageId } from './domain/object-keys.js';
import { S3ImageStore } from './adapters/aws/s3-image-store.js';
import { DynamoDbQuotaGate } from './adapters/aws/dynamodb-quota-gate.js';
import { DynamoDbIdempotencyGuard } from './adapters/aws/dynamodb-idempotency-guard.js';
import type { OptionalProviderLoaders } from './optional-providers.js';
import { DynamoDbJobStore } from './adapters/aws/dynamodb-job-store.js';
import { DynamoDbKeyStore } from './adapters/aws/dynamodb-key-store.js';
import { PowertoolsMetrics } from './adapters/aws/powertools-metrics.js';
import { apiKeyOf, createDynamoClient, createOpenAI, createS3Client, openaiAdapters, prefetcher } from './composition/clients.js';
import { lazyPort, whileTheNextCallIsOut } from './lazy.js';
import {
  createCdnInvalidator,
  createDispatcher,
  createTokenVerifier,
  createUploadSigner,
  createProvenanceReader,
  createProvenanceSigner,
  createWebhookSender,
} from './composition/lazy-adapters.js';
import { createGenerator } from './composition/providers.js';
import type {
  ApiKeyStore,
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
  ProvenanceReader,
  ProvenanceSigner,
  QuotaGate,
  TokenVerifier,
  WebhookSender,
} from './ports.js';

/**
 * The composition root: the one place that builds SDK clients, wires adapters to ports (createDependencies) and
 * the use cases to those (createUseCases). Called once per container (at module scope in the handler), so clients
 * and their connection pools are reused across requests. Nothing here touches the network. Split by what it
 * builds: lib/composition/clients.ts (SDK clients, secrets), providers.ts (the routed image generator),
 * lazy-adapters.ts (the adapters loaded on first use) and use-cases.ts (the use cases on these ports).
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
  /** The keys the operator issued (`npm run keys`); undefined without a state table. */
  keyStore: ApiKeyStore | undefined;
  /** Reads stored images' Content Credentials; undefined where images are not stored, or CONTENT_CREDENTIALS=off. */
  provenance?: ProvenanceReader | undefined;
  /** Signs images that came without Content Credentials; undefined unless CONTENT_CREDENTIALS=sign where images are stored. */
  provenanceSigner?: ProvenanceSigner | undefined;
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
  /**
   * Loads the openai SDK's chunk where this function calls OpenAI, not awaited: a request that creates images calls it
   * once it is authenticated and its body valid, and a cold start for any other route (or for a request refused before
   * its handler) never loads it. Node reads and compiles a module reached by `import()` within the call (about 25 ms
   * for this chunk on the benchmark's machine), so the load waits until the request's next call is on the wire
   * (`whileTheNextCallIsOut`): the compile then fills the round trip to DynamoDB of the quota and the idempotency
   * record instead of holding those calls back (docs/performance.md).
   */
  loadOpenAI?: (() => void) | undefined;
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
  provenance?: ProvenanceReader;
  provenanceSigner?: ProvenanceSigner;
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
  // Where this function calls OpenAI: moderation, or generation when jobs run inline.
  const callsOpenAI = config.moderation.mode !== 'off' || dispatcher === undefined;
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
      (config.moderation.mode !== 'off' && openai
        ? lazyPort<PromptModerator>(
            async () => new (await openaiAdapters()).OpenAIPromptModerator(await openai(), config.moderation.model),
            ['check'],
          )
        : undefined),
    tokens: createTokenVerifier(config, now, logger),
    keyStore: state && dynamo ? new DynamoDbKeyStore(dynamo, state.table) : undefined,
    provenance: overrides.provenance ?? createProvenanceReader(config, overrides.providers),
    provenanceSigner: overrides.provenanceSigner ?? createProvenanceSigner(config, overrides.providers),
    jobs: config.jobs && dynamo && state ? new DynamoDbJobStore(dynamo, state.table) : undefined,
    dispatcher,
    webhooks: overrides.webhooks ?? createWebhookSender(config, logger),
    metrics: overrides.metrics ?? new PowertoolsMetrics({ serviceName: 'durable-image-api', enabled: config.metricsEnabled }),
    cdn: overrides.cdn ?? createCdnInvalidator(config),
    prefetchSecrets: callsOpenAI && typeof openaiKey === 'function' ? prefetcher(openaiKey, now) : undefined,
    loadOpenAI: callsOpenAI && openai ? whileTheNextCallIsOut(() => void openai().catch(() => undefined)) : undefined,
    // The offline generator costs nothing: its images count against the daily image limit, not against spend.
    estimateCost: config.provider.kind === 'offline' ? () => 0 : estimateImageCostMicroUsd,
    settleCost: config.provider.kind === 'offline' ? () => ({ costMicroUsd: 0, basis: 'price' }) : costFromUsage,
    now,
    newId: overrides.newId ?? newImageId,
  };
}

export { createUseCases, type UseCases } from './composition/use-cases.js';

/**
 * Starts, during a cold start's init, the reads the first request would otherwise wait for: the issuer's key set
 * (a JWT caller's first request) and the provider key kept in SSM. Not awaited: init ends as before, and the first
 * request shares whichever read is still in flight. On Lambda, init runs before the first event is delivered (and
 * with proactive initialization, well before it), so these round trips leave the first request's path.
 */
export function warmUp(deps: Pick<Dependencies, 'tokens' | 'prefetchSecrets'>): void {
  void deps.tokens?.warm();
  deps.prefetchSecrets?.();
}
