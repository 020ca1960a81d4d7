/**
 * OpenAI's image API, spoken at `/v1`: what an OpenAI SDK sends becomes the native request, and the native answer
 * and errors become what the SDK reads (`{ created, data[], usage }`; `{ error: { message, type, param, code } }`).
 * Pure translation: the request runs through the same use case as `POST /images`.
 *
 * The field names and values are those of OpenAI's API reference for `POST /v1/images/generations` (gpt-image
 * models), read 2026-11-30.
 */
import { AppError, toErrorResponse } from '../errors.js';
import type { ImageResource } from '../domain/image-job.js';
import { safeFieldName } from '../domain/image-request.js';
import { parseModelName } from '../domain/models.js';
import type { ErrorDialect } from '../middleware/error-response.js';

/**
 * How the answer carries the image: `both` (OpenAI's default for GPT image models is `b64_json`; this service adds
 * the permanent `url`, which is its point: both are fields of OpenAI's image object, and an SDK reads either), or
 * `url` alone when `response_format: "url"` asks for it. `response_format: "b64_json"` answers both as well: the
 * bytes the caller asked for, and the URL it would otherwise have to build.
 */
export type ResponseFormat = 'url' | 'both';

/** The native body (`POST /images`) and how the answer is wanted. */
export interface TranslatedRequest {
  body: {
    prompt: unknown;
    model?: unknown;
    size?: unknown;
    quality?: unknown;
    format?: unknown;
    background?: unknown;
    compression?: unknown;
    moderation?: unknown;
  };
  responseFormat: ResponseFormat;
}

/**
 * OpenAI's fields passed on, each under its native name (`POST /images`'s), and OpenAI's default for it where the
 * native API has one. A value at that default is left out, as the native API leaves it: a model that takes no such
 * setting is then not refused for the SDK's spelling of "the default".
 */
const PASSED_ON: readonly (readonly [openAI: string, native: Exclude<keyof TranslatedRequest['body'], 'prompt'>, byDefault?: unknown])[] = [
  ['model', 'model'],
  ['size', 'size'],
  // OpenAI's `auto` quality is this service's default (left out), as in OpenAI's own API.
  ['quality', 'quality', 'auto'],
  ['output_format', 'format'],
  ['background', 'background', 'auto'],
  ['moderation', 'moderation', 'auto'],
  ['output_compression', 'compression', 100],
];

/** OpenAI's parameter name for a native field, so that a refusal names what the caller sent. */
export const OPENAI_PARAM: Readonly<Record<string, string>> = Object.fromEntries(
  PASSED_ON.filter(([openAI, native]) => openAI !== native).map(([openAI, native]) => [native, openAI]),
);

const refuse = (param: string, message: string): AppError => new AppError('invalid_request', message, { details: { field: param } });

/** Fields of OpenAI's API this endpoint does not serve, with why. */
const NOT_SERVED: Readonly<Record<string, string>> = {
  style: '"style" is a dall-e-3 parameter; the models of this service do not take it.',
};

const KNOWN = new Set([
  'model',
  'prompt',
  'size',
  'quality',
  'output_format',
  'output_compression',
  'background',
  'moderation',
  'n',
  'stream',
  'partial_images',
  'response_format',
  'user',
  'safety_identifier',
]);

/**
 * `n`: one image per request. Each image is a resource of its own, with its own quota reservation, job and
 * permanent URL; several in one answer would make one request wait for the slowest and share one fate, where
 * separate requests are admitted, billed and retried one by one.
 */
export function translateGenerationRequest(raw: unknown): TranslatedRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw refuse('body', 'The request body must be a JSON object.');
  const body = raw as Record<string, unknown>;
  for (const [field, why] of Object.entries(NOT_SERVED)) if (field in body) throw refuse(field, why);
  for (const field of Object.keys(body)) {
    if (!KNOWN.has(field)) {
      // The caller's text: cut and made printable before it reaches a message or a log.
      const name = safeFieldName(field);
      throw refuse(name, `Unrecognized request argument supplied: ${name}`);
    }
  }
  const given = (field: string): boolean => body[field] !== undefined && body[field] !== null;
  if (given('stream') && body['stream'] !== false) {
    throw refuse('stream', "Invalid value for 'stream': streaming is not served by this endpoint yet; leave it out or send false.");
  }
  if (given('partial_images') && body['partial_images'] !== 0) {
    throw refuse(
      'partial_images',
      "Invalid value for 'partial_images': partial images need 'stream', which this endpoint does not serve yet.",
    );
  }
  if (given('n') && body['n'] !== 1) {
    throw refuse('n', "Invalid value for 'n': this service generates one image per request (n=1); send one request per image.");
  }
  const format = body['response_format'] ?? 'b64_json';
  if (format !== 'url' && format !== 'b64_json') {
    throw refuse('response_format', "Invalid value for 'response_format': must be 'url' or 'b64_json'.");
  }
  for (const field of ['user', 'safety_identifier']) {
    const value = body[field];
    if (given(field) && (typeof value !== 'string' || value.length > 256)) {
      throw refuse(field, `Invalid value for '${field}': must be a string of at most 256 characters.`);
    }
  }
  const native: TranslatedRequest['body'] = { prompt: body['prompt'] };
  for (const [openAI, name, byDefault] of PASSED_ON) if (given(openAI) && body[openAI] !== byDefault) native[name] = body[openAI];
  return { body: native, responseFormat: format === 'url' ? 'url' : 'both' };
}

/** The OpenAI `type` of an error, by status, as OpenAI's API answers them. */
const typeOf = (status: number, code: string): string => {
  if (code === 'quota_exceeded' || code === 'spend_cap_reached') return 'insufficient_quota';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
};

/** Refusals a retry cannot change: the SDKs would otherwise retry a 429 (and 5xx) on their own. */
const FINAL_CODES = new Set(['quota_exceeded', 'spend_cap_reached', 'payload_too_large']);

/**
 * An error in OpenAI's shape, with the status that makes the SDKs raise their typed error. `x-should-retry: false`
 * (which the SDKs obey) wherever the provider may have billed, so an automatic retry never pays twice.
 */
export function openAIErrorResponse(
  error: unknown,
  requestId: string,
): { statusCode: number; headers: Record<string, string>; body: string } {
  const { statusCode, headers, body } = toErrorResponse(error, requestId);
  const code = body.error.code;
  const appError = error instanceof AppError ? error : undefined;
  const field = appError?.details['field'];
  const param = typeof field === 'string' && field !== 'body' ? (OPENAI_PARAM[field] ?? field) : null;
  const billed = appError?.mayBeBilled ?? false;
  // A refusal by moderation is OpenAI's 400 `moderation_blocked` for the gpt-image models.
  const refused = code === 'content_policy_violation';
  const status = refused ? 400 : statusCode;
  const shown = {
    error: {
      message: body.error.message,
      type: refused ? 'image_generation_user_error' : typeOf(statusCode, code),
      param,
      code: refused ? 'moderation_blocked' : code === 'unauthorized' ? 'invalid_api_key' : code,
    },
  };
  const noRetry = billed || FINAL_CODES.has(code);
  return {
    statusCode: status,
    headers: { ...headers, ...(noRetry ? { 'x-should-retry': 'false' } : {}) },
    body: JSON.stringify(shown),
  };
}

/**
 * The error dialect of `/v1` for the shared error middleware: OpenAI's shape, with the request id where OpenAI puts
 * it (`x-request-id`), for requests under `/v1/`; undefined (the API's own contract) for any other.
 */
export const openAIErrorDialect: ErrorDialect = (request, error, requestId) => {
  if (!request.event.requestContext?.http?.path?.startsWith('/v1/')) return undefined;
  const openAI = openAIErrorResponse(error, requestId);
  return {
    statusCode: openAI.statusCode,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-request-id': requestId,
      ...openAI.headers,
    },
    body: openAI.body,
  };
};

/** What the request asked for, where the image itself does not say it (the provider reports no quality). */
export interface AskedSettings {
  quality: string | undefined;
  background: string | undefined;
}

/**
 * `POST /v1/images/generations`'s answer for a stored image: `b64` is the stored, verified bytes (base64) unless
 * the caller asked for the URL only or they cannot travel in this answer. It reports the image made: `size` as its
 * real width x height (a fallback's, when one answered), the quality and background the provider reports it used
 * (what `auto` became), else the ones asked, `output_format` from the stored bytes, and `usage` as reported.
 */
export function openAIImageAnswer(resource: ImageResource, asked: AskedSettings, b64: string | undefined): object {
  const usage = resource.usage;
  const reportsTokens = usage !== undefined && typeof usage['input_tokens'] === 'number' && typeof usage['output_tokens'] === 'number';
  const background = resource.background ?? asked.background;
  return {
    created: Math.floor(Date.parse(resource.createdAt) / 1000),
    data: [
      {
        ...(b64 === undefined ? {} : { b64_json: b64 }),
        url: resource.url,
        ...(resource.revisedPrompt === undefined ? {} : { revised_prompt: resource.revisedPrompt }),
      },
    ],
    ...(background === undefined ? {} : { background }),
    ...(resource.contentType ? { output_format: resource.contentType.replace('image/', '') } : {}),
    quality: resource.quality ?? asked.quality ?? 'auto',
    ...(resource.width && resource.height ? { size: `${resource.width}x${resource.height}` } : {}),
    ...(reportsTokens ? { usage } : {}),
  };
}

/** `GET /v1/models`: the models this deployment allows, as the SDKs list them. */
export function openAIModelList(models: readonly string[]): object {
  return {
    object: 'list',
    data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: parseModelName(id)?.provider ?? 'openai' })),
  };
}
