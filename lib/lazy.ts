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

/**
 * A port whose adapter is loaded on first use (lazily): each of `methods` loads it, then calls it. The one way the
 * composition root defers an adapter (webhooks, JWT verification, upload signing, CDN invalidation), so a port
 * added later is deferred the same way.
 *
 * @example lazyPort<TokenVerifier>(async () => new (await import('./jose-token-verifier.js')).JoseTokenVerifier(...), ['verify'])
 */
export function lazyPort<P extends object>(load: () => Promise<P>, methods: readonly (keyof P & string)[]): P {
  const adapter = lazily(load);
  const port: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of methods) {
    port[name] = async (...args) => {
      const loaded = await adapter();
      return (loaded[name] as (...args: unknown[]) => unknown).apply(loaded, args);
    };
  }
  // The methods listed are the port's (checked by `keyof P`); a port with others would be caught by its callers' types.
  return port as P;
}
