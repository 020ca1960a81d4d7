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

/** A Gemini generateContent answer with one inline PNG part. */
export const geminiImage = (b64: string, mimeType = 'image/png'): Reply => ({
  kind: 'json',
  body: {
    candidates: [{ content: { role: 'model', parts: [{ inlineData: { mimeType, data: b64 } }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 1120, totalTokenCount: 1132 },
    modelVersion: 'gemini-3-pro-image',
  },
});

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
