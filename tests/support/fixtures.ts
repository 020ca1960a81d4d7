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
