/** The image generator of the composition root: each model routed to its provider's adapter. */
import type { OpenAI } from 'openai';
import type { Config } from '../config.js';
import { lazily } from '../lazy.js';
import type { OptionalProviderLoaders } from '../optional-providers.js';
import type { ImageGenerator } from '../ports.js';
import { OfflineImageGenerator } from '../adapters/providers/offline/offline-image-generator.js';
import { RoutedImageGenerator } from '../adapters/providers/routed-image-generator.js';
import { apiKeyOf, createOpenAI, openaiAdapters } from './clients.js';

/**
 * The generator for the configured providers: each model goes to its provider's adapter. The Bedrock and Gemini
 * adapters (chunks of their own, with their SDKs) are loaded by the first request for one of their models, so a
 * deployment that does not use them never loads them (docs/providers.md).
 */
export function createGenerator(
  config: Config,
  openai: (() => Promise<OpenAI>) | undefined,
  providers: OptionalProviderLoaders | undefined,
): ImageGenerator {
  const provider = config.provider;
  if (provider.kind === 'offline') return new OfflineImageGenerator(provider.delayMs);
  const limits = {
    maxRetries: provider.maxRetries,
    maxImageBytes: config.limits.maxImageBytes,
    minAttemptMs: config.limits.minProviderTimeMs,
  };
  const { azure, bedrock, google } = provider;
  return new RoutedImageGenerator({
    ...(openai ? { openai: lazily(async () => new (await openaiAdapters()).OpenAIImageGenerator(await openai(), limits)) } : {}),
    ...(azure
      ? {
          azure: lazily(async () => {
            const base = (azure.baseUrl ?? '').replace(/\/+$/, '');
            const { OpenAIImageGenerator } = await openaiAdapters();
            return new OpenAIImageGenerator(await createOpenAI(config, azure, `${base}/openai/v1`)(), { ...limits, endUserField: 'user' });
          }),
        }
      : {}),
    ...(bedrock
      ? {
          bedrock: lazily(async () => {
            const { BedrockImageGenerator } = await loaderOf(providers, 'bedrock')();
            return new BedrockImageGenerator({ ...limits, region: bedrock.region, endpoint: bedrock.endpoint });
          }),
        }
      : {}),
    ...(google
      ? {
          google: lazily(async () => {
            const { GeminiImageGenerator } = await loaderOf(providers, 'google')();
            return new GeminiImageGenerator({ ...limits, apiKey: apiKeyOf(config, google), baseUrl: google.baseUrl });
          }),
        }
      : {}),
  });
}

const loaderOf = <P extends keyof OptionalProviderLoaders>(
  providers: OptionalProviderLoaders | undefined,
  provider: P,
): OptionalProviderLoaders[P] => {
  const loader = providers?.[provider];
  if (!loader) throw new Error(`the ${provider} adapter is not part of this function (it hands generation to the worker)`);
  return loader;
};
