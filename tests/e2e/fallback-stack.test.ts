import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStackProcess } from '../../scripts/stack-process.mjs';
import { checkContract } from '../support/contract.js';
import { pngOf } from '../support/fixtures.js';
import { OpenAITestServer, errorReply, imageReply } from '../support/openai-test-server.js';
import { geminiImage } from '../support/provider-replies.js';

/**
 * Fallback on the local stack (`npm start`, its worker through serverless-offline): OpenAI's stand-in first,
 * Gemini's behind it (MODEL_FALLBACKS). A busy OpenAI hands the image to Gemini; a refusal is final.
 */

const API_KEY = 'fallback-test-key-0123456789';
const OPENAI_PNG = pngOf(64, 48, 'openai image');
const GEMINI_PNG = pngOf(64, 48, 'gemini image');
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

let openai: OpenAITestServer;
let gemini: OpenAITestServer;
let stack: Awaited<ReturnType<typeof startStackProcess>>;

beforeAll(async () => {
  [openai, gemini] = await Promise.all([
    OpenAITestServer.start(imageReply(OPENAI_PNG.toString('base64'))),
    OpenAITestServer.start(geminiImage(GEMINI_PNG.toString('base64')), 'gemini'),
  ]);
  stack = await startStackProcess({
    apiKey: API_KEY,
    env: {
      IMAGE_PROVIDER: 'live',
      OPENAI_API_KEY: 'sk-stand-in',
      OPENAI_BASE_URL: openai.baseUrl,
      GEMINI_API_KEY: 'gemini-stand-in-key',
      GEMINI_BASE_URL: gemini.origin,
      MODEL_FALLBACKS: JSON.stringify({ 'gpt-image-2': ['google/gemini-3.1-flash-image'] }),
      PROVIDER_MAX_RETRIES: '0',
      MODERATION: 'off',
    },
  });
}, 130_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), openai?.close(), gemini?.close()]);
}, 30_000);

/** POST /images over HTTP, its answer checked against openapi.yaml. */
async function postImage(body: object): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${stack.ports.api}/images`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  checkContract('POST', '/images', { statusCode: response.status, headers: response.headers, body: text });
  return { status: response.status, json: JSON.parse(text) as Record<string, unknown> };
}

describe('npm start with a fallback model', () => {
  it('makes the image with the fallback when the first provider answers 503, and stores its bytes', async () => {
    openai.setFallback(errorReply(503, { type: 'server_error', message: 'overloaded' }));
    const { status, json } = await postImage({ prompt: 'a lighthouse at dusk', quality: 'low' });
    expect(status).toBe(201);
    expect(json).toMatchObject({ status: 'succeeded', model: 'google/gemini-3.1-flash-image', requestedModel: 'gpt-image-2' });
    const served = Buffer.from(await (await fetch(json['url'] as string)).arrayBuffer());
    // Gemini's image, as it answered it, with this service's Content Credentials added (the stand-in's carries none).
    expect(sha256(served)).toBe(json['sha256']);
    expect(served.includes(GEMINI_PNG.subarray(GEMINI_PNG.length >> 1))).toBe(true);
    expect(json['provenance']).toMatchObject({ manifest: 'service', valid: true });
    expect([openai.calls.length, gemini.calls.length]).toEqual([1, 1]);
  }, 30_000);

  it('fails with 422 when the first provider refuses the prompt, and asks no other', async () => {
    openai.reset(errorReply(400, { code: 'moderation_blocked', message: 'refused' }));
    gemini.reset(geminiImage(GEMINI_PNG.toString('base64')));
    const { status, json } = await postImage({ prompt: 'a lighthouse at night', quality: 'low' });
    expect(status).toBe(422);
    expect(json).toMatchObject({ error: { code: 'content_policy_violation' } });
    expect([openai.calls.length, gemini.calls.length]).toEqual([1, 0]);
  }, 30_000);

  it('uses the first provider again when it answers', async () => {
    openai.reset(imageReply(OPENAI_PNG.toString('base64')));
    const { status, json } = await postImage({ prompt: 'a lighthouse at noon', quality: 'low' });
    expect(status).toBe(201);
    expect(json['model']).toBe('gpt-image-2');
    expect(json).not.toHaveProperty('requestedModel');
  }, 30_000);
});
