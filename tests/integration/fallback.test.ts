import { beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { usdToMicroUsd } from '../../lib/domain/pricing.js';
import { TEST_API_KEY } from '../support/env.js';
import { pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { errorReply, imageReply, type Reply } from '../support/openai-test-server.js';
import { GEMINI_PRO_SETTLED, bedrockError, geminiError } from '../support/provider-replies.js';
import { estimatedCost } from '../support/pricing.js';
import { closedEndpoint } from '../support/aws-stand-in.js';
import { useProviderStandIns } from '../support/provider-stand-ins.js';

/**
 * Fallback between providers (MODEL_FALLBACKS): gpt-image-2 -> Gemini -> Bedrock, each stand-in speaking its
 * provider's wire protocol through the real SDKs. A job moves on only after a failure that certainly did not bill,
 * never after a refusal or a possibly billed failure, and the caller is billed for exactly the one generation that
 * made the image.
 */

const PROMPT = 'fallback prompt: a lighthouse at dusk';
const PNG = pngOf(64, 64, 'fallback');
const B64 = PNG.toString('base64');
const GEMINI = 'google/gemini-3-pro-image';
const BEDROCK = 'bedrock/stability.stable-image-core-v1:1';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = Record<string, any>;

const stand = useProviderStandIns(PNG, 'fallback');
const { servers } = stand;
let closedPort = '';
beforeAll(async () => {
  closedPort = await closedEndpoint();
});

/** The handler with gpt-image-2 -> Gemini -> Bedrock, and `env` on top. */
const makeHandler = (env: Record<string, string> = {}, overrides: Parameters<typeof stand.makeHandler>[1] = {}) =>
  stand.makeHandler(
    { IMAGE_MODEL: 'gpt-image-2', MODEL_FALLBACKS: JSON.stringify({ 'gpt-image-2': [GEMINI, BEDROCK] }), ...env },
    overrides,
  );

const post = (body: object = {}): APIGatewayProxyEventV2 =>
  httpEvent({ body: JSON.stringify({ prompt: PROMPT, quality: 'low', ...body }), headers: { authorization: `Bearer ${TEST_API_KEY}` } });
const json = (response: APIGatewayProxyStructuredResultV2): Json => JSON.parse(response.body ?? '{}') as Json;

async function usage(): Promise<{ images: unknown; spend: unknown; reserved: unknown; global: unknown }> {
  const items = await servers.dynamo.items(servers.table);
  const quota = items.find((item) => String(item['pk']).startsWith('quota#'));
  const spend = items.find((item) => String(item['pk']).startsWith('spend#global#'));
  return {
    images: quota?.['images'],
    spend: quota?.['spendMicroUsd'],
    reserved: quota?.['reservedMicroUsd'],
    global: spend?.['spendMicroUsd'],
  };
}

describe('fallback: the next model only after a failure that certainly did not bill', () => {
  it.each<[string, Reply | 'refused']>([
    ['answers 503 (overloaded)', errorReply(503, { type: 'server_error', message: 'overloaded' })],
    ['answers 429 (rate limited)', errorReply(429, { code: 'rate_limit_exceeded' }, { 'retry-after': '20' })],
    ['refuses the connection', 'refused'],
  ])('makes the image with Gemini when OpenAI %s, and bills exactly that one generation', async (_name, reply) => {
    if (reply !== 'refused') servers.openai.setFallback(reply);
    const handler = makeHandler(reply === 'refused' ? { OPENAI_BASE_URL: `${closedPort}/v1` } : {});
    // Act
    const response = await handler(post(), lambdaContext(60_000));
    // Assess
    expect(response.statusCode).toBe(201);
    const image = json(response);
    expect(image).toMatchObject({ status: 'succeeded', model: GEMINI, requestedModel: 'gpt-image-2', costBasis: 'usage' });
    expect((await servers.s3.get(image['key'] as string)).body.equals(PNG)).toBe(true);
    expect(servers.openai.calls).toHaveLength(reply === 'refused' ? 0 : 1);
    expect(servers.gemini.calls).toHaveLength(1);
    expect(servers.bedrock.calls).toHaveLength(0);
    // Gemini got the nearest it offers: 1024x1024 low -> aspect 1:1 at its 1K tier.
    expect(servers.gemini.calls[0]?.body).toMatchObject({ generationConfig: { imageConfig: { aspectRatio: '1:1', imageSize: '1K' } } });
    // One generation billed, at Gemini's reported usage; nothing left reserved.
    const settled = usdToMicroUsd(image['costUsd'] as number);
    expect(settled).toBe(GEMINI_PRO_SETTLED);
    expect(await usage()).toEqual({ images: 1, spend: settled, reserved: 0, global: settled });
    // The record says which provider answered and why the other did not.
    const record = JSON.parse(
      (await servers.s3.get((await servers.s3.keys()).find((key) => key.startsWith('records/')) as string)).body.toString('utf8'),
    );
    expect(record).toMatchObject({
      model: GEMINI,
      requestedModel: 'gpt-image-2',
      fallback: [
        { model: 'gpt-image-2', outcome: 'failed', reason: reply === 'refused' ? 'provider_error' : 'provider_busy' },
        { model: GEMINI, outcome: 'answered' },
      ],
    });
  });

  it('goes on to Bedrock when Gemini is busy too, with the nearest aspect ratio and format', async () => {
    servers.openai.setFallback(errorReply(503, { type: 'server_error' }));
    servers.gemini.setFallback(geminiError(503, 'UNAVAILABLE'));
    const response = await makeHandler()(post({ size: '1536x1024', format: 'webp' }), lambdaContext(60_000));
    expect(response.statusCode).toBe(201);
    expect(json(response)).toMatchObject({ model: BEDROCK, requestedModel: 'gpt-image-2', costBasis: 'price' });
    // Stability has 3:2 and no webp: the nearest shape, and PNG.
    expect(servers.bedrock.calls[0]?.body).toMatchObject({ aspect_ratio: '3:2', output_format: 'png' });
    expect(await usage()).toEqual({ images: 1, spend: 40_000, reserved: 0, global: 40_000 });
  });

  it('answers 503 and bills nothing when every model is busy', async () => {
    servers.openai.setFallback(errorReply(429, { code: 'rate_limit_exceeded' }));
    servers.gemini.setFallback(geminiError(429, 'RESOURCE_EXHAUSTED'));
    servers.bedrock.setFallback(bedrockError(429, 'ThrottlingException'));
    const response = await makeHandler()(post(), lambdaContext(60_000));
    expect(response.statusCode).toBe(503);
    expect(json(response)['error']['code']).toBe('provider_busy');
    expect([servers.openai.calls.length, servers.gemini.calls.length, servers.bedrock.calls.length]).toEqual([1, 1, 1]);
    expect(await servers.s3.keys()).toEqual([]);
    expect(await usage()).toMatchObject({ images: 0, spend: 0, reserved: 0 });
  });

  it('never falls back after a refusal: 422, and no other provider is asked', async () => {
    servers.openai.setFallback(errorReply(400, { code: 'moderation_blocked', message: 'refused' }));
    const response = await makeHandler()(post(), lambdaContext(60_000));
    expect(response.statusCode).toBe(422);
    expect(json(response)['error']['code']).toBe('content_policy_violation');
    expect([servers.openai.calls.length, servers.gemini.calls.length, servers.bedrock.calls.length]).toEqual([1, 0, 0]);
  });

  it('never falls back after a failure that may have billed: its estimate stays, nothing else is generated', async () => {
    servers.openai.setFallback(errorReply(500, { type: 'server_error' }));
    const response = await makeHandler()(post(), lambdaContext(60_000));
    expect(response.statusCode).toBe(502);
    expect([servers.openai.calls.length, servers.gemini.calls.length, servers.bedrock.calls.length]).toEqual([1, 0, 0]);
    const cost = estimatedCost(PROMPT);
    expect(await usage()).toEqual({ images: 1, spend: cost, reserved: 0, global: cost });
  });

  it("skips a fallback the caller's remaining budget cannot pay for, and takes the next that fits", async () => {
    servers.openai.setFallback(errorReply(503, { type: 'server_error' }));
    // $0.05 a day: the low gpt-image-2 image fits, Gemini Pro ($0.134) does not, Stable Image Core ($0.04) does.
    const response = await makeHandler({ DAILY_SPEND_LIMIT_USD: '0.05' })(post(), lambdaContext(60_000));
    expect(response.statusCode).toBe(201);
    expect(json(response)['model']).toBe(BEDROCK);
    expect([servers.openai.calls.length, servers.gemini.calls.length, servers.bedrock.calls.length]).toEqual([1, 0, 1]);
    expect(await usage()).toMatchObject({ images: 1, spend: 40_000, reserved: 0 });
  });

  it('falls back for previews only to models that stream them', async () => {
    servers.openai.setFallback(errorReply(503, { type: 'server_error' }));
    const response = await makeHandler()(post({ previews: 1 }), lambdaContext(60_000));
    expect(response.statusCode).toBe(503);
    expect([servers.openai.calls.length, servers.gemini.calls.length, servers.bedrock.calls.length]).toEqual([1, 0, 0]);
  });

  it('skips a provider that keeps failing for a cool-down, so it adds no wait, then tries it again', async () => {
    servers.openai.setFallback(errorReply(503, { type: 'server_error' }));
    let clock = Date.now();
    const handler = makeHandler(
      { MODEL_FALLBACKS: JSON.stringify({ 'gpt-image-2': [GEMINI] }), PROVIDER_BREAKER_FAILURES: '2', PROVIDER_BREAKER_SECONDS: '60' },
      { now: () => clock },
    );
    for (let request = 0; request < 4; request += 1) expect((await handler(post(), lambdaContext(60_000))).statusCode).toBe(201);
    // Two failures open the breaker: requests 3 and 4 go straight to Gemini.
    expect([servers.openai.calls.length, servers.gemini.calls.length]).toEqual([2, 4]);
    // After the cool-down OpenAI is tried again (and, answering again, serves the request itself).
    clock += 61_000;
    servers.openai.setFallback(imageReply(B64));
    const back = await handler(post(), lambdaContext(60_000));
    expect(json(back)['model']).toBe('gpt-image-2');
    expect(json(back)).not.toHaveProperty('requestedModel');
    expect([servers.openai.calls.length, servers.gemini.calls.length]).toEqual([3, 4]);
  });
});

describe('MODEL_FALLBACKS configuration', () => {
  it.each([
    ['not JSON', 'gpt-image-2=google/gemini-3-pro-image', 'must be a JSON object'],
    ['a model outside IMAGE_MODELS', JSON.stringify({ 'google/gemini-3-pro-image': [BEDROCK] }), 'not in IMAGE_MODELS'],
    ['an unknown fallback', JSON.stringify({ 'gpt-image-2': ['dall-e-3'] }), 'not a wired model'],
    ['itself as its fallback', JSON.stringify({ 'gpt-image-2': ['openai/gpt-image-2'] }), 'twice, or as its own fallback'],
    [
      'four fallbacks',
      JSON.stringify({ 'gpt-image-2': [GEMINI, BEDROCK, 'google/gemini-3.1-flash-image', 'bedrock/stability.sd3-5-large-v1:0'] }),
      '1 to 3',
    ],
  ])('refuses %s, naming the variable', (_name, value, message) => {
    expect(() => makeHandler({ MODEL_FALLBACKS: value })).toThrow(new RegExp(`MODEL_FALLBACKS.*${message}`));
  });

  it("needs a fallback's provider configured, like a listed model's", () => {
    expect(() => makeHandler({ GEMINI_API_KEY: '' })).toThrow(/GEMINI_API_KEY.*MODEL_FALLBACKS/);
  });
});
