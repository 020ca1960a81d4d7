/**
 * The SDK clients and secrets of the composition root: S3 and DynamoDB clients, the SSM secret reader, the openai
 * SDK's client (OpenAI and Azure, loaded by its first use), and the prefetch of a key kept in SSM. Built once per
 * container; nothing here touches the network until used.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { OpenAI } from 'openai';
import type { Config, SecretEndpoint } from '../config.js';
import { maxBase64Length } from '../domain/base64.js';
import { MAX_PREVIEWS, MAX_STREAMED_IMAGE_BYTES } from '../domain/image-request.js';
import { ssmSecrets } from '../adapters/aws/ssm-secret.js';
import { lazily } from '../lazy.js';

/** The image store's own credentials (R2), or nothing: the default chain (the function's role on AWS). */
function s3Credentials(config: Config) {
  const own = config.s3Credentials;
  if (!own) return {};
  const { accessKeyId, secretAccessKey, secretAccessKeyParameter } = own;
  if (secretAccessKey !== undefined) return { credentials: { accessKeyId, secretAccessKey } };
  const secret = secretsOf(config)(secretAccessKeyParameter as string);
  return { credentials: async () => ({ accessKeyId, secretAccessKey: await secret() }) };
}

export function createS3Client(config: Config): S3Client {
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

export function createDynamoClient(config: Config): DynamoDBClient {
  return new DynamoDBClient({
    region: config.awsRegion,
    ...(config.state?.endpoint === undefined ? {} : { endpoint: config.state.endpoint }),
    // Per attempt; each call, retries included, is bounded by the adapters (lib/adapters/aws/dynamodb.ts).
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
  });
}

/** One SSM provider (client and cache) per configuration, shared by every secret it holds. */
const ssmProviders = new WeakMap<Config, (parameterName: string) => () => Promise<string>>();
export function secretsOf(config: Config): (parameterName: string) => () => Promise<string> {
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
export const apiKeyOf = (config: Config, endpoint: SecretEndpoint): string | (() => Promise<string>) => {
  if (endpoint.apiKey !== undefined) return endpoint.apiKey.trim();
  const secret = secretsOf(config)(endpoint.apiKeyParameter as string);
  return async () => (await secret()).trim();
};

/**
 * The openai SDK and its adapters, a chunk of their own (about 400 KB): the routes that neither moderate nor generate
 * (reads, uploads, the page, the contract) never load it, and a cold start reads 0.76-0.79x the bare handler's bytes
 * instead of 1.28x. A request that creates images loads it while the use case's first call is out (`loadOpenAI` in the
 * composition root).
 */
export const openaiAdapters = lazily(() => import('../adapters/providers/openai/openai-adapters.js'));

/**
 * The openai SDK's client for OpenAI itself or for Azure OpenAI's v1 API (the same shapes, another base URL and key),
 * created by its first use.
 */
export function createOpenAI(
  config: Config,
  endpoint: SecretEndpoint,
  baseURL: string | undefined,
  apiKey: string | (() => Promise<string>) = apiKeyOf(config, endpoint),
): () => Promise<OpenAI> {
  return lazily(async () =>
    (await openaiAdapters()).createOpenAIClient({
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
    }),
  );
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
export function prefetcher(read: () => Promise<string>, now: () => number): () => void {
  let failedAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (now() - failedAt < PREFETCH_BACKOFF_MS) return;
    read().catch(() => {
      failedAt = now();
    });
  };
}
