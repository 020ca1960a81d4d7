import { describe, expect, it } from '@jest/globals';
import { OFFLINE_MODEL, OfflineImageGenerator } from '../../../lib/adapters/providers/offline/offline-image-generator.js';
import { verifyImage } from '../../../lib/domain/image-format.js';

describe('OfflineImageGenerator', () => {
  it('names itself instead of the model asked for, and says which format it was asked for', async () => {
    const image = await new OfflineImageGenerator().generate(
      { prompt: 'a lighthouse', model: 'gpt-image-2', size: '1536x1024', quality: 'low', format: 'jpeg', endUserId: 'u' },
      Date.now() + 5_000,
    );
    expect(image.generatedBy).toBe(OFFLINE_MODEL);
    expect(image.usage).toEqual({ offline: true, formatAsked: 'jpeg' });
    // It renders PNG (what it can encode); the stored content type comes from these bytes.
    expect(verifyImage(image.bytes)).toMatchObject({ contentType: 'image/png', width: 1536, height: 1024 });
  });

  it('streams coarser previews at a third and two thirds of its delay, then the final image at the delay', async () => {
    const startedAt = Date.now();
    const previews: { index: number; at: number; bytes: Buffer }[] = [];
    const request = { prompt: 'a lighthouse', model: 'gpt-image-2', size: '1024x1024', quality: 'low', format: undefined, endUserId: 'u' };
    const image = await new OfflineImageGenerator(900).generate({ ...request, previews: 2 }, startedAt + 5_000, {
      onPreview: async (preview) => {
        previews.push({ ...preview, at: Date.now() - startedAt });
      },
    });
    const doneAt = Date.now() - startedAt;
    expect(previews.map((preview) => preview.index)).toEqual([0, 1]);
    expect(previews[0]?.at).toBeGreaterThanOrEqual(295);
    expect(previews[1]?.at).toBeGreaterThanOrEqual(595);
    expect(doneAt).toBeGreaterThanOrEqual(895);
    expect(image.previews).toBe(2);
    // Each preview a complete image of the final size, and not the final image itself.
    for (const preview of previews) {
      expect(verifyImage(preview.bytes)).toMatchObject({ contentType: 'image/png', width: 1024, height: 1024 });
      expect(preview.bytes.equals(image.bytes)).toBe(false);
    }
    // Without a hook to take them (nobody asked), none are rendered.
    const plain = await new OfflineImageGenerator().generate({ ...request, previews: 2 }, Date.now() + 5_000);
    expect(plain.previews).toBeUndefined();
    expect(plain.bytes.equals(image.bytes)).toBe(true);
  });

  it("renders a provider's aspect ratio at its resolution tier", async () => {
    const image = await new OfflineImageGenerator().generate(
      { prompt: 'a lighthouse', model: 'google/gemini-3-pro-image', size: '16:9', quality: '1K', format: undefined, endUserId: 'u' },
      Date.now() + 5_000,
    );
    expect(verifyImage(image.bytes)).toMatchObject({ width: 1024, height: 576 });
  });
});
