import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/**
 * A fake Lambda context, new per invocation like the real one (middlewares add per-request values to it, as
 * middy's official ones do, so it cannot be a shared frozen object).
 */
export function lambdaContext(remainingMs = 60_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'durable-image-api-test-generateImage',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:durable-image-api-test-generateImage',
    memoryLimitInMB: '512',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/durable-image-api-test-generateImage',
    logStreamName: '2026/11/25/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  } as Context;
}

let counter = 0;

/** An API Gateway HTTP API (payload v2) event; `POST /images` unless told otherwise. */
export function httpEvent(options: {
  body?: string | undefined;
  headers?: Record<string, string>;
  isBase64Encoded?: boolean;
  method?: string;
  path?: string;
  query?: Record<string, string>;
}): APIGatewayProxyEventV2 {
  counter += 1;
  const now = Date.now();
  const method = options.method ?? 'POST';
  const path = options.path ?? '/images';
  const id = /^\/images\/([^/]+)$/.exec(path)?.[1];
  // What the gateway's route key would be: the declared routes, else the catch-all.
  const routeKey = id !== undefined ? `${method} /images/{id}` : path === '/images' ? `${method} /images` : '$default';
  const query = options.query;
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: query ? new URLSearchParams(query).toString() : '',
    headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(query ? { queryStringParameters: query } : {}),
    ...(id !== undefined ? { pathParameters: { id: decodeURIComponent(id) } } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.test',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'jest' },
      requestId: `req-${counter}`,
      routeKey,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body: options.body,
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}
