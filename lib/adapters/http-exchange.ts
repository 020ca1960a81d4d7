import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';

/**
 * One HTTP request and its bounded answer over node:http, for the calls the functions make without an SDK of
 * their own: the signed AWS calls, the OpenAI API (images, moderations) and the JWT issuer's key set. (Webhook
 * deliveries have their own: a fresh connection through a checked DNS lookup, and only the status is kept.)
 *
 * Why not fetch: undici, which backs fetch, is loaded by Node on first use, and that load alone took 31 ms of a
 * fresh process on this machine (`node -e "globalThis.Headers"`), plus a web stream per body on every call; the
 * http module is loaded anyway (the S3 client uses it). Measured with `npm run bench` ("import plus first request",
 * README "Performance").
 */
export interface HttpExchange {
  url: URL;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers: Record<string, string>;
  body: Buffer;
  signal: AbortSignal;
  /** The most of the answer read for this status, counted after decompression. */
  maxBytes: (status: number) => number;
  /**
   * Reuse a kept-alive connection only if it has been idle at most this long (default: any). For calls that must
   * not be repeated blindly (a provider's billed generation); see `connectionReuse`.
   */
  maxIdleMs?: number;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The answer was longer than its limit: refused before it was read when it said so, else when it got there. */
export class ResponseTooLargeError extends Error {
  constructor(
    readonly limit: number,
    readonly status: number,
  ) {
    super(`answer longer than ${limit} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** Keep-alive agents, one per scheme: the calls of one container reuse their connections. */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * Why `maxIdleMs`: a Lambda container is frozen between invocations, for seconds or hours, and a server closes its
 * side of an idle connection meanwhile; the next request on that socket then fails with a reset. For a signed AWS
 * call that is retried like the SDK does; for a provider's generation it is "sent, outcome unknown": retried and
 * counted as possibly billed. So such calls close, rather than reuse, a connection idle longer than their bound,
 * measured by the wall clock, which (unlike the agent's own timers) moves while the container is frozen. The
 * clock is writable for tests.
 */
export const connectionReuse = { now: (): number => Date.now() };

/** When the last exchange with each `host:port` ended. */
const lastUsed = new Map<string, number>();

const originOf = (url: URL): string => `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;

/** Closes the kept-alive connections to `url`'s `host:port` when they have been idle longer than `maxIdleMs`. */
function dropStaleConnections(agent: HttpAgent, url: URL, maxIdleMs: number | undefined): void {
  if (maxIdleMs === undefined) return;
  const key = originOf(url);
  const last = lastUsed.get(key);
  if (last === undefined || connectionReuse.now() - last <= maxIdleMs) return;
  // The agent names its pools `host:port:<options>`.
  for (const [name, sockets] of Object.entries(agent.freeSockets)) {
    if (name.startsWith(`${key}:`)) for (const socket of sockets ?? []) socket.destroy();
  }
}

const markUsed = (url: URL): void => {
  lastUsed.set(originOf(url), connectionReuse.now());
};

const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The connection failed after the answer had begun (a reset or a length mismatch mid-body): the request was
 * received, so unlike a refused connection it may have been acted on. The socket error is its cause.
 */
const bodyError = (message: string, code: string, cause?: unknown): Error =>
  Object.assign(new Error(message, { cause }), { name: 'ResponseBodyError', code });

/** Our own deadline ended the exchange (named as fetch names it, so every caller tells it from a socket error). */
const aborted = (signal: AbortSignal): Error =>
  Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError' });

/**
 * Sends the request and reads the answer whole, within `maxBytes(status)` decoded bytes. Rejects with the socket
 * error when there was no answer (its `code` intact: ECONNREFUSED and the like mean "never sent"), a
 * `ResponseBodyError` when the answer was cut short (never a shorter body), an AbortError when `signal` ends it,
 * or {@link ResponseTooLargeError}.
 */
export function httpExchange(request: HttpExchange): Promise<HttpAnswer> {
  const https = request.url.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolve, reject) => {
    if (request.signal.aborted) {
      reject(aborted(request.signal));
      return;
    }
    let settled = false;
    const agent = https ? agents.https : agents.http;
    dropStaleConnections(agent, request.url, request.maxIdleMs);
    const outgoing = send(request.url, {
      method: request.method,
      // A GET without a body says nothing of one (some servers refuse a GET with a Content-Length).
      headers: request.method === 'GET' && request.body.length === 0 ? request.headers : { ...request.headers, 'content-length': String(request.body.length) },
      agent,
    });
    let reading: { destroy: () => void } | undefined;
    /** Ends the exchange once (the first of answer, failure or abort wins); false when it had already ended. */
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      markUsed(request.url);
      request.signal.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (error: Error): void => {
      if (!settle()) return;
      reading?.destroy();
      outgoing.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(aborted(request.signal));
    request.signal.addEventListener('abort', onAbort, { once: true });
    outgoing.on('error', fail);
    outgoing.on('response', (incoming: IncomingMessage) => {
      const status = incoming.statusCode ?? 0;
      const limit = request.maxBytes(status);
      const encoding = String(incoming.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      const decoder = encoding === 'identity' ? undefined : DECODERS[encoding];
      if (encoding !== 'identity' && !decoder) {
        fail(bodyError(`unsupported content-encoding ${encoding}`, 'ERR_CONTENT_ENCODING'));
        return;
      }
      // A compressed body's Content-Length counts what travels, not what is read: only an identity one bounds it.
      const announced = decoder ? NaN : Number(incoming.headers['content-length'] ?? NaN);
      if (announced > limit) {
        fail(new ResponseTooLargeError(limit, status));
        return;
      }
      // Read into one buffer of the announced size when there is one: a multi-megabyte image answer is not
      // held twice (chunks, then their concatenation).
      const exact = Number.isInteger(announced) ? Buffer.allocUnsafe(announced) : undefined;
      const chunks: Buffer[] = [];
      let length = 0;
      const source = decoder ? incoming.pipe(decoder()) : incoming;
      reading = source;
      const failBody = (error: Error): void =>
        fail(error.name === 'AbortError' || request.signal.aborted ? aborted(request.signal) : bodyError('answer cut short', String((error as { code?: unknown }).code ?? 'ECONNRESET'), error));
      incoming.on('error', failBody);
      source.on('error', failBody);
      source.on('data', (chunk: Buffer) => {
        if (length + chunk.length > (exact?.length ?? limit)) {
          incoming.destroy();
          fail(exact ? bodyError('answer longer than its Content-Length', 'ERR_LENGTH_MISMATCH') : new ResponseTooLargeError(limit, status));
          return;
        }
        if (exact) chunk.copy(exact, length);
        else chunks.push(chunk);
        length += chunk.length;
      });
      source.on('end', () => {
        if (exact && length !== exact.length) fail(bodyError('answer shorter than its Content-Length', 'ERR_LENGTH_MISMATCH'));
        else if (settle()) resolve({ status, headers: incoming.headers, body: exact ?? Buffer.concat(chunks, length) });
      });
      // The connection closed before the body ended (a reset mid-answer).
      incoming.on('close', () => {
        if (!incoming.complete) fail(request.signal.aborted ? aborted(request.signal) : bodyError('answer cut short', 'ECONNRESET'));
      });
    });
    outgoing.end(request.body);
  });
}
