import { crc32 } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { ImageVerificationError, probeImage, verifyImage } from '../../../lib/domain/image-format.js';
import { fixture, maskPng, pngOf } from '../../support/fixtures.js';

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

  it('says whether a PNG can be transparent (an alpha channel), which a mask must be', () => {
    expect(verifyImage(maskPng(20, 10))).toMatchObject({ width: 20, height: 10, alpha: true });
    expect(verifyImage(pngOf(20, 10))).not.toHaveProperty('alpha');
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

/** A PNG chunk with its length and CRC. */
const pngChunk = (type: string, data: Buffer): Buffer => {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([header, typeAndData, crc]);
};
/** Inserts chunks right after IHDR (8-byte signature + 25-byte IHDR chunk). */
const withChunks = (png: Buffer, ...chunks: Buffer[]): Buffer => Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
/** The PNG with IHDR byte `index` (0-12 of its data) replaced, and its CRC rewritten. */
const withIhdrByte = (png: Buffer, index: number, value: number): Buffer => {
  const bytes = Buffer.from(png);
  bytes[16 + index] = value;
  bytes.writeUInt32BE(crc32(bytes.subarray(12, 29)), 29);
  return bytes;
};
/** A JPEG segment (marker, length, data). */
const jpegSegment = (marker: number, data: Buffer): Buffer => {
  const header = Buffer.from([0xff, marker, 0, 0]);
  header.writeUInt16BE(data.length + 2, 2);
  return Buffer.concat([header, data]);
};
const afterSoi = (jpeg: Buffer, ...segments: Buffer[]): Buffer => Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
const MPF = jpegSegment(0xe2, Buffer.concat([Buffer.from('MPF\0', 'latin1'), Buffer.alloc(24)]));

describe('verifyImage: what the specifications allow', () => {
  it('accepts PNG metadata chunks (C2PA caBX, XMP in iTXt, eXIf, tEXt)', () => {
    const png = withChunks(
      pngOf(40, 30),
      pngChunk('caBX', Buffer.from('jumb c2pa manifest store')),
      pngChunk('iTXt', Buffer.from('XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>', 'latin1')),
      pngChunk('eXIf', Buffer.from('MM\0*\0\0\0\b\0\0', 'latin1')),
      pngChunk('tEXt', Buffer.from('Software\0gpt-image-2', 'latin1')),
    );
    expect(verifyImage(png)).toMatchObject({ format: 'png', width: 40, height: 30 });
  });

  it.each([
    ['an unknown colour type', 9, 5, /invalid colour type 5/],
    ['a bit depth truecolour does not allow', 8, 4, /bit depth 4 is not allowed for colour type 2/],
    ['an unknown compression method', 10, 1, /compression/],
    ['an unknown filter method', 11, 1, /filter/],
    ['an unknown interlace method', 12, 2, /interlace/],
  ])('refuses a PNG header with %s', (_, index, value, problem) => {
    // pngOf writes colour type 2 (truecolour), depth 8.
    expect(problemOf(withIhdrByte(pngOf(8, 8), index, value))).toMatch(problem);
  });

  it('refuses a PNG with a zero width, and an indexed PNG without a palette', () => {
    const zero = Buffer.from(pngOf(8, 8));
    zero.writeUInt32BE(0, 16);
    zero.writeUInt32BE(crc32(zero.subarray(12, 29)), 29);
    expect(problemOf(zero)).toMatch(/zero dimension/);
    expect(problemOf(withIhdrByte(pngOf(8, 8), 9, 3))).toMatch(/without a palette/);
  });

  it('accepts JPEG APP segments (EXIF, XMP, JUMBF with a C2PA manifest)', () => {
    const jpeg = afterSoi(
      fixture('small.jpg'),
      jpegSegment(0xe1, Buffer.from('Exif\0\0MM\0*', 'latin1')),
      jpegSegment(0xe1, Buffer.from('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>', 'latin1')),
      jpegSegment(0xeb, Buffer.from('JP\0\x01\0\0\0\x01jumbc2pa', 'latin1')),
    );
    expect(verifyImage(jpeg)).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
  });

  it('accepts a multi-picture JPEG (an Ultra HDR gain map after the primary image) and reports the primary', () => {
    const gainMap = fixture('progressive.jpg');
    const ultraHdr = Buffer.concat([afterSoi(fixture('small.jpg'), MPF), gainMap]);
    expect(verifyImage(ultraHdr)).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
  });

  it.each([
    ['a second image without an MPF index', () => Buffer.concat([fixture('small.jpg'), fixture('small.jpg')]), /bytes after EOI/],
    [
      'a truncated second image',
      () => Buffer.concat([afterSoi(fixture('small.jpg'), MPF), fixture('small.jpg').subarray(0, 200)]),
      /truncated|no EOI/,
    ],
    [
      'junk after the primary image',
      () => Buffer.concat([afterSoi(fixture('small.jpg'), MPF), Buffer.from('junk after the image')]),
      /not a JPEG image/,
    ],
  ])('refuses %s', (_, bytes, problem) => {
    expect(problemOf(bytes())).toMatch(problem);
  });
});

describe('probeImage: format and size from the first bytes (admission)', () => {
  it('reads the same format and size as the full verification, from a header alone', () => {
    for (const name of ['small.png', 'small.jpg', 'progressive.jpg', 'small.webp', 'small-lossless.webp', 'alpha.webp']) {
      const bytes = fixture(name);
      const { format, width, height } = verifyImage(bytes);
      expect(probeImage(bytes.subarray(0, Math.min(bytes.length, 64 * 1024)))).toEqual({ format, width, height });
    }
    expect(probeImage(pngOf(4096, 16).subarray(0, 40))).toEqual({ format: 'png', width: 4096, height: 16 });
  });

  it('says it cannot tell when the header lies past the bytes it has, and refuses what is no image', () => {
    const jpeg = fixture('small.jpg');
    expect(probeImage(jpeg.subarray(0, 4))).toBeUndefined();
    expect(probeImage(fixture('small.png').subarray(0, 20))).toBeUndefined();
    expect(() => probeImage(Buffer.from('GIF89a............'))).toThrow(ImageVerificationError);
    expect(() => probeImage(Buffer.from('<html><body>hi</body></html>'))).toThrow(ImageVerificationError);
  });
});

describe('verifyImage: one size per image', () => {
  it('refuses a JPEG with a second frame header (a forged 60000x60000 before the real one)', () => {
    // Prepare: a baseline frame header claiming 60000x60000, three components, inserted before the real one.
    const forged = Buffer.from([0x08, 0xea, 0x60, 0xea, 0x60, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    const jpeg = afterSoi(fixture('small.jpg'), jpegSegment(0xc0, forged));
    // Act, Assess
    expect(() => verifyImage(jpeg)).toThrow(new ImageVerificationError('jpeg: a second frame header'));
    expect(verifyImage(fixture('small.jpg'))).toMatchObject({ width: 64, height: 48 });
  });

  it('refuses a still WebP whose VP8X canvas disagrees with its bitstream', () => {
    const webp = Buffer.from(fixture('alpha.webp'));
    const { width, height } = verifyImage(webp);
    // The canvas width (24 bits, minus one) at offset 24 of the VP8X chunk's data.
    webp.writeUIntLE(width * 4 - 1, 24, 3);
    expect(() => verifyImage(webp)).toThrow(ImageVerificationError);
    expect(() => verifyImage(webp)).toThrow(`canvas ${width * 4}x${height} disagrees`);
  });
});
