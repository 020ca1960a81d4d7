import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createDependencies, warmUp } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { withContract } from '../support/contract.js';
import { captureOutput } from '../support/capture-logs.js';
import { OTHER_API_KEY, TEST_API_KEY, serversEnv, sha256Hex } from '../support/env.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamo.js';
import { pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { OpenAITestServer, errorReply, imageReply, moderationReply } from '../support/openai-test-server.js';
import { SETTLED_COST, estimatedCost } from '../support/pricing.js';
import { startLocalS3, type LocalS3 } from '../support/s3-server.js';
import { AwsStandIn, closedEndpoint } from '../support/aws-stand-in.js';

const PNG_B64 = pngOf(32, 32, 'abuse').toString('base64');
/** gpt-image, quality low, 1024x1024: $0.011 in the pricing table, plus the hardened prompt's text. */
const LOW = { prompt: 'a red fox', quality: 'low' };
const COST = estimatedCost(LOW.prompt);

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

let s3: LocalS3;
let dynamo: LocalDynamo;
let openai: OpenAITestServer;
let table: string;
let tableCount = 0;

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

beforeAll(async () => {
  [s3, dynamo, openai] = await Promise.all([startLocalS3(), startLocalDynamo(), OpenAITestServer.start(imageReply(PNG_B64))]);
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
});

afterAll(async () => {
  await Promise.all([openai.close(), s3.stop(), dynamo.stop()]);
});

beforeEach(async () => {
  openai.reset(imageReply(PNG_B64));
  await s3.clear();
  tableCount += 1;
  table = `state-${tableCount}`;
  await dynamo.createTable(table);
});

/**
 * The handler on the test servers. `client`: the shared DynamoDB client (default), another one, or 'own' to have
 * the composition root build it from DYNAMODB_ENDPOINT.
 */
function makeDependencies(env: Record<string, string | undefined> = {}, client: DynamoDBClient | 'own' = dynamo.client) {
  const config = parseConfig(
    serversEnv({ openaiBaseUrl: openai.baseUrl, s3Endpoint: s3.endpoint, bucket: s3.bucket, dynamoEndpoint: dynamo.endpoint, table }, env),
  );
  return createDependencies(config, client === 'own' ? {} : { dynamo: client });
}

const handlerOf = (deps: ReturnType<typeof createDependencies>): Handler => withContract(createApiHandler(deps) as unknown as Handler);

function makeHandler(env: Record<string, string | undefined> = {}, client: DynamoDBClient | 'own' = dynamo.client): Handler {
  return handlerOf(makeDependencies(env, client));
}

const post = (body: unknown, headers: Record<string, string> = {}): APIGatewayProxyEventV2 =>
  httpEvent({ body: JSON.stringify(body), headers: { authorization: `Bearer ${TEST_API_KEY}`, ...headers } });

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = Record<string, any>;
const json = (response: APIGatewayProxyStructuredResultV2): Json => JSON.parse(response.body ?? '{}') as Json;

const header = (response: APIGatewayProxyStructuredResultV2, name: string): unknown => {
  const entry = Object.entries(response.headers ?? {}).find(([key]) => key.toLowerCase() === name.toLowerCase());
  return entry?.[1];
};

const usage = async (principal = 'api-key:web-app'): Promise<{ images: number; spendMicroUsd: number }> => {
  const item = (await dynamo.items(table)).find((i) => String(i['pk']).startsWith(`quota#${principal}#`));
  return { images: Number(item?.['images'] ?? 0), spendMicroUsd: Number(item?.['spendMicroUsd'] ?? 0) };
};

describe('daily quotas', () => {
  it('lets exactly 5 of 20 concurrent requests through for a caller with 5 images left', async () => {
    // Prepare
    const handler = makeHandler({ DAILY_IMAGE_LIMIT: '5' });
    // Act
    const responses = await Promise.all(Array.from({ length: 20 }, () => handler(post(LOW), lambdaContext())));
    // Assess
    const created = responses.filter((r) => r.statusCode === 201);
    const refused = responses.filter((r) => r.statusCode === 429);
    expect(created).toHaveLength(5);
    expect(refused).toHaveLength(15);
    expect(openai.calls).toHaveLength(5);
    expect((await s3.keys()).filter((k) => k.startsWith('images/'))).toHaveLength(5);
    for (const response of refused) {
      expect(json(response).error.code).toBe('quota_exceeded');
      expect(Number(header(response, 'Retry-After'))).toBeGreaterThan(0);
      expect(header(response, 'RateLimit-Limit')).toBe('5');
      expect(header(response, 'RateLimit-Remaining')).toBe('0');
      // The IETF draft's pair, and the same reset as Retry-After.
      expect(header(response, 'RateLimit-Policy')).toBe('"daily";q=5;w=86400');
      expect(header(response, 'RateLimit')).toBe(`"daily";r=0;t=${header(response, 'Retry-After')}`);
    }
    expect(created.map((r) => header(r, 'ratelimit-remaining')).sort()).toEqual(['0', '1', '2', '3', '4']);
    expect(created.map((r) => String(header(r, 'ratelimit')).replace(/;t=\d+$/, '')).sort()).toEqual(
      ['0', '1', '2', '3', '4'].map((left) => `"daily";r=${left}`),
    );
    for (const response of created) expect(header(response, 'ratelimit-policy')).toBe('"daily";q=5;w=86400');
    expect(await usage()).toEqual({ images: 5, spendMicroUsd: 5 * SETTLED_COST });
  });

  it('counts each caller separately and honours per-principal overrides', async () => {
    const handler = makeHandler({ DAILY_IMAGE_LIMIT: '1', PRINCIPAL_LIMITS: '{"mobile": {"dailyImages": 2}}' });
    const web = [await handler(post(LOW), lambdaContext()), await handler(post(LOW), lambdaContext())];
    const mobileKey = { authorization: `Bearer ${OTHER_API_KEY}` };
    const mobile = [
      await handler(post(LOW, mobileKey), lambdaContext()),
      await handler(post(LOW, mobileKey), lambdaContext()),
      await handler(post(LOW, mobileKey), lambdaContext()),
    ];
    expect(web.map((r) => r.statusCode)).toEqual([201, 429]);
    expect(mobile.map((r) => r.statusCode)).toEqual([201, 201, 429]);
    expect(openai.calls).toHaveLength(3);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'treats an API key named %s like any other caller (no prototype lookups)',
    async (name) => {
      const key = `key-for-${name}-0123456789abcdef`;
      const handler = makeHandler({
        API_KEY_HASHES: `${name}:${sha256Hex(key)}`,
        DAILY_IMAGE_LIMIT: '1',
        PRINCIPAL_LIMITS: '{"web-app": {"dailyImages": 5}}',
      });
      const responses = [await handler(post(LOW, { authorization: `Bearer ${key}` }), lambdaContext())];
      responses.push(await handler(post(LOW, { authorization: `Bearer ${key}` }), lambdaContext()));
      expect(responses.map((r) => r.statusCode)).toEqual([201, 429]);
      expect(json(responses[1] as APIGatewayProxyStructuredResultV2).error.code).toBe('quota_exceeded');
    },
  );

  it('counts offline images against the image limit but not against spend (they cost nothing)', async () => {
    const handler = makeHandler({ IMAGE_PROVIDER: 'offline', OPENAI_API_KEY: '', DAILY_SPEND_LIMIT_USD: '0.01' });
    const response = await handler(post({ prompt: 'fox', quality: 'high', size: '1024x1024' }), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(await usage()).toEqual({ images: 1, spendMicroUsd: 0 });
    expect(openai.calls).toHaveLength(0);
  });

  it('refuses a request whose estimated cost exceeds the daily spend limit, before the provider', async () => {
    const handler = makeHandler({ DAILY_SPEND_LIMIT_USD: '0.10' });
    const response = await handler(post({ prompt: 'fox', quality: 'high' }), lambdaContext());
    expect(response.statusCode).toBe(429);
    expect(json(response).error).toMatchObject({ code: 'quota_exceeded', message: expect.stringContaining('spend') });
    expect(openai.calls).toHaveLength(0);
  });

  it('gives the reservation back when the provider refused before generating', async () => {
    openai.enqueue(errorReply(400, { code: 'moderation_blocked' }));
    const handler = makeHandler({ DAILY_IMAGE_LIMIT: '1' });
    expect((await handler(post(LOW), lambdaContext())).statusCode).toBe(422);
    expect(await usage()).toEqual({ images: 0, spendMicroUsd: 0 });
    const global = (await dynamo.items(table)).find((i) => String(i['pk']).startsWith('spend#global#'));
    expect(global?.['spendMicroUsd']).toBe(0);
    // The one image of the day is still there to use.
    expect((await handler(post(LOW), lambdaContext())).statusCode).toBe(201);
  });

  it.each([
    ['the provider fails after the request was sent', errorReply(500, { type: 'server_error' }), 502],
    ['the provider sends a broken image', imageReply(PNG_B64.slice(0, 100)), 502],
  ])('keeps the reservation when %s (it may be billed)', async (_, reply, status) => {
    openai.enqueue(reply);
    const handler = makeHandler({ DAILY_IMAGE_LIMIT: '1' });
    expect((await handler(post(LOW), lambdaContext())).statusCode).toBe(status);
    expect(await usage()).toEqual({ images: 1, spendMicroUsd: COST });
    // A caller cannot keep failing generations for free: the day's one image is used.
    const next = await handler(post(LOW), lambdaContext());
    expect(next.statusCode).toBe(429);
    expect(openai.calls).toHaveLength(1);
  });

  it('keeps the reservation when storage fails after the provider generated', async () => {
    const handler = makeHandler({ IMAGE_BUCKET: 'no-such-bucket' });
    expect((await handler(post(LOW), lambdaContext())).statusCode).toBe(503);
    expect(await usage()).toEqual({ images: 1, spendMicroUsd: COST });
  });

  it('counts each billable retry, and stops retrying at the spend limit', async () => {
    // Two 500s then success; 2.5 attempts' worth a day allows the first attempt and one retry, not a third.
    openai.enqueue(errorReply(500, { type: 'server_error' }), errorReply(500, { type: 'server_error' }));
    const handler = makeHandler({ PROVIDER_MAX_RETRIES: '2', DAILY_SPEND_LIMIT_USD: String((2.5 * COST) / 1e6) });
    const response = await handler(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(502);
    expect(openai.calls).toHaveLength(2);
    expect(await usage()).toEqual({ images: 1, spendMicroUsd: 2 * COST });
  });
});

describe('metrics (CloudWatch EMF)', () => {
  interface Emf {
    name: string;
    value: unknown;
    dimensions: Record<string, unknown>;
  }
  /** The EMF lines of the output, one entry per metric, with its dimensions. */
  const emf = (output: string): Emf[] =>
    output
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .flatMap((line) => {
        const blob = JSON.parse(line) as Record<string, unknown> & {
          _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
        };
        const [directive] = blob._aws.CloudWatchMetrics;
        const names = directive?.Dimensions.flat() ?? [];
        return (directive?.Metrics ?? []).map((metric) => ({
          name: metric.Name,
          value: blob[metric.Name],
          dimensions: Object.fromEntries(names.map((dimension) => [dimension, blob[dimension]])),
        }));
      });

  it('records stored images, spend and provider latency by model; failures and quota refusals by code', async () => {
    openai.enqueue(imageReply(PNG_B64), errorReply(500, { type: 'server_error' }));
    // What Lambda sets in an on-demand execution environment (Powertools counts cold starts only there).
    process.env['AWS_LAMBDA_INITIALIZATION_TYPE'] = 'on-demand';
    const handler = makeHandler({ DAILY_IMAGE_LIMIT: '2' });
    delete process.env['AWS_LAMBDA_INITIALIZATION_TYPE'];
    const { output } = await captureOutput(async () => {
      await handler(post(LOW), lambdaContext());
      await handler(post(LOW), lambdaContext());
      await handler(post(LOW), lambdaContext());
    });
    const metrics = emf(output);
    const named = (name: string): Emf[] => metrics.filter((metric) => metric.name === name);
    expect(named('ImagesStored')).toEqual([
      { name: 'ImagesStored', value: 1, dimensions: { service: 'durable-image-api', model: 'gpt-image-2', provider: 'openai' } },
    ]);
    // Both generations may be billed: the stored one and the one that failed after sending.
    expect(named('EstimatedCostUsd').map((metric) => metric.value)).toEqual([COST / 1e6, COST / 1e6]);
    expect(named('EstimatedCostUsd')[0]?.dimensions).toEqual({ service: 'durable-image-api' });
    expect(named('ProviderLatency').map((metric) => metric.dimensions['outcome'])).toEqual(['answered', 'failed']);
    expect(named('ProviderFailures')).toHaveLength(1);
    expect(named('Failures').map((metric) => metric.dimensions['errorCode'])).toEqual(['provider_error', 'quota_exceeded']);
    expect(named('QuotaRefusals').map((metric) => metric.dimensions['errorCode'])).toEqual(['quota_exceeded']);
    // The container's first invocation, once, by function.
    expect(named('ColdStart')).toEqual([
      { name: 'ColdStart', value: 1, dimensions: { service: 'durable-image-api', function_name: 'durable-image-api-test-generateImage' } },
    ]);
    // Dimensions stay low-cardinality: no ids, keys or principals.
    const dimensions = metrics.filter((metric) => metric.name !== 'ColdStart').map((metric) => metric.dimensions);
    expect(JSON.stringify(dimensions)).not.toMatch(/req-|web-app|[A-Za-z0-9_-]{22}/);
  });
});

describe('provider key from SSM', () => {
  let ssm: AwsStandIn;

  beforeAll(async () => {
    ssm = await AwsStandIn.start();
  });

  afterAll(async () => {
    await ssm.close();
  });

  const ssmHandler = (): Handler =>
    makeHandler({
      OPENAI_API_KEY: undefined,
      OPENAI_API_KEY_PARAMETER: '/durable-image-api/test/openai-api-key',
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    });

  it('calls the provider with the key read from SSM (stored with a trailing line break, as pasted keys often are)', async () => {
    ssm.fallback = { status: 200, body: JSON.stringify({ Parameter: { Value: 'sk-from-parameter-store\n' } }) };
    const response = await ssmHandler()(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(openai.calls[0]?.headers['authorization']).toBe('Bearer sk-from-parameter-store');
  });

  it('does not let unauthenticated requests multiply reads of an unreadable key', async () => {
    ssm.fallback = { status: 400, body: JSON.stringify({ __type: 'AccessDeniedException' }) };
    ssm.reset();
    const handler = ssmHandler();
    for (let i = 0; i < 5; i += 1) {
      const response = await handler(post(LOW, { authorization: 'Bearer not-a-key' }), lambdaContext());
      expect(response.statusCode).toBe(401);
      // Let a read started by this request finish (and fail), so the next one is not simply sharing it.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(ssm.received).toHaveLength(1);
    expect(openai.calls).toHaveLength(0);
  });

  it.each([
    ['POST', '/images', 'all', 1],
    ['POST', '/images/', 'all', 1],
    ['POST', '/v1/images/edits', 'all', 1],
    ['POST', '/v1/images/generations', 'v1', 1],
    ['GET', '/images', 'all', 0],
    ['POST', '/uploads', 'all', 0],
    ['POST', '/images//', 'all', 0],
    // The /v1 function URL does not serve it: a 404 starts nothing.
    ['POST', '/images', 'v1', 0],
  ] as const)('%s %s (%s routes) starts %d read(s) of the key before authentication', async (method, path, surface, reads) => {
    ssm.fallback = { status: 200, body: JSON.stringify({ Parameter: { Value: 'sk-from-parameter-store' } }) };
    ssm.reset();
    const deps = makeDependencies({
      OPENAI_API_KEY: undefined,
      OPENAI_API_KEY_PARAMETER: '/durable-image-api/test/openai-api-key',
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    });
    const handler = createApiHandler(deps, undefined, surface) as unknown as Handler;
    const event = httpEvent({ method, path, body: '{}', headers: { authorization: 'Bearer not-a-key' } });
    expect((await handler(event, lambdaContext())).statusCode).toBeGreaterThanOrEqual(400);
    // Let a read started by this request arrive.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ssm.received).toHaveLength(reads);
  });

  it('answers 502 provider_error without calling the provider, and gives the reservation back, when the key cannot be read', async () => {
    ssm.fallback = { status: 400, body: JSON.stringify({ __type: 'AccessDeniedException' }) };
    const response = await ssmHandler()(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(502);
    expect(json(response).error).toMatchObject({ code: 'provider_error', message: expect.stringContaining('key could not be read') });
    expect(openai.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: 0, spendMicroUsd: 0 });
  });
});

describe("the openai SDK's chunk", () => {
  // Compiling it costs a cold container about 25 ms of CPU: asked for only by a request the use case will run.
  it.each([
    ['an unknown key', 401, 0, httpEvent({ body: JSON.stringify(LOW), headers: { authorization: 'Bearer not-a-key' } })],
    ['an invalid body', 400, 0, post({ prompt: '' })],
    ['a read', 200, 0, httpEvent({ method: 'GET', path: '/images', headers: { authorization: `Bearer ${TEST_API_KEY}` } })],
    ['an admissible request', 201, 1, post(LOW)],
  ] as const)('is asked for by %s (answered %d) %d time(s)', async (_, status, times, event) => {
    const deps = makeDependencies();
    let asked = 0;
    deps.loadOpenAI = () => {
      asked += 1;
    };
    expect((await handlerOf(deps)(event, lambdaContext())).statusCode).toBe(status);
    expect(asked).toBe(times);
  });
});

describe('state store failures', () => {
  it('refuses with 503 state_unavailable, before the provider, when DynamoDB cannot be reached', async () => {
    // Prepare: a port nothing listens on.
    const closed = await closedEndpoint();
    const handler = makeHandler({ DYNAMODB_ENDPOINT: closed }, 'own');
    // Act
    const response = await handler(post(LOW), lambdaContext());
    // Assess
    expect(response.statusCode).toBe(503);
    expect(json(response).error.code).toBe('state_unavailable');
    expect(openai.calls).toHaveLength(0);
    expect(await s3.keys()).toEqual([]);
  });
});

describe('AWS SDK endpoint settings', () => {
  it('honours AWS_ENDPOINT_URL_DYNAMODB when DYNAMODB_ENDPOINT is not set, as every AWS SDK client does', async () => {
    // Prepare: the SDK's own variable names the local DynamoDB; the service's own variable is empty.
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = dynamo.endpoint;
    try {
      const handler = makeHandler({ DYNAMODB_ENDPOINT: '' }, 'own');
      // Act
      const response = await handler(post(LOW), lambdaContext());
      // Assess: the quota was counted in that DynamoDB.
      expect(response.statusCode).toBe(201);
      expect(await usage()).toEqual({ images: 1, spendMicroUsd: SETTLED_COST });
    } finally {
      delete process.env['AWS_ENDPOINT_URL_DYNAMODB'];
    }
  });
});

describe('global spend cap', () => {
  it('stops every caller once the day is spent, without calling the provider', async () => {
    // Two low images (each settled to its reported usage) and 0.7 of an estimate: not a third, whoever asks.
    const handler = makeHandler({ GLOBAL_DAILY_SPEND_LIMIT_USD: ((2 * SETTLED_COST + 0.7 * COST) / 1e6).toFixed(6) });
    const first = await handler(post(LOW), lambdaContext());
    const second = await handler(post(LOW, { authorization: `Bearer ${OTHER_API_KEY}` }), lambdaContext());
    const thirdWeb = await handler(post(LOW), lambdaContext());
    const thirdMobile = await handler(post(LOW, { authorization: `Bearer ${OTHER_API_KEY}` }), lambdaContext());
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    for (const refused of [thirdWeb, thirdMobile]) {
      expect(refused.statusCode).toBe(429);
      expect(json(refused).error.code).toBe('spend_cap_reached');
      expect(Number(header(refused, 'Retry-After'))).toBeGreaterThan(0);
    }
    expect(openai.calls).toHaveLength(2);
    // The refused callers' own counters were given back.
    expect(await usage('api-key:web-app')).toEqual({ images: 1, spendMicroUsd: SETTLED_COST });
  });
});

describe('Idempotency-Key', () => {
  it('runs 10 concurrent requests with the same key once, and answers the rest consistently', async () => {
    // Prepare: a slow provider, so the first request is still running when the others arrive.
    openai.setFallback({ kind: 'json', body: { created: 1, data: [{ b64_json: PNG_B64 }] }, delayMs: 300 });
    const handler = makeHandler();
    const key = { 'idempotency-key': 'order-42-generate' };
    // Act
    const responses = await Promise.all(Array.from({ length: 10 }, () => handler(post(LOW, key), lambdaContext())));
    // Assess
    expect(openai.calls).toHaveLength(1);
    const created = responses.filter((r) => r.statusCode === 201);
    const busy = responses.filter((r) => r.statusCode === 409);
    expect(created.length + busy.length).toBe(10);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => json(r).url)).size).toBe(1);
    for (const response of busy) expect(json(response).error.code).toBe('request_in_progress');
    // Once finished, a retry gets the first answer, replayed, without another provider call or quota use.
    const retry = await handler(post(LOW, key), lambdaContext());
    expect(retry.statusCode).toBe(201);
    expect(json(retry).url).toBe(json(created[0] as APIGatewayProxyStructuredResultV2).url);
    expect(header(retry, 'idempotent-replayed')).toBe('true');
    expect(openai.calls).toHaveLength(1);
    expect((await usage()).images).toBe(1);
    expect((await s3.keys()).filter((k) => k.startsWith('images/'))).toHaveLength(1);
  });

  it('refuses the same key with a different body: 422 idempotency_key_reused', async () => {
    const handler = makeHandler();
    const key = { 'idempotency-key': 'same-key' };
    expect((await handler(post({ prompt: 'a red fox' }, key), lambdaContext())).statusCode).toBe(201);
    const reused = await handler(post({ prompt: 'a blue whale' }, key), lambdaContext());
    expect(reused.statusCode).toBe(422);
    expect(json(reused).error.code).toBe('idempotency_key_reused');
    expect(openai.calls).toHaveLength(1);
    // The refused request's admission (run beside the key's claim) was given back.
    expect((await usage()).images).toBe(1);
  });

  it('replays a finished key even when the caller has no quota left, and counts nothing for it', async () => {
    const handler = makeHandler({ DAILY_IMAGE_LIMIT: '1' });
    const key = { 'idempotency-key': 'last-image-of-the-day' };
    const first = await handler(post(LOW, key), lambdaContext());
    expect(first.statusCode).toBe(201);
    expect((await handler(post(LOW), lambdaContext())).statusCode).toBe(429);
    const replay = await handler(post(LOW, key), lambdaContext());
    expect(replay.statusCode).toBe(201);
    expect(json(replay).url).toBe(json(first).url);
    expect(header(replay, 'idempotent-replayed')).toBe('true');
    expect(openai.calls).toHaveLength(1);
    expect(await usage()).toEqual({ images: 1, spendMicroUsd: SETTLED_COST });
  });

  it('scopes keys per caller: the same key from another caller is a new request', async () => {
    const handler = makeHandler();
    const first = await handler(post(LOW, { 'idempotency-key': 'k1' }), lambdaContext());
    const other = await handler(post(LOW, { 'idempotency-key': 'k1', authorization: `Bearer ${OTHER_API_KEY}` }), lambdaContext());
    expect([first.statusCode, other.statusCode]).toEqual([201, 201]);
    expect(json(first).url).not.toBe(json(other).url);
    expect(openai.calls).toHaveLength(2);
  });

  it('lets a failed request be retried with the same key', async () => {
    openai.enqueue(errorReply(500, { type: 'server_error' }));
    const handler = makeHandler();
    const key = { 'idempotency-key': 'retry-me' };
    expect((await handler(post(LOW, key), lambdaContext())).statusCode).toBe(502);
    expect((await handler(post(LOW, key), lambdaContext())).statusCode).toBe(201);
    expect(openai.calls).toHaveLength(2);
  });

  it('answers 201 when the image is stored but its idempotency record cannot be saved', async () => {
    // Prepare: DynamoDB that fails exactly the "COMPLETED" update of the idempotency record.
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: dynamo.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ExpressionAttributeValues?: Record<string, { S?: string }> };
        if (context.commandName === 'UpdateItemCommand' && input.ExpressionAttributeValues?.[':status']?.S === 'COMPLETED') {
          throw new DynamoDBServiceException({
            name: 'InternalServerError',
            $fault: 'server',
            $metadata: { httpStatusCode: 500 },
            message: 'simulated DynamoDB failure',
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failCompletedUpdate' },
    );
    const handler = makeHandler({}, client);
    // Act
    const response = await handler(post(LOW, { 'idempotency-key': 'save-fails' }), lambdaContext());
    // Assess: the caller learns where its image is, and was charged once.
    expect(response.statusCode).toBe(201);
    expect((await s3.get(json(response).key as string)).body.length).toBe(json(response).bytes);
    expect(await usage()).toEqual({ images: 1, spendMicroUsd: SETTLED_COST });
  });

  it('refuses a malformed key with 400', async () => {
    const response = await makeHandler()(post(LOW, { 'idempotency-key': 'x'.repeat(256) }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(json(response).error.message).toContain('Idempotency-Key');
    expect(openai.calls).toHaveLength(0);
  });
});

describe('moderation pre-check', () => {
  it('refuses a flagged prompt with 422 naming the categories, before any generation or quota use', async () => {
    openai.moderation = moderationReply(true, ['violence', 'harassment']);
    const handler = makeHandler({ MODERATION: 'fail-closed' });
    const response = await handler(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(422);
    expect(json(response).error).toMatchObject({
      code: 'content_policy_violation',
      message: expect.stringContaining('harassment, violence'),
    });
    expect(openai.moderationCalls).toHaveLength(1);
    expect(openai.moderationCalls[0]?.body).toEqual({ model: 'omni-moderation-latest', input: 'a red fox' });
    expect(openai.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: 0, spendMicroUsd: 0 });
  });

  it('moderates only what the quota admitted: 8 requests with 3 images left make 3 moderation calls', async () => {
    const handler = makeHandler({ MODERATION: 'fail-closed', DAILY_IMAGE_LIMIT: '3' });
    const responses = await Promise.all(Array.from({ length: 8 }, () => handler(post(LOW), lambdaContext())));
    expect(responses.map((response) => response.statusCode).sort()).toEqual([201, 201, 201, 429, 429, 429, 429, 429]);
    expect(openai.moderationCalls).toHaveLength(3);
    expect(openai.calls).toHaveLength(3);
  });

  it('moderates the text the provider receives (NFKC-folded), not the look-alike letters the caller sent', async () => {
    const handler = makeHandler({ MODERATION: 'fail-closed' });
    const response = await handler(
      post({
        ...LOW,
        prompt: '\u{1D41A} \u{1D420}\u{1D42B}\u{1D41A}\u{1D429}\u{1D421}\u{1D422}\u{1D41C} \u{1D42C}\u{1D41C}\u{1D41E}\u{1D427}\u{1D41E}',
      }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(201);
    expect(openai.moderationCalls[0]?.body).toEqual({ model: 'omni-moderation-latest', input: 'a graphic scene' });
    expect(String(openai.calls[0]?.body['prompt'])).toContain('a graphic scene');
  });

  it('fails closed by default when moderation is down: 503, no generation', async () => {
    openai.moderation = errorReply(500, { type: 'server_error' });
    const response = await makeHandler({ MODERATION: undefined })(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(503);
    expect(json(response).error.code).toBe('moderation_unavailable');
    expect(openai.calls).toHaveLength(0);
  });

  it('stops reading a huge moderation answer: 503 moderation_unavailable, no generation', async () => {
    openai.moderation = { kind: 'huge', status: 200, bytes: 200 * 1024 * 1024 };
    const response = await makeHandler({ MODERATION: 'fail-closed' })(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(503);
    expect(json(response).error.code).toBe('moderation_unavailable');
    expect(openai.bytesSent).toBeLessThan(8 * 1024 * 1024);
    expect(openai.calls).toHaveLength(0);
  });

  it.each([401, 403, 404])(
    'tells a misconfigured moderation (provider %i) from an outage: 502 moderation_misconfigured, even when failing open',
    async (status) => {
      openai.moderation = errorReply(status, { code: 'invalid_api_key' });
      const response = await makeHandler({ MODERATION: 'fail-open' })(post(LOW), lambdaContext());
      expect(response.statusCode).toBe(502);
      expect(json(response).error.code).toBe('moderation_misconfigured');
      expect(openai.calls).toHaveLength(0);
    },
  );

  it('proceeds when moderation is down and set to fail open', async () => {
    openai.moderation = errorReply(500, { type: 'server_error' });
    const response = await makeHandler({ MODERATION: 'fail-open' })(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(openai.calls).toHaveLength(1);
  });
});

describe('JWT auth', () => {
  const ISSUER = 'https://issuer.example.test';
  const AUDIENCE = 'durable-image-api';
  let jwksServer: Server;
  let jwksUrl: string;
  let jwksUp = true;
  /** Hold the key set's answer this long, and call this just before sending it. */
  let jwksDelayMs = 0;
  let onJwksAnswer: () => void = () => undefined;
  let signingKey: PrivateKey;
  let otherKey: PrivateKey;
  let publicJwk: JWK;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      if (!jwksUp) {
        res.writeHead(503).end();
        return;
      }
      setTimeout(() => {
        onJwksAnswer();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
      }, jwksDelayMs);
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', () => resolve()));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  beforeEach(() => {
    jwksUp = true;
    jwksDelayMs = 0;
    onJwksAnswer = () => undefined;
  });

  const jwtHandler = (env: Record<string, string> = {}): Handler =>
    makeHandler({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_URL: jwksUrl, ...env });

  const token = async (
    options: { key?: PrivateKey; exp?: string | number; iss?: string; aud?: string; sub?: string } = {},
  ): Promise<string> =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .setSubject(options.sub ?? 'user-123')
      .setIssuer(options.iss ?? ISSUER)
      .setAudience(options.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '5m')
      .sign(options.key ?? signingKey);

  const withToken = (jwt: string): APIGatewayProxyEventV2 => post(LOW, { authorization: `Bearer ${jwt}` });

  it('reads the provider key from SSM while the key set is being fetched, not after (one round trip less)', async () => {
    const ssm = await AwsStandIn.start({ status: 200, body: JSON.stringify({ Parameter: { Value: 'sk-from-parameter-store' } }) });
    try {
      jwksDelayMs = 200;
      let ssmReadsWhenKeysArrived = -1;
      onJwksAnswer = () => (ssmReadsWhenKeysArrived = ssm.received.length);
      const handler = jwtHandler({
        OPENAI_API_KEY: '',
        OPENAI_API_KEY_PARAMETER: '/durable-image-api/test/openai-api-key',
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      });
      const response = await handler(withToken(await token()), lambdaContext());
      expect(response.statusCode).toBe(201);
      expect(ssmReadsWhenKeysArrived).toBe(1);
      expect(ssm.received).toHaveLength(1); // read once, shared by moderation and the generation
      expect(openai.calls[0]?.headers['authorization']).toBe('Bearer sk-from-parameter-store');
    } finally {
      await ssm.close();
    }
  });

  it('warms up at init: the key set and the SSM key are read before the first request, which waits for neither', async () => {
    const ssm = await AwsStandIn.start({ status: 200, body: JSON.stringify({ Parameter: { Value: 'sk-from-parameter-store' } }) });
    try {
      let jwksAnswers = 0;
      onJwksAnswer = () => (jwksAnswers += 1);
      const deps = makeDependencies({
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_JWKS_URL: jwksUrl,
        OPENAI_API_KEY: '',
        OPENAI_API_KEY_PARAMETER: '/durable-image-api/test/openai-api-key',
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      });
      // Act: what the function's entry does at init, before any event.
      warmUp(deps);
      for (let waited = 0; (jwksAnswers < 1 || ssm.received.length < 1) && waited < 5_000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect([jwksAnswers, ssm.received.length]).toEqual([1, 1]);
      const response = await handlerOf(deps)(withToken(await token()), lambdaContext());
      // Assess: answered with what init fetched, and neither was read again.
      expect(response.statusCode).toBe(201);
      expect([jwksAnswers, ssm.received.length]).toEqual([1, 1]);
      expect(openai.calls[0]?.headers['authorization']).toBe('Bearer sk-from-parameter-store');
    } finally {
      await ssm.close();
    }
  });

  it('accepts a valid token and bills its subject', async () => {
    const response = await jwtHandler()(withToken(await token()), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(await usage('jwt:user-123')).toEqual({ images: 1, spendMicroUsd: SETTLED_COST });
  });

  it('keys overrides by principal kind: a JWT subject named like an API key does not get its limits', async () => {
    const handler = jwtHandler({
      DAILY_IMAGE_LIMIT: '1',
      PRINCIPAL_LIMITS: '{"mobile": {"dailyImages": 3}, "jwt:vip": {"dailyImages": 2}}',
    });
    const asMobile = await token({ sub: 'mobile' });
    const mobile = [];
    for (let i = 0; i < 2; i += 1) mobile.push((await handler(withToken(asMobile), lambdaContext())).statusCode);
    expect(mobile).toEqual([201, 429]);
    const asVip = await token({ sub: 'vip' });
    const vip = [];
    for (let i = 0; i < 3; i += 1) vip.push((await handler(withToken(asVip), lambdaContext())).statusCode);
    expect(vip).toEqual([201, 201, 429]);
  });

  it.each(['constructor', '__proto__', 'toString'])('serves a JWT whose sub is %s like any other', async (sub) => {
    const response = await jwtHandler()(withToken(await token({ sub })), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(await usage(`jwt:${sub}`)).toEqual({ images: 1, spendMicroUsd: SETTLED_COST });
  });

  it('still accepts API keys when JWT auth is on', async () => {
    expect((await jwtHandler()(post(LOW), lambdaContext())).statusCode).toBe(201);
  });

  it.each([
    ['expired', () => token({ exp: Math.floor(Date.now() / 1000) - 120 })],
    ['signed with another key', () => token({ key: otherKey })],
    ['for another audience', () => token({ aud: 'someone-else' })],
    ['from another issuer', () => token({ iss: 'https://evil.example.test' })],
    [
      'unsigned (alg none)',
      async () => {
        const [, payload] = (await token()).split('.');
        return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
      },
    ],
    [
      'HS256 with the public key as secret',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('user-123')
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(JSON.stringify(publicJwk))),
    ],
  ])('refuses a token %s with 401, never reaching the provider', async (_, makeToken) => {
    const response = await jwtHandler()(withToken(await makeToken()), lambdaContext());
    expect(response.statusCode).toBe(401);
    expect(json(response).error.code).toBe('unauthorized');
    expect(String(header(response, 'WWW-Authenticate'))).toMatch(/^Bearer .*invalid_token/);
    expect(openai.calls).toHaveLength(0);
    expect(openai.moderationCalls).toHaveLength(0);
  });

  it('answers 503 auth_unavailable when the JWKS cannot be fetched', async () => {
    jwksUp = false;
    const response = await jwtHandler()(withToken(await token()), lambdaContext());
    expect(response.statusCode).toBe(503);
    expect(json(response).error.code).toBe('auth_unavailable');
    expect(openai.calls).toHaveLength(0);
  });
});
