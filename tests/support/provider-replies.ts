import type { Reply } from './openai-test-server.js';

/**
 * Replies in Bedrock Runtime's and the Gemini API's real shapes, for the provider test servers
 * (tests/support/openai-test-server.ts with protocol 'bedrock' or 'gemini').
 */

/** A Stability answer on Bedrock InvokeModel: the image in `images`, `finish_reasons` null when not filtered. */
export const bedrockImage = (b64: string): Reply => ({
  kind: 'json',
  body: { seeds: [2130420379], finish_reasons: [null], images: [b64] },
});

/** A Stability answer whose prompt or image was filtered ("Filter reason: prompt", "Filter reason: output image"). */
export const bedrockFiltered = (reason: string): Reply => ({
  kind: 'json',
  body: { seeds: [2130420379], finish_reasons: [reason], images: [] },
});

/** A Bedrock Runtime error: the status, the error type in x-amzn-ErrorType, and a message body (restJson1). */
export const bedrockError = (status: number, type: string, message = `${type}: provider says no`): Reply => ({
  kind: 'json',
  status,
  headers: { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
  body: { message },
});

/**
 * A Gemini generateContent answer as a Gemini 3 image model gives it: a thought summary and an interim image marked
 * `thought: true` (not the answer), then the image as an inline part with its mimeType, and a usage split by
 * modality with thinking apart (`thoughtsTokenCount`), as @google/genai 3.3's GenerateContentResponseUsageMetadata
 * types it and the Gemini API's thinking guide shows (https://ai.google.dev/gemini-api/docs/thinking).
 */
export const geminiImage = (b64: string, mimeType = 'image/png', thoughtB64 = b64): Reply => ({
  kind: 'json',
  body: {
    candidates: [
      {
        content: {
          role: 'model',
          parts: [
            { text: '**Composing the scene**', thought: true },
            { inlineData: { mimeType: 'image/png', data: thoughtB64 }, thought: true },
            { inlineData: { mimeType, data: b64 } },
          ],
        },
        finishReason: 'STOP',
        index: 0,
      },
    ],
    usageMetadata: GEMINI_USAGE,
    modelVersion: 'gemini-3-pro-image',
  },
});

/** The usage of geminiImage: 12 prompt tokens; 1,180 candidate tokens (1,120 image, 60 text); 150 thinking. */
const GEMINI_USAGE = {
  promptTokenCount: 12,
  candidatesTokenCount: 1_180,
  thoughtsTokenCount: 150,
  totalTokenCount: 1_342,
  promptTokensDetails: [{ modality: 'TEXT', tokenCount: 12 }],
  candidatesTokensDetails: [
    { modality: 'IMAGE', tokenCount: 1_120 },
    { modality: 'TEXT', tokenCount: 60 },
  ],
};

/** What GEMINI_USAGE settles to on gemini-3-pro-image: $2/M in, $120/M image out, $12/M text and thinking out. */
export const GEMINI_PRO_SETTLED = 12 * 2 + 1_120 * 120 + (60 + 150) * 12;

/** A Gemini answer whose candidate a safety system ended (finishReason), or whose prompt it blocked. */
export const geminiBlocked = (where: 'prompt' | 'image'): Reply => ({
  kind: 'json',
  body:
    where === 'prompt'
      ? { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 12 } }
      : { candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'IMAGE_SAFETY', index: 0 }] },
});

/** A Gemini API error (google.rpc.Status JSON), with an ErrorInfo reason when given (API_KEY_INVALID). */
export const geminiError = (code: number, status: string, reason?: string): Reply => ({
  kind: 'json',
  status: code,
  body: {
    error: {
      code,
      message: 'provider says no',
      status,
      ...(reason ? { details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }] } : {}),
    },
  },
});
