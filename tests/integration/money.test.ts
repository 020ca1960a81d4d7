import { describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { verifyImage } from '../../lib/domain/image-format.js';
import { TEST_API_KEY } from '../support/env.js';
import { fixture, maskPng, pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { captureOutput } from '../support/capture-logs.js';
import { errorReply, imageReply } from '../support/openai-test-server.js';
import { geminiImage } from '../support/provider-replies.js';
import { useProviderStandIns, type Handler } from '../support/provider-stand-ins.js';

/**
 * Bills to the cent, through the real handler on s3rver, dynalite and the providers' wire protocols: what a provider
 * would refuse is refused before anything is reserved (also on the fallback path), a custom size is reserved at
 * OpenAI's own figure, the image is stored as its bytes say, and a settlement above its reservation is an alarm.
 */

const PROMPT = 'a harbour at dawn';
const PNG = pngOf(64, 64, 'money');
const SD35 = 'bedrock/stability.sd3-5-large-v1:0';
const GEMINI = 'google/gemini-3.1-flash-image';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = Record<string, any>;

const stand = useProviderStandIns(PNG, 'money');
const { servers } = stand;
const makeHandler = (env: Record<string, string> = {}): Handler =>
  stand.makeHandler({ IMAGE_MODELS: `gpt-image-2,${SD35},${GEMINI}`, ...env });

const post = (path: string, body: object): APIGatewayProxyEventV2 =>
  httpEvent({ path, body: JSON.stringify(body), headers: { authorization: `Bearer ${TEST_API_KEY}` } });
const json = (response: APIGatewayProxyStructuredResultV2): Json => JSON.parse(response.body ?? '{}') as Json;

/** The caller's quota item: undefined fields when nothing was ever reserved today. */
async function usage(): Promise<{ images: unknown; spend: unknown }> {
  const quota = (await servers.dynamo.items(servers.table)).find((item) => String(item['pk']).startsWith('quota#api-key:web-app#'));
  return { images: quota?.['images'], spend: quota?.['spendMicroUsd'] };
}

async function upload(handler: Handler, bytes: Buffer, contentType = 'image/png'): Promise<string> {
  const ticket = json(await handler(post('/uploads', { contentType }), lambdaContext()));
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket['fields'] as Record<string, string>)) form.append(name, value);
  form.append('file', new Blob([new Uint8Array(bytes)], { type: contentType }), 'upload');
  const sent = await fetch(ticket['url'] as string, { method: 'POST', body: form });
  expect(sent.status).toBeLessThan(300);
  return ticket['id'] as string;
}

/** Provider calls of every kind, moderation included (the OpenAI stand-in serves /v1/moderations too). */
const providerCalls = (): number[] => [servers.openai.calls.length, servers.gemini.calls.length, servers.bedrock.calls.length];

describe('refused before anything is reserved, as the provider would refuse it', () => {
  it('refuses a mask on a JPEG image (OpenAI: image and mask of the same format) with 400, nothing reserved', async () => {
    // Prepare: a real JPEG and a transparent PNG mask of its size.
    const handler = makeHandler();
    const jpeg = fixture('small.jpg');
    const info = verifyImage(jpeg);
    const image = await upload(handler, jpeg, 'image/jpeg');
    const mask = await upload(handler, maskPng(info.width, info.height));
    // Act
    const response = await handler(
      post('/images', { prompt: PROMPT, images: [{ upload: image }], mask: { upload: mask } }),
      lambdaContext(),
    );
    // Assess
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']).toMatchObject({ code: 'invalid_request' });
    expect(json(response)['error']['message']).toMatch(/^"images\[0\]" must be a PNG when a mask is given/);
    expect(providerCalls()).toEqual([0, 0, 0]);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });

  it.each([
    [4096, 4096],
    [16, 4096],
  ])("refuses a %ix%i input to SD3.5 (outside Stability's limits) with 400, nothing reserved", async (width, height) => {
    const handler = makeHandler();
    const image = await upload(handler, pngOf(width, height, 'large'));
    const response = await handler(post('/images', { prompt: PROMPT, model: SD35, images: [{ upload: image }] }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']['message']).toBe(
      `"images[0]" is ${width}x${height}; model ${SD35} takes images with each side at least 64 pixels, ` +
        '4096-9437184 pixels in all and an aspect ratio of at most 2.5:1.',
    );
    expect(providerCalls()).toEqual([0, 0, 0]);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });

  it('refuses an upload that does not exist at admission: no reservation, no moderation call, no worker', async () => {
    const handler = makeHandler({ MODERATION: 'fail-closed' });
    const response = await handler(post('/images', { prompt: PROMPT, images: [{ upload: 'AAAAAAAAAAAAAAAAAAAAAA' }] }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']['message']).toBe(
      '"images[0]" names no upload: it was never completed, or has expired (uploads are kept one day).',
    );
    expect(servers.openai.calls.map((call) => call.path)).toEqual([]);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });

  it('bounds upload forms per caller per day (DAILY_UPLOAD_LIMIT): past it, 429 with Retry-After', async () => {
    const handler = makeHandler({ DAILY_UPLOAD_LIMIT: '2' });
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await handler(post('/uploads', { contentType: 'image/png' }), lambdaContext()));
    expect(answers.map((answer) => answer.statusCode)).toEqual([201, 201, 429]);
    expect(json(answers[2] as APIGatewayProxyStructuredResultV2)['error']).toMatchObject({ code: 'quota_exceeded' });
    expect(Number(answers[2]?.headers?.['retry-after'] ?? answers[2]?.headers?.['Retry-After'])).toBeGreaterThan(0);
  });

  it('counts input refusals toward a per-caller bound (DAILY_INPUT_REFUSAL_LIMIT): past it, 429, still nothing reserved', async () => {
    const handler = makeHandler({ DAILY_INPUT_REFUSAL_LIMIT: '2' });
    const missing = () => post('/images', { prompt: PROMPT, images: [{ upload: 'AAAAAAAAAAAAAAAAAAAAAA' }] });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await handler(missing(), lambdaContext())).statusCode);
    expect(statuses).toEqual([400, 400, 429]);
    expect(providerCalls()).toEqual([0, 0, 0]);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });

  it('passes over a fallback that cannot take the input (SD3.5 and a 4096x4096 image): busy is 503, nothing billed', async () => {
    // Prepare: gpt-image-2 takes the image; its fallback SD3.5 does not.
    const handler = makeHandler({ MODEL_FALLBACKS: JSON.stringify({ 'gpt-image-2': [SD35] }) });
    const image = await upload(handler, pngOf(4096, 4096, 'large'));
    servers.openai.enqueue(errorReply(503, { type: 'server_error', message: 'overloaded' }));
    // Act
    const response = await handler(post('/images', { prompt: PROMPT, quality: 'low', images: [{ upload: image }] }), lambdaContext());
    // Assess: SD3.5 never called; the reservation went back.
    expect(response.statusCode).toBe(503);
    expect(servers.bedrock.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: 0, spend: 0 });
  });
});

describe('reservations at the providers own figures', () => {
  it('admits 3840x2160 high (about $0.40 by OpenAI’s calculator) for a caller with a $0.50 day', async () => {
    const handler = makeHandler({ PRINCIPAL_LIMITS: JSON.stringify({ 'api-key:web-app': { dailySpendUsd: 0.5 } }) });
    const response = await handler(post('/images', { prompt: PROMPT, size: '3840x2160', quality: 'high' }), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(servers.openai.calls.at(-1)?.body).toMatchObject({ size: '3840x2160', quality: 'high' });
  });

  it('logs and counts a settlement above its reservation, and refuses the caller over its cap until the day resets', async () => {
    // Prepare: a $0.05 day; the provider reports far more output tokens than low 1024x1024 can make ($0.30).
    const handler = makeHandler({ PRINCIPAL_LIMITS: JSON.stringify({ 'api-key:web-app': { dailySpendUsd: 0.05 } }) });
    servers.openai.enqueue({
      kind: 'json',
      body: { created: 1, data: [{ b64_json: PNG.toString('base64') }], usage: { input_tokens: 50, output_tokens: 10_000 } },
    });
    // Act
    const { result: response, output } = await captureOutput(() =>
      handler(post('/images', { prompt: PROMPT, quality: 'low', size: '1024x1024' }), lambdaContext()),
    );
    // Assess: settled as reported, logged with both figures, counted for the alarm.
    expect(response.statusCode).toBe(201);
    expect(json(response)['costUsd']).toBe((50 * 5 + 10_000 * 30) / 1e6);
    const line = output.split('\n').find((entry) => entry.includes('settled above the reservation'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ settledMicroUsd: 300_250, reservedMicroUsd: expect.any(Number) });
    expect(output).toContain('"SettledOverReservation":1');
    expect(await usage()).toEqual({ images: 1, spend: 300_250 });
    // Over its cap: no new reservation, even for the cheapest image.
    servers.openai.reset(imageReply(PNG.toString('base64')));
    const next = await handler(post('/images', { prompt: PROMPT, quality: 'low' }), lambdaContext());
    expect(next.statusCode).toBe(429);
    expect(servers.openai.calls.filter((call) => call.path.endsWith('/images/generations'))).toHaveLength(0);
  });
});

describe('the image made, as it is', () => {
  it('stores a Gemini JPEG answer as image/jpeg under a .jpg key, and serves it as such', async () => {
    const jpeg = fixture('small.jpg');
    servers.gemini.reset(geminiImage(jpeg.toString('base64'), 'image/jpeg', PNG.toString('base64')));
    const response = await makeHandler()(post('/images', { prompt: PROMPT, model: GEMINI }), lambdaContext());
    expect(response.statusCode).toBe(201);
    const image = json(response);
    expect(image).toMatchObject({ contentType: 'image/jpeg', bytes: jpeg.length });
    expect(image['key']).toMatch(/\.jpg$/);
    const stored = await servers.s3.get(image['key'] as string);
    expect(stored.body.equals(jpeg)).toBe(true);
    expect(stored.contentType).toBe('image/jpeg');
  });

  it('refuses a format for Gemini, which chooses its own (400 naming the field)', async () => {
    const response = await makeHandler()(post('/images', { prompt: PROMPT, model: GEMINI, format: 'png' }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']['message']).toBe(`"format" is not supported by model ${GEMINI}: it answers PNG or JPEG as it chooses.`);
    expect(providerCalls()).toEqual([0, 0, 0]);
  });
});
