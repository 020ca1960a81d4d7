import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createDependencies } from '../../lib/composition-root.js';
import { optionalProviders } from '../../lib/optional-providers.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { withContract } from '../support/contract.js';
import { startCapture, type Capture } from '../support/capture-logs.js';
import { TEST_API_KEY, serversEnv } from '../support/env.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamo.js';
import { pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { OpenAITestServer, type Reply } from '../support/openai-test-server.js';
import {
  GEMINI_PRO_SETTLED,
  bedrockError,
  bedrockFiltered,
  bedrockImage,
  geminiBlocked,
  geminiError,
  geminiImage,
} from '../support/provider-replies.js';
import { estimatedCost } from '../support/pricing.js';
import { startLocalS3, type LocalS3 } from '../support/s3-server.js';
import { verifySigV4 } from '../support/sigv4.js';
import { AwsStandIn, closedEndpoint } from '../support/aws-stand-in.js';

/**
 * Bedrock and Gemini through their real SDKs against servers that speak their wire protocols (paths, auth
 * headers, JSON shapes, error bodies), with quotas on: each fault of the OpenAI matrix, with the same guarantees.
 * The documented status and code, nothing stored, nothing provider-specific in the answer, and the money rule:
 * a reservation goes back only when the provider certainly did not generate. These adapters make one attempt.
 */

const GEMINI_KEY = 'gemini-test-key-3141592653';
const PROMPT = 'provider matrix prompt: a lighthouse at dusk';
const PNG = pngOf(64, 64, 'provider matrix');
const PNG_B64 = PNG.toString('base64');
const BEDROCK_MODEL = 'bedrock/stability.stable-image-core-v1:1';
const GEMINI_MODEL = 'google/gemini-3-pro-image';

let s3: LocalS3;
let dynamo: LocalDynamo;
let bedrock: OpenAITestServer;
let gemini: OpenAITestServer;
let capture: Capture;
let table: string;
let tables = 0;
let closedPort = '';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

beforeAll(async () => {
  [s3, dynamo, bedrock, gemini] = await Promise.all([
    startLocalS3(),
    startLocalDynamo(),
    OpenAITestServer.start(bedrockImage(PNG_B64), 'bedrock'),
    OpenAITestServer.start(geminiImage(PNG_B64), 'gemini'),
  ]);
  closedPort = await closedEndpoint();
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
  capture = startCapture();
});

afterAll(async () => {
  capture.stop();
  await Promise.all([bedrock.close(), gemini.close(), dynamo.stop()]);
  await s3.stop();
});

beforeEach(async () => {
  bedrock.reset(bedrockImage(PNG_B64));
  gemini.reset(geminiImage(PNG_B64));
  await s3.clear();
  tables += 1;
  table = `providers-${tables}`;
  await dynamo.createTable(table);
});

function makeHandler(
  env: Record<string, string> = {},
  providers: { providers?: typeof optionalProviders } = { providers: optionalProviders },
): Handler {
  const config = parseConfig(
    serversEnv(
      { openaiBaseUrl: 'http://127.0.0.1:9/v1', s3Endpoint: s3.endpoint, bucket: s3.bucket, dynamoEndpoint: dynamo.endpoint, table },
      {
        IMAGE_PROVIDER: 'live',
        OPENAI_API_KEY: undefined,
        IMAGE_MODEL: BEDROCK_MODEL,
        IMAGE_MODELS: `${BEDROCK_MODEL},${GEMINI_MODEL}`,
        BEDROCK_REGION: 'us-west-2',
        BEDROCK_ENDPOINT: bedrock.origin,
        GEMINI_API_KEY: GEMINI_KEY,
        GEMINI_BASE_URL: gemini.origin,
        // The stored file is held to the provider's answer byte for byte (signing has its own suite).
        CONTENT_CREDENTIALS: 'verify',
        // A short request budget, so that hangs end in seconds rather than in 29.
        GATEWAY_TIMEOUT_MS: '6000',
        UPLOAD_RESERVE_MS: '2500',
        MIN_PROVIDER_TIME_MS: '500',
        ...env,
      },
    ),
  );
  return withContract(createApiHandler(createDependencies(config, { dynamo: dynamo.client, ...providers })) as unknown as Handler);
}

const post = (body: object): APIGatewayProxyEventV2 =>
  httpEvent({ body: JSON.stringify({ prompt: PROMPT, ...body }), headers: { authorization: `Bearer ${TEST_API_KEY}` } });

const json = (response: APIGatewayProxyStructuredResultV2): Record<string, unknown> =>
  JSON.parse(response.body ?? '{}') as Record<string, unknown>;

async function usage(): Promise<{ images: unknown; spend: unknown; global: unknown }> {
  const items = await dynamo.items(table);
  const quota = items.find((item) => String(item['pk']).startsWith('quota#'));
  const spend = items.find((item) => String(item['pk']).startsWith('spend#global#'));
  return { images: quota?.['images'], spend: quota?.['spendMicroUsd'], global: spend?.['spendMicroUsd'] };
}

interface FaultCell {
  name: string;
  reply: Reply;
  status: number;
  code: string;
  /** Provider attempts that may have been billed, each counted at the request's estimate. */
  billed: number;
  env?: Record<string, string>;
  /** The provider's endpoint is a port nothing listens on. */
  refused?: boolean;
}

/**
 * The faults of the connection rather than of the provider's answer, the same for every provider; `image` is the
 * provider's good answer, sent to nobody when the connection is refused.
 */
const transportFaults = (image: Reply): FaultCell[] => [
  { name: 'a hang past the deadline', reply: { kind: 'hang' }, status: 504, code: 'provider_timeout', billed: 1 },
  { name: 'a reset connection', reply: { kind: 'reset' }, status: 502, code: 'provider_error', billed: 1 },
  {
    name: 'an answer over the size limit',
    reply: { kind: 'huge', bytes: 256 * 1024 },
    status: 502,
    code: 'bad_provider_response',
    billed: 1,
    env: { MAX_IMAGE_BYTES: '4096' },
  },
  { name: 'a refused connection', reply: image, status: 502, code: 'provider_error', billed: 0, refused: true },
];

/** One fault through the handler: the documented answer, nothing stored, no provider text, the money rule. */
async function expectFault(
  cell: FaultCell,
  provider: { server: OpenAITestServer; endpointVariable: string; body: object; leaks: RegExp; cost: number },
): Promise<void> {
  provider.server.setFallback(cell.reply);
  const handler = makeHandler({ ...cell.env, ...(cell.refused ? { [provider.endpointVariable]: closedPort } : {}) });
  const response = await handler(post(provider.body), lambdaContext(60_000));
  expect(response.statusCode).toBe(cell.status);
  expect(json(response)).toEqual({ error: { code: cell.code, message: expect.any(String), requestId: expect.any(String) } });
  expect(response.body).not.toMatch(provider.leaks);
  expect(await s3.keys()).toEqual([]);
  const counted = cell.billed * provider.cost;
  expect(await usage()).toEqual({ images: cell.billed > 0 ? 1 : 0, spend: counted, global: counted });
  if (cell.status === 503) expect(response.headers?.['Retry-After']).toMatch(/^\d+$/);
}

describe('Amazon Bedrock (Stability) through @aws-sdk/client-bedrock-runtime', () => {
  it("generates: a signed InvokeModel of the model id with Stability's JSON, the image stored byte for byte", async () => {
    const response = await makeHandler()(post({ model: BEDROCK_MODEL, size: '16:9', format: 'png' }), lambdaContext(60_000));
    expect(response.statusCode).toBe(201);
    expect(json(response)).toMatchObject({ model: BEDROCK_MODEL, contentType: 'image/png', bytes: PNG.length });
    expect((await s3.get(json(response)['key'] as string)).body.equals(PNG)).toBe(true);
    const [call] = bedrock.calls;
    expect(call?.path).toBe(`/model/${encodeURIComponent('stability.stable-image-core-v1:1')}/invoke`);
    expect(call?.body).toEqual({ prompt: expect.stringContaining('a lighthouse at dusk'), aspect_ratio: '16:9', output_format: 'png' });
    expect(call?.headers['content-type']).toBe('application/json');
    expect(
      verifySigV4({
        method: call?.method ?? '',
        path: call?.path ?? '',
        headers: call?.headers ?? {},
        body: JSON.stringify(call?.body),
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
      }),
    ).toEqual({ service: 'bedrock', region: 'us-west-2' });
    expect(await usage()).toEqual({ images: 1, spend: 40_000, global: 40_000 });
  });

  const cost = 40_000;
  it.each<FaultCell>([
    {
      name: 'a filtered prompt',
      reply: bedrockFiltered('Filter reason: prompt'),
      status: 422,
      code: 'content_policy_violation',
      billed: 0,
    },
    {
      name: 'a filtered output image',
      reply: bedrockFiltered('Filter reason: output image'),
      status: 422,
      code: 'content_policy_violation',
      billed: 1,
    },
    { name: 'ThrottlingException', reply: bedrockError(429, 'ThrottlingException'), status: 503, code: 'provider_busy', billed: 0 },
    {
      name: 'ServiceUnavailableException',
      reply: bedrockError(503, 'ServiceUnavailableException'),
      status: 503,
      code: 'provider_busy',
      billed: 0,
    },
    {
      name: 'InternalServerException',
      reply: bedrockError(500, 'InternalServerException'),
      status: 502,
      code: 'provider_error',
      billed: 1,
    },
    {
      name: 'AccessDeniedException (model not enabled)',
      reply: bedrockError(403, 'AccessDeniedException'),
      status: 502,
      code: 'provider_error',
      billed: 0,
    },
    { name: 'ValidationException', reply: bedrockError(400, 'ValidationException'), status: 400, code: 'invalid_request', billed: 0 },
    {
      name: 'ValidationException for a model the region does not offer (misconfiguration)',
      reply: bedrockError(400, 'ValidationException', 'The provided model identifier is invalid.'),
      status: 502,
      code: 'provider_error',
      billed: 0,
    },
    { name: 'malformed JSON', reply: { kind: 'raw', body: '{"images": ["iVBOR' }, status: 502, code: 'bad_provider_response', billed: 1 },
    {
      name: 'an answer without an image',
      reply: { kind: 'json', body: { seeds: [1], finish_reasons: [null], images: [] } },
      status: 502,
      code: 'bad_provider_response',
      billed: 1,
    },
    {
      name: 'a truncated image',
      reply: bedrockImage(PNG.subarray(0, PNG.length - 30).toString('base64')),
      status: 502,
      code: 'bad_provider_response',
      billed: 1,
    },
    ...transportFaults(bedrockImage(PNG_B64)),
  ])('$name -> $status $code, nothing stored, $billed billable attempts counted', async (cell) => {
    await expectFault(cell, {
      server: bedrock,
      endpointVariable: 'BEDROCK_ENDPOINT',
      body: { model: BEDROCK_MODEL },
      leaks: /provider says no|Exception|bedrock/i,
      cost,
    });
  });
});

describe('Google Gemini through @google/genai', () => {
  const cost = estimatedCost(PROMPT, '2K', '4:3', GEMINI_MODEL);

  it('generates: generateContent of the model with its key, IMAGE modality and image config, the inline image stored', async () => {
    const response = await makeHandler()(post({ model: GEMINI_MODEL, size: '4:3', quality: '2K' }), lambdaContext(60_000));
    expect(response.statusCode).toBe(201);
    // Settled from Gemini's usageMetadata: prompt at $2, image at $120, text and thinking at $12 per million.
    const settled = GEMINI_PRO_SETTLED;
    expect(json(response)).toMatchObject({
      model: GEMINI_MODEL,
      contentType: 'image/png',
      bytes: PNG.length,
      costUsd: settled / 1e6,
      costBasis: 'usage',
    });
    expect((await s3.get(json(response)['key'] as string)).body.equals(PNG)).toBe(true);
    const [call] = gemini.calls;
    expect(call?.path).toBe('/v1/models/gemini-3-pro-image:generateContent');
    expect(call?.headers['x-goog-api-key']).toBe(GEMINI_KEY);
    expect(call?.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: expect.stringContaining('a lighthouse at dusk') }] }],
      generationConfig: { responseModalities: ['IMAGE'], candidateCount: 1, imageConfig: { aspectRatio: '4:3', imageSize: '2K' } },
    });
    expect(settled).toBeLessThanOrEqual(cost); // the reservation was the upper bound
    expect(await usage()).toEqual({ images: 1, spend: settled, global: settled });
  });

  it.each<FaultCell>([
    { name: 'a blocked prompt', reply: geminiBlocked('prompt'), status: 422, code: 'content_policy_violation', billed: 0 },
    { name: 'an image stopped by safety', reply: geminiBlocked('image'), status: 422, code: 'content_policy_violation', billed: 1 },
    { name: '429 RESOURCE_EXHAUSTED', reply: geminiError(429, 'RESOURCE_EXHAUSTED'), status: 503, code: 'provider_busy', billed: 0 },
    { name: '500 INTERNAL', reply: geminiError(500, 'INTERNAL'), status: 502, code: 'provider_error', billed: 1 },
    { name: '503 UNAVAILABLE', reply: geminiError(503, 'UNAVAILABLE'), status: 503, code: 'provider_busy', billed: 0 },
    {
      name: '403 PERMISSION_DENIED (a wrong key)',
      reply: geminiError(403, 'PERMISSION_DENIED'),
      status: 502,
      code: 'provider_error',
      billed: 0,
    },
    { name: '400 INVALID_ARGUMENT', reply: geminiError(400, 'INVALID_ARGUMENT'), status: 400, code: 'invalid_request', billed: 0 },
    {
      name: "400 INVALID_ARGUMENT API_KEY_INVALID (a bad key: the deployment's, not the caller's)",
      reply: geminiError(400, 'INVALID_ARGUMENT', 'API_KEY_INVALID'),
      status: 502,
      code: 'provider_error',
      billed: 0,
    },
    {
      name: 'malformed JSON',
      reply: { kind: 'raw', body: '{"candidates": [{"content": ' },
      status: 502,
      code: 'bad_provider_response',
      billed: 1,
    },
    {
      name: 'an answer without an image part',
      reply: { kind: 'json', body: { candidates: [{ content: { parts: [{ text: 'no' }] }, finishReason: 'STOP' }] } },
      status: 502,
      code: 'bad_provider_response',
      billed: 1,
    },
    {
      name: 'a truncated image',
      reply: geminiImage(PNG.subarray(0, PNG.length - 30).toString('base64')),
      status: 502,
      code: 'bad_provider_response',
      billed: 1,
    },
    ...transportFaults(geminiImage(PNG_B64)),
  ])('$name -> $status $code, nothing stored, $billed billable attempts counted', async (cell) => {
    const body = { model: GEMINI_MODEL, size: '4:3', quality: '2K' };
    await expectFault(cell, {
      server: gemini,
      endpointVariable: 'GEMINI_BASE_URL',
      body,
      leaks: /provider says no|RESOURCE_EXHAUSTED|gemini/i,
      cost,
    });
  });
});

describe('the Gemini key from SSM', () => {
  let ssm: AwsStandIn;

  beforeAll(async () => {
    ssm = await AwsStandIn.start();
  });

  afterAll(async () => {
    await ssm.close();
  });

  const viaSsm = () =>
    makeHandler({
      GEMINI_API_KEY: '',
      GEMINI_API_KEY_PARAMETER: '/durable-image-api/test/gemini-api-key',
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    });

  it('calls Gemini with the key read from SSM', async () => {
    ssm.fallback = { status: 200, body: JSON.stringify({ Parameter: { Value: 'gemini-key-from-parameter-store' } }) };
    const response = await viaSsm()(post({ model: GEMINI_MODEL }), lambdaContext(60_000));
    expect(response.statusCode).toBe(201);
    expect(gemini.calls[0]?.headers['x-goog-api-key']).toBe('gemini-key-from-parameter-store');
  });

  it('answers 502 without calling Gemini, and gives the reservation back, when the key cannot be read', async () => {
    ssm.fallback = { status: 400, body: JSON.stringify({ __type: 'AccessDeniedException' }) };
    const response = await viaSsm()(post({ model: GEMINI_MODEL }), lambdaContext(60_000));
    expect(response.statusCode).toBe(502);
    expect(json(response)).toMatchObject({ error: { code: 'provider_error' } });
    expect(gemini.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: 0, spend: 0, global: 0 });
  });
});

describe('a function built without the Bedrock and Gemini adapters (the API on AWS, which hands generation to the worker)', () => {
  it('answers 502 provider_error for their models, nothing sent, nothing stored, the reservation given back', async () => {
    const response = await makeHandler({}, {})(post({ model: BEDROCK_MODEL }), lambdaContext());
    expect(response.statusCode).toBe(502);
    expect(json(response)['error']).toMatchObject({ code: 'provider_error' });
    expect(bedrock.calls).toHaveLength(0);
    expect(await s3.keys()).toEqual([]);
    expect(await usage()).toEqual({ images: 0, spend: 0, global: 0 });
  });
});

describe('logs', () => {
  it('hold no provider key, prompt or base64', () => {
    const output = capture.output();
    expect(output).not.toContain(GEMINI_KEY);
    expect(output).not.toContain('lighthouse at dusk');
    expect(output).not.toContain(PNG_B64.slice(0, 32));
  });
});
