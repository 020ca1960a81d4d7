/**
 * Bundled by bench/run.mjs (esbuild, like the Lambda bundle): the real handler with the provider replaced by a
 * function that parses a provider answer already in memory, and S3 replaced by a no-op, so what is left is the
 * pipeline's own cost (middy chain, auth, validation, hardening, strict base64, image verification, sha256).
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createDependencies } from '../lib/clients.js';
import { parseConfig } from '../lib/config.js';
import { createGenerateImageHandler } from '../lib/http/generate-image-handler.js';

const API_KEY = 'bench-key-0123456789abcdef';

export function makePipeline(
  providerBody: () => string,
): () => Promise<APIGatewayProxyStructuredResultV2> {
  const config = parseConfig({
    IMAGE_BUCKET: 'bench',
    PUBLIC_BASE_URL: 'https://cdn.bench.test',
    IMAGE_PROVIDER: 'offline',
    API_KEY_HASHES: `bench:${createHash('sha256').update(API_KEY).digest('hex')}`,
    MAX_IMAGE_BYTES: String(20 * 1024 * 1024),
  });
  const handler = createGenerateImageHandler(
    createDependencies(config, {
      generator: {
        // What the OpenAI SDK does with an answer: parse the JSON text, hand over the b64_json string.
        generate: async () => {
          const parsed = JSON.parse(providerBody()) as { data: { b64_json: string }[] };
          return { b64: (parsed.data[0] as { b64_json: string }).b64_json };
        },
      },
      store: { putImage: async () => undefined, putRecord: async () => undefined, delete: async () => undefined },
    }),
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
