// Shared by `npm run load` and `npm run bench`: test images, a zero-delay OpenAI-compatible provider, the local
// stack (exactly what `npm start` runs) on free ports, and statistics.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { encodePng } from '../lib/domain/png-encoder.ts';
import { startStackProcess } from '../scripts/stack-process.mjs';

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * A PNG whose first `noiseFraction` of rows are pseudo-random (incompressible) and the rest flat, so its size can
 * be chosen: 1536x1024 at 0.63 is about 3 MB, like a detailed gpt-image answer.
 */
export function makePng(width, height, noiseFraction = 1, seed = 7) {
  const rgb = new Uint8Array(width * height * 3);
  const noisyBytes = Math.floor(height * noiseFraction) * width * 3;
  let state = seed;
  for (let i = 0; i < noisyBytes; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    rgb[i] = state & 0xff;
  }
  rgb.fill(128, noisyBytes);
  return encodePng(width, height, rgb);
}

/** An OpenAI-compatible server that answers every generation at once with the same image. */
export async function startZeroDelayProvider(png) {
  const imageBody = Buffer.from(JSON.stringify({ created: 1, data: [{ b64_json: png.toString('base64') }], usage: { total_tokens: 1 } }));
  const moderationBody = Buffer.from(JSON.stringify({ results: [{ flagged: false, categories: {} }] }));
  let generations = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = req.url === '/v1/moderations' ? moderationBody : imageBody;
      if (req.url === '/v1/images/generations') generations += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}/v1`,
    generations: () => generations,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** One server-sent event of OpenAI's streaming Images API (`image_generation.partial_image` / `.completed`). */
export const sseFrame = (type, data) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, created_at: 1, output_format: 'png', ...data })}\n\n`;

/**
 * An OpenAI-compatible server that streams every generation (`stream: true`) as the Images API does: one
 * `image_generation.partial_image` event per preview asked, `gapMs` apart, then `image_generation.completed`.
 * `partialsSentAt` holds when (epoch ms) each partial image was written, by image and index.
 */
export async function startStreamingProvider(png, partialPng, gapMs) {
  const frame = sseFrame;
  const moderationBody = Buffer.from(JSON.stringify({ results: [{ flagged: false, categories: {} }] }));
  const partialsSentAt = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      if (req.url === '/v1/moderations') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': moderationBody.length }).end(moderationBody);
        return;
      }
      const asked = JSON.parse(Buffer.concat(chunks).toString('utf8')).partial_images ?? 0;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const sent = [];
      partialsSentAt.push(sent);
      for (let index = 0; index < asked; index += 1) {
        await new Promise((resolve) => setTimeout(resolve, gapMs));
        await new Promise((resolve) =>
          res.write(
            frame('image_generation.partial_image', { b64_json: partialPng.toString('base64'), partial_image_index: index }),
            resolve,
          ),
        );
        sent.push(Date.now());
      }
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      res.end(frame('image_generation.completed', { b64_json: png.toString('base64'), usage: { input_tokens: 1, output_tokens: 1 } }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}/v1`,
    partialsSentAt,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** What the benchmarks sign their own calls to the stack's S3 and DynamoDB with (its ports check signatures). */
export const STACK_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'bench-local-secret' };

/** The local stack with the given provider (or the offline one) and limits high enough not to interfere. */
export function startStack({ providerBaseUrl, env = {} }) {
  return startStackProcess({
    apiKey: 'bench-local-key',
    env: {
      ...(providerBaseUrl ? { OPENAI_API_KEY: 'sk-bench-not-a-real-key', OPENAI_BASE_URL: providerBaseUrl } : { OPENAI_API_KEY: '' }),
      ...env,
      MODERATION: 'off',
      DAILY_IMAGE_LIMIT: '1000000',
      DAILY_SPEND_LIMIT_USD: '1000000',
      GLOBAL_DAILY_SPEND_LIMIT_USD: '1000000',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      LOCAL_AWS_SECRET_ACCESS_KEY: STACK_CREDENTIALS.secretAccessKey,
    },
  });
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

export const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** Runs `task(i)` for i in [0, total) with at most `concurrency` in flight. */
export async function pool(total, concurrency, task) {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) {
      const index = next;
      next += 1;
      await task(index);
    }
  });
  await Promise.all(workers);
}
