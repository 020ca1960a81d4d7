import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { providerFailures } from '../provider-failures.js';
import { encodePng } from '../../../domain/png-encoder.js';
import { familyOf, pixelSize } from '../../../domain/models.js';
import type { GeneratedImage, GenerationHooks, GenerationRequest, ImageGenerator } from '../../../ports.js';

/** The offline generator's own model name, in records and S3 metadata instead of the model asked for. */
export const OFFLINE_MODEL = 'offline/placeholder';

/**
 * The embedded default provider: renders a deterministic abstract PNG from the prompt (same prompt and size, same
 * bytes) so the whole service runs with no key and no network. It always renders PNG; the stored content type
 * comes from the bytes, as for every provider.
 */
export class OfflineImageGenerator implements ImageGenerator {
  /** @param delayMs how long a generation takes (OFFLINE_DELAY_MS), like a real provider's slow ones. */
  constructor(
    private readonly delayMs = 0,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * With `previews`, streams them as a provider does: preview k of n (a coarser rendering of the same picture) at
   * k/(n+1) of the delay, the final image at the end; with OFFLINE_DELAY_MS=9000 and 2 previews, at 3 s and 6 s.
   */
  async generate(request: GenerationRequest, deadline: number, hooks: GenerationHooks = {}): Promise<GeneratedImage> {
    const startedAt = this.now();
    const family = familyOf(request.model);
    const { width, height } = family ? pixelSize(request.size, family, request.quality) : { width: 1024, height: 1024 };
    const previews = hooks.onPreview ? (request.previews ?? 0) : 0;
    for (let index = 0; index < previews; index += 1) {
      await this.waitUntil(startedAt + (this.delayMs * (index + 1)) / (previews + 1), deadline);
      // Blocks of 32, 16, 8 pixels: each preview sharper than the one before.
      const block = 2 ** (3 + previews - 1 - index);
      await hooks.onPreview?.({ index, bytes: renderPicture(request.prompt, width, height, block), generatedBy: OFFLINE_MODEL });
    }
    await this.waitUntil(startedAt + this.delayMs, deadline);
    // Input images change the picture (deterministically), as an edit would.
    const seed = request.images?.length
      ? `${request.prompt}\u0000${createHash('sha256')
          .update(Buffer.concat(request.images.map((image) => image.bytes)))
          .digest('hex')}`
      : request.prompt;
    const png = renderPicture(seed, width, height);
    // Says what it is: its own name, and the format it was asked for next to the PNG it always renders.
    return {
      bytes: png,
      generatedBy: OFFLINE_MODEL,
      usage: { offline: true, formatAsked: request.format ?? 'png' },
      ...(previews > 0 ? { previews } : {}),
    };
  }

  /** Sleeps until `at`, or fails as a provider that did not answer in time when that is past the deadline. */
  private async waitUntil(at: number, deadline: number): Promise<void> {
    const now = this.now();
    if (at <= now) return;
    await sleep(Math.max(0, Math.min(at, deadline) - now));
    if (at > deadline) throw providerFailures.timedOut({ offlineDelayMs: this.delayMs }, false);
  }
}

/**
 * Two-colour gradient with a few soft discs; every parameter comes from sha256(prompt). `block` > 1 renders it
 * coarsely (each block of pixels one colour), as the offline previews.
 */
export function renderPicture(prompt: string, width: number, height: number, block = 1): Buffer {
  const seed = createHash('sha256').update(prompt).digest();
  const byte = (i: number): number => seed[i % seed.length] as number;
  const from = [byte(0), byte(1), byte(2)];
  const to = [byte(3), byte(4), byte(5)];
  const discs = Array.from({ length: 3 + (byte(6) % 4) }, (_, i) => ({
    x: (byte(7 + i * 4) / 255) * width,
    y: (byte(8 + i * 4) / 255) * height,
    r2: ((0.08 + (byte(9 + i * 4) / 255) * 0.25) * Math.min(width, height)) ** 2,
    colour: [byte(10 + i * 4), byte(11 + i * 5), byte(12 + i * 3)],
  }));
  const rgb = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row += 1) {
    for (let column = 0; column < width; column += 1) {
      const x = column - (column % block);
      const y = row - (row % block);
      const t = (x + y) / (width + height);
      let r = (from[0] as number) * (1 - t) + (to[0] as number) * t;
      let g = (from[1] as number) * (1 - t) + (to[1] as number) * t;
      let b = (from[2] as number) * (1 - t) + (to[2] as number) * t;
      for (const disc of discs) {
        const d2 = (x - disc.x) ** 2 + (y - disc.y) ** 2;
        if (d2 < disc.r2) {
          r = (r + (disc.colour[0] as number)) / 2;
          g = (g + (disc.colour[1] as number)) / 2;
          b = (b + (disc.colour[2] as number)) / 2;
        }
      }
      const i = (row * width + column) * 3;
      rgb[i] = r;
      rgb[i + 1] = g;
      rgb[i + 2] = b;
    }
  }
  return encodePng(width, height, rgb);
}
