/**
 * Bundled by bench/run.mjs: the OpenAI adapter on the openai SDK client as the composition root builds them (its
 * bounded fetch included), asked for previews, so the probe measures what streaming an image through the SDK's
 * event-stream parser costs in memory, against the same image answered as JSON. The streamed image limit is the
 * probe's to set: a 20 MiB image is measured streamed to show why previews stop at 2048x1536.
 */
import { createOpenAIClient } from '../lib/adapters/providers/openai/openai-client.js';
import { OpenAIImageGenerator } from '../lib/adapters/providers/openai/openai-image-generator.js';
import { maxBase64Length } from '../lib/domain/base64.js';

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

export function makeGeneration(openaiBaseUrl: string, previews: number): () => Promise<number> {
  const client = createOpenAIClient({
    baseURL: openaiBaseUrl,
    apiKey: 'sk-bench',
    maxOkBytes: (_path, contentType) =>
      (maxBase64Length(MAX_IMAGE_BYTES) + 64 * 1024) * (contentType.startsWith('text/event-stream') ? 4 : 1),
    maxErrorBytes: 64 * 1024,
  });
  const generator = new OpenAIImageGenerator(client, {
    maxRetries: 0,
    maxImageBytes: MAX_IMAGE_BYTES,
    maxStreamedImageBytes: MAX_IMAGE_BYTES,
    minAttemptMs: 1_000,
  });
  return async () => {
    const image = await generator.generate(
      { prompt: 'a lighthouse', model: 'gpt-image-2', size: '1536x1024', quality: 'high', format: undefined, endUserId: 'bench', previews },
      Date.now() + 60_000,
      // What the worker does with a preview is measured elsewhere (its PUT): here the stream's own cost.
      { onPreview: async () => undefined },
    );
    return image.bytes.length;
  };
}
