import { AppError } from '../errors.js';
import { announcedLength } from './openai-image-answer.js';

/**
 * A `fetch` for the OpenAI SDK that bounds every body read from the provider, the ones the SDK reads itself
 * included: error bodies and moderation answers were read whole, and a 300 MB answer took the process to 1.4 GB
 * in a 512 MB function (red team). A successful answer may be as large as the largest image's base64; anything
 * else (an error body) is a few KB in practice and gets `maxErrorBytes`. Counted on the decoded bytes.
 */
export function boundedFetch(options: {
  /** The limit of a successful answer, by request path (a moderation answer is a few KB, an image megabytes). */
  maxOkBytes: (path: string) => number;
  maxErrorBytes: number;
}): typeof fetch {
  return async (input, init) => {
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      // fetch reports a refused or reset socket as TypeError("fetch failed") with the socket error as its cause.
      // Passed on as an Error of this realm with that code on it, so every SDK above keeps it as an Error (one
      // wrapped it as "Non-error was thrown") and the adapters can tell "never sent" from "sent, no answer".
      const name = (error as { name?: unknown } | undefined)?.name;
      if (name === 'AbortError' || name === 'TimeoutError') throw error;
      const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
      throw Object.assign(new Error(`fetch failed${typeof code === 'string' ? `: ${code}` : ''}`, { cause: error }), { code });
    }
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const limit = response.ok ? options.maxOkBytes(new URL(url).pathname) : options.maxErrorBytes;
    const tooLarge = (): AppError =>
      new AppError('bad_provider_response', 'The image provider returned an unreadable response.', {
        details: { reason: `provider answer over the ${limit}-byte limit`, providerStatus: response.status },
        // The provider answered: what it did before answering may be billed.
        mayBeBilled: true,
      });
    const announced = announcedLength(response);
    if (Number.isFinite(announced) && announced > limit) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    // An uncompressed body within an announced length is already bounded: fetch refuses one that runs past its
    // Content-Length. Only the others go through the counting stream (a web stream per body is not free).
    if (!response.body || Number.isFinite(announced)) return response;
    let read = 0;
    const limited = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          read += chunk.byteLength;
          if (read > limit) {
            controller.error(tooLarge());
            return;
          }
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(limited, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
