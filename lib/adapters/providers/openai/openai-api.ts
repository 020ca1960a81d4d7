import { AppError, errorName } from '../../../errors.js';
import { httpExchange, ResponseTooLargeError, type HttpAnswer } from '../../http-exchange.js';
import { isAbort, providerFailures } from '../provider-failures.js';

/**
 * The two OpenAI API calls the service makes (`POST /images/generations`, `POST /moderations`), as JSON over
 * node:http, for OpenAI itself and Azure OpenAI's v1 API (`<endpoint>/openai/v1`, the same shapes).
 *
 * Why not the official SDK (`openai`): it was 395 KB of the 998 KB bundle, and its module body touches `Response`
 * and `Headers`, which makes Node load undici at import (31 ms of a fresh process here). Its import took 45 ms of
 * the handler's 102 ms cold import, for two request shapes whose retries and deadlines the adapters already did
 * themselves (the SDK's were turned off). Measured with `npm run bench` (cold import, import plus first request;
 * README "Performance"). What the SDK did for us is kept, and under test against a server speaking the API
 * (tests/support/openai-test-server.ts): the Bearer key (read per call, so a rotated SSM key is used), the JSON
 * bodies, error answers as status + `error.code`/`param`/`type` + Retry-After, bounded bodies (gzip included).
 */
export interface OpenAIApiOptions {
  /** `https://api.openai.com/v1`, `<endpoint>/openai/v1` for Azure, or a test server. */
  baseURL: string;
  /** The key, or a function reading it (an SSM parameter through its cache) before every call. */
  apiKey: string | (() => Promise<string>);
  /** The limit of a successful answer, by path (a moderation answer is a few KB, an image megabytes). */
  maxOkBytes: (path: string) => number;
  /** The limit of an error answer: a few KB in practice. */
  maxErrorBytes: number;
}

/** An error answer of the API (any status but 2xx), with what its body and headers said. */
export class OpenAIApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly param: string | undefined,
    readonly type: string | undefined,
    /** What `retry-after-ms` or `retry-after` asked for, if anything. */
    readonly retryAfterMs: number | undefined,
  ) {
    // The provider's message is not kept: it may quote the prompt.
    super(`OpenAI API answered ${status}${code ? ` (${code})` : ''}`);
    this.name = 'OpenAIApiError';
  }
}

export type OpenAIApi = (path: string, payload: unknown, timeoutMs: number) => Promise<Buffer>;

/**
 * The longest a kept-alive connection to the provider stays trusted (http-exchange.ts, `maxIdleMs`). Servers keep
 * idle connections for a minute or more (load balancers' usual 60 s, nginx's 75 s); half of that leaves a margin,
 * and a new TLS connection costs tens of milliseconds.
 */
const MAX_IDLE_MS = 30_000;

/** The default base URL, as the SDK had it. */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

export function openAIApi(options: OpenAIApiOptions): OpenAIApi {
  const base = options.baseURL.replace(/\/+$/, '');
  return async (path, payload, timeoutMs) => {
    const key = typeof options.apiKey === 'string' ? options.apiKey : await options.apiKey();
    const url = new URL(`${base}${path}`);
    const okLimit = options.maxOkBytes(url.pathname);
    let answer: HttpAnswer;
    try {
      answer = await httpExchange({
        url,
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          accept: 'application/json',
          // Base64 compresses by a quarter at most; inflating megabytes costs more CPU than the transfer saves
          // inside AWS. A server that compresses anyway is still read (and bounded after decoding).
          'accept-encoding': 'identity',
          'user-agent': 'durable-image-api',
        },
        body: Buffer.from(JSON.stringify(payload)),
        signal: AbortSignal.timeout(timeoutMs),
        maxBytes: (status) => (status >= 200 && status < 300 ? okLimit : options.maxErrorBytes),
        // A connection idle for longer may have been closed by the provider while the function was frozen: a
        // generation sent on it would fail "sent, outcome unknown" and be retried as possibly billed.
        maxIdleMs: MAX_IDLE_MS,
      });
    } catch (error) {
      if (error instanceof ResponseTooLargeError) {
        // The provider answered: what it did before answering may be billed (badAnswer says so).
        throw providerFailures.badAnswer({ reason: `provider answer over the ${error.limit}-byte limit`, providerStatus: error.status }, error);
      }
      throw error;
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    throw apiError(answer.status, answer.body, answer.headers);
  };
}

function apiError(status: number, body: Buffer, headers: Record<string, string | string[] | undefined>): OpenAIApiError {
  let error: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const inner = (parsed as { error?: unknown } | null)?.error;
    if (typeof inner === 'object' && inner !== null) error = inner as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML page): the status says what there is to say.
  }
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return new OpenAIApiError(status, text(error['code']), text(error['param']), text(error['type']), retryAfterMs(header('retry-after-ms'), header('retry-after')));
}

/** Milliseconds the provider asked us to wait, if it said (`retry-after-ms`, or `retry-after` in seconds or a date). */
function retryAfterMs(ms: string | undefined, after: string | undefined): number | undefined {
  const exact = Number.parseFloat(ms ?? '');
  if (Number.isFinite(exact) && exact >= 0) return exact;
  if (!after) return undefined;
  const seconds = Number.parseFloat(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(after);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504]);

/** Worth another attempt: a transient status (not an exhausted account), or a connection that failed (not our deadline). */
export const isRetryable = (error: unknown): boolean => {
  if (error instanceof AppError) return false;
  if (error instanceof OpenAIApiError) return RETRYABLE_STATUS.has(error.status) && error.code !== 'insufficient_quota';
  // An unreadable key will not be readable in a moment; an answer cut short was received, and it is not repeated
  // (as before, when the SDK handed the body to us).
  if (['SecretUnavailableError', 'ResponseBodyError'].includes(errorName(error))) return false;
  const code = (error as { code?: unknown } | undefined)?.code;
  // Socket errors (ECONNRESET, ECONNREFUSED...) may pass; Node's own ERR_* (an invalid URL or header) will not.
  return !isAbort(error) && typeof code === 'string' && !code.startsWith('ERR_');
};

/** The wait before the next attempt: what the provider asked for, else exponential backoff with jitter (0.5 s doubling to 8 s, the SDK's curve). */
export const retryWaitMs = (error: unknown, attempt: number): number =>
  (error instanceof OpenAIApiError ? error.retryAfterMs : undefined) ?? Math.min(500 * 2 ** attempt, 8_000) * (0.75 + Math.random() * 0.25);
