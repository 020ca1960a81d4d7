/**
 * The adapters (and SDKs) of the providers only some deployments use, each loaded by the first request for one of
 * its models. Part of the composition root, kept apart from lib/composition-root.ts so that a function which never
 * generates does not ship them: the worker's handler always passes these loaders; the API's handlers pass them only
 * when they may generate themselves (jobs inline: the local stage's entry, functions/generate-image/inline-handler.ts,
 * which serverless.yml's `custom.apiHandler.local` names). An `import()` reachable from a bundle's entry puts its
 * target in that bundle's chunks.
 */
export interface OptionalProviderLoaders {
  bedrock: () => Promise<typeof import('./adapters/providers/bedrock/bedrock-image-generator.js')>;
  google: () => Promise<typeof import('./adapters/providers/gemini/gemini-image-generator.js')>;
  /** The Content Credentials reader and signer (c2pa-rs in WebAssembly, 8.7 MB): only a function that stores images carries it. */
  contentCredentials: () => Promise<typeof import('./adapters/c2pa/content-credentials.js')>;
}

export const optionalProviders: OptionalProviderLoaders = {
  bedrock: () => import('./adapters/providers/bedrock/bedrock-image-generator.js'),
  google: () => import('./adapters/providers/gemini/gemini-image-generator.js'),
  contentCredentials: () => import('./adapters/c2pa/content-credentials.js'),
};
