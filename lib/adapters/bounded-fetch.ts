import { providerFailures } from './providers/provider-failures.js';

/**
 * A `fetch` that bounds every body it hands out while it is read, the ones an SDK reads itself included: an unbounded
 * read lets one huge answer take a function past its memory. Given to the openai SDK and
 * the Gemini SDK (@google/genai) as their `fetch`, and used for the JWT issuer's key set. A successful answer may
 * be as large as the largest image's base64; anything else (an error body) is a few KB in practice and gets
 * `maxErrorBytes`. Counted on the decoded bytes. An oversized answer is, by default, the provider's bad answer (it
 * answered, so it may have billed); `tooLarge` says what it is for another caller.
 */
export function boundedFetch(options: {
  /** The limit of a successful answer, by request path and content type (an event stream carries several images). */
  maxOkBytes: (path: string, contentType: string) => number;
  maxErrorBytes: number;
  /** The error for an answer over its limit (default: the provider's bad answer, which may have been billed). */
  tooLarge?: (limit: number, status: number) => Error;
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
    const limit = response.ok
      ? options.maxOkBytes(new URL(url).pathname, response.headers.get('content-type') ?? '')
      : options.maxErrorBytes;
    // The provider answered: what it did before answering may be billed (badAnswer says so).
    const tooLarge = (): Error =>
      options.tooLarge?.(limit, response.status) ??
      providerFailures.badAnswer({ reason: `provider answer over the ${limit}-byte limit`, providerStatus: response.status });
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

/**
 * The length a response announces for its decoded body, or NaN. With a `Content-Encoding` (the SDK asks for
 * gzip), `Content-Length` counts the compressed bytes while the body arrives decoded: the length says nothing
 * about what will be read, and only the decoded bytes are counted against the limit.
 */
function announcedLength(response: Response): number {
  const encoding = response.headers.get('content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return NaN;
  return Number(response.headers.get('content-length') ?? NaN);
}
