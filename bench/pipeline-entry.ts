/**
 * Bundled by bench/run.mjs (esbuild, like the Lambda bundle): the real handler with the provider replaced by a
 * function that parses a provider answer already in memory, and S3 replaced by a no-op, so what is left is the
 * pipeline's own cost (middy chain, auth, validation, hardening, strict base64, image verification, sha256).
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createDependencies } from '../lib/composition-root.js';
import { parseConfig } from '../lib/config.js';
import { createApiHandler } from '../lib/http/api-handler.js';
import { parseImageAnswer } from '../lib/adapters/providers/openai/openai-image-answer.js';

const API_KEY = 'bench-key-0123456789abcdef';

/**
 * The handler with S3 replaced by a no-op and the provider either an in-memory answer (`providerBody`, for the
 * CPU overhead) or, when `openaiBaseUrl` is given, the real OpenAI adapter over HTTP (for memory: that path
 * includes the HTTP client's own buffering).
 */
export function makePipeline(providerBody: () => Buffer, openaiBaseUrl?: string): () => Promise<APIGatewayProxyStructuredResultV2> {
  const config = parseConfig({
    IMAGE_BUCKET: 'bench',
    PUBLIC_BASE_URL: 'https://cdn.bench.test',
    IMAGE_PROVIDER: openaiBaseUrl ? 'openai' : 'offline',
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: openaiBaseUrl,
    QUOTAS: 'off',
    MODERATION: 'off',
    // As the template sets it (serverless.yml); the API function stores no image, so it never reads it.
    C2PA_SIGNER_PARAMETER: '/bench/c2pa-signer',
    API_KEY_HASHES: `bench:${createHash('sha256').update(API_KEY).digest('hex')}`,
    MAX_IMAGE_BYTES: String(20 * 1024 * 1024),
    // The probes silence metrics (EMF lines on stdout) as they silence logs.
    POWERTOOLS_METRICS_DISABLED: process.env['POWERTOOLS_METRICS_DISABLED'],
  });
  const store = {
    putImage: async () => undefined,
    putRecord: async () => undefined,
    read: async () => Buffer.alloc(0),
    readHead: async () => ({ head: Buffer.alloc(0), size: 0 }),
    delete: async () => undefined,
  };
  const handler = createApiHandler(
    createDependencies(
      config,
      openaiBaseUrl
        ? { store }
        : {
            store,
            generator: {
              // What the OpenAI adapter does with the body it read: parse the answer, decode the image.
              generate: async () => parseImageAnswer(providerBody(), config.limits.maxImageBytes),
            },
          },
    ),
  ) as unknown as (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
  const body = JSON.stringify({ prompt: 'a lighthouse on a cliff at dawn', size: '1536x1024', quality: 'high' });
  return () =>
    handler(
      {
        version: '2.0',
        routeKey: 'POST /images',
        rawPath: '/images',
        rawQueryString: '',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        requestContext: {
          accountId: '1',
          apiId: 'bench',
          domainName: 'bench',
          domainPrefix: 'bench',
          http: { method: 'POST', path: '/images', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
          requestId: 'bench',
          routeKey: 'POST /images',
          stage: '$default',
          time: '',
          timeEpoch: Date.now(),
        },
        body,
        isBase64Encoded: false,
      },
      {
        callbackWaitsForEmptyEventLoop: false,
        functionName: 'bench',
        functionVersion: '1',
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:1:function:bench',
        memoryLimitInMB: '256',
        awsRequestId: 'bench',
        logGroupName: 'bench',
        logStreamName: 'bench',
        getRemainingTimeInMillis: () => 29_000,
        done: () => undefined,
        fail: () => undefined,
        succeed: () => undefined,
      },
    );
}
