import { readFileSync } from 'node:fs';
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
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) rgba[(y * width + x) * 4 + 3] = x < width / 2 ? 0 : 255;
  }
  return encodePng(width, height, rgba, 4);
}
