import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderPicture } from '../../lib/adapters/offline-image-generator.js';

const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Small real images made with ImageMagick (see tests/fixtures/README.md). */
export const fixture = (name: string): Buffer => readFileSync(dir + name);

/** A valid PNG of the given size, rendered by the offline generator's code. */
export const pngOf = (width = 32, height = 24, seed = 'fixture'): Buffer => renderPicture(seed, width, height);
