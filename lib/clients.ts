import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import OpenAI from 'openai';
import type { Config } from './config.js';
import { newImageId } from './domain/object-keys.js';
import { OfflineImageGenerator } from './adapters/offline-image-generator.js';
import { OpenAIImageGenerator } from './adapters/openai-image-generator.js';
import { S3ImageStore } from './adapters/s3-image-store.js';
import { ssmSecret } from './adapters/ssm-secret.js';
import type { ImageGenerator, ImageStore } from './ports.js';

/**
 * The composition root: the one place that builds SDK clients and wires adapters to ports. Called once per
 * container (at module scope in the handler), so clients and their connection pools are reused across requests.
 * Nothing here touches the network.
 */
export interface Dependencies {
  config: Config;
  logger: Logger;
  generator: ImageGenerator;
  store: ImageStore;
  now: () => number;
  newId: () => string;
}

export interface DependencyOverrides {
  logger?: Logger;
  generator?: ImageGenerator;
  store?: ImageStore;
  s3?: S3Client;
  now?: () => number;
  newId?: () => string;
}

export function createS3Client(config: Config): S3Client {
  return new S3Client({
    region: config.awsRegion,
    ...(config.s3Endpoint === undefined ? {} : { endpoint: config.s3Endpoint, forcePathStyle: true }),
    // The SDK's default of 3 attempts is kept; each attempt is bounded by the caller's abort signal.
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000 },
  });
}

function createGenerator(config: Config): ImageGenerator {
  const provider = config.provider;
  if (provider.kind === 'offline') return new OfflineImageGenerator();
  const apiKey = provider.apiKey ?? ssmSecret(provider.apiKeyParameter as string, config.awsRegion);
  const client = new OpenAI({
    apiKey,
    ...(provider.baseUrl === undefined ? {} : { baseURL: provider.baseUrl }),
    // Both are set per attempt from the request deadline; these only guard against a call without options.
    maxRetries: 0,
    timeout: config.limits.gatewayTimeoutMs,
  });
  return new OpenAIImageGenerator(client, {
    maxRetries: provider.maxRetries,
    minAttemptMs: config.limits.minProviderTimeMs,
  });
}

export function createDependencies(config: Config, overrides: DependencyOverrides = {}): Dependencies {
  const now = overrides.now ?? Date.now;
  return {
    config,
    logger: overrides.logger ?? new Logger({ serviceName: 'durable-image-api' }),
    generator: overrides.generator ?? createGenerator(config),
    store: overrides.store ?? new S3ImageStore(overrides.s3 ?? createS3Client(config), config.imageBucket, now),
    now,
    newId: overrides.newId ?? newImageId,
  };
}
