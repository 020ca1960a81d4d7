import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { renderPicture } from '../../lib/adapters/providers/offline/offline-image-generator.js';
import { encodePng } from '../../lib/domain/png-encoder.js';

const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Small real images made with ImageMagick (see tests/fixtures/README.md). */
export const fixture = (name: string): Buffer => readFileSync(dir + name);

/** A valid PNG of the given size, rendered by the offline generator's code. */
export const pngOf = (width = 32, height = 24, seed = 'fixture'): Buffer => renderPicture(seed, width, height);

/** A PNG of pseudo-random pixels: it does not compress, so its size is about width x height x 3 bytes. */
export function noisePng(width: number, height: number, seed = 1): Buffer {
  const rgb = new Uint8Array(width * height * 3);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < rgb.length; i += 1) {
    // xorshift32: deterministic and fast
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    rgb[i] = state & 0xff;
  }
  return encodePng(width, height, rgb);
}

/** An RGBA PNG, transparent in its left half: an edit's mask (the transparent area is what to change). */
export function maskPng(width: number, height: number): Buffer {
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) raw.set([0, 0, 0, x < width / 2 ? 0 : 255], y * (stride + 1) + 1 + x * 4);
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
