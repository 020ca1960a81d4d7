import { AppError } from '../../errors.js';
import { parseModelName, type ProviderName } from '../../domain/models.js';
import type { GeneratedImage, GenerationHooks, GenerationRequest, ImageGenerator } from '../../ports.js';

/**
 * One ImageGenerator for all configured providers: each request goes to the adapter of its model's provider
 * (`bedrock/...` to Bedrock). Adapters are created on first use, so a deployment loads the SDK of a provider only
 * when one of its models is asked for (docs/providers.md, cold start).
 */
export class RoutedImageGenerator implements ImageGenerator {
  constructor(private readonly routes: Partial<Record<ProviderName, () => Promise<ImageGenerator>>>) {}

  async generate(request: GenerationRequest, deadline: number, hooks?: GenerationHooks): Promise<GeneratedImage> {
    const provider = parseModelName(request.model)?.provider;
    const route = provider === undefined ? undefined : this.routes[provider];
    // Configuration refuses a model whose provider is not configured: reaching this is a wiring bug.
    if (!route) throw new Error(`no image provider is configured for model ${request.model}`);
    let generator: ImageGenerator;
    try {
      generator = await route();
    } catch (error) {
      throw new AppError('provider_error', 'The image provider could not be reached. Retry later.', {
        cause: error,
        details: { provider, reason: 'adapter could not be loaded' },
      });
    }
    return generator.generate(request, deadline, hooks);
  }
}
