import { describe, expect, it } from '@jest/globals';
import { Base64Error, decodeBase64Strict, maxBase64Length } from '../../../lib/domain/base64.js';

const problemOf = (text: string, max = 1024): string => {
  const outcome = (input: string | Buffer): string => {
    try {
      decodeBase64Strict(input, max);
      return 'none';
    } catch (error) {
      return (error as Base64Error).problem;
    }
  };
  // The text and the same characters as bytes (how an HTTP body holds them) must get the same verdict.
  const fromText = outcome(text);
  expect(outcome(Buffer.from(text, 'latin1'))).toBe(fromText);
  return fromText;
};

describe('decodeBase64Strict', () => {
  it('decodes canonical base64 byte for byte', () => {
    // Prepare
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255, 10]);
    // Act
    const decoded = decodeBase64Strict(bytes.toString('base64'), 100);
    // Assess
    expect(decoded.equals(bytes)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['bad_length', 'aGk'],
    ['bad_length', 'aGVsbG8=x'],
    ['bad_character', 'aGk*'],
    ['bad_character', 'aG k'],
    ['bad_character', 'aGVs\nbG8'],
    ['bad_character', 'a=Gk'],
    ['bad_character', 'aGk=aGk='],
    ['bad_character', 'aGVsbG8_'],
    ['bad_character', 'a==='],
  ])('refuses %s input %j that Buffer.from would accept', (problem, text) => {
    expect(problemOf(text)).toBe(problem);
  });

  it('refuses text that would decode to more than the limit, before decoding', () => {
    const text = Buffer.alloc(301).toString('base64');
    expect(problemOf(text, 300)).toBe('too_large');
    expect(problemOf(Buffer.alloc(300).toString('base64'), 300)).toBe('none');
  });

  it('decodes large inputs from bytes chunk by chunk, identical to the text path', () => {
    const bytes = Buffer.alloc(300_001, 0).map((_, i) => (i * 31) % 256);
    const text = Buffer.from(bytes).toString('base64');
    expect(decodeBase64Strict(Buffer.from(text, 'latin1'), 400_000).equals(Buffer.from(bytes))).toBe(true);
    // A bad character far into the second chunk is still caught.
    const broken = Buffer.from(text, 'latin1');
    broken[100_000] = 0x2a;
    expect(() => decodeBase64Strict(broken, 400_000)).toThrow(Base64Error);
  });

  it('computes the longest base64 text for a byte limit', () => {
    expect(maxBase64Length(3)).toBe(4);
    expect(maxBase64Length(4)).toBe(8);
  });
});

describe('decodeBase64Strict against a reference regex', () => {
  // The RFC 4648 grammar, as a slow but obviously right reference for the fast length-based check.
  const RFC_4648 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ *\n\u00e9';

  it('accepts exactly what the grammar accepts, over 20,000 random and mutated texts', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i += 1) {
      let text: string;
      if (i % 2 === 0) {
        text = Buffer.from(Array.from({ length: random(12) }, () => random(256))).toString('base64');
        if (text.length > 0 && i % 4 === 0) {
          const at = random(text.length);
          text = text.slice(0, at) + alphabet[random(alphabet.length)] + text.slice(at + 1);
        }
      } else {
        text = Array.from({ length: random(13) }, () => alphabet[random(alphabet.length)]).join('');
      }
      const accepted = problemOf(text, 1024) === 'none';
      expect([text, accepted]).toEqual([text, text.length > 0 && RFC_4648.test(text)]);
    }
  });
});

describe('decodeBase64Strict in place', () => {
  it('decodes a large text over itself, 64 KiB at a time, into a view of its start equal to a fresh decode', () => {
    const image = Buffer.from(Array.from({ length: 300_001 }, (_, i) => (i * 7919) % 256));
    const text = Buffer.from(image.toString('base64'));
    const decoded = decodeBase64Strict(text, 1_000_000, { inPlace: true });
    expect(decoded.equals(image)).toBe(true);
    expect(decoded.buffer).toBe(text.buffer); // no second allocation: the result is the input's memory
    expect(decoded.byteOffset).toBe(text.byteOffset);
  });

  it('still refuses a character outside the alphabet, wherever it is', () => {
    const text = Buffer.from(Buffer.alloc(200_000, 7).toString('base64'));
    text[150_000] = 0x2a; // '*'
    expect(() => decodeBase64Strict(text, 1_000_000, { inPlace: true })).toThrow(Base64Error);
  });
});
