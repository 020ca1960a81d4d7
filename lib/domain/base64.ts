/**
 * Strict base64 decoding.
 *
 * Node's `Buffer.from(s, 'base64')` is lenient on purpose: it skips characters outside the alphabet, stops at a
 * misplaced `=`, accepts the URL-safe `-` and `_`, and silently drops the bytes of a truncated final group. For
 * provider output that leniency hides corruption, so only text that RFC 4648 section 4 allows is accepted.
 *
 * How, cheaply: a text of length L (a multiple of 4) ending in p `=` decodes to exactly 3L/4 - p bytes only if
 * the decoder used every other character; each character it skipped or stopped at makes the result shorter. So
 * the check is "decode, then compare the length", plus a native scan for the two URL-safe characters that the
 * decoder would otherwise accept. A regex over the whole text does the same at several times the cost of the
 * decode itself (docs/performance.md).
 */

export type Base64Problem = 'empty' | 'too_large' | 'bad_length' | 'bad_character';

export class Base64Error extends Error {
  constructor(readonly problem: Base64Problem) {
    super(`invalid base64: ${problem}`);
    this.name = 'Base64Error';
  }
}

/** The largest base64 text length that can decode to at most `maxBytes`. */
export const maxBase64Length = (maxBytes: number): number => Math.ceil(maxBytes / 3) * 4;

const DASH = 0x2d;
const UNDERSCORE = 0x5f;
const EQUALS = 0x3d;
/** Characters decoded per step from a byte source: a multiple of 4, small enough to stay out of the big heap. */
const CHUNK = 64 * 1024;

function checkShape(length: number, maxBytes: number): void {
  if (length === 0) throw new Base64Error('empty');
  // Checked before decoding, so an oversized answer never costs a decode or a second buffer.
  if (length > maxBase64Length(maxBytes)) throw new Base64Error('too_large');
  if (length % 4 !== 0) throw new Base64Error('bad_length');
}

/**
 * Decodes standard (RFC 4648 section 4) base64 text, or base64 still in the bytes it arrived in (for example a
 * slice of an HTTP body), or throws {@link Base64Error}. From bytes it decodes 64 KiB at a time into one buffer
 * of the exact size, so the only large allocation is the result: no base64 string the size of the image.
 *
 * With `inPlace` (bytes only), the result is written over the input itself and is a view of its start: a decoded
 * group is never longer than its text, so each 64 KiB step writes only where text was already read. Then there
 * is no second large allocation at all; the input's bytes are no longer base64 afterwards.
 *
 * @example decodeBase64Strict('aGk=', 10) // Buffer <68 69>
 */
export function decodeBase64Strict(input: string | Buffer, maxBytes: number, options: { inPlace?: boolean } = {}): Buffer {
  checkShape(input.length, maxBytes);
  const urlSafe =
    typeof input === 'string' ? input.includes('-') || input.includes('_') : input.includes(DASH) || input.includes(UNDERSCORE);
  if (urlSafe) throw new Base64Error('bad_character');
  const last = input.length - 1;
  const isEquals = (index: number): boolean => (typeof input === 'string' ? input.charCodeAt(index) === EQUALS : input[index] === EQUALS);
  const padding = isEquals(last) ? (isEquals(last - 1) ? 2 : 1) : 0;
  const expected = (input.length / 4) * 3 - padding;
  if (expected > maxBytes) throw new Base64Error('too_large');
  let bytes: Buffer;
  if (typeof input === 'string') {
    bytes = Buffer.from(input, 'base64');
  } else {
    bytes = options.inPlace ? input : Buffer.allocUnsafe(expected);
    let written = 0;
    for (let start = 0; start < input.length && written <= expected; start += CHUNK) {
      written += bytes.write(input.toString('latin1', start, Math.min(input.length, start + CHUNK)), written, 'base64');
    }
    if (written !== expected) throw new Base64Error('bad_character');
    if (options.inPlace) bytes = bytes.subarray(0, expected);
  }
  // Shorter than the text says: the decoder skipped or stopped at characters outside the alphabet.
  if (bytes.length !== expected) throw new Base64Error('bad_character');
  return bytes;
}
