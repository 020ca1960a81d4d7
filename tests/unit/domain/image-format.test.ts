import { crc32 } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { ImageVerificationError, verifyImage } from '../../../lib/domain/image-format.js';
import { fixture, pngOf } from '../../support/fixtures.js';

const problemOf = (bytes: Buffer): string => {
  try {
    verifyImage(bytes);
    return 'none';
  } catch (error) {
    expect(error).toBeInstanceOf(ImageVerificationError);
    return (error as ImageVerificationError).problem;
  }
};

describe('verifyImage', () => {
  it.each([
    ['small.png', 'png', 'image/png', 'png', 64, 48],
    ['small.jpg', 'jpeg', 'image/jpeg', 'jpg', 64, 48],
    ['progressive.jpg', 'jpeg', 'image/jpeg', 'jpg', 64, 48],
    ['small.webp', 'webp', 'image/webp', 'webp', 64, 48],
    ['small-lossless.webp', 'webp', 'image/webp', 'webp', 64, 48],
    ['alpha.webp', 'webp', 'image/webp', 'webp', 64, 48],
  ])('identifies %s by its bytes', (name, format, contentType, extension, width, height) => {
    expect(verifyImage(fixture(name))).toEqual({ format, contentType, extension, width, height });
  });

  it('reads the size of a generated PNG', () => {
    expect(verifyImage(pngOf(300, 200))).toMatchObject({ width: 300, height: 200 });
  });

  it.each(['small.png', 'small.jpg', 'progressive.jpg', 'small.webp', 'small-lossless.webp', 'alpha.webp'])(
    'refuses %s truncated at any point',
    (name) => {
      const bytes = fixture(name);
      for (const cut of [1, 2, 5, 13, Math.floor(bytes.length / 2), bytes.length - 2, bytes.length - 1]) {
        expect(problemOf(bytes.subarray(0, bytes.length - cut))).not.toBe('none');
      }
    },
  );

  it('refuses a PNG with one flipped bit in its image data (CRC)', () => {
    const bytes = Buffer.from(pngOf(40, 30));
    bytes[60] = (bytes[60] as number) ^ 0x01;
    expect(problemOf(bytes)).toMatch(/bad CRC/);
  });

  it('refuses a forged header followed by junk', () => {
    const forged = Buffer.concat([fixture('small.png').subarray(0, 33), Buffer.from('not really an image at all')]);
    expect(problemOf(forged)).not.toBe('none');
    const forgedJpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 0x41)]);
    expect(problemOf(forgedJpeg)).not.toBe('none');
  });

  it('refuses bytes appended after the end marker', () => {
    for (const name of ['small.png', 'small.jpg', 'small.webp']) {
      expect(problemOf(Buffer.concat([fixture(name), Buffer.from('trailing')]))).toMatch(/after|overruns|truncated/);
    }
  });

  it('refuses other formats and non-images', () => {
    expect(problemOf(Buffer.from('GIF89a\x01\x00\x01\x00'))).toMatch(/unknown format/);
    expect(problemOf(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toMatch(/unknown format/);
    expect(problemOf(Buffer.alloc(0))).toMatch(/unknown format/);
  });

  it('refuses a PNG that claims absurd dimensions', () => {
    const bytes = Buffer.from(pngOf(4, 4));
    bytes.writeUInt32BE(100_000, 16);
    // Rewrite the IHDR CRC so only the dimension check can catch it.
    bytes.writeUInt32BE(crc32(bytes.subarray(12, 29)), 29);
    expect(problemOf(bytes)).toMatch(/implausible dimensions/);
  });
});
