import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import { createDependencies } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { withContract } from '../support/contract.js';
import { startCapture, type Capture } from '../support/capture-logs.js';
import { TEST_API_KEY, baseEnv } from '../support/env.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamo.js';
import { pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { OpenAITestServer, imageReply } from '../support/openai-test-server.js';
import { startLocalS3, type LocalS3 } from '../support/s3-server.js';

/**
 * Bad input, generated: every request below is wrong in at least one way by construction. Each must get a 4xx
 * JSON error, never a 5xx, and nothing may reach the provider or the bucket. Seeded, so a failure reproduces;
 * FUZZ_SEED and FUZZ_RUNS override.
 */
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261125);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 600);
const FIELDS = ['prompt', 'model', 'size', 'quality', 'format'];

let s3: LocalS3;
let dynamo: LocalDynamo;
let openai: OpenAITestServer;
let capture: Capture;
let handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const prompts: string[] = [];

beforeAll(async () => {
  [s3, dynamo, openai] = await Promise.all([
    startLocalS3(),
    startLocalDynamo(),
    OpenAITestServer.start(imageReply(pngOf(8, 8).toString('base64'))),
  ]);
  await dynamo.createTable('fuzz');
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
  const config = parseConfig(
    baseEnv({
      IMAGE_PROVIDER: 'openai',
      OPENAI_API_KEY: 'sk-fuzz-provider-key',
      OPENAI_BASE_URL: openai.baseUrl,
      IMAGE_MODELS: 'gpt-image-2,google/gemini-3-pro-image',
      GEMINI_API_KEY: 'fuzz-gemini-key',
      // Nothing listens there: no fuzzed request may reach a provider.
      GEMINI_BASE_URL: 'http://127.0.0.1:9',
      S3_ENDPOINT: s3.endpoint,
      IMAGE_BUCKET: s3.bucket,
      STATE_TABLE: 'fuzz',
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      MODERATION: 'fail-closed',
    }),
  );
  handler = withContract(createApiHandler(createDependencies(config, { dynamo: dynamo.client })) as unknown as typeof handler);
  capture = startCapture();
});

afterAll(async () => {
  capture.stop();
  await Promise.all([openai.close(), s3.stop(), dynamo.stop()]);
});

// Text of every kind: ASCII, any code point (lone surrogates included), emoji, RTL, invisible characters.
const oddText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.stringMatching(/^[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]{1,20}$/),
);
const prompt = fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }));
const anyJson = fc.jsonValue({ maxDepth: 3 });
const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(anyJson, { maxLength: 3 }),
  fc.dictionary(fc.string(), anyJson, { maxKeys: 3 }),
);

interface BadRequest {
  kind: string;
  body: string | undefined;
  headers: Record<string, string>;
}

const auth = { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' };
const request = (kind: string, body: unknown, headers: Record<string, string> = auth): BadRequest => ({
  kind,
  body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body),
  headers,
});

const badRequests: fc.Arbitrary<BadRequest> = fc.oneof(
  // The body is JSON but not an object.
  fc
    .oneof(fc.constant(null), fc.array(anyJson, { maxLength: 4 }), fc.string(), fc.integer(), fc.boolean())
    .map((body) => request('not an object', JSON.stringify(body))),
  // The body is not JSON at all.
  oddText
    .filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    })
    .map((text) => request('malformed JSON', text)),
  fc.constant(request('no body', undefined)),
  // A valid request plus a field that does not exist.
  fc
    .tuple(
      prompt,
      oddText.filter((key) => key !== '' && !FIELDS.includes(key)),
      anyJson,
    )
    .map(([p, key, value]) => request('unknown field', { prompt: p, [key]: value })),
  // prompt missing, of the wrong type, empty, invisible only, or too long.
  fc
    .oneof(
      fc.constant({}),
      notAString.map((value) => ({ prompt: value })),
      fc.constant({ prompt: '' }),
      // biome-ignore lint/suspicious/noMisleadingCharacterClass: each invisible character on its own is the point.
      fc.stringMatching(/^[\s\u200b\u200c\u200d\u2060\ufeff\u202e]{0,30}$/).map((value) => ({ prompt: value })),
      fc.integer({ min: 4001, max: 5000 }).map((n) => ({ prompt: '🦊'.repeat(n) })),
    )
    .map((body) => request('bad prompt', body)),
  // An enum field with a value the model does not take.
  fc
    .tuple(prompt, fc.constantFrom('model', 'size', 'quality', 'format'), fc.oneof(oddText, notAString))
    .filter(
      ([, field, value]) =>
        !(
          typeof value === 'string' &&
          ['gpt-image-2', 'google/gemini-3-pro-image', 'auto', 'low', 'medium', 'high', 'png', 'jpeg', 'webp'].includes(value)
        ) &&
        // Any WIDTHxHEIGHT may be a valid gpt-image-2 size.
        !(typeof value === 'string' && /^\d+x\d+$/.test(value)) &&
        !(field === 'model' && value === undefined),
    )
    .map(([p, field, value]) => request(`bad ${field}`, { prompt: p, [field]: value })),
  // A combination the chosen model does not support.
  prompt.map((p) => request('gemini with webp', { prompt: p, model: 'google/gemini-3-pro-image', format: 'webp' })),
  // Wrong or missing content type.
  fc
    .tuple(
      prompt,
      fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/jsonx', 'json', ''),
    )
    .map(([p, type]) => request('bad content type', { prompt: p }, { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': type })),
  prompt.map((p) => request('no content type', { prompt: p }, { authorization: `Bearer ${TEST_API_KEY}` })),
  // Missing, malformed or wrong credentials.
  fc
    .tuple(
      prompt,
      fc.oneof(
        fc.constant(undefined),
        oddText.map((t) => t.replace(/[\r\n]/g, '')),
        fc.string().map((t) => `Bearer ${t}`),
        fc.constant(`Basic ${TEST_API_KEY}`),
        fc.constant(`Bearer ${TEST_API_KEY}x`),
      ),
    )
    .filter(([, value]) => value !== `Bearer ${TEST_API_KEY}`)
    .map(([p, value]) =>
      request(
        'bad credentials',
        { prompt: p },
        value === undefined ? { 'content-type': 'application/json' } : { authorization: value, 'content-type': 'application/json' },
      ),
    ),
  // Huge bodies.
  fc.integer({ min: 16_385, max: 200_000 }).map((n) => request('oversized body', { prompt: 'x'.repeat(n) })),
  // A malformed Idempotency-Key on an otherwise valid request.
  fc
    .tuple(
      prompt,
      fc.oneof(
        fc.constant(''),
        fc.string({ minLength: 256, maxLength: 300 }),
        fc.string({ unit: 'grapheme', minLength: 1 }).filter((k) => /[^\x21-\x7e]/.test(k)),
      ),
    )
    .map(([p, key]) => request('bad idempotency key', { prompt: p }, { ...auth, 'idempotency-key': key })),
);

describe('fuzzing with bad input', () => {
  it(`answers ${RUNS} generated bad requests with 4xx JSON errors and never calls the provider (seed ${SEED})`, async () => {
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(badRequests, async (bad) => {
        kinds.set(bad.kind, (kinds.get(bad.kind) ?? 0) + 1);
        if (bad.body) prompts.push(bad.body);
        const event = httpEvent({ body: bad.body });
        event.headers = { ...bad.headers }; // exactly these headers, without the helper's default content type
        const response = await handler(event, lambdaContext());
        expect(response.statusCode).toBeGreaterThanOrEqual(400);
        expect(response.statusCode).toBeLessThan(500);
        expect(response.headers?.['content-type']).toBe('application/json; charset=utf-8');
        const body = JSON.parse(response.body ?? '') as { error: { code: string; message: string } };
        expect(Object.keys(body)).toEqual(['error']);
        expect(typeof body.error.code).toBe('string');
        expect(body.error.message.length).toBeGreaterThan(0);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(openai.calls).toHaveLength(0);
    expect(openai.moderationCalls).toHaveLength(0);
    expect(await s3.keys()).toEqual([]);
    // Every kind of defect was exercised.
    expect(kinds.size).toBeGreaterThanOrEqual(12);
  }, 120_000);

  it('logged no API key or request body along the way', () => {
    const output = capture.output();
    expect(output).not.toContain(TEST_API_KEY);
    for (const body of prompts.filter((text) => text.length >= 24).slice(0, 200)) {
      expect(output).not.toContain(body);
    }
  });
});
