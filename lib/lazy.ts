/**
 * A value loaded on first use and kept: for modules only some deployments or some requests need (jose for JWTs,
 * webhooks, CDN invalidation, the Generate page, the OpenAPI document). Loaded with `import()`, the bundler keeps
 * such a module in a function of its own, so a cold start does not compile it (docs/performance.md). A failed
 * load is tried again on the next use.
 */
export function lazily<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () =>
    (loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    }));
}
