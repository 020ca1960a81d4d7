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

  it("renders a provider's aspect ratio at its resolution tier", async () => {
    const image = await new OfflineImageGenerator().generate(
      { prompt: 'a lighthouse', model: 'google/gemini-3-pro-image', size: '16:9', quality: '1K', format: undefined, endUserId: 'u' },
      Date.now() + 5_000,
    );
    expect(verifyImage(image.bytes)).toMatchObject({ width: 1024, height: 576 });
  });
});
