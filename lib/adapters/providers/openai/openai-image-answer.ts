import { AppError } from '../../../errors.js';
import { providerFailures } from '../provider-failures.js';
import { Base64Error, decodeBase64Strict } from '../../../domain/base64.js';

/**
 * Reading an image answer of the OpenAI images API (`{ data: [{ b64_json, revised_prompt? }], usage? }`) without
 * the copies a plain `response.json()` makes: the body's text, then JSON.parse's copy of a base64 string 1.33x the
 * image, before our decode adds the image itself (5x the image at the peak, measured). Here the body is read once
 * into a buffer of its announced size (readBody in openai-client.ts), the base64 value is decoded straight out of
 * it, and only the rest of the document (without the base64) goes through JSON.parse: about 2.4x at the peak.
 */

export interface ImageAnswer {
  bytes: Buffer;
  revisedPrompt: string | undefined;
  usage: Record<string, unknown> | undefined;
  /** The quality and background the provider says it used (`auto` resolved), when it says. */
  settings: ImageSettings | undefined;
}

export interface ImageSettings {
  quality?: string;
  background?: string;
}

/** The `quality` and `background` of an images answer or a completed event (OpenAI reports what `auto` became). */
export function settingsOf(document: Record<string, unknown>): ImageSettings | undefined {
  const word = (value: unknown): string | undefined => (typeof value === 'string' && /^[a-z]{1,16}$/.test(value) ? value : undefined);
  const quality = word(document['quality']);
  const background = word(document['background']);
  if (quality === undefined && background === undefined) return undefined;
  return { ...(quality ? { quality } : {}), ...(background ? { background } : {}) };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const KEY = Buffer.from('"b64_json"');

/** The provider answered 200, so the attempt may be billed (badAnswer says so). */
const bad = (reason: string, cause?: unknown): AppError => providerFailures.badAnswer({ reason }, cause);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The span of the first `"b64_json": "..."` string value in the body, if there is one. */
function base64Span(body: Buffer): { start: number; end: number } | undefined {
  const key = body.indexOf(KEY);
  if (key === -1) return undefined;
  let at = key + KEY.length;
  const skipSpace = (): void => {
    while (at < body.length && (body[at] === 0x20 || body[at] === 0x0a || body[at] === 0x0d || body[at] === 0x09)) at += 1;
  };
  skipSpace();
  if (body[at] !== 0x3a) return undefined; // ':'
  at += 1;
  skipSpace();
  if (body[at] !== QUOTE) return undefined;
  const start = at + 1;
  // Base64 has no quote and no backslash, so the first quote ends a valid value; a span with a backslash in it
  // is left to the full parse.
  const end = body.indexOf(QUOTE, start);
  return end === -1 ? undefined : { start, end };
}

/**
 * Parses an image answer. The document is still fully validated as JSON: the base64 span is cut out and the
 * remainder must parse and must have that span as `data[0].b64_json`; anything unusual (the key somewhere else,
 * escapes, a document the cut does not leave valid) falls back to a plain JSON.parse of the whole body.
 */
export function parseImageAnswer(body: Buffer, maxImageBytes: number, options: { inPlace?: boolean } = {}): ImageAnswer {
  let document: unknown;
  let base64: Buffer | string | undefined;
  const span = base64Span(body);
  // JSON may escape characters inside the value (`\/` for `/` is legal): then only a real parse can read it.
  if (span && !body.subarray(span.start, span.end).includes(BACKSLASH)) {
    try {
      document = JSON.parse(Buffer.concat([body.subarray(0, span.start), body.subarray(span.end)]).toString('utf8'));
      const first = isRecord(document) && Array.isArray(document['data']) ? document['data'][0] : undefined;
      if (isRecord(first) && first['b64_json'] === '') base64 = body.subarray(span.start, span.end);
    } catch {
      // Not the shape the fast path expects; the full parse below decides.
    }
  }
  if (base64 === undefined) {
    try {
      document = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw bad('answer is not valid JSON', error);
    }
    const first = isRecord(document) && Array.isArray(document['data']) ? document['data'][0] : undefined;
    const value = isRecord(first) ? first['b64_json'] : undefined;
    if (typeof value !== 'string' || value === '') {
      throw new AppError('bad_provider_response', 'The image provider returned no image.', {
        details: { reason: 'missing b64_json' },
      });
    }
    base64 = value;
  }
  let bytes: Buffer;
  try {
    // A body read for this call alone is not needed afterwards: the image is decoded over its own base64.
    bytes = decodeBase64Strict(base64, maxImageBytes, { inPlace: options.inPlace === true && typeof base64 !== 'string' });
  } catch (error) {
    if (!(error instanceof Base64Error)) throw error;
    throw new AppError(
      'bad_provider_response',
      error.problem === 'too_large'
        ? `The image provider returned an image larger than ${maxImageBytes} bytes.`
        : 'The image provider returned data that is not valid base64.',
      { cause: error, details: { reason: `base64 ${error.problem}`, base64Length: base64.length } },
    );
  }
  const record = document as Record<string, unknown>;
  const first = (record['data'] as unknown[])[0] as Record<string, unknown>;
  const revised = first['revised_prompt'];
  const usage = record['usage'];
  return {
    bytes,
    revisedPrompt: typeof revised === 'string' && revised !== '' ? revised : undefined,
    usage: isRecord(usage) ? usage : undefined,
    settings: settingsOf(record),
  };
}
