import { crc32 } from 'node:zlib';

/**
 * Structural verification of PNG, JPEG and WebP files.
 *
 * Written here rather than taken from a library because the common ones (file-type, image-size) look only at the
 * first bytes: they accept a truncated upload or a forged header followed by junk. We need "is this a complete
 * file of this type", which means walking every chunk / segment to the end marker. The walk touches only headers;
 * the one full pass over the data is PNG's CRC check, which is native (zlib's crc32).
 */

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface ImageInfo {
  format: ImageFormat;
  contentType: `image/${ImageFormat}`;
  extension: 'png' | 'jpg' | 'webp';
  width: number;
  height: number;
  /** PNG only, present when it can be transparent (an alpha channel, colour types 4 and 6, or a tRNS chunk). */
  alpha?: true;
}

export class ImageVerificationError extends Error {
  constructor(readonly problem: string) {
    super(`not a complete image: ${problem}`);
    this.name = 'ImageVerificationError';
  }
}

/** Largest side we accept; far above what any supported model produces, it only rejects forged headers. */
const MAX_IMAGE_SIDE = 16_384;

const fail = (problem: string): never => {
  throw new ImageVerificationError(problem);
};

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function checkDimensions(width: number, height: number): void {
  if (width < 1 || height < 1 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    fail(`implausible dimensions ${width}x${height}`);
  }
}

/** Bit depths the PNG specification allows for each colour type (section 11.2.2, table 11.1). */
const PNG_BIT_DEPTHS: Readonly<Record<number, readonly number[]>> = Object.freeze({
  0: [1, 2, 4, 8, 16], // greyscale
  2: [8, 16], // truecolour
  3: [1, 2, 4, 8], // indexed
  4: [8, 16], // greyscale with alpha
  6: [8, 16], // truecolour with alpha
});

/** IHDR as the specification allows it: known colour type and depth, method 0, interlace 0 or 1. */
function checkPngHeader(bytes: Buffer, data: number): { width: number; height: number; colourType: number } {
  const width = bytes.readUInt32BE(data);
  const height = bytes.readUInt32BE(data + 4);
  const bitDepth = bytes[data + 8] as number;
  const colourType = bytes[data + 9] as number;
  if (width === 0 || height === 0) fail(`png: zero dimension ${width}x${height}`);
  const depths = PNG_BIT_DEPTHS[colourType];
  if (!depths) fail(`png: invalid colour type ${colourType}`);
  if (!depths?.includes(bitDepth)) fail(`png: bit depth ${bitDepth} is not allowed for colour type ${colourType}`);
  if (bytes[data + 10] !== 0) fail('png: unknown compression method');
  if (bytes[data + 11] !== 0) fail('png: unknown filter method');
  if (bytes[data + 12] !== 0 && bytes[data + 12] !== 1) fail('png: unknown interlace method');
  return { width, height, colourType };
}

/**
 * PNG: every chunk to IEND with its CRC. Ancillary chunks of any kind pass unchanged (text, eXIf, iTXt with XMP,
 * caBX with a C2PA manifest), since the provider's bytes are stored as they are and content credentials must
 * survive.
 */
function verifyPng(bytes: Buffer): ImageInfo {
  let offset = PNG_SIGNATURE.length;
  let width = 0;
  let height = 0;
  let colourType = 0;
  let sawPalette = false;
  let sawIdat = false;
  let sawTransparency = false;
  let first = true;
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) fail('png: truncated chunk header');
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const dataEnd = offset + 8 + length;
    if (length > 0x7fffffff || dataEnd + 4 > bytes.length) fail(`png: truncated ${type} chunk`);
    const expectedCrc = bytes.readUInt32BE(dataEnd);
    if (crc32(bytes.subarray(offset + 4, dataEnd)) !== expectedCrc) fail(`png: bad CRC in ${type} chunk`);
    if (first) {
      if (type !== 'IHDR' || length !== 13) fail('png: first chunk is not IHDR');
      ({ width, height, colourType } = checkPngHeader(bytes, offset + 8));
      first = false;
    } else if (type === 'PLTE') {
      sawPalette = true;
    } else if (type === 'tRNS') {
      sawTransparency = true;
    } else if (type === 'IDAT') {
      if (colourType === 3 && !sawPalette) fail('png: indexed image without a palette');
      sawIdat = true;
    } else if (type === 'IEND') {
      if (!sawIdat) fail('png: no image data');
      if (dataEnd + 4 !== bytes.length) fail('png: bytes after IEND');
      checkDimensions(width, height);
      const alpha = colourType === 4 || colourType === 6 || sawTransparency;
      return { format: 'png', contentType: 'image/png', extension: 'png', width, height, ...(alpha ? { alpha } : {}) };
    }
    offset = dataEnd + 4;
  }
  return fail('png: no IEND chunk (truncated)');
}

const isStandaloneJpegMarker = (marker: number): boolean => marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7);

// SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
const isStartOfFrame = (marker: number): boolean =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** APP2 segment identifier of a Multi-Picture Format index (CIPA DC-007): `MPF\0`. */
const MPF_IDENTIFIER = Buffer.from('MPF\0', 'latin1');

/**
 * JPEG: every segment to EOI, through the entropy-coded scans. APPn segments of any kind pass unchanged (EXIF,
 * XMP, JUMBF with a C2PA manifest). A primary image that carries a Multi-Picture Format index (APP2 `MPF`, used
 * by Ultra HDR gain maps) may be followed by further complete JPEG images, each walked the same way; any other
 * byte after EOI is refused.
 */
function verifyJpeg(bytes: Buffer): ImageInfo {
  const primary = walkJpeg(bytes, 0);
  let offset = primary.end;
  if (offset !== bytes.length && !primary.multiPicture) fail('jpeg: bytes after EOI');
  for (let images = 1; offset < bytes.length; images += 1) {
    if (images > 16) fail('jpeg: too many images after the primary one');
    if (bytes[offset] !== 0xff || bytes[offset + 1] !== 0xd8) fail('jpeg: bytes after EOI that are not a JPEG image');
    offset = walkJpeg(bytes, offset).end;
  }
  checkDimensions(primary.width, primary.height);
  return { format: 'jpeg', contentType: 'image/jpeg', extension: 'jpg', width: primary.width, height: primary.height };
}

/** Walks one JPEG image starting at `start` (its SOI); answers where it ends (after EOI) and what it saw. */
function walkJpeg(bytes: Buffer, start: number): { end: number; width: number; height: number; multiPicture: boolean } {
  let offset = start + 2;
  let width = 0;
  let height = 0;
  let sawFrame = false;
  let multiPicture = false;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) fail('jpeg: expected a marker');
    // Any number of 0xFF fill bytes may precede a marker.
    while (bytes[offset] === 0xff && offset < bytes.length) offset += 1;
    if (offset >= bytes.length) break;
    const marker = bytes[offset] as number;
    offset += 1;
    if (marker === 0xd9) {
      if (!sawFrame) fail('jpeg: no frame header');
      return { end: offset, width, height, multiPicture };
    }
    if (isStandaloneJpegMarker(marker)) continue;
    if (marker === 0xd8 || marker === 0x00) fail('jpeg: unexpected marker');
    if (offset + 2 > bytes.length) fail('jpeg: truncated segment');
    const length = bytes.readUInt16BE(offset);
    if (length < 2 || offset + length > bytes.length) fail('jpeg: truncated segment');
    if (marker === 0xe2 && length >= 6 && bytes.subarray(offset + 2, offset + 6).equals(MPF_IDENTIFIER)) multiPicture = true;
    if (isStartOfFrame(marker)) {
      if (length < 8) fail('jpeg: short frame header');
      // One image has one frame (ITU T.81 B.2: hierarchical mode aside, which nothing here makes): a second header
      // would let a forged size stand before the real one.
      if (sawFrame) fail('jpeg: a second frame header');
      height = bytes.readUInt16BE(offset + 3);
      width = bytes.readUInt16BE(offset + 5);
      sawFrame = true;
    }
    offset += length;
    if (marker === 0xda) {
      if (!sawFrame) fail('jpeg: scan before frame header');
      // Entropy-coded data runs until a marker other than a stuffed 0xFF00 or a restart marker.
      for (;;) {
        const next = bytes.indexOf(0xff, offset);
        if (next === -1 || next + 1 >= bytes.length) fail('jpeg: truncated scan (no EOI)');
        const following = bytes[next + 1] as number;
        if (following === 0x00 || (following >= 0xd0 && following <= 0xd7) || following === 0xff) {
          offset = next + (following === 0xff ? 1 : 2);
          continue;
        }
        offset = next;
        break;
      }
    }
  }
  return fail('jpeg: no EOI marker (truncated)');
}

/**
 * The size a WebP chunk states, checking the bitstream's signature: VP8X's canvas, a VP8 key frame's or a VP8L
 * image's size. The caller has made sure the chunk holds the bytes read (10 for VP8X and VP8, 5 for VP8L).
 */
function webpChunkSize(type: 'VP8X' | 'VP8 ' | 'VP8L', bytes: Buffer, data: number): { width: number; height: number } {
  if (type === 'VP8X') return { width: 1 + bytes.readUIntLE(data + 4, 3), height: 1 + bytes.readUIntLE(data + 7, 3) };
  if (type === 'VP8 ') {
    if (bytes.readUIntBE(data + 3, 3) !== 0x9d012a) fail('webp: bad VP8 frame');
    return { width: bytes.readUInt16LE(data + 6) & 0x3fff, height: bytes.readUInt16LE(data + 8) & 0x3fff };
  }
  if (bytes[data] !== 0x2f) fail('webp: bad VP8L header');
  const bits = bytes.readUInt32LE(data + 1);
  return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
}

function verifyWebp(bytes: Buffer): ImageInfo {
  if (bytes.length < 20 || bytes.toString('latin1', 8, 12) !== 'WEBP') fail('webp: bad RIFF header');
  const riffEnd = 8 + bytes.readUInt32LE(4);
  if (riffEnd !== bytes.length) fail(riffEnd > bytes.length ? 'webp: truncated' : 'webp: bytes after RIFF');
  let offset = 12;
  let width = 0;
  let height = 0;
  let animated = false;
  let bitstream: { width: number; height: number } | undefined;
  let sawImage = false;
  while (offset < riffEnd) {
    if (offset + 8 > riffEnd) fail('webp: truncated chunk header');
    const type = bytes.toString('latin1', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const data = offset + 8;
    const padded = size + (size % 2);
    if (data + size > riffEnd) fail(`webp: truncated ${type.trim()} chunk`);
    if (type === 'VP8X' && size >= 10) {
      ({ width, height } = webpChunkSize(type, bytes, data));
      animated = ((bytes[data] as number) & 0x02) !== 0;
    } else if (type === 'VP8 ' && !sawImage) {
      if (size < 10) fail('webp: bad VP8 frame');
      bitstream = webpChunkSize(type, bytes, data);
      sawImage = true;
    } else if (type === 'VP8L' && !sawImage) {
      if (size < 5) fail('webp: bad VP8L header');
      bitstream = webpChunkSize(type, bytes, data);
      sawImage = true;
    } else if (type === 'ANMF') {
      sawImage = true;
    }
    offset = data + padded;
  }
  if (offset !== riffEnd && offset !== riffEnd + 1) fail('webp: chunk overruns file');
  if (!sawImage) fail('webp: no image data');
  if (bitstream) {
    // A still image's canvas is its bitstream's size (WebP container spec, "Canvas Width/Height ... of the
    // bitstream"): a VP8X canvas that disagrees would have the size checks judge another image than the one sent.
    if (width !== 0 && !animated && (width !== bitstream.width || height !== bitstream.height)) {
      fail(`webp: canvas ${width}x${height} disagrees with its bitstream ${bitstream.width}x${bitstream.height}`);
    }
    if (width === 0) ({ width, height } = bitstream);
  }
  checkDimensions(width, height);
  return { format: 'webp', contentType: 'image/webp', extension: 'webp', width, height };
}

/**
 * Identifies the image by its bytes (never by what was requested) and checks that it is complete.
 * Throws {@link ImageVerificationError} for anything else.
 */
export function verifyImage(bytes: Buffer): ImageInfo {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return verifyPng(bytes);
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return verifyJpeg(bytes);
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF') return verifyWebp(bytes);
  return fail('unknown format (not PNG, JPEG or WebP)');
}

/** What an image's first bytes say it is; `undefined` from probeImage when they are too few to tell. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/**
 * The format and pixel size from an image's first bytes only (a ranged read at admission, before anything is
 * reserved): PNG's IHDR, JPEG's first frame header after any APPn segments, WebP's VP8X canvas or first frame.
 * Undefined when the header lies beyond `head` (then read the whole file and verifyImage it); throws
 * {@link ImageVerificationError} for what is no PNG, JPEG or WebP at all. It proves nothing about the rest of the
 * file: the worker verifies the whole of it before a provider sees it.
 */
export function probeImage(head: Buffer): ImageHeader | undefined {
  if (head.length >= 8 && head.subarray(0, 8).equals(PNG_SIGNATURE)) {
    if (head.length < 33) return undefined;
    if (head.toString('latin1', 12, 16) !== 'IHDR') fail('png: first chunk is not IHDR');
    const { width, height } = checkPngHeader(head, 16);
    checkDimensions(width, height);
    return { format: 'png', width, height };
  }
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    let offset = 2;
    while (offset + 4 <= head.length) {
      if (head[offset] !== 0xff) fail('jpeg: expected a marker');
      while (head[offset] === 0xff && offset < head.length) offset += 1;
      const marker = head[offset] as number;
      offset += 1;
      if (isStandaloneJpegMarker(marker)) continue;
      if (marker === 0xd9 || marker === 0xda || marker === 0xd8 || marker === 0x00) fail('jpeg: no frame header');
      if (offset + 2 > head.length) return undefined;
      const length = head.readUInt16BE(offset);
      if (length < 2) fail('jpeg: truncated segment');
      if (isStartOfFrame(marker)) {
        if (offset + 7 > head.length) return undefined;
        const height = head.readUInt16BE(offset + 3);
        const width = head.readUInt16BE(offset + 5);
        checkDimensions(width, height);
        return { format: 'jpeg', width, height };
      }
      offset += length;
    }
    return undefined;
  }
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF') {
    if (head.toString('latin1', 8, 12) !== 'WEBP') fail('webp: bad RIFF header');
    if (head.length < 30) return undefined;
    const type = head.toString('latin1', 12, 16);
    if (type !== 'VP8X' && type !== 'VP8 ' && type !== 'VP8L') return fail(`webp: unexpected first chunk ${type.trim()}`);
    // 30 bytes hold the chunk header and the 10 bytes any of the three is read for.
    const { width, height } = webpChunkSize(type, head, 20);
    checkDimensions(width, height);
    return { format: 'webp', width, height };
  }
  return fail('unknown format (not PNG, JPEG or WebP)');
}
